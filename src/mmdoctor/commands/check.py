"""`mmdoctor check`: probe the target once, run the checks, report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mmdoctor.commands.interaction import Interaction
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


@dataclass(frozen=True)
class CheckList:
    """--list-checks: (id, title) of every check."""

    checks: tuple[tuple[str, str], ...]


def run(options: CheckOptions, ui: Interaction) -> Result:
    from mmdoctor.checks import all_checks
    from mmdoctor.errors import ExitCode
    from mmdoctor.planning.matrix import load_matrix
    from mmdoctor.report import check_environment

    if options.list_checks:
        listed = CheckList(tuple((c.id, c.title) for c in all_checks()))
        return Result("check", "ok", ExitCode.OK, listed)
    report = check_environment(
        options.python,
        load_matrix(str(options.matrix) if options.matrix else None),
        cpu_only=options.cpu_only,
        timeout=options.timeout,
        only=options.only,
        network=not options.offline,
        busy=ui.busy,
    )
    return Result("check", report.status, report.exit_code, report)
