"""Each check as the pure function it is: hand-built Environments in, findings out."""

from __future__ import annotations

import pytest
from builders import env, failed_step, nvidia, ok_step, torch_step
from packaging.version import Version

from mmdoctor.checks import all_checks
from mmdoctor.checks.model import (
    REGISTRY,
    Advice,
    Check,
    CheckResult,
    Context,
    Finding,
    Status,
    run_one,
)
from mmdoctor.environment import Environment, NvidiaInfo, NvmlError, ToolkitInfo
from mmdoctor.planning.current import arch_support, parse_arch
from mmdoctor.planning.matrix import load_matrix

CU126_ARCHS = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]
CU128_ARCHS = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120"]


def run(check_id: str, environment: Environment, *, cpu_only: bool = False) -> CheckResult:
    item = next(c for c in all_checks() if c.id == check_id)
    return run_one(Context(environment, load_matrix(), cpu_only=cpu_only), item)


def test_check_ids_are_unique_and_titled() -> None:
    ids = [c.id for c in all_checks()]
    assert len(ids) == len(set(ids)) >= 18
    assert all(c.title for c in all_checks())


def test_a_check_that_raises_becomes_crash_and_others_go_on() -> None:
    def broken(ctx: Context) -> Finding:
        raise RuntimeError("boom")

    bad = Check("test.broken", "a broken check", broken)
    result = run_one(Context(env(), load_matrix()), bad)
    assert result.status is Status.CRASH
    assert "RuntimeError: boom" in result.summary
    assert result.traceback and "boom" in result.traceback
    assert bad not in REGISTRY


# ------------------------------------------------------------------- driver


def test_no_driver_fails_and_explains_cpu_use() -> None:
    result = run("nvidia.driver", env())
    assert result.status is Status.FAIL
    assert result.known_failure == "no-nvidia-driver"
    assert any("CPU only" in d for d in result.details)


def test_no_driver_with_cpu_only_is_skipped() -> None:
    assert run("nvidia.driver", env(), cpu_only=True).status is Status.SKIP


@pytest.mark.parametrize(
    ("kind", "needle", "known"),
    [
        ("driver_not_loaded", "kernel module is not loaded", "no-nvidia-driver"),
        ("lib_rm_version_mismatch", "version mismatch", "nvml-driver-library-mismatch"),
        ("no_permission", "no permission", None),
        ("gpu_is_lost", "fallen off the bus", None),
    ],
)
def test_each_nvml_failure_has_its_own_finding(kind: str, needle: str, known: str | None) -> None:
    info = NvidiaInfo(nvml_error=NvmlError(kind=kind, message="x", code=1, during="nvmlInit"))
    result = run("nvidia.driver", env(nvidia_info=info))
    assert result.status is Status.FAIL
    assert needle in result.summary
    assert result.known_failure == known
    assert result.advice is not None and result.advice.text


def test_mismatch_advice_says_reboot() -> None:
    info = NvidiaInfo(
        nvml_error=NvmlError(
            kind="lib_rm_version_mismatch", message="m", code=18, during="nvmlInit"
        )
    )
    result = run("nvidia.driver", env(nvidia_info=info))
    assert result.advice is not None and "Reboot" in result.advice.text


def test_driver_from_proc_without_nvml_is_a_warning() -> None:
    info = NvidiaInfo(
        driver_version="550.144.03",
        source="proc",
        nvml_error=NvmlError(kind="library_not_found", message="NVML Shared Library Not Found"),
    )
    result = run("nvidia.driver", env(nvidia_info=info))
    assert result.status is Status.WARN
    assert "550.144.03" in result.summary


def test_healthy_driver_and_gpus() -> None:
    environment = env(nvidia_info=nvidia("535.104.05", "12.2", "8.0", "8.6"))
    assert run("nvidia.driver", environment).status is Status.OK
    gpus = run("nvidia.gpus", environment)
    assert gpus.status is Status.OK and "2 GPU(s)" in gpus.summary


