"""Which interpreter a command is about: the one discovery that check, install, fix and
smoke-test share (--python, else the active virtual or conda environment)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from mmdoctor.errors import UsageError

# Where an environment keeps its interpreter: POSIX venvs and conda, then Windows layouts.
_CANDIDATES = ("bin/python", "bin/python3", "Scripts/python.exe", "python.exe")
_ACTIVE = ("VIRTUAL_ENV", "CONDA_PREFIX")


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
        found = interpreter_in(Path(prefix)) if prefix else None
        if found is not None:
            return str(found), f"${variable}"
    return None


def named_interpreter(python: str) -> str:
    """--python PATH: an interpreter, or an environment folder holding one."""
    path = Path(python).expanduser()
    if not path.exists():
        raise UsageError(f"--python {python}: no such file or directory")
    if path.is_dir():
        found = interpreter_in(path)
        if found is None:
            raise UsageError(f"--python {python}: a directory with no bin/python in it")
        return str(found)
    return str(path)


def resolve_interpreter(python: str | None, environ: Mapping[str, str]) -> tuple[str, str]:
    """The interpreter to inspect and how it was chosen: --python, else the active virtual or
    conda environment, else the interpreter running mmdoctor."""
    if python:
        return named_interpreter(python), "--python"
    return active_environment(environ) or (sys.executable, "the interpreter running mmdoctor")
