"""How long `mmdoctor diagnose` takes on a 100 MB log, and its peak memory (targets: under
20 s, under 500 MB); and the slowest patterns on hostile lines (each pattern's needles repeated).

The log is what a long run leaves: mmengine training progress and pip output, with the failure
at the very end, so every pattern has the whole log to scan; a second log ends with a failure
no entry knows, so the decisive-line fallback runs too. The run is a real
`python -m mmdoctor diagnose LOG --json` in a child process.

Usage: python benchmarks/diagnose_large_log.py [--mib 100] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mmdoctor.knowledge import load_knowledge

REPO = Path(__file__).resolve().parents[1]
FAILURE = REPO / "tests" / "data" / "logs" / "pkg-resources-removed-mmcv-build.log"
UNKNOWN = REPO / "tests" / "data" / "fallback" / "native-library.gaitgraph2-8.log"
PIP_LINES = (
    "Collecting numpy>=1.21 (from mmdet==3.3.0)\n"
    "  Downloading numpy-1.26.4-cp310-cp310-manylinux_2_17_x86_64.whl.metadata (61 kB)\n"
    "Requirement already satisfied: pillow in ./venv/lib/python3.10/site-packages (10.4.0)\n"
    "Looking in indexes: https://pypi.org/simple, https://download.pytorch.org/whl/cu121\n"
    "Successfully installed addict-2.4.0 mmengine-0.10.7 opencv-python-4.10.0.84\n"
)


def write_log(path: Path, mib: int, failure: Path = FAILURE) -> None:
    """`mib` MiB of training progress and pip output, then a failure's log."""
    block = "".join(
        f"2026/11/30 10:{i % 60:02d}:{i % 60:02d} - mmengine - INFO - Epoch(train) [1][{i}/7330]"
        f"  lr: 2.0000e-02  eta: 1 day, 2:03:04  time: 0.41  loss: 1.{i:04d}\n"
        + (PIP_LINES if i % 50 == 0 else "")
        for i in range(10_000)
    )
    with path.open("w", encoding="utf-8") as out:
        for _ in range(mib * 2**20 // len(block) + 1):
            out.write(block)
        out.write(failure.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Measured:
    """One `diagnose LOG --json` in a child process, measured by a wrapper that only waits."""

    seconds: float
    cpu_seconds: float  # user + system: what a busy machine's other work does not inflate
    peak_kib: int  # the child's peak resident memory (getrusage of children)
    returncode: int
    stdout: str


def one_run(log: Path) -> Measured:
    wrapper = (
        "import resource, subprocess, sys, time;"
        "t = time.perf_counter();"
        "run = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
        "took = time.perf_counter() - t;"
        "usage = resource.getrusage(resource.RUSAGE_CHILDREN);"
        "cpu = usage.ru_utime + usage.ru_stime;"
        "print(took, cpu, usage.ru_maxrss, run.returncode, run.stdout, sep='\\n', end='')"
    )
    command = [sys.executable, "-m", "mmdoctor", "diagnose", str(log), "--json"]
    out = subprocess.run(
        [sys.executable, "-c", wrapper, *command],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    seconds, cpu, peak, code, stdout = out.stdout.split("\n", 4)
    return Measured(float(seconds), float(cpu), int(peak), int(code), stdout)


def slowest_patterns(count: int = 5, chars: int = 400_000) -> list[tuple[float, str]]:
    times = []
    for failure in load_knowledge().failures:
        for pattern in (*(s.pattern for s in failure.signatures), *failure.requires_any):
            worst = 0.0
            for needle in pattern.needles:
                text = "\n".join([needle] * (chars // (len(needle) + 1)))
                started = time.perf_counter()
                pattern.regex.search(text)
                worst = max(worst, time.perf_counter() - started)
            times.append((worst, f"{failure.id}: {pattern.regex.pattern[:60]}"))
    return sorted(times, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for failure, what in ((FAILURE, "the failure at the end"), (UNKNOWN, "nothing known")):
        with tempfile.TemporaryDirectory() as folder:
            log = Path(folder) / "train.log"
            write_log(log, args.mib, failure)
            runs = [one_run(log) for _ in range(args.runs)]
            size = log.stat().st_size / 2**20
        expected = 0 if failure is FAILURE else 1  # a known cause, or nothing known
        if any(r.returncode != expected for r in runs):
            raise SystemExit(f"diagnose did not exit {expected} on {what}:\n{runs[0].stdout}")
        rows.append((what, size, runs))
    for what, size, runs in rows:
        seconds = [r.seconds for r in runs]
        print(f"log: {size:.0f} MiB, {what}, {args.runs} runs")
        cpu = statistics.median(r.cpu_seconds for r in runs)
        print(f"  diagnose: median {statistics.median(seconds):.1f} s, max {max(seconds):.1f} s")
        print(f"  CPU time: median {cpu:.1f} s (load average {os.getloadavg()[0]:.1f} now)")
        print(f"  peak memory: {max(r.peak_kib for r in runs) / 1024:.0f} MiB")
    print("slowest patterns on a hostile line (needles repeated, 400k characters):")
    for took, name in slowest_patterns():
        print(f"  {took * 1000:7.1f} ms  {name}")


if __name__ == "__main__":
    main()