def test_driver_without_gpus_fails() -> None:
    result = run("nvidia.gpus", env(nvidia_info=nvidia("535.104.05", "12.2")))
    assert result.status is Status.FAIL


# ------------------------------------------------------------------- torch


def test_torch_missing_advises_an_install_for_this_driver() -> None:
    result = run(
        "torch.import",
        env(
            nvidia_info=nvidia("535.104.05", "12.2", "8.6"),
            steps=[
                failed_step("torch", "ModuleNotFoundError: No module named 'torch'", missing=True)
            ],
        ),
    )
    assert result.status is Status.FAIL
    assert result.advice is not None
    # issue 13.6: the torch `mmdoctor install` would choose here, pinned, not the newest torch
    # (for which no mmcv wheel exists: `fix --yes` would walk into a source build)
    assert result.advice.commands == (
        "/venv/bin/python -m pip install torch==2.1.2 torchvision==0.16.2 "
        "--index-url https://download.pytorch.org/whl/cu121",
    )
    assert "mmcv 2.1.0 (prebuilt)" in result.advice.text


def test_torch_advice_fits_the_python_of_the_environment() -> None:
    missing = [failed_step("torch", "ModuleNotFoundError: No module named 'torch'", missing=True)]
    result = run(
        "torch.import",
        env(nvidia_info=nvidia("535.104.05", "12.2", "8.6"), steps=missing, python="3.12.1"),
    )
    assert result.advice is not None
    command = result.advice.commands[0]
    assert "torch==2.1." not in command  # torch 2.1 has no cp312 wheels
    # what install would choose: the onedl line's prebuilt cp312 wheels sit on torch 2.10 cu129
    assert "torch==2.10.0" in command and "torchvision==0.25.0" in command, command
    # with upstream mmdet installed, the advice stays on its line
    upstream = run(
        "torch.import",
        env(
            nvidia_info=nvidia("535.104.05", "12.2", "8.6"),
            steps=missing,
            python="3.12.1",
            dists={"mmdet": "3.3.0"},
        ),
    )
    assert upstream.advice is not None
    command = upstream.advice.commands[0]
    assert "torch==2.5.1" in command and "torchvision==0.20.1" in command, command


def test_torch_numpy_abi_error_is_recognised() -> None:
    step = failed_step("torch", "ImportError: numpy.core.multiarray failed to import")
    step = type(step)(
        name="torch",
        ok=False,
        error=step.error,
        stderr="A module that was compiled using NumPy 1.x cannot be run in NumPy 2.0.0 as it may crash",
    )
    environment = env(dists={"torch": "2.1.2", "numpy": "2.0.0"}, steps=[step])
    result = run("torch.import", environment)
    assert result.status is Status.FAIL and result.known_failure == "numpy2-abi"
    assert run("numpy.abi", environment).known_failure == "numpy2-abi"


def test_cpu_torch_on_gpu_machine_fails() -> None:
    result = run(
        "torch.cuda_build",
        env(nvidia_info=nvidia("535.104.05", "12.2", "8.6", "8.6"), steps=[torch_step()]),
    )
    assert result.status is Status.FAIL
    assert result.known_failure == "torch-cpu-only-build"
    assert "2 NVIDIA GPU(s)" in result.summary


def test_cpu_torch_without_gpu_is_fine() -> None:
    assert run("torch.cuda_build", env(steps=[torch_step()])).status is Status.SKIP


