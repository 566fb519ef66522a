"""`mmdoctor fix`: carry out the advice of the checks that fail, then judge whether it held."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mmdoctor.checks import all_checks
from mmdoctor.checks.model import select
from mmdoctor.commands.interaction import Interaction
from mmdoctor.errors import Declined, ExitCode, UsageError
from mmdoctor.fix import FixPlanned, plan_fixes, problems_left, stack_plan_for
from mmdoctor.install.execute import (
    execute,
    install_handlers,
    restore_options,
    source_options,
)
from mmdoctor.install.outcome import JobDone, Judgement
from mmdoctor.install.state import EnvState
from mmdoctor.knowledge import load_knowledge
from mmdoctor.options import SourceOptions
from mmdoctor.planning.matrix import load_matrix
from mmdoctor.report import CheckReport, check_environment
from mmdoctor.result import Result
from mmdoctor.target import choose_interpreter


@dataclass(frozen=True)
class FixOptions(SourceOptions):
    """fix takes install's sources (--installer, the mirrors): the stack's changes it makes
    are install's."""

    python: str | None = None
    venv: Path | None = None
    only: Sequence[str] = ()
    dry_run: bool = False
    yes: bool = False
    system: bool = False
    cpu_only: bool = False
    timeout: float = 90.0
    matrix: Path | None = None


def run(options: FixOptions, ui: Interaction) -> Result:
    _check_only(options.only)
    if not options.dry_run and not options.yes and not ui.can_ask:
        raise UsageError(
            "fix changes an environment and there is no terminal to ask on: add --yes "
            "(or --dry-run to only look)"
        )
    sources = options.sources()  # bad input first, before the probe
    choice = choose_interpreter(
        python=options.python, venv=options.venv, environ=os.environ, writes=not options.dry_run
    )
    matrix = load_matrix(str(options.matrix) if options.matrix else None)

    def probe() -> CheckReport:
        return check_environment(
            choice, matrix, cpu_only=options.cpu_only, timeout=options.timeout, command="fix"
        )

    before = ui.busy(probe)
    env = before.environment
    target = env.target
    if not options.dry_run:
        target.require_writable(system=options.system)
    plan_for = stack_plan_for(
        env, matrix, sources, installer=options.installer, cpu_only=options.cpu_only
    )
    plan, stack = plan_fixes(before.results, target.executable, options.only, matrix, plan_for)
    planned = FixPlanned(plan, target.executable, dry_run=options.dry_run)
    if planned.plan.steps:
        target.require_pip()  # every step runs its pip
    if options.dry_run or planned.nothing:
        code = ExitCode.PROBLEMS if planned.plan.manual else ExitCode.OK
        return Result("fix", "nothing-to-fix" if planned.nothing else "planned", code, planned)
    ui.show(Result("fix", "planned", ExitCode.OK, planned))  # then carried out, below
    if not options.yes and not ui.confirm(f"Apply these fixes to {target.executable}?"):
        raise Declined("not confirmed: nothing was changed")

    def judge(after: CheckReport) -> Judgement:
        return Judgement(tuple(problems_left(before.results, after.results, planned.plan.fixing)))

    outcome = execute(
        planned.plan.steps,
        target,
        EnvState(target.prefix),
        ui.progress(),
        job="fix",
        run_check=probe,
        judge=judge,
        restore_options=restore_options(stack)
        if stack is not None
        else source_options(options.index_url, options.find_links),
        # the plan's torch check and mmcv build, with its cache, as install runs them
        handlers=install_handlers(stack, target) if stack is not None else None,
        success="fixed",
    )
    errors = (outcome.failure,) if outcome.failure else ()
    body = JobDone(outcome, target.executable, planned.plan)
    return Result("fix", outcome.status, outcome.exit_code, body, errors)


def _check_only(only: Sequence[str]) -> None:
    """--only names check ids, id prefixes or known-failure ids."""
    checks = all_checks()
    known_ids = {f.id for f in load_knowledge().failures}
    for wanted in only:
        if not select(checks, [wanted]) and wanted not in known_ids:
            raise UsageError(f"--only {wanted}: no such check or known failure")
