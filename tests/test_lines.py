"""The two stack lines (upstream OpenMMLab and VBTI's onedl fork) and torch from PyPI.

The resolver and the plan as pure functions over the shipped matrix, then the real CLI for
the cases users type (--line, --torch-source, the RTX 5090 dry run).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from packaging.version import Version as V

from mmdoctor.planning.export import export_requirements
from mmdoctor.planning.machine import Machine
from mmdoctor.planning.matrix import load_matrix
from mmdoctor.planning.plan import build_plan
from mmdoctor.planning.resolver import resolve
from mmdoctor.planning.wishes import Wishes

M = load_matrix()
PY = "/envs/x/bin/python"


def gpu(python: str, driver: str, *ccs: str) -> Machine:
    return Machine("linux", V(python), V(driver), tuple(V(cc) for cc in ccs))


def cpu(python: str) -> Machine:
    return Machine("linux", V(python))


# --- the onedl wheel sets -----------------------------------------------------------------------


def test_an_rtx_5090_on_python_312_gets_the_prebuilt_onedl_wheel_and_says_why() -> None:
    result = resolve(gpu("3.12", "580.65.05", "12.0"), Wishes(mmdet="3"), M)
    chosen = result.chosen
    assert chosen is not None and chosen.line == "onedl"
    assert chosen.mmcv.package == "onedl-mmcv" and chosen.mmcv.prebuilt
    assert (chosen.mmcv.version, chosen.variant) == (V("2.3.6"), "cu129")
    assert chosen.torch.torch in ("2.9", "2.10")  # the cp312 cu129 folders
    assert result.line_reason.startswith("OneDL")
    assert "a prebuilt mmcv wheel instead of a source build" in result.line_reason
    assert "the best openmmlab plan: mmdet 3.3.0 + mmcv 2.1.0 (source build)" in result.line_reason


def test_onedl_cuda_wheels_are_cp310_and_cp312_only() -> None:
    for python, prebuilt in (("3.10", True), ("3.11", False), ("3.12", True)):
        result = resolve(gpu(python, "580.65.05", "8.6"), Wishes(line="onedl"), M)
        assert result.chosen is not None, python
        assert result.chosen.mmcv.prebuilt is prebuilt, (python, result.chosen.describe())
    # Python 3.9: no onedl release at all, with the reason
    old = resolve(gpu("3.9", "580.65.05", "8.6"), Wishes(line="onedl"), M)
    assert old.chosen is None
    assert any("needs Python >=3.10" in r.reason for r in old.rejected)


def test_an_a100_never_gets_a_cu128_or_newer_onedl_wheel_no_sm_80() -> None:
    """The cu128+ folders are built for 7.5 8.6 8.9 9.0 12.0: an A100 (8.0) would get 'no
    kernel image is available'. Only cu118/cu124 (torch 2.4/2.5) wheels carry sm_80."""
    result = resolve(gpu("3.10", "580.65.05", "8.0"), Wishes(line="onedl"), M)
    chosen = result.chosen
    assert chosen is not None and chosen.mmcv.prebuilt
    assert chosen.wheel_variant in ("cu118", "cu124"), chosen.describe()
    newer = resolve(
        gpu("3.10", "580.65.05", "8.0"),
        Wishes(line="onedl", torch=V("2.8"), allow_source_build=False),
        M,
    )
    assert newer.chosen is None
    assert any("have no sm_80 kernels" in r.reason for r in newer.rejected), newer.rejected
    # and on Python 3.12 (cu129 folders only) the A100 gets a source build, never the wheel
    py312 = resolve(gpu("3.12", "580.65.05", "8.0"), Wishes(line="onedl"), M).chosen
    assert py312 is not None and not py312.mmcv.prebuilt


def test_an_h100_skips_the_early_cu129_wheels_without_sm_90() -> None:
    result = resolve(gpu("3.12", "580.65.05", "9.0"), Wishes(line="onedl", torch=V("2.9")), M)
    assert result.chosen is not None
    assert result.chosen.mmcv.version == V("2.3.6")  # 2.3.1 - 2.3.2.post2: no 9.0
    for candidate in (result.chosen, *result.alternatives):
        if candidate.mmcv.prebuilt:
            assert candidate.mmcv.version >= V("2.3.3"), candidate.describe()


