"""Where pip took each package from, read from pip's own output (issue 13: the torch step said
"from the PyTorch cpu index" while pip's configuration took torch from a find-links folder)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fakes.wheels import make_wheel

from mmdoctor.install.origins import PYPI, origins, origins_note, requested

# pip 23-25's lines, as an install through a find-links folder, a mirror and PyPI prints them
OUTPUT = """\
Looking in indexes: https://download.pytorch.org/whl/cpu
Looking in links: /opt/wheels
Processing /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl
Collecting torchvision==0.28.0
  Downloading https://mirror.example:8443/whl/cpu/torchvision-0.28.0%2Bcpu-cp311-cp311-manylinux_2_28_x86_64.whl (1.9 MB)
Collecting filelock (from torch==2.13.0)
  Downloading filelock-3.20.0-py3-none-any.whl (16 kB)
Collecting onedl-mmcv==2.3.6
  Using cached onedl_mmcv-2.3.6.tar.gz (1.4 MB)
"""


def test_each_file_names_its_source() -> None:
    found = origins(OUTPUT)
    assert found["torch"] == ("2.13.0+cpu", "/opt/wheels")
    assert found["torchvision"] == ("0.28.0%2Bcpu", "https://mirror.example:8443/whl/cpu")
    assert found["filelock"] == ("3.20.0", PYPI)
    assert found["onedl-mmcv"] == ("2.3.6", "pip's cache")


def test_the_note_names_what_the_step_asked_for() -> None:
    argv = ["/v/bin/python", "-m", "pip", "install", "torch==2.13.0", "torchvision==0.28.0"]
    assert requested(argv) == ["torch", "torchvision"]
    note = origins_note(OUTPUT, requested(argv))
    assert note.startswith("came from: torch 2.13.0+cpu from /opt/wheels; torchvision 0.28.0")
    assert "filelock" not in note
    assert origins_note("Requirement already satisfied: torch\n", ["torch"]) == ""


def test_a_real_pip_install_from_a_local_folder(tmp_path: Path) -> None:
    """The real pip of this interpreter, a find-links folder: the note says the folder,
    whatever pip's version prints around it."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "origin-probe", "1.2.3", {"origin_probe.py": ""})
    argv = [sys.executable, "-m", "pip", "install", "--no-index", "--find-links", str(wheels),
            "--target", str(tmp_path / "target"), "origin-probe==1.2.3"]  # fmt: skip
    run = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=300)
    note = origins_note(run.stdout, requested(argv))
    assert note == f"came from: origin-probe 1.2.3 from {wheels}", run.stdout
