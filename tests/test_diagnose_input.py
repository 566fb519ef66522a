"""What `diagnose` reads (issue 26, item 12): at most --max-bytes, never an endless device.

`diagnose /dev/zero` and `/dev/urandom` used to read until memory ran out (MemoryError, "internal
error", under a limit; the machine's memory without). Each case runs the real CLI under an
address-space limit well above what a bounded read needs, so an unbounded read fails fast
instead of taking the machine with it."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import REPO

from mmdoctor.commands.diagnose import DEFAULT_MAX_BYTES, parse_size
from mmdoctor.errors import UsageError

LOGS = REPO / "tests" / "data" / "logs"
MEMORY_LIMIT = 1536 * 2**20  # bytes of address space for one run: a 100 MB log needs ~500 MB


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def diagnose(*args: str, stdin: int | None = None, data: bytes | None = None) -> tuple:
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mmdoctor", "diagnose", *args],
        stdin=stdin, input=data, capture_output=True, timeout=120, env=env,
        preexec_fn=_limit_memory,
    )  # fmt: skip
    return done.returncode, done.stdout.decode(), done.stderr.decode()


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_an_endless_device_is_refused_in_one_line(device: str) -> None:
    code, _out, err = diagnose(device)
    assert code == 2, err
    assert err.strip() == (
        f"mmdoctor: error: {device}: a character device (such as /dev/zero), not a log"
    ), err


def test_an_endless_device_on_standard_input_is_refused() -> None:
    with open("/dev/zero", "rb") as zero:
        code, _out, err = diagnose("-", stdin=zero.fileno())
    assert code == 2, err
    assert "a character device (such as /dev/zero), not a log" in err
    assert "Traceback" not in err


def test_an_endless_fifo_stops_at_max_bytes(tmp_path: Path) -> None:
    """A FIFO whose writer never stops: read up to --max-bytes, then refused."""
    fifo = tmp_path / "endless"
    os.mkfifo(fifo)
    line = b"2026/12/06 10:00:00 - mmengine - INFO - Epoch(train) [1][10/7330] loss: 1.0\n"
    stop = threading.Event()

    def write_forever() -> None:
        try:
            with open(fifo, "wb") as out:
                while not stop.is_set():
                    out.write(line * 1000)
        except BrokenPipeError:
            pass  # the reader has gone: what the test waits for

    writer = threading.Thread(target=write_forever, daemon=True)
    writer.start()
    try:
        code, _out, err = diagnose(str(fifo), "--max-bytes", "2M")
    finally:
        stop.set()
    assert code == 2, err
    assert err.strip() == (
        f"mmdoctor: error: {fifo}: more than --max-bytes (2 MiB) and still going: give a file, "
        "the end of the log (tail -c 100M LOG | mmdoctor diagnose -), or a larger --max-bytes"
    ), err


def test_standard_input_over_max_bytes_is_refused() -> None:
    code, _out, err = diagnose("-", "--max-bytes", "64K", data=b"pip install mmcv\n" * 8000)
    assert code == 2, err
    assert "standard input: more than --max-bytes (64 KiB)" in err


def test_a_file_over_max_bytes_is_refused_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "train.log"
    with big.open("wb") as out:  # sparse: 3 GiB of size, nothing written
        out.truncate(3 * 2**30)
    code, _out, err = diagnose(str(big))
    assert code == 2, err
    assert err.strip() == (
        f"mmdoctor: error: {big}: 3 GiB, more than --max-bytes (512 MiB): diagnose the end of "
        f"it (tail -c 100M {big} | mmdoctor diagnose -) or pass a larger --max-bytes"
    ), err


def test_a_log_within_max_bytes_is_diagnosed_and_a_folder_is_refused(tmp_path: Path) -> None:
    log = LOGS / "libgl-missing.log"
    assert diagnose(str(log), "--max-bytes", str(log.stat().st_size))[0] == 0
    code, _out, err = diagnose(str(tmp_path))
    assert code == 2 and err.strip() == f"mmdoctor: error: {tmp_path}: a folder, not a log", err


@pytest.mark.parametrize("value", ["0", "-5", "ten", "1.5.5M", "12X", ""])
def test_a_bad_max_bytes_is_bad_input(value: str) -> None:
    code, _out, err = diagnose(str(LOGS / "libgl-missing.log"), "--max-bytes", value)
    assert code == 2, err
    assert "--max-bytes" in err and "Traceback" not in err


def test_sizes_and_the_default() -> None:
    assert parse_size("100") == 100
    assert parse_size("64K") == parse_size("64KiB") == 64 * 2**10
    assert parse_size("2M") == parse_size("2 MiB") == 2 * 2**20
    assert parse_size("1g") == 2**30
    with pytest.raises(UsageError):
        parse_size("0")
    # well above the 100 MB log of benchmarks/diagnose_large_log.py
    assert DEFAULT_MAX_BYTES >= 4 * 100 * 2**20
    readme = (REPO / "README.md").read_text()
    section = readme.split("## `mmdoctor diagnose`", 1)[1].split("\n## ", 1)[0]
    assert "--max-bytes" in section and "512 MiB" in section


def test_the_command_line_default_is_the_default() -> None:
    import inspect

    from mmdoctor import cli

    default = inspect.signature(cli.diagnose).parameters["max_bytes"].default
    assert parse_size(default) == DEFAULT_MAX_BYTES
