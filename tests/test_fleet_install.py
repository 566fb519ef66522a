"""`mmdoctor fleet install` for real: one install into a venv the nodes share (this machine's
disk), from the local index, then `check` of it on every node of the real Slurm cluster; a
node short of healthy rolls the venv back. The plan is the end-to-end install's CPU stack, on
nodes without a GPU: mmcv 2.1.0 built from source (the shared-venv tests take the end-to-end
install's wheel from its cache; the wheelhouse test builds its own, once for three nodes)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Run, run_mmdoctor
from installing import (
    PLAN,
    UV_CACHE,
    assert_restored,
    freeze,
    install_environ,
    make_venv,
    sources,
)
from slurm_cluster import NODES, OLD_DRIVER, SlurmCluster, fleet_env, set_node

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def _uv_cache() -> Iterator[None]:
    """The installs here use uv: its cache holds PyPI's CUDA torch unpacked once (about 6 GB)
    and every venv hardlinks it, so five venvs cost one copy, not 27 GB. Gone at the end."""
    yield
    shutil.rmtree(UV_CACHE, ignore_errors=True)


def cpu_nodes(node_dir: Path) -> None:
    for node in NODES:  # NVML_ERROR_LIBRARY_NOT_FOUND: a node without an NVIDIA driver
        set_node(node_dir, node, count=0, init_error=12)


def fleet_install(
    cluster: SlurmCluster, lib: Path, node_dir: Path, venv: Path, index, *args: str
) -> Run:
    work = node_dir.parent  # the test's own folder: state and logs
    cluster_env = fleet_env(cluster, lib, node_dir)  # only what reaches the cluster and NVML:
    keys = ("SLURM_CONF", "LD_LIBRARY_PATH", "FAKE_NVML_NODE_DIR")  # not this machine's PIP_*
    env = install_environ(work, **{key: cluster_env[key] for key in keys})
    argv = ["fleet", "install", *PLAN, "--installer", "uv", "--venv", str(venv), "--yes"]
    argv += [*sources(index), *args]
    return run_mmdoctor(*argv, env=env, timeout=3600)


def test_fleet_install_into_a_shared_venv_that_every_node_then_checks(
    cluster, fake_nvml_lib, node_dir, index, mmcv_wheel: Path, tmp_path: Path
) -> None:
    cpu_nodes(node_dir)
    venv = tmp_path / "shared" / "mm"
    run = fleet_install(cluster, fake_nvml_lib, node_dir, venv, index, "--json")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    doc = run.json()
    assert (doc["command"], doc["status"]) == ("fleet install", "installed")
    assert doc["plan"]["mmcv"]["name"] == "mmcv" and doc["plan"]["mmcv"]["version"] == "2.1.0"
    # the check step was every node's check of the shared venv, through srun
    assert doc["fleet"]["counts"] == {"nodes": 3, "healthy": 3, "without_report": 0}
    assert [n["node"] for n in doc["fleet"]["nodes"]] == list(NODES)
    assert "mmcv==2.1.0" in freeze(venv)


def test_a_node_short_of_healthy_rolls_the_shared_venv_back(
    cluster, fake_nvml_lib, node_dir, index, mmcv_wheel: Path, tmp_path: Path
) -> None:
    cpu_nodes(node_dir)
    # node3 has a GPU and a 535 driver: PyPI's torch 2.13.0 (a CUDA 13.0 build) plans fine for
    # the CPU, and then fails node3's check (torch.driver), so the install does not hold
    set_node(node_dir, "node3", driver=OLD_DRIVER)
    venv = make_venv(tmp_path / "shared" / "mm")
    before, before_all = freeze(venv), freeze(venv, "--all")
    run = fleet_install(cluster, fake_nvml_lib, node_dir, venv, index)
    assert "node3: torch.driver:" in run.stdout, run.stdout[-3000:]
    assert "node1: " not in run.stdout.split("Install failed")[-1]
    (log,) = [p.read_text() for p in (tmp_path / "state").glob("envs/*/logs/*-install.log")]
    assert "! node3: torch.driver:" in log, log[-3000:]  # the log alone says why
    assert_restored(venv, before, before_all, run)


@pytest.mark.e2e  # it builds mmcv itself, not through the fixtures that mark the others
def test_per_node_installs_build_mmcv_once_into_the_wheelhouse(
    cluster, fake_nvml_lib, node_dir, index, tmp_path: Path
) -> None:
    """--wheelhouse: every node installs its own venv (--venv with %n). The wheelhouse starts
    empty: the first node builds mmcv 2.1.0 from its sdist into it (9-12 min here), then
    the other two read that wheel instead of building: three nodes, one build, as their logs
    say. (The build cache of the end-to-end install is not read: the wheelhouse replaces it.)"""
    cpu_nodes(node_dir)
    wheelhouse = tmp_path / "wheelhouse"
    venvs = tmp_path / "local" / "%n" / "mm"
    try:
        run = fleet_install(
            cluster, fake_nvml_lib, node_dir, venvs, index, "--wheelhouse", str(wheelhouse),
            "--json",
        )  # fmt: skip
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        doc = run.json()
        assert doc["command"] == "fleet install" and doc["counts"]["healthy"] == 3
        assert [n["node"] for n in doc["nodes"]] == list(NODES)  # node1 first: it builds
        (wheel,) = wheelhouse.rglob("*.whl")
        assert wheel.name.startswith("mmcv-2.1.0-") and wheel.parent.parent == wheelhouse
        logs = {n["node"]: Path(n["log"]).read_text() for n in doc["nodes"]}
        builder, *readers = NODES
        assert " -m pip wheel " in logs[builder], logs[builder][-3000:]
        assert f"built and cached {wheel}" in logs[builder]
        for node in readers:  # its build step took node1's wheel, and mmcv installed from there
            log = logs[node]
            assert f"reused the cached wheel {wheel}" in log, log[-3000:]
            assert f"--find-links {wheel.parent}" in log
            assert " -m pip wheel " not in log and "built and cached" not in log
        for node in NODES:
            assert "mmcv==2.1.0" in freeze(tmp_path / "local" / node / "mm")
    finally:  # a failure keeps the logs (state/), not three venvs of 5.5 GB
        shutil.rmtree(tmp_path / "local", ignore_errors=True)
