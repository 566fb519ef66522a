"""Issue 27, the first minute as a newcomer meets mmdoctor: naming an environment as uv and pipx
take it (a name on PATH, --venv DIR for every command that takes a target), a what-if plan
without one, and errors that name what the user really set.

The real CLI in subprocesses against the cached test venvs."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from conftest import REPO

TARGET_COMMANDS = (
    ["check"],
    ["install", "--dry-run"],
    ["fix", "--dry-run"],
    ["rollback"],
    ["smoke-test"],
)


def one_line_error(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mmdoctor: error: "), stderr
    return lines[0]


# ------------------------------------------------------------------- item 2: naming a target


def test_a_bare_name_is_looked_up_on_path(mmdoctor, bare_venv: Path, tmp_path: Path) -> None:
    # `--python python3.12` said "no such file or directory": a shell, uv and pipx find it
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "python3.99").symlink_to(bare_venv / "bin" / "python")
    env = {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}
    run = mmdoctor(
        "check", "--python", "python3.99", "--only", "python.environment", "--json", env=env
    )
    assert run.returncode == 0, run.stderr
    assert run.json()["environment"]["target"]["executable"] == str(folder / "python3.99")
    # the same lookup for install's base Python and for $MMDOCTOR_PYTHON
    planned = mmdoctor("install", "--dry-run", "--cpu", "--json",
                       env={**env, "MMDOCTOR_PYTHON": "python3.99"})  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    assert planned.json()["plan"]["executable"] == str(folder / "python3.99")


def test_a_name_that_is_nowhere_says_where_it_looked(mmdoctor) -> None:
    run = mmdoctor("check", "--python", "python3.99-nowhere")
    assert run.returncode == 2
    line = one_line_error(run.stderr)
    assert "--python python3.99-nowhere: not on PATH and no such file or directory" in line


@pytest.mark.parametrize("command", [["check"], ["fix", "--dry-run"], ["smoke-test"], ["diagnose"]])
def test_every_command_that_takes_a_target_takes_venv(
    mmdoctor, command: list[str], bare_venv: Path
) -> None:
    # check had no --venv DIR where install and rollback had one
    args = [*command, "--venv", str(bare_venv), "--json"]
    if command == ["diagnose"]:
        args.append(str(REPO / "tests" / "data" / "logs" / "cuda-driver-too-old.log"))
    if command == ["smoke-test"]:
        args += ["--device", "cpu", "--weights", "none"]
    run = mmdoctor(*args)
    assert "Traceback" not in run.stderr and run.returncode in (0, 1), run.stderr
    doc = run.json()
    python = str(bare_venv / "bin" / "python")
    found = {
        "check": lambda: doc["environment"]["target"]["executable"],
        "fix": lambda: doc["target"],
        "smoke-test": lambda: doc["executable"],
        "diagnose": lambda: python if _checked_the_environment(doc) else None,
    }[command[0]]()
    assert found == python, run.stdout


def _checked_the_environment(diagnosis: dict) -> bool:
    notes = [note for match in diagnosis["matches"] for note in match["notes"]]
    return any(
        note.startswith("confirmed in this environment") or "does not see this" in note
        for note in notes
    )


@pytest.mark.parametrize("command", [*TARGET_COMMANDS, ["diagnose"]])
def test_the_pair_is_declared_once(mmdoctor, command: list[str]) -> None:
    text = mmdoctor(command[0], "--help", env={**os.environ, "COLUMNS": "200"}).stdout
    venv = next(line for line in text.splitlines() if "--venv DIR" in line)
    python = next(line for line in text.splitlines() if "--python PATH" in line)
    assert "Virtual environment folder" in venv, venv
    assert "Interpreter" in python and "on PATH" in python, python


@pytest.mark.parametrize("command", [["check"], ["fix", "--dry-run"], ["rollback"], ["smoke-test"]])
def test_a_venv_that_is_not_there(mmdoctor, command: list[str], tmp_path: Path) -> None:
    # only install makes a venv where --venv names none
    run = mmdoctor(*command, "--venv", str(tmp_path / "none"))
    assert run.returncode == 2
    assert f"--venv {tmp_path / 'none'}: no such directory" in one_line_error(run.stderr)
    assert not (tmp_path / "none").exists()


def test_venv_and_python_name_one_environment(mmdoctor, bare_venv: Path) -> None:
    run = mmdoctor("check", "--venv", str(bare_venv), "--python", str(bare_venv))
    assert run.returncode == 2
    assert "--venv and --python name two environments" in one_line_error(run.stderr)


# ------------------------------------------------------------------- item 6: the right words


def test_an_interpreter_from_the_variable_is_named_as_the_variable(mmdoctor) -> None:
    # MMDOCTOR_PYTHON=/etc/passwd was reported as `--python /etc/passwd`
    for value, said in (("/etc/passwd", "not executable"), ("/bin/ls", "not a Python 3.7+")):
        run = mmdoctor("check", env={**os.environ, "MMDOCTOR_PYTHON": value})
        assert run.returncode == 2
        line = one_line_error(run.stderr)
        assert f"$MMDOCTOR_PYTHON {value}: {said}" in line, line
        assert "--python" not in line


def test_rollback_does_not_offer_to_create_a_venv(mmdoctor) -> None:
    # it suggested "--venv DIR (created if missing)": rollback creates nothing
    run = mmdoctor("rollback")
    assert run.returncode == 2
    line = one_line_error(run.stderr)
    assert "created if missing" not in line and "--venv DIR" in line
    install = mmdoctor("install", "--cpu", "--yes")
    assert install.returncode == 2
    assert "--venv DIR (created if missing)" in one_line_error(install.stderr)


def test_no_target_for_a_dry_run_names_python_version(mmdoctor) -> None:
    run = mmdoctor("install", "--dry-run")
    assert run.returncode == 2
    assert re.search(r"--python-version X\.Y", one_line_error(run.stderr))


# ------------------------------------------------------------------- item 3: what-if plans


def test_a_what_if_dry_run_without_a_target_plans_for_this_python(mmdoctor) -> None:
    # it was refused unless --venv, --python or --python-version was given
    run = mmdoctor("install", "--dry-run", "--driver", "535.104.05", "--gpu-cc", "8.6", "--json")
    assert run.returncode == 0, run.stderr
    doc = run.json()
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert doc["machine"]["python"] == here
    assert doc["plan"]["python"] == here
    said = doc["next_steps"][0]
    assert f"this plan is for Python {here}, the one running mmdoctor" in said
    assert "--python-version X.Y" in said
    text = mmdoctor("install", "--dry-run", "--driver", "535.104.05", "--gpu-cc", "8.6")
    assert text.returncode == 0 and f"Python {here}, the one running mmdoctor" in text.stdout
