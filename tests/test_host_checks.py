"""platform.glibc, build.prerequisites and openmmlab.siblings: as pure functions of hand-built
environments, and for real: this machine's glibc, a full tmpfs as TMPDIR, an interpreter
without Python.h, a venv holding real mmocr and mmdet distributions from PyPI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from builders import env
from conftest import run_mmdoctor
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from mmdoctor.checks import all_checks
from mmdoctor.checks.model import CheckResult, Context, Status, run_one
from mmdoctor.environment import CACHE_DISK, TMP_DISK, DiskSpace, Environment, ToolkitInfo
from mmdoctor.planning.machine import Machine
from mmdoctor.planning.matrix import load_matrix
from mmdoctor.planning.resolver import find_prebuilt_mmcv, resolve
from mmdoctor.planning.wishes import Wishes
from mmdoctor.probe.collect import probe_host

MATRIX = load_matrix()
GIB = 2**30
# An RTX 5090 on R580: on Python 3.11 neither line has a wheel, so the plan builds mmcv.
GPU_5090 = {"MMDOCTOR_DRIVER_VERSION": "580.65.05", "MMDOCTOR_GPU_CC": "12.0"}


def run(check_id: str, environment: Environment) -> CheckResult:
    item = next(c for c in all_checks() if c.id == check_id)
    return run_one(Context(environment, MATRIX), item)


def with_host(environment: Environment, **changes: object) -> Environment:
    return replace(environment, host=replace(environment.host, **changes))


# ------------------------------------------------------------------- glibc


def test_this_machines_glibc_is_what_the_loader_says() -> None:
    ldd = subprocess.run(["ldd", "--version"], capture_output=True, text=True, check=True)
    assert probe_host().glibc == re.search(r"(\d+\.\d+)\s*$", ldd.stdout.splitlines()[0])[1]


def test_a_new_glibc_fits_every_wheel() -> None:
    result = run("platform.glibc", with_host(env(), glibc="2.36"))
    assert result.status is Status.OK and "onedl-mmcv" in result.summary


def test_an_old_glibc_is_told_which_wheels_it_cannot_load() -> None:
    result = run("platform.glibc", with_host(env(), glibc="2.17"))
    assert result.status is Status.WARN
    assert "torch>=2.7 (glibc 2.28)" in result.summary
    assert "onedl-mmcv>=2.3.0 (glibc 2.34, not verified)" in result.summary


def test_an_installed_torch_too_new_for_glibc_fails() -> None:
    result = run("platform.glibc", with_host(env(dists={"torch": "2.7.1"}), glibc="2.17"))
    assert result.status is Status.FAIL and result.known_failure == "glibc-too-old-ext"
    assert result.advice and "torch==" in result.advice.commands[0]


def test_musl_and_other_systems() -> None:
    assert run("platform.glibc", with_host(env(), glibc=None)).status is Status.WARN
    assert run("platform.glibc", env(os_name="windows")).status is Status.SKIP


def test_plans_on_an_old_glibc_stop_before_the_wheels_it_cannot_load() -> None:
    machine = Machine("linux", Version("3.10"), glibc=Version("2.17"))
    resolution = resolve(machine, Wishes(cpu=True), MATRIX)
    assert resolution.chosen is not None
    assert resolution.chosen.torch.version < Version("2.7")
    reasons = " ".join(r.reason for r in resolution.rejected)
    assert "need glibc 2.28 (manylinux_2_28), this machine has 2.17" in reasons


def test_onedl_wheels_are_skipped_below_their_glibc() -> None:
    rtx5090 = {"driver": Version("580.65.05"), "gpu_ccs": (Version("12.0"),)}
    new = resolve(
        Machine("linux", Version("3.12"), glibc=Version("2.36"), **rtx5090), Wishes(), MATRIX
    )
    old = resolve(
        Machine("linux", Version("3.12"), glibc=Version("2.31"), **rtx5090), Wishes(), MATRIX
    )
    assert new.chosen is not None and new.chosen.mmcv.prebuilt
    assert old.chosen is not None and old.chosen.mmcv.package == "onedl-mmcv"
    assert not old.chosen.mmcv.prebuilt  # its wheels are manylinux_2_34: a build instead
    missing: list[str] = []
    found = find_prebuilt_mmcv(
        MATRIX, "onedl-mmcv", SpecifierSet(">=2.3"), torch_minor="2.10", variant="cu129",
        python=Version("3.12"), os="linux", gpu_ccs=(Version("12.0"),), missing=missing,
        glibc=Version("2.31"),
    )  # fmt: skip
    assert found is None
    assert (
        "onedl-mmcv 2.3.6 wheels need glibc 2.34 (manylinux_2_34), this machine has 2.31" in missing
    )


# ------------------------------------------------------------------- build prerequisites


def building_env(**host: object) -> Environment:
    """Python 3.11 with an RTX 5090: no wheel of either line, so the plan builds mmcv."""
    from builders import nvidia

    base = env(
        nvidia_info=nvidia("580.65.05", "13.0", "12.0"),
        toolkit=ToolkitInfo(gcc_version="12.2.0", gcc_path="/usr/bin/gcc"),
    )
    target = replace(base.target, has_python_h=True, include_dir="/inc", ninja="/venv/bin/ninja")
    disks = (DiskSpace(TMP_DISK, "/tmp", 50 * GIB),)
    return with_host(replace(base, target=target), disks=disks, glibc="2.36", **host)


def test_a_build_with_everything_it_needs_is_ok() -> None:
    result = run("build.prerequisites", building_env())
    assert result.status is Status.OK, result.summary
    assert "from source" in result.summary and "gcc 12.2.0 (>= 9 for C++17)" in result.summary


def test_no_build_ahead_is_a_skip() -> None:
    assert run("build.prerequisites", env()).status is Status.SKIP  # CPU: a prebuilt mmcv


def test_an_old_gcc_fails_with_the_minimum_for_torchs_headers() -> None:
    old = building_env()
    old = replace(old, toolkit=ToolkitInfo(gcc_version="7.5.0", gcc_path="/usr/bin/gcc"))
    result = run("build.prerequisites", old)
    assert result.status is Status.FAIL and result.known_failure == "gcc-too-old-for-torch"
    assert "gcc 7.5.0 is older than torch" in result.summary and "(gcc >= 9)" in result.summary


def test_max_jobs_beyond_memory_warns() -> None:
    result = run("build.prerequisites", building_env(max_jobs="64"))
    assert result.status is Status.WARN and result.known_failure == "compiler-killed-oom"
    assert "MAX_JOBS=64" in result.summary
    assert result.advice and result.advice.commands == ("export MAX_JOBS=2",)


@pytest.fixture
def full_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MiB tmpfs, filled: what TMPDIR on a full disk looks like."""
    folder = tmp_path / "tmpfs"
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)])
    if mounted.returncode != 0:
        pytest.skip("this machine does not allow a tmpfs mount")
    try:
        (folder / "fill").write_bytes(b"\0" * (7 * 2**20))
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def base_python() -> Path:
    return Path(getattr(sys, "_base_executable", sys.executable))


