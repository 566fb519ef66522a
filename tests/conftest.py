"""Shared fixtures: real virtual environments built once per cache, and a CLI runner.

The environments are real: `python -m venv` and real pip installs (torch 2.13.0 CPU from this
machine's wheel folder, the rest from PyPI). They are cached under .cache/test-envs (or
$MMDOCTOR_TEST_CACHE) and reused until their spec changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakes.https_server import plain_site, site, tls  # noqa: F401  (fixtures)
from fakes.nvml import build_fake_nvml
from fakes.wheels import BROKEN_PACKAGES, make_wheel
from hypothesis import settings

# In CI the property tests replay the same examples every run, so a landing never depends on
# luck; locally they explore new ones each time.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("MMDOCTOR_TEST_CACHE", REPO / ".cache" / "test-envs"))
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)

# What each cached environment holds. Changing a spec rebuilds that environment.
TORCH_CPU = ["torch==2.13.0", "numpy==2.4.6"]
STACK = [*TORCH_CPU, "mmdet==3.3.0", "mmengine==0.10.7", "mmcv-lite==2.2.0"]
CUDA_TORCH = ["torch==2.14.1", "torchvision==0.29.1"]  # a CUDA 13.0 build, about 5.5 GB
# openmim pulls openxlab, which pins setuptools~=60.2.0; a later upgrade (what `pip install torch`
# does) leaves setuptools without pkg_resources and mim broken: two steps, as users do it.
MIM = [["openmim==0.3.9"], ["setuptools==84.2.1"]]


def _pip(python: Path, *args: str) -> None:
    subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=1800,
    )


def _venv(
    name: str, requirements: Sequence[str] | Sequence[Sequence[str]], wheels: Sequence[Path] = ()
) -> Path:
    """A cached venv; `requirements` is one pip install, or a list of them run in order."""
    key = hashlib.sha256(
        json.dumps([BASE_PYTHON, list(requirements), [w.name for w in wheels]]).encode()
    ).hexdigest()[:12]
    home = CACHE / f"{name}-{key}"
    ready = home / ".ready"
    if ready.is_file():
        return home
    shutil.rmtree(home, ignore_errors=True)
    subprocess.run([BASE_PYTHON, "-m", "venv", str(home)], check=True, timeout=300)
    python = home / "bin" / "python"
    steps = [requirements] if requirements and isinstance(requirements[0], str) else requirements
    for step in steps:
        _pip(python, "install", *step)
    if wheels:
        _pip(python, "install", "--no-deps", "--no-index", *map(str, wheels))
    ready.write_text("ok\n")
    return home


@pytest.fixture(scope="session")
def bare_venv() -> Path:
    return _venv("bare", [])


@pytest.fixture(scope="session")
def torch_venv() -> Path:
    return _venv("torch-cpu", TORCH_CPU)


@pytest.fixture(scope="session")
def stack_venv() -> Path:
    return _venv("stack", STACK)


@pytest.fixture(scope="session")
def cuda_torch_venv() -> Path:
    return _venv("torch-cuda", CUDA_TORCH)


@pytest.fixture(scope="session")
def compiled_stack_venv() -> Path:
    """The broken stack, repaired by running exactly the commands `mmdoctor check` advises for
    it: a real source build of mmcv 2.1.0 against torch 2.13 CPU (about 12 minutes, once)."""
    home = _venv("stack-for-repair", STACK)
    repaired = home / ".repaired"
    if repaired.is_file():
        return home
    run = run_mmdoctor("check", "--python", str(home), "--only", "mmdet", "--json")
    finding = next(c for c in run.json()["checks"] if c["id"] == "mmdet.compat")
    assert finding["status"] == "fail", finding
    for command in finding["advice"]["commands"]:
        # The advice is written for a POSIX shell (VAR=value prefixes): run it as a user would.
        subprocess.run(["bash", "-ec", command], check=True, timeout=3600)
    repaired.write_text("\n".join(finding["advice"]["commands"]) + "\n")
    return home


@pytest.fixture(scope="session")
def mim_venv() -> Path:
    return _venv("mim", MIM)


@pytest.fixture(scope="session")
def broken_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("broken-wheels")
    wheels = [
        make_wheel(folder, name, version, files)
        for (name, version), files in BROKEN_PACKAGES.items()
    ]
    return _venv("broken", [], wheels)


@pytest.fixture(scope="session")
def fake_nvml_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not sys.platform.startswith("linux") or shutil.which("gcc") is None:
        pytest.skip("the stand-in libnvidia-ml.so.1 needs Linux and gcc")
    return build_fake_nvml(tmp_path_factory.mktemp("fake-nvml"))


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


def run_mmdoctor(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300, cwd: Path | None = None
) -> Run:
    """The real CLI in a subprocess, as a user or a script runs it."""
    full_env = dict(os.environ if env is None else env)
    full_env.setdefault("NO_COLOR", "1")
    for variable in ("MMDOCTOR_DRIVER_VERSION", "MMDOCTOR_GPU_CC", "VIRTUAL_ENV", "CONDA_PREFIX"):
        if env is None or variable not in env:
            full_env.pop(variable, None)
    src = str(REPO / "src")
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (src, full_env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "mmdoctor", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def mmdoctor():
    return run_mmdoctor
