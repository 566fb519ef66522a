"""The Python environment a command is about, as pipx's `Venv` is for pipx.

`choose_interpreter` is the one choice of interpreter every command makes (--venv DIR, --python
PATH, the active virtual or conda environment, and for a command that only reads, the
environment running mmdoctor where it holds the stack). A `Target` is what one run of that
interpreter says (probe/inside_script.py): where it lives, venv / conda / system / PEP 668,
pip and pip's own settings, every installed distribution, and what each probe step found. It
also says where mmdoctor must not write, and why.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.version import Version

from mmdoctor import shell
from mmdoctor.errors import UsageError
from mmdoctor.paths import require_plain
from mmdoctor.pipnet import PipNetwork, pip_network_from
from mmdoctor.versions import normalize_name

# Where an environment keeps its interpreter: POSIX venvs and conda, then Windows layouts.
_CANDIDATES = ("bin/python", "bin/python3", "Scripts/python.exe", "python.exe")
_ACTIVE = ("VIRTUAL_ENV", "CONDA_PREFIX")
# Any of these beside mmdoctor means its own environment is a stack to look after; none means
# mmdoctor runs from an environment of its own (pipx), which is never what the user meant.
STACK_DISTRIBUTIONS: tuple[str, ...] = (
    *("torch", "mmcv", "mmcv-full", "mmcv-lite", "mmdet", "mmengine"),
    *("onedl-mmcv", "onedl-mmdetection", "onedl-mmengine"),
)
WHAT_IF_PYTHON = "--python-version"  # how a described (not probed) target was chosen


@dataclass(frozen=True)
class Distribution:
    name: str
    version: str | None
    location: str
    requires: tuple[str, ...] = ()  # normalised names of what it always requires (no extras)


@dataclass(frozen=True)
class StepResult:
    """One probe step run inside the target interpreter (see probe/inside_script.py)."""

    name: str
    ok: bool
    data: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    missing: bool = False  # not installed at all, as opposed to installed and broken
    traceback: str | None = None
    stderr: str = ""
    seconds: float | None = None
    # Set by the runner when the step killed or hung the interpreter.
    crashed: str | None = None


# Facts install, fix and rollback need that check's JSON (mmdoctor/result/v1) never carried.
_NOT_IN_JSON = ("how", "bundled_wheels", "pip_config", "constraints")


@dataclass(frozen=True)
class Target:
    executable: str
    version: str
    implementation: str
    prefix: str
    in_venv: bool
    is_conda: bool
    externally_managed: bool
    platform: str
    machine: str
    distributions: tuple[Distribution, ...] = ()
    steps: Mapping[str, StepResult] = field(default_factory=dict)
    include_dir: str | None = None  # where a C extension's build looks for Python.h
    has_python_h: bool | None = None
    scripts_dir: str | None = None  # the environment's bin/ (a pip-installed ninja lands there)
    ninja: str | None = None  # the ninja a build in this environment would run, if any
    how: str = ""  # how it was chosen: "--python", "--venv", "$VIRTUAL_ENV", ...
    bundled_wheels: str | None = None  # ensurepip's wheels: a fresh venv's pip, offline
    # pip's configuration as `pip config list` gives it (None: this pip could not say)
    pip_config: tuple[tuple[str, str], ...] | None = None
    # the lines of the constraints files pip applies, (file, requirement); "" for a file that
    # could not be read
    constraints: tuple[tuple[str, str], ...] = ()

    @property
    def kind(self) -> str:
        if self.is_conda:
            return "conda"
        if self.in_venv:
            return "venv"
        return "system"

    @property
    def is_venv(self) -> bool:
        """A virtual or conda environment, not the system's interpreter."""
        return self.in_venv or self.is_conda

    @property
    def python_version(self) -> Version:
        return Version(self.version)

    @property
    def python_tag(self) -> str:
        """ "cp311": for the wheel cache's key."""
        version = self.python_version
        return f"cp{version.major}{version.minor}"

    @property
    def pip_network(self) -> PipNetwork:
        """The network settings this environment's pip runs with (its defaults where unknown)."""
        return pip_network_from(self.pip_config or ())

    @property
    def has_pip(self) -> bool:
        return self.version_of("pip") is not None

    def installed(self, name: str) -> list[Distribution]:
        """Every installed distribution with this name (more than one means a broken env)."""
        key = normalize_name(name)
        return [d for d in self.distributions if normalize_name(d.name) == key]

    def version_of(self, name: str) -> str | None:
        found = self.installed(name)
        return found[0].version if found else None

    def step(self, name: str) -> StepResult | None:
        return self.steps.get(name)

    def imported(self, name: str) -> Mapping[str, Any] | None:
        """The data of a step that succeeded, else None."""
        result = self.steps.get(name)
        return result.data if result is not None and result.ok else None

    def require_writable(self, *, system: bool) -> None:
        """Refuse what mmdoctor must not change: a PEP 668 or system interpreter (unless
        --system), and an environment without pip (every step and the snapshot use it)."""
        if self.externally_managed and not self.is_venv and not system:
            raise UsageError(
                f"{self.executable} is externally managed (PEP 668): mmdoctor will not install "
                "into it; use --venv DIR, or --system to insist"
            )
        if not self.is_venv and not system:
            raise UsageError(
                f"{self.executable} is a system interpreter, not a virtual environment: "
                "mmdoctor will not install into it; use --venv DIR, or --system to insist"
            )
        self.require_pip()

    def require_pip(self) -> None:
        if not self.has_pip:
            ensurepip = shell.join([self.executable, "-m", "ensurepip"])
            raise UsageError(f"{self.executable} has no pip: run `{ensurepip}` first")

    def in_new_venv(self, folder: Path) -> Target:
        """The venv that `python -m venv folder` makes from this interpreter: its own
        interpreter and prefix, nothing installed but pip's, no settings of its own."""
        return replace(
            self,
            executable=str(venv_python(folder)),
            prefix=str(folder),
            in_venv=True,
            is_conda=False,
            externally_managed=False,
            distributions=tuple(d for d in self.distributions if d.name.lower() == "pip"),
            steps={},
            scripts_dir=str(folder / ("Scripts" if os.name == "nt" else "bin")),
            how="--venv",
        )

    @classmethod
    def described(cls, python: Version) -> Target:
        """The interpreter of a machine described by --python-version: nothing is probed, and
        its steps run `python` there."""
        return cls(
            executable="python",
            version=str(python),
            implementation="CPython",
            prefix="",
            in_venv=True,
            is_conda=False,
            externally_managed=False,
            platform="",
            machine="",
            how=WHAT_IF_PYTHON,
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in _NOT_IN_JSON:
            out.pop(key)
        return out


# --- which interpreter ------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """The interpreter a command is about, and how it was chosen. With `new_venv`, --venv DIR
    is missing or empty: `executable` is the Python a venv will be made there from."""

    executable: str
    how: str
    new_venv: Path | None = None


def choose_interpreter(
    *,
    python: str | None,
    venv: str | Path | None = None,
    environ: Mapping[str, str],
    writes: bool = False,
    creates: bool = False,
    also: str = "",
) -> Choice:
    """The one choice of interpreter: `default_target`, and an error that says how to name one
    where there is none (and `also`, what else the command can do). `writes`: the command
    changes it (never mmdoctor's own environment); `creates`: --venv DIR may be missing
    (install makes it)."""
    choice = default_target(
        python=python, venv=venv, environ=environ, writes=writes, creates=creates
    )
    if choice is not None:
        return choice
    if writes:
        made = " (created if missing)" if creates else ""
        raise UsageError(
            f"no target environment: pass --venv DIR{made} or --python PATH, or activate a "
            f"virtual environment{also}"
        )
    raise UsageError(
        f"no environment to look at: mmdoctor runs from its own ({sys.prefix}), which has no "
        "torch, mmcv or mmdet; name one with --python PATH or --venv DIR, or activate it "
        f"(`mmdoctor check` lists the ones it sees){also}"
    )


def default_target(
    *,
    python: str | None,
    venv: str | Path | None = None,
    environ: Mapping[str, str],
    writes: bool = False,
    creates: bool = False,
) -> Choice | None:
    """--venv DIR (its venv, or with `creates` the Python to make it from: --python, else the
    one running mmdoctor), else --python (an interpreter, an environment folder or a name on
    PATH; also $MMDOCTOR_PYTHON), else the active virtual or conda environment, else, for a
    command that only reads, the environment running mmdoctor where that holds the stack.
    None: nothing named, nothing active (a bare `check` then looks at the machine)."""
    if venv is not None:
        return _venv_choice(python, venv, environ, creates=creates)
    if python:
        return Choice(named_interpreter(python, environ), _how_python(python, environ))
    active = active_environment(environ)
    if active is not None:
        return Choice(*active)
    if not writes and own_environment_holds_stack():
        return Choice(sys.executable, "the interpreter running mmdoctor")
    return None


def _venv_choice(
    python: str | None, venv: str | Path, environ: Mapping[str, str], *, creates: bool
) -> Choice:
    """--venv DIR: its venv; with `creates` (install), where it is missing or empty, the Python
    to make it from (--python there names that Python, not a second environment)."""
    if python and not creates:
        raise UsageError(
            f"--venv and --python name two environments ({venv}, {python}): give one of them"
        )
    folder = venv_folder(venv)
    found = existing_venv(folder, str(venv))
    if found is not None:
        return Choice(str(found), "--venv")
    if not creates:
        why = "there is no virtual environment in it" if folder.exists() else "no such directory"
        raise UsageError(f"--venv {venv}: {why}")
    base = named_interpreter(python, environ) if python else sys.executable
    return Choice(base, "--venv", new_venv=folder)


def interpreter_in(prefix: Path) -> Path | None:
    """The interpreter of the environment at `prefix`, None if it has none."""
    for candidate in _CANDIDATES:
        path = prefix / candidate
        if path.is_file():
            return path
    return None


def venv_python(folder: Path) -> Path:
    """Where `python -m venv folder` puts its interpreter."""
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def venv_folder(venv: str | Path) -> Path:
    """--venv DIR as a folder: one that exists, or a path where one can be made. A file, a
    symlink loop or one to nowhere, a path the system cannot take: refused (exit 2)."""
    require_plain("--venv", str(venv))
    folder = Path(venv).expanduser().absolute()
    try:
        seen = folder.stat()
    except FileNotFoundError:
        if folder.is_symlink():
            raise UsageError(
                f"--venv {venv}: a symlink to nowhere ({os.readlink(folder)}): remove it, or "
                "name the folder it should lead to"
            ) from None
        return folder  # missing: made there
    except OSError as exc:
        raise UsageError(f"--venv {venv}: {path_problem(exc)}") from None
    if not stat.S_ISDIR(seen.st_mode):
        raise UsageError(f"--venv {venv}: exists and is not a folder")
    return folder


def path_problem(exc: OSError) -> str:
    """What is wrong with a path, in the words of what the user can change."""
    return {
        errno.ELOOP: "a symlink loop",
        errno.ENAMETOOLONG: "the path is too long for this system",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
    }.get(exc.errno or 0, exc.strerror or str(exc))


def existing_venv(folder: Path, named: str) -> Path | None:
    """The interpreter of the venv at --venv DIR; None where DIR is missing or empty (a venv
    will be made there); a folder with other things in it is refused."""
    found = interpreter_in(folder)
    if found is None and folder.exists() and any(folder.iterdir()):
        raise UsageError(f"--venv {named}: exists but is not a virtual environment")
    return found


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
    """--python PATH (or $MMDOCTOR_PYTHON): an interpreter, an environment folder, or a bare
    name that is neither here (python3.12) looked up on PATH, as a shell, uv and pipx do."""
    named = _how_python(python, environ)
    require_plain(named, python)
    path = Path(python).expanduser()
    try:
        path.stat()
    except FileNotFoundError:
        on_path = _on_path(python, environ)
        if on_path is not None:
            return on_path
        where = "not on PATH and no such file or directory" if _bare(python) else None
        raise UsageError(f"{named} {python}: {where or 'no such file or directory'}") from None
    except OSError as exc:
        raise UsageError(f"{named} {python}: {path_problem(exc)}") from None
    if path.is_dir():
        found = interpreter_in(path)
        if found is None:
            raise UsageError(f"{named} {python}: a directory with no bin/python in it")
        return str(found)
    return str(path)


def _bare(name: str) -> bool:
    """A command name (python3.12), not a path: no separator, not ~ or a dot-path."""
    return "/" not in name and os.sep not in name and not name.startswith(("~", "."))


def _on_path(name: str, environ: Mapping[str, str] | None) -> str | None:
    if not _bare(name):
        return None
    search = (environ if environ is not None else os.environ).get("PATH", os.defpath)
    return shutil.which(name, path=search)


def _how_python(python: str, environ: Mapping[str, str] | None) -> str:
    """How an interpreter named by --python was given: "$MMDOCTOR_PYTHON" where the value came
    from the variable (Typer fills --python from it), so an error names what the user set."""
    return "$MMDOCTOR_PYTHON" if _from_variable(python, environ) else "--python"


def _from_variable(python: str, environ: Mapping[str, str] | None) -> bool:
    return (environ or {}).get("MMDOCTOR_PYTHON") == python and not any(
        a == "--python" or a.startswith("--python=") for a in sys.argv[1:]
    )


def own_environment_holds_stack() -> bool:
    """Whether the environment running mmdoctor has any of the stack (read, not imported)."""
    from importlib import metadata  # only here: a bare `check` with nothing active

    for name in STACK_DISTRIBUTIONS:
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        return True
    return False


def distributions_of(records: Iterable[Mapping[str, Any]]) -> tuple[Distribution, ...]:
    """The probe's scan of *.dist-info / *.egg-info, as records."""
    return tuple(
        Distribution(
            name=d["name"],
            version=d["version"],
            location=d["location"],
            requires=tuple(d.get("requires", ())),
        )
        for d in records
    )
