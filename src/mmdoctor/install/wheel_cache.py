"""Wheels mmdoctor built from source (mmcv, mmcv-full), kept for the next install.

A built mmcv is only good for the torch, CUDA, Python and GPU architectures it was built
against, so all of them are in the key: a wheel is reused only where it was built for.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path


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


def find(root: Path, key: BuildKey) -> Path | None:
    folder = root / key.folder_name
    wheels = sorted(folder.glob("*.whl")) if folder.is_dir() else []
    return wheels[0] if wheels else None


def store(root: Path, key: BuildKey, wheel: Path) -> Path:
    """Copy a freshly built wheel in, atomically: a half-copied wheel is never found."""
    folder = root / key.folder_name
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / wheel.name
    partial = folder / (wheel.name + ".partial")
    shutil.copyfile(wheel, partial)
    os.replace(partial, final)
    (folder / "key.txt").write_text(f"{key}\n", encoding="utf-8")
    return final
