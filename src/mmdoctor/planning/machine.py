"""The machine a plan is for: probed here, or described by what-if values, or both.

Also the validation of the values users type (`--cuda 11.6`, `--gpu-cc 8.6`, ...): a bad one is
a one-line `UsageError` (exit 2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import Version

from mmdoctor.environment import TMP_DISK, DiskSpace, HostInfo
from mmdoctor.errors import UsageError
from mmdoctor.planning.matrix import Matrix
from mmdoctor.planning.resolver import Machine, Wishes, resolve_input_check

if TYPE_CHECKING:
    from mmdoctor.planning.plan import Sources

_MINOR = re.compile(r"^\d+\.\d+$")
_CUDA = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.\d+)?$")  # 13, 12.1, 12.1.1: major.minor is meant
_DRIVER = re.compile(r"^\d+(\.\d+){0,2}$")  # 535 alone: the R535 branch, its first release
_TORCH = re.compile(r"^\d+\.\d+(\.\d+)?$")
_MMDET = re.compile(r"^(2|3|\d+\.\d+(\.\d+)?)$")  # 3.3: the newest 3.3.x
OS_NAMES = ("linux", "windows", "darwin")
ARCH_NAMES = ("x86_64", "aarch64")


def parse_cuda(text: str) -> Version:
    found = _CUDA.match(text)
    if not found:
        raise UsageError(f"--cuda {text!r}: expected a CUDA version such as 11.6")
    return Version(f"{found[1]}.{found[2] or 0}")


def parse_cc(text: str) -> Version:
    if not _MINOR.match(text):
        raise UsageError(f"--gpu-cc {text!r}: expected a compute capability such as 8.6")
    return Version(text)


def parse_driver(text: str) -> Version:
    if not _DRIVER.match(text):
        raise UsageError(f"--driver {text!r}: expected a driver version such as 535.104.05")
    from mmdoctor.planning.matrix import DriverVersion

    return DriverVersion(text if "." in text else f"{text}.0")


def parse_python_version(text: str) -> Version:
    found = re.match(r"^(3\.\d+)(\.\d+)?$", text)  # 3.10.2 means 3.10
    if not found or Version(found[1]) < Version("3.7"):
        raise UsageError(
            f"--python-version {text!r}: expected a Python version such as 3.10 (3.7 or newer)"
        )
    return Version(found[1])


def parse_torch(text: str) -> Version:
    if not _TORCH.match(text):
        raise UsageError(f"--torch {text!r}: expected a torch version such as 2.1 or 2.1.2")
    return Version(text)  # whether the matrix knows it: resolve_input_check


def parse_mmdet(text: str, matrix: Matrix) -> str:
    known = [str(r.version) for r in matrix.mmdet_releases]
    minors = {v.rsplit(".", 1)[0] for v in known}
    if not _MMDET.match(text) or (text not in ("2", "3", *minors) and text not in known):
        raise UsageError(f"--mmdet {text!r}: expected 2, 3 or one of {', '.join(known)}")
    return text


def parse_os(text: str) -> str:
    if text not in OS_NAMES:
        raise UsageError(f"--os {text!r}: expected one of {', '.join(OS_NAMES)}")
    return text


def parse_arch(text: str) -> str:
    from mmdoctor.environment import normal_arch

    arch = normal_arch(text)
    if arch not in ARCH_NAMES:
        raise UsageError(f"--arch {text!r}: expected one of {', '.join(ARCH_NAMES)}")
    return arch


def platform_for(matrix: Matrix, os: str, arch: str, *, what_if: bool) -> None:
    """A what-if OS and CPU pair the matrix has no torch for is bad input (exit 2); a probed
    one is a fact, which the resolver turns into 'no plan' with the reason."""
    if what_if and matrix.platform(os, arch) is None:
        raise UsageError(
            f"--os {os} --arch {arch}: the matrix knows no torch there ({matrix.platform_names()})"
        )


def make_wishes(
    matrix: Matrix,
    *,
    cuda: str | None,
    cpu: bool,
    torch: str | None,
    mmdet: str | None,
    allow_source_build: bool,
    line: str | None = None,
    torch_source: str = "pytorch",
) -> Wishes:
    if cuda and cpu:
        raise UsageError("--cuda and --cpu exclude each other")
    wishes = Wishes(
        cuda=parse_cuda(cuda) if cuda else None,
        cpu=cpu,
        torch=parse_torch(torch) if torch else None,
        mmdet=parse_mmdet(mmdet, matrix) if mmdet else None,
        allow_source_build=allow_source_build,
        line=line,
        torch_source=torch_source,
    )
    resolve_input_check(wishes, matrix)  # e.g. a --cuda no torch is built for
    return wishes


@dataclass(frozen=True)
class PlanningContext:
    """A Machine for the resolver, plus what the plan's steps need (interpreter, host)."""

    machine: Machine
    executable: str
    host: HostInfo
    gcc: Version | None
    sources: Mapping[str, str]  # fact -> where it came from ("--driver", "NVML", ...)


