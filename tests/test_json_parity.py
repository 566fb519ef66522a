"""The JSON documents of a fixed set of commands, compared with what was recorded: a change to
how mmdoctor is built must not change what it answers (keys and values; timings, this machine's
size and the test environments' paths aside). A change that means to change an answer records
it again (`MMDOCTOR_UPDATE_GOLDEN=1 pytest tests/test_json_parity.py`) and the diff of
tests/data/golden/ shows what changed."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, run_mmdoctor
from slurm_cluster import OLD_DRIVER, fleet, set_node

GOLDEN = REPO / "tests" / "data" / "golden"
UPDATE = bool(os.environ.get("MMDOCTOR_UPDATE_GOLDEN"))
# What differs between two runs on two machines of the same kind, not between two builds.
VOLATILE = {"seconds", "probe_seconds", "free_bytes", "memory_total_bytes", "cpu_count"}
VOLATILE |= {"hostname", "scheduler", "max_jobs", "mmdoctor_version"}

# Plans for machines described by what-if values: nothing of this machine but its OS and CPU.
WHAT_IF = {
    "ampere-cu116-mmdet2": "--cuda 11.6 --python-version 3.10 --mmdet 2 --driver 535.104.05 "
    "--gpu-cc 8.6",
    "blackwell-consumer-r580": "--driver 580.65.05 --gpu-cc 12.0 --python-version 3.12 --mmdet 3",
    "turing-r470-py38": "--driver 470.82.01 --gpu-cc 7.5 --python-version 3.8",
    "windows-ada": "--os windows --driver 560.94 --gpu-cc 8.9 --python-version 3.11",
    "macos-arm": "--os darwin --arch aarch64 --python-version 3.12",
    "grace-hopper-pip": "--arch aarch64 --driver 570.124.06 --gpu-cc 9.0 --python-version 3.12 "
    "--installer pip",
    "mixed-archs-onedl-uv-mirror": "--driver 580.95.05 --gpu-cc 8.0 --gpu-cc 9.0 "
    "--python-version 3.11 --line onedl --installer uv --index-url https://mirror.example/simple",
    "py313-mmdet2-no-plan": "--driver 535.104.05 --gpu-cc 8.9 --python-version 3.13 --mmdet 2",
}


def _scrub(value: Any, paths: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v, paths) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_scrub(v, paths) for v in value]
    if isinstance(value, str):
        for path, name in paths.items():
            value = value.replace(path, name)
        # a source build's parallelism follows this machine's cores and memory
        value = re.sub(r"\b\d+ compile jobs\b", "N compile jobs", value)
        # the probe script's own line numbers in a traceback move whenever it is edited
        value = re.sub(r'File "<string>", line \d+', 'File "<string>", line N', value)
        value = re.sub(r"\b[\d.]+ GiB free\b", "N GiB free", value)  # platform.disk's figures
        return re.sub(r"about \d+ min \(", "about M min (", value)
    return value


def _normal(doc: dict[str, Any], **envs: Path) -> dict[str, Any]:
    paths = {str(path): f"<{name}>" for name, path in envs.items()}
    paths[str(REPO)] = "<repo>"
    paths[str(Path(sys.executable).parent.parent)] = "<mmdoctor-venv>"
    paths[str(Path.home())] = "<home>"
    scrubbed = _scrub(doc, dict(sorted(paths.items(), key=lambda p: -len(p[0]))))
    for step in scrubbed.get("plan", {}).get("steps", []) if scrubbed.get("plan") else []:
        if "MAX_JOBS" in step.get("env", {}):
            step["env"]["MAX_JOBS"] = "N"
    host = (scrubbed.get("environment") or {}).get("host")
    if isinstance(host, dict):  # the disks' free space and this machine's size are not answers
        host.pop("disks", None)
    return scrubbed


def _compare(name: str, doc: dict[str, Any]) -> None:
    path = GOLDEN / f"{name}.json"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        return
    assert path.is_file(), f"no recorded {path.name}: record it with MMDOCTOR_UPDATE_GOLDEN=1"
    recorded = json.loads(path.read_text(encoding="utf-8"))
    assert _flat(doc) == _flat(recorded)  # a mismatch names each differing key path


def _flat(value: Any, at: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flat(item, f"{at}.{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in _flat(item, f"{at}[{i}]").items()}
    return {at: value}


def _json(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    run = run_mmdoctor(*args, "--json", env=env)
    assert run.returncode in (0, 1), run.stdout + run.stderr
    return run.json()


def _with_uv_on_path() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


@pytest.mark.parametrize("name", sorted(WHAT_IF))
def test_what_if_dry_run(name: str) -> None:
    doc = _json("install", "--dry-run", *WHAT_IF[name].split(), env=_with_uv_on_path())
    _compare(f"install-{name}", _normal(doc))


def test_dry_run_for_an_environment_with_torch(torch_venv: Path) -> None:
    doc = _json("install", "--dry-run", "--python", str(torch_venv), "--cpu")
    _compare("install-torch-venv-cpu", _normal(doc, torch_venv=torch_venv))


@pytest.mark.parametrize("env_name", ["bare_venv", "torch_venv"])
def test_check(env_name: str, request: pytest.FixtureRequest) -> None:
    venv: Path = request.getfixturevalue(env_name)
    doc = _json("check", "--python", str(venv))
    _compare(f"check-{env_name}", _normal(doc, **{env_name: venv}))


@pytest.mark.parametrize("env_name", ["bare_venv", "stack_venv"])
def test_fix_dry_run(env_name: str, request: pytest.FixtureRequest) -> None:
    venv: Path = request.getfixturevalue(env_name)
    doc = _json("fix", "--dry-run", "--python", str(venv))
    _compare(f"fix-{env_name}", _normal(doc, **{env_name: venv}))


@pytest.mark.parametrize(
    ("name", "args"),
    [("all", []), ("onedl-torch-2.9", ["--line", "onedl", "--torch", "2.9"])],
)
def test_matrix(name: str, args: list[str]) -> None:
    _compare(f"matrix-{name}", _normal(_json("matrix", *args)))


@pytest.mark.slurm
def test_fleet_plan(cluster, fake_nvml_lib, node_dir, bare_venv: Path) -> None:
    set_node(node_dir, "node2", driver=OLD_DRIVER)
    run = fleet(cluster, fake_nvml_lib, node_dir, "plan", "--python", str(bare_venv), "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    _compare("fleet-plan-lowest-driver", _normal(run.json(), bare_venv=bare_venv))
