"""How long `mmdoctor fleet report` takes over many node reports.

Makes one real `mmdoctor check --json` report (the tool's own venv, two stand-in H100s), then
writes N copies as other nodes (node0001..., every 100th with an older driver and every 250th
an error envelope), and times `mmdoctor fleet report DIR --json` as a whole process.

Usage:
  python benchmarks/fleet_report.py [--reports 1000] [--runs 5]

The issue's bound: 1,000 reports in under 2 s.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fakes.nvml import build_fake_nvml, fake_nvml_env  # noqa: E402

GPUS = ["NVIDIA H100 80GB HBM3|9.0|81559|GPU-0", "NVIDIA H100 80GB HBM3|9.0|81559|GPU-1"]
ERROR = {
    "schema": "mmdoctor/result/v1",
    "command": "check",
    "status": "error",
    "exit_code": 4,
    "environment": None,
    "checks": [],
    "errors": [{"code": 4, "message": "the probe of python timed out after 90 s"}],
}


def write_reports(folder: Path, count: int, template: dict) -> int:
    total = 0
    for index in range(1, count + 1):
        doc = copy.deepcopy(template)
        host = doc["environment"]["host"]
        host["hostname"] = f"node{index:04d}"
        host["scheduler"] = {"SLURMD_NODENAME": f"node{index:04d}", "SLURM_JOB_ID": "4242"}
        if index % 100 == 0:
            doc["environment"]["nvidia"]["driver_version"] = "535.104.05"
        text = json.dumps(ERROR if index % 250 == 0 else doc, indent=2)
        (folder / f"node{index:04d}.json").write_text(text)
        total += len(text)
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        env = fake_nvml_env(build_fake_nvml(root / "nvml"), driver="580.95.05", gpus=GPUS)
        env["PYTHONPATH"] = str(REPO / "src")
        mmdoctor = [sys.executable, "-m", "mmdoctor"]
        argv = [*mmdoctor, "check", "--python", str(REPO / ".venv"), "--offline", "--json"]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        folder = root / "reports"
        folder.mkdir()
        size = write_reports(folder, args.reports, json.loads(done.stdout))
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            report = [*mmdoctor, "fleet", "report", str(folder), "--json"]
            result = subprocess.run(report, env=env, capture_output=True, text=True, check=False)
            times.append(time.perf_counter() - started)
        counts = json.loads(result.stdout)["counts"]
    print(f"{args.reports} reports, {size / 2**20:.0f} MiB of JSON; {args.runs} runs")
    print(f"fleet report: median {statistics.median(times):.2f} s, max {max(times):.2f} s")
    print(f"counts: {counts}; exit {result.returncode}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
