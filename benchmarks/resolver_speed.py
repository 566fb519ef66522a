"""How long the resolver takes per plan (target: under 50 ms), in-process, no probing.

Usage: python benchmarks/resolver_speed.py [--runs 50]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from packaging.version import Version

from mmdoctor.planning.machine import Machine
from mmdoctor.planning.matrix import load_matrix
from mmdoctor.planning.resolver import resolve
from mmdoctor.planning.wishes import Wishes

CASES = {
    "A100, Python 3.10, no wishes": (
        Machine("linux", Version("3.10"), Version("535.104.05"), (Version("8.0"),)),
        Wishes(),
    ),
    "seed: --cuda 11.6 --mmdet 2, Python 3.10": (
        Machine("linux", Version("3.10"), Version("535.104.05"), (Version("8.6"),)),
        Wishes(cuda=Version("11.6"), mmdet="2"),
    ),
    "no plan + suggestions: the seed on Python 3.11": (
        Machine("linux", Version("3.11"), Version("535.104.05"), (Version("8.6"),)),
        Wishes(cuda=Version("11.6"), mmdet="2"),
    ),
    "RTX 5090, Python 3.12": (
        Machine(
            "linux", Version("3.12"), Version("580.95.05"), (Version("12.0"),), Version("13.0")
        ),
        Wishes(),
    ),
    "CPU box, Python 3.11": (Machine("linux", Version("3.11")), Wishes()),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    matrix = load_matrix()
    print(f"{'case':<48} {'median':>9} {'max':>9}")
    for name, (machine, wishes) in CASES.items():
        times = []
        for _ in range(args.runs):
            # as a command finds it: no build verdict answered yet
            fresh = replace(matrix, source_builds=replace(matrix.source_builds))
            started = time.perf_counter()
            resolve(machine, wishes, fresh)
            times.append((time.perf_counter() - started) * 1000)
        print(f"{name:<48} {statistics.median(times):>7.1f}ms {max(times):>7.1f}ms")


if __name__ == "__main__":
    main()
