"""How a command is stopped: Ctrl-C (SIGINT), SIGTERM (what Slurm, CI runners, systemd and
`timeout` send) and SIGHUP (a closed terminal) all end it the same way. The first one raises
`Interrupted` in the main thread, a KeyboardInterrupt, and marks the command as stopping: the
running step's process group is stopped (shell.run, in every thread), a change under way is
rolled back (exit 3), and where nothing needed restoring the exit is 128 + the signal's number
(130, 143, 129), as shells report it.

Later signals are said on stderr and dropped, and so is any that arrives while something that
must not be cut short runs (`shielded`: stopping a process group); one that arrives while a
process is being started is kept and raised right after (`deferred`); once a restore begins
(`hold`), every signal is dropped, to the end of the command: the restore, and the output that
says how it went, always finish.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

# (Windows has no SIGHUP)
STOPPING = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


class Interrupted(KeyboardInterrupt):
    """A stopping signal arrived: which one."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(name(signum))
        self.signum = signum


def name(signum: int) -> str:
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


def signal_of(exc: BaseException) -> int:
    """The signal behind a KeyboardInterrupt (Python's own one is SIGINT's)."""
    return exc.signum if isinstance(exc, Interrupted) else signal.SIGINT


class Deferred:
    """A signal that arrived inside `deferred`, raised when asked (raise_pending)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def raise_pending(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)


class _State:
    def __init__(self) -> None:
        self.installed: dict[int, object] | None = None  # the handlers replaced (`handled`)
        self.shields = 0  # how many `shielded` blocks are running
        self.deferring: list[Deferred] = []  # the `deferred` blocks running, innermost last
        self.stopping = False  # a signal was raised: the command is ending
        self.held = ""  # why every signal is dropped to the command's end ("": not held)


_state = _State()
_ALREADY = "already stopping: the running step first, then the restore"


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if not (_state.held or _state.shields or _state.stopping):
        _state.stopping = True
        if _state.deferring:
            _state.deferring[-1].signum = signum
            return
        raise Interrupted(signum)
    # a handler may run in the middle of a print: write straight to the file descriptor
    os.write(2, f"mmdoctor: {name(signum)} received: {_state.held or _ALREADY}\n".encode())


def stopping() -> bool:
    """Whether a stopping signal has ended the command (a worker thread's command stops)."""
    return _state.stopping


def _install() -> dict[int, object] | None:
    """Our handler for each stopping signal that is not ignored (nohup's SIGHUP stays
    ignored); None outside the main thread, where Python takes no handler."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous: dict[int, object] = {}
    for signum in STOPPING:
        if signal.getsignal(signum) != signal.SIG_IGN:
            previous[signum] = signal.signal(signum, _on_signal)
    return previous


def _uninstall(previous: dict[int, object]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)  # type: ignore[arg-type]


@contextmanager
def handled() -> Iterator[None]:
    """For a whole command (cli_support.serve): the three signals raise Interrupted. Where a
    restore was held, they are ignored from its end until the process has exited, so that
    its exit status is the restore's (a Python handler would be reset to the default while
    the interpreter shuts down; an ignored signal is not)."""
    previous = _install()
    _state.installed = previous
    try:
        yield
    finally:
        if _state.held and previous is not None:
            for signum in previous:
                signal.signal(signum, signal.SIG_IGN)
        elif previous is not None:
            _uninstall(previous)
        _state.installed, _state.held, _state.shields, _state.stopping = None, "", 0, False


@contextmanager
def shielded() -> Iterator[None]:
    """Signals that arrive inside are said and dropped (stopping a process group)."""
    previous = _install() if _state.installed is None else None
    _state.shields += 1
    try:
        yield
    finally:
        _state.shields -= 1
        if previous is not None:
            _uninstall(previous)


@contextmanager
def deferred() -> Iterator[Deferred]:
    """A signal that arrives inside is kept, to be raised right after (starting a process:
    interrupted inside Popen, its child would run on, out of reach). Only the main thread
    takes signals; a worker thread sees `stopping()` instead."""
    caught = Deferred()
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    previous = _install() if _state.installed is None else None
    _state.deferring.append(caught)
    try:
        yield caught
    finally:
        _state.deferring.remove(caught)
        if previous is not None:
            _uninstall(previous)


@contextmanager
def hold(why: str) -> Iterator[None]:
    """From here to the end of the command (`handled`), signals are said and dropped: a
    restore has begun. Outside `handled` (a command called in-process), to the end of this
    block."""
    inside = _state.installed is not None
    previous = None if inside else _install()
    _state.held = why
    try:
        yield
    finally:
        if not inside:
            if previous is not None:
                _uninstall(previous)
            _state.held = ""
