"""`mmdoctor fleet check` against a real Slurm: munged, slurmctld and three slurmd on this
machine (tests/slurm_cluster.py). The nodes differ only where this machine cannot have what a
cluster has: the stand-in libnvidia-ml.so.1 reads each node's driver and GPUs from the node's
own file, chosen by the SLURMD_NODENAME that slurmd gives every task."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import REPO, run_mmdoctor
from fakes.nvml import fake_nvml_env
from slurm_cluster import NODES, OLD_DRIVER, SlurmCluster, fleet, set_node

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
# What a GPU node can pass here, with PyPI's CUDA 13.0 torch: everything but running a kernel
# (this machine has no libcuda). Both versions agree with 580.95.05, and torch has sm_90.
GPU_CHECKS = ("nvidia", "torch.import", "torch.cuda_build", "torch.driver", "torch.gpu_arch")


def only(*checks: str) -> list[str]:
    return [arg for check in checks for arg in ("--only", check)]


def by_node(doc: dict) -> dict[str, dict]:
    return {n["node"]: n for n in doc["nodes"]}


# --- the fleet, for real -----------------------------------------------------------------------


def test_a_uniform_healthy_fleet_is_one_group_and_exit_0(
    cluster, fake_nvml_lib, node_dir, cuda_torch_venv: Path, tmp_path: Path
) -> None:
    junit = tmp_path / "fleet.xml"
    args = ["check", "--python", str(cuda_torch_venv), *only(*GPU_CHECKS)]
    run = fleet(cluster, fake_nvml_lib, node_dir, *args, "--json", "--junit", str(junit))
    assert run.returncode == 0, run.stdout + run.stderr
    doc = run.json()
    assert (doc["command"], doc["status"]) == ("fleet check", "healthy")
    assert doc["counts"] == {"nodes": 3, "healthy": 3, "without_report": 0}
    assert [g["nodes"] for g in doc["groups"]] == [list(NODES)]
    facts = doc["groups"][0]["facts"]
    assert facts["driver"] == "580.95.05" and facts["GPUs"] == "2x NVIDIA H100 80GB HBM3"
    assert facts["torch"] == "2.14.1" and facts["torch CUDA"] == "13.0"
    assert facts["compute capability"] == "9.0"
    assert doc["odd_ones_out"] == []
    assert all(n["seconds"] and n["seconds"] > 0 for n in doc["nodes"])
    # JUnit: one suite per node, one case per check, none failed
    root = ET.parse(junit).getroot()
    assert [s.get("name") for s in root.findall("testsuite")] == list(NODES)
    assert root.get("failures") == "0" and root.get("errors") == "0"
    suite = root.find("testsuite")
    assert suite is not None and int(suite.get("tests", "0")) == len(suite.findall("testcase"))
    assert {c.get("name") for c in suite.findall("testcase")} == {
        "nvidia.driver",
        "nvidia.gpus",
        *GPU_CHECKS[1:],
    }


def test_the_node_with_an_older_driver_is_named_and_fails(
    cluster, fake_nvml_lib, node_dir, cuda_torch_venv: Path, tmp_path: Path
) -> None:
    set_node(node_dir, "node3", driver=OLD_DRIVER)
    junit = tmp_path / "fleet.xml"
    args = ["check", "--python", str(cuda_torch_venv), *only(*GPU_CHECKS)]
    run = fleet(cluster, fake_nvml_lib, node_dir, *args, "--junit", str(junit))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "node3: driver 535.104.05, 2 nodes have 580.95.05" in run.stdout
    assert "node[1-2] (2): driver 580.95.05" in run.stdout
    assert "✗ node3 torch.driver:" in run.stdout
    assert "node1 torch.driver" not in run.stdout
    root = ET.parse(junit).getroot()
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert suites["node3"].get("failures") == "1" and suites["node1"].get("failures") == "0"
    failed = suites["node3"].find("testcase[@name='torch.driver']/failure")
    assert failed is not None and "13.0" in (failed.get("message") or "")

    doc = fleet(cluster, fake_nvml_lib, node_dir, *args, "--json").json()
    nodes = by_node(doc)
    assert [nodes[n]["healthy"] for n in NODES] == [True, True, False]
    assert [p["check"] for p in nodes["node3"]["problems"]] == ["torch.driver"]
    assert doc["odd_ones_out"] == [
        {
            "node": "node3",
            "fact": "driver",
            "value": "535.104.05",
            "usual": "580.95.05",
            "usual_count": 2,
        }
    ]


def test_a_node_whose_check_hangs_is_timed_out_and_the_rest_summarised(
    cluster, fake_nvml_lib, node_dir, bare_venv: Path
) -> None:
    # the driver checks only: the others report in a second or two, node2 never (its probe
    # would give up at 20 s, after the fleet's --timeout)
    set_node(node_dir, "node2", init_seconds=120)  # nvmlInit never returns in time
    started = time.monotonic()
    args = ["check", "--python", str(bare_venv), "--only", "nvidia", "--timeout", "12", "--json"]
    run = fleet(cluster, fake_nvml_lib, node_dir, *args)
    took = time.monotonic() - started
    assert run.returncode == 1, run.stdout + run.stderr
    nodes = by_node(run.json())
    assert nodes["node2"]["reason"] == "timed out after 12 s"
    assert nodes["node1"]["healthy"] and nodes["node3"]["healthy"]
    assert took < 40, took
    # the step was cancelled: every node takes work again at once
    cluster.wait_idle(NODES, timeout=30)


def test_a_node_that_dies_mid_run_is_reported_and_the_rest_summarised(
    cluster, fake_nvml_lib, node_dir, bare_venv: Path
) -> None:
    set_node(node_dir, "node2", init_seconds=30)
    env = fake_nvml_env(fake_nvml_lib, node_dir=node_dir)
    env.update(SLURM_CONF=cluster.env["SLURM_CONF"], PYTHONPATH=str(REPO / "src"))
    env["MMDOCTOR_OFFLINE"] = "1"
    argv = [sys.executable, "-m", "mmdoctor", "fleet", "check", "--python", str(bare_venv)]
    process = subprocess.Popen(
        [*argv, "--only", "nvidia", "--json"], env=env, stdout=subprocess.PIPE, text=True
    )
    _wait_for_job(cluster)
    time.sleep(3)  # node1 and node3 report; node2 sits in nvmlInit
    down = ["scontrol", "update", "nodename=node2", "state=down", "reason=mmdoctor-test"]
    subprocess.run(down, env=cluster.env, check=True, timeout=30)
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 1, out
    nodes = by_node(json.loads(out))
    assert nodes["node2"]["reason"] == "node failed during the run (Slurm: node failure)"
    assert nodes["node1"]["healthy"] and nodes["node3"]["healthy"]


def _wait_for_job(cluster: SlurmCluster) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        queue = subprocess.run(
            ["squeue", "--noheader", "--states=running"],
            env=cluster.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if queue.stdout.strip():
            return
        time.sleep(0.2)
    raise AssertionError("the fleet job never ran")


def test_a_node_that_is_down_is_reported_without_waiting_for_it(
    cluster, fake_nvml_lib, node_dir, cuda_torch_venv: Path
) -> None:
    down = ["scontrol", "update", "nodename=node3", "state=down", "reason=disk-replaced"]
    subprocess.run(down, env=cluster.env, check=True, timeout=30)
    args = ["check", "--python", str(cuda_torch_venv), *only(*GPU_CHECKS)]
    run = fleet(cluster, fake_nvml_lib, node_dir, *args)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "✗ node3: down (Slurm: down)" in run.stdout
    assert "node[1-2] (2): driver 580.95.05" in run.stdout
    # asking for it by name says the same
    run = fleet(cluster, fake_nvml_lib, node_dir, *args, "--nodelist", "node[2-3]", "--json")
    assert [(n["node"], n["reason"]) for n in run.json()["nodes"]] == [
        ("node2", None),
        ("node3", "down (Slurm: down)"),
    ]


def test_a_node_without_mmdoctor_is_named(cluster, fake_nvml_lib, node_dir) -> None:
    args = ["check", "--mmdoctor", "/opt/nowhere/bin/mmdoctor", "--nodes", "2", "--json"]
    run = fleet(cluster, fake_nvml_lib, node_dir, *args)
    assert run.returncode == 1, run.stdout + run.stderr
    nodes = run.json()["nodes"]
    assert len(nodes) == 2
    assert {n["reason"] for n in nodes} == {"no mmdoctor there (the node cannot run the command)"}
    assert all("No such file" in n["detail"] for n in nodes)


def test_a_crashing_check_is_named_with_its_exit_code(cluster, fake_nvml_lib, node_dir) -> None:
    # a real program that exits 3 without a report: Python asked to run a file that is missing
    args = ["check", "--mmdoctor", f"{sys.executable} /opt/nowhere.py", "-w", "node1", "--json"]
    nodes = fleet(cluster, fake_nvml_lib, node_dir, *args).json()["nodes"]
    assert nodes[0]["reason"] == "crashed (exited with exit code 2)"
    assert "can't open file" in nodes[0]["detail"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nodelist", "node[1-"], "not a Slurm host list"),
        (["--nodelist", "node9"], "Slurm knows no node node9"),
        (["--nodes", "9"], "--nodes 9: the cluster has 3 node(s)"),
        (["--nodes", "2", "--nodelist", "node1"], "exclude each other"),
        (["--partition", "nosuch"], "--partition nosuch"),
    ],
)
def test_bad_node_choices_exit_2(cluster, fake_nvml_lib, node_dir, args, message) -> None:
    run = fleet(cluster, fake_nvml_lib, node_dir, "check", *args, "--json")
    assert run.returncode == 2, run.stdout + run.stderr
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert run.json()["errors"][0]["code"] == 2


def test_no_srun_on_path_exits_2(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    assert shutil.which("srun", path=env["PATH"]) is None
    run = run_mmdoctor("fleet", "check", env=env)
    assert run.returncode == 2
    assert run.stderr.strip() == (
        "mmdoctor: error: no `srun` on PATH: fleet commands run through Slurm (docs/fleet.md)"
    )


# --- fleet plan: one stack for all of them ---------------------------------------------------

P100 = "Tesla P100-PCIE-16GB|6.0|16384|GPU-{node}-{i}"


def _build_env(doc: dict) -> dict[str, str]:
    steps = doc["plan"]["steps"]
    return next(s["env"] for s in steps if "TORCH_CUDA_ARCH_LIST" in s["env"])


def _python_312() -> Path:
    found = sorted(Path.home().glob(".pyenv/versions/3.12.*/bin/python3.12"))
    if not found:
        pytest.skip("no Python 3.12 from pyenv here")
    return found[-1]


def test_fleet_plan_names_the_node_whose_gpu_a_prebuilt_wheel_lacks(
    cluster, fake_nvml_lib, node_dir
) -> None:
    # onedl-mmcv 2.3.6 has Python 3.12 wheels for sm_90 (torch 2.10 cu129), none for sm_60
    set_node(node_dir, "node3", gpu=P100)
    args = ["plan", "--python", str(_python_312()), "--line", "onedl", "--json"]
    run = fleet(cluster, fake_nvml_lib, node_dir, *args)
    assert run.returncode == 0, run.stdout + run.stderr
    doc = run.json()
    assert doc["planned_for"] == list(NODES) and doc["blockers"] == []
    assert doc["machine"]["gpu_cc"] == ["6.0", "9.0"]
    assert doc["facts_from"]["gpus"] == "sm_60: node3; sm_90: node[1-2]"
    # no onedl wheel qualifies, because of node3, and the build covers both archs
    assert doc["arch_rejections"], doc
    assert all("have no sm_60 (node3) kernels" in r for r in doc["arch_rejections"])
    assert doc["plan"]["mmcv"]["prebuilt"] is False
    assert _build_env(doc)["TORCH_CUDA_ARCH_LIST"] == "6.0;9.0"


def test_fleet_plan_takes_the_lowest_driver(cluster, fake_nvml_lib, node_dir, bare_venv) -> None:
    set_node(node_dir, "node2", driver=OLD_DRIVER)
    run = fleet(cluster, fake_nvml_lib, node_dir, "plan", "--python", str(bare_venv), "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    doc = run.json()
    assert doc["machine"]["driver"] == "535.104.05"
    assert doc["facts_from"]["driver"] == "the lowest of 3 nodes (node2)"
    assert doc["plan"]["torch"]["variant"] in ("cu118", "cu121", "cu124", "cu126")


def test_fleet_plan_names_the_nodes_that_block_one_stack(
    cluster, fake_nvml_lib, node_dir, bare_venv: Path
) -> None:
    set_node(node_dir, "node3", driver=("418.67", 10010))
    run = fleet(cluster, fake_nvml_lib, node_dir, "plan", "--python", str(bare_venv))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "✗ node3: blocks one stack: driver 418.67" in run.stdout
    assert "The best stack for the rest: node[1-2]" in run.stdout
    doc = fleet(cluster, fake_nvml_lib, node_dir, "plan", "--python", str(bare_venv), "--json")
    plan = doc.json()
    assert plan["blockers"] == [{"nodes": ["node3"], "why": "driver 418.67"}]
    assert plan["planned_for"] == ["node1", "node2"] and plan["plan"] is not None
    assert plan["machine"]["driver"] == "580.95.05"


# --- fleet smoke-test ------------------------------------------------------------------------


def test_fleet_smoke_test_per_gpu_runs_one_task_per_gpu_on_its_own_device(
    cluster, fake_nvml_lib, node_dir, bare_venv: Path
) -> None:
    # no stack in the target: every task fails its first stage at once, on its own GPU
    args = ["smoke-test", "--per-gpu", "--python", str(bare_venv), "--weights", "none", "--json"]
    run = fleet(cluster, fake_nvml_lib, node_dir, *args)
    assert run.returncode == 1, run.stdout + run.stderr
    nodes = by_node(run.json())
    assert sorted(nodes) == [f"{n}/{k}" for n in NODES for k in (0, 1)]
    assert all(n["problems"][0]["status"] == "fail" for n in nodes.values())
    groups = {g["facts"]["device"]: g["nodes"] for g in run.json()["groups"]}
    assert groups == {"cuda:0": [f"{n}/0" for n in NODES], "cuda:1": [f"{n}/1" for n in NODES]}


def test_fleet_smoke_test_passes_on_every_node(
    cluster, fake_nvml_lib, node_dir, compiled_stack_venv: Path, tmp_path: Path
) -> None:
    junit = tmp_path / "smoke.xml"
    args = ["smoke-test", "--python", str(compiled_stack_venv), "--device", "cpu"]
    args += ["--weights", "none", "--runs", "1", "--json", "--junit", str(junit)]
    run = fleet(cluster, fake_nvml_lib, node_dir, *args, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    doc = run.json()
    assert doc["command"] == "fleet smoke-test" and doc["counts"]["healthy"] == 3
    assert [g["facts"]["device"] for g in doc["groups"]] == ["cpu"]
    assert all(n["seconds"] > 0 for n in doc["nodes"])
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert {c.get("name") for c in suites[0].findall("testcase")} >= {"torch", "inference"}