@pytest.mark.parametrize(
    ("driver", "torch_cuda", "status"),
    [
        ("470.82.01", "12.1", Status.FAIL),  # 12.x needs >= 525.60.13
        ("525.60.13", "12.1", Status.WARN),  # minor-version compatibility only (12.0 driver)
        ("535.104.05", "12.1", Status.OK),
        ("450.80.02", "11.8", Status.WARN),
        ("450.36.06", "11.8", Status.FAIL),
        ("580.65.06", "13.0", Status.OK),
        ("575.57.08", "13.0", Status.FAIL),
    ],
)
def test_driver_new_enough_for_torch_cuda(driver: str, torch_cuda: str, status: Status) -> None:
    matrix = load_matrix()
    ceiling = matrix.max_cuda_for_driver(driver)
    environment = env(
        nvidia_info=nvidia(driver, ceiling, "8.6"),
        steps=[torch_step(f"2.5.1+cu{torch_cuda.replace('.', '')}", cuda=torch_cuda)],
    )
    result = run("torch.driver", environment)
    assert result.status is status, result.summary
    if status is Status.FAIL:
        assert result.known_failure == "cuda-driver-too-old"


def test_windows_uses_the_windows_driver_table() -> None:
    environment = env(
        nvidia_info=nvidia("527.41", "12.0", "8.6"),
        steps=[torch_step("2.1.2+cu121", cuda="12.1")],
        os_name="windows",
    )
    assert run("torch.driver", environment).status is Status.FAIL  # Windows 12.x needs 528.33


@pytest.mark.parametrize(
    ("arch", "expected"),
    [
        ("sm_86", ("sm", Version("8.6"))),
        ("compute_120", ("compute", Version("12.0"))),
        ("sm_90a", ("sm", Version("9.0"))),
        ("bogus", None),
    ],
)
def test_parse_arch(arch: str, expected: tuple[str, Version] | None) -> None:
    assert parse_arch(arch) == expected


@pytest.mark.parametrize(
    ("cc", "archs", "support"),
    [
        ("6.1", CU128_ARCHS, None),  # uv#14742: a GTX 1080 Ti with a cu128 wheel
        ("6.1", CU126_ARCHS, "sass"),  # sm_60 cubins run on 6.1
        ("8.9", CU126_ARCHS, "sass"),  # sm_86 runs on Ada
        ("10.0", CU126_ARCHS, None),  # sm_90 never runs across majors
        ("12.0", CU128_ARCHS, "sass"),
        ("12.1", ["sm_90", "compute_90"], "ptx"),
        ("9.0", ["sm_80", "sm_86"], None),
    ],
)
def test_arch_matching_rule(cc: str, archs: list[str], support: str | None) -> None:
    assert arch_support(Version(cc), archs) == support


def test_gpu_not_in_torch_arch_list_fails() -> None:
    environment = env(
        nvidia_info=nvidia("570.26", "12.8", "6.1"),
        steps=[torch_step("2.7.0+cu128", cuda="12.8", arch_list=CU128_ARCHS)],
    )
    result = run("torch.gpu_arch", environment)
    assert result.status is Status.FAIL
    assert "sm_61" in result.summary
    assert result.known_failure == "gpu-sm-unsupported-by-torch"
    # issue 13.6: not an unpinned newest torch (no mmcv wheel, and cu128 drops sm_61): the torch
    # step install plans for a GTX 1080 on R570, with a CUDA that still has Pascal kernels
    assert result.advice is not None
    (command,) = result.advice.commands
    assert "torch==" in command and "torchvision==" in command, command
    assert command.endswith(("/cu118", "/cu121", "/cu124", "/cu126")), command


def test_a_driver_too_old_gets_the_pinned_torch_install_plans() -> None:
    environment = env(
        nvidia_info=nvidia("470.82.01", "11.4", "6.1"),
        steps=[torch_step("2.14.1+cu130", cuda="13.0")],
    )
    result = run("torch.driver", environment)
    assert result.status is Status.FAIL and result.advice is not None
    (command,) = result.advice.commands
    # driver 470 runs CUDA 11.x builds (minor-version compatibility), so an 11.x torch, pinned
    assert "torch==" in command and command.endswith(("/cu113", "/cu116", "/cu117", "/cu118"))


def test_ptx_only_is_a_warning() -> None:
    environment = env(
        nvidia_info=nvidia("570.26", "12.8", "12.0"),
        steps=[torch_step("2.4.1+cu124", cuda="12.4", arch_list=["sm_80", "sm_90", "compute_90"])],
    )
    assert run("torch.gpu_arch", environment).status is Status.WARN


