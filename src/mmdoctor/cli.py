"""The command line: parse, call the plain modules, render, exit with a documented code.

Heavy modules (the probes, rich, YAML) are imported inside the commands, so that
`mmdoctor --help` and `--version` stay fast.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from mmdoctor import __version__
from mmdoctor.errors import ExitCode, MmdoctorError

if TYPE_CHECKING:
    from mmdoctor.install.destination import Destination
    from mmdoctor.install.execute import InstallOutcome
    from mmdoctor.matrix import Matrix
    from mmdoctor.plan import Plan
    from mmdoctor.report import CheckReport

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
CpuOnlyOption = Annotated[
    bool,
    typer.Option(
        "--cpu-only",
        envvar="MMDOCTOR_CPU_ONLY",
        help="This machine is meant to run on the CPU: a missing driver is not a problem.",
    ),
]
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
    except typer.Exit:  # the body already said why (_fail)
        raise
    except MmdoctorError as exc:
        _fail(command, fmt, exc.exit_code, str(exc))
    except KeyboardInterrupt:
        _fail(command, fmt, ExitCode.CANNOT_RUN, "interrupted")
    except Exception as exc:
        _fail(command, fmt, ExitCode.CANNOT_RUN, f"internal error: {type(exc).__name__}: {exc}")
    raise typer.Exit(code)


def _fail(command: str, fmt: Format, code: ExitCode, message: str) -> NoReturn:
    from mmdoctor.redact import redact_credentials

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
    cpu_only: CpuOnlyOption = False,
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


InstallerOption = Annotated[
    str, typer.Option("--installer", help="mim (default), pip or uv (uv only when installed).")
]
IndexUrlOption = Annotated[
    str | None,
    typer.Option("--index-url", help="A PyPI mirror for everything but torch.", show_default=False),
]
FindLinksOption = Annotated[
    list[str] | None,
    typer.Option("--find-links", help="A folder or page of wheels, for every step (repeatable)."),
]


@app.command()
def install(
    python: PythonOption = None,
    venv: Annotated[
        Path | None,
        typer.Option("--venv", help="Install into this virtual environment; created if missing."),
    ] = None,
    system: Annotated[
        bool,
        typer.Option(
            "--system", help="Allow a system or externally managed (PEP 668) interpreter."
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before installing.")] = False,
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
    installer: InstallerOption = "mim",
    keep_on_check_failure: Annotated[
        bool,
        typer.Option(
            "--keep-on-check-failure",
            help="When the final check finds problems, keep what was installed (exit 1) instead "
            "of rolling back; `mmdoctor rollback` still undoes it.",
        ),
    ] = False,
    index_url: IndexUrlOption = None,
    torch_index_url: Annotated[
        str | None,
        typer.Option(
            "--torch-index-url",
            help="A mirror of PyTorch's index for this variant (e.g. .../whl/cu121).",
            show_default=False,
        ),
    ] = None,
    mmcv_base_url: Annotated[
        str | None,
        typer.Option(
            "--mmcv-base-url",
            envvar="MMCV_BASE_URL",
            help="A mirror of https://download.openmmlab.com (what mim calls MMCV_BASE_URL).",
            show_default=False,
        ),
    ] = None,
    find_links: FindLinksOption = None,
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
    """Pick the torch + torchvision + mmcv + mmdet (+ mmengine) stack that fits this machine,
    show the plan, and install it: snapshot first, every step logged, rolled back on failure.

    With --dry-run: show the plan (packages, pins, the exact commands) and change nothing.
    Exit codes: 0 installed (or planned), 1 no stack fits, 2 bad input or refused target,
    3 failed and rolled back, 4 could not run (or could not restore: see the log); with
    --keep-on-check-failure, 1 when the final check found problems.
    """
    _State.debug = _State.debug or debug
    fmt = Format.json if json_output else Format.text
    planning = dry_run or export is not None

    def body() -> int:
        from mmdoctor import machine as machines
        from mmdoctor.errors import UsageError
        from mmdoctor.matrix import load_matrix
        from mmdoctor.plan import build_plan, export_requirements
        from mmdoctor.resolver import resolve

        sources = machines.make_sources(
            installer=installer,
            index_url=index_url,
            torch_index_url=torch_index_url,
            mmcv_base_url=mmcv_base_url,
            find_links=find_links or [],
        )
        target = None
        if not planning:
            from mmdoctor.render.install_out import is_terminal

            if not yes and not is_terminal():
                raise UsageError(
                    "install changes an environment and there is no terminal to ask on: add "
                    "--yes (or --dry-run to only plan)"
                )
            target = _install_target(python, venv, system, timeout)
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
            python=target.executable if target else python,
            environ=os.environ,
            driver=driver,
            gpu_cc=gpu_cc or [],
            python_version=python_version,
            os_name=os_name,
            timeout=timeout,
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
                installer=installer,
                sources=sources,
            )
        if planning or plan is None or target is None:
            if export is not None and plan is not None:
                try:
                    text = export_requirements(plan, loaded, __version__)
                    export.write_text(text, encoding="utf-8")
                except OSError as exc:
                    raise UsageError(f"--export {export}: {exc.strerror}") from None
            _render_plan(resolution, plan, context, fmt, verbose, exported=export)
            return 0 if plan is not None else 1
        if fmt == Format.text:
            _render_plan(resolution, plan, context, fmt, verbose, exported=None, dry_run=False)
        if plan.blockers:
            _fail(
                "install",
                fmt,
                ExitCode.PROBLEMS,
                "the source build cannot start here: " + "; ".join(plan.blockers),
            )
        if not yes and not typer.confirm(f"Install this into {target.prefix}?", default=False):
            _fail("install", fmt, ExitCode.USAGE, "not confirmed: nothing was changed")
        return _carry_out(plan, target, fmt, loaded, timeout, system, keep_on_check_failure)

    _guarded("install", fmt, body)


def _install_target(
    python: str | None, venv: Path | None, system: bool, timeout: float
) -> Destination:
    from mmdoctor.install.destination import choose_destination

    return choose_destination(
        python=python,
        venv=str(venv) if venv is not None else None,
        system=system,
        environ=os.environ,
        timeout=timeout,
    )


def _carry_out(
    plan: Plan,
    target: Destination,
    fmt: Format,
    matrix: Matrix,
    timeout: float,
    system: bool,
    keep: bool,
) -> int:
    from mmdoctor.install.execute import execute, restore_options, source_builder
    from mmdoctor.install.state import EnvState
    from mmdoctor.render.install_out import StepProgress
    from mmdoctor.report import CheckReport

    checked: list[CheckReport] = []

    def run_check() -> str:
        from mmdoctor.checks import all_checks
        from mmdoctor.checks.model import Context, run_checks
        from mmdoctor.probe.collect import collect_environment

        env = collect_environment(
            python=target.executable, environ=os.environ, step_timeout=timeout, matrix=matrix
        )
        context = Context(env, matrix, cpu_only=plan.variant == "cpu")
        report = CheckReport("check", env, tuple(run_checks(context, all_checks())))
        checked.append(report)
        return report.status

    extra_env = {"PIP_BREAK_SYSTEM_PACKAGES": "1"} if system and target.externally_managed else {}
    outcome = execute(
        plan.steps,
        target,
        EnvState(target.prefix),
        StepProgress(),
        job="install",
        run_check=run_check,
        restore_options=restore_options(plan),
        builder=source_builder(plan, target),
        extra_env=extra_env,
        keep_on_check_failure=keep,
    )
    final = checked[-1] if checked else None
    if final is not None and final.exit_code != ExitCode.OK:
        problems = [r for r in final.results if r.status.is_problem]
        outcome = replace(
            outcome,
            failure_lines=tuple(f"{r.id}: {r.summary}" for r in problems),
            known_failures=tuple(r.known_failure for r in problems if r.known_failure),
        )
    from mmdoctor.render.plan_out import plan_dict

    _emit_outcome(outcome, fmt, target, plan_dict(plan), checked)
    return int(outcome.exit_code)


def _emit_outcome(
    outcome: InstallOutcome,
    fmt: Format,
    target: Destination,
    plan_doc: dict[str, object],
    reports: Sequence[CheckReport] = (),
) -> None:
    """What install and fix print when they are done: the JSON envelope, or the unhealthy
    check reports then the outcome."""
    if fmt == Format.json:
        from mmdoctor.render import json_out
        from mmdoctor.render.install_out import outcome_dict

        json_out.emit(
            outcome.job,
            outcome.status,
            outcome.exit_code,
            target=target.executable,
            plan=plan_doc,
            **outcome_dict(outcome),
            errors=[outcome.failure] if outcome.failure else [],
        )
        return
    from mmdoctor.render.human import make_console, render_check_report
    from mmdoctor.render.install_out import render_outcome

    console = make_console()
    for report in reports:
        if report.status != "healthy":
            render_check_report(report, verbose=False, console=console)
    render_outcome(outcome, console)


@app.command()
def fix(
    python: PythonOption = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only", help="Fix only this check id, id prefix or known-failure id (repeatable)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be done and change nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before fixing.")] = False,
    system: Annotated[
        bool, typer.Option("--system", help="Allow a system or externally managed interpreter.")
    ] = False,
    cpu_only: CpuOnlyOption = False,
    index_url: IndexUrlOption = None,
    find_links: FindLinksOption = None,
    json_output: JsonOption = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1.0, help="Seconds one probe step may take.")
    ] = 90.0,
    matrix: MatrixOption = None,
    debug: DebugOption = False,
) -> None:
    """Apply the fixes for what `check` finds: show them, ask (or --yes), snapshot, apply,
    check again, and roll back if the fix did not hold.

    Exit codes: 0 fixed (or nothing to fix), 1 problems left that mmdoctor cannot fix itself,
    2 bad input or refused target, 3 the fix did not hold and was rolled back, 4 could not run.
    """
    _State.debug = _State.debug or debug
    fmt = Format.json if json_output else Format.text

    def body() -> int:
        from mmdoctor.checks import all_checks
        from mmdoctor.checks.model import Context, run_checks, select
        from mmdoctor.errors import UsageError
        from mmdoctor.fix import plan_fixes, problems_left
        from mmdoctor.install.execute import execute, source_options
        from mmdoctor.install.state import EnvState
        from mmdoctor.knowledge import load_knowledge
        from mmdoctor.matrix import load_matrix
        from mmdoctor.probe.collect import collect_environment
        from mmdoctor.probe.interpreter import resolve_interpreter
        from mmdoctor.render import install_out
        from mmdoctor.report import CheckReport

        checks = all_checks()
        known_ids = {f.id for f in load_knowledge().failures}
        for wanted in only or []:
            if not select(checks, [wanted]) and wanted not in known_ids:
                raise UsageError(f"--only {wanted}: no such check or known failure")
        if not dry_run and not yes and not install_out.is_terminal():
            raise UsageError(
                "fix changes an environment and there is no terminal to ask on: add --yes "
                "(or --dry-run to only look)"
            )
        if dry_run:
            executable = resolve_interpreter(python, os.environ)[0]
        else:
            executable = _install_target(python, None, system, timeout).executable
        loaded = load_matrix(str(matrix) if matrix else None)

        def probe() -> CheckReport:
            env = collect_environment(
                python=executable, environ=os.environ, step_timeout=timeout, matrix=loaded
            )
            context = Context(env, loaded, cpu_only=cpu_only)
            return CheckReport("fix", env, tuple(run_checks(context, checks)))

        before = _with_progress(fmt, probe)
        plan = plan_fixes(before.results, executable, only or [])
        nothing = not plan.steps
        if fmt == Format.text:
            from mmdoctor.render.human import make_console

            console = make_console()
            install_out.render_fix_plan(plan, console)
            if nothing:
                console.print("Nothing for mmdoctor to fix here.")
        if nothing or dry_run:
            code = ExitCode.PROBLEMS if plan.manual else ExitCode.OK
            if fmt == Format.json:
                from mmdoctor.render import json_out

                json_out.emit(
                    "fix",
                    "nothing-to-fix" if nothing else "planned",
                    code,
                    target=executable,
                    plan=install_out.fix_plan_dict(plan),
                    errors=[],
                )
            return int(code)
        if not yes and not typer.confirm(f"Apply these fixes to {executable}?", default=False):
            _fail("fix", fmt, ExitCode.USAGE, "not confirmed: nothing was changed")
        target = _install_target(executable, None, system, timeout)
        left: list[str] = []

        def run_check() -> str:
            after = probe()
            left[:] = problems_left(before.results, after.results, plan.fixing)
            if left:
                return "problems"
            # what was fixed holds; checks that failed before and were not fixed may remain
            return "other problems remain" if after.status == "problems" else after.status

        outcome = execute(
            plan.steps,
            target,
            EnvState(target.prefix),
            install_out.StepProgress(),
            job="fix",
            run_check=run_check,
            restore_options=source_options(index_url, find_links or []),
            success="fixed",
        )
        if left:
            outcome = replace(outcome, failure_lines=tuple(left))
        _emit_outcome(outcome, fmt, target, install_out.fix_plan_dict(plan))
        return int(outcome.exit_code)

    _guarded("fix", fmt, body)


@app.command()
def rollback(
    python: PythonOption = None,
    venv: Annotated[
        Path | None, typer.Option("--venv", help="The virtual environment to restore.")
    ] = None,
    system: Annotated[bool, typer.Option("--system", help="Allow a system interpreter.")] = False,
    index_url: IndexUrlOption = None,
    find_links: FindLinksOption = None,
    json_output: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Put an environment back as it was before the last `mmdoctor install` (or fix) into it.

    Exit codes: 0 restored, 1 no snapshot to restore, 2 bad input, 4 could not restore exactly.
    """
    _State.debug = _State.debug or debug
    fmt = Format.json if json_output else Format.text

    def body() -> int:
        from mmdoctor.errors import UsageError
        from mmdoctor.install import execute
        from mmdoctor.install.state import EnvState
        from mmdoctor.render.install_out import StepProgress, render_restore, restore_dict

        if venv is not None and not venv.exists():
            raise UsageError(f"--venv {venv}: no such directory")
        target = _install_target(python, venv, system, 60.0)
        restored, folder, log = execute.rollback(
            target,
            EnvState(target.prefix),
            StepProgress(),
            source_options=execute.source_options(index_url, find_links or []),
        )
        code = ExitCode.OK if restored.ok else ExitCode.CANNOT_RUN
        if fmt == Format.json:
            from mmdoctor.render import json_out

            json_out.emit(
                "rollback",
                "restored" if restored.ok else "not-restored",
                code,
                target=target.executable,
                snapshot=str(folder),
                log=str(log),
                restore=restore_dict(restored),
                errors=[],
            )
        else:
            from mmdoctor.render.human import make_console

            console = make_console()
            render_restore(restored, console)
            console.print(f"Snapshot: {folder}\nLog: {log}")
        return int(code)

    _guarded("rollback", fmt, body)


def _render_plan(
    resolution: object,
    plan: object,
    context: object,
    fmt: Format,
    verbose: bool,
    exported: Path | None,
    dry_run: bool = True,
) -> None:
    from mmdoctor.machine import PlanningContext
    from mmdoctor.plan import Plan
    from mmdoctor.render import plan_out
    from mmdoctor.resolver import Resolution

    assert isinstance(resolution, Resolution) and isinstance(context, PlanningContext)
    assert plan is None or isinstance(plan, Plan)
    if fmt == Format.json:
        from mmdoctor.render import json_out

        json_out.emit(
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
        return
    from mmdoctor.render.human import make_console

    console = make_console()
    plan_out.render_plan(
        resolution, plan, context, verbose=verbose, console=console, dry_run=dry_run
    )
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

            json_out.emit(
                "matrix",
                "ok",
                ExitCode.OK,
                matrix=loaded.path,
                rows=[asdict(row) for row in rows],
                errors=[],
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

            json_out.emit(
                "smoke-test",
                "passed" if report.passed else "failed",
                code,
                **smoke_out.smoke_dict(report),
                errors=[],
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

            json_out.emit(
                "diagnose",
                "found" if found else "unknown",
                code,
                source=source,
                matches=[diagnose_out.match_dict(m) for m in matches],
                hint=None if found else bug_report_hint(),
                errors=[],
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
