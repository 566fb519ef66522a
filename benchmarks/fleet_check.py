"""How much a `fleet check` of several nodes costs next to one `check` on one node.

Starts a real Slurm cluster on this machine (tests/slurm_cluster.py: munged, slurmctld, one
slurmd per node; needs slurm-wlm, munge and root), gives every node two stand-in H100s (the
tests' libnvidia-ml.so.1), then times, as whole processes, several runs each of:
  - mmdoctor check --python ENV --json --offline           (one node, here)
  - mmdoctor fleet check --nodes N --python ENV --offline  (N nodes through srun)

Usage:
  python benchmarks/fleet_check.py [--python ENV] [--nodes 3] [--runs 5] [--nvml-init-seconds S]

The issue's bound: the fleet of 3 takes at most 1.5x the one check (the tasks run in parallel).
The one check's CPU time is printed too: N "nodes" on this machine share its cores, so N checks
at once cannot take less than N x that CPU time / the cores. `--nvml-init-seconds` makes every
nvmlInit wait S s (a driver without persistence mode loading on a node of many GPUs): time that
is not CPU, which N nodes spend together only when their tasks really overlap.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fakes.nvml import build_fake_nvml, fake_nvml_env, write_node_file  # noqa: E402
from slurm_cluster import SlurmCluster, missing_tools  # noqa: E402


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median_seconds(
    argv: list[str], env: dict[str, str], runs: int
) -> tuple[float, float, set[int]]:
    """Median wall and CPU seconds (this machine's processes only: not a node's srun task)."""
    times, cpu, codes = [], [], set()
    for _ in range(runs):
        started, used = time.perf_counter(), children_cpu()
        done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
        cpu.append(children_cpu() - used)
        codes.add(done.returncode)
    return statistics.median(times), statistics.median(cpu), codes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=str(REPO / ".venv"))
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--nvml-init-seconds", type=int, default=0)
    args = parser.parse_args()
    missing = missing_tools()
    if missing:
        print(f"needs {', '.join(missing)}", file=sys.stderr)
        return 2
    nodes = tuple(f"node{i}" for i in range(1, args.nodes + 1))
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        lib = build_fake_nvml(root / "nvml")
        gpus = ["NVIDIA H100 80GB HBM3|9.0|81559|GPU-0", "NVIDIA H100 80GB HBM3|9.0|81559|GPU-1"]
        for node in nodes:
            write_node_file(
                root / "nodes", node, driver="580.95.05", cuda=13000, gpus=gpus,
                init_seconds=args.nvml_init_seconds,
            )  # fmt: skip
        cluster = SlurmCluster(root / "slurm", nodes)
        cluster.start()
        try:
            env = fake_nvml_env(
                lib, driver="580.95.05", cuda=13000, gpus=gpus, init_seconds=args.nvml_init_seconds
            )
            env.update(FAKE_NVML_NODE_DIR=str(root / "nodes"), SLURM_CONF=str(cluster.conf))
            env["PYTHONPATH"] = str(REPO / "src")
            mmdoctor = [sys.executable, "-m", "mmdoctor"]
            target = ["--python", args.python, "--offline"]
            one_argv = [*mmdoctor, "check", *target, "--json"]
            one, one_cpu, one_codes = median_seconds(one_argv, env, args.runs)
            fleet_argv = [*mmdoctor, "fleet", "check", "--nodes", str(args.nodes), *target]
            many, _, many_codes = median_seconds([*fleet_argv, "--json"], env, args.runs)
        finally:
            cluster.stop()
    print(
        f"machine: {os.cpu_count()} CPUs; target {args.python}; nvmlInit waits "
        f"{args.nvml_init_seconds} s; {args.runs} runs each (median)"
    )
    print(f"check, one node:        {one:6.2f} s ({one_cpu:.2f} s CPU) exit {sorted(one_codes)}")
    print(f"fleet check, {args.nodes} nodes:  {many:6.2f} s exit {sorted(many_codes)}")
    print(f"ratio: {many / one:.2f}x (bound for 3 nodes: 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
