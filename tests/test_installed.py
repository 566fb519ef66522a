"""Start from what is installed (issue 25): a torch that runs here is kept and the rest fitted
to it; a plan is a set of changes (keep, add, replace, remove); the environment's own pins are
never broken; fix, check and install plan alike; a dry run says what the real run will do."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from builders import env, nvidia, ok_step, torch_step
from conftest import run_mmdoctor
from fakes.nvml import fake_nvml_env
from installing import freeze, install_environ, make_venv, sources
from packaging.version import Version

from mmdoctor.fix import stack_focus
from mmdoctor.planning.machine import PlanningContext
from mmdoctor.planning.matrix import load_matrix
from mmdoctor.planning.sources import Sources
from mmdoctor.planning.stack import plan_stack
from mmdoctor.planning.wishes import Wishes

H100 = "NVIDIA H100 80GB HBM3|9.0|81559|GPU-11111111-2222-3333-4444-555555555555"
M = load_matrix(None)


def _pip(venv: Path, work: Path, *args: str) -> None:
    """pip in the venv, from the test index only (as a user's machine sees PyPI)."""
    run = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", *args],
        capture_output=True, text=True, env=install_environ(work), timeout=1800,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]


def _build(doc: dict) -> dict:
    return next(s for s in doc["steps"] if "without build isolation" in s["description"])


def _changes(doc: dict) -> dict[str, dict]:
    return {c["name"]: c for c in doc["plan"]["changes"]}


# --- the planning layer ------------------------------------------------------------------------


def test_a_pre_release_torch_is_kept_and_mmcv_built_for_it() -> None:
    """NVIDIA's NGC containers: a pre-release torch with a local tag, pinned by the container.
    No prebuilt mmcv index serves it: the plan builds mmcv for it and never reinstalls torch."""
    torch = "2.10.0a0+b558c6e"
    found = env(
        dists={"torch": torch, "torchvision": "0.25.0a0+2c8a7a2", "numpy": "1.26.4"},
        nvidia_info=nvidia("580.95.05", "13.0", "9.0"),
        steps=[
            torch_step(torch, "13.0", ["sm_80", "sm_90", "sm_100", "compute_100"]),
            ok_step("torchvision", version="0.25.0a0+2c8a7a2", cuda=13000),
        ],
        python="3.12.3",
    )
    context = PlanningContext.from_environment(found)
    stack = plan_stack(found, context, Wishes(line="onedl"), M, installer="pip", sources=Sources())
    assert stack.installed is not None and stack.installed.release == Version("2.10.0")
    assert stack.installed.cuda == "13.0" and not stack.installed.plain
    plan = stack.plan
    assert plan is not None, stack.resolution.rejected
    changes = {c.name: c for c in plan.changes.items}
    assert changes["torch"].action == "keep" and changes["torch"].installed == torch
    assert changes["torchvision"].action == "keep"
    assert not plan.mmcv_prebuilt and changes["onedl-mmcv"].action == "add"
    argvs = [" ".join(s.argv) for s in plan.steps]
    assert not any("torch==" in a for a in argvs), argvs  # torch is never asked of pip
    build = next(s for s in plan.steps if s.kind == "build")
    assert build.env["TORCH_CUDA_ARCH_LIST"] == "9.0"  # the GPU here, for a torch of its own
    assert any("not a plain release" in note for note in stack.installed.notes)


