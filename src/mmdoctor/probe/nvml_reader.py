"""Read the NVIDIA driver and GPUs through NVML (the `pynvml` module of `nvidia-ml-py`).

Run as `python -m mmdoctor.probe.nvml_reader`: it prints one JSON object on stdout. mmdoctor runs
it in a subprocess with a timeout, because a broken driver stack can hang or crash inside
`libnvidia-ml.so.1`, and that must become a finding, not a crash of mmdoctor.
"""

from __future__ import annotations

import json
import sys
from typing import Any

# NVML error codes that get their own finding (nvml.h); everything else is reported as is.
NVML_ERROR_NAMES = {
    1: "uninitialized",
    2: "invalid_argument",
    3: "not_supported",
    4: "no_permission",
    9: "driver_not_loaded",
    12: "library_not_found",
    13: "function_not_found",
    15: "gpu_is_lost",
    18: "lib_rm_version_mismatch",
    999: "unknown",
}


def _text(value: Any) -> str:
    # Very old bindings return bytes; current ones decode to str.
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _error(exc: BaseException, during: str) -> dict[str, Any]:
    code = getattr(exc, "value", None)
    return {
        "during": during,
        "code": code if isinstance(code, int) else None,
        "kind": NVML_ERROR_NAMES.get(code, "other") if isinstance(code, int) else "other",
        "message": _text(exc) or type(exc).__name__,
    }


def read_nvml() -> dict[str, Any]:
    """Everything NVML says about this machine, or the error that stopped it."""
    result: dict[str, Any] = {
        "ok": False,
        "driver_version": None,
        "cuda_driver_version": None,
        "gpus": [],
        "error": None,
        "gpu_errors": [],
    }
    try:
        import pynvml
    except ImportError as exc:
        result["error"] = {
            "during": "import pynvml",
            "code": None,
            "kind": "bindings_missing",
            "message": str(exc),
        }
        return result

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        result["error"] = _error(exc, "nvmlInit")
        return result

    # pynvml decodes strings strictly: bytes that are not UTF-8 raise UnicodeDecodeError.
    try:
        result["driver_version"] = _text(pynvml.nvmlSystemGetDriverVersion())
        result["cuda_driver_version"] = _cuda_driver_version(pynvml)
        count = pynvml.nvmlDeviceGetCount()
    except (pynvml.NVMLError, UnicodeDecodeError) as exc:
        result["error"] = _error(exc, "system query")
        _shutdown(pynvml)
        return result

    for index in range(count):
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
            gpu = {
                "index": index,
                "name": _text(pynvml.nvmlDeviceGetName(handle)),
                "memory_total_bytes": int(pynvml.nvmlDeviceGetMemoryInfo(handle).total),
                "compute_capability": f"{major}.{minor}",
                "uuid": None,
            }
            try:
                gpu["uuid"] = _text(pynvml.nvmlDeviceGetUUID(handle))
            except pynvml.NVMLError:
                pass  # The UUID is only for the report; a GPU without one is still a GPU.
            result["gpus"].append(gpu)
        except (pynvml.NVMLError, UnicodeDecodeError) as exc:
            result["gpu_errors"].append({"index": index, **_error(exc, f"GPU {index}")})

    result["ok"] = True
    _shutdown(pynvml)
    return result


def _cuda_driver_version(pynvml: Any) -> int | None:
    # _v2 asks libcuda itself; v1 may answer "a known supported version" when libcuda is absent.
    for name in ("nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion"):
        func = getattr(pynvml, name, None)
        if func is None:
            continue
        try:
            return int(func())
        except pynvml.NVMLError:
            continue
    return None


def _shutdown(pynvml: Any) -> None:
    try:
        pynvml.nvmlShutdown()
    except pynvml.NVMLError:
        pass


def main() -> None:
    json.dump(read_nvml(), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
