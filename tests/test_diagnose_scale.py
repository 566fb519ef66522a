"""diagnose on logs people really paste, big and hostile: every pattern has a needle that lets a
log skip it, no pattern takes super-linear time on a line built to make it backtrack, and a
100 MB log is matched in bounded memory. (How long a 100 MB log takes is measured by
benchmarks/diagnose_large_log.py, with its figures in docs/benchmarks.md.)"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

from mmdoctor.knowledge import Pattern, clean, load_knowledge, needles_of

LOGS = REPO / "tests" / "data" / "logs"
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
    log = tmp_path / "train.log"
    progress = "".join(
        f"2026/11/30 10:{i % 60:02d}:{i % 60:02d} - mmengine - INFO - Epoch(train) [1][{i}/7330]"
        f"  lr: 2.0000e-02  eta: 1 day, 2:03:04  time: 0.41  loss: 1.{i:04d}\n"
        for i in range(10_000)
    )
    failure = (LOGS / "pkg-resources-removed-mmcv-build.log").read_text(encoding="utf-8")
    with log.open("w", encoding="utf-8") as out:
        for _ in range(100 * 2**20 // len(progress) + 1):
            out.write(progress)
        out.write(failure)
    # The child's peak memory, from a wrapper that only waits for it (getrusage of children).
    wrapper = (
        "import resource, subprocess, sys;"
        "run = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss;"
        "print(run.returncode, peak, run.stdout, sep='\\n', end='')"
    )
    command = [sys.executable, "-m", "mmdoctor", "diagnose", str(log), "--json"]
    run = subprocess.run(
        [sys.executable, "-c", wrapper, *command],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    code, peak_kib, stdout = run.stdout.split("\n", 2)
    assert code == "0", run.stdout
    assert json.loads(stdout)["matches"][0]["id"] == "pkg-resources-removed-mmcv-build"
    assert int(peak_kib) < 500 * 1024, f"peak {int(peak_kib) // 1024} MiB"
