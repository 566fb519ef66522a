"""`mmdoctor diagnose` against the team's log samples (tests/data/logs/): the right root cause
for every sample, nothing confident for unrelated logs, and the CLI contract."""

from __future__ import annotations

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
    run = mmdoctor("diagnose", str(UNRELATED[0]))
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
