"""diagnose on logs people really paste, big and hostile: every pattern has a needle that lets a
log skip it, no pattern takes super-linear time on a line built to make it backtrack, and a
100 MB log is matched in bounded memory. (How long a 100 MB log takes is measured by
benchmarks/diagnose_large_log.py, with its figures in docs/benchmarks.md.)"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

from mmdoctor.knowledge import (
    EVIDENCE_LINES,
    MIN_REPORTED,
    Pattern,
    _evidence,
    _match_one,
    clean,
    load_knowledge,
    needles_of,
    present_needles,
)

LOGS = REPO / "tests" / "data" / "logs"
BENCHMARK = REPO / "benchmarks" / "diagnose_large_log.py"
SAMPLE_TEXTS = [clean(p.read_text(encoding="utf-8")) for p in sorted(LOGS.glob("*.log"))]
PATTERNS = sorted(
    {
        (failure.id, p.regex.pattern)
        for failure in load_knowledge().failures
        for p in (*(s.pattern for s in failure.signatures), *failure.requires_any)
    }
)
# A linear scan of one hostile input takes milliseconds; a quadratic one takes minutes. The bound
# is that far from both, so it names a pattern that backtracks, not a busy machine.
HOSTILE_CHARS = 400_000
HOSTILE_SECONDS = 2.0


@pytest.mark.parametrize(
    ("source", "needles"),
    [
        (r"No module named 'mmcv\._ext'", ("No module named 'mmcv._ext'",)),
        (r"(?:Using cached|Downloading) \S*mmcv-\d", ("Downloading", "Using cached")),
        (r"mmcv-\d+\.tar\.gz|Building wheel for mmcv", (".tar.gz", "Building wheel for mmcv")),
        (r"version `GLIBC_2\.\d+' not found", ("version `GLIBC_2.",)),
        (r"(?i)killed signal", ()),
        (r"\d+ is not compiled", (" is not compiled",)),
        (r"[A-Z]+: x", (": x",)),
        (r"(?:ab)+cd|x(?:yz|w)", ("ab", "x")),
    ],
)
def test_needles_are_literals_every_match_contains(source: str, needles: tuple[str, ...]) -> None:
    assert needles_of(re.compile(source)) == tuple(sorted(needles))


@pytest.mark.parametrize(("failure_id", "source"), PATTERNS, ids=[p[1][:40] for p in PATTERNS])
def test_each_pattern_has_a_needle_and_finds_what_its_regex_finds(
    failure_id: str, source: str
) -> None:
    pattern = Pattern.compile(source)
    assert pattern.needles, f"{failure_id}: {source!r} has no literal a match must contain"
    for text in SAMPLE_TEXTS:
        assert bool(pattern.search(text)) == bool(pattern.regex.search(text)), source


def _hostile_inputs(pattern: Pattern) -> list[str]:
    """Texts that make a regex try and fail at many places: its needles, and the first line of
    its matches in the samples, each repeated on one line and on many lines, the last copy cut
    short so that nothing matches at the end."""
    seeds = list(pattern.needles)
    for text in SAMPLE_TEXTS:
        match = pattern.regex.search(text)
        if match and match.group(0):
            seeds.append(match.group(0).split("\n", 1)[0])
    out = []
    for seed in dict.fromkeys(s for s in seeds if s):
        copies = max(1, HOSTILE_CHARS // (len(seed) + 1))
        for joiner in (" ", "\n"):
            out.append(joiner.join([seed] * copies) + joiner + seed[:-1])
    return out


@pytest.mark.parametrize(("failure_id", "source"), PATTERNS, ids=[p[1][:40] for p in PATTERNS])
def test_no_pattern_backtracks_on_a_hostile_line(failure_id: str, source: str) -> None:
    pattern = Pattern.compile(source)
    for text in _hostile_inputs(pattern):
        started = time.perf_counter()
        pattern.regex.search(text)
        seconds = time.perf_counter() - started
        assert seconds < HOSTILE_SECONDS, (
            f"{failure_id}: {source!r} took {seconds:.1f} s on {len(text)} characters "
            f"starting {text[:60]!r}: bound its gaps ([^\\n]{{0,200}}), no [\\s\\S]* or nesting"
        )


def test_a_100_mb_log_is_matched_in_under_500_mb(tmp_path: Path) -> None:
    """The benchmark's own log and measurement (benchmarks/diagnose_large_log.py), asserted."""
    spec = importlib.util.spec_from_file_location("diagnose_large_log", BENCHMARK)
    assert spec is not None and spec.loader is not None
    benchmark = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = benchmark  # (its dataclass looks its module up there)
    spec.loader.exec_module(benchmark)
    log = tmp_path / "train.log"
    benchmark.write_log(log, 100)
    run = benchmark.one_run(log)
    assert run.returncode == 0, run.stdout
    assert json.loads(run.stdout)["matches"][0]["id"] == benchmark.FAILURE.name.split(".")[0]
    assert run.peak_kib < 500 * 1024, f"peak {run.peak_kib // 1024} MiB"


def _unpruned(failure, text: str):
    """What an entry's match was before the pruning: every pattern searched, requires_any first."""
    if failure.requires_any and not any(p.search(text) for p in failure.requires_any):
        return None
    miss, hits = 1.0, []
    for signature in failure.signatures:
        found = signature.pattern.search(text)
        if found:
            miss *= 1.0 - signature.weight
            hits += _evidence(signature.pattern, found, text, hits)
    confidence = round(1.0 - miss, 3)
    return None if confidence < MIN_REPORTED else (confidence, tuple(sorted(hits)[:EVIDENCE_LINES]))


def test_stopping_an_entry_early_never_changes_a_result() -> None:
    """_match_one stops searching an entry once its remaining weights cannot report it: the same
    matches, confidences and evidence as searching every pattern, on every sample."""
    texts = SAMPLE_TEXTS + [
        clean(p.read_text(encoding="utf-8"))
        for folder in ("prose", "fallback", "silent")
        for p in sorted((REPO / "tests" / "data" / folder).glob("*.*"))
        if p.suffix in (".log", ".txt")
    ]
    for text in texts:
        for failure in load_knowledge().failures:
            match = _match_one(failure, text)
            got = None if match is None else (match.confidence, match.evidence)
            assert got == _unpruned(failure, text), failure.id


def test_the_needles_found_in_one_pass_are_those_in_the_text() -> None:
    """present_needles (chunked, in UTF-8 bytes) finds exactly what `in` finds, also across a
    chunk's edge and beside characters outside Latin-1."""
    needles = load_knowledge().needles
    wide = "\u2501" * 3 + "ERROR: No matching distribution found for mmcv-full==1.7.1\u2501"
    for text in [*SAMPLE_TEXTS, wide, "x" * 70 + "pkg_resources", ""]:
        expected = {n for n in needles if n in text}
        for chunk in (7, 64, 1 << 20):
            assert present_needles(text, needles, chunk) == expected, (chunk, text[:80])
