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
from typing import Annotated, NoReturn, TypeVar

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


JsonOption = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]
MatrixOption = Annotated[
    Path | None,
    typer.Option("--matrix", help="Use this compatibility matrix instead of the shipped one."),
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")]
CudaOption = Annotated[
    str | None, typer.Option("--cuda", help="The CUDA of the torch build, such as 11.6.")
]
TorchOption = Annotated[
    str | None, typer.Option("--torch", help="torch release, such as 2.1 or 2.1.2.")
]
MmdetOption = Annotated[
    str | None,
    typer.Option(
        "--mmdet", help="2, 3 or a release such as 3.3.0 (default: the newest that fits)."
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


def _fail(command: str, fmt: Format, code: ExitCode, message: str) -> NoReturn:
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
    json_output: JsonOption = False,
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
    matrix: MatrixOption = None,
    debug: DebugOption = False,
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


@app.command()
def install(
    python: PythonOption = None,
    cuda: CudaOption = None,
    cpu: Annotated[bool, typer.Option("--cpu", help="A CPU-only stack.")] = False,
    torch: TorchOption = None,
    mmdet: MmdetOption = None,
    allow_source_build: Annotated[
        bool,
        typer.Option(
            "--allow-source-build/--no-source-build",
            help="Whether a plan may build mmcv from source where no wheel exists.",
        ),
    ] = True,
    driver: Annotated[
        str | None, typer.Option("--driver", help="What-if driver version, such as 470.82.01.")
    ] = None,
    gpu_cc: Annotated[
        list[str] | None,
        typer.Option("--gpu-cc", help="What-if GPU compute capability, such as 8.6 (repeatable)."),
    ] = None,
    python_version: Annotated[
        str | None, typer.Option("--python-version", help="What-if Python version, such as 3.10.")
    ] = None,
    os_name: Annotated[
        str | None, typer.Option("--os", help="What-if OS: linux, windows or darwin.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan and change nothing.")
    ] = False,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export", help="Write the plan as a pip requirements file (implies --dry-run)."
        ),
    ] = None,
    json_output: JsonOption = False,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Show runners-up and every rejection.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1.0, help="Seconds for probing the interpreter.")
    ] = 90.0,
    matrix: MatrixOption = None,
    debug: DebugOption = False,
) -> None:
    """Pick the torch + torchvision + mmcv + mmdet (+ mmengine) stack that fits this machine.

    With --dry-run: show the plan (packages, pins, the exact commands) and change nothing.
    Exit codes: 0 a plan, 1 no stack fits, 2 bad input, 4 could not run.
    """
    _State.debug = _State.debug or debug
    fmt = Format.json if json_output else Format.text

    def body() -> int:
        from mmdoctor import machine as machines
        from mmdoctor.errors import UsageError
        from mmdoctor.matrix import load_matrix
        from mmdoctor.plan import build_plan, export_requirements
        from mmdoctor.resolver import resolve

        loaded = load_matrix(str(matrix) if matrix else None)
        wishes = machines.make_wishes(
            loaded,
            cuda=cuda,
            cpu=cpu,
            torch=torch,
            mmdet=mmdet,
            allow_source_build=allow_source_build,
        )
        context = machines.gather(
            loaded,
            python=python,
            environ=os.environ,
            driver=driver,
            gpu_cc=gpu_cc or [],
            python_version=python_version,
            os_name=os_name,
            timeout=timeout,
        )
        if not dry_run and export is None:
            raise UsageError(
                "install can only plan for now: add --dry-run (or --export FILE); carrying "
                "the plan out is the next piece of work"
            )
        resolution = resolve(context.machine, wishes, loaded)
        plan = None
        if resolution.chosen is not None:
            plan = build_plan(
                resolution.chosen,
                context.machine,
                loaded,
                executable=context.executable,
                cpu_count=context.host.cpu_count,
                memory_bytes=context.host.memory_total_bytes,
                gcc=context.gcc,
                mmcv_base_url=os.environ.get("MMCV_BASE_URL"),
            )
        code = 0 if plan is not None else 1
        if export is not None and plan is not None:
            try:
                export.write_text(export_requirements(plan, loaded, __version__), encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"--export {export}: {exc.strerror}") from None
        _render_plan(resolution, plan, context, fmt, verbose, exported=export)
        return code

    _guarded("install", fmt, body)


