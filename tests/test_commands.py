"""The commands as plain functions, called in process: options in, one Result out.

The CLI tests run `mmdoctor` as a subprocess; these call `commands.<name>.run` directly with
`Unattended` (nobody to ask), as another program or a future API would, and render what comes
back through the one JSON renderer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO

from mmdoctor.commands import check, diagnose, fix, install, matrix, rollback
from mmdoctor.commands.interaction import Unattended
from mmdoctor.errors import ExitCode, UsageError
from mmdoctor.render import json_out
from mmdoctor.report import CheckReport
from mmdoctor.result import Result

WHAT_IF = {"driver": "535.104.05", "gpu_cc": ("8.6",), "python_version": "3.10"}


def test_check_in_process_returns_the_report(bare_venv: Path) -> None:
    result = check.run(check.CheckOptions(python=str(bare_venv), cpu_only=True), Unattended())
    assert isinstance(result.body, CheckReport)
    assert result.command == "check" and result.status == result.body.status
    assert result.exit_code == result.body.exit_code == ExitCode.PROBLEMS  # no torch there
    ids = {r.id for r in result.body.results}
    assert {"torch.import", "python.environment", "nvidia.driver"} <= ids
    doc = json.loads(json_out.document(result))
    assert doc["command"] == "check" and doc["environment"]["target"]["executable"]


def test_check_only_narrows_and_rejects_unknown_ids(bare_venv: Path) -> None:
    only = check.CheckOptions(python=str(bare_venv), only=("torch",), cpu_only=True)
    result = check.run(only, Unattended())
    assert isinstance(result.body, CheckReport)
    assert {r.id.split(".")[0] for r in result.body.results} == {"torch"}
    with pytest.raises(UsageError, match="--only bogus: no such check"):
        check.run(check.CheckOptions(python=str(bare_venv), only=("bogus",)), Unattended())


def test_install_dry_run_plans_for_a_what_if_machine() -> None:
    options = install.InstallOptions(cuda="12.1", mmdet="3", dry_run=True, **WHAT_IF)
    result = install.run(options, Unattended())
    assert (result.status, result.exit_code) == ("planned", ExitCode.OK)
    assert isinstance(result.body, install.InstallPlan) and result.body.plan is not None
    assert result.body.plan.variant == "cu121"
    doc = json.loads(json_out.document(result))
    assert doc["plan"]["torch"]["variant"] == "cu121" and doc["machine"]["driver"] == "535.104.05"


def test_install_without_a_terminal_or_yes_is_refused_before_anything_happens() -> None:
    with pytest.raises(UsageError, match="no terminal to ask on"):
        install.run(install.InstallOptions(**WHAT_IF), Unattended())


def test_install_writes_the_export_file(tmp_path: Path) -> None:
    target = tmp_path / "requirements-mm.txt"
    options = install.InstallOptions(cuda="12.1", mmdet="3", export=target, **WHAT_IF)
    result = install.run(options, Unattended())
    assert isinstance(result.body, install.InstallPlan) and result.body.exported == target
    assert "torch==" in target.read_text()


def test_no_plan_is_exit_1_with_every_rejection() -> None:
    options = install.InstallOptions(cuda="11.6", mmdet="3", torch="2.5", dry_run=True, **WHAT_IF)
    result = install.run(options, Unattended())
    assert (result.status, result.exit_code) == ("no-plan", ExitCode.PROBLEMS)
    assert isinstance(result.body, install.InstallPlan) and result.body.resolution.rejected


def test_matrix_rows() -> None:
    result = matrix.run(matrix.MatrixOptions(mmdet="3", cuda="11.8"), Unattended())
    assert isinstance(result.body, matrix.MatrixRows) and result.body.rows
    assert all("cu118" in row.variants for row in result.body.rows)


def test_diagnose_names_the_root_cause_of_a_sample_log() -> None:
    log = REPO / "tests" / "data" / "logs" / "cuda-driver-too-old.log"
    result = diagnose.run(diagnose.DiagnoseOptions(log=str(log)), Unattended())
    assert (result.status, result.exit_code) == ("found", ExitCode.OK)
    assert isinstance(result.body, diagnose.Diagnosis)
    assert result.body.matches[0].failure.id == "cuda-driver-too-old"


def test_fix_dry_run_plans_in_process(bare_venv: Path) -> None:
    result = fix.run(
        fix.FixOptions(python=str(bare_venv), dry_run=True, cpu_only=True), Unattended()
    )
    assert isinstance(result.body, fix.FixPlanned)
    # torch missing: its advice is a pip command in the target, so fix would carry it out
    assert result.status == "planned" and result.body.plan.steps
    assert any("torch" in " ".join(step.argv) for step in result.body.plan.steps)


def test_rollback_without_a_snapshot(bare_venv: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MMDOCTOR_STATE_DIR", str(tmp_path / "state"))
    with pytest.raises(Exception, match="no snapshot") as caught:
        rollback.run(rollback.RollbackOptions(python=str(bare_venv)), Unattended())
    assert getattr(caught.value, "exit_code", None) == ExitCode.PROBLEMS


@pytest.mark.parametrize("command", ["install", "fix", "rollback", "smoke-test", "matrix"])
def test_an_error_envelope_holds_only_its_commands_keys(command: str) -> None:
    doc = json.loads(json_out.document(Result.failure(command, ExitCode.USAGE, "bad")))
    assert set(doc) == {"schema", "mmdoctor_version", "command", "status", "exit_code", "errors"}
    assert doc["errors"] == [{"code": 2, "message": "bad"}] and doc["status"] == "error"


def test_checks_error_envelope_keeps_its_v1_keys() -> None:
    doc = json.loads(json_out.document(Result.failure("check", ExitCode.CANNOT_RUN, "probe")))
    assert doc["environment"] is None and doc["checks"] == [] and doc["exit_code"] == 4
