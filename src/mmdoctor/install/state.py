"""mmdoctor's own state for one target environment: its locks, snapshots and logs.

<state>/                      0700 when mmdoctor makes it ($MMDOCTOR_STATE_DIR, or the user's)
  envs/<hash of the env's prefix>/     0700, as every folder below
    target.txt                the prefix, for people looking around
    lock                      held while an install, fix or rollback writes to the env
    snapshots/<stamp>/        freeze.txt, inspect.json, disk.json (RECORD'd files, site
                              folders, pip check), executable.txt
    latest                    the stamp of the snapshot `mmdoctor rollback` restores
    logs/<stamp>-<job>.log    every command and all its output (credentials redacted)
<prefix>/.mmdoctor.lock       the same lock in the environment itself: two users (two state
                              folders) of one shared venv exclude each other too

Files are mmdoctor's own (0600, written whole, never through a symlink planted there: refused).
A log that cannot be written (a full disk) goes on to stderr: it never stops a restore.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import shutil
import sys
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import IO, NoReturn

from mmdoctor.errors import ExitCode, MmdoctorError, UsageError
from mmdoctor.paths import (
    LinkRefused,
    open_private,
    private_folder,
    refuse_link,
    state_dir,
    write_private,
)
from mmdoctor.redact import redact_credentials

ENV_LOCK = ".mmdoctor.lock"
# Room the state folder needs before the first change: the snapshot (a CUDA torch's RECORD is
# about 2 MB of it) and the log of a source build.
ROOM_NEEDED = 32 * 1024 * 1024


class Busy(MmdoctorError):
    """Another mmdoctor is writing to the same environment."""


class NoRoom(MmdoctorError):
    """The state folder cannot take the snapshot and the log: nothing was changed."""

    exit_code = ExitCode.CANNOT_RUN


class EnvState:
    def __init__(self, prefix: str, environ: Mapping[str, str] = os.environ) -> None:
        self.prefix = prefix
        self.top = state_dir(environ)
        key = hashlib.sha256(os.path.realpath(prefix).encode()).hexdigest()[:16]
        self.root = self.top / "envs" / key
        self._locks: list[IO[str]] = []

    def _unusable(self, exc: OSError) -> NoReturn:
        _unusable(self.top, exc)

    def ensure(self) -> None:
        """The folders, made (0700) or checked; a symlink planted in them is refused."""
        try:
            if not self.top.is_dir():
                self.top.mkdir(mode=0o700, parents=True)
            for folder in (self.top / "envs", self.root, *self._subfolders()):
                private_folder(folder)
        except LinkRefused:
            raise
        except OSError as exc:
            self._unusable(exc)
        try:  # for people looking around: never worth stopping for
            target = self.root / "target.txt"
            if not target.is_file() or target.read_text(encoding="utf-8") != self.prefix + "\n":
                write_private(target, self.prefix + "\n")
        except LinkRefused:
            raise
        except OSError:
            pass

    def _subfolders(self) -> tuple[Path, Path]:
        return self.root / "snapshots", self.root / "logs"

    def check(self) -> None:
        """Whether the state folder can be used, without making it (for `rollback`, which
        looks for a snapshot before it writes anything)."""
        check_state_folder(self.top)
        for folder in (self.top / "envs", self.root, *self._subfolders()):
            refuse_link(folder)

    def prepare(self) -> None:
        """Before the first change: the folders, and room for the snapshot and the log."""
        self.ensure()
        free = shutil.disk_usage(self.root).free
        if free < ROOM_NEEDED:
            raise NoRoom(
                f"the state folder {self.top} has {free // 1024} KiB free and mmdoctor needs "
                f"{ROOM_NEEDED // 2**20} MiB there for the snapshot and the log of this change: "
                "nothing was changed; free some room, or name another with MMDOCTOR_STATE_DIR"
            )

    @staticmethod
    def stamp() -> str:
        now = datetime.now(timezone.utc)
        return now.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"

    def snapshot_dir(self, stamp: str) -> Path:
        return self.root / "snapshots" / stamp

    def new_snapshot_dir(self, stamp: str) -> Path:
        return private_folder(self.snapshot_dir(stamp))

    def log_path(self, stamp: str, job: str) -> Path:
        return self.root / "logs" / f"{stamp}-{job}.log"

    def latest_snapshot(self) -> Path | None:
        pointer = self.root / "latest"
        refuse_link(pointer)
        if not pointer.is_file():
            return None
        folder = self.snapshot_dir(pointer.read_text(encoding="utf-8").strip())
        refuse_link(folder)
        return folder if (folder / "freeze.txt").is_file() else None

    def set_latest(self, stamp: str) -> None:
        write_private(self.root / "latest", stamp + "\n")

    def lock(self, job: str) -> EnvState:
        """Take the environment's locks (non-blocking), in the environment and in the state
        folder; Busy names the holder."""
        self.ensure()
        holder = f"mmdoctor {job}, pid {os.getpid()}, user {_user()}\n"
        try:
            self._take(Path(self.prefix) / ENV_LOCK, holder, shared=True)
            self._take(self.root / "lock", holder, shared=False)
        except BaseException:
            self.unlock()
            raise
        return self

    def _take(self, path: Path, holder: str, *, shared: bool) -> None:
        handle = _open_lock(path, shared=shared)
        try:
            _try_lock(handle)
        except OSError:
            handle.seek(0)
            held_by = handle.read().strip() or "another process"
            handle.close()
            raise Busy(
                f"another mmdoctor is changing {self.prefix} ({held_by}); wait for it to finish"
            ) from None
        if handle.writable():
            handle.seek(0)
            handle.truncate()
            handle.write(holder)
            handle.flush()
        self._locks.append(handle)

    def require_free(self) -> None:
        """Busy where another mmdoctor holds the environment's lock now: a dry run says what
        the real run would meet. Creates nothing (no state folder for a look)."""
        path = self.root / "lock"
        if not path.is_file():
            return
        with path.open("r", encoding="utf-8") as handle:
            try:
                _try_lock(handle)
            except OSError:
                holder = handle.read().strip() or "another process"
                raise Busy(
                    f"another mmdoctor is changing {self.prefix} ({holder}); wait for it to finish"
                ) from None

    def unlock(self) -> None:
        while self._locks:
            handle = self._locks.pop()
            if handle.writable():
                handle.truncate(0)
            handle.close()  # closing releases the lock

    def __enter__(self) -> EnvState:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.unlock()


def check_state_folder(top: Path | None = None) -> None:
    """The state folder ($MMDOCTOR_STATE_DIR) can be made or used, checked without making it:
    bad input said first, before a question, a probe or a change."""
    top = state_dir() if top is None else top
    path = top
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    if not (path.is_dir() and os.access(path, os.W_OK | os.X_OK)):
        why = "not a writable folder" if path.exists() else "no such folder"
        _unusable(top, OSError(0, why, str(path)))


def _unusable(top: Path, exc: OSError) -> NoReturn:
    why = exc.strerror or str(exc)
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(top) else ""
    raise UsageError(
        f"the state folder {top} (MMDOCTOR_STATE_DIR) cannot hold mmdoctor's snapshots and "
        f"logs: {why}{where}"
    ) from None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.geteuid())


def _open_lock(path: Path, *, shared: bool) -> IO[str]:
    """The lock file, never through a symlink. `shared` (the one in the environment, which
    other users of it open too): readable by them, and opened read-only where it is theirs
    (flock needs no more)."""
    nofollow = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    mode, access = (0o644 if shared else 0o600), "r+"
    try:
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | nofollow, mode)
        except PermissionError:
            if not shared or not path.exists():
                raise
            descriptor, access = os.open(path, os.O_RDONLY | nofollow), "r"
    except OSError as exc:
        refuse_link(path)
        raise UsageError(
            f"cannot lock {path} ({exc.strerror}): mmdoctor changes only an environment it "
            "can write to"
        ) from None
    return os.fdopen(descriptor, access, encoding="utf-8")


def _try_lock(handle: IO[str]) -> None:
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


class Log:
    """Every command and every line it printed, with time stamps; credentials never written.
    A log that cannot be opened or written (a full disk, no permission) goes on to stderr,
    said once: it never stops a job, nor its restore."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._started = time.monotonic()
        self._guard = threading.Lock()  # stdout and stderr arrive from two threads
        self._file: IO[str] | None = None
        try:
            self._file = open_private(path)
        except LinkRefused:
            raise
        except OSError as exc:
            self._lost(exc)

    def _lost(self, exc: OSError) -> None:
        self._file = None
        sys.stderr.write(
            f"mmdoctor: the log {self.path} cannot be written ({exc.strerror or exc}): its "
            "lines go to stderr (log| ...) from here\n"
        )

    def write(self, text: str) -> None:
        seconds = time.monotonic() - self._started
        lines = [
            f"[{seconds:8.1f}s] {redact_credentials(line)}\n" for line in text.splitlines() or [""]
        ]
        with self._guard:
            if self._file is not None:
                try:
                    self._file.write("".join(lines))
                    self._file.flush()
                    return
                except OSError as exc:
                    self._close_quietly()
                    self._lost(exc)
            sys.stderr.write("".join(f"log| {line}" for line in lines))
            sys.stderr.flush()

    def _close_quietly(self) -> None:
        try:
            if self._file is not None:
                self._file.close()
        except OSError:
            pass

    def close(self) -> None:
        with self._guard:
            self._close_quietly()
            self._file = None
