"""Warm-cache `mmdoctor install` of one plan with mim, pip and uv, from a local index.

The plan: the end-to-end test's (--cpu --torch-source pypi --torch 2.13.0 --mmdet 3 --line
openmmlab: PyPI's CUDA 13.0 torch, mmcv 2.1.0 from source). The index is the test
suite's (tests/fakes/simple_index.py over .cache/test-index, built on first use); the mmcv
wheel comes from mmdoctor's build cache (.cache/test-mmdoctor-cache, filled by the end-to-end
test or the first run here, which then takes 12-20 minutes). Every run installs into a fresh
venv; a warm-up run per installer fills pip's and uv's own caches first.

Usage: python benchmarks/install_speed.py [--runs 3] [--installers mim,pip,uv]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fakes.simple_index import SimpleIndex, ensure_index_files  # noqa: E402

PLAN = [
    *("--cpu", "--torch-source", "pypi", "--torch", "2.13.0"),
    *("--mmdet", "3", "--line", "openmmlab", "--allow-source-build"),
]


def one_install(index_url: str, installer: str, work: Path) -> tuple[float, float]:
    """Seconds for the whole install, and for the mmcv step alone."""
    venv = work / f"venv-{installer}-{time.monotonic_ns()}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.pop("VIRTUAL_ENV", None)
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_CACHE_DIR="1",
        MMDOCTOR_STATE_DIR=str(work / "state"),
        MMDOCTOR_CACHE_DIR=str(REPO / ".cache" / "test-mmdoctor-cache"),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    base = index_url.removesuffix("/simple")
    argv = [sys.executable, "-m", "mmdoctor", "install", *PLAN, "--venv", str(venv), "--yes"]
    argv += ["--installer", installer, "--index-url", index_url, "--torch-index-url", index_url]
    argv += ["--mmcv-base-url", base, "--json"]
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    shutil.rmtree(venv, ignore_errors=True)  # about 5.5 GB with PyPI's torch
    doc = json.loads(proc.stdout) if proc.stdout.startswith("{") else {}
    if doc.get("status") != "installed":
        raise SystemExit(f"{installer}: exit {proc.returncode}\n{proc.stdout[-2000:]}")
    steps = doc["steps"]
    build = next(s for s in steps if "sdist" in s["description"])
    return seconds, float(build["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--installers", default="mim,pip,uv")
    args = parser.parse_args()
    files = ensure_index_files(REPO / ".cache" / "test-index" / "files", sys.executable)
    results: dict[str, list[tuple[float, float]]] = {}
    with SimpleIndex(files) as index, tempfile.TemporaryDirectory() as tmp:
        for installer in args.installers.split(","):
            one_install(index.url, installer, Path(tmp))  # warm-up: pip's / uv's caches
            results[installer] = [
                one_install(index.url, installer, Path(tmp)) for _ in range(args.runs)
            ]
    print(f"{'installer':<10} {'install median':>15} {'min':>8} {'max':>8} {'mmcv step':>10}")
    for installer, runs in results.items():
        totals = [t for t, _ in runs]
        mmcv = statistics.median(b for _, b in runs)
        print(
            f"{installer:<10} {statistics.median(totals):>14.1f}s {min(totals):>7.1f}s "
            f"{max(totals):>7.1f}s {mmcv:>9.1f}s"
        )


if __name__ == "__main__":
    main()
