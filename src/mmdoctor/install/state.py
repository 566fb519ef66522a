"""mmdoctor's own state for one target environment: its lock, snapshots and logs.

<state>/envs/<hash of the env's prefix>/
    target.txt                the prefix, for people looking around
    lock                      held while an install, fix or rollback writes to the env
    snapshots/<stamp>/        freeze.txt (`pip freeze --all`), inspect.json (`pip inspect`)
    latest                    the stamp of the snapshot `mmdoctor rollback` restores
    logs/<stamp>-<job>.log    every command and all its output (credentials redacted)
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import IO

from mmdoctor.errors import MmdoctorError, UsageError
from mmdoctor.paths import state_dir
from mmdoctor.redact import redact_credentials


class Busy(MmdoctorError):
    """Another mmdoctor is writing to the same environment."""


class EnvState:
    def __init__(self, prefix: str, environ: Mapping[str, str] = os.environ) -> None:
        self.prefix = prefix
        key = hashlib.sha256(os.path.realpath(prefix).encode()).hexdigest()[:16]
        self.root = state_dir(environ) / "envs" / key
        self._lock_file: IO[str] | None = None

    def ensure(self) -> None:
        try:
            (self.root / "snapshots").mkdir(parents=True, exist_ok=True)
            (self.root / "logs").mkdir(parents=True, exist_ok=True)
            (self.root / "target.txt").write_text(self.prefix + "\n", encoding="utf-8")
        except (NotADirectoryError, FileExistsError, PermissionError) as exc:
            raise UsageError(
                f"the state folder {state_dir()} (MMDOCTOR_STATE_DIR) cannot hold mmdoctor's "
                f"snapshots and logs: {exc.strerror}"
            ) from None

    @staticmethod
    def stamp() -> str:
        now = datetime.now(timezone.utc)
        return now.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"

    def snapshot_dir(self, stamp: str) -> Path:
        return self.root / "snapshots" / stamp

    def latest_snapshot(self) -> Path | None:
        pointer = self.root / "latest"
        if not pointer.is_file():
            return None
        folder = self.snapshot_dir(pointer.read_text(encoding="utf-8").strip())
        return folder if (folder / "freeze.txt").is_file() else None

    def set_latest(self, stamp: str) -> None:
        pointer = self.root / "latest"
        tmp = pointer.with_suffix(".tmp")
        tmp.write_text(stamp + "\n", encoding="utf-8")
        tmp.replace(pointer)

    def lock(self, job: str) -> EnvState:
        """Take the environment's lock (non-blocking); Busy names the holder."""
        self.ensure()
        path = self.root / "lock"
        handle = path.open("a+", encoding="utf-8")
        try:
            _try_lock(handle)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise Busy(
                f"another mmdoctor is changing {self.prefix} ({holder}); wait for it to finish"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"mmdoctor {job}, pid {os.getpid()}\n")
        handle.flush()
        self._lock_file = handle
        return self

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
        if self._lock_file is not None:
            self._lock_file.truncate(0)
            self._lock_file.close()  # closing releases the lock
            self._lock_file = None

    def __enter__(self) -> EnvState:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.unlock()


def _try_lock(handle: IO[str]) -> None:
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


class Log:
    """Every command and every line it printed, with time stamps; credentials never written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8")
        self._started = time.monotonic()
        self._guard = threading.Lock()  # stdout and stderr arrive from two threads

    def write(self, text: str) -> None:
        seconds = time.monotonic() - self._started
        with self._guard:
            for line in text.splitlines() or [""]:
                self._file.write(f"[{seconds:8.1f}s] {redact_credentials(line)}\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()
