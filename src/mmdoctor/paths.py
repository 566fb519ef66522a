"""Where mmdoctor keeps things: its data files, the scripts it runs inside a target, and the
cache and state folders. One place, so that no module reaches into another for a path."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
MATRIX_FILE = "compat_matrix.yaml"
KNOWLEDGE_FILE = "known_failures.yaml"
# Standard-library scripts that run inside the target interpreter (Python 3.7+), as `-c`.
PROBE_SCRIPT = PACKAGE / "probe" / "inside_script.py"
SMOKE_SCRIPT = PACKAGE / "smoke" / "inside_smoke.py"
GLANCE_SCRIPT = PACKAGE / "probe" / "glance_script.py"
SHIPPED_IMAGE = PACKAGE / "smoke" / "data" / "astronaut.jpg"


def data_file(name: str) -> Path:
    """A file shipped inside the wheel (the matrix, the knowledge base, their schemas); in a
    source checkout (an editable install) it lives at the top of the repository."""
    packaged = PACKAGE / name
    return packaged if packaged.is_file() else PACKAGE.parents[1] / name


def inside_script(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """$MMDOCTOR_CACHE_DIR, else $XDG_CACHE_HOME/mmdoctor, else ~/.cache/mmdoctor."""
    explicit = environ.get("MMDOCTOR_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():  # the XDG spec says a relative value is ignored
        return Path(xdg) / "mmdoctor"
    return _home(environ) / ".cache" / "mmdoctor"


def checkpoint_dir(environ: Mapping[str, str] = os.environ) -> Path:
    return cache_dir(environ) / "checkpoints"


def wheel_cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """mmcv wheels built from source, kept for the next install (wheel_cache.py):
    $MMDOCTOR_WHEELHOUSE (a folder many nodes share: one build serves them all), else the
    cache's own."""
    shared = environ.get("MMDOCTOR_WHEELHOUSE")
    return Path(shared).expanduser() if shared else cache_dir(environ) / "wheels"


def source_build_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Unpacked sdists that a build changes (a raised C++ standard): mmdoctor's own copies."""
    return cache_dir(environ) / "sources"


def state_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """$MMDOCTOR_STATE_DIR, else the platform's user state folder (as platformdirs has it)."""
    explicit = environ.get("MMDOCTOR_STATE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    home = _home(environ)
    if sys.platform == "win32":
        local = environ.get("LOCALAPPDATA")
        return (Path(local) if local else home / "AppData" / "Local") / "mmdoctor" / "state"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "mmdoctor"
    xdg = environ.get("XDG_STATE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "mmdoctor"
    return home / ".local" / "state" / "mmdoctor"


def _home(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME")
    return Path(home) if home else Path.home()


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file beside it and a rename, so a reader (a
    Prometheus textfile collector, a CI dashboard) never sees half a file. The temporary name
    starts with a dot and does not end in .prom, so collectors skip it."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
