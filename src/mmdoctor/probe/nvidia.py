"""The NVIDIA driver and GPUs: NVML first, then /proc and nvidia-smi, or what-if overrides."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mmdoctor import shell
from mmdoctor.environment import Gpu, NvidiaInfo, NvmlError
from mmdoctor.errors import UsageError

PROC_VERSION = Path("/proc/driver/nvidia/version")
_DRIVER_RE = re.compile(r"^\d+(\.\d+){1,2}$")
_CC_RE = re.compile(r"^\d+\.\d+$")
_PROC_RE = re.compile(r"Kernel Module\s+(?:for \S+\s+)?(\d+\.\d+(?:\.\d+)?)")


def decode_cuda_version(value: int) -> str:
    """NVML's integer (1000 * major + 10 * minor) as "major.minor": 11060 -> "11.6"."""
    return f"{value // 1000}.{(value % 1000) // 10}"


def parse_overrides(environ: Mapping[str, str]) -> dict[str, str]:
    """The what-if variables, validated (bad values are a usage error, exit 2)."""
    found: dict[str, str] = {}
    driver = environ.get("MMDOCTOR_DRIVER_VERSION", "").strip()
    if driver:
        if not _DRIVER_RE.match(driver):
            raise UsageError(
                f"MMDOCTOR_DRIVER_VERSION={driver!r} is not a driver version such as 535.104.05"
            )
        found["MMDOCTOR_DRIVER_VERSION"] = driver
    ccs = environ.get("MMDOCTOR_GPU_CC", "").strip()
    if ccs:
        items = [item.strip() for item in ccs.split(",")]
        bad = [item for item in items if not _CC_RE.match(item)]
        if bad:
            raise UsageError(
                f"MMDOCTOR_GPU_CC={ccs!r}: {bad[0]!r} is not a compute capability such as 8.6"
            )
        found["MMDOCTOR_GPU_CC"] = ",".join(items)
    return found


def probe_nvidia(
    *, overrides: Mapping[str, str], timeout: float, max_cuda_for_driver: Any
) -> NvidiaInfo:
    """`max_cuda_for_driver(driver_version) -> "12.2" | None` comes from the matrix; it fills
    the CUDA ceiling when the driver version is an override."""
    driver_override = overrides.get("MMDOCTOR_DRIVER_VERSION")
    cc_override = overrides.get("MMDOCTOR_GPU_CC")
    # With both overrides nothing real is asked for: a pure what-if.
    real = NvidiaInfo() if driver_override and cc_override else _probe_real(timeout)
    if not driver_override and not cc_override:
        return real

    notes = list(real.notes)
    driver = driver_override or real.driver_version
    cuda = real.cuda_driver_version
    if driver_override:
        cuda = max_cuda_for_driver(driver_override)
        notes.append(f"driver version from MMDOCTOR_DRIVER_VERSION={driver_override} (what-if)")
    gpus = real.gpus
    if cc_override:
        gpus = tuple(
            Gpu(index=i, name=f"what-if GPU {i}", compute_capability=cc)
            for i, cc in enumerate(cc_override.split(","))
        )
        notes.append(f"GPUs from MMDOCTOR_GPU_CC={cc_override} (what-if)")
    return NvidiaInfo(
        driver_version=driver,
        cuda_driver_version=cuda,
        gpus=gpus,
        source="override",
        nvml_error=real.nvml_error if not driver_override else None,
        gpu_errors=real.gpu_errors,
        notes=tuple(notes),
    )


