"""The one way mmdoctor runs other programs (pip, mim, nvcc, gcc, the target interpreter).

List argv, never a shell; always a timeout; stderr kept as a tail for error messages.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from mmdoctor import signals
from mmdoctor.redact import redact_credentials

STDERR_TAIL_CHARS = 4000
POLL_SECONDS = 0.25  # how soon a command run by a worker thread notices a stopping signal


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int | None  # None: it did not finish (timed out)
    stdout: str
    stderr_tail: str
    seconds: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def last_error_line(self) -> str:
        """The last line of stderr with text on it, "" if none: usually what went wrong."""
        lines = (line.rstrip() for line in reversed(self.stderr_tail.splitlines()))
        return next((line for line in lines if line.strip()), "")


class CommandNotFound(Exception):
    """The program does not exist or cannot be executed (ENOENT, EACCES, ENOEXEC)."""

    def __init__(self, argv: Sequence[str], reason: str) -> None:
        super().__init__(f"{argv[0]}: {reason}")
        self.argv = tuple(argv)
        self.reason = reason


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    idle_timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    on_line: Callable[[str], None] | None = None,
    grace: float = 0.0,
) -> CommandResult:
    """Run argv to completion. It is stopped, with what it started, after `timeout` seconds in
    all, or after `idle_timeout` seconds without a line on stdout (a hung step of a chatty
    program), or when mmdoctor itself is stopped by a signal (the KeyboardInterrupt goes on
    up; in a worker thread, it is raised there). Stopped: SIGINT to its process group, then,
    `grace` seconds later (at once by default), SIGKILL to what is left of it: pip given a
    grace ends its transaction as it does on Ctrl-C. `on_line` sees every line of stdout and
    stderr as it arrives (a log, a progress line)."""
    full_env = dict(os.environ if env is None else env)
    if extra_env:
        full_env.update(extra_env)
    started = time.monotonic()
    with signals.deferred() as arrived:  # a signal in Popen would orphan the child
        proc = _start(argv, full_env, cwd)
    out: list[bytes] = []
    err: list[bytes] = []
    last_line = [started]
    readers = [
        threading.Thread(target=_pump, args=(proc.stdout, out, last_line, on_line), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, err, None, on_line), daemon=True),
    ]
    try:
        arrived.raise_pending()
        for reader in readers:
            reader.start()
        timed_out = _wait(proc, started + timeout, idle_timeout, last_line)
    except BaseException:  # a signal: the child runs in its own session and would live on
        _stop(proc, grace)
        raise
    if timed_out:
        _stop(proc, grace)
    for reader in readers:
        reader.join(timeout=5)
    return CommandResult(
        argv=tuple(argv),
        returncode=None if timed_out else proc.returncode,
        stdout=b"".join(out).decode("utf-8", "replace"),
        stderr_tail=b"".join(err).decode("utf-8", "replace")[-STDERR_TAIL_CHARS:],
        seconds=time.monotonic() - started,
        timed_out=timed_out,
    )


def _start(argv: Sequence[str], env: Mapping[str, str], cwd: str | None) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,  # so a timeout can kill what the command started, too
        )
    except FileNotFoundError as exc:
        raise CommandNotFound(argv, "no such file") from exc
    except PermissionError as exc:
        raise CommandNotFound(argv, "not executable (permission denied)") from exc
    except OSError as exc:  # ENOEXEC: a file that is not a program
        raise CommandNotFound(argv, exc.strerror or str(exc)) from exc


def _wait(
    proc: subprocess.Popen[bytes],
    deadline: float,
    idle_timeout: float | None,
    last_line: list[float],
) -> bool:
    """Wait for the command to end; True where it ran out of time (in all, or idle)."""
    worker = threading.current_thread() is not threading.main_thread()
    while True:
        now = time.monotonic()
        left = deadline - now
        if idle_timeout is not None:
            left = min(left, idle_timeout - (now - last_line[0]))
        if left <= 0:
            return True
        if worker and signals.stopping():  # the signal went to the main thread
            raise signals.Interrupted()
        try:
            proc.wait(timeout=min(left, POLL_SECONDS) if worker else left)
            return False
        except subprocess.TimeoutExpired:
            continue  # re-measure: a line may have arrived meanwhile


def _pump(
    stream: IO[bytes] | None,
    sink: list[bytes],
    last_line: list[float] | None,
    on_line: Callable[[str], None] | None,
) -> None:
    if stream is None:
        return
    for line in iter(stream.readline, b""):
        sink.append(line)
        if last_line is not None:
            last_line[0] = time.monotonic()
        if on_line is not None:
            on_line(line.decode("utf-8", "replace").rstrip("\r\n"))
    stream.close()


def _stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    """Stop the command and everything it started, without being cut short itself."""
    with signals.shielded():
        if grace > 0 and proc.poll() is None:
            _signal_group(proc, signal.SIGINT)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        _signal_group(proc, signal.SIGKILL)  # what is left of the group, the leader's children
        proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    killpg = getattr(os, "killpg", None)  # POSIX only
    try:
        if killpg is not None:
            killpg(proc.pid, signum)
        elif proc.poll() is None:
            proc.send_signal(signum)
    except (ProcessLookupError, PermissionError):
        if proc.poll() is None:
            proc.kill()


def quote(arg: str) -> str:
    return shlex.quote(arg)


def join(argv: Sequence[str]) -> str:
    """A command as the user would paste it into a POSIX shell."""
    return shlex.join(argv)


def shell_words(line: str) -> list[str]:
    """A shell command line cut at its unquoted spaces, each word as written (its quotes and
    escapes kept): where a line may go on to the next with ` \\` and paste the same."""
    words: list[str] = []
    word, quote, escaped = "", "", False
    for char in line:
        if escaped:
            word, escaped = word + char, False
        elif char == "\\" and quote != "'":
            word, escaped = word + char, True
        elif quote:
            word += char
            quote = "" if char == quote else quote
        elif char in "'\"":
            word, quote = word + char, char
        elif char == " ":
            words += [word] if word else []
            word = ""
        else:
            word += char
    return [*words, word] if word else words


def command_line(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """A step as shown and logged: `VAR=value cmd args`, credentials redacted."""
    prefix = " ".join(f"{k}={quote(v)}" for k, v in (env or {}).items())
    return redact_credentials(f"{prefix} {join(argv)}".strip())
