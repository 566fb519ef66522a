"""The --json envelope: one document on stdout, versioned, the same frame for every command;
each kind of Result body adds its own keys."""

from __future__ import annotations

import json
from dataclasses import asdict
from functools import singledispatch
from typing import Any

from mmdoctor import __version__
from mmdoctor.commands.check import CheckList
from mmdoctor.commands.diagnose import Diagnosis
from mmdoctor.commands.fix import FixPlanned
from mmdoctor.commands.fleet import FleetPlanned
from mmdoctor.commands.install import InstallPlan, JobDone
from mmdoctor.commands.matrix import MatrixRows
from mmdoctor.commands.rollback import RolledBack
from mmdoctor.errors import ExitCode
from mmdoctor.fleet.summary import FleetSummary
from mmdoctor.redact import redact_credentials
from mmdoctor.report import CheckReport
from mmdoctor.result import SCHEMA, Failed, Result
from mmdoctor.smoke.run import SmokeReport


def envelope(command: str, status: str, exit_code: ExitCode, **body: Any) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "mmdoctor_version": __version__,
        "command": command,
        "status": status,
        "exit_code": int(exit_code),
        **body,
    }


def document(result: Result, *, verbose: bool = False) -> str:
    """The whole JSON document of a Result."""
    keys = body_keys(result.body, result.command, verbose)
    doc = envelope(result.command, result.status, result.exit_code, **keys)
    return dumps({**doc, "errors": list(result.errors)})


def dumps(doc: dict[str, Any]) -> str:
    return redact_credentials(json.dumps(doc, indent=2, sort_keys=False, default=str))


@singledispatch
def body_keys(body: object, command: str, verbose: bool) -> dict[str, Any]:
    raise TypeError(f"no JSON rendering for {type(body).__name__}")


@body_keys.register
def _(body: Failed, command: str, verbose: bool) -> dict[str, Any]:
    # check's readers of mmdoctor/result/v1 find its two keys in an error too; other
    # commands' error envelopes hold only the frame and `errors`.
    return {"environment": None, "checks": []} if command == "check" else {}


@body_keys.register
def _(body: CheckReport, command: str, verbose: bool) -> dict[str, Any]:
    checks = [
        {
            "id": r.id,
            "title": r.title,
            "status": r.status.value,
            "summary": r.summary,
            "details": list(r.details),
            "advice": asdict(r.advice) if r.advice else None,
            "known_failure": r.known_failure,
            "cause": r.cause,
        }
        for r in body.results
    ]
    return {"environment": body.environment.to_dict(), "checks": checks}


@body_keys.register
def _(body: CheckList, command: str, verbose: bool) -> dict[str, Any]:
    return {"checks": [{"id": check_id, "title": title} for check_id, title in body.checks]}


@body_keys.register
def _(body: InstallPlan, command: str, verbose: bool) -> dict[str, Any]:
    from mmdoctor.render import plan_out

    plan = body.plan
    rejected = body.resolution.rejected if plan is None or verbose else ()
    return {
        "machine": plan_out.machine_dict(body.context),
        "plan": plan_out.plan_dict(plan) if plan is not None else None,
        "rejected": [{"candidate": r.candidate, "reason": r.reason} for r in rejected],
        "suggestions": list(body.resolution.suggestions),
        "exported": str(body.exported) if body.exported is not None else None,
        "next_steps": list(body.next_steps),
    }


@body_keys.register
def _(body: JobDone, command: str, verbose: bool) -> dict[str, Any]:
    from mmdoctor.fix import FixPlan
    from mmdoctor.render.install_out import fix_plan_dict, outcome_dict
    from mmdoctor.render.plan_out import plan_dict

    plan = fix_plan_dict(body.plan) if isinstance(body.plan, FixPlan) else plan_dict(body.plan)
    keys = {"target": body.executable, "plan": plan, **outcome_dict(body.outcome)}
    final = body.outcome.final_report
    if isinstance(final, FleetSummary):  # fleet install: every node's check of the result
        from mmdoctor.render.fleet_out import fleet_dict

        keys["fleet"] = fleet_dict(final)
    return keys


@body_keys.register
def _(body: FixPlanned, command: str, verbose: bool) -> dict[str, Any]:
    from mmdoctor.render.install_out import fix_plan_dict

    return {"target": body.executable, "plan": fix_plan_dict(body.plan)}


@body_keys.register
def _(body: RolledBack, command: str, verbose: bool) -> dict[str, Any]:
    from mmdoctor.render.install_out import restore_dict

    return {
        "target": body.executable,
        "snapshot": str(body.snapshot),
        "log": str(body.log),
        "restore": restore_dict(body.restore),
    }


@body_keys.register
def _(body: MatrixRows, command: str, verbose: bool) -> dict[str, Any]:
    return {"matrix": body.path, "rows": [asdict(row) for row in body.rows]}


@body_keys.register
def _(body: SmokeReport, command: str, verbose: bool) -> dict[str, Any]:
    from mmdoctor.render.smoke_out import smoke_dict

    return smoke_dict(body)


@body_keys.register
def _(body: Diagnosis, command: str, verbose: bool) -> dict[str, Any]:
    from mmdoctor.render.diagnose_out import diagnosis_dict

    return diagnosis_dict(body)


@body_keys.register
def _(body: FleetSummary, command: str, verbose: bool) -> dict[str, Any]:
    from mmdoctor.render.fleet_out import fleet_dict

    return fleet_dict(body)


@body_keys.register
def _(body: FleetPlanned, command: str, verbose: bool) -> dict[str, Any]:
    from mmdoctor.render.fleet_out import fleet_plan_dict

    return fleet_plan_dict(body, verbose)
