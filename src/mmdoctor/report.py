"""What `check` finds, and the one service that finds it: probe the target once, run the
checks. check, install (its final check), fix (before and after) and diagnose all use it."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mmdoctor import __version__
from mmdoctor.checks.model import CheckResult, Status
from mmdoctor.environment import Environment
from mmdoctor.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from mmdoctor.planning.matrix import Matrix


@dataclass(frozen=True)
class CheckReport:
    command: str
    environment: Environment
    results: tuple[CheckResult, ...]
    version: str = field(default=__version__)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PROBLEMS if any(r.status.is_problem for r in self.results) else ExitCode.OK

    @property
    def status(self) -> str:
        """'healthy', 'warnings' or 'problems': the one word a script reads."""
        if self.exit_code != ExitCode.OK:
            return "problems"
        if any(r.status == Status.WARN for r in self.results):
            return "warnings"
        return "healthy"

    def counts(self) -> Counter[Status]:
        return Counter(r.status for r in self.results)


def check_environment(
    python: str | None,
    matrix: Matrix,
    *,
    cpu_only: bool,
    timeout: float,
    only: Sequence[str] = (),
    command: str = "check",
    network: bool = False,
    environ: Mapping[str, str] = os.environ,
    busy: Callable[[Callable[[], CheckReport]], CheckReport] = lambda work: work(),
) -> CheckReport:
    """Probe `python` (and the machine) into one Environment and run the checks on it; `only`
    narrows them by id or id prefix; `network`: ask the download hosts too, when a selected check
    reads them. `busy` shows a spinner while this runs, if anyone wants."""
    from mmdoctor.checks import all_checks
    from mmdoctor.checks.model import Context, run_checks, select
    from mmdoctor.probe.collect import collect_environment

    checks = select(all_checks(), only)
    if only and not checks:
        raise UsageError(f"--only {' '.join(only)}: no such check (see --list-checks)")

    def work() -> CheckReport:
        env = collect_environment(
            python=python,
            environ=environ,
            step_timeout=timeout,
            matrix=matrix,
            network=network and any(c.id.startswith("network.") for c in checks),
        )
        results = run_checks(Context(env, matrix, cpu_only=cpu_only), checks)
        return CheckReport(command, env, tuple(results))

    return busy(work)