def test_a_kept_mmcv_is_written_again_once_the_lite_copy_of_its_module_goes() -> None:
    """mmcv and mmcv-lite both write mmcv/: uninstalling mmcv-lite deletes files mmcv needs,
    so the mmcv kept is reinstalled at its own version, with nothing else (CI caught a fix
    that removed mmcv-lite and left `import mmcv.ops` failing)."""
    found = env(
        dists={"torch": "2.1.2", "torchvision": "0.16.2", "numpy": "1.26.4",
               "mmcv": "2.1.0", "mmcv-lite": "2.2.0"},
        steps=[torch_step("2.1.2", None, []), ok_step("torchvision", version="0.16.2"),
               ok_step("mmcv_ext")],
    )  # fmt: skip
    context = PlanningContext.from_environment(found)
    focus = frozenset({"mmcv", "mmcv-lite", "mmcv-full"})
    plan = plan_stack(
        found, context, Wishes(cpu=True), M, installer="pip", sources=Sources(), focus=focus
    ).plan
    assert plan is not None
    changes = {c.name: c for c in plan.changes.items}
    assert changes["mmcv-lite"].action == "remove"
    mmcv = changes["mmcv"]
    assert (mmcv.action, mmcv.installed, mmcv.planned) == ("replace", "2.1.0", "2.1.0"), mmcv
    argvs = [s.argv for s in plan.steps]
    removal = next(i for i, a in enumerate(argvs) if "uninstall" in a)
    again = next(i for i, a in enumerate(argvs) if "mmcv==2.1.0" in a)
    assert removal < again and {"--force-reinstall", "--no-deps"} <= set(argvs[again]), argvs


def test_a_fix_that_installs_through_mim_adds_mim_and_one_that_builds_does_not() -> None:
    """fix plans as install does, mim by default: where a step goes through mim (a prebuilt
    mmcv, mmengine, mmdet), the line's mim is added first; a source build needs none."""

    def fix_plan(torch: str) -> list[str]:
        found = env(dists={"torch": torch, "numpy": "1.26.4"}, steps=[torch_step(torch, None, [])])
        focus = stack_focus("mmcv.ops", M)  # every distribution of the module mmcv
        plan = plan_stack(found, PlanningContext.from_environment(found), Wishes(cpu=True), M,
                          installer="mim", sources=Sources(), focus=focus).plan  # fmt: skip
        assert plan is not None
        return [" ".join(step.argv) for step in plan.steps]

    prebuilt = fix_plan("2.1.2")  # kept; mmcv 2.1.0 has a wheel for it
    mim = next(i for i, a in enumerate(prebuilt) if "install openmim==" in a)
    assert mim < next(i for i, a in enumerate(prebuilt) if "-m mim install mmcv==" in a)
    built = fix_plan("2.13.0+cpu")  # kept; no mmcv wheel for it: built here, by pip
    assert any(" wheel " in a and "mmcv==" in a for a in built), built
    assert not any("mim" in a for a in built), built


def test_a_torch_pinned_by_the_environment_is_never_replaced() -> None:
    found = env(
        dists={"torch": "2.14.1", "torchvision": "0.29.1"},
        steps=[
            torch_step("2.14.1", "13.0", ["sm_90"]),
            ok_step("torchvision", version="0.29.1", cuda=13000),
        ],
    )
    pinned = replace(found.target, constraints=(("/c.txt", "torch==2.14.1"),))
    found = replace(found, target=pinned)
    context = PlanningContext.from_environment(found)
    wishes = Wishes(torch=Version("2.13"))
    asked = plan_stack(found, context, wishes, M, installer="pip", sources=Sources())
    assert asked.plan is None
    (refusal,) = asked.resolution.rejected  # one line, naming the pin, not every candidate
    assert refusal.candidate == "--torch 2.13" and "/c.txt: torch==2.14.1" in refusal.reason
    kept = plan_stack(found, context, Wishes(line="onedl"), M, installer="pip", sources=Sources())
    assert kept.plan is not None and kept.plan.changes.keeps("torch"), kept.resolution.rejected


# --- against real environments -----------------------------------------------------------------


def test_a_cpu_torch_on_a_gpu_machine_is_replaced_and_says_why_first(
    torch_venv: Path, fake_nvml_lib: Path
) -> None:
    nvml = fake_nvml_env(fake_nvml_lib, gpus=[H100], driver="580.95.05", cuda=13000)
    args = ("install", "--python", str(torch_venv), "--dry-run")
    doc = run_mmdoctor(*args, "--json", env=nvml).json()
    torch = _changes(doc)["torch"]
    assert torch["action"] == "replace" and torch["installed"] == "2.13.0+cpu", torch
    assert "CPU-only build, and this machine has NVIDIA GPUs" in torch["reason"]
    text = run_mmdoctor(*args, env=nvml).stdout.splitlines()
    changes = text.index("Changes:")
    assert changes <= 3 and text[changes + 1].strip().startswith("replaces torch 2.13.0+cpu with")


