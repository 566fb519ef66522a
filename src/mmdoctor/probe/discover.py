"""The Python environments a bare `mmdoctor check` can see, and what stack each holds.

Where it looks, in this order: `python3` and `python3.X` on PATH (not pyenv's shims: its
versions come next), conda's environments (its environments.txt and the usual install
folders), pyenv's versions, and the venvs in the current folder, its subfolders and theirs. (An
active virtual or conda environment makes no bare `check`: that one is checked.) Each
interpreter found is run once (glance_script.py, in parallel, a few at a time, each with a
timeout): its version, and the versions of torch, mmcv and mmdet that their metadata folders
give, no import. An interpreter that does not answer is listed with why.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mmdoctor import paths, shell
from mmdoctor.probe.inside import OLDEST_PYTHON
from mmdoctor.target import interpreter_in

# what the list shows of each environment, by distribution name
STACK = ("torch", "mmcv", "mmcv-full", "mmcv-lite", "onedl-mmcv", "mmdet", "onedl-mmdetection")
PATH, CONDA, PYENV, HERE = "PATH", "conda", "pyenv", "current folder"
_PYTHON_NAME = re.compile(r"python3(\.\d+)?")
_CONDA_ROOTS = ("miniconda3", "anaconda3", "miniforge3", "mambaforge", "micromamba")
_SKIPPED = {".git", "node_modules", "__pycache__", "site-packages", ".tox", ".nox"}
FOLDER_DEPTH = 2  # the current folder, its subfolders and theirs
FOLDERS_READ = 2000  # at most this many folders listed under the current one
GLANCE_TIMEOUT = 5.0  # seconds one interpreter has to answer
GLANCES_AT_ONCE = 8
MOST = 64  # interpreters run at most; the rest are counted, not run


@dataclass(frozen=True)
class FoundEnvironment:
    """One interpreter found, where it was found, and what it said (or why it said nothing)."""

    executable: str
    where: str  # PATH, CONDA, PYENV or HERE
    version: str | None = None  # "3.11.7"
    kind: str | None = None  # "venv", "conda" or "system"
    prefix: str | None = None
    packages: Mapping[str, str | None] = field(default_factory=dict)  # of STACK, installed
    error: str | None = None  # did not answer, not a Python, ...
    own: bool = False  # the environment running mmdoctor

    @property
    def has_stack(self) -> bool:
        return bool(self.packages)

    @property
    def too_old(self) -> bool:
        """A Python no stack runs on (check refuses it)."""
        parts = tuple(int(p) for p in (self.version or "").split(".")[:2] if p.isdigit())
        return bool(parts) and parts < OLDEST_PYTHON

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Discovery:
    environments: tuple[FoundEnvironment, ...]
    folder: str  # the current folder, searched for venvs
    not_run: int = 0  # found beyond MOST


def discover(environ: Mapping[str, str], folder: Path) -> Discovery:
    """Every environment found, each run once (a few at a time)."""
    found = list(_unique(_candidates(environ, folder)))
    chosen, rest = found[:MOST], len(found) - MOST
    env = {**environ, "PYTHONDONTWRITEBYTECODE": "1"}
    script = paths.inside_script(paths.GLANCE_SCRIPT)
    with ThreadPoolExecutor(max_workers=GLANCES_AT_ONCE, thread_name_prefix="glance") as pool:
        looked = list(pool.map(lambda c: glance(c[0], c[1], script, env), chosen))
    return Discovery(tuple(looked), str(folder), max(rest, 0))


def glance(executable: str, where: str, script: str, env: Mapping[str, str]) -> FoundEnvironment:
    """One run of the interpreter: its version and its stack, as its metadata says."""
    try:
        run = shell.run(
            [executable, "-E", "-c", script, ",".join(STACK)], timeout=GLANCE_TIMEOUT, env=env
        )
    except shell.CommandNotFound as exc:
        return FoundEnvironment(executable, where, error=exc.reason)
    if run.timed_out:
        return FoundEnvironment(executable, where, error=f"did not answer in {GLANCE_TIMEOUT:g} s")
    try:
        record = json.loads(run.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        said = run.last_error_line.strip()[:120] or f"exit status {run.returncode}"
        return FoundEnvironment(executable, where, error=f"did not run the probe: {said}")
    kind = "conda" if record["conda"] else ("venv" if record["venv"] else "system")
    packages = {name: record["packages"][name] for name in STACK if name in record["packages"]}
    prefix = str(record["prefix"])
    return FoundEnvironment(
        executable, where, str(record["version"]), kind, prefix, packages, own=_own(prefix)
    )


def _own(prefix: str) -> bool:
    try:
        return Path(prefix).resolve() == Path(sys.prefix).resolve()
    except OSError:
        return False


def _candidates(environ: Mapping[str, str], folder: Path) -> Iterator[tuple[Path, str]]:
    home = Path(environ.get("HOME") or Path.home())
    for entry in environ.get("PATH", "").split(os.pathsep):
        yield from _on_path(Path(entry))
    for prefix in _conda_prefixes(environ, home):
        yield from _in(str(prefix), CONDA)
    pyenv = Path(environ.get("PYENV_ROOT") or home / ".pyenv") / "versions"
    for version in _sorted_folders(pyenv):
        yield from _in(str(version), PYENV)
    for venv in environments_under(folder):
        yield from _in(str(venv), HERE)


def _in(prefix: str | None, where: str) -> Iterator[tuple[Path, str]]:
    found = interpreter_in(Path(prefix)) if prefix else None
    if found is not None:
        yield found, where


def _on_path(folder: Path) -> Iterator[tuple[Path, str]]:
    """python3 and python3.X in a PATH folder; pyenv's (and asdf's) shims only hand on to the
    versions listed as pyenv's."""
    if folder.name == "shims" or not folder.is_dir():
        return
    try:
        names = sorted(p.name for p in folder.iterdir())
    except OSError:
        return
    for name in names:
        path = folder / name
        if _PYTHON_NAME.fullmatch(name) and os.access(path, os.X_OK) and path.is_file():
            yield path, PATH


def _conda_prefixes(environ: Mapping[str, str], home: Path) -> Iterator[Path]:
    """conda's environments: those its environments.txt lists, and the base and envs/* of
    the installs in the usual places (and of $CONDA_EXE's)."""
    listed = home / ".conda" / "environments.txt"
    try:
        yield from (Path(line.strip()) for line in listed.read_text().splitlines() if line.strip())
    except OSError:
        pass
    roots = [home / name for name in _CONDA_ROOTS] + [Path("/opt/conda")]
    if environ.get("CONDA_EXE"):
        roots.insert(0, Path(environ["CONDA_EXE"]).parent.parent)
    for root in roots:
        if (root / "conda-meta").is_dir():
            yield root
            yield from _sorted_folders(root / "envs")


def _sorted_folders(folder: Path) -> list[Path]:
    """The folders in `folder`, numbers in their names in numeric order (3.9 before 3.10)."""
    try:
        return sorted((p for p in folder.iterdir() if p.is_dir()), key=_natural)
    except OSError:
        return []


def _natural(path: Path) -> list[tuple[int, str]]:
    parts = re.split(r"(\d+)", path.name)
    return [(int(part), "") if part.isdigit() else (-1, part) for part in parts]


def environments_under(folder: Path) -> list[Path]:
    """Virtual and conda environments in `folder`, its subfolders and theirs (FOLDER_DEPTH),
    not inside one found, not through symbolic links; at most FOLDERS_READ folders read."""
    found: list[Path] = []
    level, read = [folder], 0
    for depth in range(FOLDER_DEPTH + 1):
        below: list[Path] = []
        for path in level:
            if _is_environment(path):
                found.append(path)
                continue
            if depth == FOLDER_DEPTH or read >= FOLDERS_READ:
                continue
            read += 1
            below += [p for p in _sorted_folders(path) if not p.is_symlink()]
        level = [p for p in below if p.name not in _SKIPPED]
    return found


def _is_environment(path: Path) -> bool:
    return (path / "pyvenv.cfg").is_file() or (path / "conda-meta").is_dir()


def _unique(found: Iterator[tuple[Path, str]]) -> Iterator[tuple[str, str]]:
    """Each environment once, where it was found first: a venv by its folder, any other
    interpreter by the file its links lead to (python3 and python3.11 are often one)."""
    seen: set[str] = set()
    for executable, where in found:
        prefix = executable.parent.parent
        key = prefix if _is_environment(prefix) else executable
        try:
            real = str(key.resolve())
        except OSError:
            continue
        if real not in seen:
            seen.add(real)
            yield str(executable), where