def test_torchvision_of_another_torch_fails() -> None:
    environment = env(
        dists={"torch": "2.13.0+cpu", "torchvision": "0.29.1"},
        steps=[torch_step(), ok_step("torchvision", version="0.29.1", cuda=None)],
    )
    result = run("torchvision.match", environment)
    assert result.status is Status.FAIL
    assert result.advice is not None
    assert '"torchvision==0.28.*"' in result.advice.commands[0]
    assert "whl/cpu" in result.advice.commands[0]


def test_torchvision_with_other_cuda_fails() -> None:
    environment = env(
        dists={"torch": "2.1.2+cu121", "torchvision": "0.16.2+cu118"},
        steps=[
            torch_step("2.1.2+cu121", cuda="12.1"),
            ok_step("torchvision", version="0.16.2", cuda="11.8"),
        ],
    )
    assert run("torchvision.match", environment).status is Status.FAIL


def test_torchvision_matching_is_ok() -> None:
    environment = env(
        dists={"torch": "2.1.2+cu121", "torchvision": "0.16.2+cu121"},
        steps=[
            torch_step("2.1.2+cu121", cuda="12.1"),
            ok_step("torchvision", version="0.16.2", cuda="12.1"),
        ],
    )
    assert run("torchvision.match", environment).status is Status.OK


def test_numpy2_with_old_torch_fails_before_it_breaks() -> None:
    environment = env(dists={"numpy": "2.1.0"}, steps=[torch_step("2.1.2+cu121", cuda="12.1")])
    result = run("numpy.abi", environment)
    assert result.status is Status.FAIL
    assert result.advice is not None and result.advice.commands == (
        '/venv/bin/python -m pip install "numpy<2"',
    )


def test_numpy2_with_new_torch_is_fine() -> None:
    environment = env(dists={"numpy": "2.4.6"}, steps=[torch_step("2.13.0+cpu")])
    assert run("numpy.abi", environment).status is Status.OK


# ------------------------------------------------------------------- OpenMMLab


def test_mmcv_and_mmcv_full_together_fail_and_keep_the_right_one() -> None:
    environment = env(dists={"mmcv": "2.1.0", "mmcv-full": "1.7.2", "mmdet": "3.3.0"})
    result = run("mmcv.variants", environment)
    assert result.status is Status.FAIL
    assert result.known_failure == "mmcv-and-mmcv-full-coinstalled"
    assert result.advice is not None
    assert "uninstall -y mmcv mmcv-full" in result.advice.commands[0]
    assert '"mmcv==2.1.0"' in result.advice.commands[-1]


def test_mmdet2_wants_mmcv_full() -> None:
    environment = env(dists={"mmcv": "2.2.0", "mmcv-lite": "2.2.0", "mmdet": "2.28.2"})
    result = run("mmcv.variants", environment)
    assert result.advice is not None and "mmcv-full" in result.advice.commands[-1]


def test_mmcv_lite_under_mmdet_fails() -> None:
    environment = env(dists={"mmcv-lite": "2.2.0", "mmdet": "3.3.0"})
    result = run("mmcv.ops", environment)
    assert result.status is Status.FAIL and result.known_failure == "mmcv-ext-missing"


def test_mmcv_ext_crash_is_reported_with_how_it_died() -> None:
    environment = env(
        dists={"mmcv": "2.1.0"},
        steps=[
            torch_step(),
            StepResultCrash("mmcv_ext", "the interpreter was killed by SIGSEGV"),
        ],
    )
    result = run("mmcv.ops", environment)
    assert result.status is Status.FAIL
    assert "SIGSEGV" in result.summary


def StepResultCrash(name: str, how: str):
    return failed_step(name, how, crashed=how)


