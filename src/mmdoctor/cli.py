"""The command line: parse, call the plain modules, render, exit with a documented code.

Heavy modules (the probes, rich, YAML) are imported inside the commands, so that
`mmdoctor --help` and `--version` stay fast.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from mmdoctor import __version__
from mmdoctor.errors import ExitCode, MmdoctorError

app = typer.Typer(
    name="mmdoctor",
    help="Check, install and smoke-test PyTorch + mmcv + MMDetection on a GPU box.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # locals can hold index tokens; errors are handled below
    context_settings={"help_option_names": ["-h", "--help"]},
)

T = TypeVar("T")


class Format(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


class _State:
    debug = False


def _version_callback(value: bool) -> None:
    if value:
        print(f"mmdoctor {__version__} (Python {sys.version.split()[0]}, {sys.executable})")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", envvar="MMDOCTOR_DEBUG", help="Show tracebacks of errors."),
    ] = False,
) -> None:
    _State.debug = debug


PythonOption = Annotated[
    str | None,
    typer.Option(
        "--python",
        envvar="MMDOCTOR_PYTHON",
        help="Interpreter (or environment folder) to inspect. Default: the active virtual or "
        "conda environment, else the Python running mmdoctor.",
        show_default=False,
    ),
]


def _guarded(command: str, fmt: Format, body: Callable[[], int]) -> None:
    """Run a command body: expected errors become one line and their exit code, anything
    else exit 4; tracebacks only with --debug."""
    try:
        code = body()
    except MmdoctorError as exc:
        _fail(command, fmt, exc.exit_code, str(exc))
    except KeyboardInterrupt:
        _fail(command, fmt, ExitCode.CANNOT_RUN, "interrupted")
    except Exception as exc:
        _fail(command, fmt, ExitCode.CANNOT_RUN, f"internal error: {type(exc).__name__}: {exc}")
    raise typer.Exit(code)


def _fail(command: str, fmt: Format, code: ExitCode, message: str) -> None:
    from mmdoctor.render.redact import redact_credentials

    message = redact_credentials(message)
    if _State.debug:
        traceback.print_exc()
    hint = "" if _State.debug or code == ExitCode.USAGE else " (--debug shows the traceback)"
    print(f"mmdoctor: error: {message}{hint}", file=sys.stderr)
    if fmt == Format.json:
        from mmdoctor.render import json_out

        print(json_out.error(command, code, message))
    raise typer.Exit(int(code))


@app.command()
def check(
    python: PythonOption = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="One JSON document on stdout (same as --format json).")
    ] = False,
    fmt: Annotated[
        Format,
        typer.Option("--format", help="text for people, json for tools, markdown for bug reports."),
    ] = Format.text,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Show every check and the environment.")
    ] = False,
    cpu_only: Annotated[
        bool,
        typer.Option(
            "--cpu-only",
            envvar="MMDOCTOR_CPU_ONLY",
            help="This machine is meant to run on the CPU: a missing driver is not a problem.",
        ),
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Run only checks with this id or id prefix (repeatable)."),
    ] = None,
    list_checks: Annotated[
        bool, typer.Option("--list-checks", help="List the checks and exit.")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            envvar="MMDOCTOR_TIMEOUT",
            min=1.0,
            help="Seconds one probe step (such as `import torch`) may take in the target.",
        ),
    ] = 90.0,
    matrix: Annotated[
        Path | None,
        typer.Option("--matrix", help="Use this compatibility matrix instead of the shipped one."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    """Inspect the driver, GPUs, CUDA toolkit and a Python environment; say what is wrong
    and the command that fixes it.

    Exit codes: 0 healthy, 1 problems found, 2 bad input, 4 could not run.
    """
    _State.debug = _State.debug or debug
    chosen = Format.json if json_output else fmt

    def body() -> int:
        from mmdoctor.checks import all_checks
        from mmdoctor.checks.model import Context, run_checks, select
        from mmdoctor.errors import UsageError
        from mmdoctor.matrix import load_matrix
        from mmdoctor.probe.collect import collect_environment
        from mmdoctor.report import CheckReport

        checks = all_checks()
        if list_checks:
            for item in checks:
                print(f"{item.id:<22} {item.title}")
            return 0
        selected = select(checks, only or [])
        if only and not selected:
            raise UsageError(f"--only {' '.join(only)}: no such check (see --list-checks)")
        loaded = load_matrix(str(matrix) if matrix else None)
        env = _with_progress(
            chosen,
            lambda: collect_environment(
                python=python, environ=os.environ, step_timeout=timeout, matrix=loaded
            ),
        )
        report = CheckReport(
            command="check",
            environment=env,
            results=tuple(run_checks(Context(env, loaded, cpu_only=cpu_only), selected)),
            cpu_only=cpu_only,
        )
        _render(report, chosen, verbose)
        return int(report.exit_code)

    _guarded("check", chosen, body)


def _with_progress(fmt: Format, work: Callable[[], T]) -> T:
    """A spinner on stderr while probing, only for a person at a terminal."""
    if fmt != Format.text or not sys.stderr.isatty():
        return work()
    from rich.console import Console

    with Console(stderr=True).status("Probing the driver, toolkit and Python environment…"):
        return work()


def _render(report: object, fmt: Format, verbose: bool) -> None:
    from mmdoctor.report import CheckReport

    assert isinstance(report, CheckReport)
    if fmt == Format.json:
        from mmdoctor.render import json_out

        print(json_out.check_report(report))
    elif fmt == Format.markdown:
        from mmdoctor.render import markdown

        print(markdown.check_report(report), end="")
    else:
        from mmdoctor.render.human import make_console, render_check_report

        render_check_report(report, verbose=verbose, console=make_console())


def main() -> None:
    app(prog_name="mmdoctor")
