"""mmdoctor.probe.nvml_reader against the real pynvml and a stand-in libnvidia-ml.so.1.

Nothing in Python is patched: tests/fakes/fake_nvml.c is compiled once per session, and the reader
runs in a subprocess whose LD_LIBRARY_PATH makes pynvml's ctypes load the fake instead of a driver.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fakes.nvml import ENV_PREFIX, fake_nvml_env

import mmdoctor

A100 = "NVIDIA A100-SXM4-80GB|8.0|81920|GPU-11111111-2222-3333-4444-555555555555"
RTX3090 = "NVIDIA GeForce RTX 3090|8.6|24576|GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
MIB = 1024 * 1024

# The directory that holds the mmdoctor this test imported, so the subprocess runs the same code.
SRC_DIR = Path(mmdoctor.__file__).resolve().parent.parent


def run_reader(env: dict[str, str]) -> dict[str, Any]:
    env = dict(env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC_DIR), env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, "-m", "mmdoctor.probe.nvml_reader"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_healthy_two_gpu_machine(fake_nvml_lib: Path, tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    env = fake_nvml_env(fake_nvml_lib, gpus=[A100, RTX3090], call_log=log)

    result = run_reader(env)

    assert result["ok"] is True
    assert result["error"] is None
    assert result["gpu_errors"] == []
    assert result["driver_version"] == "535.104.05"
    assert result["cuda_driver_version"] == 12020
    assert result["gpus"] == [
        {
            "index": 0,
            "name": "NVIDIA A100-SXM4-80GB",
            "memory_total_bytes": 81920 * MIB,
            "compute_capability": "8.0",
            "uuid": "GPU-11111111-2222-3333-4444-555555555555",
        },
        {
            "index": 1,
            "name": "NVIDIA GeForce RTX 3090",
            "memory_total_bytes": 24576 * MIB,
            "compute_capability": "8.6",
            "uuid": "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        },
    ]
    called = calls(log)
    assert called[0] == "nvmlInitWithFlags"
    assert called[-1] == "nvmlShutdown"
    for symbol in (
        "nvmlSystemGetCudaDriverVersion_v2",
        "nvmlDeviceGetCount_v2",
        "nvmlDeviceGetHandleByIndex_v2",
    ):
        assert symbol in called
    assert called.count("nvmlDeviceGetHandleByIndex_v2") == 2
    # _v2 answered, so the v1 call (which may guess when libcuda is missing) was not needed.
    assert "nvmlSystemGetCudaDriverVersion" not in called


def test_cuda_v2_failure_falls_back_to_v1(fake_nvml_lib: Path, tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    env = fake_nvml_env(fake_nvml_lib, gpus=[A100], cuda=11080, cuda_v2_error=12, call_log=log)

    result = run_reader(env)

    assert result["ok"] is True
    assert result["cuda_driver_version"] == 11080
    called = calls(log)
    v2 = called.index("nvmlSystemGetCudaDriverVersion_v2")
    assert called.index("nvmlSystemGetCudaDriverVersion") > v2


@pytest.mark.parametrize(
    ("code", "kind", "messages"),
    [
        (9, "driver_not_loaded", {"Driver Not Loaded"}),
        # pynvml words code 18 itself; the library says "Driver/library version mismatch".
        (
            18,
            "lib_rm_version_mismatch",
            {"RM has detected an NVML/RM version mismatch.", "Driver/library version mismatch"},
        ),
        (4, "no_permission", {"Insufficient Permissions"}),
    ],
)
def test_init_errors(
    fake_nvml_lib: Path, tmp_path: Path, code: int, kind: str, messages: set[str]
) -> None:
    log = tmp_path / "calls.log"
    env = fake_nvml_env(fake_nvml_lib, init_error=code, gpus=[A100], call_log=log)

    result = run_reader(env)

    assert result["ok"] is False
    assert result["gpus"] == []
    assert result["driver_version"] is None
    error = result["error"]
    assert error["during"] == "nvmlInit"
    assert error["code"] == code
    assert error["kind"] == kind
    assert error["message"] in messages
    assert calls(log)[0] == "nvmlInitWithFlags"
    assert "nvmlDeviceGetCount_v2" not in calls(log)


def test_init_error_unknown_to_pynvml_uses_nvml_error_string(
    fake_nvml_lib: Path, tmp_path: Path
) -> None:
    # pynvml has its own table for the common codes; for 19 it asks the library (char * -> str).
    log = tmp_path / "calls.log"
    env = fake_nvml_env(fake_nvml_lib, init_error=19, call_log=log)

    result = run_reader(env)

    assert result["ok"] is False
    assert result["error"] == {
        "during": "nvmlInit",
        "code": 19,
        "kind": "other",
        "message": "In use by another client",
    }
    assert "nvmlErrorString" in calls(log)


def test_lost_gpu_is_reported_and_the_others_still_listed(fake_nvml_lib: Path) -> None:
    env = fake_nvml_env(fake_nvml_lib, gpus=[A100, RTX3090], gpu_lost=0)

    result = run_reader(env)

    assert result["ok"] is True
    assert [gpu["index"] for gpu in result["gpus"]] == [1]
    assert result["gpus"][0]["name"] == "NVIDIA GeForce RTX 3090"
    assert result["gpu_errors"] == [
        {
            "index": 0,
            "during": "GPU 0",
            "code": 15,
            "kind": "gpu_is_lost",
            "message": "GPU is lost",
        }
    ]


def test_gpu_without_uuid_is_still_listed(fake_nvml_lib: Path) -> None:
    env = fake_nvml_env(fake_nvml_lib, gpus=["Tesla T4|7.5|15360|"])

    result = run_reader(env)

    assert result["gpu_errors"] == []
    assert result["gpus"] == [
        {
            "index": 0,
            "name": "Tesla T4",
            "memory_total_bytes": 15360 * MIB,
            "compute_capability": "7.5",
            "uuid": None,
        }
    ]


def test_gpu_name_that_is_not_utf8_is_a_gpu_error(fake_nvml_lib: Path) -> None:
    # pynvml decodes char buffers strictly; "\udcff" reaches the fake as the byte 0xff.
    env = fake_nvml_env(fake_nvml_lib, gpus=["Bad\udcffName|8.0|1024|GPU-x", RTX3090])

    result = run_reader(env)

    assert result["ok"] is True
    assert [gpu["name"] for gpu in result["gpus"]] == ["NVIDIA GeForce RTX 3090"]
    [error] = result["gpu_errors"]
    assert (error["index"], error["code"], error["kind"]) == (0, None, "other")
    assert "utf-8" in error["message"]


def test_driver_without_gpus(fake_nvml_lib: Path) -> None:
    env = fake_nvml_env(fake_nvml_lib, driver="550.54.14", cuda=12040)

    result = run_reader(env)

    assert result == {
        "ok": True,
        "driver_version": "550.54.14",
        "cuda_driver_version": 12040,
        "gpus": [],
        "error": None,
        "gpu_errors": [],
    }


def test_no_nvml_library_on_this_machine() -> None:
    # The real path on a machine without the NVIDIA driver: no fake on LD_LIBRARY_PATH.
    env = {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX)}
    probe = subprocess.run(
        [sys.executable, "-c", "import ctypes; ctypes.CDLL('libnvidia-ml.so.1')"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    if probe.returncode == 0:
        pytest.skip("this machine has a real libnvidia-ml.so.1")

    result = run_reader(env)

    assert result["ok"] is False
    assert result["error"] == {
        "during": "nvmlInit",
        "code": 12,
        "kind": "library_not_found",
        "message": "NVML Shared Library Not Found",
    }


def test_fake_matches_pynvml_for_calls_the_reader_does_not_make_yet(fake_nvml_lib: Path) -> None:
    # Struct layout of nvmlMemory_v2_t, the architecture enum and the NVML version string.
    script = (
        "import json, pynvml as n\n"
        "n.nvmlInit()\n"
        "h = n.nvmlDeviceGetHandleByIndex(0)\n"
        "m = n.nvmlDeviceGetMemoryInfo(h, version=n.nvmlMemory_v2)\n"
        "print(json.dumps([m.total, m.free, m.used, m.reserved,\n"
        "    n.nvmlDeviceGetArchitecture(h) == n.NVML_DEVICE_ARCH_AMPERE,\n"
        "    n.nvmlSystemGetNVMLVersion()]))\n"
        "n.nvmlShutdown()\n"
    )
    env = fake_nvml_env(fake_nvml_lib, gpus=[A100])
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    total = 81920 * MIB
    reserved, used = total // 100, total // 50
    free = total - reserved - used
    assert json.loads(done.stdout) == [total, free, used, reserved, True, "12.535.104.05"]


def test_fake_nvml_env_replaces_stale_settings(
    fake_nvml_lib: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NVML_GPU_LOST", "0")
    monkeypatch.setenv("LD_LIBRARY_PATH", "/somewhere/else")

    env = fake_nvml_env(fake_nvml_lib, gpus=[A100, RTX3090], init_error=None)

    assert "FAKE_NVML_GPU_LOST" not in env
    assert "FAKE_NVML_INIT_ERROR" not in env
    assert env["FAKE_NVML_GPUS"] == f"{A100};{RTX3090}"
    assert env["LD_LIBRARY_PATH"] == f"{fake_nvml_lib}{os.pathsep}/somewhere/else"
    with pytest.raises(TypeError):
        fake_nvml_env(fake_nvml_lib, gpu=[A100])
