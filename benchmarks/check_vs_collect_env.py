"""How long `mmdoctor check` takes next to the tools people use today, in the same environment.

Compares, as whole processes (what a user waits for), several runs each:
  - mmdoctor check --python ENV --json        (every check, every probe)
  - ENV/python -m torch.utils.collect_env       (PyTorch's report)
  - ENV/python -c "import mmdet.utils; ...collect_env()"   (MMDetection's report)
  - mmdoctor --help                              (start-up cost of the CLI)

Usage:
  python benchmarks/check_vs_collect_env.py [--python ENV_PYTHON] [--runs 5]

Without --python it builds (once, cached in .cache/bench-env) a venv with torch 2.13.0 CPU,
mmengine 0.10.7, mmcv-lite 2.1.0 and mmdet 3.3.0: the newest stack whose `import mmdet`
passes mmdet's own version check without a compiled mmcv.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH_ENV = REPO / ".cache" / "bench-env"
REQUIREMENTS = ["torch==2.13.0", "mmengine==0.10.7", "mmcv-lite==2.1.0", "mmdet==3.3.0"]
MMDET_COLLECT_ENV = "import mmdet.utils as u; print(u.collect_env())"


def ensure_env() -> Path:
    python = BENCH_ENV / "bin" / "python"
    if (BENCH_ENV / ".ready").is_file():
        return python
    shutil.rmtree(BENCH_ENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(BENCH_ENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    (BENCH_ENV / ".ready").write_text("ok\n")
    return python


def time_runs(argv: list[str], runs: int) -> tuple[list[float], int]:
    times = []
    code = 0
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
        code = done.returncode
    return times, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", help="interpreter of the environment to measure")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    python = args.python or str(ensure_env())
    mmdoctor = [sys.executable, "-m", "mmdoctor"]
    cases = {
        "mmdoctor check": [*mmdoctor, "check", "--python", python, "--json"],
        "torch collect_env": [python, "-m", "torch.utils.collect_env"],
        "mmdet collect_env": [python, "-c", MMDET_COLLECT_ENV],
        "mmdoctor --help": [*mmdoctor, "--help"],
    }
    # One untimed run each, so that every case starts from a warm page cache.
    for argv in cases.values():
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    results = {}
    for name, argv in cases.items():
        times, code = time_runs(argv, args.runs)
        results[name] = {
            "median_s": round(statistics.median(times), 3),
            "min_s": round(min(times), 3),
            "max_s": round(max(times), 3),
            "runs": args.runs,
            "exit_code": code,
        }
    if args.json:
        print(json.dumps({"python": python, "results": results}, indent=2))
        return
    print(f"environment: {python}  ({args.runs} runs each, whole process, wall clock)")
    print(f"{'command':<20} {'median':>8} {'min':>8} {'max':>8}  exit")
    for name, figures in results.items():
        print(
            f"{name:<20} {figures['median_s']:>7.3f}s {figures['min_s']:>7.3f}s "
            f"{figures['max_s']:>7.3f}s  {figures['exit_code']}"
        )


if __name__ == "__main__":
    main()
