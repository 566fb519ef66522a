"""The command-line options that several commands share, declared once (pip's
`cli/cmdoptions.py` idea; each command's own options stay beside it in cli.py), and how the
parsed values become a command's options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

OptionsT = TypeVar("OptionsT")
COMMANDS = ("check", "install", "fix", "rollback", "matrix", "smoke-test", "diagnose")


class Format(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


PythonOption = Annotated[
    str | None,
    typer.Option(
        "--python",
        envvar="MMDOCTOR_PYTHON",
        help="Interpreter (or environment folder) to inspect. Default: the active virtual or "
        "conda environment (never mmdoctor's own, unless it holds the stack).",
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
TimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        envvar="MMDOCTOR_TIMEOUT",
        min=1.0,
        help="Seconds one probe step (such as `import torch`) may take in the target.",
    ),
]
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
SystemOption = Annotated[
    bool,
    typer.Option("--system", help="Allow a system or externally managed (PEP 668) interpreter."),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")]
IndexUrlOption = Annotated[
    str | None,
    typer.Option("--index-url", help="A PyPI mirror for everything but torch.", show_default=False),
]
FindLinksOption = Annotated[
    list[str] | None,
    typer.Option("--find-links", help="A folder or page of wheels, for every step (repeatable)."),
]


def output_format(from_json: Format, asked: Format | None) -> Format:
    """--json, or --format; both at once must agree."""
    from mmdoctor.errors import UsageError

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
