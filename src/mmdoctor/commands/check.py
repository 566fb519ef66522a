"""`mmdoctor check`: probe the target once, run the checks, report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mmdoctor.checks import all_checks
from mmdoctor.commands.interaction import Interaction
from mmdoctor.errors import ExitCode
from mmdoctor.planning.matrix import load_matrix
from mmdoctor.report import CheckList, check_environment
from mmdoctor.result import Result


@dataclass(frozen=True)
class CheckOptions:
    python: str | None = None
    cpu_only: bool = False
    only: Sequence[str] = ()
    list_checks: bool = False
    timeout: float = 90.0
    matrix: Path | None = None
    offline: bool = False  # do not ask the download hosts (network.reachable is skipped)


def run(options: CheckOptions, ui: Interaction) -> Result:
    if options.list_checks:
        listed = CheckList(tuple((c.id, c.title) for c in all_checks()))
        return Result("check", "ok", ExitCode.OK, listed)
    matrix = load_matrix(str(options.matrix) if options.matrix else None)
    report = check_environment(
        options.python,
        matrix,
        cpu_only=options.cpu_only,
        timeout=options.timeout,
        only=options.only,
        network=not options.offline,
        busy=ui.busy,
    )
    return Result("check", report.status, report.exit_code, report)
