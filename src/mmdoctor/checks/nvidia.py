"""The driver and the GPUs, as NVML (or its fallbacks) saw them."""

from __future__ import annotations

from mmdoctor.checks.model import (
    Finding,
    MachineView,
    advice,
    fail,
    machine_check,
    ok,
    skip,
    warn,
)
from mmdoctor.environment import Gpu, NvidiaInfo

CPU_ONLY_NOTE = (
    "Without a driver, torch and mmcv run on the CPU only. That is fine for a laptop or CI: "
    "run `mmdoctor check --cpu-only` to treat this machine as CPU-only, and "
    "`mmdoctor smoke-test --device cpu` to prove the stack."
)

# NVML failure kind -> (summary, advice text, known-failure id). Codes from nvml.h. With a
# known failure, the fix comes from known_failures.yaml and the text here is a detail only.
NVML_FAILURES: dict[str, tuple[str, str | None, str | None]] = {
    "library_not_found": (
        "no NVIDIA driver: the NVML library (libnvidia-ml.so.1) is not installed or not visible",
        None,
        "no-nvidia-driver",
    ),
    "driver_not_loaded": (
        "the NVIDIA driver is installed but its kernel module is not loaded",
        "`sudo modprobe nvidia` loads the module; if it fails, `sudo dmesg | grep -i nvidia` "
        "tells why (Secure Boot blocks unsigned modules).",
        "no-nvidia-driver",
    ),
    "lib_rm_version_mismatch": (
        "driver/library version mismatch: the driver was upgraded but the old kernel module "
        "is still loaded",
        None,
        "nvml-driver-library-mismatch",
    ),
    "no_permission": (
        "no permission to talk to the NVIDIA driver",
        "Check the permissions of /dev/nvidia* (your user may need the `video` group), or run "
        "the container with the NVIDIA runtime.",
        None,
    ),
    "gpu_is_lost": (
        "a GPU has fallen off the bus (NVML: GPU is lost)",
        "Reboot the machine; if it happens again, check the GPU's power and cooling "
        "(`sudo dmesg | grep -i xid`).",
        None,
    ),
    "bindings_missing": (
        "mmdoctor's own NVML bindings (nvidia-ml-py) are missing",
        "Reinstall mmdoctor, or `python -m pip install nvidia-ml-py` into mmdoctor's environment.",
        None,
    ),
}


def describe_gpu(gpu: Gpu) -> str:
    memory = f", {gpu.memory_total_bytes / 2**30:.0f} GiB" if gpu.memory_total_bytes else ""
    return f"GPU {gpu.index}: {gpu.name} (compute capability {gpu.compute_capability}{memory})"


def driver_line(nvidia: NvidiaInfo) -> str:
    cuda = f", supports CUDA <= {nvidia.cuda_driver_version}" if nvidia.cuda_driver_version else ""
    return f"driver {nvidia.driver_version}{cuda} (read from {nvidia.source})"


@machine_check("nvidia.driver", "NVIDIA driver")
def driver_present(ctx: MachineView) -> Finding:
    nvidia = ctx.machine.nvidia
    error = nvidia.nvml_error
    details = list(nvidia.notes)
    if error is None:
        if nvidia.has_driver:
            return ok(driver_line(nvidia), *details)
        return fail("no NVIDIA driver found", CPU_ONLY_NOTE, known_failure="no-nvidia-driver")

    summary, text, known = NVML_FAILURES.get(
        error.kind,
        (f"NVML failed: {error.message}", "Run `nvidia-smi` to see what the driver says.", None),
    )
    details.append(f"NVML said: {error.message} (during {error.during})")
    if error.kind == "library_not_found":
        if ctx.cpu_only:
            return skip("no NVIDIA driver; --cpu-only: this machine runs on the CPU")
        if nvidia.has_driver:
            # The kernel module answers but user space has no NVML: typically a container
            # started without the NVIDIA runtime's utility capability.
            return warn(
                f"{driver_line(nvidia)}, but NVML is not available",
                *details,
                advice=advice(
                    "Give the container the NVIDIA runtime with the `utility` capability "
                    "(NVIDIA_DRIVER_CAPABILITIES=compute,utility), or install the driver's "
                    "user-space libraries."
                ),
            )
        details.append(CPU_ONLY_NOTE)
    if known:
        return fail(summary, *details, *([text] if text else []), known_failure=known)
    if error.kind == "bindings_missing" and nvidia.has_driver:
        return warn(summary, *details, advice=advice(text or ""))
    return fail(summary, *details, advice=advice(text or ""))


@machine_check("nvidia.gpus", "GPUs visible to the driver")
def gpus_visible(ctx: MachineView) -> Finding:
    nvidia = ctx.machine.nvidia
    if not nvidia.has_driver:
        return skip("no driver, so no GPUs to list")
    lines = [describe_gpu(gpu) for gpu in nvidia.gpus]
    if nvidia.gpu_errors:
        return fail(
            f"{len(nvidia.gpu_errors)} GPU(s) could not be read",
            *nvidia.gpu_errors,
            *lines,
            advice=advice(NVML_FAILURES["gpu_is_lost"][1] or ""),
        )
    if not nvidia.gpus:
        if nvidia.source and "nvidia-smi" not in nvidia.source and nvidia.nvml_error:
            return skip("the driver is loaded, but without NVML or nvidia-smi no GPU can be listed")
        return fail(
            "the driver is loaded but no GPU is visible",
            advice=advice(
                "Check CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES and, in a container, that it "
                "was started with `--gpus all`."
            ),
        )
    names = ", ".join(f"{g.name} (sm_{g.compute_capability.replace('.', '')})" for g in nvidia.gpus)
    return ok(f"{len(nvidia.gpus)} GPU(s): {names}", *lines)
