"""Issue 27, item 5: text that reads at 80 columns, read back from a real 80x40 pseudo-terminal.

The measure, for every output here: the words the terminal shows are the words the same
command writes into a pipe (where nothing is wrapped), so no value is cut (`…`) and no word or
token is broken (`setuptools==80.` / `9.0`); no line is longer than the terminal (which would
fold it anywhere); a `$` command longer than a line goes on over lines that end ` \\`, so that
the lines, pasted, are the one command of the pipe. (A single word wider than the terminal
cannot be whole on it: the values here are at most 80 characters.)"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest
from conftest import REPO
from screen import Screen

WIDTH = 80
BOX = re.compile(r"[│┃━─╇╈┼┡┩┏┓┗┛╋]")
FREE = re.compile(r"\b[\d.]+ GiB free\b")  # free disk space moves between two runs
SEED = ["install", "--dry-run", "--cuda", "11.6", "--python-version", "3.10", "--mmdet", "2"]
SEED += ["--driver", "535.104.05", "--gpu-cc", "8.6"]


def words(text: str) -> Counter[str]:
    """The words of an output, table borders, line continuations and free GiB aside."""
    lines = []
    for line in text.splitlines():
        line = BOX.sub(" ", line)
        lines.append(line[:-2] if line.endswith(" \\") else line)
    return Counter(FREE.sub("N GiB free", " ".join(" ".join(lines).split())).split())


def commands(lines: list[str]) -> list[str]:
    """Each `$` command as pasted: its lines joined where they end ` \\`."""
    out: list[str] = []
    going_on = False
    for line in lines:
        text = line.strip()
        if going_on:
            out[-1] += " " + text.removesuffix(" \\")
        elif text.startswith("$ "):
            out.append(text[2:].removesuffix(" \\"))
        going_on = (going_on or text.startswith("$ ")) and text.endswith(" \\")
    return out


def piped(mmdoctor, *args: str, cwd: Path | None = None) -> str:
    run = mmdoctor(*args, env={**os.environ, "COLUMNS": "80"}, cwd=cwd)
    return run.stdout + run.stderr


def assert_reads_at_80(mmdoctor, *args: str, cwd: Path | None = None) -> list[str]:
    shown = Screen.run(*args, cwd=cwd)
    lines = shown.lines
    too_long = [line for line in lines if len(line) > WIDTH]
    assert not too_long, "\n".join(too_long)
    pipe = piped(mmdoctor, *args, cwd=cwd)
    assert words(shown.text) == words(pipe), (
        words(shown.text) - words(pipe),
        words(pipe) - words(shown.text),
    )
    assert commands(lines) == commands(pipe.splitlines())
    return lines


def test_checks_advice_commands_go_on_between_tokens(mmdoctor, stack_venv: Path) -> None:
    # `setuptools==80.` / `9.0`: the terminal folded a one-line command inside a token
    lines = assert_reads_at_80(mmdoctor, "check", "--python", str(stack_venv))
    assert any(line.endswith(" \\") for line in lines)
    pasted = commands(lines)
    assert any("setuptools==80.9.0 wheel ninja psutil" in c for c in pasted)


def test_a_bare_check(mmdoctor, stack_venv: Path) -> None:
    assert_reads_at_80(mmdoctor, "check", cwd=stack_venv.parent)


@pytest.mark.parametrize(
    "plan",
    [
        SEED,  # the openmmlab wheel page in the table, --index-url in a step
        ["install", "--dry-run", "--python-version", "3.11", "--driver", "580.65.06",
         "--gpu-cc", "9.0", "--line", "onedl"],  # a source build: its long steps
        ["install", "--dry-run", "--python-version", "3.10", "--driver", "535.104.05",
         "--gpu-cc", "8.6", "--torch-index-url", "https://mirror.internal/pytorch/whl/cu118",
         "--mmcv-base-url", "https://mirror.internal/openmmlab"],  # URLs of 77 characters
        ["install", "--dry-run", "--python-version", "3.11", "--torch-source", "pypi"],
    ],
)  # fmt: skip
def test_plans_cut_and_break_nothing(mmdoctor, plan: list[str]) -> None:
    # the table cut and folded values (`…/torch1.13.0/in` / `dex.html`); `--index` / `-url`
    lines = assert_reads_at_80(mmdoctor, *plan)
    assert not [line for line in lines if "…" in line]


def test_the_torchvision_check_is_a_probe_shown_by_name(mmdoctor) -> None:
    # the nms one-liner of every plan spanned six lines
    lines = assert_reads_at_80(mmdoctor, *SEED)
    step = next(i for i, line in enumerate(lines) if "import and run a tiny nms" in line)
    shown = "\n".join(lines[step : step + 4])
    assert "verify-torch" in shown and "torchvision.ops.nms(" not in "\n".join(lines), shown
    doc = mmdoctor(*SEED, "--json").json()  # the exact argv stays in the JSON (and the log)
    argv = next(s["argv"] for s in doc["plan"]["steps"] if "tiny nms" in s["description"])
    assert argv[:3] == ["python", "-I", "-c"] and "torchvision.ops.nms(" in argv[3]


def test_fix_dry_run(mmdoctor, stack_venv: Path) -> None:
    assert_reads_at_80(mmdoctor, "fix", "--dry-run", "--cpu-only", "--python", str(stack_venv))


def test_smoke_tests_paths_and_fixes_hang_under_their_lead(mmdoctor, bare_venv: Path) -> None:
    # the image path and the `Fix:` lines fell back to column 0
    lines = assert_reads_at_80(
        mmdoctor, "smoke-test", "--python", str(bare_venv), "--device", "cpu"
    )
    body = lines[lines.index(next(line for line in lines if line.startswith("  image:"))) :]
    lead = [line for line in body if line and not line.startswith(" ")]
    assert all(line.startswith(("[", "Stage ")) for line in lead), lead
    fix = next(i for i, line in enumerate(lines) if line.startswith("    Fix: "))
    assert lines[fix + 1].startswith(" " * 9), lines[fix : fix + 2]


def test_list_checks_wraps_under_the_title(mmdoctor) -> None:
    # "a Python..." cut short by the terminal
    lines = assert_reads_at_80(mmdoctor, "check", "--list-checks")
    assert all(line.startswith(" " * 23) for line in lines if line.startswith(" "))


@pytest.mark.parametrize("group", [[], ["fleet"]])
def test_the_command_lists_of_help_cut_nothing(mmdoctor, group: list[str]) -> None:
    lines = assert_reads_at_80(mmdoctor, *group, "--help")
    listed = lines[lines.index("Commands:") + 1 :]
    assert listed and not [line for line in listed if "..." in line], listed


def test_the_matrix_table_cuts_nothing(mmdoctor) -> None:
    lines = assert_reads_at_80(mmdoctor, "matrix")
    assert not [line for line in lines if "…" in line]


def test_diagnose(mmdoctor) -> None:
    log = REPO / "tests" / "data" / "logs" / "cuda-driver-too-old.log"
    assert_reads_at_80(mmdoctor, "diagnose", str(log))
