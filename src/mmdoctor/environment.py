"""The frozen record of one probed machine and target interpreter.

Probes fill it once; checks, renderers and (later) the resolver only read it. Nothing here talks
to the system, so every check is a pure function of an `Environment`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from packaging.version import InvalidVersion, Version


def parse_version(text: str | None) -> Version | None:
    """A PEP 440 version, or None for a missing or unparsable string (never raises)."""
    if not text:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None


def normalize_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    compute_capability: str  # "8.6"
    memory_total_bytes: int | None = None
    uuid: str | None = None


@dataclass(frozen=True)
class NvmlError:
    """Why the driver could not be read; `kind` is one of nvml_reader.NVML_ERROR_NAMES' values,
    or bindings_missing / probe_failed / other."""

    kind: str
    message: str
    code: int | None = None
    during: str | None = None


@dataclass(frozen=True)
class NvidiaInfo:
    driver_version: str | None = None
    cuda_driver_version: str | None = None  # highest CUDA the driver supports, "12.2"
    gpus: tuple[Gpu, ...] = ()
    source: str | None = (
        None  # "nvml", "proc", "nvidia-smi", "override"; None when nothing answered
    )
    nvml_error: NvmlError | None = None
    gpu_errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def has_driver(self) -> bool:
        return self.driver_version is not None


@dataclass(frozen=True)
class ToolkitInfo:
    nvcc_path: str | None = None
    nvcc_version: str | None = None  # "12.1"
    cuda_home: str | None = None
    gcc_path: str | None = None
    gcc_version: str | None = None  # "12.2.0"
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Distribution:
    name: str
    version: str | None
    location: str
    requires: tuple[str, ...] = ()  # normalised names of what it always requires (no extras)


@dataclass(frozen=True)
class StepResult:
    """One probe step run inside the target interpreter (see probe/inside_script.py)."""

    name: str
    ok: bool
    data: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    missing: bool = False  # not installed at all, as opposed to installed and broken
    traceback: str | None = None
    stderr: str = ""
    seconds: float | None = None
    # Set by the runner when the step killed or hung the interpreter.
    crashed: str | None = None


@dataclass(frozen=True)
class TargetPython:
    executable: str
    version: str
    implementation: str
    prefix: str
    in_venv: bool
    is_conda: bool
    externally_managed: bool
    platform: str
    machine: str
    distributions: tuple[Distribution, ...] = ()
    steps: Mapping[str, StepResult] = field(default_factory=dict)
    include_dir: str | None = None  # where a C extension's build looks for Python.h
    has_python_h: bool | None = None
    scripts_dir: str | None = None  # the environment's bin/ (a pip-installed ninja lands there)
    ninja: str | None = None  # the ninja a build in this environment would run, if any

    @property
    def kind(self) -> str:
        if self.is_conda:
            return "conda"
        if self.in_venv:
            return "venv"
        return "system"

    def installed(self, name: str) -> list[Distribution]:
        """Every installed distribution with this name (more than one means a broken env)."""
        key = normalize_name(name)
        return [d for d in self.distributions if normalize_name(d.name) == key]

    def version_of(self, name: str) -> str | None:
        found = self.installed(name)
        return found[0].version if found else None

    def step(self, name: str) -> StepResult | None:
        return self.steps.get(name)

    def imported(self, name: str) -> Mapping[str, Any] | None:
        """The data of a step that succeeded, else None."""
        result = self.steps.get(name)
        return result.data if result is not None and result.ok else None

    @property
    def python_version(self) -> Version:
        return Version(self.version)


TMP_DISK = "temporary files (TMPDIR)"  # DiskSpace.role of pip's build and unpack folder
CACHE_DISK = "pip's cache"


@dataclass(frozen=True)
class DiskSpace:
    """Free space where a build or a download writes (pip's temporary folder, its cache)."""

    role: str  # TMP_DISK or CACHE_DISK
    path: str
    free_bytes: int | None  # None: the folder and its parents could not be read


@dataclass(frozen=True)
class Reachability:
    """One host a plan would download from, and how it answered."""

    role: str  # "package index", "PyTorch wheels", ...
    url: str
    answer: str  # "ok", "dns", "refused", "timeout", "tls", "http", "proxy", "error"
    detail: str  # one line: "HTTP 403 Forbidden", "certificate verify failed: self-signed ..."
    seconds: float
    status: int | None = None  # the HTTP status, where there was an HTTP answer


@dataclass(frozen=True)
class HostInfo:
    """The machine itself: what a source build's parallelism and a report need."""

    os: str  # "linux", "windows", "darwin"
    machine: str  # "x86_64", as platform.machine() says it
    cpu_count: int | None = None
    memory_total_bytes: int | None = None
    glibc: str | None = None  # "2.36"; None: not Linux, or another C library (musl)
    disks: tuple[DiskSpace, ...] = ()  # where builds and downloads write
    max_jobs: str | None = None  # $MAX_JOBS: a manual build's parallel compile jobs
    # which machine this is, so reports gathered from many nodes can be told apart
    hostname: str | None = None
    scheduler: Mapping[str, str] = field(default_factory=dict)  # SLURMD_NODENAME, SLURM_JOB_ID...

    def disk(self, role: str) -> DiskSpace | None:
        """The free space probed for `role` (TMP_DISK, CACHE_DISK), if it was."""
        return next((d for d in self.disks if d.role == role), None)

    @property
    def arch(self) -> str:
        """The CPU as wheel tags know it: x86_64 or aarch64 (macOS says arm64, Windows AMD64)."""
        return normal_arch(self.machine)


ARCH_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64", "armv8": "aarch64"}


def normal_arch(machine: str) -> str:
    """'arm64' -> 'aarch64', 'AMD64' -> 'x86_64'; any other name, lower-cased."""
    return ARCH_ALIASES.get(machine.lower(), machine.lower())


@dataclass(frozen=True)
class Environment:
    host: HostInfo
    nvidia: NvidiaInfo
    toolkit: ToolkitInfo
    target: TargetPython
    overrides: Mapping[str, str] = field(default_factory=dict)
    probe_seconds: float | None = None
    network: tuple[Reachability, ...] | None = None  # None: not probed (--offline)

    @property
    def os(self) -> str:
        return self.host.os

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