def _render_plan(
    resolution: object,
    plan: object,
    context: object,
    fmt: Format,
    verbose: bool,
    exported: Path | None,
) -> None:
    from mmdoctor.machine import PlanningContext
    from mmdoctor.plan import Plan
    from mmdoctor.render import plan_out
    from mmdoctor.resolver import Resolution

    assert isinstance(resolution, Resolution) and isinstance(context, PlanningContext)
    assert plan is None or isinstance(plan, Plan)
    if fmt == Format.json:
        from mmdoctor.render import json_out

        doc = json_out.envelope(
            "install",
            "planned" if plan is not None else "no-plan",
            ExitCode.OK if plan is not None else ExitCode.PROBLEMS,
            machine=plan_out.machine_dict(context),
            plan=plan_out.plan_dict(plan) if plan is not None else None,
            rejected=[{"candidate": r.candidate, "reason": r.reason} for r in resolution.rejected]
            if plan is None or verbose
            else [],
            suggestions=list(resolution.suggestions),
            exported=str(exported) if exported is not None and plan is not None else None,
            errors=[],
        )
        print(json_out.dumps(doc))
        return
    from mmdoctor.render.human import make_console

    console = make_console()
    plan_out.render_plan(resolution, plan, context, verbose=verbose, console=console)
    if exported is not None and plan is not None:
        console.print(
            f"Wrote {exported}: `python -m pip install -r {exported}` installs this plan."
        )


@app.command("matrix")
def matrix_command(
    cuda: CudaOption = None,
    torch: TorchOption = None,
    mmdet: MmdetOption = None,
    json_output: JsonOption = False,
    matrix: MatrixOption = None,
) -> None:
    """What works with what: mmdet, mmcv, torch, CUDA variants and Pythons, from the matrix."""
    fmt = Format.json if json_output else Format.text

    def body() -> int:
        from dataclasses import asdict

        from mmdoctor import machine as machines
        from mmdoctor.compat_table import compat_rows
        from mmdoctor.matrix import load_matrix

        loaded = load_matrix(str(matrix) if matrix else None)
        wishes = machines.make_wishes(
            loaded, cuda=cuda, cpu=False, torch=torch, mmdet=mmdet, allow_source_build=True
        )
        rows = compat_rows(loaded, cuda=wishes.cuda, torch=wishes.torch, mmdet=wishes.mmdet)
        if fmt == Format.json:
            from mmdoctor.render import json_out

            print(
                json_out.dumps(
                    json_out.envelope(
                        "matrix",
                        "ok",
                        ExitCode.OK,
                        matrix=loaded.path,
                        rows=[asdict(row) for row in rows],
                        errors=[],
                    )
                )
            )
        else:
            from mmdoctor.render.human import make_console
            from mmdoctor.render.plan_out import render_compat_table

            render_compat_table(rows, make_console())
        return 0

    _guarded("matrix", fmt, body)


