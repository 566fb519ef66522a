"""`mmdoctor install --dry-run` on an existing venv: wall time (median of N) and how many times
the target interpreter runs, for one or more source trees of mmdoctor, interleaved so that
they share the machine's load.

The venv is made here (a bare one: the plan's facts are the interpreter's own, not its
packages), behind a wrapper that counts each run of it.

Usage: python benchmarks/dry_run_speed.py [--runs 5] [--src DIR ...]
  (default --src: this checkout's src; give an older checkout's too to compare)
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def counted_venv(work: Path) -> tuple[Path, Path]:
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    log, wrapper = work / "runs.log", work / "python"
    wrapper.write_text(
        f"#!/bin/sh\necho run >> {shlex.quote(str(log))}\n"
        f'exec {shlex.quote(str(venv / "bin" / "python"))} "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper, log


def one_run(src: Path, python: Path, log: Path) -> tuple[float, int]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env.update(PYTHONPATH=str(src), NO_COLOR="1", PIP_CONFIG_FILE=os.devnull)
    # the plan's download hosts are not asked: their answer (or a DNS failure) is the network's
    # time, not mmdoctor's, and a tree without the pre-flight would not be compared like for like
    env["MMDOCTOR_OFFLINE"] = "1"
    log.write_text("")
    argv = [sys.executable, "-m", "mmdoctor", "install", "--dry-run", "--python", str(python)]
    argv += ["--cpu", "--json"]
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{src}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    return seconds, len(log.read_text().splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--src", type=Path, action="append", default=[])
    args = parser.parse_args()
    trees = args.src or [REPO / "src"]
    results: dict[Path, list[tuple[float, int]]] = {tree: [] for tree in trees}
    with tempfile.TemporaryDirectory() as tmp:
        python, log = counted_venv(Path(tmp))
        for tree in trees:  # warm-up: the OS caches each tree's files and the venv's
            one_run(tree, python, log)
        for _ in range(args.runs):
            for tree in trees:
                results[tree].append(one_run(tree, python, log))
    print(f"{'source tree':<40} {'median':>8} {'min':>7} {'max':>7} {'target runs':>12}")
    for tree, runs in results.items():
        seconds = [s for s, _ in runs]
        counts = sorted({c for _, c in runs})
        print(
            f"{tree!s:<40} {statistics.median(seconds):>7.2f}s {min(seconds):>6.2f}s "
            f"{max(seconds):>6.2f}s {','.join(map(str, counts)):>12}"
        )


if __name__ == "__main__":
    main()
