"""known_failures.yaml: valid against its schema, complete, and proven on sample logs.

Sample logs live in tests/data/logs. A sample's name starts with the id it belongs to
(`<id>.log`, `<id>.<variant>.log`); `<root-id>.chain.log` holds a chain of failures whose root
(the one to fix first) is `<root-id>`. Logs under none/ must match nothing at all.
Patterns are searched in the text with ANSI escape codes and carriage returns removed (here;
diagnose normalises more, see logtext.py, and tests/test_logtext.py tests that).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "known_failures.yaml"
SCHEMA = REPO / "known_failures.schema.json"
LOGS = Path(__file__).resolve().parent / "data" / "logs"
REFERENCES = (
    Path("/work/shared/reference/known-failures.md"),
    REPO.parent / "shared" / "reference" / "known-failures.md",
)
STRONG = 0.6  # the most specific pattern of an entry has at least this weight
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
ID_HEADING = re.compile(r"^### ([a-z0-9]+(?:-[a-z0-9]+)+)[ \t]*$", re.MULTILINE)

RAW = yaml.safe_load(DATA.read_text(encoding="utf-8"))
ENTRIES = {entry["id"]: entry for entry in RAW["failures"]}
SAMPLES = sorted(p for p in LOGS.glob("*.log"))
NONE_SAMPLES = sorted(p for p in (LOGS / "none").glob("*.log"))


def clean(raw: bytes) -> str:
    return ANSI.sub("", raw.decode("utf-8")).replace("\r", "")


@cache
def text_of(path: Path) -> str:
    return clean(path.read_bytes())


@cache
def rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def strong_patterns(entry: dict) -> list[str]:
    return [s["pattern"] for s in entry["signatures"] if s["weight"] >= STRONG]


def matches(entry: dict, text: str) -> bool:
    """The entry is diagnosed: a strong pattern matches and requires_any (if any) is met."""
    required = entry.get("requires_any") or []
    if required and not any(rx(p).search(text) for p in required):
        return False
    return any(rx(p).search(text) for p in strong_patterns(entry))


def sample_id(path: Path) -> str:
    return path.name.split(".", 1)[0]


def samples_of(failure_id: str) -> list[Path]:
    return [p for p in SAMPLES if sample_id(p) == failure_id]


def ancestors(failure_id: str) -> set[str]:
    seen: set[str] = set()
    todo = list(ENTRIES[failure_id].get("causes") or [])
    while todo:
        cause = todo.pop()
        if cause not in seen:
            seen.add(cause)
            todo.extend(ENTRIES[cause].get("causes") or [])
    return seen


def test_file_matches_its_schema() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(RAW, schema)


def test_ids_are_unique() -> None:
    ids = [entry["id"] for entry in RAW["failures"]]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_every_failure_of_the_reference_is_there() -> None:
    reference = next((p for p in REFERENCES if p.is_file()), None)
    if reference is None:
        pytest.skip("known-failures.md reference notes are not available here")
    wanted = ID_HEADING.findall(reference.read_text(encoding="utf-8"))
    assert wanted, f"no '### <id>' headings found in {reference}"
    assert sorted(set(wanted) - set(ENTRIES)) == []


@pytest.mark.parametrize("failure_id", sorted(ENTRIES))
def test_patterns_compile_and_one_is_specific(failure_id: str) -> None:
    entry = ENTRIES[failure_id]
    patterns = [s["pattern"] for s in entry["signatures"]] + list(entry.get("requires_any") or [])
    for pattern in patterns:
        try:
            rx(pattern)
        except re.error as error:
            pytest.fail(f"{failure_id}: {pattern!r} does not compile: {error}")
    assert strong_patterns(entry), f"{failure_id}: no pattern with weight >= {STRONG}"


@pytest.mark.parametrize("failure_id", sorted(ENTRIES))
def test_samples_prove_the_patterns(failure_id: str) -> None:
    entry = ENTRIES[failure_id]
    samples = samples_of(failure_id)
    assert samples, f"no sample log named {failure_id}.log or {failure_id}.*.log in {LOGS}"
    texts = [text_of(p) for p in samples]
    for pattern in strong_patterns(entry):
        assert any(rx(pattern).search(t) for t in texts), (
            f"{failure_id}: strong pattern {pattern!r} matches none of its samples"
        )
    for path, text in zip(samples, texts, strict=True):
        assert matches(entry, text), f"{path.name} is not diagnosed as {failure_id}"


def test_every_sample_belongs_to_an_entry() -> None:
    assert sorted({sample_id(p) for p in SAMPLES} - set(ENTRIES)) == []


def test_causes_name_entries_and_have_no_cycle() -> None:
    for failure_id, entry in ENTRIES.items():
        causes = entry.get("causes") or []
        assert set(causes) <= set(ENTRIES), (failure_id, sorted(set(causes) - set(ENTRIES)))
    for failure_id in ENTRIES:
        assert failure_id not in ancestors(failure_id), f"cycle through {failure_id}"


def test_chain_samples_hold_a_chain_with_their_root() -> None:
    chains = [p for p in SAMPLES if p.name.endswith(".chain.log")]
    assert len(chains) >= 2
    for path in chains:
        text = text_of(path)
        root = sample_id(path)
        found = {i for i, entry in ENTRIES.items() if matches(entry, text)}
        downstream = {i for i in found - {root} if root in ancestors(i)}
        assert root in found and downstream, (path.name, sorted(found))


def test_other_samples_point_at_their_own_entry_only() -> None:
    for path in SAMPLES:
        if path.name.endswith(".chain.log"):
            continue
        text = text_of(path)
        found = {i for i, entry in ENTRIES.items() if matches(entry, text)}
        assert found == {sample_id(path)}, (path.name, sorted(found))


def test_unrelated_logs_match_nothing() -> None:
    assert len(NONE_SAMPLES) >= 3
    assert any(p.stat().st_size == 0 for p in NONE_SAMPLES)
    for path in NONE_SAMPLES:
        text = text_of(path)
        for entry in ENTRIES.values():
            for signature in entry["signatures"]:
                assert not rx(signature["pattern"]).search(text), (
                    path.name,
                    entry["id"],
                    signature["pattern"],
                )


def test_samples_keep_the_shapes_users_paste() -> None:
    raws = [p.read_bytes() for p in SAMPLES]
    assert any(b"\x1b[" in raw for raw in raws), "a Jupyter log with ANSI colours"
    assert any(b"\r\n" in raw for raw in raws), "a Windows log with CRLF line endings"
    assert any(b"---->" in raw or b"---> " in raw for raw in raws), "a Jupyter traceback arrow"


def test_samples_added_for_issue_29_name_a_thread_their_entry_cites() -> None:
    manifest = yaml.safe_load((LOGS / "sources.yaml").read_text(encoding="utf-8"))
    for name, thread in manifest.items():
        assert (LOGS / name).is_file(), name
        assert thread in ENTRIES[sample_id(LOGS / name)]["sources"], (name, thread)
    for path in SAMPLES:
        if sample_id(path) in ISSUE_29_ENTRIES:
            assert path.name in manifest, f"{path.name}: no thread in {LOGS / 'sources.yaml'}"


ISSUE_29_ENTRIES = {
    "dataloader-shm-exhausted",
    "docker-gpu-runtime-missing",
    "nvidia-container-cli-nvml-missing",
    "nccl-shm-segment-failed",
    "dist-port-in-use",
    "triton-missing",
    "dynamo-python-unsupported",
    "cudnn-version-mismatch",
    "cudnn-cannot-load-libcuda",
    "mkl-ijit-undefined-symbol",
    "torch-cuda-libraries-missing",
    "cuda-fabricmanager-not-running",
    "cuda-forward-compat-unsupported",
    "pep668-externally-managed",
    "distutils-removed-py312",
    "torch-windows-fbgemm-dll",
    "thc-removed-legacy-extension",
}


def test_issue_29_added_twelve_classes_or_more_with_two_samples_each() -> None:
    assert len(ISSUE_29_ENTRIES) >= 12
    assert ISSUE_29_ENTRIES.issubset(ENTRIES)
    for failure_id in ISSUE_29_ENTRIES:
        assert len(samples_of(failure_id)) >= 2, failure_id


def test_the_readme_says_how_many_failures_are_known() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## `mmdoctor diagnose`", 1)[1].split("\n## ", 1)[0]
    assert f"{len(ENTRIES)} of them" in section
