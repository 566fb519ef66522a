"""`mmdoctor install --dry-run` and `mmdoctor matrix` as users and scripts run them.

The real CLI in subprocesses. What-if values (--driver, --gpu-cc, --python-version) describe
the machine; nothing here reaches download.pytorch.org or download.openmmlab.com.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

SEED = (
    "install",
    "--cuda",
    "11.6",
    "--python-version",
    "3.10",
    "--mmdet",
    "2",
    "--driver",
    "535.104.05",
    "--gpu-cc",
    "8.6",
)
CU116_MMCV = "https://download.openmmlab.com/mmcv/dist/cu116/torch1.13.0/index.html"


def assert_one_line_error(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("mmdoctor: error: "), stderr
    return lines[0]


def parse_requirements(text: str) -> tuple[list[str], dict[str, Requirement]]:
    """Option lines and requirements, as pip reads the file: comments dropped, one per line."""
    options: list[str] = []
    requirements: dict[str, Requirement] = {}
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        if line.startswith("-"):
            options.append(line)
            continue
        requirement = Requirement(line)  # raises InvalidRequirement on anything pip would reject
        assert requirement.name not in requirements, f"{requirement.name} twice"
        requirements[requirement.name] = requirement
    return options, requirements


def pinned(requirement: Requirement) -> str:
    (spec,) = requirement.specifier
    assert spec.operator == "==", requirement
    return spec.version


# ------------------------------------------------------------------- plans


def test_seed_plan_as_json(mmdoctor) -> None:
    run = mmdoctor(*SEED, "--dry-run", "--json")
    assert run.returncode == 0, run.stderr
    doc = run.json()
    assert doc["command"] == "install" and doc["status"] == "planned" and doc["exit_code"] == 0
    plan = doc["plan"]
    assert plan["torch"]["version"] == "1.13.1"
    assert plan["torch"]["variant"] == "cu116"
    assert plan["torch"]["index_url"] == "https://download.pytorch.org/whl/cu116"
    assert plan["torchvision"]["version"] == "0.14.1"
    mmcv = plan["mmcv"]
    assert mmcv["name"] == "mmcv-full"
    assert mmcv["prebuilt"] is True
    assert mmcv["find_links"] == CU116_MMCV
    assert Version(mmcv["version"]) in Requirement("mmcv-full~=1.7.0").specifier
    assert plan["mmdet"]["version"] == "2.28.2"
    assert plan["mmengine"] is None
    assert "setuptools" in {pin["name"] for pin in plan["pins"]}
    assert doc["machine"]["driver"] == "535.104.05" and doc["machine"]["gpu_cc"] == ["8.6"]

    target = plan["executable"]
    assert target == "python"  # a plan for another machine (issue 13.2): its own interpreter
    steps = plan["steps"]
    assert len(steps) >= 5
    for step in steps:
        assert isinstance(step["argv"], list) and all(isinstance(a, str) for a in step["argv"])
    for step in steps[:-1]:
        assert step["argv"][0] == target, step
    assert steps[-1]["argv"] == ["mmdoctor", "check", "--python", target]
    # The interpreter, not a bare `pip`/`mim` from PATH that may belong to another environment.
    assert any(s["argv"][1:4] == ["-m", "mim", "install"] for s in steps)
    torch_step = next(s for s in steps if "--index-url" in s["argv"])
    assert "torch==1.13.1" in torch_step["argv"]


def test_seed_plan_on_python_311_is_no_plan(mmdoctor) -> None:
    args = [a if a != "3.10" else "3.11" for a in SEED]
    run = mmdoctor(*args, "--dry-run", "--json")
    assert run.returncode == 1, run.stderr
    doc = run.json()
    assert doc["status"] == "no-plan" and doc["exit_code"] == 1
    assert doc["plan"] is None
    assert doc["rejected"]
    for rejection in doc["rejected"]:
        assert set(rejection) == {"candidate", "reason"}
        assert rejection["candidate"] and "Python" in rejection["reason"]
    assert any(s.startswith("on Python 3.10") for s in doc["suggestions"])


def test_seed_plan_in_text(mmdoctor) -> None:
    run = mmdoctor(*SEED, "--dry-run")
    assert run.returncode == 0, run.stderr
    assert "torch 1.13.1 (cu116)" in run.stdout
    assert "mim install mmcv-full==1.7" in run.stdout
    assert "Dry run: nothing was changed." in run.stdout


def test_mmcv_base_url_mirror_is_used_for_the_find_links(mmdoctor) -> None:
    mirror = "https://mirror.example.org/openmmlab"
    run = mmdoctor(*SEED, "--dry-run", "--json", env={**os.environ, "MMCV_BASE_URL": mirror})
    assert run.returncode == 0, run.stderr
    find_links = run.json()["plan"]["mmcv"]["find_links"]
    assert find_links == CU116_MMCV.replace("https://download.openmmlab.com", mirror)


def test_mmcv_step_names_the_mirror_too(mmdoctor) -> None:
    mirror = "https://mirror.example.org/openmmlab"
    run = mmdoctor(*SEED, "--dry-run", "--json", env={**os.environ, "MMCV_BASE_URL": mirror})
    step = next(s for s in run.json()["plan"]["steps"] if "mmcv-full==" in " ".join(s["argv"]))
    assert "download.openmmlab.com" not in step["description"]


def test_an_exact_torch_patch_is_honoured_or_refused(mmdoctor) -> None:
    base = ["install", "--driver", "535.104.05", "--gpu-cc", "8.6", "--python-version", "3.10"]
    run = mmdoctor(*base, "--torch", "2.1.0", "--dry-run", "--json")
    assert run.returncode in (0, 2), run.stderr
    if run.returncode == 0:
        assert run.json()["plan"]["torch"]["version"] == "2.1.0"
    made_up = mmdoctor(*base, "--torch", "2.1.7", "--dry-run", "--json")
    assert made_up.returncode == 2


def test_plan_on_this_machine_without_what_if_values_is_cpu(mmdoctor) -> None:
    run = mmdoctor("install", "--python", sys.executable, "--dry-run", "--json")
    assert run.returncode in (0, 1), run.stderr
    doc = run.json()
    if doc["machine"]["driver"] is not None or doc["machine"]["gpu_cc"]:
        pytest.skip("this machine has an NVIDIA driver")
    assert doc["machine"]["sources"]["python"] == f"{sys.executable} (--python)"
    assert run.returncode == 0, doc["rejected"]
    assert doc["plan"]["torch"]["variant"] == "cpu"
    assert doc["plan"]["torch"]["index_url"] == "https://download.pytorch.org/whl/cpu"


# ------------------------------------------------------------------- --export


def test_export_writes_a_requirements_file_pip_can_read(mmdoctor, tmp_path) -> None:
    out = tmp_path / "requirements.txt"
    run = mmdoctor(*SEED, "--export", str(out), "--json")
    assert run.returncode == 0, run.stderr
    assert run.json()["exported"] == str(out)
    options, requirements = parse_requirements(out.read_text())
    assert "--extra-index-url https://download.pytorch.org/whl/cu116" in options
    assert f"--find-links {CU116_MMCV}" in options
    assert all(o.startswith(("--extra-index-url ", "--find-links ")) for o in options), options
    assert pinned(requirements["torch"]) == "1.13.1+cu116"
    assert pinned(requirements["torchvision"]) == "0.14.1+cu116"
    assert pinned(requirements["mmdet"]) == "2.28.2"
    assert pinned(requirements["mmcv-full"]).startswith("1.7.")
    assert pinned(requirements["setuptools"]) == "80.9.0"
    assert "mmengine" not in requirements
    assert "mmcv" not in requirements  # only one mmcv distribution


def test_export_of_a_cpu_plan_on_python_311(mmdoctor, tmp_path) -> None:
    out = tmp_path / "cpu.txt"
    run = mmdoctor("install", "--cpu", "--python-version", "3.11", "--export", str(out))
    assert run.returncode == 0, run.stderr
    assert str(out) in run.stdout
    options, requirements = parse_requirements(out.read_text())
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in options
    torch = pinned(requirements["torch"])
    assert torch.endswith("+cpu")
    minor = ".".join(torch.split(".")[:2])
    link = f"--find-links https://download.openmmlab.com/mmcv/dist/cpu/torch{minor}.0/index.html"
    assert link in options
    assert pinned(requirements["torchvision"]).endswith("+cpu")
    assert pinned(requirements["mmdet"]).startswith("3.")
    assert pinned(requirements["mmengine"])
    assert Version(pinned(requirements["mmcv"])) < Version("2.2.0")


def test_export_without_a_plan_writes_nothing(mmdoctor, tmp_path) -> None:
    out = tmp_path / "none.txt"
    args = [a if a != "3.10" else "3.11" for a in SEED]
    run = mmdoctor(*args, "--export", str(out), "--json")
    assert run.returncode == 1, run.stderr
    assert run.json()["exported"] is None
    assert not out.exists()


# ------------------------------------------------------------------- matrix


def test_matrix_mmdet_3_json(mmdoctor) -> None:
    run = mmdoctor("matrix", "--mmdet", "3", "--json")
    assert run.returncode == 0, run.stderr
    doc = run.json()
    assert doc["command"] == "matrix" and doc["status"] == "ok"
    rows = doc["rows"]
    assert rows
    assert any(
        r["mmcv"] == "mmcv 2.1.0"
        and r["torch"] == "2.1"
        and "cu121" in r["variants"]
        and r["how"] == "prebuilt"
        for r in rows
    ), rows
    # the fork's rows name their distribution ("onedl-mmdetection 3.4.0"), upstream's do not
    assert all(r["mmdet"].split()[-1].startswith("3.") for r in rows), rows
    for row in rows:
        fork_mmdet = row["mmdet"].startswith("onedl-mmdetection ")
        assert fork_mmdet == row["mmcv"].startswith("onedl-mmcv "), row
    # mmdet 3.2-3.3 need mmcv < 2.2.0, which has no wheels for torch >= 2.2; the onedl line's
    # rows are its own (prebuilt onedl-mmcv for torch 2.4-2.10).
    assert any(r["mmcv"].startswith("onedl-mmcv 2.3.6") and r["how"] == "prebuilt" for r in rows)
    for row in rows:
        if Version(row["torch"]) >= Version("2.2") and row["mmcv"].startswith("mmcv "):
            assert row["how"] == "source build", row


def test_matrix_filters(mmdoctor) -> None:
    run = mmdoctor("matrix", "--cuda", "11.6", "--torch", "1.13", "--json")
    assert run.returncode == 0, run.stderr
    rows = run.json()["rows"]
    assert rows and all(r["torch"] == "1.13" and r["variants"] == ["cu116"] for r in rows)
    assert any(r["mmcv"].startswith("mmcv-full 1.7") and r["how"] == "prebuilt" for r in rows)


# ------------------------------------------------------------------- bad input: exit 2


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--cuda", "11.x"), "--cuda"),
        (("--cuda", "abc"), "--cuda"),
        (("--torch", "9.9"), "--torch"),
        (("--gpu-cc", "86"), "--gpu-cc"),
        (("--mmdet", "4"), "--mmdet"),
        (("--driver", "banana"), "--driver"),
        (("--cpu", "--cuda", "11.8"), "--cpu"),
    ],
    ids=lambda a: " ".join(a) if isinstance(a, tuple) else None,
)
def test_bad_values_exit_2_with_one_line(mmdoctor, args, needle) -> None:
    run = mmdoctor("install", *args, "--python-version", "3.10", "--dry-run")
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert needle in assert_one_line_error(run.stderr)
    as_json = mmdoctor("install", *args, "--python-version", "3.10", "--dry-run", "--json")
    assert as_json.returncode == 2
    assert_one_line_error(as_json.stderr)
    doc = as_json.json()
    assert doc["status"] == "error" and doc["exit_code"] == 2 and doc["errors"]


@pytest.mark.parametrize("version", ["3.6", "3.1", "2.7"])
def test_a_what_if_python_no_stack_runs_on_is_refused(mmdoctor, version: str) -> None:
    # issue 13.8 and 16: --python-version 3.1 (or 3.6) was accepted and planned
    run = mmdoctor("install", "--python-version", version, "--dry-run")
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "(3.7 or newer)" in assert_one_line_error(run.stderr)


def test_matrix_bad_value_exits_2(mmdoctor) -> None:
    run = mmdoctor("matrix", "--cuda", "abc")
    assert run.returncode == 2
    assert "--cuda" in assert_one_line_error(run.stderr)


def test_install_without_dry_run_is_refused_for_now(mmdoctor) -> None:
    run = mmdoctor(*SEED)
    assert run.returncode == 2
    assert "--dry-run" in assert_one_line_error(run.stderr)


def test_dry_run_with_venv_plans_for_the_venv_it_would_create(mmdoctor, tmp_path) -> None:
    # issue 13.1: the plan is for the venv's Python and its steps run the venv's interpreter
    pythons = sorted((Path.home() / ".pyenv" / "versions").glob("3.10*/bin/python3"))
    if not pythons:
        pytest.skip("no Python 3.10 from pyenv here")
    venv = tmp_path / "new-venv"
    run = mmdoctor(
        "install", "--venv", str(venv), "--python", str(pythons[0]), "--dry-run", "--json"
    )
    assert run.returncode == 0, run.stderr
    doc = run.json()
    assert doc["machine"]["python"] == "3.10"
    assert doc["plan"]["executable"] == str(venv / "bin" / "python")
    assert all(
        step["argv"][0] in (str(venv / "bin" / "python"), "mmdoctor")
        for step in doc["plan"]["steps"]
    )
    assert not venv.exists()  # a dry run creates nothing


def test_dry_run_with_an_existing_venv_plans_for_its_interpreter(mmdoctor, bare_venv) -> None:
    run = mmdoctor("install", "--venv", str(bare_venv), "--dry-run", "--json")
    assert run.returncode == 0, run.stderr
    assert run.json()["plan"]["executable"] == str(bare_venv / "bin" / "python")


def test_dry_run_refuses_a_venv_folder_that_is_not_one(mmdoctor, tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    run = mmdoctor("install", "--venv", str(tmp_path), "--dry-run")
    assert run.returncode == 2
    assert "exists but is not a virtual environment" in assert_one_line_error(run.stderr)


# ------------------------------------------------------------------- source builds (issue 13.5)

SOURCE_BUILD = ["install", "--torch", "2.5", "--driver", "535.104.05", "--gpu-cc", "8.6"]
SOURCE_BUILD += ["--python-version", "3.11", "--line", "openmmlab"]


def test_a_source_build_plan_shows_the_steps_that_run(mmdoctor, tmp_path) -> None:
    env = {**os.environ, "MMDOCTOR_CACHE_DIR": str(tmp_path / "cache")}
    run = mmdoctor(*SOURCE_BUILD, "--dry-run", "--json", env=env)
    assert run.returncode == 0, run.stderr
    steps = run.json()["plan"]["steps"]
    at = next(i for i, s in enumerate(steps) if "--wheel-dir" in s["argv"])
    build, built = steps[at], steps[at + 1]
    wheelhouse = build["argv"][build["argv"].index("--wheel-dir") + 1]
    assert wheelhouse.startswith(
        str(tmp_path / "cache" / "wheels" / "mmcv-2.1.0-torch2.5.1-cu121-cp311-")
    )
    assert build["env"]["TORCH_CUDA_ARCH_LIST"] == "8.6" and build["env"]["MAX_JOBS"]
    assert built["argv"][1:] == [
        "-m",
        "pip",
        "install",
        "mmcv==2.1.0",
        "--only-binary",  # the wheel built there; mmcv's own dependencies from the index
        "mmcv",
        "--find-links",
        wheelhouse,
    ]
    assert "mmdet==3.3.0" in steps[at + 3]["argv"]  # after mmengine: mmcv is there by then


def test_the_export_of_a_source_build_says_how_and_keeps_the_build_settings(
    mmdoctor, tmp_path
) -> None:
    out = tmp_path / "req.txt"
    run = mmdoctor(*SOURCE_BUILD, "--export", str(out))
    assert run.returncode == 0, run.stderr
    assert "installs this plan." not in run.stdout and "built from source" in run.stdout
    text = out.read_text()
    header = [line for line in text.splitlines() if line.startswith("#   ")]
    assert header[0] == "#   python -m pip install -r THIS_FILE"
    assert (
        header[1].startswith("#   MMCV_WITH_OPS=1 MAX_JOBS=")
        and "TORCH_CUDA_ARCH_LIST=8.6" in header[1]
    )
    assert "--wheel-dir " in header[1] and "--only-binary mmcv --find-links" in header[2]
    assert header[3] == "#   python -m pip install mmdet==3.3.0"
    _options, requirements = parse_requirements(text)
    assert {"ninja", "psutil", "wheel"} <= set(requirements)


# ------------------------------------------------------------------- inputs people type (13.16)

WHAT_IF_GPU = ["--driver", "580.95.05", "--gpu-cc", "9.0", "--python-version", "3.11"]


@pytest.mark.parametrize(
    ("args", "key", "expected"),
    [
        (["--cuda", "13", "--torch", "2.13"], ("torch", "variant"), "cu130"),
        (["--cuda", "12.1.1", "--mmdet", "3"], ("torch", "variant"), "cu121"),
        (["--mmdet", "3.3", "--cuda", "12.1"], ("mmdet", "version"), "3.3.0"),
        (["--mmdet", "2.28"], ("mmdet", "version"), "2.28.2"),
    ],
)
def test_versions_as_people_type_them(mmdoctor, args, key, expected) -> None:
    run = mmdoctor("install", *args, *WHAT_IF_GPU, "--dry-run", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.json()["plan"][key[0]][key[1]] == expected


def test_a_patch_python_version_and_a_driver_branch_mean_the_obvious(mmdoctor) -> None:
    run = mmdoctor(
        "install",
        "--python-version",
        "3.10.2",
        "--driver",
        "535",
        "--gpu-cc",
        "8.6",
        "--dry-run",
        "--json",
    )
    assert run.returncode == 0, run.stderr
    doc = run.json()
    assert doc["plan"]["python"] == "3.10" and doc["machine"]["driver"] == "535.0"
    assert (
        mmdoctor("install", "--mmdet", "3.9", "--python-version", "3.10", "--dry-run").returncode
        == 2
    )


def test_a_dry_run_names_the_target_and_the_next_step(mmdoctor, bare_venv) -> None:
    # issue 13.15
    python = str(bare_venv / "bin" / "python")
    run = mmdoctor("install", "--python", python, "--dry-run")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].endswith(f" · into {python}")
    assert "Next: to install it: the same command without --dry-run" in run.stdout
    what_if = mmdoctor(
        "install",
        "--python-version",
        "3.12",
        "--driver",
        "535.104.05",
        "--gpu-cc",
        "8.6",
        "--line",
        "openmmlab",
        "--dry-run",
        "--json",
    )
    steps = what_if.json()["next_steps"]
    assert steps[0].startswith(
        "this plan is for the machine that --driver, --gpu-cc, --python-version describe"
    )
    # a source build on 3.12, where 3.10 and 3.11 have a prebuilt mmcv: said without asking
    assert any(
        s.startswith("no build needed on Python 3.10: ") and "(prebuilt)" in s for s in steps
    )


def test_rejections_for_one_reason_are_one_line(mmdoctor) -> None:
    # issue 13.17: on a box without a driver every CUDA variant said "no NVIDIA driver" alone
    run = mmdoctor("install", "--python-version", "3.11", "--cuda", "12.1", "--dry-run")
    if "no NVIDIA driver" not in run.stdout.splitlines()[0]:
        pytest.skip("this machine has an NVIDIA driver")
    lines = [line for line in run.stdout.splitlines() if line.startswith("  ✗ ")]
    assert lines == ["  ✗ torch 2.5 cu121 and 4 more: no NVIDIA driver on this machine"], lines
    every = mmdoctor("install", "--python-version", "3.11", "--cuda", "12.1", "--dry-run", "-v")
    assert "  ✗ torch 2.5 cu121, torch 2.4 cu121, torch 2.3 cu121" in every.stdout
    assert "--driver VERSION --gpu-cc X.Y" in run.stdout  # the way to plan for another machine


# ------------------------------------------------------------------- lines that misled (13.12)

RTX3090 = [
    "install",
    "--driver",
    "535.104.05",
    "--gpu-cc",
    "8.6",
    "--mmdet",
    "3",
    "--line",
    "openmmlab",
    "--dry-run",
    "--json",
]


def test_the_main_scenario_says_nothing_it_does_not_know(mmdoctor) -> None:
    plan = mmdoctor(*RTX3090, "--python-version", "3.10").json()["plan"]
    assert (plan["torch"]["version"], plan["mmcv"]["prebuilt"]) == ("2.1.2", True)
    assert not any("not confirmed" in w for w in plan["warnings"]), plan["warnings"]  # cp310 seen
    setuptools = next(p for p in plan["pins"] if p["name"] == "setuptools")
    assert "2.13" not in setuptools["reason"]  # torch 2.1 has no setuptools>=77 floor
    unseen = mmdoctor(*RTX3090, "--python-version", "3.9").json()["plan"]
    assert any("Python 3.9 are not confirmed" in w for w in unseen["warnings"]), unseen["warnings"]


def test_build_time_comes_from_jobs_and_archs() -> None:
    from mmdoctor.planning.matrix import load_matrix

    builds = load_matrix().source_builds
    assert builds is not None
    assert builds.minutes(2, 0) == 12  # measured: 11 min 36 s for the CPU ops on 2 cores
    assert builds.minutes(16, 1) == 3  # measured: 194 s for sm_90 with MAX_JOBS=16
    assert builds.minutes(2, 2) > builds.minutes(2, 1) > builds.minutes(2, 0)


def test_a_what_if_plan_does_not_judge_this_machines_nvcc(mmdoctor) -> None:
    # issue 13.11: this machine's nvcc 13.0 is not the planned machine's
    args = ["--cuda", "12.6", "--torch", "2.13", "--driver", "580.95.05", "--gpu-cc", "8.6"]
    doc = mmdoctor("install", *args, "--python-version", "3.11", "--dry-run", "--json").json()
    assert doc["machine"]["nvcc"] is None
    assert doc["machine"]["sources"]["nvcc"] == "not probed: the plan is for another machine"
    warnings = doc["plan"]["warnings"]
    assert not any("does not match torch's CUDA" in w for w in warnings), warnings
    assert any("the machine that builds it needs nvcc 12.x" in w for w in warnings), warnings


def test_uv_off_path_is_said_as_such(mmdoctor) -> None:
    env = {**os.environ, "PATH": "/usr/bin:/bin"}  # uv, a test dependency, lives beside pytest
    run = mmdoctor("install", "--installer", "uv", "--python-version", "3.11", "--dry-run", env=env)
    assert run.returncode == 2
    assert "--installer uv: no uv on PATH" in assert_one_line_error(run.stderr)


# --- platforms (issue 11): --arch, the OS and CPU pairs the matrix knows, a matrix without them


def test_windows_what_if_finds_a_prebuilt_plan(mmdoctor) -> None:
    run = mmdoctor(
        "install",
        "--dry-run",
        "--os",
        "windows",
        "--driver",
        "528.24",
        "--gpu-cc",
        "8.6",
        "--python-version",
        "3.10",
        "--mmdet",
        "3",
        "--no-source-build",
        "--json",
    )
    assert run.returncode == 0, run.stderr
    plan = run.json()["plan"]
    assert plan["mmcv"]["prebuilt"] is True and plan["torch"]["variant"] == "cu118", plan


def test_an_arm_what_if_plans_a_source_build_and_no_x86_64_wheel(mmdoctor) -> None:
    run = mmdoctor(
        "install",
        "--dry-run",
        "--arch",
        "aarch64",
        "--python-version",
        "3.11",
        "--cpu",
        "--mmdet",
        "3",
        "--json",
    )
    assert run.returncode == 0, run.stderr
    doc = run.json()
    assert doc["machine"]["arch"] == "aarch64"
    assert doc["plan"]["mmcv"]["prebuilt"] is False
    assert "download.openmmlab.com" not in json.dumps(doc["plan"]["steps"])


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--arch", "ppc64le"], "x86_64, aarch64"),
        (["--os", "windows", "--arch", "aarch64"], "linux x86_64, linux aarch64"),
    ],
)
def test_an_unknown_platform_is_exit_2_naming_the_accepted_values(mmdoctor, args, named) -> None:
    run = mmdoctor("install", "--dry-run", "--python-version", "3.11", *args)
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert named in assert_one_line_error(run.stderr)
    with_json = mmdoctor("install", "--dry-run", "--python-version", "3.11", *args, "--json")
    assert with_json.returncode == 2
    assert named in with_json.json()["errors"][0]["message"]


def test_a_matrix_without_the_platforms_table_is_exit_2_naming_it(mmdoctor, tmp_path) -> None:
    import yaml
    from conftest import REPO

    raw = yaml.safe_load((REPO / "compat_matrix.yaml").read_text(encoding="utf-8"))
    del raw["platforms"]
    old = tmp_path / "old-matrix.yaml"
    old.write_text(yaml.safe_dump(raw), encoding="utf-8")
    run = mmdoctor("install", "--dry-run", "--python-version", "3.11", "--matrix", str(old))
    assert run.returncode == 2
    assert "'platforms'" in assert_one_line_error(run.stderr)
