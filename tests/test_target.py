"""One target, read in one run: install probes the interpreter it plans for once, before it
plans (a dry run) and before its first step (a real run). Counted through a wrapper that logs
each run of the target and hands it on to the venv's own interpreter."""

from __future__ import annotations

import shlex
from pathlib import Path

from conftest import run_mmdoctor
from installing import install_environ, make_venv, sources
from packaging.version import Version

from mmdoctor.target import Target, choose_interpreter


def _counted(tmp_path: Path) -> tuple[Path, Path]:
    """A fresh venv's interpreter behind a wrapper that logs `-c|STEP`, `-m|freeze`, ...: the
    first and third argument of each run (the probe's script itself is many lines)."""
    venv = make_venv(tmp_path / "venv")
    log = tmp_path / "runs.log"
    wrapper = tmp_path / "python-counted"
    python = shlex.quote(str(venv / "bin" / "python"))
    wrapper.write_text(
        f'#!/bin/sh\nprintf \'%s|%s\\n\' "$1" "$3" >> {shlex.quote(str(log))}\nexec {python} "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper, log


def _runs(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.is_file() else []


def test_a_dry_run_runs_the_target_once(tmp_path: Path) -> None:
    wrapper, log = _counted(tmp_path)
    run = run_mmdoctor("install", "--dry-run", "--python", str(wrapper), "--cpu", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    assert _runs(log) == ["-c|python"]  # the probe's python step: facts, pip, its settings
    assert run.json()["plan"]["executable"] == str(wrapper)


def test_a_real_install_runs_it_once_before_its_first_step(tmp_path: Path, index) -> None:
    wrapper, log = _counted(tmp_path)
    index.fail("setuptools-80.9.0", "500")  # the first step fails: nothing more is needed here
    run = run_mmdoctor(
        "install",
        *("--python", str(wrapper), "--cpu", "--torch-source", "pypi", "--torch", "2.13.0"),
        *("--line", "openmmlab", "--installer", "pip", "--yes", *sources(index)),
        env=install_environ(tmp_path),
        timeout=900,
    )
    assert run.returncode == 3, run.stdout + run.stderr
    runs = _runs(log)
    snapshot = runs.index("-m|freeze")  # execute's first act: the snapshot
    assert runs[:snapshot] == ["-c|python"], runs


def test_a_new_venv_is_planned_from_its_base_without_being_made(tmp_path: Path) -> None:
    choice = choose_interpreter(python=None, venv=tmp_path / "new", environ={}, creates=True)
    assert choice.new_venv == tmp_path / "new" and choice.how == "--venv"
    assert not (tmp_path / "new").exists()
    assert choice.new_venv is not None
    probed = Target.described(Version("3.11")).in_new_venv(choice.new_venv)
    assert probed.executable == str(tmp_path / "new" / "bin" / "python")
    assert probed.prefix == str(tmp_path / "new") and probed.is_venv