def check_build(python: Path, **environ: str) -> dict:
    run = run_mmdoctor(
        "check", "--python", str(python), "--only", "build", "--json",
        env={**os.environ, **GPU_5090, **environ},
    )  # fmt: skip
    assert run.returncode in (0, 1), run.stdout + run.stderr
    (result,) = run.json()["checks"]
    return result


def test_a_full_tmpdir_is_found_before_the_build(full_tmpfs: Path) -> None:
    result = check_build(base_python(), TMPDIR=str(full_tmpfs))
    assert result["status"] == "fail", result
    assert result["known_failure"] == "no-space-left"
    assert "TMPDIR has 0.0 GiB free and a build needs about 4" in result["summary"]


def test_install_stops_before_a_build_that_has_no_room(full_tmpfs: Path, tmp_path: Path) -> None:
    """The same shortfall stops `install` before its first change, not a build 15 min in."""
    venv = tmp_path / "venv"
    subprocess.run([str(base_python()), "-m", "venv", str(venv)], check=True, timeout=300)
    before = sorted(p.name for p in (venv / "lib").rglob("*.dist-info"))
    environ = {**os.environ, **GPU_5090, "TMPDIR": str(full_tmpfs)}
    plan = run_mmdoctor("install", "--python", str(venv), "--dry-run", env=environ)
    assert "source build" in plan.stdout and "TMPDIR has 0.0 GiB free" in plan.stdout
    run = run_mmdoctor("install", "--python", str(venv), "--yes", env=environ)
    assert run.returncode == 1, run.stdout + run.stderr  # blocked: a problem of the machine
    assert "the source build cannot start here: TMPDIR has 0.0 GiB free" in run.stderr
    assert sorted(p.name for p in (venv / "lib").rglob("*.dist-info")) == before


