"""`mmdoctor fleet report` over per-node files gathered any other way, `check --prometheus`,
and the summary's pure parts. The node reports are real `check --json` runs, each with its own
stand-in NVML settings (what a Kubernetes Indexed Job's pods would each write)."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import Run, run_mmdoctor
from fakes.nvml import fake_nvml_env
from prometheus_client.parser import text_string_to_metric_families

from mmdoctor.fleet.reports import NodeReport, parse_report
from mmdoctor.fleet.summary import hostlist, summarise

H100 = "NVIDIA H100 80GB HBM3|9.0|81559|GPU-{i}"
GPU_CHECKS = ["--only", "nvidia", "--only", "torch.import"]


def node_check(lib: Path, python: Path, node: str, driver: str, *args: str) -> Run:
    cuda = 13000 if driver.startswith("580") else 12020
    env = fake_nvml_env(lib, driver=driver, cuda=cuda, gpus=[H100.format(i=i) for i in range(2)])
    env["SLURMD_NODENAME"] = node  # as slurmd sets it; a pod has its own host name instead
    return run_mmdoctor("check", "--python", str(python), *GPU_CHECKS, "--json", *args, env=env)


@pytest.fixture(scope="module")
def reports(tmp_path_factory, fake_nvml_lib: Path, cuda_torch_venv: Path) -> Path:
    folder = tmp_path_factory.mktemp("reports")
    for node, driver in (("gpu01", "580.95.05"), ("gpu02", "580.95.05"), ("gpu03", "535.104.05")):
        run = node_check(fake_nvml_lib, cuda_torch_venv, node, driver)
        (folder / f"{node}.json").write_text(run.stdout)
    return folder


def test_fleet_report_summarises_a_folder_of_reports(reports: Path, tmp_path: Path) -> None:
    junit = tmp_path / "out.xml"
    run = run_mmdoctor("fleet", "report", str(reports), "--junit", str(junit))
    assert run.returncode == 0, run.stdout + run.stderr  # every node passes its checks
    assert "gpu03: driver 535.104.05, 2 nodes have 580.95.05" in run.stdout
    assert "gpu[01-02] (2): driver 580.95.05" in run.stdout
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["gpu01", "gpu02", "gpu03"]


def test_a_report_that_is_not_one_is_a_node_without_a_report(reports: Path, tmp_path: Path) -> None:
    (tmp_path / "gpu04.json").write_text("Traceback (most recent call last):\n  boom\n")
    (tmp_path / "gpu05.json").write_text(json.dumps({"schema": "other", "command": "x"}))
    run = run_mmdoctor(
        "fleet", "report", str(reports), str(tmp_path / "gpu04.json"), str(tmp_path / "gpu05.json"),
        "--json",
    )  # fmt: skip
    assert run.returncode == 1
    nodes = {n["node"]: n for n in run.json()["nodes"]}
    assert nodes["gpu04"]["reason"] == "its output is not JSON"
    assert nodes["gpu04"]["detail"] == "boom"
    assert nodes["gpu05"]["reason"] == "its output is not an mmdoctor check report"
    assert run.json()["counts"] == {"nodes": 5, "healthy": 3, "without_report": 2}


def test_reports_sharing_a_host_name_are_told_apart_by_file(reports: Path, tmp_path: Path) -> None:
    doc = json.loads((reports / "gpu01.json").read_text())
    doc["environment"]["host"]["scheduler"] = {}
    for rank in range(2):
        (tmp_path / f"rank-{rank}.json").write_text(json.dumps(doc))
    nodes = run_mmdoctor("fleet", "report", str(tmp_path), "--json").json()["nodes"]
    host = doc["environment"]["host"]["hostname"]
    assert [n["node"] for n in nodes] == [f"{host} (rank-0.json)", f"{host} (rank-1.json)"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/reports"], "/nonexistent/reports: no such file or folder"),
        ([], "Missing argument"),
    ],
)
def test_fleet_report_bad_input_exits_2(args: list[str], message: str) -> None:
    run = run_mmdoctor("fleet", "report", *args)
    assert run.returncode == 2
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_an_empty_folder_exits_2(tmp_path: Path) -> None:
    run = run_mmdoctor("fleet", "report", str(tmp_path), "--json")
    assert run.returncode == 2
    assert "no *.json report files" in run.json()["errors"][0]["message"]


# --- check --prometheus ----------------------------------------------------------------------


def test_check_writes_a_textfile_prometheus_reads(
    fake_nvml_lib: Path, cuda_torch_venv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "mmdoctor.prom"
    run = node_check(
        fake_nvml_lib,
        cuda_torch_venv,
        "gpu01",
        "535.104.05",
        "--only",
        "torch.driver",
        "--prometheus",
        str(out),
    )
    assert run.returncode == 1  # torch 2.14.1 is a CUDA 13.0 build: 535 is too old for it
    families = {f.name: f for f in text_string_to_metric_families(out.read_text())}
    status = {
        (s.labels["check"], s.labels["status"]): s.value
        for s in families["mmdoctor_check_status"].samples
    }
    assert status[("torch.driver", "fail")] == 1 and status[("torch.driver", "ok")] == 0
    assert status[("nvidia.driver", "ok")] == 1
    assert families["mmdoctor_healthy"].samples[0].value == 0
    info = families["mmdoctor_stack_info"].samples[0].labels
    assert info["driver"] == "535.104.05" and info["torch"] == "2.14.1"
    assert info["torch_cuda"] == "13.0" and info["gpus"] == "2x NVIDIA H100 80GB HBM3"
    assert families["mmdoctor_check_ran"].samples[0].value == 1
    assert sorted(os.listdir(tmp_path)) == ["mmdoctor.prom"]  # no temporary file left


def test_a_check_that_cannot_run_still_writes_its_textfile(tmp_path: Path) -> None:
    out = tmp_path / "mmdoctor.prom"
    run = run_mmdoctor("check", "--python", "/nonexistent/python", "--prometheus", str(out))
    assert run.returncode == 2
    families = {f.name: f for f in text_string_to_metric_families(out.read_text())}
    assert families["mmdoctor_check_ran"].samples[0].value == 0
    assert "mmdoctor_check_status" not in families


def test_an_unwritable_textfile_is_one_line_and_exit_4(torch_venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "no-such-dir" / "mmdoctor.prom"
    run = run_mmdoctor("check", "--python", str(torch_venv), "--prometheus", str(out))
    assert run.returncode == 4
    assert run.stderr.strip().startswith(f"mmdoctor: error: could not write {out}:")
    assert "Traceback" not in run.stderr


# --- the summary's pure parts ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["node1", "node2", "node3"], "node[1-3]"),
        (["gpu01", "gpu02", "gpu04", "gpu07", "gpu08"], "gpu[01-02,04,07-08]"),
        (["node3"], "node3"),
        (["login", "node1", "node2"], "login,node[1-2]"),
        (["a1", "b1"], "a1,b1"),
    ],
)
def test_hostlist_writes_names_as_slurm_does(names: list[str], expected: str) -> None:
    assert hostlist(names) == expected


def _doc(driver: str) -> dict:
    gpus = [{"name": "NVIDIA A100-SXM4-80GB", "compute_capability": "8.0"}] * 8
    env = {"nvidia": {"driver_version": driver, "gpus": gpus}, "target": {"version": "3.11.9"}}
    return {"schema": "mmdoctor/result/v1", "command": "check", "exit_code": 0, "environment": env}


def test_sixteen_nodes_one_old_driver() -> None:
    nodes = [NodeReport(f"node{i:02d}", _doc("580.95.05"), seconds=10.0) for i in range(1, 17)]
    nodes[6] = NodeReport("node07", _doc("535.104.05"), seconds=31.0)
    summary = summarise(nodes)
    [odd] = summary.odd
    assert (odd.node, odd.value, odd.usual, odd.usual_count) == (
        "node07",
        "535.104.05",
        "580.95.05",
        15,
    )
    assert [len(g.nodes) for g in summary.groups] == [15, 1]
    [slow] = summary.slow
    assert (slow.node, slow.seconds, slow.median) == ("node07", 31.0, 10.0)
    assert summary.exit_code == 0  # different, but every node passed its checks


def test_parse_report_reads_check_s_error_envelope() -> None:
    text = json.dumps(
        {
            "schema": "mmdoctor/result/v1",
            "command": "check",
            "status": "error",
            "exit_code": 4,
            "environment": None,
            "errors": [{"code": 4, "message": "probe timed out"}],
        }
    )
    report = parse_report(text, "node1")
    assert (report.reason, report.detail) == ("its check could not run", "probe timed out")
