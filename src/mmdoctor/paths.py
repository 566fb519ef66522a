"""Where mmdoctor keeps things: its data files, the scripts it runs inside a target, and the
cache and state folders. One place, so that no module reaches into another for a path."""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from mmdoctor.errors import UsageError

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
        require_plain("MMDOCTOR_STATE_DIR", explicit)
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


def write_atomic(path: Path, text: str, *, mode: int | None = None) -> None:
    """Write `text` to `path` through a temporary file beside it and a rename, so a reader (a
    Prometheus textfile collector, a CI dashboard) never sees half a file. mkstemp makes the
    temporary file (a name nobody can have planted a link at); its name starts with a dot and
    does not end in .prom, so collectors skip it. `mode`: the file's permissions (default: as
    a new file gets them under the umask)."""
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            if hasattr(os, "fchmod"):  # POSIX: mkstemp made it 0600
                os.fchmod(out.fileno(), _new_file_mode() if mode is None else mode)
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _new_file_mode() -> int:
    umask = os.umask(0o022)  # the only way to read it; set back at once
    os.umask(umask)
    return 0o666 & ~umask


# --- mmdoctor's own files: the state folder -------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def require_plain(option: str, value: str | Path | None) -> None:
    """Refuse a URL or path holding a control character (a pasted newline, an escape): it
    would go as it is into plans, commands, logs and files."""
    if value is not None and _CONTROL.search(str(value)):
        shown = str(value).encode("unicode_escape").decode("ascii")
        raise UsageError(f"{option} {shown}: holds a control character (a pasted newline?)")


class LinkRefused(UsageError):
    """A symlink where mmdoctor keeps a file or folder of its own."""

    def __init__(self, path: Path) -> None:
        try:
            target = f" -> {os.readlink(path)}"
        except OSError:
            target = ""
        super().__init__(
            f"{path}{target} is a symlink where mmdoctor keeps its own "
            f"{'folder' if path.is_dir() else 'file'}: it does not write through links; "
            "remove it"
        )


def refuse_link(path: Path) -> None:
    if path.is_symlink():
        raise LinkRefused(path)


def private_folder(path: Path) -> Path:
    """A folder of mmdoctor's own: made 0700 (tightened to it when it is this user's), never
    a symlink."""
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        refuse_link(path)
        seen = path.stat()
        if not stat.S_ISDIR(seen.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(path)) from None
        if seen.st_uid == os.geteuid() and stat.S_IMODE(seen.st_mode) & 0o077:
            path.chmod(0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """A file of mmdoctor's own, written whole (0600), never through a symlink."""
    refuse_link(path)
    write_atomic(path, text, mode=0o600)


def open_private(path: Path) -> IO[str]:
    """A file of mmdoctor's own (a log), opened to append (0600), never through a symlink."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError:
        refuse_link(path)  # ELOOP: say it is a link
        raise
    return os.fdopen(descriptor, "a", encoding="utf-8")
