"""The machine a plan is for: the facts of one probed Environment, with what-if values
(`--driver`, `--gpu-cc`, `--python-version`, `--os`, `--arch`) in their place where given.

`PlanningContext.from_environment(env, what_if)` is the only way facts become a `Machine`, for
install, fix, check's advice and fleet alike. A what-if value a user types is checked here:
a bad one is a one-line `UsageError` (exit 2) before anything is probed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.version import Version

from mmdoctor.environment import TMP_DISK, Environment, HostInfo, normal_arch
from mmdoctor.errors import UsageError
from mmdoctor.planning.matrix import DriverVersion, Matrix
from mmdoctor.target import WHAT_IF_PYTHON

_MINOR = re.compile(r"^\d+\.\d+$")
_DRIVER = re.compile(r"^\d+(\.\d+){0,2}$")  # 535 alone: the R535 branch, its first release
OS_NAMES = ("linux", "windows", "darwin")
ARCH_NAMES = ("x86_64", "aarch64")
ELSEWHERE = "not probed: the plan is for another machine"


@dataclass(frozen=True)
class Machine:
    os: str  # "linux", "windows", "darwin"
    python: Version  # major.minor of the target interpreter
    driver: Version | None = None  # None: no NVIDIA driver
    gpu_ccs: tuple[Version, ...] = ()
    nvcc: Version | None = None  # the CUDA toolkit a source build would use
    toolchain_known: bool = True  # False: a plan for another machine, whose nvcc is not known
    arch: str = "x86_64"  # the CPU: "x86_64" or "aarch64"
    glibc: Version | None = None  # Linux: the C library wheels load against; None: not known
    # for a source build here (None: not known, a plan for another machine)
    python_headers: bool | None = None  # the target's Python.h
    build_tmp_free: int | None = None  # free bytes in TMPDIR, where pip builds


def has_gpu(machine: Machine) -> bool:
    return machine.driver is not None or bool(machine.gpu_ccs)


@dataclass(frozen=True)
class WhatIf:
    """Facts given instead of probed. `elsewhere`: the plan is for another machine, so this
    one's toolkit, C library, headers and disk say nothing about it."""

    driver: Version | None = None
    gpu_ccs: tuple[Version, ...] = ()
    python: Version | None = None
    os: str | None = None
    arch: str | None = None
    elsewhere: bool = False

    @classmethod
    def parse(
        cls,
        matrix: Matrix,
        *,
        driver: str | None = None,
        gpu_cc: Sequence[str] = (),
        python_version: str | None = None,
        os_name: str | None = None,
        arch: str | None = None,
        elsewhere: bool = False,
    ) -> WhatIf:
        what_if = cls(
            driver=parse_driver(driver) if driver else None,
            gpu_ccs=tuple(parse_cc(cc) for cc in gpu_cc),
            python=parse_python_version(python_version) if python_version else None,
            os=parse_os(os_name) if os_name else None,
            arch=parse_arch(arch) if arch else None,
            elsewhere=elsewhere,
        )
        if what_if.os and what_if.arch:  # a pair given whole is judged before any probe
            what_if.require_platform(matrix, what_if.os, what_if.arch)
        return what_if

    def require_platform(self, matrix: Matrix, os: str, arch: str) -> None:
        """A what-if OS and CPU pair the matrix has no torch for is bad input (exit 2); a probed
        one is a fact, which the resolver turns into 'no plan' with the reason."""
        if (self.os or self.arch) and matrix.platform(os, arch) is None:
            raise UsageError(
                f"--os {os} --arch {arch}: the matrix knows no torch there "
                f"({matrix.platform_names()})"
            )

    @property
    def probes_nvidia(self) -> bool:
        """NVML is asked unless --driver describes the driver (and so the GPUs too)."""
        return self.driver is None


