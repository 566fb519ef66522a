"""What the Typer declarations of cli.py share: the options several commands take, declared
once (pip's `cli/cmdoptions.py` idea; each command's own options stay beside it in cli.py),
the output formats, how parsed values become a command's options, and how a parse error is
said."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import fields
from enum import Enum
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from mmdoctor import signals
from mmdoctor.errors import ExitCode, MmdoctorError, UsageError, describe
from mmdoctor.flags import flag, toggle

if TYPE_CHECKING:  # the command side's types, for the signatures only (start-up: see serve)
    from mmdoctor.commands.interaction import Interaction
    from mmdoctor.result import Result

OptionsT = TypeVar("OptionsT")
COMMANDS = ("check", "install", "fix", "rollback", "matrix", "smoke-test", "diagnose", "fleet")
FLEET_COMMANDS = ("check", "report", "plan", "smoke-test", "install")


class Format(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


PythonOption = Annotated[
    str | None,
    typer.Option(
        "--python",
        metavar="PATH",
        envvar="MMDOCTOR_PYTHON",
        help="Interpreter, environment folder, or a name on PATH (python3.12). Default: the "
        "active virtual or conda environment (never mmdoctor's own, unless it holds the stack).",
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
    typer.Option(
        "--matrix", metavar="FILE", help="Use this compatibility matrix instead of the shipped one."
    ),
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")]
TimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        envvar="MMDOCTOR_TIMEOUT",
        min=1.0,
        help="Seconds one probe step (such as `import torch`) may take in the target.",
    ),
]
CudaOption = Annotated[
    str | None,
    typer.Option(flag("cuda"), metavar="X.Y", help="The CUDA of the torch build, such as 11.6."),
]
TorchOption = Annotated[
    str | None,
    typer.Option(flag("torch"), metavar="VERSION", help="torch release, such as 2.1 or 2.1.2."),
]
MmdetOption = Annotated[
    str | None,
    typer.Option(
        flag("mmdet"),
        metavar="2|3|VERSION",
        help="2, 3, a minor (3.3) or a release (3.3.0); install picks the newest that fits.",
    ),
]
LineOption = Annotated[
    str | None,
    typer.Option(
        flag("line"),
        metavar="openmmlab|onedl",
        help="The stack line: upstream OpenMMLab (frozen since 2024) or VBTI's maintained "
        "onedl fork; default: whichever fits best.",
        show_default=False,
    ),
]
TorchSourceOption = Annotated[
    str,
    typer.Option(
        flag("torch_source"),
        metavar="pytorch|pypi",
        help="Where torch + torchvision come from: PyTorch's index for the variant, or PyPI "
        "(one build per platform: CUDA on Linux x86_64).",
    ),
]
SystemOption = Annotated[
    bool,
    typer.Option("--system", help="Allow a system or externally managed (PEP 668) interpreter."),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")]
IndexUrlOption = Annotated[
    str | None,
    typer.Option(
        flag("index_url"),
        metavar="URL",
        help="A PyPI mirror for everything but torch.",
        show_default=False,
    ),
]
FindLinksOption = Annotated[
    list[str] | None,
    typer.Option(
        flag("find_links"),
        metavar="DIR|URL",
        help="A folder or page of wheels, for every step (repeatable).",
    ),
]


OfflineOption = Annotated[
    bool,
    typer.Option(
        "--offline",
        envvar="MMDOCTOR_OFFLINE",
        help="Do not ask the package index and download hosts (check skips network.reachable; "
        "install plans without asking its package sources first).",
    ),
]
CpuOption = Annotated[bool, typer.Option(flag("cpu"), help="A CPU-only stack.")]


# with --python, the pair every command that takes a target declares
VenvOption = Annotated[
    Path | None,
    typer.Option(
        "--venv",
        metavar="DIR",
        help="Virtual environment folder (instead of --python); `install` creates it if missing.",
        show_default=False,
    ),
]


# install's and smoke-test's own options (long to declare inline)
AllowSourceBuildOption = Annotated[
    bool,
    typer.Option(
        toggle("allow_source_build"),
        help="Whether a plan may build mmcv from source where no wheel exists.",
    ),
]
InstallerOption = Annotated[
    str,
    typer.Option(
        flag("installer"),
        metavar="mim|pip|uv",
        help="mim (default), pip or uv (uv only when installed).",
    ),
]
KeepOnCheckFailureOption = Annotated[
    bool,
    typer.Option(
        "--keep-on-check-failure",
        help="When the final check finds problems, keep what was installed (exit 1) instead "
        "of rolling back; `mmdoctor rollback` still undoes it.",
    ),
]
TorchIndexUrlOption = Annotated[
    str | None,
    typer.Option(
        flag("torch_index_url"),
        metavar="URL",
        help="A mirror of PyTorch's index for this variant (e.g. .../whl/cu121).",
        show_default=False,
    ),
]
MmcvBaseUrlOption = Annotated[
    str | None,
    typer.Option(
        flag("mmcv_base_url"),
        metavar="URL",
        envvar="MMCV_BASE_URL",
        help="A mirror of https://download.openmmlab.com (what mim calls MMCV_BASE_URL).",
        show_default=False,
    ),
]
DriverOption = Annotated[
    str | None,
    typer.Option(
        flag("driver"), metavar="VERSION", help="What-if driver version, such as 470.82.01."
    ),
]
GpuCcOption = Annotated[
    list[str] | None,
    typer.Option(
        flag("gpu_cc"),
        metavar="X.Y",
        help="What-if GPU compute capability, such as 8.6 (repeatable).",
    ),
]
PythonVersionOption = Annotated[
    str | None,
    typer.Option(
        flag("python_version"), metavar="X.Y", help="What-if Python version, such as 3.10."
    ),
]
OsNameOption = Annotated[
    str | None,
    typer.Option(
        flag("os_name"),
        metavar="linux|windows|darwin",
        help="What-if OS: linux, windows or darwin.",
    ),
]
ArchOption = Annotated[
    str | None,
    typer.Option(
        flag("arch"), metavar="x86_64|aarch64", help="What-if CPU architecture: x86_64 or aarch64."
    ),
]
ExportOption = Annotated[
    Path | None,
    typer.Option(
        "--export",
        metavar="FILE",
        help="Write the plan as a pip requirements file (implies --dry-run).",
    ),
]
InstallVerboseOption = Annotated[
    bool, typer.Option("-v", "--verbose", help="Show runners-up and every rejection.")
]
InstallTimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout", metavar="SECONDS", min=1.0, help="Seconds for probing the interpreter."
    ),
]
SmokeDeviceOption = Annotated[
    str | None,
    typer.Option(
        "--device",
        metavar="cpu|cuda|cuda:N|cuda:local",
        help="cpu, cuda, cuda:N, or cuda:local: the GPU of this task's rank on its node "
        "($SLURM_LOCALID, $LOCAL_RANK). Default: cuda:0 when a GPU is visible.",
    ),
]
SmokeModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        metavar="NAME",
        help="yolov3-mobilenetv2, retinanet-r50 (default) or faster-rcnn-r101.",
    ),
]
SmokeImageOption = Annotated[
    str | None,
    typer.Option("--image", metavar="FILE", help="Image to detect objects in (JPEG, PNG, BMP)."),
]
SmokeWeightsOption = Annotated[
    str,
    typer.Option(
        "--weights",
        metavar="zoo|none",
        help="zoo: the model zoo checkpoint; none: random weights.",
    ),
]
SmokeCheckpointOption = Annotated[
    str | None,
    typer.Option(
        "--checkpoint",
        metavar="PATH|URL",
        help="Your own checkpoint or a mirror: a path or an URL.",
    ),
]
SmokeScoreThrOption = Annotated[
    float,
    typer.Option(
        "--score-thr", metavar="0-1", min=0.0, max=1.0, help="Report detections above this."
    ),
]
SmokeOutOption = Annotated[
    str | None,
    typer.Option("--out", metavar="FILE.jpg", help="Write the image with the boxes drawn (.jpg)."),
]
SmokeRunsOption = Annotated[
    int | None,
    typer.Option(
        "--runs", metavar="N", min=1, help="Timed runs (default 10 on a GPU, 3 on the CPU)."
    ),
]
SmokeTimeoutOption = Annotated[
    float, typer.Option("--timeout", metavar="SECONDS", min=1.0, help="Seconds one stage may take.")
]


def output_format(from_json: Format, asked: Format | None) -> Format:
    """--json, or --format; both at once must agree."""
    if from_json == Format.json and asked not in (None, Format.text, Format.json):
        raise UsageError(f"--json and --format {asked.value} ask for two formats: choose one")
    return from_json if from_json == Format.json else (asked or Format.text)


def command_options(kind: type[OptionsT], values: Mapping[str, Any]) -> OptionsT:
    """A command's options from the Typer parameters of the same names; a repeatable option
    (a list, or None when not given) becomes a tuple."""
    chosen = {f.name: values[f.name] for f in fields(kind) if f.name in values}  # type: ignore[arg-type]
    for f in fields(kind):  # type: ignore[arg-type]
        if f.default == () and f.name in chosen:
            chosen[f.name] = tuple(chosen[f.name] or ())
    return kind(**chosen)


def parse_error(args: list[str], message: str) -> NoReturn:
    """A parse error as any other bad input: one line on stderr (no box, no pydantic wording),
    exit 2, and the error envelope on stdout when the arguments ask for JSON."""
    # here, not at the top: rich and every renderer load only when something is said
    from mmdoctor.render.emit import emit
    from mmdoctor.result import Result

    message = " ".join(message.split()).replace("Value error, ", "")
    at = next((i for i, a in enumerate(args) if a in COMMANDS), None)
    command = args[at] if at is not None else None
    sub = args[at + 1] if at is not None and at + 1 < len(args) else None
    if command == "fleet" and sub in FLEET_COMMANDS:
        command = f"fleet {sub}"  # `mmdoctor fleet check --help`
    pairs = {f"{a}={b}" for a, b in pairwise(args)} | set(args)
    fmt = "json" if {"--json", "--format=json"} & pairs else "text"
    see = f"mmdoctor {command} --help" if command else "mmdoctor --help"
    emit(Result.failure(command or "mmdoctor", ExitCode.USAGE, f"{message} (see {see})"), fmt)
    sys.exit(int(ExitCode.USAGE))


class CliState:
    debug = False  # --debug (before or after the command), or MMDOCTOR_DEBUG


def serve(
    name: str,
    run: Callable[[OptionsT, Interaction], Result],
    kind: type[OptionsT],
    values: dict[str, Any],
) -> NoReturn:
    """Run a command with the options its Typer parameters (`values`) give, render its Result
    in the format asked for, exit with its code. Expected errors become one line and their
    exit code, anything else exit 4 ("internal error"); tracebacks only with --debug."""
    # here, not at the top: `mmdoctor --help` and --version never load rich or a renderer
    from mmdoctor.render.emit import emit, write_files
    from mmdoctor.render.terminal import Terminal
    from mmdoctor.result import Result

    CliState.debug = CliState.debug or bool(values.get("debug"))
    fmt, asked = (Format.json if values.get("json_output") else Format.text), values.get("fmt")
    verbose = bool(values.get("verbose"))
    with signals.handled():  # SIGTERM and SIGHUP end a command as Ctrl-C does
        try:
            fmt = output_format(fmt, asked)
            result = run(command_options(kind, values), Terminal(fmt.value, verbose))
        except (Exception, KeyboardInterrupt) as exc:
            if CliState.debug:
                traceback.print_exc()
            result = Result.of_exception(name, exc)
        code = result.exit_code
        try:
            try:  # --junit, --prometheus: written for a failure too (a textfile: it could not run)
                write_files(result, junit=values.get("junit"), prometheus=values.get("prometheus"))
            except MmdoctorError as exc:
                result = Result.of_exception(name, exc)
            code = result.exit_code
            emit(result, fmt.value, verbose=verbose, debug=CliState.debug)
            sys.stdout.flush()
        except BrokenPipeError:  # `mmdoctor ... | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except KeyboardInterrupt as exc:  # stopped while it said how it ended
            code = describe(exc)[0]
    raise typer.Exit(int(code))
