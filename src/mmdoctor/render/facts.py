"""The environment as (label, value) rows: shared by the human and Markdown renderers."""

from __future__ import annotations

from mmdoctor.environment import Environment
from mmdoctor.planning.matrix import load_matrix
from mmdoctor.target import Target

PACKAGES = (
    "torch",
    "torchvision",
    "numpy",
    "mmcv",
    "mmcv-full",
    "mmcv-lite",
    "onedl-mmcv",
    "mmengine",
    "onedl-mmengine",
    "mmdet",
    "onedl-mmdetection",
    "openmim",
    "onedl-mim",
    "setuptools",
    "pip",
    "wheel",
    "opencv-python",
    "opencv-python-headless",
)


def environment_rows(env: Environment) -> list[tuple[str, str]]:
    target, nvidia, toolkit = env.target, env.nvidia, env.toolkit
    host = env.host
    memory = f", {host.memory_total_bytes / 2**30:.0f} GiB" if host.memory_total_bytes else ""
    cores = f", {host.cpu_count} CPUs" if host.cpu_count else ""
    rows = [
        ("OS", f"{host.os} {host.machine}{cores}{memory}"),
        ("Python", f"{target.version} {target.implementation} ({target.kind}) {target.executable}"),
    ]
    if nvidia.has_driver:
        cuda = f", CUDA <= {nvidia.cuda_driver_version}" if nvidia.cuda_driver_version else ""
        rows.append(("NVIDIA driver", f"{nvidia.driver_version}{cuda} (from {nvidia.source})"))
    else:
        reason = nvidia.nvml_error.message if nvidia.nvml_error else "not found"
        rows.append(("NVIDIA driver", f"none ({reason})"))
    for gpu in nvidia.gpus:
        memory = f", {gpu.memory_total_bytes / 2**30:.0f} GiB" if gpu.memory_total_bytes else ""
        uuid = f", {gpu.uuid}" if gpu.uuid else ""
        rows.append((f"GPU {gpu.index}", f"{gpu.name} (cc {gpu.compute_capability}{memory}{uuid})"))
    nvcc = f"{toolkit.nvcc_version} ({toolkit.nvcc_path})" if toolkit.nvcc_version else "not found"
    rows.append(("nvcc", nvcc))
    rows.append(("gcc", toolkit.gcc_version or "not found"))
    torch = target.imported("torch")
    for name in PACKAGES:
        for position, dist in enumerate(target.installed(name)):
            value = dist.version or "?"
            if name == "torch" and torch:
                value += f" (CUDA {torch['cuda']})" if torch.get("cuda") else " (CPU)"
            if position:  # the first one on sys.path is the one imported
                value += f" (shadowed, in {dist.location})"
            rows.append((dist.name, value))
    line = stack_line(target)
    if line:
        rows.append(("Stack line", line))
    return rows


def stack_line(target: Target) -> str:
    """Which line the installed OpenMMLab packages belong to: "onedl", "openmmlab", or both
    (a clash: the same modules from two lines); "" when none is installed."""
    lines = load_matrix().lines_among(d.name for d in target.distributions)
    if len(lines) > 1:
        return f"mixed: {' and '.join(lines)} (see mmcv.variants)"
    return lines[0] if lines else ""
