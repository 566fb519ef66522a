"""A restore is what is on disk, whatever else fails (issue 26, items 2, 3 and 4): a venv on a
full disk, a state folder that is full before the first change or fills during a step (its log
then goes to stderr), two installs into one venv from two state folders.

The full disks are real: tmpfs mounts (root is needed, as in CI; without it these tests say so
and skip)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import run_mmdoctor
from faulting import (
    fault_environ,
    install_argv,
    kill_strays,
    start,
    venv_facts,
    wait_for_strays,
)
from installing import make_venv
from test_install_cli import assert_one_line_error

pytestmark = pytest.mark.slow
MIB = 1024 * 1024


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str, int], Path]]:
    """mount(name, bytes): a tmpfs of that size at tmp_path/name, unmounted afterwards."""
    mounted: list[Path] = []

    def mount(name: str, size: int) -> Path:
        if os.geteuid() != 0:
            pytest.skip("a full disk is a tmpfs mount here, which needs root (CI runs as root)")
        folder = tmp_path / name
        folder.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        for proc_venv in folder.glob("*"):
            kill_strays(proc_venv)
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=60)


def fill(folder: Path, leave: int = 0) -> Path:
    """Write a file into `folder` until its disk has `leave` bytes free (or none)."""
    filler = folder / "filler"
    chunk = b"\0" * MIB
    with filler.open("wb") as out:
        while True:
            free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
            if free <= leave:
                break
            try:
                out.write(chunk[: max(1, min(len(chunk), free - leave))])
                out.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
    return filler


@pytest.mark.parametrize("room", [2 * MIB, 5 * MIB, 8 * MIB])
def test_a_full_disk_in_the_venv_is_restored_for_real(
    standins, tmpfs, tmp_path: Path, room: int
) -> None:
    """Item 2: pip runs out of room while it swaps setuptools (80.9.0 needs more than any of
    these). With 5 or 8 MiB left it got far enough to leave a half-written
    setuptools-80.9.0.dist-info beside 65.5.0's, which `pip freeze` does not show: "Rolled
    back" was said all the same. Now what step 1 left goes, and the venv is as it was."""
    disk = tmpfs("disk", 96 * MIB)
    venv = make_venv(disk / "venv")
    before = venv_facts(venv)
    fill(disk, leave=room)
    run = start(install_argv(venv, standins, "--json"), fault_environ(tmp_path))
    code, stdout, stderr = run.finish()
    assert code == 3, stdout + stderr
    assert '"ok": true' in stdout
    assert venv_facts(venv) == before


def test_a_state_folder_without_room_stops_before_the_first_change(
    standins, tmpfs, tmp_path: Path
) -> None:
    """Item 3: no room for the snapshot and the log: said, exit 4, nothing changed, no venv
    made."""
    state = tmpfs("state", 4 * MIB)
    fill(state, leave=256 * 1024)
    venv = make_venv(tmp_path / "venv")
    before = venv_facts(venv)
    env = fault_environ(tmp_path, MMDOCTOR_STATE_DIR=str(state))
    for folder in (venv, tmp_path / "new"):
        run = run_mmdoctor(*install_argv(folder, standins)[3:], env=env)
        assert run.returncode == 4, run.stdout + run.stderr
        line = assert_one_line_error(run.stderr)
        assert str(state) in line and "free" in line and "nothing was changed" in line, line
    assert venv_facts(venv) == before
    assert not (tmp_path / "new").exists()


def test_a_state_folder_that_fills_during_a_step_still_restores(
    standins, tmpfs, tmp_path: Path
) -> None:
    """Item 3: the log cannot be written from step 2 on (an uncaught OSError at step 6, exit
    4, nothing rolled back, before): its lines go to stderr and the restore happens."""
    state = tmpfs("state", 48 * MIB)
    venv = make_venv(tmp_path / "venv")
    before = venv_facts(venv)
    standins.fail("torch-2.13.0", "slow", seconds=4)
    env = fault_environ(tmp_path, MMDOCTOR_STATE_DIR=str(state))
    run = start(install_argv(venv, standins), env)
    run.wait_for(lambda: run.started("[2/"))
    fill(state)
    code, stdout, stderr = run.finish()
    assert code == 3, stdout + stderr
    assert "Rolled back" in stdout
    assert "cannot be written" in stderr and "log|" in stderr, stderr[-3000:]
    assert venv_facts(venv) == before


def test_two_installs_into_one_venv_from_two_state_folders(standins, tmp_path: Path) -> None:
    """Item 4: two users of a shared venv (or root and not): the lock is in the venv too."""
    venv = make_venv(tmp_path / "venv")
    before = venv_facts(venv)
    standins.fail("torch-2.13.0", "slow", seconds=30)
    first = start(
        install_argv(venv, standins),
        fault_environ(tmp_path, MMDOCTOR_STATE_DIR=str(tmp_path / "a")),
    )
    try:
        first.wait_for(lambda: first.started("[2/"))
        second_env = fault_environ(tmp_path, MMDOCTOR_STATE_DIR=str(tmp_path / "b"))
        second = run_mmdoctor(*install_argv(venv, standins)[3:], env=second_env)
        assert second.returncode == 4, second.stdout + second.stderr
        assert "another mmdoctor is changing" in second.stderr
    finally:
        first.proc.send_signal(signal.SIGINT)
    code, stdout, stderr = first.finish()
    assert code == 3, stdout + stderr
    assert wait_for_strays(venv) == []
    assert venv_facts(venv) == before
