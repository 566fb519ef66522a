"""The frozen record of one probed machine and target interpreter.

Probes fill it once; checks, renderers and (later) the resolver only read it. Nothing here talks
to the system, so every check is a pure function of an `Environment`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from mmdoctor.target import Target

R = TypeVar("R")


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
class MachineFacts:
    """The machine alone, without a Python environment: what a bare `check` probes, and the
    part of an Environment that machine checks read."""

    host: HostInfo
    nvidia: NvidiaInfo
    toolkit: ToolkitInfo
    overrides: Mapping[str, str] = field(default_factory=dict)
    probe_seconds: float | None = None
    network: tuple[Reachability, ...] | None = None  # None: not probed (--offline)

    @property
    def os(self) -> str:
        return self.host.os

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Environment:
    host: HostInfo
    nvidia: NvidiaInfo
    toolkit: ToolkitInfo
    target: Target
    overrides: Mapping[str, str] = field(default_factory=dict)
    probe_seconds: float | None = None
    network: tuple[Reachability, ...] | None = None  # None: not probed (--offline)

    @property
    def os(self) -> str:
        return self.host.os

    @property
    def machine(self) -> MachineFacts:
        return MachineFacts(
            self.host, self.nvidia, self.toolkit, self.overrides, self.probe_seconds, self.network
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "target": self.target.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Environment:
        """The record again from `to_dict`'s JSON (a node's `check --json`, read by fleet):
        ValueError where it is not one."""
        try:
            return record_from(cls, data)
        except (TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"not an environment record: {exc}") from None


def record_from(kind: type[R], data: Mapping[str, Any]) -> R:
    """A frozen record of `kind` from its dict: nested records, tuples, mappings and optional
    values by the field's type; keys the record does not have are left out."""
    hints = get_type_hints(kind)
    names = {f.name for f in fields(kind)}  # type: ignore[arg-type]
    return kind(**{k: _value(hints[k], v) for k, v in data.items() if k in names})


def _value(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType):  # X | None
        return _value(next(a for a in args if a is not type(None)), value)
    if origin is tuple:
        return tuple(_value(args[0], item) for item in value)
    if origin in (Mapping, dict):
        return {k: _value(args[1], v) for k, v in value.items()}
    if is_dataclass(hint):
        return record_from(hint, value)  # type: ignore[arg-type]
    return value
