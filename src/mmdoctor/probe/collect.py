"""Probe everything once, concurrently, into one frozen Environment."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mmdoctor.environment import CACHE_DISK, TMP_DISK, DiskSpace, Environment, HostInfo
from mmdoctor.planning.matrix import Matrix
from mmdoctor.probe.inside import probe_target
from mmdoctor.probe.interpreter import resolve_interpreter
from mmdoctor.probe.nvidia import parse_overrides, probe_nvidia
from mmdoctor.probe.toolkit import probe_toolkit

# What a scheduler tells its task about where it runs: Slurm's node name, job and step, and a
# Kubernetes Indexed Job's index (its pod name is the host name).
SCHEDULER_VARIABLES = ("SLURMD_NODENAME", "SLURM_JOB_ID", "SLURM_STEP_ID", "JOB_COMPLETION_INDEX")

# Seconds for one short external command (nvidia-smi, nvcc --version, the NVML reader).
TOOL_TIMEOUT = 20.0


def collect_environment(
    *,
    python: str | None,
    environ: Mapping[str, str],
    step_timeout: float,
    matrix: Matrix,
    network: bool = False,
) -> Environment:
    """`step_timeout` bounds each import inside the target (a hung `import torch` is a finding);
    `network`: also ask the hosts plans download from (check, unless --offline)."""
    from mmdoctor.probe.network import probe_network

    started = time.monotonic()
    overrides = parse_overrides(environ)
    executable, _how = resolve_interpreter(python, environ)
    # nvidia, toolkit, network, and the target's two probe processes: all at once
    with ThreadPoolExecutor(max_workers=5, thread_name_prefix="probe") as pool:
        nvidia_job = pool.submit(
            probe_nvidia,
            overrides=overrides,
            timeout=TOOL_TIMEOUT,
            max_cuda_for_driver=matrix.max_cuda_for_driver,
        )
        toolkit_job = pool.submit(probe_toolkit, environ=environ, timeout=TOOL_TIMEOUT)
        network_job = (
            pool.submit(probe_network, matrix, executable=executable, environ=environ)
            if network
            else None
        )
        target = probe_target(executable, step_timeout=step_timeout, pool=pool, environ=environ)
        nvidia = nvidia_job.result()
        toolkit = toolkit_job.result()
        reachability = network_job.result() if network_job is not None else None
    return Environment(
        host=probe_host(environ),
        network=reachability,
        nvidia=nvidia,
        toolkit=toolkit,
        target=target,
        overrides=overrides,
        probe_seconds=round(time.monotonic() - started, 3),
    )


def probe_host(environ: Mapping[str, str] = os.environ) -> HostInfo:
    import psutil  # only here: cheap, but nothing else needs it

    return HostInfo(
        os=platform.system().lower(),
        machine=platform.machine(),
        cpu_count=psutil.cpu_count(logical=True),
        memory_total_bytes=int(psutil.virtual_memory().total),
        glibc=glibc_version(),
        disks=(
            disk_space(TMP_DISK, environ.get("TMPDIR") or "/tmp"),
            disk_space(CACHE_DISK, pip_cache_dir(environ)),
        ),
        max_jobs=environ.get("MAX_JOBS") or None,
        hostname=socket.gethostname() or None,
        scheduler={k: environ[k] for k in SCHEDULER_VARIABLES if environ.get(k)},
    )


def glibc_version() -> str | None:
    """The C library's version ("2.36"), as the dynamic loader will check it; None where it is
    not glibc (musl, macOS, Windows)."""
    try:
        name, _, version = (os.confstr("CS_GNU_LIBC_VERSION") or "").partition(" ")
    except (AttributeError, ValueError, OSError):
        return None
    return version if name == "glibc" and version else None


def pip_cache_dir(environ: Mapping[str, str]) -> str:
    """Where pip caches downloads and built wheels: PIP_CACHE_DIR, else the XDG cache."""
    if environ.get("PIP_CACHE_DIR"):
        return environ["PIP_CACHE_DIR"]
    base = environ.get("XDG_CACHE_HOME") or str(
        Path(environ.get("HOME") or "~").expanduser() / ".cache"
    )
    return str(Path(base) / "pip")


def disk_space(role: str, folder: str) -> DiskSpace:
    """Free bytes where `folder` is, or would be once created (its nearest existing parent)."""
    path = Path(folder)
    for candidate in (path, *path.parents):
        try:
            return DiskSpace(role, folder, shutil.disk_usage(candidate).free)
        except OSError:
            continue
    return DiskSpace(role, folder, None)
