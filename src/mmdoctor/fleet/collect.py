"""A Slurm step's tasks as node reports: a report where a task printed one, else the reason."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Mapping, Sequence

from mmdoctor.errors import UsageError
from mmdoctor.fleet.reports import NodeReport, node_name, parse_report
from mmdoctor.fleet.slurm import SrunRequest, StepOutcome, reason_missing, run_step


def mmdoctor_command(text: str | None) -> list[str]:
    """How the nodes start mmdoctor: `text` split as a shell would, else this very mmdoctor
    (its interpreter path, which the nodes share when mmdoctor sits on shared storage)."""
    if not text:
        return [sys.executable, "-m", "mmdoctor"]
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"--mmdoctor {text!r}: {exc}") from exc
    if not argv:
        raise UsageError("--mmdoctor: empty command")
    return argv


def node_reports(outcome: StepOutcome, command: str = "check") -> list[NodeReport]:
    """One report per task: `node`, or `node/K` (K: the task's rank on its node) when a node
    ran several (one per GPU)."""
    reports = [NodeReport(n, reason=f"down (Slurm: {state})") for n, state in outcome.down.items()]
    per_node: dict[str, int] = {}
    for task in sorted(outcome.tasks, key=lambda t: t.task):
        per_node[task.node] = per_node.get(task.node, 0) + 1
    seen: dict[str, int] = {}
    for task in sorted(outcome.tasks, key=lambda t: t.task):
        local = seen.get(task.node, 0)
        seen[task.node] = local + 1
        text = "\n".join(task.stdout)
        if not text.strip():
            report = NodeReport(task.node, reason=reason_missing(task, outcome))
        else:
            report = parse_report(text, task.node, command)
            if report.document is None and not task.ended and outcome.timed_out:
                report = NodeReport(task.node, reason=reason_missing(task, outcome))
        node = node_name(report.document, task.node) if report.document else task.node
        if per_node[task.node] > 1:
            node = f"{node}/{local}"
        detail = report.detail or (task.stderr[-1] if task.stderr else "")
        reports.append(NodeReport(node, report.document, report.reason, task.seconds, detail))
    return reports


def gather(
    request: SrunRequest,
    remote: Sequence[str],
    *,
    command: str = "check",
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> list[NodeReport]:
    return node_reports(run_step(request, remote, env=env, on_line=on_line), command)