@pytest.mark.parametrize(
    ("error", "known"),
    [
        (
            "ImportError: /x/mmcv/_ext.cpython-311-x86_64-linux-gnu.so: undefined symbol: _ZN3c10",
            "mmcv-ext-undefined-symbol",
        ),
        (
            "ImportError: libcudart.so.11.0: cannot open shared object file",
            "mmcv-ext-libcudart-missing",
        ),
        ("ModuleNotFoundError: No module named 'mmcv._ext'", "mmcv-ext-missing"),
    ],
)
def test_mmcv_ext_errors_map_to_known_failures(error: str, known: str) -> None:
    environment = env(dists={"mmcv": "2.1.0"}, steps=[failed_step("mmcv_ext", error)])
    assert run("mmcv.ops", environment).known_failure == known


def test_mmcv_ops_without_cuda_on_gpu_machine_fails() -> None:
    environment = env(
        nvidia_info=nvidia("535.104.05", "12.2", "8.6"),
        dists={"mmcv": "2.1.0"},
        steps=[
            torch_step("2.1.2+cu121", cuda="12.1"),
            ok_step("mmcv_ext", file="_ext.so"),
            ok_step("mmcv_ext_info", compiling_cuda="not available", compiler="GCC 12.2"),
        ],
    )
    result = run("mmcv.cuda", environment)
    assert result.status is Status.FAIL and result.known_failure == "mmcv-ops-built-without-cuda"


@pytest.mark.parametrize(
    ("built", "status"), [("12.1", Status.OK), ("12.4", Status.WARN), ("11.8", Status.FAIL)]
)
def test_mmcv_cuda_vs_torch_cuda(built: str, status: Status) -> None:
    environment = env(
        dists={"mmcv": "2.1.0"},
        steps=[
            torch_step("2.1.2+cu121", cuda="12.1"),
            ok_step("mmcv_ext", file="_ext.so"),
            ok_step("mmcv_ext_info", compiling_cuda=built, compiler="GCC"),
        ],
    )
    assert run("mmcv.cuda", environment).status is status


def test_a_crash_in_mmcv_build_info_is_a_warning_not_broken_ops() -> None:
    # What an mmcv 2.1.0 build against torch 2.11.0+cu130 did on an H200 (docs/gpu-run.md).
    how = "the interpreter was killed by SIGSEGV at `data[key] = func()`"
    environment = env(
        nvidia_info=nvidia("580.159.04", "13.0", "9.0"),
        dists={"mmcv": "2.1.0"},
        steps=[
            torch_step("2.11.0+cu130", cuda="13.0"),
            ok_step("mmcv_ext", file="_ext.so"),
            failed_step("mmcv_ext_info", how, crashed=how),
        ],
    )
    ops = run("mmcv.ops", environment)
    assert ops.status is Status.OK and ops.summary == "mmcv._ext loads"
    cuda = run("mmcv.cuda", environment)
    assert cuda.status is Status.WARN and "SIGSEGV" in cuda.summary
    assert cuda.known_failure == "mmcv-ext-build-info-crash"
    assert cuda.advice is not None and "smoke-test" in cuda.advice.commands[0]


def test_mmdet_assertion_becomes_a_fix_inside_its_range() -> None:
    environment = env(
        dists={"mmdet": "3.3.0", "mmcv": "2.2.0", "mmengine": "0.10.7"},
        steps=[
            ok_step(
                "mmdet_bounds",
                file="x",
                bounds={
                    "mmcv": {"minimum": "2.0.0rc4", "maximum": "2.2.0", "max_inclusive": False},
                    "mmengine": {"minimum": "0.7.1", "maximum": "1.0.0", "max_inclusive": False},
                },
            ),
            failed_step(
                "mmdet",
                "AssertionError: MMCV==2.2.0 is used but incompatible. Please install mmcv>=2.0.0rc4, <2.2.0.",
            ),
        ],
    )
    result = run("mmdet.compat", environment)
    assert result.status is Status.FAIL
    assert result.known_failure == "mmcv-too-new-for-mmdet3"
    assert result.advice is not None
    # No torch yet: mim picks the wheel set once torch is there.
    assert result.advice.commands[-1].endswith('mim install --no-cache-dir "mmcv>=2.0.0rc4,<2.2.0"')


