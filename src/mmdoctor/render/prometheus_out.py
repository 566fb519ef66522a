"""A check report in Prometheus' text format, for node_exporter's textfile collector
(`--collector.textfile.directory`): one gauge per check and status (1 for the status it has),
whether the node is healthy, the key versions as labels of one info gauge, and when it ran."""

from __future__ import annotations

import time
from collections.abc import Sequence

from mmdoctor.checks.model import Status
from mmdoctor.fleet.reports import facts_of
from mmdoctor.report import CheckReport, MachineReport
from mmdoctor.result import Result


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _metric(
    name: str, help_text: str, samples: Sequence[tuple[dict[str, str], float]]
) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    for labels, value in samples:
        inside = ",".join(f'{key}="{_label(v)}"' for key, v in labels.items())
        number = str(int(value)) if float(value).is_integer() else f"{value:.3f}"
        lines.append(f"{name}{{{inside}}} {number}" if inside else f"{name} {number}")
    return lines


def textfile(result: Result, now: float | None = None) -> str:
    # a check of an environment, or a bare check's of the machine
    report = result.body if isinstance(result.body, (CheckReport, MachineReport)) else None
    lines = _metric(
        "mmdoctor_check_ran",
        "1 when mmdoctor check could run, 0 when it could not (see its exit code).",
        [({}, 1 if report is not None else 0)],
    )
    if report is not None:
        statuses = [s.value for s in Status]
        samples = [
            ({"check": r.id, "status": status}, 1 if r.status.value == status else 0)
            for r in report.results
            for status in statuses
        ]
        lines += _metric(
            "mmdoctor_check_status", "1 for the status each check has, 0 for the others.", samples
        )
        lines += _metric(
            "mmdoctor_healthy",
            "1 when no check found a problem (warnings allowed).",
            [({}, 1 if report.exit_code == 0 else 0)],
        )
    if isinstance(report, CheckReport):
        doc = report.to_dict()
        labels = {fact.lower().replace(" ", "_"): value for fact, value in facts_of(doc).values}
        lines += _metric(
            "mmdoctor_stack_info", "The driver, GPUs and stack versions, as labels.", [(labels, 1)]
        )
    stamp = time.time() if now is None else now
    lines += _metric(
        "mmdoctor_last_run_timestamp_seconds", "When mmdoctor check last ran.", [({}, stamp)]
    )
    return "\n".join(lines) + "\n"