@dataclass(frozen=True)
class PlanningContext:
    """A Machine for the resolver, plus what the plan's steps need (interpreter, host), and
    where each fact came from ("--driver", "nvml", ...)."""

    machine: Machine
    executable: str
    host: HostInfo
    gcc: Version | None
    sources: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        machine = self.machine
        return {
            "os": machine.os,
            "arch": machine.arch,
            "python": str(machine.python),
            "driver": str(machine.driver) if machine.driver is not None else None,
            "gpu_cc": [str(cc) for cc in machine.gpu_ccs],
            "nvcc": str(machine.nvcc) if machine.nvcc else None,
            "sources": dict(self.sources),
        }

    @classmethod
    def from_environment(cls, env: Environment, what_if: WhatIf | None = None) -> PlanningContext:
        """The facts of `env`, each what-if value in place of the fact it describes."""
        what_if = what_if or WhatIf()
        host, target, nvidia, toolkit = env.host, env.target, env.nvidia, env.toolkit
        here = not what_if.elsewhere  # this machine's toolkit and disk count
        python = what_if.python or _minor(target.python_version)
        sources = {
            "python": WHAT_IF_PYTHON
            if what_if.python or target.how == WHAT_IF_PYTHON
            else f"{target.executable} ({target.how})"
        }
        if what_if.driver is not None:
            driver: Version | None = what_if.driver
            ccs = what_if.gpu_ccs
            sources["driver"] = "--driver"
            sources["gpus"] = "--gpu-cc" if ccs else "none given"
        else:
            driver = driver_version(nvidia.driver_version)
            ccs = what_if.gpu_ccs or tuple(
                Version(g.compute_capability)
                for g in nvidia.gpus
                if _MINOR.match(g.compute_capability)
            )
            sources["driver"] = nvidia.source or "none found"
            sources["gpus"] = "--gpu-cc" if what_if.gpu_ccs else (nvidia.source or "none found")
        if not here:
            sources["nvcc"] = ELSEWHERE
        tmp = host.disk(TMP_DISK)
        machine = Machine(
            os=what_if.os or host.os,
            arch=what_if.arch or host.arch,
            python=python,
            driver=driver,
            gpu_ccs=ccs,
            nvcc=Version(toolkit.nvcc_version) if here and toolkit.nvcc_version else None,
            toolchain_known=here,
            glibc=Version(host.glibc) if here and host.glibc else None,
            python_headers=target.has_python_h if here and not what_if.python else None,
            build_tmp_free=tmp.free_bytes if here and tmp is not None else None,
        )
        gcc = Version(toolkit.gcc_version) if here and toolkit.gcc_version else None
        return cls(machine, target.executable, host, gcc, sources)


def _minor(version: Version) -> Version:
    return Version(f"{version.major}.{version.minor}")


def driver_version(text: str | None) -> Version | None:
    """A probed driver version as NVIDIA writes it (580.95.05); None for none."""
    return DriverVersion(text) if text and _DRIVER.match(text) else None


def parse_cc(text: str) -> Version:
    if not _MINOR.match(text):
        raise UsageError(f"--gpu-cc {text!r}: expected a compute capability such as 8.6")
    return Version(text)


def parse_driver(text: str) -> Version:
    if not _DRIVER.match(text):
        raise UsageError(f"--driver {text!r}: expected a driver version such as 535.104.05")
    return DriverVersion(text if "." in text else f"{text}.0")


def parse_python_version(text: str) -> Version:
    found = re.match(r"^(3\.\d+)(\.\d+)?$", text)  # 3.10.2 means 3.10
    if not found or Version(found[1]) < Version("3.7"):
        raise UsageError(
            f"--python-version {text!r}: expected a Python version such as 3.10 (3.7 or newer)"
        )
    return Version(found[1])


def parse_os(text: str) -> str:
    if text not in OS_NAMES:
        raise UsageError(f"--os {text!r}: expected one of {', '.join(OS_NAMES)}")
    return text


def parse_arch(text: str) -> str:
    arch = normal_arch(text)
    if arch not in ARCH_NAMES:
        raise UsageError(f"--arch {text!r}: expected one of {', '.join(ARCH_NAMES)}")
    return arch
