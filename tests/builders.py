"""Build Environment records by hand, for the pure check functions (no system is touched)."""

from __future__ import annotations

from typing import Any

from mmdoctor.environment import Environment, Gpu, HostInfo, NvidiaInfo, NvmlError, ToolkitInfo
from mmdoctor.target import Distribution, StepResult, Target

SITE = "/venv/lib/python3.11/site-packages"


def gpus(*ccs: str, name: str = "NVIDIA Test GPU") -> tuple[Gpu, ...]:
    return tuple(Gpu(index=i, name=name, compute_capability=cc) for i, cc in enumerate(ccs))


def nvidia(driver: str | None = "535.104.05", cuda: str | None = "12.2", *ccs: str) -> NvidiaInfo:
    if driver is None:
        return NvidiaInfo(
            nvml_error=NvmlError(
                kind="library_not_found",
                message="NVML Shared Library Not Found",
                code=12,
                during="nvmlInit",
            )
        )
    return NvidiaInfo(
        driver_version=driver, cuda_driver_version=cuda, gpus=gpus(*ccs), source="nvml"
    )


def torch_step(
    version: str = "2.13.0+cpu",
    cuda: str | None = None,
    arch_list: list[str] | None = None,
    available: bool | None = None,
    device_count: int = 0,
) -> StepResult:
    return ok_step(
        "torch",
        version=version,
        file=f"{SITE}/torch/__init__.py",
        cuda=cuda,
        hip=None,
        arch_list=arch_list or [],
        cudnn=None,
        cuda_available=available if available is not None else False,
        device_count=device_count,
        devices=[],
        cuda_error=None,
    )


def ok_step(name: str, **data: Any) -> StepResult:
    return StepResult(name=name, ok=True, data=data)


def failed_step(
    name: str, error: str, *, missing: bool = False, crashed: str | None = None
) -> StepResult:
    return StepResult(name=name, ok=False, error=error, missing=missing, crashed=crashed)


def env(
    *,
    nvidia_info: NvidiaInfo | None = None,
    dists: dict[str, str] | list[tuple[str, str]] | None = None,
    steps: list[StepResult] | None = None,
    toolkit: ToolkitInfo | None = None,
    python: str = "3.11.7",
    kind: str = "venv",
    os_name: str = "linux",
    pip: str | None = "25.0",  # a venv has pip unless made without it (uv, --without-pip)
) -> Environment:
    pairs = list(dists.items()) if isinstance(dists, dict) else list(dists or [])
    if pip is not None and not any(name == "pip" for name, _ in pairs):
        pairs.append(("pip", pip))
    return Environment(
        host=HostInfo(os=os_name, machine="x86_64", cpu_count=2, memory_total_bytes=24 * 2**30),
        nvidia=nvidia_info if nvidia_info is not None else nvidia(None),
        toolkit=toolkit or ToolkitInfo(),
        target=Target(
            executable="/venv/bin/python",
            version=python,
            implementation="CPython",
            prefix="/venv",
            in_venv=kind == "venv",
            is_conda=kind == "conda",
            externally_managed=kind == "managed",
            platform="linux",
            machine="x86_64",
            distributions=tuple(Distribution(n, v, SITE) for n, v in pairs),
            steps={s.name: s for s in steps or []},
        ),
    )
