"""Probe everything once, concurrently, into one frozen Environment."""

from __future__ import annotations

import platform
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from mmdoctor.environment import Environment, HostInfo
from mmdoctor.matrix import Matrix
from mmdoctor.probe.inside import probe_target
from mmdoctor.probe.interpreter import resolve_interpreter
from mmdoctor.probe.nvidia import parse_overrides, probe_nvidia
from mmdoctor.probe.toolkit import probe_toolkit

# Seconds for one short external command (nvidia-smi, nvcc --version, the NVML reader).
TOOL_TIMEOUT = 20.0


def collect_environment(
    *, python: str | None, environ: Mapping[str, str], step_timeout: float, matrix: Matrix
) -> Environment:
    """`step_timeout` bounds each import inside the target (a hung `import torch` is a finding)."""
    started = time.monotonic()
    overrides = parse_overrides(environ)
    executable, _how = resolve_interpreter(python, environ)
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="probe") as pool:
        nvidia_job = pool.submit(
            probe_nvidia,
            overrides=overrides,
            timeout=TOOL_TIMEOUT,
            max_cuda_for_driver=matrix.max_cuda_for_driver,
        )
        toolkit_job = pool.submit(probe_toolkit, environ=environ, timeout=TOOL_TIMEOUT)
        target = probe_target(executable, step_timeout=step_timeout, pool=pool, environ=environ)
        nvidia = nvidia_job.result()
        toolkit = toolkit_job.result()
    return Environment(
        host=probe_host(),
        nvidia=nvidia,
        toolkit=toolkit,
        target=target,
        overrides=overrides,
        probe_seconds=round(time.monotonic() - started, 3),
    )


def probe_host() -> HostInfo:
    import psutil  # only here: cheap, but nothing else needs it

    return HostInfo(
        os=platform.system().lower(),
        machine=platform.machine(),
        cpu_count=psutil.cpu_count(logical=True),
        memory_total_bytes=int(psutil.virtual_memory().total),
    )
