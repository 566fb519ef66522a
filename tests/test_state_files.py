"""The files mmdoctor writes are its own (issue 26, items 4, 14 and 15): a temporary file is
made with mkstemp beside its destination and renamed into place; the state folder is 0700 and
never written through a symlink planted in it; the lock is taken in the environment itself as
well, so two state folders cannot both change one venv."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from conftest import run_mmdoctor

from mmdoctor.errors import ExitCode, MmdoctorError
from mmdoctor.install.state import Busy, EnvState, Log
from mmdoctor.paths import write_atomic


def _state(prefix: Path, folder: Path) -> EnvState:
    return EnvState(str(prefix), {"MMDOCTOR_STATE_DIR": str(folder)})


@pytest.fixture
def prefix(tmp_path: Path) -> Path:
    folder = tmp_path / "venv"
    folder.mkdir()
    return folder


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


# --- item 14: --prometheus and every other atomic write ---------------------------------------


def test_an_atomic_write_never_follows_a_planted_temporary_name(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    out = tmp_path / "mmdoctor.prom"
    for name in (f".{out.name}.{os.getpid()}.tmp", f".{out.name}.tmp", f"{out.name}.tmp"):
        (tmp_path / name).symlink_to(victim)  # the names a predictable writer would use
    write_atomic(out, "mmdoctor_check_ran 1\n")
    assert victim.read_text() == "precious\n"
    assert not out.is_symlink() and out.read_text() == "mmdoctor_check_ran 1\n"
    umask = os.umask(0)
    os.umask(umask)
    assert _mode(out) == 0o644 & ~umask  # a textfile collector (another user) reads it
    leftovers = {p.name for p in tmp_path.iterdir()} - {"victim", out.name}
    assert all((tmp_path / name).is_symlink() for name in leftovers), leftovers


def test_prometheus_output_through_the_cli_is_a_regular_file(tmp_path: Path) -> None:
    """The CLI's --prometheus: a link planted at every name `.NAME.PID.tmp` the child could
    pick (pid_max of them) neither gets written through nor becomes the output."""
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text()) if Path("/proc").is_dir() else 0
    if not 0 < pid_max <= 100_000:
        pytest.skip(f"pid_max is {pid_max}: too many names to plant a link at each")
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    out = tmp_path / "node.prom"
    for pid in range(2, pid_max + 1):
        (tmp_path / f".{out.name}.{pid}.tmp").symlink_to(victim)
    run = run_mmdoctor("check", "--python", "/bin/true", "--prometheus", str(out))
    assert run.returncode == 2
    assert victim.read_text() == "precious\n"
    assert not out.is_symlink() and "mmdoctor_check_ran 0" in out.read_text()


# --- item 15: the state folder ----------------------------------------------------------------


def test_the_state_folder_is_private(prefix: Path, tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        state = _state(prefix, tmp_path / "state")
        with state.lock("install"):
            state.set_latest("20260101T000000-1")
            log = Log(state.root / "logs" / "x.log")
            log.write("a line")
            log.close()
    finally:
        os.umask(umask)
    for folder in (tmp_path / "state", state.root.parent, state.root, state.root / "logs"):
        assert _mode(folder) == 0o700, folder
    for file in (state.root / "target.txt", state.root / "latest", state.root / "logs" / "x.log"):
        assert _mode(file) & 0o077 == 0, (file, oct(_mode(file)))


@pytest.mark.parametrize("planted", ["lock", "target.txt", "latest", "logs", "snapshots"])
def test_a_symlink_planted_in_the_state_folder_is_refused(
    prefix: Path, tmp_path: Path, planted: str
) -> None:
    state = _state(prefix, tmp_path / "state")
    state.root.mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.mkdir() if planted in ("logs", "snapshots") else victim.write_text("precious\n")
    (state.root / planted).symlink_to(victim)
    with pytest.raises(MmdoctorError) as refused, state.lock("install"):
        state.set_latest("20260101T000000-1")
        Log(state.root / "logs" / "x.log").close()
        state.snapshot_dir("20260101T000000-1").mkdir()
    message = str(refused.value)
    assert "symlink" in message and planted in message, message
    assert refused.value.exit_code == ExitCode.USAGE
    if victim.is_dir():
        assert list(victim.iterdir()) == []
    else:
        assert victim.read_text() == "precious\n"


def test_a_planted_env_folder_link_is_refused(prefix: Path, tmp_path: Path) -> None:
    state = _state(prefix, tmp_path / "state")
    state.root.parent.mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.mkdir()
    state.root.symlink_to(victim)
    with pytest.raises(MmdoctorError, match="symlink"):
        state.lock("install")
    assert list(victim.iterdir()) == []


def test_rollback_refuses_a_planted_lock_link(tmp_path: Path) -> None:
    from installing import freeze, install_environ, make_venv

    venv = make_venv(tmp_path / "venv")
    env = install_environ(tmp_path)
    state = EnvState(str(venv), {"MMDOCTOR_STATE_DIR": env["MMDOCTOR_STATE_DIR"]})
    (state.root / "snapshots" / "s").mkdir(parents=True)
    frozen = freeze(venv, "--all")  # the venv as it is: a restore would change nothing
    (state.root / "snapshots" / "s" / "freeze.txt").write_text(frozen)
    pins = [line.split("==") for line in frozen.splitlines()]
    listed = {name: [name, version, [f"{name}=={version}"]] for name, version in pins}
    (state.root / "snapshots" / "s" / "inspect.json").write_text(json.dumps(listed))
    (state.root / "latest").write_text("s\n")
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (state.root / "lock").symlink_to(victim)
    run = run_mmdoctor("rollback", "--venv", str(venv), env=env)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "symlink" in run.stderr and "Traceback" not in run.stderr
    assert victim.read_text() == "precious\n"


# --- item 4: the lock lives in the environment too ---------------------------------------------


def test_two_state_folders_cannot_both_lock_one_environment(prefix: Path, tmp_path: Path) -> None:
    first = _state(prefix, tmp_path / "state-a")
    second = _state(prefix, tmp_path / "state-b")
    with first.lock("install"), pytest.raises(Busy, match="another mmdoctor is changing"):
        second.lock("install")
    with second.lock("install"):  # released: the other one may now
        pass


def test_a_planted_lock_link_in_the_environment_is_refused(prefix: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (prefix / ".mmdoctor.lock").symlink_to(victim)
    with pytest.raises(MmdoctorError, match="symlink"):
        _state(prefix, tmp_path / "state").lock("install")
    assert victim.read_text() == "precious\n"
