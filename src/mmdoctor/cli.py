"""The command line: Typer declarations; each hands its parameters to `cli_support.serve`,
which runs the command's plain function, renders its Result and exits with its code. No logic
lives here.

Each command's module is imported inside its declaration, the one place mmdoctor imports its
own code inside a function: `mmdoctor --help` and `--version` then load neither the probes
nor rich nor YAML.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mmdoctor import __version__
from mmdoctor.cli_fleet import fleet_app
from mmdoctor.cli_support import (
    AllowSourceBuildOption,
    ArchOption,
    CliState,
    CpuOnlyOption,
    CpuOption,
    CudaOption,
    DebugOption,
    DriverOption,
    ExportOption,
    FindLinksOption,
    Format,
    GpuCcOption,
    IndexUrlOption,
    InstallerOption,
    InstallTimeoutOption,
    InstallVerboseOption,
    JsonOption,
    KeepOnCheckFailureOption,
    LineOption,
    MatrixOption,
    MmcvBaseUrlOption,
    MmdetOption,
    OfflineOption,
    OsNameOption,
    PythonOption,
    PythonVersionOption,
    SmokeCheckpointOption,
    SmokeDeviceOption,
    SmokeImageOption,
    SmokeModelOption,
    SmokeOutOption,
    SmokeRunsOption,
    SmokeScoreThrOption,
    SmokeTimeoutOption,
    SmokeWeightsOption,
    SystemOption,
    TimeoutOption,
    TorchIndexUrlOption,
    TorchOption,
    TorchSourceOption,
    VenvOption,
    YesOption,
    parse_error,
    serve,
)
from mmdoctor.errors import ExitCode

app = typer.Typer(
    name="mmdoctor",
    help="Check, install and smoke-test PyTorch + mmcv + MMDetection on a GPU box.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: wraps at any width, metavars as declared
    pretty_exceptions_enable=False,  # locals can hold index tokens; errors are handled below
    context_settings={"help_option_names": ["-h", "--help"]},
)


Opt = typer.Option


def _version(value: bool) -> None:
    if value:
        print(f"mmdoctor {__version__} (Python {sys.version.split()[0]}, {sys.executable})")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        Opt("--version", "-V", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", envvar="MMDOCTOR_DEBUG", help="Show tracebacks of errors.")
    ] = False,
) -> None:
    CliState.debug = debug


@app.command(short_help="The machine, a Python environment, what is wrong, the fix.")
def check(
    python: PythonOption = None,
    venv: VenvOption = None,
    json_output: JsonOption = False,
    fmt: Annotated[
        Format, Opt("--format", help="text for people, json for tools, markdown for bug reports.")
    ] = Format.text,
    verbose: Annotated[
        bool, Opt("-v", "--verbose", help="Show every check and the environment.")
    ] = False,
    cpu_only: CpuOnlyOption = False,
    only: Annotated[
        list[str] | None,
        Opt("--only", metavar="ID", help="Run only checks with this id or id prefix."),
    ] = None,
    list_checks: Annotated[bool, Opt("--list-checks", help="List the checks and exit.")] = False,
    offline: OfflineOption = False,
    timeout: TimeoutOption = 90.0,
    matrix: MatrixOption = None,
    prometheus: Annotated[
        Path | None,
        Opt(
            "--prometheus",
            metavar="FILE",
            help="Also write the result for node_exporter's textfile collector (FILE.prom).",
        ),
    ] = None,
    debug: DebugOption = False,
) -> None:
    """Inspect the driver, GPUs, CUDA toolkit and a Python environment; say what is wrong
    and the command that fixes it.

    With no environment named (--python, --venv) or active: the machine's checks, and the
    Python environments it can see (PATH, conda, pyenv, venvs under this folder) with their
    torch, mmcv and mmdet.

    Exit codes: 0 healthy, 1 problems found, 2 bad input, 4 could not run.
    """
    from mmdoctor.commands import check as command

    serve("check", command.run, command.CheckOptions, locals())


@app.command(short_help="Plan the stack that fits this machine, and install it.")
def install(
    python: PythonOption = None,
    venv: VenvOption = None,
    system: SystemOption = False,
    yes: YesOption = False,
    cuda: CudaOption = None,
    cpu: CpuOption = False,
    torch: TorchOption = None,
    mmdet: MmdetOption = None,
    line: LineOption = None,
    torch_source: TorchSourceOption = "pytorch",
    allow_source_build: AllowSourceBuildOption = True,
    installer: InstallerOption = "mim",
    keep_on_check_failure: KeepOnCheckFailureOption = False,
    index_url: IndexUrlOption = None,
    torch_index_url: TorchIndexUrlOption = None,
    mmcv_base_url: MmcvBaseUrlOption = None,
    find_links: FindLinksOption = None,
    driver: DriverOption = None,
    gpu_cc: GpuCcOption = None,
    python_version: PythonVersionOption = None,
    os_name: OsNameOption = None,
    arch: ArchOption = None,
    dry_run: Annotated[bool, Opt("--dry-run", help="Show the plan and change nothing.")] = False,
    export: ExportOption = None,
    offline: OfflineOption = False,
    json_output: JsonOption = False,
    verbose: InstallVerboseOption = False,
    timeout: InstallTimeoutOption = 90.0,
    matrix: MatrixOption = None,
    debug: DebugOption = False,
) -> None:
    """Pick the torch + torchvision + mmcv + mmdet (+ mmengine) stack that fits this machine,
    show the plan, and install it: snapshot first, every step logged, rolled back on failure.

    With --dry-run: show the plan (packages, pins, the exact commands) and change nothing.

    Exit codes: 0 installed (or planned), 1 no stack fits, 2 bad input or refused target,
    3 failed and rolled back, 4 could not run (or could not restore: see the log), 5 declined
    at the question (nothing changed), 130 interrupted before the first step; with
    --keep-on-check-failure, 1 when the final check found problems.
    """
    from mmdoctor.commands import install as command

    serve("install", command.run, command.InstallOptions, locals())


@app.command(short_help="Carry out the fixes `check` advises; roll back if they fail.")
def fix(
    python: PythonOption = None,
    venv: VenvOption = None,
    only: Annotated[
        list[str] | None,
        Opt(
            "--only",
            metavar="ID",
            help="Fix only this check id, id prefix or known-failure id (repeatable).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, Opt("--dry-run", help="Show what would be done and change nothing.")
    ] = False,
    yes: YesOption = False,
    system: SystemOption = False,
    cpu_only: CpuOnlyOption = False,
    installer: InstallerOption = "mim",
    index_url: IndexUrlOption = None,
    torch_index_url: TorchIndexUrlOption = None,
    mmcv_base_url: MmcvBaseUrlOption = None,
    find_links: FindLinksOption = None,
    json_output: JsonOption = False,
    timeout: Annotated[
        float, Opt("--timeout", metavar="SECONDS", min=1.0, help="Seconds one probe step may take.")
    ] = 90.0,
    matrix: MatrixOption = None,
    debug: DebugOption = False,
) -> None:
    """Apply the fixes for what `check` finds: show them, ask (or --yes), snapshot, apply,
    check again, and roll back if the fix did not hold.

    Exit codes: 0 fixed (or nothing to fix), 1 problems left that mmdoctor cannot fix itself,
    2 bad input or refused target, 3 the fix did not hold and was rolled back, 4 could not run,
    5 declined at the question (nothing changed), 130 interrupted before the first step.
    """
    from mmdoctor.commands import fix as command

    serve("fix", command.run, command.FixOptions, locals())


@app.command(short_help="Put an environment back as it was before an install or fix.")
def rollback(
    python: PythonOption = None,
    venv: VenvOption = None,
    system: Annotated[bool, Opt("--system", help="Allow a system interpreter.")] = False,
    index_url: IndexUrlOption = None,
    find_links: FindLinksOption = None,
    json_output: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Put an environment back as it was before the last `mmdoctor install` (or fix) into it.

    Exit codes: 0 restored, 1 no snapshot to restore, 2 bad input, 4 could not restore exactly.
    """
    from mmdoctor.commands import rollback as command

    serve("rollback", command.run, command.RollbackOptions, locals())