def test_the_onedl_plan_names_its_own_packages_index_and_opencv_pair() -> None:
    machine = gpu("3.12", "580.65.05", "12.0")
    chosen = resolve(machine, Wishes(mmdet="3"), M).chosen
    assert chosen is not None
    plan = build_plan(chosen, machine, M, executable=PY)
    argvs = [" ".join(step.argv) for step in plan.steps]
    link = f"https://mmwheels.onedl.ai/cu129-torch{chosen.torch.torch.replace('.', '')}0"
    assert plan.mmcv_find_links == f"{link}/simple/onedl-mmcv/index.html"
    assert any(a.endswith("-m pip install onedl-mim==0.5.1") for a in argvs), argvs
    mmcv = next(a for a in argvs if "onedl-mmcv==2.3.6" in a)
    assert mmcv.endswith("--only-binary onedl-mmcv"), mmcv  # never the ops-less sdist
    assert any("mim install onedl-mmengine==0.10.12" in a for a in argvs)
    assert any("mim install onedl-mmdetection==3.5.1" in a for a in argvs)
    assert not any("openmim" in a or " mmdet==" in a for a in argvs), argvs
    pins = {p.name: p.spec for p in plan.pins}
    assert pins["opencv-python"] == pins["opencv-python-headless"] == "==4.12.0.88"
    # no warning about mmengine's weights_only: onedl-mmengine >= 0.10.8 handles it
    assert not any("weights_only" in w for w in plan.warnings), plan.warnings
    exported = export_requirements(plan, M, "0")
    assert "--only-binary onedl-mmcv" in exported and "onedl-mmdetection==3.5.1" in exported


def test_a_mirror_of_the_onedl_host_goes_to_its_mim_as_mmcv_base_url() -> None:
    from mmdoctor.planning.sources import Sources

    machine = gpu("3.10", "550.54.14", "8.6")
    chosen = resolve(machine, Wishes(line="onedl"), M).chosen
    assert chosen is not None and chosen.mmcv.prebuilt
    plan = build_plan(
        chosen, machine, M, executable=PY, sources=Sources(mmcv_base_url="https://m.example/x/")
    )
    step = next(s for s in plan.steps if "onedl-mmcv==" in " ".join(s.argv))
    assert step.env == {"MMCV_BASE_URL": "https://m.example/x/"}
    assert plan.mmcv_find_links.startswith("https://m.example/x/cu")


# --- ranking and --line ---------------------------------------------------------------------


def test_upstream_wins_where_only_it_has_a_wheel_and_the_plan_says_so() -> None:
    """torch 2.1 + cu121 on Python 3.10: upstream mmcv 2.1.0 is prebuilt; onedl starts at torch
    2.4, so there it would be a source build of nothing (no rule for torch 2.1)."""
    result = resolve(gpu("3.10", "535.104.05", "8.6"), Wishes(torch=V("2.1")), M)
    assert result.chosen is not None and result.chosen.line == "openmmlab"
    assert result.chosen.mmcv.prebuilt
    assert result.line_reason == (
        "OpenMMLab (upstream): the only line with a plan here (no onedl plan fits)"
    )


def test_line_pins_the_line_and_says_it_was_asked_for() -> None:
    machine = gpu("3.12", "580.65.05", "12.0")
    upstream = resolve(machine, Wishes(line="openmmlab", mmdet="3"), M)
    assert upstream.chosen is not None and upstream.chosen.line == "openmmlab"
    assert upstream.chosen.mmcv.package == "mmcv" and not upstream.chosen.mmcv.prebuilt
    assert upstream.line_reason == "OpenMMLab (upstream): asked for with --line openmmlab"
    assert all(c.line == "openmmlab" for c in upstream.alternatives)


# --- torch from PyPI ----------------------------------------------------------------------------