def test_a_pinned_torch_is_kept_and_another_is_refused_naming_the_pin(
    cuda_torch_venv: Path, tmp_path: Path
) -> None:
    """torch 2.14.1 (PyPI's CUDA 13.0 build) pinned by a constraints file, as NGC pins its own:
    an onedl plan keeps it; --torch 2.13 is refused, naming the constraint, and nothing moves."""
    pins = tmp_path / "constraints.txt"
    pins.write_text("torch==2.14.1\n")
    environ = {**install_environ(tmp_path), "PIP_CONSTRAINT": str(pins), "MMDOCTOR_OFFLINE": "1"}
    kept = run_mmdoctor(
        "install", "--python", str(cuda_torch_venv), "--line", "onedl", "--dry-run", "--json",
        env=environ,
    )  # fmt: skip
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert _changes(kept.json())["torch"]["action"] == "keep"
    before = freeze(cuda_torch_venv, "--all")
    refused = run_mmdoctor(
        "install", "--python", str(cuda_torch_venv), "--line", "onedl", "--torch", "2.13",
        "--yes", "--json", env=environ,
    )  # fmt: skip
    assert refused.returncode == 1, refused.stdout + refused.stderr
    doc = refused.json()
    assert doc["status"] == "no-plan", doc
    assert doc["rejected"] == [
        {
            "candidate": "--torch 2.13",
            "reason": f"the environment's constraint {pins}: torch==2.14.1 forbids it",
        }
    ]
    assert freeze(cuda_torch_venv, "--all") == before


def test_a_dry_run_refuses_an_externally_managed_python_as_the_real_run() -> None:
    # issue 25: the dry run planned for it and ended "Next: the same command without
    # --dry-run", which the real run then refused
    python = Path("/usr/bin/python3")
    if not (python.exists() and list(Path("/usr/lib").glob("python3*/EXTERNALLY-MANAGED"))):
        pytest.skip("no PEP 668 interpreter on this machine")
    dry = run_mmdoctor("install", "--python", str(python), "--cpu", "--dry-run")
    real = run_mmdoctor("install", "--python", str(python), "--cpu", "--yes")
    assert dry.returncode == real.returncode == 2, dry.stderr + real.stderr
    assert dry.stderr == real.stderr and "externally managed (PEP 668)" in dry.stderr
    assert "Next:" not in dry.stdout


def test_a_dry_run_names_the_host_that_does_not_answer_as_the_real_run(
    fresh_venv: Path, index
) -> None:
    dead = "https://127.0.0.1:9/simple"  # nothing listens on the discard port
    args = ["install", "--python", str(fresh_venv), "--cpu", "--torch-index-url", dead]
    args += ["--index-url", index.url]
    environ = install_environ(fresh_venv.parent)
    dry = run_mmdoctor(*args, "--dry-run", env=environ)
    real = run_mmdoctor(*args, "--yes", env=environ)
    assert dry.returncode == real.returncode == 4, dry.stderr + real.stderr
    assert "127.0.0.1:9/simple" in dry.stderr and dry.stderr == real.stderr
    assert "Next:" not in dry.stdout


@pytest.fixture
def fresh_venv(tmp_path: Path) -> Path:
    return make_venv(tmp_path / "venv")


# --- real installs and fixes (the mmcv wheel comes from the end-to-end build's cache) ----------


