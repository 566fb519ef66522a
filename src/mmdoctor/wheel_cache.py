"""Wheels mmdoctor built from source (mmcv, mmcv-full), kept for the next install.

A built mmcv is only good for the torch, CUDA, Python and GPU architectures it was built
against, so all of them are in the key: a wheel is reused only where it was built for. The
plan names the key's folder, and its build step writes there with `pip wheel --wheel-dir`.
"""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mmdoctor import paths


@dataclass(frozen=True)
class BuildKey:
    package: str
    version: str
    torch: str  # torch.__version__ in the target, local tag included: "2.13.0+cpu"
    cuda: str  # torch.version.cuda, or "cpu"
    python_tag: str  # "cp311"
    arch_list: str  # TORCH_CUDA_ARCH_LIST, "" for a CPU build

    @property
    def folder_name(self) -> str:
        readable = f"{self.package}-{self.version}-torch{self.torch}-{self.cuda}-{self.python_tag}"
        digest = hashlib.sha256(repr(self).encode()).hexdigest()[:10]
        return re.sub(r"[^A-Za-z0-9.+_-]", "_", readable) + f"-{digest}"


def folder(key: BuildKey, environ: Mapping[str, str] = os.environ) -> Path:
    """Where the wheel built for `key` lives: the plan's build step writes it there."""
    return paths.wheel_cache_dir(environ) / key.folder_name


def source_folder(key: BuildKey, environ: Mapping[str, str] = os.environ) -> Path:
    """Where the sdist for `key` is downloaded and unpacked when the build must change it."""
    return paths.source_build_dir(environ) / key.folder_name


def sdist_stem(package: str, version: str) -> str:
    """The sdist's name on PyPI without .tar.gz, which is also the folder it unpacks to: the
    OpenMMLab releases predate PEP 625 (mmcv-full-1.7.2), the onedl ones follow it
    (onedl_mmcv-2.3.6)."""
    name = package.replace("-", "_") if package.startswith("onedl-") else package
    return f"{name}-{version}"


def sdist_filename(package: str, version: str) -> str:
    return f"{sdist_stem(package, version)}.tar.gz"


def cached_wheel(wheelhouse: Path) -> Path | None:
    """A wheel a finished build left in its folder (pip writes it only once it is built)."""
    wheels = sorted(wheelhouse.glob("*.whl")) if wheelhouse.is_dir() else []
    return wheels[0] if wheels else None


def has_compiled_ops(wheel: Path, package_dir: str = "mmcv") -> bool:
    """Whether an mmcv wheel holds its compiled ops (mmcv/_ext*.so or .pyd): a build that
    silently skipped them makes a pure-Python wheel that only fails at run time."""
    with zipfile.ZipFile(wheel) as archive:
        return any(
            name.startswith(f"{package_dir}/_ext") and name.endswith((".so", ".pyd"))
            for name in archive.namelist()
        )