def test_torch_from_pypi_on_a_cpu_plan_is_pypis_cuda_build_and_the_plan_says_it_is_large() -> None:
    machine = cpu("3.11")
    wishes = Wishes(cpu=True, torch=V("2.14.1"), line="onedl", torch_source="pypi")
    chosen = resolve(machine, wishes, M).chosen
    assert chosen is not None and chosen.from_pypi
    assert (chosen.variant, chosen.wheel_variant) == ("cpu", "cu130")
    assert chosen.mmcv.package == "onedl-mmcv" and not chosen.mmcv.prebuilt
    assert chosen.mmcv.raise_cxx_to == 20  # torch 2.14's headers need C++20
    plan = build_plan(chosen, machine, M, executable=PY)
    torch_step = plan.steps[1]
    assert torch_step.argv == (PY, "-m", "pip", "install", "torch==2.14.1", "torchvision==0.29.1")
    assert plan.torch_index_url is None and plan.torch_requirement == "torch==2.14.1"
    build = next(s for s in plan.steps if s.kind == "build")
    assert "FORCE_CUDA" not in build.env  # CPU ops: the plan runs on the CPU
    assert "onedl_mmcv-2.3.6" in " ".join(build.argv)  # the PEP 625 sdist's folder
    assert any("about 3 GB" in w and "runs on the CPU" in w for w in plan.warnings)
    assert any("packaging>=24.2" in " ".join(s.argv) for s in plan.steps[:1])


def test_torch_from_pypi_for_a_gpu_only_where_pypi_has_the_planned_variant() -> None:
    machine = gpu("3.11", "580.82.07", "8.6")  # cu130 needs >= 580.65.06
    wishes = Wishes(torch=V("2.13"), line="openmmlab", torch_source="pypi")
    chosen = resolve(machine, wishes, M).chosen
    assert chosen is not None and chosen.variant == chosen.wheel_variant == "cu130"
    other = resolve(machine, Wishes(torch=V("2.13"), cuda=V("12.6"), torch_source="pypi"), M)
    assert other.chosen is None
    assert any("PyPI's torch 2.13 for linux x86_64 is cu130" in r.reason for r in other.rejected)


def test_torch_from_pypi_where_pypi_has_no_recorded_build_names_what_it_has() -> None:
    result = resolve(cpu("3.9"), Wishes(cpu=True, torch=V("1.12"), torch_source="pypi"), M)
    assert result.chosen is None
    (reason,) = {r.reason for r in result.rejected}
    assert reason.startswith("the matrix records no PyPI build of torch 1.12 for linux x86_64")
    assert "1.13 cu117" in reason and "2.14 cu130" in reason


# --- the CLI ------------------------------------------------------------------------------------


def test_the_rtx_5090_dry_run_picks_a_prebuilt_onedl_wheel(mmdoctor) -> None:
    args = ("--driver", "580.65.05", "--gpu-cc", "12.0", "--python-version", "3.12")
    run = mmdoctor("install", "--dry-run", *args, "--mmdet", "3")
    assert run.returncode == 0, run.stderr
    assert "Plan: onedl-mmdetection 3.5.1 + onedl-mmcv 2.3.6 (prebuilt wheel)" in run.stdout
    assert "Line: OneDL (VBTI's maintained fork): a prebuilt mmcv wheel" in run.stdout
    doc = json.loads(mmdoctor("install", "--dry-run", *args, "--mmdet", "3", "--json").stdout)
    plan = doc["plan"]
    assert plan["line"]["name"] == "onedl" and plan["line"]["reason"].startswith("OneDL")
    assert plan["mmcv"] == {
        "name": "onedl-mmcv",
        "version": "2.3.6",
        "find_links": plan["mmcv"]["find_links"],
        "prebuilt": True,
    }
    assert plan["mim"] == {"name": "onedl-mim", "version": "0.5.1"} and plan["openmim"] is None


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--line", "foo"), "--line foo: expected one of openmmlab, onedl"),
        (("--torch-source", "conda"), "--torch-source conda: expected one of pytorch, pypi"),
        (("--line", "onedl", "--mmdet", "2"), "--mmdet 2: expected 2, 3 or a release"),
    ],
)
def test_bad_line_and_torch_source_are_exit_2_in_one_line(mmdoctor, args, says) -> None:
    run = mmdoctor("install", "--dry-run", "--python-version", "3.12", *args)
    assert run.returncode == 2, run.stdout
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in run.stderr, run.stderr


def test_onedl_on_windows_without_source_builds_is_exit_1_with_the_nearest_choice(
    mmdoctor,
) -> None:
    run = mmdoctor(
        "install",
        "--dry-run",
        "--json",
        *("--os", "windows", "--python-version", "3.12", "--driver", "580.65", "--gpu-cc", "8.6"),
        *("--line", "onedl", "--no-source-build"),
    )
    doc = json.loads(run.stdout)
    assert run.returncode == 1 and doc["plan"] is None, run.stdout
    reasons = {r["reason"] for r in doc["rejected"]}
    assert any("no prebuilt onedl-mmcv" in r and "source builds are off" in r for r in reasons)
    assert doc["suggestions"][0].startswith("with --allow-source-build: onedl-mmdetection")


