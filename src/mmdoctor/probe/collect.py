"""Probe everything once, concurrently, into one frozen Environment: the one collection that
check, install, fix, diagnose and fleet use."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from mmdoctor.environment import (
    CACHE_DISK,
    TMP_DISK,
    DiskSpace,
    Environment,
    HostInfo,
    MachineFacts,
    NvidiaInfo,
    ToolkitInfo,
)
from mmdoctor.pipnet import Host, PipNetwork, pip_environment
from mmdoctor.probe.inside import (
    IMPORT_STEPS,
    probe_in_one_run,
    probe_python,
    probe_steps,
    results,
    target_from,
)
from mmdoctor.probe.network import probe_network
from mmdoctor.probe.nvidia import parse_overrides, probe_nvidia
from mmdoctor.probe.toolkit import probe_toolkit
from mmdoctor.target import Choice, Target

# What a scheduler tells its task about where it runs: Slurm's node name, job and step, and a
# Kubernetes Indexed Job's index (its pod name is the host name).
SCHEDULER_VARIABLES = ("SLURMD_NODENAME", "SLURM_JOB_ID", "SLURM_STEP_ID", "JOB_COMPLETION_INDEX")

# Seconds for one short external command (nvidia-smi, nvcc --version, the NVML reader).
TOOL_TIMEOUT = 20.0


def collect_environment(
    target: Choice | Target,
    *,
    environ: Mapping[str, str],
    step_timeout: float,
    max_cuda_for_driver: Callable[[str], str | None],
    steps: Sequence[str] = IMPORT_STEPS,
    one_run: bool = False,
    hosts: Callable[[Environment], Sequence[Host]] | None = None,
    nvidia: bool = True,
    toolkit: bool = True,
) -> Environment:
    """Everything at once: NVML, the toolkit, and the target's probe steps (a `Choice` is run;
    a `Target` described by what-if values is taken as it is). `step_timeout` bounds each
    import inside the target (a hung `import torch` is a finding); `steps`: the import steps
    after the python step; `one_run`: all of them in one run of the interpreter, one after the
    other (install), else the python step and two groups of imports at once (check);
    `hosts`: the download hosts to ask, given what was found (check, unless --offline);
    `nvidia`, `toolkit`: False where what-if values describe them (nothing of this machine is
    asked)."""
    started = time.monotonic()
    overrides = parse_overrides(environ)
    # nvidia, toolkit, and the target's probe processes: all at once
    with ThreadPoolExecutor(max_workers=5, thread_name_prefix="probe") as pool:
        nvidia_job = (
            pool.submit(
                probe_nvidia,
                overrides=overrides,
                timeout=TOOL_TIMEOUT,
                max_cuda_for_driver=max_cuda_for_driver,
            )
            if nvidia
            else None
        )
        toolkit_job = (
            pool.submit(probe_toolkit, environ=environ, timeout=TOOL_TIMEOUT) if toolkit else None
        )
        if isinstance(target, Choice):
            target = _probe_target(target, steps, one_run, step_timeout, pool, environ)
        env = Environment(
            host=probe_host(environ),
            nvidia=nvidia_job.result() if nvidia_job is not None else NvidiaInfo(),
            toolkit=toolkit_job.result() if toolkit_job is not None else ToolkitInfo(),
            target=target,
            overrides=overrides,
        )
    if hosts is not None:  # asked with the target pip's own settings
        network = probe_network(hosts(env), network=env.target.pip_network, environ=environ)
        env = replace(env, network=network)
    return replace(env, probe_seconds=round(time.monotonic() - started, 3))


def _probe_target(
    choice: Choice,
    steps: Sequence[str],
    one_run: bool,
    step_timeout: float,
    pool: Executor,
    environ: Mapping[str, str],
) -> Target:
    executable, how = choice.executable, choice.how  # how: errors name it as it was chosen
    if one_run:
        python, found = probe_in_one_run(
            executable, steps, step_timeout=step_timeout, environ=environ, how=how
        )
        return target_from(executable, how, python, found)
    imports = probe_steps(
        executable, steps, step_timeout=step_timeout, pool=pool, environ=environ, how=how
    )
    python = probe_python(executable, timeout=step_timeout, environ=environ, how=how)
    return target_from(executable, how, python, results(imports))


def collect_machine(
    *,
    environ: Mapping[str, str],
    max_cuda_for_driver: Callable[[str], str | None],
    hosts: Callable[[PipNetwork], Sequence[Host]] | None = None,
) -> MachineFacts:
    """The machine alone, for a bare `check`: NVML, the toolkit and, unless `hosts` is None,
    the download hosts, asked with pip's settings as its PIP_* variables give them (there is no
    target's pip to read its config files from), all at once."""
    started = time.monotonic()
    overrides = parse_overrides(environ)
    network = pip_environment(environ)
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="probe") as pool:
        nvidia = pool.submit(
            probe_nvidia,
            overrides=overrides,
            timeout=TOOL_TIMEOUT,
            max_cuda_for_driver=max_cuda_for_driver,
        )
        toolkit = pool.submit(probe_toolkit, environ=environ, timeout=TOOL_TIMEOUT)
        answers = (
            pool.submit(probe_network, hosts(network), network=network, environ=environ)
            if hosts is not None
            else None
        )
        return MachineFacts(
            host=probe_host(environ),
            nvidia=nvidia.result(),
            toolkit=toolkit.result(),
            overrides=overrides,
            probe_seconds=round(time.monotonic() - started, 3),
            network=answers.result() if answers is not None else None,
        )


def read_target(choice: Choice, *, environ: Mapping[str, str], timeout: float) -> Target:
    """The interpreter's own facts alone (one run of it): for a command that writes to it and
    needs nothing of the machine (rollback)."""
    python = probe_python(choice.executable, timeout=timeout, environ=environ, how=choice.how)
    return target_from(choice.executable, choice.how, python, {})


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
