"""What the fault tests of install share (issue 26): the stand-in index (tests/fakes/standin.py)
on 127.0.0.1, an install run in the background that a test can signal at a chosen moment, and
the facts of a venv that "as it was" must keep, read without mmdoctor: `pip freeze --all`,
`pip check`, pip's `~` folders, every RECORD'd file and its hash, and whether setuptools
imports."""

from __future__ import annotations

import base64
import csv
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil
from conftest import REPO
from fakes.simple_index import SimpleIndex
from installing import PLAN, install_environ, sources

# pip alone (no mim): the stand-in index has no mim to run
STANDIN_PLAN = [*PLAN, "--installer", "pip"]


def fault_environ(work: Path, **extra: str) -> dict[str, str]:
    """install_environ with a build cache of the test's own: a stand-in mmcv must never land
    in the cache the real builds share."""
    env = install_environ(work, MMDOCTOR_CACHE_DIR=str(work / "cache"), **extra)
    env["PYTHONPATH"] = str(REPO / "src")
    env["MMDOCTOR_OFFLINE"] = "1"
    env.pop("MMDOCTOR_DRIVER_VERSION", None)
    env.pop("MMDOCTOR_GPU_CC", None)
    return env


def install_argv(venv: Path, index: SimpleIndex, *args: str) -> list[str]:
    return [
        *(sys.executable, "-m", "mmdoctor", "install", *STANDIN_PLAN),
        *("--venv", str(venv), "--yes", *sources(index), *args),
    ]


@dataclass
class Background:
    """An mmdoctor run in the background, its stderr read line by line as it comes."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    out: list[str] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)

    def started(self, prefix: str) -> bool:
        return any(line.startswith(prefix) for line in self.lines)

    def wait_for(self, ready: Callable[[], bool], timeout: float = 300, poll: float = 0.05) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"mmdoctor ended first: {''.join(self.lines)[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting: {''.join(self.lines)[-3000:]}")
            time.sleep(poll)

    def finish(self, timeout: float = 600) -> tuple[int, str, str]:
        """Its exit status, stdout and stderr, once it has ended."""
        self.proc.wait(timeout=timeout)
        for reader in self.readers:
            reader.join(timeout=10)
        return self.proc.returncode, "".join(self.out), "".join(self.lines)


def start(argv: list[str], env: dict[str, str]) -> Background:
    with _signals_as_from_a_terminal():
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
    run = Background(proc)
    for stream, sink in ((proc.stdout, run.out), (proc.stderr, run.lines)):
        assert stream is not None
        reader = threading.Thread(target=_read, args=(stream, sink), daemon=True)
        reader.start()
        run.readers.append(reader)
    return run


@contextmanager
def _signals_as_from_a_terminal() -> Iterator[None]:
    """The command starts with the stopping signals at their default, as from a terminal: one
    that whoever ran the suite ignores (`nohup` ignores SIGHUP) would be inherited, and
    mmdoctor leaves an ignored signal ignored, as nohup asks."""
    stopping = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
    ignored = [s for s in stopping if signal.getsignal(s) == signal.SIG_IGN]
    for signum in ignored:
        signal.signal(signum, signal.SIG_DFL)
    try:
        yield
    finally:
        for signum in ignored:
            signal.signal(signum, signal.SIG_IGN)


def _read(stream: IO[str], sink: list[str]) -> None:
    sink.extend(iter(stream.readline, ""))


def site_packages(venv: Path) -> Path:
    (found,) = venv.glob("lib/python3*/site-packages")
    return found


def tilde_entries(venv: Path) -> list[str]:
    """pip's temporary folders (`~etuptools`): what an interrupted pip leaves."""
    return sorted(p.name for p in site_packages(venv).iterdir() if p.name.startswith("~"))


def _record_hash(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def broken_records(venv: Path) -> list[str]:
    """Every file a RECORD lists that is missing or whose hash differs."""
    site = site_packages(venv)
    broken = []
    for record in sorted(site.glob("*.dist-info/RECORD")):
        with record.open(newline="") as stream:
            for row in csv.reader(stream):
                if not row or not row[0]:
                    continue
                path = (site / row[0]).resolve()
                if not path.is_file():
                    broken.append(f"{record.parent.name}: missing {row[0]}")
                elif len(row) > 1 and row[1] and _record_hash(path) != row[1]:
                    broken.append(f"{record.parent.name}: changed {row[0]}")
    return broken


def unlisted_files(venv: Path) -> list[str]:
    """Files in site-packages that no RECORD lists (byte code caches aside): what a pip
    stopped half-way leaves beside the files of the version it replaced."""
    site = site_packages(venv)
    listed = set()
    for record in site.glob("*.dist-info/RECORD"):
        with record.open(newline="") as stream:
            listed |= {os.path.normpath(site / row[0]) for row in csv.reader(stream) if row}
    return sorted(
        str(path.relative_to(site))
        for path in site.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and os.path.normpath(path) not in listed
    )


def _python(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "python"), *args],
        capture_output=True,
        text=True,
        env=install_environ(venv.parent),
        timeout=300,
    )


def venv_facts(venv: Path) -> dict[str, object]:
    """What "as it was" means, read without mmdoctor."""
    imports = _python(venv, "-c", "import setuptools, pkg_resources")
    return {
        "freeze": _python(venv, "-m", "pip", "freeze", "--all").stdout,
        "pip check": _python(venv, "-m", "pip", "check").stdout,
        "~ folders": tilde_entries(venv),
        "broken RECORDs": broken_records(venv),
        "files no RECORD lists": unlisted_files(venv),
        "setuptools imports": imports.returncode == 0 or imports.stderr[-500:],
    }


def strays(venv: Path) -> list[str]:
    """Processes that work on the venv other than mmdoctor itself: its interpreter, a pip,
    `python -m venv` making it (what mmdoctor must never leave behind)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or ())
        if str(venv) in cmdline and "-m mmdoctor" not in cmdline:
            found.append(f"{proc.info['pid']}: {cmdline[:200]}")
    return found


def wait_for_strays(venv: Path, seconds: float = 5) -> list[str]:
    deadline = time.monotonic() + seconds
    while (left := strays(venv)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def kill_strays(venv: Path) -> None:
    """Teardown: a test that failed must not leave a pip (or mmdoctor) it started running."""
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if str(venv) in " ".join(proc.info["cmdline"] or ()):
            try:
                os.kill(proc.info["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass
