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
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakes.https_server import plain_site, site, tls  # noqa: F401  (fixtures)
from fakes.nvml import build_fake_nvml
from fakes.simple_index import IndexBuildError, SimpleIndex, ensure_index_files
from fakes.standin import standin_index, standins  # noqa: F401  (fixtures)
from fakes.wheels import BROKEN_PACKAGES, EXT_INFO_CRASH_PACKAGES, make_wheel
from hypothesis import settings
from slurm_cluster import NODES, SlurmCluster, missing_tools, set_node

# A test run started as a background job of a non-interactive shell (`cmd &`, as CI scripts
# and `nohup` do) inherits SIGINT ignored, and so would every mmdoctor it starts: exec keeps an
# ignored signal, and Python then installs no KeyboardInterrupt handler. The Ctrl-C tests need
# the children to take SIGINT as a terminal user's Ctrl-C, so the run takes it back here (a
# Python handler is reset to the default in each child on exec).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

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
# The onedl line with onedl-mmcv's PyPI sdist built as pip builds it by default (isolated, no
# torch in sight): the silent "lite" build, no mmcv/_ext. imaug pulls both OpenCVs. Then the
# same with upstream mmengine and mmcv-lite on top: the module clash. About 1.8 GB each.
ONEDL_LITE = [
    *("torch==2.13.0", "onedl-mmengine==0.10.12", "onedl-mmdetection==3.5.1", "onedl-mmcv==2.3.6"),
    *("opencv-python==4.12.0.88", "opencv-python-headless==4.12.0.88"),
]
ONEDL_CLASH = [ONEDL_LITE, ["mmengine==0.10.7", "mmcv-lite==2.2.0"]]
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
def onedl_lite_venv() -> Path:
    return _venv("onedl-lite", ONEDL_LITE)


@pytest.fixture(scope="session")
def onedl_clash_venv() -> Path:
    return _venv("onedl-clash", ONEDL_CLASH)


@pytest.fixture(scope="session")
def cuda_torch_venv() -> Path:
    return _venv("torch-cuda", CUDA_TORCH)


@pytest.fixture(scope="session")
def mmcv_wheel(built_install: tuple[Path, Run]) -> Path:
    """mmcv 2.1.0 built from its sdist against torch 2.13 CPU by the end-to-end install."""
    from installing import cached_mmcv_wheels

    wheels = cached_mmcv_wheels()
    if not wheels:
        run = built_install[1]
        pytest.fail(
            f"the end-to-end install built no mmcv: {run.stdout[-2000:]}{run.stderr[-2000:]}"
        )
    return wheels[0]


@pytest.fixture(scope="session")
def compiled_stack_venv(mmcv_wheel: Path) -> Path:
    """The broken stack, repaired by running exactly the commands `mmdoctor check` advises for
    it. The advice ends in a source build of mmcv 2.1.0; pip is offered the wheel that the
    end-to-end install built from the same sdist (PIP_FIND_LINKS), so it is not built twice."""
    home = _venv("stack-for-repair", STACK)
    repaired = home / ".repaired"
    if repaired.is_file():
        return home
    run = run_mmdoctor("check", "--python", str(home), "--only", "mmdet", "--json")
    finding = next(c for c in run.json()["checks"] if c["id"] == "mmdet.compat")
    assert finding["status"] == "fail", finding
    env = {
        **os.environ,
        "PIP_FIND_LINKS": f"{mmcv_wheel.parent} {os.environ.get('PIP_FIND_LINKS', '')}",
    }
    for command in finding["advice"]["commands"]:
        # The advice is written for a POSIX shell (VAR=value prefixes): run it as a user would.
        subprocess.run(["bash", "-ec", command], check=True, timeout=3600, env=env)
    repaired.write_text("\n".join(finding["advice"]["commands"]) + "\n")
    return home


@pytest.fixture(scope="session")
def built_install(
    local_index: SimpleIndex,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[tuple[Path, Run]]:
    """The end-to-end install with the default installer (mim). Its mmcv 2.1.0 for torch 2.13
    CPU comes from the build cache; on a cold cache, that is the wheel the fleet --wheelhouse
    install built (the same key, put in the cache) where Slurm is here, else this install
    builds it from its PyPI sdist (about 12-20 min on 2 cores). The cache keeps it for later
    installs and the fixtures above."""
    from installing import PLAN, cached_mmcv_wheels, install_environ, sources

    if not cached_mmcv_wheels():  # one build in the session: the cluster's, where it can
        request.getfixturevalue("wheelhouse_build")

    work = tmp_path_factory.mktemp("e2e")
    venv = work / "venv"  # created by mmdoctor
    run = run_mmdoctor(
        "install",
        *PLAN,
        "--venv",
        str(venv),
        "--yes",
        *sources(local_index),
        "--json",
        env=install_environ(work),
        timeout=5400,
    )
    yield venv, run
    shutil.rmtree(venv, ignore_errors=True)  # 5.5 GB; pytest keeps a session's folders


@dataclass
class WheelhouseBuild:
    """`fleet install --wheelhouse` across the three nodes: its run, the wheelhouse, and the
    folder that holds its state and logs (the venvs themselves are gone, 5.5 GB each)."""

    run: Run
    wheelhouse: Path
    work: Path
    frozen: dict[str, str]  # node -> `pip freeze` of its venv, before the venv went


@pytest.fixture(scope="session")
def wheelhouse_build(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> WheelhouseBuild | None:
    """The suite's one build of mmcv 2.1.0 for torch 2.13 CPU, made the way a cluster makes it:
    node1 of the real Slurm builds it into an empty shared wheelhouse, node2 and node3 read it
    (tests/test_fleet_install.py checks that). The wheel then goes into the build cache under
    the same key, so the end-to-end install reuses it instead of building it a second time.
    None without Slurm (the end-to-end install then builds it)."""
    if missing_tools() and not os.environ.get("MMDOCTOR_REQUIRE_SLURM"):
        return None
    from installing import WHEEL_CACHE, cpu_nodes, fleet_install, freeze

    cluster = request.getfixturevalue("cluster")
    lib = request.getfixturevalue("fake_nvml_lib")
    index = request.getfixturevalue("local_index")
    work = tmp_path_factory.mktemp("wheelhouse-install")
    node_dir = work / "nvml-nodes"
    cpu_nodes(node_dir)
    wheelhouse = work / "wheelhouse"
    venvs = work / "local"
    try:
        run = fleet_install(
            cluster, lib, node_dir, venvs / "%n" / "mm", index,
            "--wheelhouse", str(wheelhouse), "--json",
        )  # fmt: skip
        frozen = {n.name: freeze(n / "mm") for n in venvs.glob("*") if (n / "mm").is_dir()}
    finally:  # the logs (state/) stay for the test to read; three venvs of 5.5 GB do not
        shutil.rmtree(venvs, ignore_errors=True)
    for wheel in wheelhouse.rglob("*.whl"):  # the key's folder, as the build cache names it
        cached = WHEEL_CACHE / "wheels" / wheel.parent.name
        if not any(cached.glob("*.whl")):
            cached.mkdir(parents=True, exist_ok=True)
            shutil.copy2(wheel, cached / wheel.name)
    return WheelhouseBuild(run, wheelhouse, work, frozen)


@pytest.fixture(scope="session")
def mim_venv() -> Path:
    return _venv("mim", MIM)


def _fake_venv(
    name: str, packages: dict[tuple[str, str], dict[str, str]], factory: pytest.TempPathFactory
) -> Path:
    """A cached venv holding only these fake packages, as wheels built here."""
    folder = factory.mktemp(f"{name}-wheels")
    wheels = [
        make_wheel(folder, dist, version, files) for (dist, version), files in packages.items()
    ]
    return _venv(name, [], wheels)


@pytest.fixture(scope="session")
def broken_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _fake_venv("broken", BROKEN_PACKAGES, tmp_path_factory)


@pytest.fixture(scope="session")
def ext_info_crash_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _fake_venv("ext-info-crash", EXT_INFO_CRASH_PACKAGES, tmp_path_factory)


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
    # check asks the download hosts only in the tests of that (test_network.py): elsewhere an
    # answer from PyPI is not what a test is about
    full_env.setdefault("MMDOCTOR_OFFLINE", "1")
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


# --- a local package index ------------------------------------------------------------------

INDEX_FILES = REPO / ".cache" / "test-index" / "files"


@pytest.fixture(scope="session")
def index_files() -> Path:
    """Real wheels and sdists for the whole install stack (torch 2.13.0 CPU, torchvision, openmim,
    mmengine, mmdet, the mmcv 2.1.0 sdist, ensurepip's pip and setuptools), fetched once with
    real `pip download` runs (about 400 MB) and reused until the spec changes."""
    try:
        return ensure_index_files(INDEX_FILES, sys.executable)
    except IndexBuildError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def local_index(index_files: Path) -> Iterator[SimpleIndex]:
    """A PEP 503 index over `index_files` on 127.0.0.1: pass `.url` as --index-url."""
    with SimpleIndex(index_files) as served:
        yield served


@pytest.fixture
def index(local_index: SimpleIndex) -> Iterator[SimpleIndex]:
    """The session's index with no faults and an empty request log, left that way after."""
    local_index.clear_faults()
    local_index.clear_requests()
    yield local_index
    local_index.clear_faults()
    local_index.clear_requests()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything that needs the mmcv built by the end-to-end install is `e2e`, so that
    `pytest -m "not e2e"` is the fast suite."""
    needs_build = {"built_install", "mmcv_wheel", "compiled_stack_venv", "wheelhouse_build"}
    for item in items:
        if needs_build & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)


PASSED_TMP_PATH = pytest.StashKey[Path]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Iterator[pytest.TestReport]:
    """A passed test's tmp_path goes as soon as its fixtures are torn down: installs leave venvs
    of 5.5 GB (PyPI's CUDA torch), and pytest would keep every one until the session ends,
    which once filled a CI machine's disk. A failed test's folder stays, to be read."""
    report = yield
    funcargs = getattr(item, "funcargs", {})
    if report.when == "call" and report.passed and "tmp_path" in funcargs:
        item.stash[PASSED_TMP_PATH] = funcargs["tmp_path"]
    elif report.when == "teardown" and PASSED_TMP_PATH in item.stash:
        shutil.rmtree(item.stash[PASSED_TMP_PATH], ignore_errors=True)
    return report


def pytest_report_header() -> str:
    # Out of disk, the suite fails in set-up with ENOSPC far from the cause: say it up front.
    free = shutil.disk_usage(CACHE.parent if CACHE.parent.exists() else REPO).free / 2**30
    return f"mmdoctor: {free:.0f} GiB free for the test environments (a first run's peak: about 30)"


# --- a real Slurm cluster (tests/slurm_cluster.py), for the fleet tests ---------------------


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    """Three nodes, started once; stopped at the end, every daemon by its pid."""
    missing = missing_tools()
    if missing:
        message = f"a real Slurm needs {', '.join(missing)} (.ci/run installs slurm-wlm, munge)"
        if os.environ.get("MMDOCTOR_REQUIRE_SLURM"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    running = SlurmCluster(tmp_path_factory.mktemp("slurm"), NODES)
    try:
        running.start()
        yield running
    finally:
        running.stop()
    time.sleep(0.5)
    assert running.stray_processes() == []


@pytest.fixture
def node_dir(tmp_path: Path, cluster: SlurmCluster) -> Iterator[Path]:
    """Every node: driver 580.95.05, two H100s; a test rewrites the files it needs. Nodes a
    test took down are resumed after it."""
    folder = tmp_path / "nvml-nodes"
    for node in NODES:
        set_node(folder, node)
    yield folder
    for node in NODES:
        subprocess.run(
            ["scontrol", "update", f"nodename={node}", "state=resume"],
            env=cluster.env,
            capture_output=True,
            timeout=30,
            check=False,
        )
    cluster.wait_idle(NODES)