@app.command("matrix", short_help="What works with what: mmdet, mmcv, torch, CUDA, Python.")
def matrix_command(
    cuda: CudaOption = None,
    torch: TorchOption = None,
    mmdet: MmdetOption = None,
    line: LineOption = None,
    json_output: JsonOption = False,
    matrix: MatrixOption = None,
    debug: DebugOption = False,
) -> None:
    """What works with what: mmdet, mmcv, torch, CUDA variants and Pythons, from the matrix.

    Exit codes: 0 the table (empty when nothing matches), 2 bad input.
    """
    from mmdoctor.commands import matrix as command

    serve("matrix", command.run, command.MatrixOptions, locals())


@app.command("smoke-test", short_help="A real MMDetection detection in the environment, timed.")
def smoke_test(
    python: PythonOption = None,
    venv: VenvOption = None,
    device: SmokeDeviceOption = None,
    model: SmokeModelOption = None,
    image: SmokeImageOption = None,
    weights: SmokeWeightsOption = "zoo",
    checkpoint: SmokeCheckpointOption = None,
    score_thr: SmokeScoreThrOption = 0.3,
    out: SmokeOutOption = None,
    runs: SmokeRunsOption = None,
    timeout: SmokeTimeoutOption = 600.0,
    json_output: JsonOption = False,
    verbose: Annotated[bool, Opt("-v", "--verbose", help="Tracebacks of failed stages.")] = False,
    matrix: MatrixOption = None,
    debug: DebugOption = False,
) -> None:
    """Prove the stack: torch on the device, mmcv's ops against a reference, a real MMDetection
    detector built from the installed configs, inference on an image, timings.

    Exit codes: 0 every stage passed, 1 a stage failed, 2 bad input, 4 could not run.
    """
    from mmdoctor.commands import smoke_test as command

    serve("smoke-test", command.run, command.SmokeTestOptions, locals())