MMDET_33_BOUNDS = ok_step(
    "mmdet_bounds",
    file="x",
    bounds={"mmcv": {"minimum": "2.0.0rc4", "maximum": "2.2.0", "max_inclusive": False}},
)
MMCV_22_REJECTED = failed_step(
    "mmdet",
    "AssertionError: MMCV==2.2.0 is used but incompatible. Please install mmcv>=2.0.0rc4, <2.2.0.",
)


def test_mmcv_fix_uses_the_prebuilt_wheel_where_one_exists() -> None:
    environment = env(
        dists={"mmdet": "3.3.0", "mmcv": "2.2.0", "openmim": "0.3.9"},
        steps=[torch_step("2.1.2+cu121", cuda="12.1"), MMDET_33_BOUNDS, MMCV_22_REJECTED],
    )
    result = run("mmdet.compat", environment)
    assert result.advice is not None
    assert result.advice.commands == (
        "/venv/bin/python -m pip uninstall -y mmcv",
        '/venv/bin/python -m mim install --no-cache-dir "mmcv>=2.0.0rc4,<2.2.0"',
    )
    assert any("prebuilt wheels" in detail for detail in result.details)


@pytest.mark.parametrize(
    ("torch", "cuda", "force"), [("2.13.0+cpu", None, ""), ("2.5.1+cu124", "12.4", "FORCE_CUDA=1 ")]
)
def test_mmcv_fix_is_a_working_source_build_without_a_wheel(
    torch: str, cuda: str | None, force: str
) -> None:
    environment = env(
        dists={"mmdet": "3.3.0", "mmcv": "2.2.0"},
        steps=[torch_step(torch, cuda=cuda), MMDET_33_BOUNDS, MMCV_22_REJECTED],
    )
    result = run("mmdet.compat", environment)
    assert result.advice is not None
    assert result.advice.commands == (
        "/venv/bin/python -m pip uninstall -y mmcv",
        "/venv/bin/python -m pip install setuptools==80.9.0 wheel ninja psutil",
        f'MMCV_WITH_OPS=1 {force}/venv/bin/python -m pip install --no-build-isolation --no-cache-dir "mmcv>=2.0.0rc4,<2.2.0"',
    )
    assert any("build it from source" in detail for detail in result.details)


def test_mmdet2_with_mmcv2_is_a_major_mismatch() -> None:
    environment = env(
        dists={"mmdet": "2.28.2", "mmcv": "2.1.0"},
        steps=[
            ok_step(
                "mmdet_bounds",
                file="x",
                bounds={"mmcv": {"minimum": "1.3.17", "maximum": "1.8.0", "max_inclusive": True}},
            ),
            failed_step(
                "mmdet",
                "AssertionError: MMCV==2.1.0 is used but incompatible. Please install mmcv>=1.3.17, <=1.8.0.",
            ),
        ],
    )
    result = run("mmdet.compat", environment)
    assert result.known_failure == "mmcv-major-mismatch"
    assert result.advice is not None and '"mmcv-full>=1.3.17,<=1.8.0"' in result.advice.commands[-1]


def test_mmengine_weights_only_warning() -> None:
    environment = env(dists={"mmengine": "0.10.7"}, steps=[torch_step("2.6.0+cu124", cuda="12.4")])
    result = run("mmengine.checkpoint", environment)
    assert result.status is Status.WARN and result.known_failure == "torch-load-weights-only"
    older = env(dists={"mmengine": "0.10.7"}, steps=[torch_step("2.5.1+cu124", cuda="12.4")])
    assert run("mmengine.checkpoint", older).status is Status.OK


# ------------------------------------------------------------------- tooling