def test_an_install_keeps_the_torch_it_finds_and_ends_green(
    mmcv_wheel: Path, local_index, tmp_path: Path
) -> None:
    """A venv holding only PyPI's torch 2.13.0: the install keeps it (the same distribution
    before and after), builds (or reuses) mmcv 2.1.0 for it, ends green, and the smoke test
    passes."""
    work = tmp_path
    venv = make_venv(work / "venv")
    try:
        _pip(venv, work, "--index-url", local_index.url, "torch==2.13.0")
        torch_before = [line for line in freeze(venv).splitlines() if line.startswith("torch==")]
        run = run_mmdoctor(
            "install", "--python", str(venv), "--cpu", "--line", "openmmlab", "--mmdet", "3",
            "--allow-source-build", "--yes", *sources(local_index), "--json",
            env=install_environ(work), timeout=3600,
        )  # fmt: skip
        doc = run.json()
        assert run.returncode == 0 and doc["status"] == "installed", run.stdout[-4000:]
        assert _changes(doc)["torch"]["action"] == "keep"
        assert not any("torch==" in s["command"] for s in doc["steps"]), doc["steps"]
        assert _build(doc)["note"].startswith("reused the cached wheel"), _build(doc)
        torch_after = [line for line in freeze(venv).splitlines() if line.startswith("torch==")]
        assert torch_before == torch_after == ["torch==2.13.0"]
        smoke = run_mmdoctor(
            "smoke-test", "--python", str(venv), "--device", "cpu", "--weights", "none",
            "--json", env=install_environ(work), timeout=1800,
        )  # fmt: skip
        assert smoke.returncode == 0, smoke.stdout[-3000:]
    finally:
        shutil.rmtree(venv, ignore_errors=True)  # 5.5 GB


def test_fix_repairs_a_broken_stack_and_pip_check_is_clean(
    mmcv_wheel: Path, local_index, tmp_path: Path
) -> None:
    """The stack's torch with NumPy 2, both OpenCV distributions, mmdet and mmengine without
    mmcv, from real wheels: fix keeps torch, adds mmcv, leaves one OpenCV that works, and
    ends with check passing and `pip check` clean, or rolls back exactly."""
    work = tmp_path
    venv = make_venv(work / "venv")
    try:
        _pip(
            venv, work, "--index-url", local_index.url, "torch==2.13.0", "numpy==2.2.6",
            "opencv-python==4.12.0.88", "opencv-python-headless==4.12.0.88",
            "mmengine==0.10.7", "mmdet==3.3.0",
        )  # fmt: skip
        before = freeze(venv, "--all")
        run = run_mmdoctor(
            "fix", "--python", str(venv), "--cpu-only", "--yes", "--index-url", local_index.url,
            "--json", env=install_environ(work), timeout=3600,
        )  # fmt: skip
        doc = run.json()
        if run.returncode == 3:  # it did not hold: then exactly as it was
            assert doc["restore"]["ok"] and freeze(venv, "--all") == before, doc
            pytest.fail(f"the fix did not hold: {doc['failure']} {doc['failure_lines']}")
        assert run.returncode == 0 and doc["status"] == "fixed", run.stdout[-4000:]
        # the plan's build, as install runs it: the wheel built for this torch, from the cache
        assert _build(doc)["note"].startswith("reused the cached wheel"), _build(doc)
        changes = {c["name"]: c["action"] for c in doc["plan"]["changes"]}
        assert changes["mmcv"] == "add" and changes["opencv-python-headless"] == "remove"
        assert changes["opencv-python"] == "keep", changes  # reinstalled whole, as it was
        kept = freeze(venv).splitlines()
        assert "torch==2.13.0" in kept and "mmcv==2.1.0" in kept, kept
        assert not any(line.startswith("opencv-python-headless==") for line in kept), kept
        pip_check = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "check"], capture_output=True, text=True
        )
        assert pip_check.returncode == 0, pip_check.stdout
        offline = {**install_environ(work), "MMDOCTOR_OFFLINE": "1"}  # this check's point
        check = run_mmdoctor("check", "--python", str(venv), "--cpu-only", "--json", env=offline)
        failing = [c["id"] for c in check.json()["checks"] if c["status"] == "fail"]
        assert check.returncode == 0, failing
    finally:
        shutil.rmtree(venv, ignore_errors=True)