@app.command(short_help="Name the known failure behind a log, with its fix.")
def diagnose(
    log: Annotated[
        str,
        # hidden from the Arguments list, which would print its Python type (<str>); the
        # docstring says what it is
        typer.Argument(metavar="[FILE|-]", hidden=True),
    ] = "-",
    python: PythonOption = None,
    venv: VenvOption = None,
    json_output: JsonOption = False,
    verbose: Annotated[bool, Opt("-v", "--verbose", help="Every match.")] = False,
    timeout: TimeoutOption = 90.0,
    matrix: MatrixOption = None,
    max_bytes: Annotated[
        str, Opt("--max-bytes", metavar="SIZE", help="Read at most this much (64K, 100M, 1G).")
    ] = "512M",
    debug: DebugOption = False,
) -> None:
    """Name the known failure behind a log, root cause first, with the fix.

    FILE is the log, traceback or issue to read; without it, or with -, standard input. With
    --python or --venv, `check` runs there too, to confirm or rule out what the log says.

    Exit codes: 0 a known cause was found, 1 nothing known matched, 2 empty, unreadable,
    binary, endless (a device) or too big input.
    """
    from mmdoctor.commands import diagnose as command

    serve("diagnose", command.run, command.DiagnoseOptions, locals())


app.add_typer(fleet_app)


def main(argv: list[str] | None = None) -> None:
    """Typer parses; a parse error (an unknown option, a bad value, a bad MMDOCTOR_* variable) is
    one line on stderr and exit 2 like any other bad input, with the envelope under --json."""
    args = sys.argv[1:] if argv is None else argv
    if not args:  # the help, as `mmdoctor --help` shows it, and exit 2: a command was missing
        app(args=["--help"], prog_name="mmdoctor", standalone_mode=False)
        sys.exit(int(ExitCode.USAGE))
    try:
        code = app(args=args, prog_name="mmdoctor", standalone_mode=False)
    except Exception as exc:
        if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
            raise  # not a parse error (those carry both, as click's do)
        parse_error(args, str(exc.format_message()))
    sys.exit(int(code or 0))
