"""mmdoctor on a real pseudo-terminal, as a person at an 80x40 terminal runs it: the pty is the
process's controlling terminal (so Ctrl-C typed there is the kernel's SIGINT to the foreground
group, and an answer typed goes through the line discipline), its window size is set, and what
it wrote is read back as the lines a terminal shows.

`Screen.run` runs a command to its end; `Screen.start` leaves it running to type into
(`expect`, `send`, `finish`). stdout may be a pipe or /dev/null instead of the terminal (`|
tee log`, `>/dev/null`), with stdin and stderr still on it.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CODES = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]|\x1b\][^\x07]*\x07|\x1b.|\r|\n|[^\x1b\r\n]+")
DROPPED = ("COLUMNS", "LINES", "VIRTUAL_ENV", "CONDA_PREFIX", "MMDOCTOR_PYTHON")
DROPPED += ("MMDOCTOR_DRIVER_VERSION", "MMDOCTOR_GPU_CC")


def screen_lines(raw: bytes) -> list[str]:
    """The lines a terminal shows for this output, each as long as written (longer than the
    window: the terminal folds it). Understood: carriage return, line feed, cursor up (a
    spinner that goes away) and erasing a line; colours and other codes are dropped."""
    lines: list[list[str]] = [[]]
    row = col = 0
    for token in CODES.findall(raw.decode("utf-8", "replace")):
        if token == "\r":
            col = 0
        elif token == "\n":
            row, col = row + 1, 0
            lines += [[] for _ in range(row + 1 - len(lines))]
        elif token.startswith("\x1b["):
            if token.endswith("A"):  # cursor up
                row = max(0, row - int(token[2:-1] or 1))
            elif token in ("\x1b[2K", "\x1b[K", "\x1b[0K"):  # erase the line (to its end)
                del lines[row][0 if token == "\x1b[2K" else col :]
        elif not token.startswith("\x1b"):
            line = lines[row]
            line += [" "] * (col - len(line))
            line[col : col + len(token)] = list(token)
            col += len(token)
    shown = ["".join(line).rstrip() for line in lines]
    while shown and not shown[-1]:  # the newline after the last line
        shown.pop()
    return shown


def _controlling_terminal() -> None:
    """In the child, after setsid: the pty on its stdin becomes its controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@dataclass
class Done:
    code: int
    lines: list[str]  # what the terminal showed
    piped: str  # what went to the pipe, when stdout was one

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class Screen:
    def __init__(
        self,
        args: Sequence[str],
        *,
        columns: int = 80,
        env: Mapping[str, str] | None = None,
        stdout: str = "terminal",  # or "pipe" (| tee log), "null" (>/dev/null)
        cwd: Path | None = None,
    ) -> None:
        self.leader, follower = os.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        full_env = {k: v for k, v in (os.environ if env is None else env).items()}
        for name in DROPPED:
            if env is None or name not in env:
                full_env.pop(name, None)
        full_env.setdefault("NO_COLOR", "1")
        full_env.setdefault("TERM", "xterm")
        full_env.setdefault("MMDOCTOR_OFFLINE", "1")
        full_env["PYTHONPATH"] = str(REPO / "src")
        out: int | None = follower
        if stdout == "pipe":
            out = subprocess.PIPE
        elif stdout == "null":
            out = subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mmdoctor", *args],
            stdin=follower,
            stdout=out,
            stderr=follower,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_controlling_terminal,  # a test's child: no threads to fear
        )
        os.close(follower)
        self.raw = b""

    @classmethod
    def run(cls, *args: str, timeout: float = 120, **kwargs: object) -> Done:
        return cls(args, **kwargs).finish(timeout)  # type: ignore[arg-type]

    def _read(self, timeout: float) -> bool:
        """Read what is there within `timeout`; False once the other side closed."""
        ready, _, _ = select.select([self.leader], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.leader, 65536)
        except OSError:  # EIO: every holder of the terminal closed it
            return False
        self.raw += chunk
        return bool(chunk)

    def expect(self, text: str, timeout: float = 60) -> str:
        """Wait until the terminal shows `text`; all it showed so far."""
        end = time.monotonic() + timeout
        while text not in "\n".join(screen_lines(self.raw)):
            if time.monotonic() > end or (not self._read(0.2) and self.proc.poll() is not None):
                raise AssertionError(
                    f"never showed {text!r}:\n" + self.raw.decode(errors="replace")
                )
        return "\n".join(screen_lines(self.raw))

    def send(self, keys: str) -> None:
        """Type on the terminal: "n\\n", or "\\x03" (Ctrl-C), "\\x04" (Ctrl-D)."""
        os.write(self.leader, keys.encode())

    def interrupt(self) -> None:
        """Ctrl-C as typed: the terminal's SIGINT to its foreground process group."""
        self.send("\x03")

    def finish(self, timeout: float = 120) -> Done:
        end = time.monotonic() + timeout
        while self._read(0.5):
            if time.monotonic() > end:
                os.killpg(self.proc.pid, signal.SIGKILL)
                raise AssertionError("did not end:\n" + self.raw.decode(errors="replace"))
            if self.proc.poll() is not None and not select.select([self.leader], [], [], 0.2)[0]:
                break
        piped = self.proc.stdout.read().decode() if self.proc.stdout else ""
        code = self.proc.wait(timeout=max(1.0, end - time.monotonic()))
        os.close(self.leader)
        return Done(code, screen_lines(self.raw), piped)
