"""`mmdoctor diagnose`: name the known failure behind a log, root cause first."""

from __future__ import annotations

import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mmdoctor.checks.model import Context
from mmdoctor.checks.torch import PlannedStack, planned_stack
from mmdoctor.commands.interaction import Interaction
from mmdoctor.decisive import find_decisive
from mmdoctor.diagnose import (
    CONFIDENT,
    Diagnosis,
    confirm_with_environment,
    decode_normalised,
    fit_stack_commands,
    match_log,
)
from mmdoctor.errors import ExitCode, UsageError
from mmdoctor.knowledge import load_knowledge
from mmdoctor.planning.matrix import load_matrix
from mmdoctor.report import check_environment
from mmdoctor.result import Result
from mmdoctor.target import choose_interpreter

# The most of a log diagnose reads: well above the 100 MB log of the benchmark
# (docs/benchmarks.md), and a bound on what a stream that never ends can make it hold.
DEFAULT_MAX_BYTES = 512 * 2**20
_CHUNK = 2**20


@dataclass(frozen=True)
class DiagnoseOptions:
    log: str = "-"  # a file, or "-" for standard input
    python: str | None = None  # also run check there (or in venv), to confirm what the log says
    venv: Path | None = None
    timeout: float = 90.0
    matrix: Path | None = None
    max_bytes: int | str = DEFAULT_MAX_BYTES  # bytes, or a size such as "512M"


def run(options: DiagnoseOptions, ui: Interaction) -> Result:
    data, source = _read(options.log, parse_size(options.max_bytes))
    normalised = decode_normalised(data, source)
    del data  # a 100 MB log is held once, as text, while it is matched
    text = normalised.text
    matches = match_log(text, load_knowledge())
    planned: PlannedStack | None = None
    if options.python is not None or options.venv is not None:
        failing, planned = _check_target(options, ui)
        matches = confirm_with_environment(matches, failing)
    matches = fit_stack_commands(matches, planned)
    found = any(m.confidence >= CONFIDENT for m in matches)
    decisive = None if found else find_decisive(text)
    status, code = ("found", ExitCode.OK) if found else ("unknown", ExitCode.PROBLEMS)
    body = Diagnosis(source, tuple(matches), found, decisive, normalised.applied)
    return Result("diagnose", status, code, body)


def _read(log: str, max_bytes: int) -> tuple[bytearray, str]:
    """At most max_bytes of the log; a device or a FIFO that goes on past that is refused."""
    if log == "-":
        if sys.stdin.isatty():  # else it waits in silence
            print("Paste the log, then Ctrl-D on a line of its own:", file=sys.stderr)
        source = "standard input"
        _refuse_endless(os.fstat(sys.stdin.fileno()), source, terminal=sys.stdin.isatty())
        data = _read_at_most(sys.stdin.buffer, max_bytes, source)
    else:
        source = log
        try:
            with open(log, "rb") as stream:
                _refuse_endless(os.fstat(stream.fileno()), source, terminal=False)
                _refuse_too_big(os.fstat(stream.fileno()), source, max_bytes)
                data = _read_at_most(stream, max_bytes, source)
        except IsADirectoryError:
            raise UsageError(f"{log}: a folder, not a log") from None
        except OSError as exc:
            raise UsageError(f"{log}: cannot read it ({exc.strerror})") from None
    if not data or data.isspace():  # (strip() would copy a big log)
        raise UsageError(f"{source}: empty, there is no log to read")
    return data, source


def _refuse_endless(info: os.stat_result, source: str, *, terminal: bool) -> None:
    """/dev/zero, /dev/urandom, a disk: no log, and most never end (a terminal ends with
    Ctrl-D, so standard input from a terminal is read)."""
    if stat.S_ISCHR(info.st_mode) and not terminal:
        raise UsageError(f"{source}: a character device (such as /dev/zero), not a log")
    if stat.S_ISBLK(info.st_mode):
        raise UsageError(f"{source}: a block device, not a log")


def _refuse_too_big(info: os.stat_result, source: str, max_bytes: int) -> None:
    if stat.S_ISREG(info.st_mode) and info.st_size > max_bytes:
        raise UsageError(
            f"{source}: {_size(info.st_size)}, more than --max-bytes ({_size(max_bytes)}): "
            f"diagnose the end of it (tail -c 100M {source} | mmdoctor diagnose -) or pass a "
            "larger --max-bytes"
        )


def _read_at_most(stream: IO[bytes], max_bytes: int, source: str) -> bytearray:
    """Read in chunks into one buffer (a bytearray grows in place and decodes without a copy);
    one byte more than max_bytes means the stream goes on past the bound: refused."""
    data = bytearray()
    while len(data) <= max_bytes:
        chunk = stream.read(min(_CHUNK, max_bytes + 1 - len(data)))
        if not chunk:
            return data
        data += chunk
    raise UsageError(
        f"{source}: more than --max-bytes ({_size(max_bytes)}) and still going: give a file, "
        "the end of the log (tail -c 100M LOG | mmdoctor diagnose -), or a larger --max-bytes"
    )


_SIZE = re.compile(r"\s*(\d+)\s*(?:([kmg])(?:i?b)?|b)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}


def parse_size(value: int | str) -> int:
    """A byte count: 1000, 64K, 512M, 2GiB (binary units)."""
    found = _SIZE.fullmatch(str(value))
    size = int(found[1]) * _UNITS[(found[2] or "").lower()] if found else 0
    if size <= 0:
        raise UsageError(
            f"--max-bytes {value!r}: not a size (a positive number of bytes, or with K, M or G)"
        )
    return size


def _size(count: int) -> str:
    for unit, name in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if count >= unit:
            figure = count / unit
            return f"{figure:.0f} {name}" if figure == int(figure) else f"{figure:.1f} {name}"
    return f"{count} bytes"


def _check_target(
    options: DiagnoseOptions, ui: Interaction
) -> tuple[dict[str, str], PlannedStack | None]:
    """`check` on --python: known-failure id -> the failing check's summary, and the stack and
    steps `mmdoctor install` would plan there (None where nothing fits)."""
    matrix = load_matrix(str(options.matrix) if options.matrix else None)
    choice = choose_interpreter(python=options.python, venv=options.venv, environ=os.environ)
    report = check_environment(
        choice, matrix, cpu_only=False, timeout=options.timeout, busy=ui.busy
    )
    failing = {
        r.known_failure: f"{r.id}: {r.summary}"
        for r in report.results
        if r.known_failure and r.status.is_problem
    }
    return failing, planned_stack(Context(report.environment, matrix, cpu_only=False))