def _probe_real(timeout: float) -> NvidiaInfo:
    nvml = _read_nvml(timeout)
    error: dict[str, Any] = nvml.get("error") or {"kind": "other", "message": "unknown"}
    if nvml.get("ok"):
        return NvidiaInfo(
            driver_version=nvml["driver_version"],
            cuda_driver_version=(
                decode_cuda_version(nvml["cuda_driver_version"])
                if nvml.get("cuda_driver_version")
                else None
            ),
            gpus=tuple(
                Gpu(
                    index=g["index"],
                    name=g["name"],
                    compute_capability=g["compute_capability"],
                    memory_total_bytes=g["memory_total_bytes"],
                    uuid=g["uuid"],
                )
                for g in nvml["gpus"]
            ),
            source="nvml",
            gpu_errors=tuple(f"GPU {e['index']}: {e['message']}" for e in nvml["gpu_errors"]),
        )
    nvml_error = NvmlError(
        kind=error["kind"],
        message=error["message"],
        code=error.get("code"),
        during=error.get("during"),
    )
    # NVML failed: the kernel module's own version file, then nvidia-smi, still may answer.
    driver = _read_proc_version()
    source = "proc" if driver else None
    gpus: tuple[Gpu, ...] = ()
    smi = _read_nvidia_smi(timeout)
    if smi is not None:
        smi_driver, gpus = smi
        driver = driver or smi_driver
        source = source or "nvidia-smi"
        if gpus:
            source = f"{source}+nvidia-smi" if source != "nvidia-smi" else source
    return NvidiaInfo(
        driver_version=driver,
        gpus=gpus,
        source=source,
        nvml_error=nvml_error,
    )


def _read_nvml(timeout: float) -> dict[str, Any]:
    # In a subprocess of mmdoctor's own interpreter: a crash or hang inside libnvidia-ml.so.1
    # must not take mmdoctor down.
    argv = [sys.executable, "-m", "mmdoctor.probe.nvml_reader"]
    # `-m` puts the working folder first on sys.path: run from the folder mmdoctor is installed
    # in, so that a warnings.py or json.py where the user stands shadows nothing
    here = str(Path(__file__).resolve().parents[2])
    try:
        run = shell.run(argv, timeout=timeout, cwd=here)
    except shell.CommandNotFound as exc:  # pragma: no cover - sys.executable always exists
        return _failed(str(exc))
    if run.ok:
        try:
            data: dict[str, Any] = json.loads(run.stdout)
            return data
        except ValueError:
            pass
    reason = "timed out" if run.timed_out else f"exit status {run.returncode}"
    return _failed(f"the NVML probe failed ({reason}) {run.last_error_line}".strip())


def _failed(message: str) -> dict[str, Any]:
    return {
        "ok": False,
        "error": {"kind": "probe_failed", "message": message, "code": None, "during": "probe"},
    }


def parse_proc_version(text: str) -> str | None:
    """The driver version in /proc/driver/nvidia/version's first line."""
    first = text.splitlines()[0] if text else ""
    match = _PROC_RE.search(first)
    return match.group(1) if match else None


def _read_proc_version() -> str | None:
    try:
        return parse_proc_version(PROC_VERSION.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None


SMI_FIELDS = "index,name,memory.total,compute_cap,uuid,driver_version"


def _read_nvidia_smi(timeout: float) -> tuple[str | None, tuple[Gpu, ...]] | None:
    argv = ["nvidia-smi", f"--query-gpu={SMI_FIELDS}", "--format=csv,noheader,nounits"]
    try:
        run = shell.run(argv, timeout=timeout)
    except shell.CommandNotFound:
        return None
    if not run.ok:
        return None
    return parse_nvidia_smi(run.stdout)


def parse_nvidia_smi(stdout: str) -> tuple[str | None, tuple[Gpu, ...]]:
    driver = None
    gpus = []
    for line in stdout.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 6 or not parts[0].isdigit():
            continue  # "No devices were found" and the like
        index, name, memory_mib, cc, uuid, driver = parts
        memory = int(float(memory_mib) * 1024 * 1024) if _is_number(memory_mib) else None
        gpus.append(
            Gpu(
                index=int(index),
                name=name,
                compute_capability=cc if _CC_RE.match(cc) else "unknown",
                memory_total_bytes=memory,
                uuid=uuid or None,
            )
        )
    return driver, tuple(gpus)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
