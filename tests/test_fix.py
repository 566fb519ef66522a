"""`mmdoctor fix` for real: broken venvs built with real pip, fixed by carrying out check's own
advice, checked again, and rolled back when the fix does not hold."""

from __future__ import annotations

import http.server
import os
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import pytest
import yaml
from conftest import REPO, STACK, Run, run_mmdoctor
from installing import freeze, make_venv

from mmdoctor.checks.model import Advice, CheckResult, Status
from mmdoctor.fix import plan_fixes
from mmdoctor.planning.matrix import load_matrix

pytestmark = pytest.mark.slow


def pip(venv: Path, *args: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def runs(venv: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, timeout=300
    )


def state_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This machine's environment (its pip settings included), with mmdoctor's state in tmp."""
    return {**os.environ, "MMDOCTOR_STATE_DIR": str(tmp_path / "state"), **extra}


def fix(venv: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    return run_mmdoctor(
        "fix",
        "--python",
        str(venv),
        "--cpu-only",
        "--yes",
        "--json",
        *args,
        env=env or state_env(venv.parent),
        timeout=3600,
    )


def test_setuptools_82_with_openmim_is_fixed_and_mim_starts_again(tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "venv")
    pip(venv, "install", "openmim==0.3.9")
    pip(venv, "install", "setuptools==84.2.1")  # what a later `pip install torch` does
    assert runs(venv, "import mim").returncode != 0

    run = fix(venv, "--only", "pkg-resources-removed-mim")
    assert run.returncode == 0, run.stdout + run.stderr
    doc = run.json()
    assert doc["status"] == "fixed"
    assert [f["id"] for f in doc["plan"]["fixing"]] == ["setuptools.window"]
    mim = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "mim", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert mim.returncode == 0, mim.stderr
    assert "setuptools==80.9.0" in freeze(venv, "--all").splitlines()


def numpy2_venv(folder: Path) -> Path:
    """NumPy 2 under an OpenCV wheel compiled for NumPy 1.x (opencv 4.9, which mmcv pulls in
    on older stacks): `import cv2` fails."""
    venv = make_venv(folder)
    pip(venv, "install", "opencv-python-headless==4.9.0.80", "numpy==2.4.6")
    assert runs(venv, "import cv2").returncode != 0
    return venv


def test_numpy2_under_a_numpy1_build_is_fixed(tmp_path: Path) -> None:
    venv = numpy2_venv(tmp_path / "venv")
    dry = run_mmdoctor("fix", "--python", str(venv), "--cpu-only", "--dry-run", "--only", "numpy")
    assert dry.returncode == 0 and "pip install 'numpy<2'" in dry.stdout, dry.stdout
    assert runs(venv, "import numpy; print(numpy.__version__)").stdout.startswith("2.")

    run = fix(venv, "--only", "numpy.abi")
    assert run.returncode == 0, run.stdout + run.stderr
    assert runs(venv, "import cv2, numpy; assert numpy.__version__ < '2'").returncode == 0


def test_a_fix_that_cannot_apply_is_rolled_back(tmp_path: Path) -> None:
    venv = numpy2_venv(tmp_path / "venv")
    before, before_all = freeze(venv), freeze(venv, "--all")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("numpy>=2\n")  # the user's own pin wins over the fix
    env = state_env(tmp_path, PIP_CONSTRAINT=str(constraints))
    run = fix(venv, "--only", "numpy.abi", env=env)
    assert run.returncode == 3, run.stdout + run.stderr
    doc = run.json()
    assert doc["status"] == "rolled-back" and doc["restore"]["ok"] is True
    assert freeze(venv) == before and freeze(venv, "--all") == before_all


def test_nothing_to_fix_and_bad_ids(tmp_path: Path, bare_venv: Path) -> None:
    run = run_mmdoctor("fix", "--python", str(bare_venv), "--only", "no-such-thing", "--yes")
    assert run.returncode == 2 and "no such check or known failure" in run.stderr
    run = run_mmdoctor("fix", "--python", str(bare_venv), "--only", "numpy", "--yes", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.json()["status"] == "nothing-to-fix"
    run = run_mmdoctor("fix", "--python", str(bare_venv))
    assert run.returncode == 2 and "no terminal to ask on" in run.stderr


def _result(check_id: str, status: Status, *commands: str) -> CheckResult:
    advice = Advice("do this:", commands) if commands else None
    return CheckResult(check_id, check_id, status, f"{check_id} is off", advice=advice)


def test_a_warning_is_fixed_when_named_and_unfixable_failures_are_listed() -> None:
    # issue 13.10: `fix --only setuptools` said "nothing to fix" beside check's Fix command for
    # that warning, and a failure without a command vanished from the plan
    python = "/venv/bin/python"
    results = [
        _result("setuptools.window", Status.WARN, f"{python} -m pip install setuptools==80.9.0"),
        _result("mmcv.ops", Status.FAIL),  # no command fixes it
        _result("torch.import", Status.CRASH),
    ]
    matrix = load_matrix(None)
    everything, _ = plan_fixes(results, python, [], matrix, lambda focus: None)
    assert not everything.fixing  # warnings only when asked for by name
    assert everything.manual == (
        "mmcv.ops: no command fixes this; `mmdoctor check` says why",
        "torch.import: no command fixes this; `mmdoctor check` says why",
    )
    named, _ = plan_fixes(results, python, ["setuptools"], matrix, lambda focus: None)
    assert [r.id for r in named.fixing] == ["setuptools.window"]
    assert named.steps[0].argv == (python, "-m", "pip", "install", "setuptools==80.9.0")
    assert named.steps[-1].kind == "check" and not named.manual


def test_fix_dry_run_says_so_and_exits_1_when_something_is_left(bare_venv: Path) -> None:
    run = run_mmdoctor("fix", "--python", str(bare_venv), "--dry-run", "--cpu-only")
    assert run.returncode == 0 and "Dry run: nothing was changed." in run.stdout, run.stdout
    # no NVIDIA driver on a box meant for the GPU: listed for the user, and exit 1
    left = run_mmdoctor("fix", "--python", str(bare_venv), "--dry-run", "--json")
    assert left.returncode == 1, left.stdout
    assert any(line.startswith("nvidia.driver: ") for line in left.json()["plan"]["manual"])


# --- with the mmcv built by the end-to-end install -------------------------------------------


@pytest.mark.e2e
def test_mmcv_and_mmcv_lite_together_leaves_the_one_with_ops(
    tmp_path: Path, mmcv_wheel: Path
) -> None:
    venv = make_venv(tmp_path / "venv")
    pip(venv, "install", "torch==2.13.0", "numpy==2.4.6", "setuptools==80.9.0")
    pip(venv, "install", str(mmcv_wheel), "mmcv-lite==2.2.0")
    names = {line.split("==")[0].split(" @ ")[0] for line in freeze(venv).splitlines()}
    assert {"mmcv", "mmcv-lite"} <= names

    # removing mmcv-lite deletes the mmcv/ files both wrote: the mmcv kept is written again
    # whole. Its wheel (the one installed above) is put where the plan's build step would
    # leave it for this venv's torch, so the fix reuses it as it would its own build.
    env = state_env(tmp_path, MMDOCTOR_CACHE_DIR=str(tmp_path / "cache"))
    dry = fix(venv, "--only", "mmcv.variants", "--dry-run", env=env)
    build = next(s for s in dry.json()["plan"]["steps"] if "--wheel-dir" in s["argv"])
    wheel_dir = Path(build["argv"][build["argv"].index("--wheel-dir") + 1])
    assert wheel_dir.is_relative_to(tmp_path / "cache"), wheel_dir
    wheel_dir.mkdir(parents=True)
    shutil.copy2(mmcv_wheel, wheel_dir)
    run = fix(venv, "--only", "mmcv.variants", env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    changes = {c["name"]: c for c in run.json()["plan"]["changes"]}
    assert changes["mmcv-lite"]["action"] == "remove", changes
    assert changes["mmcv"]["action"] == "replace" and "mmcv-lite goes" in changes["mmcv"]["reason"]
    assert "Building wheel for mmcv" not in Path(run.json()["log"]).read_text()
    after = freeze(venv)
    assert "mmcv-lite" not in after and "mmcv" in after
    assert runs(venv, "import mmcv.ops; from mmcv.ops import nms").returncode == 0


@contextmanager
def https_folder(root: Path, tls: tuple[Path, Path, Path]) -> Iterator[str]:
    """A plain static HTTPS server over `root` (folders, text/html pages), like a wheel mirror."""
    _ca, cert, key = tls
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    handler = partial(QuietFolder, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietFolder(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.e2e
def test_mmdet_rejecting_mmcv_is_fixed_from_a_prebuilt_wheel_mirror(
    tmp_path: Path, mmcv_wheel: Path, tls: tuple[Path, Path, Path]
) -> None:
    """mmdet 3.3.0 with mmcv-lite 2.2.0 (what `pip install mmdet` gives today). A company
    mirror of OpenMMLab's wheel layout (MMCV_BASE_URL, HTTPS) holds mmcv 2.1.0 for torch 2.13
    CPU, and the matrix says so: the advice, and the fix, is `mim install` of that wheel."""
    mirror = tmp_path / "mirror"
    with https_folder(mirror, tls) as base:
        page = mirror / load_matrix().mmcv_find_link("cpu", "2.13", "x").removeprefix("x/")
        page.parent.mkdir(parents=True)
        (page.parent / mmcv_wheel.name).write_bytes(mmcv_wheel.read_bytes())
        page.write_text(f'<a href="{mmcv_wheel.name}">{mmcv_wheel.name}</a>\n')
        fix_from_mirror(tmp_path, base, tls)


def fix_from_mirror(tmp_path: Path, base: str, tls: tuple[Path, Path, Path]) -> None:
    raw = yaml.safe_load((REPO / "compat_matrix.yaml").read_text())
    row = next(
        r for r in raw["mmcv_wheels"]["rows"] if r["package"] == "mmcv" and "2.1.0" in r["versions"]
    )
    row["sets"]["cpu"] = [*row["sets"].get("cpu", []), "2.13"]
    custom = tmp_path / "matrix.yaml"
    custom.write_text(yaml.safe_dump(raw))

    venv = make_venv(tmp_path / "venv")
    pip(venv, "install", *STACK)
    # pip (inside mim) must trust the mirror's test CA and still reach PyPI: one bundle of both,
    # under every name pip's requests reads (REQUESTS_CA_BUNDLE overrides PIP_CERT).
    system = Path(os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"))
    bundle = tmp_path / "ca-bundle.pem"
    bundle.write_text((system.read_text() if system.is_file() else "") + tls[0].read_text())
    trust = {name: str(bundle) for name in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    env = {**state_env(tmp_path), "MMCV_BASE_URL": base, **trust}
    dry = run_mmdoctor(
        "fix",
        "--python",
        str(venv),
        "--matrix",
        str(custom),
        "--only",
        "mmdet.compat",
        "--dry-run",
        "--cpu-only",
        env=env,
    )
    # install's plan for the mmcv mmdet needs: mim (added, as install adds it) from the mirror
    assert f"MMCV_BASE_URL={base}" in dry.stdout and "-m mim install mmcv==2.1.0" in dry.stdout
    assert "pip install openmim==0.3.9" in dry.stdout, dry.stdout

    run = fix(venv, "--matrix", str(custom), "--only", "mmdet.compat", env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    log = Path(run.json()["log"]).read_text()
    assert "mmcv-2.1.0-cp311" in log and "Building wheel for mmcv" not in log  # the mirror's wheel
    assert "mmcv-lite" not in freeze(venv)
    assert runs(venv, "import mmdet, mmcv; assert mmcv.__version__ == '2.1.0'").returncode == 0