def test_mim_without_pkg_resources_fails_with_the_pin() -> None:
    environment = env(
        dists={"openmim": "0.3.9", "setuptools": "84.2.1"},
        steps=[failed_step("mim", "ModuleNotFoundError: No module named 'pkg_resources'")],
    )
    result = run("setuptools.window", environment)
    assert result.status is Status.FAIL
    assert result.known_failure == "pkg-resources-removed-mim"
    assert result.advice is not None
    assert result.advice.commands == ("/venv/bin/python -m pip install setuptools==80.9.0",)


@pytest.mark.parametrize(("python", "pin"), [("3.8.18", "75.3.4"), ("3.7.17", "68.0.0")])
def test_the_setuptools_advice_installs_on_the_environments_python(python, pin) -> None:
    # issue 11 (audit 2): setuptools 80.9.0 needs Python >= 3.9
    environment = env(
        python=python,
        dists={"openmim": "0.3.9", "setuptools": "84.2.1"},
        steps=[failed_step("mim", "ModuleNotFoundError: No module named 'pkg_resources'")],
    )
    result = run("setuptools.window", environment)
    assert result.advice is not None
    assert result.advice.commands == (f"/venv/bin/python -m pip install setuptools=={pin}",)


def test_old_torch_needs_distutils_version() -> None:
    environment = env(
        dists={"setuptools": "69.0.0"},
        steps=[
            torch_step("1.10.2+cu113", cuda="11.3"),
            failed_step(
                "distutils", "AttributeError: module 'distutils' has no attribute 'version'"
            ),
        ],
    )
    result = run("setuptools.window", environment)
    assert result.status is Status.FAIL and result.known_failure == "distutils-no-version"
    assert result.advice is not None and result.advice.commands[0].endswith("setuptools==59.5.0")


def test_setuptools_82_warns_about_source_builds() -> None:
    result = run("setuptools.window", env(dists={"setuptools": "82.0.1"}))
    assert result.status is Status.WARN


def test_nvcc_major_mismatch_warns() -> None:
    environment = env(
        steps=[torch_step("2.1.2+cu121", cuda="12.1")],
        toolkit=ToolkitInfo(nvcc_path="/usr/local/cuda/bin/nvcc", nvcc_version="13.0"),
    )
    result = run("cuda.nvcc", environment)
    assert result.status is Status.WARN and result.known_failure == "cuda-version-mismatch-build"


def test_two_opencv_distributions_fail() -> None:
    environment = env(dists={"opencv-python": "4.9.0.80", "opencv-python-headless": "4.9.0.80"})
    assert run("opencv.duplicates", environment).status is Status.FAIL


def test_libgl_missing() -> None:
    environment = env(
        dists={"opencv-python": "4.9.0.80"},
        steps=[failed_step("cv2", "ImportError: libGL.so.1: cannot open shared object file")],
    )
    result = run("opencv.import", environment)
    assert result.status is Status.FAIL and result.known_failure == "libgl-missing"


def test_system_interpreter_warns_and_python_313_warns() -> None:
    assert run("python.environment", env(kind="managed")).status is Status.WARN
    assert run("python.environment", env(python="3.13.0")).status is Status.WARN
    assert run("python.environment", env()).status is Status.OK
    no_pip = run("python.environment", env(pip=None))  # issue 13.8: every advice runs pip
    assert no_pip.status is Status.WARN and "no pip" in no_pip.details[0]
    assert no_pip.advice is not None and no_pip.advice.commands == (
        "/venv/bin/python -m ensurepip --upgrade",
    )


