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

from mmdoctor import __version__, shell
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
from mmdoctor.checks.torch import stack_plan
from mmdoctor.environment import Environment, MachineFacts
from mmdoctor.errors import ExitCode, UsageError
from mmdoctor.fix import plan_fixes, stack_plan_for
from mmdoctor.pipnet import Host, PipNetwork
from mmdoctor.planning.hosts import download_hosts, plan_hosts, zoo_host
from mmdoctor.planning.matrix import Matrix
from mmdoctor.planning.sources import DEFAULT_INSTALLER, Sources
from mmdoctor.probe.collect import collect_environment, collect_machine
from mmdoctor.probe.discover import Discovery, discover
from mmdoctor.probe.nvidia import parse_overrides
from mmdoctor.target import Choice, choose_interpreter


@dataclass(frozen=True)
class NextStep:
    """The one command for the problems found: install (the stack is not there) or fix (it
    is, and its problems are ones fix changes), and what that command keeps, adds, replaces
    and removes."""

    command: str
    changes: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    next: NextStep | None = None

    def to_dict(self, verbose: bool = False) -> dict[str, Any]:
        return {
            "environment": self.environment.to_dict(),
            "checks": self.checks_dicts(),
            "next": self.next.to_dict() if self.next is not None else None,
        }

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


def next_step(results: Sequence[CheckResult], ctx: Context) -> NextStep | None:
    """What to run for the problems found, by the one planner: `install` where torch is here
    without the rest of the stack, else `fix` where it has steps for them; None where neither
    does anything (a driver, an apt package)."""
    failing = [r for r in results if r.status.is_problem]
    if not failing:
        return None
    python = shell.quote(ctx.env.target.executable)
    if any(r.id == "stack.complete" for r in failing):
        plan = stack_plan(ctx).plan
        if plan is not None:
            return NextStep(f"mmdoctor install --python {python}", plan.changes.summary())
    plan_for = stack_plan_for(
        ctx.env, ctx.matrix, Sources(), installer=DEFAULT_INSTALLER, cpu_only=ctx.cpu_only
    )
    fixes, stack = plan_fixes(results, ctx.env.target.executable, (), ctx.matrix, plan_for)
    if not fixes.steps:
        return None
    fixing = ", ".join(r.id for r in fixes.fixing)
    said = stack.changes.summary() if stack is not None else ""
    return NextStep(f"mmdoctor fix --python {python}", said or f"the advice of {fixing}")


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
    memo: dict[str, Any] = {}  # the plan for the environment, made once for hosts and checks

    def hosts(env: Environment) -> list[Host]:
        """The hosts the plan for this environment would use, where one fits."""
        plan = stack_plan(Context(env, matrix, cpu_only=cpu_only, memo=memo)).plan
        pip = env.target.pip_network
        if plan is None:
            return download_hosts(matrix, pip, environ)
        return [*plan_hosts(plan, pip, environ), *zoo_host(matrix)]

    def work() -> CheckReport:
        env = collect_environment(
            target,
            environ=environ,
            step_timeout=timeout,
            max_cuda_for_driver=matrix.max_cuda_for_driver,
            hosts=hosts if asks_hosts else None,
        )
        context = Context(env, matrix, cpu_only=cpu_only, memo=memo)
        results = run_checks(context, checks)
        return CheckReport(command, env, tuple(results), next=next_step(results, context))

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
