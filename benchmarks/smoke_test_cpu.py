"""Wall time of `mmdoctor smoke-test` and of each stage, on the CPU, with random weights.

Usage: python benchmarks/smoke_test_cpu.py --python ENV/bin/python [--model retinanet-r50]
       [--repeat 3] [--runs 3]

ENV needs torch, a compiled mmcv and mmdet (the test suite's `stack-for-repair` venv is one).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True)
    parser.add_argument("--model", default="retinanet-r50")
    parser.add_argument("--repeat", type=int, default=3, help="whole smoke tests to time")
    parser.add_argument("--runs", type=int, default=3, help="timed inferences inside each")
    args = parser.parse_args()
    argv = [
        sys.executable, "-m", "mmdoctor", "smoke-test", "--python", args.python,
        "--device", "cpu", "--weights", "none", "--model", args.model,
        "--runs", str(args.runs), "--json",
    ]  # fmt: skip
    walls: list[float] = []
    per_stage: dict[str, list[float]] = {}
    latency: list[float] = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        walls.append(time.perf_counter() - started)
        doc = json.loads(done.stdout)
        for stage in doc["stages"]:
            per_stage.setdefault(stage["id"], []).append(stage["seconds"] or 0.0)
        latency.append(doc["timing"].get("median_seconds") or 0.0)
    print(
        f"{args.model} on the CPU, random weights, {args.repeat} smoke tests, {args.runs} runs each"
    )
    print(f"  whole smoke-test: median {statistics.median(walls):.1f} s (min {min(walls):.1f} s)")
    for stage, seconds in per_stage.items():
        print(f"  stage {stage:<10} median {statistics.median(seconds):.2f} s")
    print(f"  inference latency: median {statistics.median(latency):.2f} s per image")


if __name__ == "__main__":
    main()
