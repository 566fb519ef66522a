"""What an environment already holds of the stack, as a plan starts from it.

`installed_torch` reads the torch of a probed environment: its version as torch says it (a
local build tag, a pre-release such as NVIDIA's `2.10.0a0+b558c6e`, a conda build), the release
the matrix knows it by, the CUDA it was built with (from torch itself), and whether it runs on
this machine, judged as check judges it: it imports, it is not a CPU-only build on a GPU box,
the driver is new enough for its CUDA, every GPU's arch is in its build, and its torchvision
belongs to it. A torch that runs here is kept by default; a plan fits the rest to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from packaging.version import Version

from mmdoctor.environment import Environment
from mmdoctor.planning.matrix import Matrix
from mmdoctor.versions import parse_version

_ARCH = re.compile(r"^(sm|compute)_(\d+)([a-z]?)$")
# the local tags of the builds PyTorch publishes (cpu, cu121, rocm6.2): plain releases
_PLAIN_LOCAL = re.compile(r"^(cpu|cu\d+|rocm[\d.]+)$")


def parse_arch(arch: str) -> tuple[str, Version] | None:
    """'sm_86' -> ('sm', 8.6); 'compute_120' -> ('compute', 12.0); 'sm_90a' -> ('sm', 9.0)."""
    match = _ARCH.match(arch)
    if not match:
        return None
    digits = match.group(2)
    return match.group(1), Version(f"{digits[:-1]}.{digits[-1]}")


def arch_support(cc: Version, arch_list: list[str]) -> str | None:
    """'sass' when a cubin runs on this GPU (same major, minor <= the GPU's), 'ptx' when only
    PTX can be JIT-compiled for it (compute_XY with XY <= the GPU's), None when nothing can."""
    parsed = [p for p in (parse_arch(a) for a in arch_list) if p is not None]
    if any(kind == "sm" and v.major == cc.major and v <= cc for kind, v in parsed):
        return "sass"
    if any(kind == "compute" and v <= cc for kind, v in parsed):
        return "ptx"
    return None


def cuda_tag(cuda: str) -> str:
    """ "13.0" -> "cu130": the variant name of a build for that CUDA."""
    version = Version(cuda)
    return f"cu{version.major}{version.minor}"


@dataclass(frozen=True)
class InstalledTorch:
    """The torch an environment holds, and whether a plan may keep it."""

    version: str  # as pip knows it: "2.14.1", "2.13.0+cpu", "2.10.0a0+b558c6e"
    release: Version  # the release the matrix knows it by: 2.14.1, 2.10.0
    cuda: str | None  # torch.version.cuda ("13.0"); None: a CPU (or ROCm) build
    torchvision: str | None = None  # the installed torchvision's version, if any
    unfit: str = ""  # why it cannot stay on this machine; "" where it can
    notes: tuple[str, ...] = ()  # how it was read (a pre-release matched to its release, ...)

    @property
    def build(self) -> str:
        """The variant it was built as: "cu130", or "cpu"."""
        return cuda_tag(self.cuda) if self.cuda else "cpu"

    @property
    def public(self) -> str:
        """Its version without the local tag: what `torch==` pins ("2.10.0a0")."""
        return self.version.split("+", 1)[0]

    @property
    def plain(self) -> bool:
        """A release PyTorch published as such (with its own local tag at most): the wheel
        indexes of mmcv serve only those."""
        parsed = Version(self.version)
        return not (parsed.is_prerelease or parsed.is_devrelease or parsed.is_postrelease) and (
            parsed.local is None or bool(_PLAIN_LOCAL.match(parsed.local))
        )

    @property
    def cache_version(self) -> str:
        """The torch of a build's cache key: its version with the build it is ("2.13.0+cu130"),
        so a CPU and a CUDA torch of one version never share a built mmcv."""
        return self.version if "+" in self.version else f"{self.version}+{self.build}"


def installed_torch(env: Environment, matrix: Matrix, *, cpu_only: bool) -> InstalledTorch | None:
    """The environment's torch, judged against this machine; None where none is installed."""
    target = env.target
    version = target.version_of("torch")  # as pip knows it (PyPI's says no "+cu130")
    if version is None:
        return None
    data = target.imported("torch")
    parsed = parse_version(version)
    release = Version(parsed.base_version) if parsed is not None else Version("0")
    notes: list[str] = []
    if parsed is not None and not InstalledTorch(version, release, None).plain:
        notes.append(
            f"torch {version} is not a plain release: matched to {release} for the matrix, "
            "its CUDA read from torch itself; no prebuilt mmcv is made for it, so mmcv is "
            "built here"
        )
    torch = InstalledTorch(
        version=version,
        release=release,
        cuda=str(data["cuda"]) if data and data.get("cuda") else None,
        torchvision=target.version_of("torchvision"),
        notes=tuple(notes),
    )
    why = _unfit(torch, env, matrix, cpu_only) if parsed is not None else "an unreadable version"
    if parsed is not None and matrix.torch_release(release) is None and not why:
        why = f"torch {release} is not in the matrix, which knows no mmcv for it"
    return replace(torch, unfit=why)


def _unfit(torch: InstalledTorch, env: Environment, matrix: Matrix, cpu_only: bool) -> str:
    """Why this torch cannot stay here ("" where it can), in check's own terms."""
    target, nvidia = env.target, env.nvidia
    data = target.imported("torch")
    if data is None:
        step = target.step("torch")
        error = (step.crashed or step.error) if step is not None else "not probed"
        return f"torch {torch.version} does not import here ({error})"
    if data.get("hip"):
        return f"torch {torch.version} is a ROCm (AMD) build"
    gpus = () if cpu_only else nvidia.gpus
    if gpus and not torch.cuda:
        return f"torch {torch.version} is a CPU-only build, and this machine has NVIDIA GPUs"
    if torch.cuda and not cpu_only and nvidia.driver_version is not None:
        needed = matrix.min_driver(torch.cuda, env.os)
        driver = parse_version(nvidia.driver_version)
        if needed is not None and driver is not None and driver < needed:
            return (
                f"torch {torch.version} (CUDA {torch.cuda}) needs driver >= {needed}, "
                f"this is {nvidia.driver_version}"
            )
    arch_list = list(data.get("arch_list") or [])
    for gpu in gpus if torch.cuda and arch_list else ():
        cc = parse_version(gpu.compute_capability)
        if cc is not None and arch_support(cc, arch_list) is None:
            return f"torch {torch.version} has no kernels for {gpu.name} (sm_{cc.major}{cc.minor})"
    return _torchvision_unfit(torch, env, matrix)


def _torchvision_unfit(torch: InstalledTorch, env: Environment, matrix: Matrix) -> str:
    target = env.target
    if torch.torchvision is None:
        return ""  # a plan adds the one that belongs to this torch
    if target.imported("torchvision") is None:
        return f"torchvision {torch.torchvision} does not import beside torch {torch.version}"
    release = matrix.torch_release(torch.release)
    vision = parse_version(torch.torchvision)
    if release is not None and vision is not None:
        expected = Version(release.torchvision)
        if (vision.major, vision.minor) != (expected.major, expected.minor):
            return (
                f"torchvision {torch.torchvision} does not belong to torch {torch.version} "
                f"(torch {release.torch} goes with torchvision {release.torchvision})"
            )
    return ""
