"""`mmdoctor diagnose` against the team's log samples (tests/data/logs/): the right root cause
for every sample, nothing confident for unrelated logs, and the CLI contract."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from mmdoctor.diagnose import CONFIDENT, decode_log, match_log
from mmdoctor.errors import UsageError
from mmdoctor.knowledge import load_knowledge, render_markdown

LOGS = REPO / "tests" / "data" / "logs"
SAMPLES = sorted(p for p in LOGS.glob("*.log"))
UNRELATED = sorted((LOGS / "none").glob("*.log"))


def diagnose_file(path: Path) -> list:
    return match_log(decode_log(path.read_bytes(), path.name), load_knowledge())


@pytest.mark.parametrize("log", SAMPLES, ids=[p.name for p in SAMPLES])
def test_each_sample_names_its_root_cause_first(log: Path) -> None:
    expected = log.name.split(".")[0]
    matches = diagnose_file(log)
    assert matches, "nothing matched"
    top = matches[0]
    assert top.failure.id == expected, [(m.failure.id, m.confidence) for m in matches[:4]]
    assert top.confidence >= CONFIDENT
    assert top.evidence, "no evidence lines"


def test_chain_samples_put_the_first_link_first() -> None:
    chains = [p for p in SAMPLES if ".chain." in p.name]
    assert len(chains) >= 2
    for log in chains:
        top = diagnose_file(log)[0]
        assert top.chain, f"{log.name}: the downstream failures are not shown as a chain"


@pytest.mark.parametrize("log", UNRELATED, ids=[p.name for p in UNRELATED])
def test_unrelated_logs_match_nothing_confidently(log: Path) -> None:
    assert all(m.confidence < CONFIDENT for m in diagnose_file(log))


def test_every_entry_has_a_sample_a_source_and_a_fix() -> None:
    knowledge = load_knowledge()
    names = {p.name.split(".")[0] for p in SAMPLES}
    for failure in knowledge.failures:
        assert failure.id in names, f"{failure.id}: no sample log"
        assert failure.sources and failure.fix_text and failure.root_cause, failure.id


def test_binary_input_is_refused() -> None:
    with pytest.raises(UsageError, match="binary data"):
        decode_log(b"\x7fELF\x00\x00\x00" + bytes(range(256)), "a.out")


def test_the_docs_page_is_generated_from_the_data() -> None:
    page = (REPO / "docs" / "known-failures.md").read_text()
    assert page == render_markdown(load_knowledge()), (
        "docs/known-failures.md is stale: python -m mmdoctor.knowledge > docs/known-failures.md"
    )


# ------------------------------------------------------------------- the CLI


def test_cli_json_names_the_cause(mmdoctor) -> None:
    log = next(p for p in SAMPLES if p.name.startswith("mmcv-too-new-for-mmdet3"))
    run = mmdoctor("diagnose", str(log), "--json")
    assert run.returncode == 0
    doc = run.json()
    assert doc["command"] == "diagnose" and doc["status"] == "found"
    top = doc["matches"][0]
    assert top["id"] == "mmcv-too-new-for-mmdet3"
    assert top["evidence_lines"] and top["fix"]["text"]


def test_cli_unknown_log_exits_1_with_what_to_report(mmdoctor) -> None:
    unrelated = next(p for p in UNRELATED if p.read_text().strip())  # an empty one is exit 2
    run = mmdoctor("diagnose", str(unrelated))
    assert run.returncode == 1
    assert "mmdoctor check --format markdown" in run.stdout


def test_cli_reads_stdin_and_refuses_binary_and_missing_files(tmp_path: Path) -> None:
    log = next(p for p in SAMPLES if p.name.startswith("libgl-missing"))
    env_src = str(REPO / "src")
    done = subprocess.run(
        [sys.executable, "-m", "mmdoctor", "diagnose", "-", "--json"],
        input=log.read_bytes(), capture_output=True, timeout=60,
        env={"PYTHONPATH": env_src, "PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    binary = tmp_path / "core"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    for target in (str(binary), str(tmp_path / "missing.log")):
        bad = subprocess.run(
            [sys.executable, "-m", "mmdoctor", "diagnose", target],
            capture_output=True, text=True, timeout=60, env={"PYTHONPATH": env_src},
        )  # fmt: skip
        assert bad.returncode == 2
        assert "Traceback" not in bad.stderr


def test_the_environment_confirms_the_log(mmdoctor, mim_venv: Path) -> None:
    """The mim log, checked against a venv that really has the problem (openmim + setuptools
    84): the match is confirmed by `check` on that environment."""
    log = next(p for p in SAMPLES if p.name.startswith("pkg-resources-removed-mim"))
    run = mmdoctor("diagnose", str(log), "--python", str(mim_venv), "--json")
    top = run.json()["matches"][0]
    assert top["id"] == "pkg-resources-removed-mim"
    assert top["confidence"] >= 0.95
    assert any(note.startswith("confirmed in this environment") for note in top["notes"])


# ------------------------------------------------------------------- at a terminal (issue 13.13)


def test_empty_input_is_bad_input(mmdoctor, tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_text("\n  \n")
    run = mmdoctor("diagnose", str(empty), "--json")
    assert run.returncode == 2
    assert run.stderr.strip() == f"mmdoctor: error: {empty}: empty, there is no log to read"
    assert run.json()["status"] == "error"


def test_templates_are_not_shown_as_commands_and_v_shows_the_chain(mmdoctor) -> None:
    log = REPO / "tests" / "data" / "logs" / "build-isolation-no-torch.chain.log"
    run = mmdoctor("diagnose", str(log), "-v")
    assert run.returncode == 0
    assert (
        "template (fill in <mmcv_version>): python -m pip install mmcv==<mmcv_version>"
        in run.stdout
    )
    assert "$ python -m pip install mmcv==<mmcv_version>" not in run.stdout
    assert "    then mmcv-ext-missing: " in run.stdout  # the chain's later link, named
    assert "then mmcv-ext-missing" not in mmdoctor("diagnose", str(log)).stdout
    fix = mmdoctor("diagnose", str(log), "--json").json()["matches"][0]["fix"]
    assert fix["templates"] == ["python -m pip install mmcv==<mmcv_version> --no-build-isolation"]


def test_at_a_terminal_it_asks_for_the_log_and_ctrl_c_is_130() -> None:
    import pty
    import signal
    import time

    leader, follower = pty.openpty()
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmdoctor", "diagnose"],
        stdin=follower, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    os.close(follower)
    try:
        assert proc.stderr is not None
        prompt = proc.stderr.readline().decode()
        assert prompt.startswith("Paste the log, then Ctrl-D"), prompt
        time.sleep(0.3)  # it is reading the terminal now
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        os.close(leader)
        proc.kill()
    assert proc.returncode == 130, err
    # no "(--debug shows the traceback)": there is no traceback to show (issue 27.6)
    assert err.decode().strip() == "mmdoctor: error: interrupted (Ctrl-C)"


# ------------------------------------------------------------------- advice that installs (13.6)


def test_the_torch_command_is_the_one_install_plans_for_the_environment(
    mmdoctor, tmp_path: Path
) -> None:
    """The entry's own pin (torch 2.1.2) has no wheel for Python 3.12: with --python, the torch
    step is the one `install` plans for that venv; without, the pin is said to be an example."""
    found = sorted(Path.home().glob(".pyenv/versions/3.12.*/bin/python3.12"))
    if not found:
        pytest.skip("no Python 3.12 from pyenv here")
    venv = tmp_path / "py312"
    subprocess.run([str(found[0]), "-m", "venv", str(venv)], check=True, timeout=120)
    log = LOGS / "mmcv-no-prebuilt-wheel-source-build.log"
    alone = mmdoctor("diagnose", str(log), "--json").json()["matches"][0]
    assert any("torch==2.1.2" in c for c in alone["fix"]["commands"])
    assert any("versions above are examples" in n for n in alone["notes"])

    run = mmdoctor("diagnose", str(log), "--python", str(venv), "--json")
    top = run.json()["matches"][0]
    assert top["id"] == "mmcv-no-prebuilt-wheel-source-build"
    plan = mmdoctor(
        "install", "--dry-run", "--python", str(venv), "--installer", "pip", "--json"
    ).json()
    steps = plan["plan"]["steps"]
    torch_at = next(i for i, s in enumerate(steps) if s["description"].startswith("torch "))
    mmcv_at = next(i for i, s in enumerate(steps) if "mmcv==" in s["description"])
    commands = top["fix"]["commands"]
    # the plan's torch step, then its mim and mmcv steps in its order (not the verify step),
    # then its pins (onedl's one OpenCV version)
    pins = [s for s in steps if s["description"].startswith("pins for this stack")]
    assert commands == [
        shlex.join(s["argv"])
        for s in [*steps[torch_at : mmcv_at + 1], *pins]
        if "import and run a tiny nms" not in s["description"]
    ], (commands, steps)
    assert not any("torch==2.1." in c or "mmcv==2.1.0" in c for c in commands)  # no cp312
    assert any("plans here" in n for n in top["notes"]), top["notes"]


def test_fitted_commands_carry_the_pins_install_adds_for_that_torch() -> None:
    """Where the plan's torch needs NumPy 1.x (torch 2.1.2 for Python 3.11 on a cu121 driver),
    the fitted steps end with install's pin step, as `fix` and `install` run it (issue 25)."""
    from builders import env, failed_step, nvidia

    from mmdoctor.checks.model import Context
    from mmdoctor.checks.torch import planned_stack
    from mmdoctor.diagnose import fit_stack_commands
    from mmdoctor.planning.matrix import load_matrix

    missing = [failed_step("torch", "ModuleNotFoundError: No module named 'torch'", missing=True)]
    here = env(nvidia_info=nvidia("535.104.05", "12.2", "8.6"), steps=missing, python="3.11.7")
    planned = planned_stack(Context(here, load_matrix(), cpu_only=False))
    assert planned is not None and "torch==2.1.2" in planned.torch, planned
    assert "'numpy<2'" in planned.pins, planned.pins
    log = LOGS / "mmcv-no-prebuilt-wheel-source-build.log"
    fitted = fit_stack_commands(diagnose_file(log)[:1], planned)[0].fitted_commands
    assert fitted[0] == planned.torch and fitted[-1] == planned.pins, fitted