@pytest.mark.parametrize(
    ("nvcc", "gcc", "status"),
    [
        ("11.8", "12.2.0", Status.WARN),
        ("12.1", "12.2.0", Status.OK),
        ("13.0", "15.1.0", Status.OK),
        ("12.8", "15.0.0", Status.WARN),
        ("10.2", "8.4.0", Status.SKIP),
    ],
)
def test_gcc_against_nvcc_limit(nvcc: str, gcc: str, status: Status) -> None:
    environment = env(
        steps=[torch_step("2.1.2+cu121", cuda="12.1")],
        toolkit=ToolkitInfo(
            nvcc_path="/usr/local/cuda/bin/nvcc", nvcc_version=nvcc, gcc_version=gcc
        ),
    )
    result = run("cuda.gcc", environment)
    assert result.status is status, result.summary
    if status is Status.WARN:
        assert result.known_failure == "nvcc-gcc-too-new"
        assert result.advice is not None and result.advice.commands[0].startswith("export CC=gcc-")


def test_gcc_check_skips_for_cpu_torch() -> None:
    environment = env(
        steps=[torch_step()],
        toolkit=ToolkitInfo(nvcc_path="/x/nvcc", nvcc_version="11.8", gcc_version="14.1.0"),
    )
    assert run("cuda.gcc", environment).status is Status.SKIP


# --- each known failure is explained in one place: known_failures.yaml ---------------------

KNOWN_CASES = [
    # (check, environment): findings that name a known failure, from several checks
    ("mmcv.ops", env(dists={"mmcv-lite": "2.2.0", "mmdet": "3.3.0"})),
    ("numpy.abi", env(dists={"numpy": "2.4.6"}, steps=[torch_step("2.1.2+cu121", cuda="12.1")])),
    ("nvidia.driver", env(nvidia_info=NvidiaInfo(nvml_error=NvmlError("library_not_found", "x")))),
    (
        "opencv.duplicates",
        env(dists={"opencv-python": "4.9.0.80", "opencv-python-headless": "4.9"}),
    ),
]


@pytest.mark.parametrize(("check_id", "environment"), KNOWN_CASES)
def test_the_fix_text_and_cause_of_a_known_failure_come_from_the_knowledge_base(
    check_id: str, environment: Environment
) -> None:
    from mmdoctor.knowledge import load_knowledge

    result = run(check_id, environment)
    assert result.known_failure is not None
    entry = load_knowledge().get(result.known_failure)
    assert entry is not None
    assert result.advice is not None and result.advice.text == entry.fix_text
    assert result.cause == entry.root_cause


def test_commands_come_from_the_check_and_else_from_the_entry_when_complete() -> None:
    # numpy.abi knows the command for this interpreter; no-nvidia-driver has none anywhere.
    numpy = run("numpy.abi", KNOWN_CASES[1][1])
    assert numpy.advice is not None
    assert numpy.advice.commands == ('/venv/bin/python -m pip install "numpy<2"',)
    driver = run("nvidia.driver", KNOWN_CASES[2][1])
    assert driver.advice is not None and driver.advice.commands == ()


def test_the_entry_commands_are_used_only_without_placeholders() -> None:
    from mmdoctor.checks.model import knowledge_commands
    from mmdoctor.knowledge import load_knowledge

    knowledge = load_knowledge()
    numpy = knowledge.get("numpy2-abi")
    mmcv = knowledge.get("mmcv-ext-missing")
    assert numpy is not None and mmcv is not None
    assert knowledge_commands(numpy, "/v/bin/python") == ('/v/bin/python -m pip install "numpy<2"',)
    assert knowledge_commands(mmcv, "/v/bin/python") == ()  # <mmcv_version>, <cuda_tag>


def test_a_hand_written_fix_next_to_a_known_failure_is_refused() -> None:
    with pytest.raises(ValueError, match=r"comes from known_failures\.yaml"):
        Finding(Status.FAIL, "x", advice=Advice("my own words", ()), known_failure="numpy2-abi")


def test_a_check_naming_an_unknown_failure_is_reported_as_a_crash() -> None:
    bogus = Check(
        "test.bogus", "bogus", lambda ctx: Finding(Status.FAIL, "x", known_failure="nope")
    )
    result = run_one(Context(env(), load_matrix()), bogus)
    assert (
        result.status is Status.CRASH and "'nope' is not in known_failures.yaml" in result.summary
    )
