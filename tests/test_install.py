"""`mmdoctor install` for real: real pip, mim and uv, real venvs, a real index on 127.0.0.1.

The index serves what a clean machine gets from PyPI (tests/fakes/simple_index.py): PyPI's
own torch 2.13.0 and 2.14.1 (CUDA 13.0 builds, with their nvidia-* wheels), torchvision, both
lines' mim, mmengine and mmdet, and the mmcv 2.1.0 and onedl-mmcv 2.3.6 sdists. The machine's own pip
configuration is switched off (PIP_CONFIG_FILE=/dev/null), so every package comes from it.

Faults are injected at the index (HTTP 500, a truncated wheel, a slow download), by a signal,
and by the user's own pip settings (a conflicting constraint). After each, `pip freeze` must
equal what it was before the install, byte for byte.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
from conftest import BASE_PYTHON, REPO, Run, run_mmdoctor
from installing import (
    ONEDL_PLAN,
    PLAN,
    UV_CACHE,
    assert_restored,
    cached_mmcv_wheels,
    freeze,
    install,
    install_environ,
    make_venv,
    sources,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def fresh(tmp_path: Path) -> tuple[Path, str, str]:
    venv = make_venv(tmp_path / "venv")
    return venv, freeze(venv), freeze(venv, "--all")


# --- failures: every one leaves the environment exactly as it was ------------------------------


def test_a_wheel_the_index_serves_as_500_rolls_back(fresh, index) -> None:
    venv, before, before_all = fresh
    index.fail("torch-2.13.0", "500")
    run = install(venv, index)
    assert_restored(venv, before, before_all, run)
    assert "Install failed: step 2: pip failed" in run.stdout
    # step 1 had changed setuptools; the restore put the venv's own version back
    assert "✓ [1/" in run.stderr and "✗ [2/" in run.stderr
    assert "Log: " in run.stdout


def test_a_truncated_wheel_rolls_back_what_earlier_steps_installed(fresh, index) -> None:
    venv, before, before_all = fresh
    index.fail("openxlab-", "truncate")
    run = install(venv, index, "--json")
    assert run.returncode == 3, run.stdout + run.stderr
    doc = run.json()
    assert doc["status"] == "rolled-back" and doc["exit_code"] == 3
    assert [s["ok"] for s in doc["steps"]] == [True, True, True, False]
    assert "torch" in " ".join(doc["restore"]["removed"]).lower()
    assert doc["restore"]["ok"] is True and doc["restore"]["differences"] == []
    assert freeze(venv) == before and freeze(venv, "--all") == before_all
    log = Path(doc["log"]).read_text()
    assert "openxlab" in log and "pip uninstall --yes" in log


def test_a_conflicting_pin_in_the_users_pip_settings_rolls_back(
    fresh, index, tmp_path: Path
) -> None:
    venv, before, before_all = fresh
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("requests==2.0.0\n")  # openxlab needs requests~=2.28.2
    env = install_environ(venv.parent, PIP_CONSTRAINT=str(constraints))
    run = install(venv, index, env=env)
    assert_restored(venv, before, before_all, run)
    assert "✗ [4/" in run.stderr
    assert any("requests" in line or "conflict" in line.lower() for line in run.stdout.splitlines())


def test_ctrl_c_mid_pip_rolls_back_and_a_second_install_is_refused_meanwhile(fresh, index) -> None:
    venv, before, before_all = fresh
    index.fail("torch-2.13.0", "slow")
    env = install_environ(venv.parent)
    env["PYTHONPATH"] = str(REPO / "src")
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mmdoctor",
            "install",
            *PLAN,
            "--venv",
            str(venv),
            "--yes",
            *sources(index),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(first.stderr.readline, "")))  # type: ignore[union-attr]
    reader.start()
    deadline = time.monotonic() + 300
    while not any(line.startswith("[2/") for line in lines) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert any(line.startswith("[2/") for line in lines), lines
    time.sleep(3)  # pip is now downloading torch, slowly

    second = install(venv, index)
    assert second.returncode == 4, second.stdout + second.stderr
    assert "another mmdoctor is changing" in second.stderr

    first.send_signal(signal.SIGINT)
    stdout, _ = first.communicate(timeout=600)
    reader.join(timeout=10)
    assert first.returncode == 3, stdout + "".join(lines)
    assert "interrupted (Ctrl-C)" in stdout
    assert freeze(venv) == before and freeze(venv, "--all") == before_all


def test_a_new_venv_is_made_from_the_chosen_python_after_the_question(index, tmp_path) -> None:
    """--venv NEW --python BASE: the plan is for BASE's Python, the venv is made from BASE once
    the plan is confirmed (it was run as the venv's own, not yet there, python: "no such
    file"): its first step runs in it, and a failure then removes the venv this run made."""
    venv = tmp_path / "new"
    index.fail("torch-2.13.0", "500")
    run = install(venv, index, "--python", BASE_PYTHON)
    assert run.returncode == 3, run.stdout + run.stderr
    assert "✓ [1/" in run.stderr and "✗ [2/" in run.stderr
    assert "made by this run, is removed" in run.stdout + run.stderr
    assert not venv.exists()


# --- refusals -----------------------------------------------------------------------------------


def test_no_terminal_and_no_yes_is_refused_before_anything_changes(fresh, index) -> None:
    venv, before, _ = fresh
    run = run_mmdoctor(
        "install", *PLAN, "--venv", str(venv), *sources(index), env=install_environ(venv.parent)
    )
    assert run.returncode == 2
    assert "no terminal to ask on: add --yes" in run.stderr
    assert "Traceback" not in run.stderr
    assert freeze(venv) == before


def test_a_system_interpreter_is_refused(index, tmp_path: Path) -> None:
    pythons = sorted((Path.home() / ".pyenv" / "versions").glob("3.1[0-9]*/bin/python3"))
    system = str(pythons[0]) if pythons else BASE_PYTHON
    run = run_mmdoctor(
        "install",
        *PLAN,
        "--python",
        system,
        "--yes",
        *sources(index),
        env=install_environ(tmp_path),
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "is a system interpreter, not a virtual environment" in run.stderr
    assert "--system to insist" in run.stderr


def test_an_externally_managed_interpreter_is_refused(index, tmp_path: Path) -> None:
    marked = [
        p
        for p in (Path("/usr/bin/python3"),)
        if p.exists() and list(Path("/usr/lib").glob("python3*/EXTERNALLY-MANAGED"))
    ]
    if not marked:
        pytest.skip("no PEP 668 interpreter on this machine")
    run = run_mmdoctor(
        "install",
        *PLAN,
        "--python",
        str(marked[0]),
        "--yes",
        *sources(index),
        env=install_environ(tmp_path),
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "externally managed (PEP 668)" in run.stderr


def test_bad_mirror_urls_are_one_line_errors(tmp_path: Path) -> None:
    for args, message in (
        (["--index-url", "http://mirror.example.com/simple"], "plain http is only accepted"),
        (["--find-links", str(tmp_path / "nope")], "not a folder or a URL"),
        (["--installer", "conda"], "expected one of mim, pip, uv"),
        (["--index-url", "ftp://user:s3cret@mirror.example.com/"], "ftp://***@mirror"),
    ):
        run = run_mmdoctor("install", *PLAN, "--venv", str(tmp_path / "v"), "--yes", *args)
        assert run.returncode == 2, (args, run.stderr)
        assert message in run.stderr and "Traceback" not in run.stderr
        assert "s3cret" not in run.stdout + run.stderr
    assert not (tmp_path / "v").exists()


# --- the whole install, for real ----------------------------------------------------------------


def _assert_green(venv: Path, run: Run, tmp_path: Path) -> dict:
    """The install ended installed, its result passes `check --cpu-only` and the smoke test."""
    doc = run.json()
    failed = (doc.get("failure"), doc.get("failure_lines"), run.stdout[-3000:])
    assert run.returncode == 0 and doc["status"] == "installed", failed
    assert all(s["ok"] for s in doc["steps"]), doc["steps"]
    verified = next(s for s in doc["steps"] if "tiny nms" in s["description"])
    assert verified["note"].endswith("nms ok"), verified
    env = install_environ(tmp_path)
    check = run_mmdoctor("check", "--python", str(venv), "--cpu-only", "--json", env=env)
    report = check.json()
    problems = [c for c in report["checks"] if c["status"] in ("fail", "error")]
    assert check.returncode == 0 and problems == [], problems or check.stdout[-3000:]
    smoke = run_mmdoctor(
        "smoke-test", "--python", str(venv), "--device", "cpu", "--weights", "none", "--json",
        env=env, timeout=1800,
    )  # fmt: skip
    assert smoke.returncode == 0, smoke.stdout[-3000:] + smoke.stderr[-3000:]
    return doc


def _built(doc: dict) -> dict:
    return next(s for s in doc["steps"] if "without build isolation" in s["description"])


@pytest.mark.e2e
def test_end_to_end_install_builds_mmcv_installs_the_stack_and_checks_it(
    built_install, tmp_path: Path
) -> None:
    """mmcv 2.1.0 from its sdist (C++17) against PyPI's torch 2.13.0, mmengine 0.10.7, mmdet
    3.3.0, torchvision 0.28.0: exit 0, a clean check, a passing smoke test."""
    venv, run = built_install
    try:
        _check_built_install(venv, run, tmp_path)
    finally:
        # 5.5 GB; what later tests reuse is the built wheel, in the cache
        shutil.rmtree(venv, ignore_errors=True)


def _check_built_install(venv: Path, run: Run, tmp_path: Path) -> None:
    doc = _assert_green(venv, run, tmp_path)
    build = _built(doc)
    assert "MMCV_WITH_OPS=1" in build["command"] and "--no-build-isolation" in build["command"]
    assert build["note"].startswith(("built and cached", "reused the cached wheel"))
    assert cached_mmcv_wheels(), "the built wheel is in the cache"
    log = Path(doc["log"]).read_text()
    for package in ("mmcv-2.1.0", "mmengine-0.10.7", "mmdet-3.3.0", "torch-2.13.0"):
        assert re.search(rf"Successfully installed .*\b{re.escape(package)}\b", log), package
    assert "-m mim install mmdet==3.3.0" in log  # the default installer
    kept = freeze(venv).splitlines()
    assert "torch==2.13.0" in kept and "torchvision==0.28.0" in kept, kept


@pytest.mark.e2e
def test_end_to_end_onedl_install_builds_onedl_mmcv_with_cxx20_for_torch_2_14(
    local_index, tmp_path: Path
) -> None:
    """The maintained line on torch 2.14.1 from PyPI: onedl-mmcv 2.3.6 has no wheel for it, and
    its setup.py forces C++17 where torch 2.14's headers need C++20, so the build runs on
    mmdoctor's copy of the sdist with the flag raised. Ends with a clean check and smoke test."""
    venv = tmp_path / "venv"  # created by mmdoctor
    try:
        run = install(venv, local_index, "--json", plan=ONEDL_PLAN)
        doc = _assert_green(venv, run, tmp_path)
        assert doc["plan"]["line"]["name"] == "onedl"
        assert any("-std=c++20" in s["command"] for s in doc["steps"]), doc["steps"]
        assert _built(doc)["note"].startswith(("built and cached", "reused the cached wheel"))
        kept = freeze(venv).splitlines()
        for pin in (
            "onedl-mmcv==2.3.6", "onedl-mmengine==0.10.12", "onedl-mmdetection==3.5.1",
            "torch==2.14.1", "torchvision==0.29.1", "opencv-python==4.12.0.88",
            "opencv-python-headless==4.12.0.88",
        ):  # fmt: skip
            assert pin in kept, (pin, kept)
        assert not {"mmcv", "mmengine", "mmdet"} & {k.split("==")[0] for k in kept}
    finally:
        shutil.rmtree(venv, ignore_errors=True)  # 5.5 GB: the suite must stay under 30 GB


def _machine_cpu_torch(folder: Path) -> Path:
    """torch 2.13.0 as this machine's own pip configuration resolves it: its find-links folder
    holds a 2.13.0+cpu wheel, which outranks PyPI's 2.13.0 for `torch==2.13.0`."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "torch==2.13.0", "-d", str(folder)],
        check=True, capture_output=True, timeout=1800,
    )  # fmt: skip
    wheels = sorted(folder.glob("torch-2.13.0+cpu-*.whl"))
    if not wheels:
        pytest.skip("this machine's pip configuration has no torch 2.13.0+cpu to shadow PyPI's")
    return folder


def test_a_find_links_torch_that_shadows_the_planned_one_stops_before_the_build(
    fresh, index, tmp_path: Path
) -> None:
    """These machines' trap, as a user meets it: PIP_FIND_LINKS serves torch 2.13.0+cpu, pip
    takes it over PyPI's cu130 build, and PyPI's torchvision 0.28.0 then cannot load its ops.
    The check right after the torch step catches it in seconds, before a 13-minute build, and
    the install rolls back. (It once built mmcv first and failed only at the final check.)"""
    venv, before, before_all = fresh
    links = _machine_cpu_torch(REPO / ".cache" / "test-index" / "machine-torch")
    run = install(
        venv, index, "--json", env=install_environ(venv.parent, PIP_FIND_LINKS=str(links))
    )
    doc = run.json()
    assert run.returncode == 3 and doc["status"] == "rolled-back", run.stdout[-3000:]
    assert freeze(venv) == before and freeze(venv, "--all") == before_all
    assert [s["ok"] for s in doc["steps"]] == [True, True, False], doc["steps"]
    # the step asked PyPI's index; it says where pip really took torch from (issue 13)
    came = doc["steps"][1]["note"]
    assert came.startswith(f"came from: torch 2.13.0+cpu from {links}; torchvision 0.28.0"), came
    assert "torchvision 0.28.0 from http://127.0.0.1:" in came, came
    failure = doc["steps"][-1]["note"]
    assert "the target has torch 2.13.0+cpu (cpu), not the planned 2.13.0 (cu130)" in failure
    assert "operator torchvision::nms does not exist" in failure, failure
    assert not any("without build isolation" in s["description"] for s in doc["steps"])


@pytest.mark.e2e
@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_pip_and_uv_reuse_the_cached_build_and_rollback_undoes_the_install(
    built_install, local_index, installer: str, tmp_path: Path
) -> None:
    assert cached_mmcv_wheels(), "the end-to-end install must have built mmcv first"
    venv = make_venv(tmp_path / "venv")
    before, before_all = freeze(venv), freeze(venv, "--all")
    run = install(venv, local_index, "--installer", installer, "--json")
    doc = run.json()
    assert run.returncode == 0 and doc["status"] == "installed", run.stdout[-3000:]
    build = _built(doc)
    assert build["note"].startswith("reused the cached wheel"), build
    python = str(venv / "bin" / "python")
    head = "uv pip install" if installer == "uv" else f"{python} -m pip install"
    installs = [s for s in doc["steps"][:5] if "tiny nms" not in s["description"]]
    assert all(s["command"].startswith(head) for s in installs), doc["steps"]
    kept = freeze(venv).splitlines()
    assert "mmdet==3.3.0" in kept and "mmengine==0.10.7" in kept, kept
    works = subprocess.run(
        [python, "-c", "import mmdet.apis, mmcv.ops; print(mmcv.ops.nms)"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert works.returncode == 0, works.stderr

    back = run_mmdoctor("rollback", "--venv", str(venv), "--json", env=install_environ(tmp_path))
    assert back.returncode == 0, back.stdout + back.stderr
    assert back.json()["restore"]["ok"] is True
    assert freeze(venv) == before and freeze(venv, "--all") == before_all
    if installer == "uv":
        shutil.rmtree(UV_CACHE, ignore_errors=True)  # about 6 GB of unpacked CUDA wheels


def test_a_cuda_source_build_that_cannot_start_stops_before_any_change(fresh, index) -> None:
    """torch 2.13 cu126 has no prebuilt mmcv; this machine's nvcc is 13.0, not 12.x."""
    venv, before, _ = fresh
    run = run_mmdoctor(
        "install",
        "--venv",
        str(venv),
        "--yes",
        "--cuda",
        "12.6",
        "--torch",
        "2.13.0",
        "--mmdet",
        "3",
        "--driver",
        "580.95.05",
        "--gpu-cc",
        "8.6",
        *sources(index),
        env=install_environ(venv.parent),
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "the source build cannot start here: nvcc 13.0 does not match torch's CUDA 12.6" in (
        run.stderr
    )
    assert freeze(venv) == before
    assert not (venv.parent / "state" / "envs").exists()  # not even a snapshot was needed


def test_the_log_never_holds_credentials(tmp_path: Path) -> None:
    from mmdoctor.install.state import Log

    log = Log(tmp_path / "x.log")
    log.write("Looking in indexes: https://build:s3cret-token@mirror.example.com/simple")
    log.close()
    text = (tmp_path / "x.log").read_text()
    assert "s3cret" not in text and "https://***@mirror.example.com/simple" in text


def test_a_wheel_without_compiled_ops_is_told_apart(tmp_path: Path) -> None:
    # a build that skips the ops (no torch in sight) makes a pure-Python mmcv: never the result
    from mmdoctor.wheel_cache import has_compiled_ops

    lite, full = tmp_path / "lite.whl", tmp_path / "full.whl"
    with zipfile.ZipFile(lite, "w") as archive:
        archive.writestr("mmcv/__init__.py", "")
    with zipfile.ZipFile(full, "w") as archive:
        archive.writestr("mmcv/__init__.py", "")
        archive.writestr("mmcv/_ext.cpython-311-x86_64-linux-gnu.so", "")
    assert not has_compiled_ops(lite) and has_compiled_ops(full)


def test_a_state_dir_that_is_a_file_is_bad_input_and_rollback_writes_nothing(
    tmp_path: Path,
) -> None:
    venv = make_venv(tmp_path / "venv")
    state = tmp_path / "state"
    env = {**install_environ(tmp_path), "MMDOCTOR_STATE_DIR": str(state)}
    nothing = run_mmdoctor("rollback", "--venv", str(venv), "--json", env=env)
    assert nothing.returncode == 1 and "no snapshot" in nothing.stderr
    assert not state.exists()  # saying "no snapshot" made no state folder
    state.write_text("not a folder")
    run = run_mmdoctor(
        "install", *PLAN, "--venv", str(venv), "--yes", "--find-links", str(tmp_path), env=env
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert (
        "cannot hold mmdoctor's snapshots and logs" in run.stderr and "Traceback" not in run.stderr
    )


# --- a source build that raises the C++ standard (issue 11) -----------------------------------


def test_the_cxx20_build_prepares_its_own_copy_of_the_real_sdist(
    index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan's own download, unpack and raise steps, run for real on mmcv 2.1.0's sdist from
    the test index: the copy asks for C++20 everywhere, the downloaded sdist is untouched, and
    a cached wheel skips them. (The compile itself is measured in docs/matrix.md: it needs a
    torch 2.14 whose build matches the plan, which these machines have only from PyPI.)"""
    from installing import isolated_pip_env
    from packaging.version import Version

    from mmdoctor.commands.interaction import SilentProgress
    from mmdoctor.install.execute import StepFailed, _require_raised_standard, _run
    from mmdoctor.install.runner import Runner
    from mmdoctor.install.state import Log
    from mmdoctor.planning.machine import Machine
    from mmdoctor.planning.matrix import load_matrix
    from mmdoctor.planning.plan import build_plan
    from mmdoctor.planning.resolver import resolve
    from mmdoctor.planning.sources import Sources
    from mmdoctor.planning.wishes import Wishes

    clean = isolated_pip_env()
    for name in [n for n in os.environ if n not in clean]:  # PIP_FIND_LINKS, ...
        monkeypatch.delenv(name)
    for name, value in clean.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MMDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    matrix = load_matrix()
    machine = Machine(os="linux", python=Version("3.11"))  # BASE_PYTHON, which the venv runs
    chosen = resolve(
        machine, Wishes(cpu=True, torch=Version("2.14"), mmdet="3", line="openmmlab"), matrix
    ).chosen
    assert chosen is not None and chosen.mmcv.raise_cxx_to == 20
    python = str(make_venv(tmp_path / "venv") / "bin" / "python")
    plan = build_plan(
        chosen, machine, matrix, executable=python, sources=Sources(index_url=index.url)
    )
    prepare = tuple(s for s in plan.steps if s.unless_built)
    assert [s.argv[0] for s in prepare] == [python, "tar", "sed"]
    runner = Runner(Log(tmp_path / "log.txt"))
    # the plan's first step (setuptools 80.9.0, wheel, ...), then the preparation
    tools = plan.steps[0]
    assert "setuptools==80.9.0" in tools.argv
    records, failure, output = _run((tools, *prepare), runner, SilentProgress(), lambda: "", {})
    assert failure is None, (failure, output)
    tree = Path(prepare[-1].argv[-1]).parent
    assert str(tree).startswith(str(tmp_path / "cache" / "sources"))
    setup = (tree / "setup.py").read_text(encoding="utf-8")
    assert "-std=c++20" in setup and "-std=c++17" not in setup
    assert "-std=c++17" in (tree / "setup.py.c++17").read_text(encoding="utf-8")
    _require_raised_standard(tree, 17, 20)
    sdist = Path(prepare[1].argv[2])
    assert sdist.read_bytes() == (index.folder / sdist.name).read_bytes()  # the download as served
    (tree / "setup.py.c++17").replace(tree / "setup.py")
    with pytest.raises(StepFailed, match="17"):
        _require_raised_standard(tree, 17, 20)
    # Once the wheel is in the cache, the preparation is skipped.
    wheelhouse = Path(prepare[0].unless_built)
    wheelhouse.mkdir(parents=True)
    (wheelhouse / "mmcv-2.1.0-cp311-cp311-linux_x86_64.whl").write_bytes(b"")
    records, failure, _ = _run(prepare, runner, SilentProgress(), lambda: "", {})
    assert failure is None and all("skipped" in r.note for r in records), records


# --- the check right after torch (issue 12) ---------------------------------------------------


def test_the_torch_check_names_each_build_that_is_not_the_planned_one() -> None:
    from packaging.version import Version

    from mmdoctor.install.execute import _unplanned
    from mmdoctor.planning.machine import Machine
    from mmdoctor.planning.matrix import load_matrix
    from mmdoctor.planning.plan import build_plan
    from mmdoctor.planning.resolver import resolve
    from mmdoctor.planning.wishes import Wishes

    matrix = load_matrix()
    machine = Machine(os="linux", python=Version("3.11"))
    wishes = Wishes(cpu=True, torch=Version("2.13"), torch_source="pypi", line="openmmlab")
    chosen = resolve(machine, wishes, matrix).chosen
    assert chosen is not None
    plan = build_plan(chosen, machine, matrix, executable="python")
    assert (plan.torch_version, plan.torchvision_version) == ("2.13.0", "0.28.0")
    assert _unplanned(plan, {"torch": ["2.13.0", "13.0"], "torchvision": ["0.28.0"]}) == []
    assert _unplanned(plan, {"torch": ["2.13.0+cpu", "cpu"], "torchvision": ["0.28.0"]}) == [
        "the target has torch 2.13.0+cpu (cpu), not the planned 2.13.0 (cu130): pip's own "
        "settings (find-links, an extra index) gave another build"
    ]
    assert _unplanned(plan, {"torch": ["2.13.0", "13.0"], "torchvision": ["0.29.1"]}) == [
        "the target has torchvision 0.29.1, not the planned 0.28.0"
    ]
    # torch failed to import: nothing printed, nothing to compare (the failure says why)
    assert _unplanned(plan, {}) == []
