"""The environment an install (or a fix, or a rollback) writes to, and the refusals.

mmdoctor only writes where the user pointed: `--venv DIR` (created if missing), `--python PATH`,
or the active virtual / conda environment. A system or externally managed (PEP 668) interpreter
is refused unless `--system` is given.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mmdoctor import shell
from mmdoctor.errors import MmdoctorError, UsageError
from mmdoctor.probe.interpreter import active_environment, interpreter_in, named_interpreter

# Run inside the target: where it lives, whether it is a venv, whether it may be written to.
_FACTS = """
import json, os, sys, sysconfig
stdlib = sysconfig.get_path("stdlib")
try:
    import pip
    pip_version = pip.__version__
except Exception:
    pip_version = None
try:
    import ensurepip
    bundled = os.path.join(os.path.dirname(ensurepip.__file__), "_bundled")
except Exception:
    bundled = None
print(json.dumps({
    "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "tag": "cp%d%d" % sys.version_info[:2],
    "marker": os.path.isfile(os.path.join(stdlib, "EXTERNALLY-MANAGED")),
    "conda": os.path.isdir(os.path.join(sys.prefix, "conda-meta")),
    "pip": pip_version,
    "bundled": bundled if bundled and os.path.isdir(bundled) else None,
}))
"""


@dataclass(frozen=True)
class Destination:
    executable: str
    prefix: str
    python_tag: str  # "cp311", for the wheel cache key
    is_venv: bool  # a virtual or conda environment, not the system's interpreter
    externally_managed: bool  # PEP 668 marker on a system interpreter
    pip_version: str | None
    bundled_wheels: str | None  # ensurepip's wheels: restore a fresh venv's pip offline


def choose_destination(
    *,
    python: str | None,
    venv: str | None,
    system: bool,
    environ: Mapping[str, str],
    timeout: float = 60.0,
) -> Destination:
    """Find (or, for --venv, create) the target and refuse the ones mmdoctor must not touch."""
    if venv is not None:
        executable = _venv_interpreter(Path(venv).expanduser().absolute(), venv, python)
    elif python:
        executable = named_interpreter(python)
    else:
        active = active_environment(environ)
        if active is None:
            raise UsageError(
                "no target environment: pass --venv DIR (created if missing) or --python PATH, "
                "or activate a virtual environment"
            )
        executable = active[0]
    target = probe_destination(executable, timeout=timeout)
    if target.externally_managed and not system:
        raise UsageError(
            f"{target.executable} is externally managed (PEP 668): mmdoctor will not install "
            "into it; use --venv DIR, or --system to insist"
        )
    if not target.is_venv and not system:
        raise UsageError(
            f"{target.executable} is a system interpreter, not a virtual environment: mmdoctor "
            "will not install into it; use --venv DIR, or --system to insist"
        )
    if target.pip_version is None:
        raise no_pip(target.executable)
    return target


def no_pip(executable: str) -> UsageError:
    """mmdoctor snapshots, restores and installs with the target's own pip."""
    ensurepip = shell.join([executable, "-m", "ensurepip"])
    return UsageError(f"{executable} has no pip: run `{ensurepip}` first")


def probe_destination(executable: str, *, timeout: float) -> Destination:
    try:
        result = shell.run([executable, "-I", "-c", _FACTS], timeout=timeout)
    except shell.CommandNotFound as exc:
        raise UsageError(f"{executable}: {exc.reason}") from None
    if not result.ok:
        raise UsageError(
            f"{executable}: not a working Python ({result.last_error_line or 'no output'})"
        )
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    is_venv = facts["prefix"] != facts["base_prefix"] or bool(facts["conda"])
    return Destination(
        executable=executable,
        prefix=facts["prefix"],
        python_tag=facts["tag"],
        is_venv=is_venv,
        externally_managed=bool(facts["marker"]) and not is_venv,
        pip_version=facts["pip"],
        bundled_wheels=facts["bundled"],
    )


def planned_interpreter(venv: str, python: str | None) -> tuple[str, str]:
    """For a dry run with --venv DIR, creating nothing: the interpreter to probe (the venv's, or
    the one it would be created from) and the one the steps would run (the venv's)."""
    folder = Path(venv).expanduser().absolute()
    found = _existing_venv(folder, venv)
    if found is not None:
        return str(found), str(found)
    return _base(python), str(folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))


def _venv_interpreter(folder: Path, venv: str, python: str | None) -> str:
    """The interpreter of --venv DIR, creating the venv (from --python, else the Python running
    mmdoctor) when DIR is missing or empty."""
    found = _existing_venv(folder, venv)
    if found is None:
        _create_venv(_base(python), folder)
        found = interpreter_in(folder)
        if found is None:
            raise MmdoctorError(f"--venv {venv}: created, but it has no bin/python")
    return str(found)


def _existing_venv(folder: Path, venv: str) -> Path | None:
    """The interpreter of the venv at --venv DIR; None where DIR is missing or empty (a venv
    will be made there); a folder with other things in it is refused."""
    found = interpreter_in(folder)
    if found is None and folder.exists() and any(folder.iterdir()):
        raise UsageError(f"--venv {venv}: exists but is not a virtual environment")
    return found


def _base(python: str | None) -> str:
    """The Python a new venv is made from: --python, else the one running mmdoctor."""
    return named_interpreter(python) if python else sys.executable


def _create_venv(base: str, folder: Path) -> None:
    try:
        result = shell.run([base, "-m", "venv", str(folder)], timeout=300)
    except shell.CommandNotFound as exc:
        raise UsageError(f"{base}: {exc.reason}") from None
    if not result.ok:
        why = result.last_error_line or "no output"
        raise MmdoctorError(f"could not create the venv {folder}: {why}")
