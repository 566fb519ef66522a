"""The --json envelope: one document on stdout, versioned, the same for every command."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from mmdoctor import __version__
from mmdoctor.errors import ExitCode
from mmdoctor.redact import redact_credentials
from mmdoctor.report import SCHEMA, CheckReport


def envelope(command: str, status: str, exit_code: ExitCode, **body: Any) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "mmdoctor_version": __version__,
        "command": command,
        "status": status,
        "exit_code": int(exit_code),
        **body,
    }


def emit(command: str, status: str, exit_code: ExitCode, **body: Any) -> None:
    """Print a command's one JSON document on stdout."""
    print(dumps(envelope(command, status, exit_code, **body)))


def check_report(report: CheckReport) -> str:
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
        for r in report.results
    ]
    doc = envelope(
        report.command,
        report.status,
        report.exit_code,
        environment=report.environment.to_dict(),
        checks=checks,
        errors=[],
    )
    return dumps(doc)


def error(command: str, exit_code: ExitCode, message: str) -> str:
    doc = envelope(
        command,
        "error",
        exit_code,
        environment=None,
        checks=[],
        errors=[{"code": int(exit_code), "message": message}],
    )
    return dumps(doc)


def dumps(doc: dict[str, Any]) -> str:
    return redact_credentials(json.dumps(doc, indent=2, sort_keys=False, default=str))
