"""How long a bare `mmdoctor check` takes (no environment named or active; target: under 3 s),
run where the tests keep their venvs, so that it lists them all.

Whole processes, as a person waits for them, several runs each after one untimed run (a warm
page cache):
  - mmdoctor check           (the machine's checks, the download hosts asked, every
                              environment found on PATH, conda's, pyenv's and the venvs in
                              FOLDER and two levels below, each run once)
  - mmdoctor check --offline (the same without asking the download hosts)

Usage:
  python benchmarks/bare_check.py [--folder DIR] [--runs 7] [--json]

FOLDER defaults to $MMDOCTOR_TEST_CACHE, else .cache/test-envs: the venvs the tests build.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def one_run(argv: list[str], folder: Path, env: dict[str, str]) -> tuple[float, dict]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    return seconds, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("MMDOCTOR_TEST_CACHE") or str(REPO / ".cache" / "test-envs")
    parser.add_argument("--folder", default=default, help="where to run it (its venvs are listed)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    folder = Path(args.folder)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env.pop("MMDOCTOR_PYTHON", None)
    mmdoctor = [sys.executable, "-m", "mmdoctor", "check", "--json"]
    cases = {"mmdoctor check": mmdoctor, "mmdoctor check --offline": [*mmdoctor, "--offline"]}
    results = {}
    for name, argv in cases.items():
        one_run(argv, folder, env)  # untimed: a warm page cache
        times, doc = [], {}
        for _ in range(args.runs):
            seconds, doc = one_run(argv, folder, env)
            times.append(seconds)
        found = doc["environments"]
        results[name] = {
            "median_s": round(statistics.median(times), 3),
            "min_s": round(min(times), 3),
            "max_s": round(max(times), 3),
            "environments": len(found),
            "in_folder": sum(e["where"] == "current folder" for e in found),
            "exit_code": doc["exit_code"],
        }
    if args.json:
        print(json.dumps({"folder": str(folder), "runs": args.runs, "results": results}, indent=2))
        return
    print(f"{args.runs} runs each, in {folder}")
    print("| command | median | min | max | environments listed (in the folder) | exit |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        listed = f"{r['environments']} ({r['in_folder']})"
        print(
            f"| `{name}` | {r['median_s']:.2f} s | {r['min_s']:.2f} s | {r['max_s']:.2f} s "
            f"| {listed} | {r['exit_code']} |"
        )


if __name__ == "__main__":
    main()