def gather(
    matrix: Matrix,
    *,
    python: str | None,
    environ: Mapping[str, str],
    driver: str | None,
    gpu_cc: Sequence[str],
    python_version: str | None,
    os_name: str | None,
    timeout: float,
    arch: str | None = None,
    builds_here: bool = True,
) -> PlanningContext:
    """Probe only what the what-if values leave open. Not `builds_here` (a dry run for the
    machine the what-ifs describe): this machine's nvcc and gcc say nothing about it."""
    from mmdoctor.probe.collect import TOOL_TIMEOUT, probe_host
    from mmdoctor.probe.inside import probe_python
    from mmdoctor.probe.interpreter import resolve_interpreter
    from mmdoctor.probe.nvidia import parse_overrides, probe_nvidia
    from mmdoctor.probe.toolkit import probe_toolkit

    sources: dict[str, str] = {}
    how = ""
    host = probe_host()
    # What-if values are checked before anything is probed: bad input is exit 2 first.
    os = parse_os(os_name) if os_name else host.os
    cpu = parse_arch(arch) if arch else host.arch
    platform_for(matrix, os, cpu, what_if=bool(os_name or arch))
    wanted_driver = parse_driver(driver) if driver else None
    wanted_ccs = tuple(parse_cc(cc) for cc in gpu_cc)
    wanted_python = parse_python_version(python_version) if python_version else None
    if python is None and python_version:  # a plan for another machine: its own `python`
        executable = "python"
    else:
        executable, how = resolve_interpreter(python, environ)
    headers: bool | None = None
    if wanted_python is not None:
        py = wanted_python
        sources["python"] = "--python-version"
    else:
        facts = probe_python(executable, timeout=timeout, environ=environ)
        if not any(d.get("key") == "pip" for d in facts.get("distributions") or ()):
            from mmdoctor.install.destination import no_pip

            raise no_pip(executable)  # every step would run its pip
        version = Version(str(facts["version"]))
        py = Version(f"{version.major}.{version.minor}")
        headers = facts.get("has_python_h")
        sources["python"] = f"{executable} ({how})"
    if wanted_driver is not None:
        drv: Version | None = wanted_driver
        ccs = wanted_ccs
        sources["driver"] = "--driver"
        sources["gpus"] = "--gpu-cc" if wanted_ccs else "none given"
    else:
        overrides = parse_overrides(environ)
        nvidia = probe_nvidia(
            overrides=overrides,
            timeout=TOOL_TIMEOUT,
            max_cuda_for_driver=matrix.max_cuda_for_driver,
        )
        drv = parse_driver(nvidia.driver_version) if nvidia.driver_version else None
        ccs = wanted_ccs or tuple(
            Version(g.compute_capability) for g in nvidia.gpus if _MINOR.match(g.compute_capability)
        )
        sources["driver"] = nvidia.source or "none found"
        sources["gpus"] = "--gpu-cc" if wanted_ccs else (nvidia.source or "none found")
    toolkit = probe_toolkit(environ=environ, timeout=TOOL_TIMEOUT) if builds_here else None
    if toolkit is None:
        sources["nvcc"] = "not probed: the plan is for another machine"
    return PlanningContext(
        machine=Machine(
            os=os,
            arch=cpu,
            python=py,
            driver=drv,
            gpu_ccs=ccs,
            nvcc=Version(toolkit.nvcc_version) if toolkit and toolkit.nvcc_version else None,
            toolchain_known=toolkit is not None,
            # this machine's C library, headers and disk, unless the plan is for another
            glibc=Version(host.glibc) if host.glibc and toolkit is not None else None,
            python_headers=headers if toolkit is not None else None,
            build_tmp_free=_free(host.disk(TMP_DISK)) if toolkit is not None else None,
        ),
        executable=executable,
        host=host,
        gcc=Version(toolkit.gcc_version) if toolkit and toolkit.gcc_version else None,
        sources=sources,
    )


def _free(disk: DiskSpace | None) -> int | None:
    return disk.free_bytes if disk is not None else None


def make_sources(
    *,
    installer: str,
    index_url: str | None,
    torch_index_url: str | None,
    mmcv_base_url: str | None,
    find_links: Sequence[str],
) -> Sources:
    """Validate --installer and the mirrors. Plain http is refused except to this machine:
    packages are code, and pip would run them."""
    import shutil

    from mmdoctor.planning.plan import INSTALLERS, Sources

    if installer not in INSTALLERS:
        raise UsageError(f"--installer {installer!r}: expected one of {', '.join(INSTALLERS)}")
    if installer == "uv" and shutil.which("uv") is None:
        raise UsageError(
            "--installer uv: no uv on PATH (install it, or put the folder that holds it on "
            "PATH), or use mim or pip"
        )
    for option, url in (
        ("--index-url", index_url),
        ("--torch-index-url", torch_index_url),
        ("--mmcv-base-url", mmcv_base_url),
    ):
        if url is not None:
            _check_url(option, url)
    for link in find_links:
        if "://" in link:
            _check_url("--find-links", link)
        elif not Path(link).expanduser().is_dir():
            raise UsageError(f"--find-links {link}: not a folder or a URL")
    return Sources(
        index_url=index_url,
        torch_index_url=torch_index_url,
        find_links=tuple(
            link if "://" in link else str(Path(link).expanduser().absolute())
            for link in find_links
        ),
        mmcv_base_url=mmcv_base_url,
    )


def _check_url(option: str, url: str) -> None:
    from urllib.parse import urlsplit

    from mmdoctor.redact import redact_credentials

    parts = urlsplit(url)
    shown = redact_credentials(url)
    if parts.scheme not in ("https", "http", "file") or (
        parts.scheme != "file" and not parts.hostname
    ):
        raise UsageError(f"{option} {shown}: expected an https:// URL")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise UsageError(
            f"{option} {shown}: plain http is only accepted for this machine; use https"
        )
