"""What `check` finds, and the one service that finds it: probe the target once, run the
checks. check, install (its final check), fix (before and after) and diagnose all use it."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mmdoctor import __version__
from mmdoctor.checks import all_checks
from mmdoctor.checks.model import (
    Check,
    CheckResult,
    Context,
    MachineContext,
    Status,
    run_checks,
    select,
)
from mmdoctor.environment import Environment, MachineFacts
from mmdoctor.errors import ExitCode, UsageError
from mmdoctor.pipnet import Host, PipNetwork
from mmdoctor.planning.hosts import download_hosts
from mmdoctor.planning.matrix import Matrix
from mmdoctor.probe.collect import collect_environment, collect_machine
from mmdoctor.probe.discover import Discovery, discover
from mmdoctor.probe.nvidia import parse_overrides
from mmdoctor.target import Choice, choose_interpreter


class CheckVerdict:
    """What a list of check results comes to: an exit code, a status word, the counts."""

    results: tuple[CheckResult, ...]

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

    def checks_dicts(self) -> list[dict[str, Any]]:
        return [
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
            for r in self.results
        ]


@dataclass(frozen=True)
class CheckReport(CheckVerdict):
    command: str
    environment: Environment
    results: tuple[CheckResult, ...]
    version: str = field(default=__version__)

    def to_dict(self, verbose: bool = False) -> dict[str, Any]:
        return {"environment": self.environment.to_dict(), "checks": self.checks_dicts()}

    def job_keys(self) -> dict[str, Any]:
        """An install's or fix's JSON shows the outcome; the check's problems are in it."""
        return {}


@dataclass(frozen=True)
class MachineReport(CheckVerdict):
    """A bare `check` (no Python environment named or active): the machine's checks, and the
    environments it can see with the stack each holds."""

    machine: MachineFacts
    results: tuple[CheckResult, ...]
    discovery: Discovery

    def to_dict(self, verbose: bool = False) -> dict[str, Any]:
        return {
            "environment": None,  # no target: check's v1 readers find the key, as in an error
            "machine": self.machine.to_dict(),
            "checks": self.checks_dicts(),
            "environments": [found.to_dict() for found in self.discovery.environments],
            "searched": self.discovery.folder,
        }


@dataclass(frozen=True)
class CheckList:
    """--list-checks: (id, title) of every check."""

    checks: tuple[tuple[str, str], ...]

    def to_dict(self, verbose: bool = False) -> dict[str, Any]:
        return {"checks": [{"id": check_id, "title": title} for check_id, title in self.checks]}


def check_environment(
    target: Choice | str | None,
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
    """Probe the `target` interpreter (and the machine) into one Environment and run the checks
    on it; `target`: a Choice, or --python as given (chosen here, as check chooses); `only`
    narrows the checks by id or id prefix; `network`: ask the download hosts too, when a
    selected check reads them. `busy` shows a spinner while this runs, if anyone wants."""
    checks = _selected(only)
    parse_overrides(environ)  # a bad MMDOCTOR_* what-if variable is bad input, said first
    if not isinstance(target, Choice):
        target = choose_interpreter(python=target, environ=environ)
    asks_hosts = network and any(c.id.startswith("network.") for c in checks)

    def hosts(pip: PipNetwork) -> list[Host]:
        return download_hosts(matrix, pip, environ)

    def work() -> CheckReport:
        env = collect_environment(
            target,
            environ=environ,
            step_timeout=timeout,
            max_cuda_for_driver=matrix.max_cuda_for_driver,
            hosts=hosts if asks_hosts else None,
        )
        results = run_checks(Context(env, matrix, cpu_only=cpu_only), checks)
        return CheckReport(command, env, tuple(results))

    return busy(work)


def check_machine(
    matrix: Matrix,
    *,
    cpu_only: bool,
    only: Sequence[str] = (),
    network: bool = False,
    environ: Mapping[str, str] = os.environ,
    folder: Path | None = None,
    busy: Callable[[Callable[[], MachineReport]], MachineReport] = lambda work: work(),
) -> MachineReport:
    """A bare `check`: probe the machine and run its checks, and at the same time find the
    Python environments it can see (`folder`: where to look for venvs, the current one)."""
    checks = _selected(only)
    parse_overrides(environ)
    asks_hosts = network and any(c.id.startswith("network.") for c in checks)

    def hosts(pip: PipNetwork) -> list[Host]:
        return download_hosts(matrix, pip, environ)

    def work() -> MachineReport:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="discover") as pool:
            found = pool.submit(discover, environ, folder or Path.cwd())
            machine = collect_machine(
                environ=environ,
                max_cuda_for_driver=matrix.max_cuda_for_driver,
                hosts=hosts if asks_hosts else None,
            )
            results = run_checks(MachineContext(machine, matrix, cpu_only=cpu_only), checks)
            return MachineReport(machine, tuple(results), found.result())

    return busy(work)


def _selected(only: Sequence[str]) -> list[Check]:
    checks = select(all_checks(), only)
    if only and not checks:
        raise UsageError(f"--only {' '.join(only)}: no such check (see --list-checks)")
    return checks
