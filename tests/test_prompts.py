"""Issue 27, item 4: the [y/N] question of install and fix, asked on a real terminal (a pty
that is the process's controlling terminal: Ctrl-C is typed there, the kernel's SIGINT).

Ctrl-C at the prompt printed "internal error: Abort" and exit 4; "n" was exit 2, a usage
error; `install ... | tee log` and `> /dev/null` were refused with "no terminal to ask on"
while the user sat at one. Declining is exit 5 (README's exit codes); Ctrl-C is 130."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from screen import Screen

QUESTION = "? [y/N]"


def _install(venv: Path, **kwargs: object) -> Screen:
    return Screen(["install", "--venv", str(venv), "--cpu"], **kwargs)  # type: ignore[arg-type]


def _said(text: str, said: str) -> bool:
    """A line of the screen ends with it (the terminal echoes ^C before it)."""
    return any(line.endswith(said) for line in text.splitlines())


@pytest.mark.parametrize("answer", ["n\n", "\n", "no\n", "\x04"])
def test_declining_is_exit_5_and_nothing_is_made(tmp_path: Path, answer: str) -> None:
    venv = tmp_path / "new"
    screen = _install(venv)
    shown = screen.expect(QUESTION)
    assert "Plan: " in shown and f"Install this into {venv}? [y/N]" in shown
    screen.send(answer)
    done = screen.finish()
    assert done.code == 5, done.text
    assert _said(done.text, "mmdoctor: not confirmed: nothing was changed"), done.text
    assert "error" not in done.text.split(QUESTION)[-1]
    assert not venv.exists()


def test_another_answer_is_asked_again(tmp_path: Path) -> None:
    screen = _install(tmp_path / "new")
    screen.expect(QUESTION)
    screen.send("maybe\n")
    screen.expect("Please answer y or n.")
    screen.send("n\n")
    assert screen.finish().code == 5


def test_ctrl_c_at_the_prompt_is_130(tmp_path: Path) -> None:
    venv = tmp_path / "new"
    screen = _install(venv)
    screen.expect(QUESTION)
    screen.interrupt()
    done = screen.finish()
    assert done.code == 130, done.text
    after = done.text.split(QUESTION)[-1]
    assert _said(done.text, "mmdoctor: error: interrupted (Ctrl-C)"), done.text
    for noise in ("internal error", "Abort", "--debug", "Traceback"):
        assert noise not in after, done.text
    assert not venv.exists()


@pytest.mark.parametrize("stdout", ["pipe", "null"])
def test_output_elsewhere_still_asks_on_the_terminal(tmp_path: Path, stdout: str) -> None:
    # `mmdoctor install ... | tee log`, `mmdoctor install ... > /dev/null`: stdin and stderr
    # are the terminal; the question goes there, the plan where stdout goes
    venv = tmp_path / "new"
    screen = _install(venv, stdout=stdout)
    screen.expect(f"Install this into {venv}? [y/N]")
    screen.send("n\n")
    done = screen.finish()
    assert done.code == 5, done.text
    assert "no terminal to ask on" not in done.text
    if stdout == "pipe":
        assert "Plan: " in done.piped and "Plan: " not in done.text
    assert not venv.exists()


def test_with_json_the_plan_to_answer_is_shown_on_the_terminal(tmp_path: Path) -> None:
    # --json at a terminal: the JSON document goes to stdout, the plan to be confirmed and the
    # question to the terminal (stderr)
    screen = Screen(["install", "--venv", str(tmp_path / "new"), "--cpu", "--json"], stdout="pipe")
    shown = screen.expect(QUESTION)
    assert "Plan: " in shown
    screen.send("n\n")
    done = screen.finish()
    assert done.code == 5, done.text
    doc = json.loads(done.piped)
    assert (doc["status"], doc["exit_code"], doc["errors"]) == ("declined", 5, [])


def test_ctrl_c_during_the_probe_leaves_no_venv(tmp_path: Path) -> None:
    # the venv is made only once the plan is confirmed (commands/install._create_venv): Ctrl-C
    # while the Python it would be made from is still being probed leaves nothing behind
    started = tmp_path / "probe-started"
    slow = tmp_path / "python-slow"
    slow.write_text(f'#!/bin/sh\ntouch "{started}"\n/bin/sleep 30\nexec "{sys.executable}" "$@"\n')
    slow.chmod(0o755)
    venv = tmp_path / "new"
    screen = Screen(["install", "--venv", str(venv), "--python", str(slow), "--cpu"])
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert started.exists()
    time.sleep(0.5)
    screen.interrupt()
    done = screen.finish(timeout=60)
    assert done.code == 130, done.text
    assert _said(done.text, "mmdoctor: error: interrupted (Ctrl-C)"), done.text
    assert not venv.exists()
    leftover = subprocess.run(["pgrep", "-f", str(slow)], capture_output=True, text=True)
    assert leftover.stdout == "", "the probe was left running"


def test_fix_asks_the_same_way(tmp_path: Path) -> None:
    # a venv of its own (never a cached test venv): its failing torch check has a pip command
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    screen = Screen(["fix", "--venv", str(venv), "--cpu-only", "--only", "torch.import"])
    shown = screen.expect(QUESTION, timeout=120)
    assert f"Apply these fixes to {venv / 'bin' / 'python'}? [y/N]" in shown
    screen.send("n\n")
    done = screen.finish()
    assert done.code == 5, done.text
    assert _said(done.text, "mmdoctor: not confirmed: nothing was changed")


def test_the_decline_code_is_documented(mmdoctor) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "| 5 | `install`, `fix`: declined at the `[y/N]` question" in readme
    for command in ("install", "fix"):
        text = " ".join(mmdoctor(command, "--help").stdout.split())
        assert "5 declined at the question (nothing changed)" in text, command
        assert "130 interrupted before the first step" in text, command


def test_with_json_and_yes_the_terminal_gets_no_plan(tmp_path: Path) -> None:
    # nothing is asked, so nothing is shown: stderr stays for what goes wrong (here an index
    # that never answers, which stops the install before the venv would be made)
    venv = tmp_path / "new"
    args = ["install", "--venv", str(venv), "--cpu", "--json", "--yes", "--torch-source", "pypi"]
    args += ["--installer", "pip", "--index-url", "https://127.0.0.1:9/simple"]
    # the hosts are asked (not --offline, as the tests' default is)
    done = Screen(args, stdout="pipe", env={**os.environ, "MMDOCTOR_OFFLINE": "0"}).finish()
    assert done.code == 4, done.text
    assert "Plan: " not in done.text and QUESTION not in done.text, done.text
    assert json.loads(done.piped)["command"] == "install"
    assert not venv.exists()
