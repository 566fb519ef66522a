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
from conftest import WheelhouseBuild
from installing import UV_CACHE, assert_restored, cpu_nodes, fleet_install, freeze, make_venv
from slurm_cluster import NODES, OLD_DRIVER, set_node

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def _uv_cache() -> Iterator[None]:
    """The installs here use uv: its cache holds PyPI's CUDA torch unpacked once (about 6 GB)
    and every venv hardlinks it, so five venvs cost one copy, not 27 GB. Gone at the end."""
    yield
    shutil.rmtree(UV_CACHE, ignore_errors=True)


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


def test_per_node_installs_build_mmcv_once_into_the_wheelhouse(
    wheelhouse_build: WheelhouseBuild | None,
) -> None:
    """--wheelhouse: every node installs its own venv (--venv with %n). The wheelhouse starts
    empty: the first node builds mmcv 2.1.0 from its sdist into it (9-12 min here), then
    the other two read that wheel instead of building: three nodes, one build, as their logs
    say. (The build cache of the end-to-end install is not read: the wheelhouse replaces it.)
    The install is the session's fixture: its wheel is the one the end-to-end install reuses."""
    assert wheelhouse_build is not None, "the cluster fixture fails or skips without Slurm"
    run, wheelhouse = wheelhouse_build.run, wheelhouse_build.wheelhouse
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
        assert "mmcv==2.1.0" in wheelhouse_build.frozen[node]
