"""Which interpreter a command is about: the one discovery that check, install, fix and
smoke-test share (--python, else the active virtual or conda environment, else the one running
mmdoctor, but only where that holds the stack: mmdoctor installed into a project's venv)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from mmdoctor.errors import UsageError

# Where an environment keeps its interpreter: POSIX venvs and conda, then Windows layouts.
_CANDIDATES = ("bin/python", "bin/python3", "Scripts/python.exe", "python.exe")
_ACTIVE = ("VIRTUAL_ENV", "CONDA_PREFIX")
# Any of these beside mmdoctor means its own environment is a stack to look after; none means
# mmdoctor runs from an environment of its own (pipx), which is never what the user meant.
STACK_DISTRIBUTIONS: tuple[str, ...] = (
    *("torch", "mmcv", "mmcv-full", "mmcv-lite", "mmdet", "mmengine"),
    *("onedl-mmcv", "onedl-mmdetection", "onedl-mmengine"),
)


def interpreter_in(prefix: Path) -> Path | None:
    """The interpreter of the environment at `prefix`, None if it has none."""
    for candidate in _CANDIDATES:
        path = prefix / candidate
        if path.is_file():
            return path
    return None


def active_environment(environ: Mapping[str, str]) -> tuple[str, str] | None:
    """The interpreter of the activated virtual (or conda) environment and the variable that
    named it, if one is active."""
    for variable in _ACTIVE:
        prefix = environ.get(variable)
        if not prefix:
            continue
        found = interpreter_in(Path(prefix))
        if found is None:
            raise UsageError(
                f"${variable} is {prefix}, which has no Python in it (an activation left from "
                "an environment since removed?): deactivate it, or pass --python PATH"
            )
        return str(found), f"${variable}"
    return None


def named_interpreter(python: str, environ: Mapping[str, str] | None = None) -> str:
    """--python PATH (or $MMDOCTOR_PYTHON): an interpreter, or an environment folder."""
    named = "MMDOCTOR_PYTHON" if _from_variable(python, environ) else "--python"
    path = Path(python).expanduser()
    if not path.exists():
        raise UsageError(f"{named} {python}: no such file or directory")
    if path.is_dir():
        found = interpreter_in(path)
        if found is None:
            raise UsageError(f"{named} {python}: a directory with no bin/python in it")
        return str(found)
    return str(path)


def _from_variable(python: str, environ: Mapping[str, str] | None) -> bool:
    """Whether the value came from $MMDOCTOR_PYTHON rather than the command line (Typer fills
    --python from it), so an error names what the user really set."""
    return (environ or {}).get("MMDOCTOR_PYTHON") == python and not any(
        a == "--python" or a.startswith("--python=") for a in sys.argv[1:]
    )


def resolve_interpreter(python: str | None, environ: Mapping[str, str]) -> tuple[str, str]:
    """The interpreter to inspect and how it was chosen: --python, else the active virtual or
    conda environment, else the interpreter running mmdoctor."""
    if python:
        return named_interpreter(python, environ), "--python"
    active = active_environment(environ)
    if active is not None:
        return active
    if not own_environment_holds_stack():
        raise UsageError(
            f"no environment to look at: mmdoctor runs from its own ({sys.prefix}), which has "
            "no torch, mmcv or mmdet; name one with --python PATH (an interpreter or a venv "
            "folder; `install` also takes --venv DIR), or activate it"
        )
    return sys.executable, "the interpreter running mmdoctor"


def own_environment_holds_stack() -> bool:
    """Whether the environment running mmdoctor has any of the stack (read, not imported)."""
    from importlib import metadata

    for name in STACK_DISTRIBUTIONS:
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        return True
    return False