# --- check knows the line: real venvs with onedl-* distributions ---------------------------


def _checks(mmdoctor, venv: Path) -> dict[str, dict]:
    doc = mmdoctor("check", "--python", str(venv), "--cpu-only", "--json").json()
    return {c["id"]: c for c in doc["checks"]}


def test_check_reads_an_onedl_stack_by_module_and_names_its_distributions(
    mmdoctor, onedl_lite_venv: Path
) -> None:
    checks = _checks(mmdoctor, onedl_lite_venv)
    variants = checks["mmcv.variants"]
    assert variants["status"] == "ok", variants
    for name in ("onedl-mmcv 2.3.6", "onedl-mmengine 0.10.12", "onedl-mmdetection 3.5.1"):
        assert name in variants["summary"], variants
    # the PyPI sdist built in isolation has no ops: mmcv.ops fails, mmdet says why it imports
    assert checks["mmcv.ops"]["status"] == "fail"
    assert checks["mmcv.ops"]["known_failure"] == "mmcv-ext-missing"
    compat = checks["mmdet.compat"]
    assert compat["status"] == "warn" and "onedl-mmdetection 3.5.1 imports" in compat["summary"]
    assert any("asserts no mmcv version" in d for d in compat["details"]), compat
    engine = checks["mmengine.checkpoint"]
    assert engine["status"] == "ok", engine
    assert engine["summary"].startswith("onedl-mmengine 0.10.12 and torch 2.13.0")
    opencv = checks["opencv.duplicates"]
    assert opencv["status"] == "warn", opencv
    assert "imaug 0.4.3 requires them all" in opencv["summary"]
    assert "openmim" not in checks["setuptools.window"]["summary"]  # onedl-mim needs none
    listing = mmdoctor("check", "--python", str(onedl_lite_venv), "--cpu-only", "-v").stdout
    assert re.search(r"Stack line:\s+onedl\b", listing), listing
    assert re.search(r"onedl-mmdetection:\s+3\.5\.1", listing)


def test_upstream_packages_over_onedl_ones_are_the_module_clash(
    mmdoctor, onedl_clash_venv: Path
) -> None:
    variants = _checks(mmdoctor, onedl_clash_venv)["mmcv.variants"]
    assert variants["status"] == "fail", variants
    summary = variants["summary"]
    assert "`mmcv` from mmcv-lite 2.2.0, onedl-mmcv 2.3.6" in summary, summary
    assert "`mmengine` from mmengine 0.10.7, onedl-mmengine 0.10.12" in summary, summary
    commands = variants["advice"]["commands"]
    assert commands[0].endswith("uninstall -y mmcv-lite mmengine onedl-mmcv onedl-mmengine")
    assert commands[-1].endswith("install onedl-mmengine==0.10.12"), commands
    assert any("onedl-mmcv==2.3.6" in c for c in commands), commands
    listing = mmdoctor("check", "--python", str(onedl_clash_venv), "--cpu-only", "-v").stdout
    assert "Stack line:" in listing and "mixed: onedl and openmmlab" in listing


def test_matrix_line_keeps_one_lines_rows_and_names_the_forks_mmdet(mmdoctor) -> None:
    onedl = mmdoctor("matrix", "--line", "onedl", "--json").json()["rows"]
    assert onedl and all(r["mmdet"].startswith("onedl-mmdetection ") for r in onedl)
    assert all(r["mmcv"].startswith("onedl-mmcv ") for r in onedl)
    upstream = mmdoctor("matrix", "--line", "openmmlab", "--json").json()["rows"]
    assert upstream and not any("onedl" in r["mmdet"] + r["mmcv"] for r in upstream)
    both = mmdoctor("matrix", "--json").json()["rows"]
    assert len(both) == len(onedl) + len(upstream)
    bad = mmdoctor("matrix", "--line", "foo")
    assert bad.returncode == 2 and "--line foo: expected one of openmmlab, onedl" in bad.stderr