@app.command("smoke-test")
def smoke_test(
    python: PythonOption = None,
    device: Annotated[
        str | None,
        typer.Option(
            "--device", help="cpu, cuda or cuda:N (default: cuda:0 when a GPU is visible)."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="yolov3-mobilenetv2, retinanet-r50 (default) or faster-rcnn-r101."
        ),
    ] = None,
    image: Annotated[
        str | None, typer.Option("--image", help="Image to detect objects in (JPEG, PNG, BMP).")
    ] = None,
    weights: Annotated[
        str,
        typer.Option("--weights", help="zoo: the model zoo checkpoint; none: random weights."),
    ] = "zoo",
    checkpoint: Annotated[
        str | None,
        typer.Option("--checkpoint", help="Your own checkpoint or a mirror: a path or an URL."),
    ] = None,
    score_thr: Annotated[
        float, typer.Option("--score-thr", min=0.0, max=1.0, help="Report detections above this.")
    ] = 0.3,
    out: Annotated[
        str | None, typer.Option("--out", help="Write the image with the boxes drawn (.jpg).")
    ] = None,
    runs: Annotated[
        int | None,
        typer.Option("--runs", min=1, help="Timed runs (default 10 on a GPU, 3 on the CPU)."),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1.0, help="Seconds one stage may take.")
    ] = 600.0,
    json_output: JsonOption = False,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Tracebacks of failed stages.")
    ] = False,
    matrix: MatrixOption = None,
    debug: DebugOption = False,
) -> None:
    """Prove the stack: torch on the device, mmcv's ops against a reference, a real MMDetection
    detector built from the installed configs, inference on an image, timings.

    Exit codes: 0 every stage passed, 1 a stage failed, 2 bad input, 4 could not run.
    """
    _State.debug = _State.debug or debug
    fmt = Format.json if json_output else Format.text

    def body() -> int:
        from mmdoctor.matrix import load_matrix
        from mmdoctor.smoke.run import SmokeOptions, run_smoke

        loaded = load_matrix(str(matrix) if matrix else None)
        options = SmokeOptions(
            python=python,
            device=device,
            model=model,
            image=image,
            weights=weights,
            checkpoint=checkpoint,
            score_thr=score_thr,
            out=out,
            runs=runs,
            timeout=timeout,
        )
        report = _with_progress(fmt, lambda: run_smoke(options, loaded, os.environ))
        code = ExitCode.OK if report.passed else ExitCode.PROBLEMS
        from mmdoctor.render import smoke_out

        if fmt == Format.json:
            from mmdoctor.render import json_out

            print(
                json_out.dumps(
                    json_out.envelope(
                        "smoke-test",
                        "passed" if report.passed else "failed",
                        code,
                        **smoke_out.smoke_dict(report),
                        errors=[],
                    )
                )
            )
        else:
            from mmdoctor.render.human import make_console

            smoke_out.render_smoke(report, console=make_console(), verbose=verbose)
        return int(code)

    _guarded("smoke-test", fmt, body)


@app.command()
def diagnose(
    log: Annotated[
        str, typer.Argument(help="The log, traceback or pasted issue to read; - for stdin.")
    ] = "-",
    python: Annotated[
        str | None,
        typer.Option(
            "--python",
            help="Also run `check` on this interpreter to confirm or rule out what the log says.",
        ),
    ] = None,
    json_output: JsonOption = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Every match.")] = False,
    debug: DebugOption = False,
) -> None:
    """Name the known failure behind a log, root cause first, with the fix.

    Exit codes: 0 a known cause was found, 1 nothing known matched, 2 unreadable or binary input.
    """
    _State.debug = _State.debug or debug
    fmt = Format.json if json_output else Format.text

    def body() -> int:
        from mmdoctor.diagnose import CONFIDENT, confirm_with_environment, decode_log, match_log
        from mmdoctor.errors import UsageError
        from mmdoctor.knowledge import load_knowledge

        if log == "-":
            data, source = sys.stdin.buffer.read(), "standard input"
        else:
            try:
                data, source = Path(log).read_bytes(), log
            except OSError as exc:
                raise UsageError(f"{log}: cannot read it ({exc.strerror})") from None
        matches = match_log(decode_log(data, source), load_knowledge())
        if python is not None:
            failing = _failing_known_failures(python)
            matches = confirm_with_environment(matches, failing)
        found = any(m.confidence >= CONFIDENT for m in matches)
        code = ExitCode.OK if found else ExitCode.PROBLEMS
        from mmdoctor.render import diagnose_out

        if fmt == Format.json:
            from mmdoctor.diagnose import bug_report_hint
            from mmdoctor.render import json_out

            print(
                json_out.dumps(
                    json_out.envelope(
                        "diagnose",
                        "found" if found else "unknown",
                        code,
                        source=source,
                        matches=[diagnose_out.match_dict(m) for m in matches],
                        hint=None if found else bug_report_hint(),
                        errors=[],
                    )
                )
            )
        else:
            from mmdoctor.render.human import make_console

            diagnose_out.render_matches(
                matches, console=make_console(), verbose=verbose, source=source
            )
        return int(code)

    _guarded("diagnose", fmt, body)


def _failing_known_failures(python: str) -> dict[str, str]:
    """Known-failure id -> the failing check's summary, for `check` run on `python`."""
    from mmdoctor.checks import all_checks
    from mmdoctor.checks.model import Context, run_checks
    from mmdoctor.matrix import load_matrix
    from mmdoctor.probe.collect import collect_environment

    matrix = load_matrix()
    env = collect_environment(python=python, environ=os.environ, step_timeout=90.0, matrix=matrix)
    return {
        r.known_failure: f"{r.id}: {r.summary}"
        for r in run_checks(Context(env, matrix), all_checks())
        if r.known_failure and r.status.is_problem
    }
