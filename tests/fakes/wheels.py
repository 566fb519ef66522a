"""Build small but valid wheels of deliberately broken packages, installed with real pip."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def make_wheel(dest: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A py3-none-any wheel of `name` holding `files` (path -> source text)."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    contents = dict(files)
    contents[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: mmdoctor test fake\n"
    )
    contents[f"{info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: mmdoctor-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record_lines = []
    wheel = dest / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in contents.items():
            data = text.encode()
            archive.writestr(path, data)
            record_lines.append(f"{path},{_record_hash(data)},{len(data)}")
        record_lines.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(record_lines) + "\n")
    return wheel


# Packages whose import misbehaves the way real broken installs do.
BROKEN_PACKAGES = {
    # mmcv imports, but loading its compiled ops kills the interpreter (a bad _ext.so does this).
    ("mmcv", "2.1.0"): {
        "mmcv/__init__.py": "__version__ = '2.1.0'\n",
        "mmcv/_ext.py": "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n",
        "mmcv/ops/__init__.py": "from mmcv._ext import *  # noqa\n",
    },
    # mmengine's import never returns.
    ("mmengine", "0.10.7"): {
        "mmengine/__init__.py": "import time\n__version__ = '0.10.7'\ntime.sleep(3600)\n",
    },
    # Two OpenCV distributions, and the desktop one cannot find libGL.
    ("opencv-python", "4.9.0.80"): {
        "cv2/__init__.py": (
            "raise ImportError('libGL.so.1: cannot open shared object file: "
            "No such file or directory')\n"
        ),
    },
    ("opencv-python-headless", "4.9.0.80"): {"cv2_headless_marker.py": ""},
}


# mmcv whose ops load but whose build-info call kills the interpreter, as an mmcv 2.1.0 build
# against torch 2.11.0+cu130 did on an H200 (docs/gpu-run.md).
EXT_INFO_CRASH_PACKAGES = {
    ("mmcv", "2.1.0"): {
        "mmcv/__init__.py": "__version__ = '2.1.0'\n",
        "mmcv/_ext.py": (
            "import os, signal\n\n\ndef nms(*args):\n    return []\n\n\n"
            "def get_compiling_cuda_version():\n    os.kill(os.getpid(), signal.SIGSEGV)\n\n\n"
            "def get_compiler_version():\n    return 'GCC 13.3'\n"
        ),
    },
}
