"""A small package index for install's fault tests: the real build tools (setuptools 80.9.0,
wheel, ninja, psutil, packaging: copied from the local index, so pip really swaps a venv's
setuptools 65.5.0 for them) and stand-ins, built here, for what would take gigabytes: torch and
torchvision that answer install's torch check, openmim, mmengine, mmdet, and an mmcv 2.1.0
sdist whose build writes an `mmcv/_ext` and takes as long as $STANDIN_BUILD_SECONDS says.

The plan of tests/installing.py (`--cpu --torch-source pypi --torch 2.13.0 --mmdet 3 --line
openmmlab --allow-source-build`) runs its first nine steps against it in seconds; the final
check then finds the stand-ins wanting, which is a failure like any other.
"""

from __future__ import annotations

import io
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.simple_index import SimpleIndex
from fakes.wheels import make_wheel

# The real wheels step 1 installs (`setuptools==80.9.0 wheel ninja psutil 'packaging>=24.2'`).
REAL_WHEELS = ("setuptools-80.9.0-", "wheel-", "ninja-", "psutil-", "packaging-")

TORCH = {
    "torch/__init__.py": (
        "from torch import version\n"
        "__version__ = version.__version__\n\n\n"
        "class Tensor(list):\n"
        "    def tolist(self):\n"
        "        return list(self)\n\n\n"
        "def tensor(data):\n"
        "    return Tensor(data)\n"
    ),
    # read with `ast` by install's build step, imported by its torch check
    "torch/version.py": "__version__ = '2.13.0'\ncuda = '13.0'\n",
}
TORCHVISION = {
    "torchvision/__init__.py": "__version__ = '0.28.0'\n",
    "torchvision/ops.py": (
        "import torch\n\n\ndef nms(boxes, scores, threshold):\n    return torch.Tensor([0, 2])\n"
    ),
}
STANDINS = {
    ("torch", "2.13.0"): TORCH,
    ("torchvision", "0.28.0"): TORCHVISION,
    ("openmim", "0.3.9"): {"mim/__init__.py": "__version__ = '0.3.9'\n"},
    ("mmengine", "0.10.7"): {"mmengine/__init__.py": "__version__ = '0.10.7'\n"},
    ("mmdet", "3.3.0"): {"mmdet/__init__.py": "__version__ = '3.3.0'\n"},
}

MMCV_SETUP = """\
import os
import sys
import time

from setuptools import setup

if "bdist_wheel" in sys.argv:  # the build itself, not pip's metadata calls
    time.sleep(float(os.environ.get("STANDIN_BUILD_SECONDS") or 0))
setup(
    name="mmcv",
    version="2.1.0",
    packages=["mmcv"],
    package_data={"mmcv": ["_ext.cpython-311-x86_64-linux-gnu.so"]},
)
"""


def mmcv_sdist(dest: Path) -> Path:
    """mmcv-2.1.0.tar.gz: a setup.py project whose wheel holds mmcv/_ext*.so (not a real
    library: install's build step only looks for the file)."""
    files = {
        "PKG-INFO": "Metadata-Version: 2.1\nName: mmcv\nVersion: 2.1.0\n",
        "setup.py": MMCV_SETUP,
        "mmcv/__init__.py": "__version__ = '2.1.0'\n",
        "mmcv/_ext.cpython-311-x86_64-linux-gnu.so": "not a library\n",
    }
    sdist = dest / "mmcv-2.1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"mmcv-2.1.0/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return sdist


def standin_files(dest: Path, real: Path) -> Path:
    """Fill `dest` with the real build tools from `real` (the local index's files) and the
    stand-ins."""
    dest.mkdir(parents=True, exist_ok=True)
    for file in real.iterdir():
        if file.name.startswith(REAL_WHEELS) and file.name.endswith(".whl"):
            shutil.copy2(file, dest / file.name)
    for (name, version), files in STANDINS.items():
        make_wheel(dest, name, version, files)
    mmcv_sdist(dest)
    return dest


@pytest.fixture(scope="session")
def standin_index(
    index_files: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimpleIndex]:
    """The stand-in index on 127.0.0.1 (re-exported by tests/conftest.py)."""
    folder = standin_files(tmp_path_factory.mktemp("standin-index"), index_files)
    with SimpleIndex(folder) as served:
        yield served


@pytest.fixture
def standins(standin_index: SimpleIndex) -> Iterator[SimpleIndex]:
    """The stand-in index with no faults, left that way."""
    standin_index.clear_faults()
    yield standin_index
    standin_index.clear_faults()
