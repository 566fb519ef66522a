"""The CUDA toolkit (nvcc, CUDA_HOME) and the host compiler: what a source build of mmcv uses."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from mmdoctor import shell
from mmdoctor.environment import ToolkitInfo

_NVCC_RE = re.compile(r"release (\d+\.\d+)")


def find_nvcc(environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """nvcc as torch's cpp_extension finds it: $CUDA_HOME/bin, else PATH, else /usr/local/cuda.
    Returns (nvcc path, CUDA home)."""
    cuda_home = environ.get("CUDA_HOME") or environ.get("CUDA_PATH")
    if cuda_home:
        candidate = Path(cuda_home) / "bin" / "nvcc"
        return (str(candidate) if candidate.is_file() else None), cuda_home
    on_path = shutil.which("nvcc", path=environ.get("PATH", os.defpath))
    if on_path:
        return on_path, str(Path(on_path).resolve().parent.parent)
    default = Path("/usr/local/cuda/bin/nvcc")
    if default.is_file():
        return str(default), "/usr/local/cuda"
    return None, None


def parse_nvcc_version(text: str) -> str | None:
    match = _NVCC_RE.search(text)
    return match.group(1) if match else None


def probe_toolkit(*, environ: Mapping[str, str], timeout: float) -> ToolkitInfo:
    nvcc, cuda_home = find_nvcc(environ)
    gcc = shutil.which("gcc", path=environ.get("PATH", os.defpath))
    notes = []
    if cuda_home and not nvcc:
        notes.append(f"CUDA_HOME={cuda_home} has no bin/nvcc (a runtime-only CUDA?)")
    nvcc_out = _version_output([nvcc, "--version"], timeout) if nvcc else None
    gcc_out = _version_output([gcc, "-dumpfullversion"], timeout) if gcc else None
    return ToolkitInfo(
        nvcc_path=nvcc,
        nvcc_version=parse_nvcc_version(nvcc_out) if nvcc_out else None,
        cuda_home=cuda_home,
        gcc_path=gcc,
        gcc_version=gcc_out.strip().splitlines()[0] if gcc_out and gcc_out.strip() else None,
        notes=tuple(notes),
    )


def _version_output(argv: list[str], timeout: float) -> str | None:
    try:
        run = shell.run(argv, timeout=timeout)
    except shell.CommandNotFound:
        return None
    return run.stdout if run.ok else None
