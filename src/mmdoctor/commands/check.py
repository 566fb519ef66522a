"""`mmdoctor check`: probe the target once, run the checks, report; with no target named or
active, the machine's checks and the Python environments it can see."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mmdoctor.checks import all_checks
from mmdoctor.commands.interaction import Interaction
from mmdoctor.errors import ExitCode
from mmdoctor.planning.matrix import load_matrix
from mmdoctor.report import CheckList, check_environment, check_machine
from mmdoctor.result import Result
from mmdoctor.target import default_target


@dataclass(frozen=True)
class CheckOptions:
    python: str | None = None
    venv: Path | None = None
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
    choice = default_target(python=options.python, venv=options.venv, environ=os.environ)
    if choice is None:  # nothing named or active: the machine, and the environments it has
        machine = check_machine(
            matrix,
            cpu_only=options.cpu_only,
            only=options.only,
            network=not options.offline,
            busy=ui.busy,
        )
        return Result("check", machine.status, machine.exit_code, machine)
    report = check_environment(
        choice,
        matrix,
        cpu_only=options.cpu_only,
        timeout=options.timeout,
        only=options.only,
        network=not options.offline,
        busy=ui.busy,
    )
    return Result("check", report.status, report.exit_code, report)
