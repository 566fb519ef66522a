"""Bad input is one line and exit 2, a system that failed exit 4, never "internal error"
(issue 26, items 10, 11 and 13): interpreters that are not Pythons, --venv paths that cannot be
venvs, URLs that do not parse or hold control characters, a state folder that cannot be one, a
hung interpreter the same in every command, and an interpreter deleted during a step."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import run_mmdoctor
from faulting import fault_environ, install_argv, start
from installing import freeze, install_environ, make_venv
from test_install_cli import assert_one_line_error

PLAN = ("--cpu", "--torch", "2.13.0", "--mmdet", "3", "--line", "openmmlab")


def _script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def _env(tmp_path: Path) -> dict[str, str]:
    return install_environ(tmp_path)


def _refused(run, code: int = 2) -> str:
    assert run.returncode == code, run.stdout + run.stderr
    line = assert_one_line_error(run.stderr)
    assert "internal error" not in line, line
    return line


@pytest.fixture
def liars(tmp_path: Path) -> dict[str, Path]:
    """Programs named as --python that are not the Python the probe needs."""
    marker = "@@MMDOCTOR "
    begin = f'echo \'{marker}{{"begin": "python"}}\'\n'
    return {
        "true": Path("/bin/true"),
        "echo": Path("/bin/echo"),
        "prefix-1": _script(
            tmp_path,
            "prefix-1",
            begin + f'echo \'{marker}{{"step": "python", "ok": true, "data": {{"prefix": 1}}}}\'\n',
        ),
        "not-json-data": _script(
            tmp_path,
            "not-json-data",
            begin + f'echo \'{marker}{{"step": "python", "ok": true, "data": [1, 2]}}\'\n',
        ),
        "version-word": _script(
            tmp_path,
            "version-word",
            begin
            + f'echo \'{marker}{{"step": "python", "ok": true, "data": {{"version": "three"}}}}\'\n',
        ),
    }


@pytest.mark.parametrize("liar", ["true", "echo", "prefix-1", "not-json-data", "version-word"])
def test_a_program_that_is_not_a_python_is_one_line_exit_2(liars, liar, tmp_path: Path) -> None:
    python = str(liars[liar])
    env = _env(tmp_path)
    for args in (
        ("check", "--python", python),
        ("install", "--python", python, *PLAN, "--dry-run"),
        ("install", "--python", python, *PLAN, "--yes"),
        ("install", "--venv", str(tmp_path / "new"), "--python", python, *PLAN, "--yes"),
        ("fix", "--python", python, "--dry-run"),
        ("rollback", "--python", python),
    ):
        line = _refused(run_mmdoctor(*args, env=env))
        assert python in line, (args, line)
    assert not (tmp_path / "new").exists()


def test_a_venv_path_that_cannot_be_a_venv_is_exit_2(tmp_path: Path) -> None:
    env = _env(tmp_path)
    afile = tmp_path / "afile"
    afile.write_text("x")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere" / "deeper")
    too_long = tmp_path / ("x" * 300)
    deep = tmp_path / "/".join(["d" * 200] * 25)  # longer than PATH_MAX in all
    for venv, said in (
        (afile, "not a folder"),
        (loop, "symlink"),
        (dangling, "symlink"),
        (too_long, "too long"),
        (deep, "too long"),
    ):
        for mode in ("--dry-run", "--yes"):
            line = _refused(run_mmdoctor("install", "--venv", str(venv), *PLAN, mode, env=env))
            assert said in line, (venv, line)
    assert afile.read_text() == "x" and not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize(
    "url", ["http://[::1/simple", "https://[fe80::1%eth0/simple", "https://host:99999999/simple"]
)
def test_an_index_url_that_does_not_parse_is_exit_2(url: str, tmp_path: Path) -> None:
    run = run_mmdoctor(
        "install", "--venv", str(tmp_path / "v"), *PLAN, "--dry-run", "--index-url", url,
        env=_env(tmp_path),
    )  # fmt: skip
    line = _refused(run)
    assert "--index-url" in line


# (a NUL cannot be in an argument: the kernel ends the string there)
CONTROL = ("\n", "\r", "\t", "\x1b[31m", "\x7f")


@pytest.mark.parametrize("char", CONTROL)
def test_control_characters_in_urls_and_paths_are_refused(char: str, tmp_path: Path) -> None:
    """Item 11: a newline in --index-url (or MMCV_BASE_URL) went into the plan, the steps and
    an export file. Every URL and path option refuses control characters."""
    env = _env(tmp_path)
    venv = str(tmp_path / "v")
    bad_url = f"https://mirror.example/sim{char}ple"
    export = tmp_path / "req.txt"
    cases = [
        ("--index-url", bad_url),
        ("--torch-index-url", bad_url),
        ("--mmcv-base-url", bad_url),
        ("--find-links", bad_url),
        ("--export", f"{export}{char}x"),
    ]
    for option, value in cases:
        run = run_mmdoctor("install", "--venv", venv, *PLAN, "--dry-run", option, value, env=env)
        line = _refused(run)
        assert option in line and "control character" in line, line
        assert "Plan:" not in run.stdout
    run = run_mmdoctor("install", "--venv", f"{venv}{char}x", *PLAN, "--dry-run", env=env)
    assert "control character" in _refused(run)
    run = run_mmdoctor("check", "--python", f"/usr/bin/python3{char}", env=env)
    assert "control character" in _refused(run)
    for variable, value in (("MMCV_BASE_URL", bad_url), ("MMDOCTOR_STATE_DIR", f"/tmp/s{char}t")):
        environ = {**env, variable: value}
        run = run_mmdoctor("install", "--venv", venv, *PLAN, "--yes", env=environ)
        line = _refused(run)
        assert variable in line and "control character" in line, line
    assert not export.exists() and not list(tmp_path.glob("req.txt*"))


def test_a_state_folder_that_cannot_be_one_is_exit_2_before_any_change(
    tmp_path: Path, standins
) -> None:
    """MMDOCTOR_STATE_DIR=/proc/1 (or a file): said before anything is changed or created."""
    venv = make_venv(tmp_path / "venv")
    before = freeze(venv, "--all")
    afile = tmp_path / "afile"
    afile.write_text("x")
    for state in ("/proc/1", str(afile), "/proc/1/nope"):
        env = fault_environ(tmp_path, MMDOCTOR_STATE_DIR=state)
        argv = install_argv(venv, standins)[3:]  # without `python -m mmdoctor`
        line = _refused(run_mmdoctor(*argv, env=env))
        assert "MMDOCTOR_STATE_DIR" in line, line
        assert freeze(venv, "--all") == before
        new = tmp_path / "new-venv"
        argv = install_argv(new, standins)[3:]
        _refused(run_mmdoctor(*argv, env=env))
        assert not new.exists()
        _refused(run_mmdoctor("rollback", "--venv", str(venv), env=env))


# --- a hung interpreter: the same answer everywhere (item 13) ----------------------------------


@pytest.fixture
def hung(tmp_path: Path) -> dict[str, Path]:
    return {
        "silent": _script(tmp_path, "silent", "exec sleep 600\n"),
        "mid-step": _script(
            tmp_path, "mid-step", 'echo \'@@MMDOCTOR {"begin": "python"}\'\nexec sleep 600\n'
        ),
    }


@pytest.mark.parametrize("kind", ["silent", "mid-step"])
def test_a_hung_interpreter_is_exit_4_in_every_command(hung, kind, tmp_path: Path) -> None:
    python = str(hung[kind])
    env = _env(tmp_path)
    for args in (
        ("check", "--python", python, "--timeout", "2"),
        ("install", "--python", python, *PLAN, "--dry-run", "--timeout", "2"),
        ("install", "--python", python, *PLAN, "--yes", "--timeout", "2"),
        ("install", "--venv", str(tmp_path / "new"), "--python", python, *PLAN, "--yes",
         "--timeout", "2"),
        ("fix", "--python", python, "--dry-run", "--timeout", "2"),
        ("smoke-test", "--python", python, "--timeout", "2"),
    ):  # fmt: skip
        run = run_mmdoctor(*args, env=env, timeout=120)
        line = _refused(run, code=4)
        assert python in line and "did not answer" in line, (args, line)


# --- an interpreter gone in the middle of the install ----------------------------------------


@pytest.mark.slow
def test_an_interpreter_deleted_during_a_step_names_the_snapshot_and_the_way_back(
    tmp_path: Path, standins
) -> None:
    venv = make_venv(tmp_path / "venv")
    standins.fail("torch-2.13.0", "slow", seconds=8)
    run = start(install_argv(venv, standins, "--json"), fault_environ(tmp_path))
    run.wait_for(lambda: run.started("[2/"))
    for python in (venv / "bin").glob("python*"):
        python.unlink()
    code, stdout, stderr = run.finish()
    assert code == 4, stdout + stderr
    assert "internal error" not in stdout + stderr and "Traceback" not in stderr
    doc = json.loads(stdout)
    assert doc["status"] == "not-restored"
    snapshot = doc["snapshot"]
    assert Path(snapshot, "freeze.txt").is_file()
    said = " ".join(doc["restore"]["differences"])
    assert str(venv / "bin" / "python") in said, doc["restore"]
    way_back = doc["restore"]["way_back"]
    assert "mmdoctor rollback" in way_back and f"{snapshot}/freeze.txt" in way_back, way_back
    assert os.path.isdir(venv)
