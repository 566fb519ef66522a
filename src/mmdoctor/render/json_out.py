"""The --json envelope: one document on stdout, versioned, the same frame for every command;
each Result body adds its own keys (its `to_dict`)."""

from __future__ import annotations

import json
from typing import Any

from mmdoctor import __version__
from mmdoctor.errors import ExitCode
from mmdoctor.redact import redact_credentials
from mmdoctor.result import SCHEMA, Failed, Result


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
    keys = result.body.to_dict(verbose)
    if isinstance(result.body, Failed) and result.command == "check":
        # check's readers of mmdoctor/result/v1 find its two keys in an error too; other
        # commands' error envelopes hold only the frame and `errors`.
        keys = {"environment": None, "checks": []}
    doc = envelope(result.command, result.status, result.exit_code, **keys)
    return dumps({**doc, "errors": list(result.errors)})


def dumps(doc: dict[str, Any]) -> str:
    """Every string redacted before it is escaped (a password with non-ASCII letters too)."""
    return json.dumps(_redacted(doc), indent=2, sort_keys=False, default=str)


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact_credentials(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return (
        value if value is None or isinstance(value, bool | int | float) else _redacted(str(value))
    )