def test_an_interpreter_without_python_h_is_found(tmp_path: Path) -> None:
    """A real interpreter whose prefix has no include/: its own binary, its standard library
    linked in, as a Python built without its headers or a distro's without python3-dev."""
    prefix = Path(sys.base_prefix)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    (tmp_path / "bin").mkdir()
    shutil.copy2(prefix / "bin" / version, tmp_path / "bin" / version)
    (tmp_path / "lib").symlink_to(prefix / "lib")
    result = check_build(tmp_path / "bin" / version)
    assert result["status"] == "fail", result
    assert result["known_failure"] == "python-h-missing"
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f"Python.h is missing for Python {minor}" in result["summary"]
    assert result["advice"]["commands"] == [f"apt-get install -y {version}-dev"]


# ------------------------------------------------------------------- sibling packages


def test_a_sibling_the_stack_breaks_fails_with_its_bound() -> None:
    dists = {"mmocr": "1.0.1", "mmdet": "3.3.0", "mmcv": "2.1.0", "mmengine": "0.10.7"}
    result = run("openmmlab.siblings", env(dists=dists))
    assert result.status is Status.FAIL and result.known_failure == "openmmlab-sibling-bounds"
    assert "mmocr 1.0.1 requires mmdet<3.2.0, and mmdet 3.3.0 is installed" in result.summary


def test_siblings_within_their_bounds_are_ok_and_prereleases_count_as_below() -> None:
    dists = {"mmocr": "1.0.1", "mmdet": "3.1.0", "mmcv": "2.2.0rc1", "mmengine": "0.10.7"}
    result = run("openmmlab.siblings", env(dists=dists))
    assert result.status is Status.OK, result.summary  # 2.2.0rc1 passes '<2.2.0' as mmocr reads it


def test_a_sibling_release_the_matrix_does_not_know_is_said() -> None:
    result = run("openmmlab.siblings", env(dists={"mmocr": "9.0.0", "mmdet": "3.3.0"}))
    assert result.status is Status.SKIP and "mmocr 9.0.0" in " ".join(result.details)


def test_the_forks_mmdet_is_the_one_a_sibling_checks() -> None:
    dists = {"mmyolo": "0.6.0", "onedl-mmdetection": "3.5.1", "onedl-mmcv": "2.3.6"}
    result = run("openmmlab.siblings", env(dists=dists))
    assert result.status is Status.FAIL
    assert "requires mmcv<2.1.0, and onedl-mmcv 2.3.6 is installed" in result.summary


def test_real_distributions_in_a_real_venv(tmp_path: Path) -> None:
    """mmocr 1.0.1 and mmdet 3.3.0 from PyPI (no dependencies: their metadata is the point)."""
    venv = tmp_path / "venv"
    subprocess.run([str(base_python()), "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "-q"]
    subprocess.run([*pip, "mmocr==1.0.1", "mmdet==3.3.0"], check=True, timeout=600)
    run = run_mmdoctor("check", "--python", str(venv), "--only", "openmmlab", "--json")
    (result,) = run.json()["checks"]
    assert run.returncode == 1 and result["status"] == "fail", result
    assert "mmocr 1.0.1 requires mmdet<3.2.0, and mmdet 3.3.0 is installed" in result["summary"]


# ------------------------------------------------------------------- which machine


def test_a_report_says_which_machine_and_which_scheduler_task_it_is(bare_venv: Path) -> None:
    import socket

    environ = {**os.environ, "SLURMD_NODENAME": "node07", "SLURM_JOB_ID": "4242"}
    run = run_mmdoctor(
        "check", "--python", str(bare_venv), "--only", "python", "--json", env=environ
    )
    host = run.json()["environment"]["host"]
    assert host["hostname"] == socket.gethostname()
    assert host["scheduler"] == {"SLURMD_NODENAME": "node07", "SLURM_JOB_ID": "4242"}
    assert host["glibc"] == probe_host().glibc
    assert {d["role"] for d in host["disks"]} == {TMP_DISK, CACHE_DISK}
