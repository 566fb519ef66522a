"""Helpers shared by the install and fix tests: fresh venvs, `pip freeze`, the environment
that makes the local index the only package source, and the install command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import BASE_PYTHON, REPO, Run, run_mmdoctor
from fakes.simple_index import SimpleIndex, isolated_pip_env
from slurm_cluster import NODES, SlurmCluster, fleet_env, set_node

WHEEL_CACHE = REPO / ".cache" / "test-mmdoctor-cache"  # the built mmcv survives between runs
# uv's cache inside the checkout, not the user's ~/.cache/uv: it goes with the clone.
UV_CACHE = REPO / ".cache" / "test-uv-cache"
# torch from PyPI, as a clean machine can have it: PyPI's CUDA 13.0 build, run on the CPU.
PLAN = [
    *("--cpu", "--torch-source", "pypi", "--torch", "2.13.0"),
    *("--mmdet", "3", "--line", "openmmlab", "--allow-source-build"),
]
ONEDL_PLAN = [
    *("--cpu", "--torch-source", "pypi", "--torch", "2.14.1"),
    *("--line", "onedl", "--allow-source-build"),
]


def make_venv(folder: Path) -> Path:
    subprocess.run([BASE_PYTHON, "-m", "venv", str(folder)], check=True, timeout=300)
    return folder


def freeze(venv: Path, *options: str) -> str:
    return subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "freeze", *options],
        check=True,
        capture_output=True,
        text=True,
        env=install_environ(venv.parent),
        timeout=300,
    ).stdout


def install_environ(work: Path, **extra: str) -> dict[str, str]:
    env = isolated_pip_env()  # only the test index, never this machine's wheel folders
    env.pop("VIRTUAL_ENV", None)
    env.update(
        MMDOCTOR_STATE_DIR=str(work / "state"),
        MMDOCTOR_CACHE_DIR=str(WHEEL_CACHE),
        UV_CACHE_DIR=str(UV_CACHE),
        # uv (a test dependency) lives next to the interpreter running the tests
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        NO_COLOR="1",
        # pip's own HTTP cache would keep a second copy of every torch and nvidia-* wheel it
        # fetched from the test index (about 6 GB): the index is local, the cache buys nothing
        PIP_NO_CACHE_DIR="1",
        # installs ask their package sources first, as they do for a user (the local index
        # answers at once); run_mmdoctor's default keeps the other commands off the network
        MMDOCTOR_OFFLINE="0",
    )
    env.update(extra)
    return env


def sources(index: SimpleIndex) -> list[str]:
    base = index.url.removesuffix("/simple")
    return [
        "--index-url",
        index.url,
        "--torch-index-url",
        index.url,
        "--mmcv-base-url",
        base,  # nothing under /mmcv/dist: mim's find-links page is a 404, as a mirror's may be
    ]


def install(
    venv: Path,
    index: SimpleIndex,
    *args: str,
    env: dict[str, str] | None = None,
    plan: list[str] = PLAN,
) -> Run:
    return run_mmdoctor(
        "install",
        *plan,
        "--venv",
        str(venv),
        "--yes",
        *sources(index),
        *args,
        env=env or install_environ(venv.parent),
        timeout=3600,
    )


def assert_restored(venv: Path, before: str, before_all: str, run: Run) -> None:
    assert run.returncode == 3, run.stdout + run.stderr
    assert freeze(venv) == before
    assert freeze(venv, "--all") == before_all
    assert "Rolled back: the environment is as it was" in run.stdout


def cached_mmcv_wheels() -> list[Path]:
    return sorted((WHEEL_CACHE / "wheels").glob("mmcv-2.1.0-torch2.13.0+cu130-cpu-cp*/*.whl"))


def cpu_nodes(node_dir: Path) -> None:
    for node in NODES:  # NVML_ERROR_LIBRARY_NOT_FOUND: a node without an NVIDIA driver
        set_node(node_dir, node, count=0, init_error=12)


def fleet_install(
    cluster: SlurmCluster, lib: Path, node_dir: Path, venv: Path, index: SimpleIndex, *args: str
) -> Run:
    """`fleet install` of the end-to-end plan with uv, from the local index, its state and logs
    beside `node_dir`."""
    work = node_dir.parent  # the test's own folder: state and logs
    cluster_env = fleet_env(cluster, lib, node_dir)  # only what reaches the cluster and NVML:
    keys = ("SLURM_CONF", "LD_LIBRARY_PATH", "FAKE_NVML_NODE_DIR")  # not this machine's PIP_*
    env = install_environ(work, **{key: cluster_env[key] for key in keys})
    argv = ["fleet", "install", *PLAN, "--installer", "uv", "--venv", str(venv), "--yes"]
    argv += [*sources(index), *args]
    return run_mmdoctor(*argv, env=env, timeout=3600)
