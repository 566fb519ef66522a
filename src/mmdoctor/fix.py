"""`mmdoctor fix`: turn what `check` found into steps, and judge whether the fix held.

Only advice that runs pip or mim inside the target interpreter is carried out; anything else
(an apt package, a driver) is listed for the user to do. The steps run through the install
executor, so a fix is snapshotted, logged, locked and rolled back like an install.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmdoctor.checks.model import CheckResult, Status, id_matches
from mmdoctor.planning.steps import Command, Step

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_TOOLS = (("-m", "pip"), ("-m", "mim"))


@dataclass(frozen=True)
class FixPlan:
    fixing: tuple[CheckResult, ...]  # the checks these steps address (failures, named warnings)
    steps: tuple[Step, ...]  # their commands, then the check
    manual: tuple[str, ...]  # advice mmdoctor does not carry out itself

    def to_dict(self) -> dict[str, Any]:
        return {
            "fixing": [
                {"id": r.id, "summary": r.summary, "known_failure": r.known_failure}
                for r in self.fixing
            ],
            "steps": [step.to_dict() for step in self.steps],
            "manual": list(self.manual),
        }


@dataclass(frozen=True)
class FixPlanned:
    """`fix --dry-run`, or a fix about to be carried out: its plan, for which interpreter."""

    plan: FixPlan
    executable: str
    dry_run: bool = True

    @property
    def nothing(self) -> bool:
        return not self.plan.steps

    def to_dict(self, verbose: bool = False) -> dict[str, Any]:
        return {"target": self.executable, "plan": self.plan.to_dict()}


def selected(results: Iterable[CheckResult], only: Sequence[str]) -> list[CheckResult]:
    """What fix takes on: failing checks, and warnings that `only` names (by check id, id
    prefix or known-failure id); `only` narrows the failures too."""
    out = []
    for result in results:
        named = any(id_matches(result.id, o) or result.known_failure == o for o in only)
        if only and not named:
            continue
        if result.status.is_problem or (named and result.status == Status.WARN):
            out.append(result)
    return out


def plan_fixes(results: Iterable[CheckResult], executable: str, only: Sequence[str]) -> FixPlan:
    fixing: list[CheckResult] = []
    steps: list[Step] = []
    manual: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for result in selected(results, only):
        if result.advice is None or not result.advice.commands:
            manual.append(f"{result.id}: no command fixes this; `mmdoctor check` says why")
            continue
        commands = result.advice.commands
        runnable = [advice_step(c, executable, result, n) for n, c in enumerate(commands)]
        if not runnable or any(step is None for step in runnable):
            manual.extend(f"{result.id}: {c}" for c in result.advice.commands)
            continue
        fixing.append(result)
        for step in runnable:
            assert step is not None
            if step.argv not in seen:  # two checks can advise the same command
                seen.add(step.argv)
                steps.append(step)
    if steps:
        steps.append(
            Step(
                "check again", Command(("mmdoctor", "check", "--python", executable)), kind="check"
            )
        )
    return FixPlan(tuple(fixing), tuple(steps), tuple(manual))


def advice_step(command: str, executable: str, result: CheckResult, number: int = 0) -> Step | None:
    """`VAR=1 /env/bin/python -m pip install "x<2"` -> a Step (argv + env); None for anything
    that is not pip or mim in this interpreter: mmdoctor never runs a shell or sudo. The first
    command of a finding says why; the ones after it (`number`) say what they do."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    env: dict[str, str] = {}
    while words and _ASSIGNMENT.match(words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    if len(words) < 4 or Path(words[0]) != Path(executable) or tuple(words[1:3]) not in _TOOLS:
        return None
    if number:  # the fix's text was said by its first step
        doing = " ".join(w for w in words[3:] if not w.startswith("-"))
        return Step(f"{result.id}, then: {doing}", Command(tuple(words)), env=env)
    known = f" [{result.known_failure}]" if result.known_failure else ""
    why = result.advice.text.rstrip(":") if result.advice else ""
    return Step(f"{result.id}{known}: {why}", Command(tuple(words)), env=env)


def problems_left(
    before: Iterable[CheckResult], after: Iterable[CheckResult], fixing: Iterable[CheckResult]
) -> list[str]:
    """Why a fix did not hold: a fixed check still failing, or a check that passed before and
    fails now (the fix broke something else)."""
    was = {r.id: r.status for r in before}
    targets = {r.id for r in fixing}
    left = []
    for result in after:
        if not result.status.is_problem:
            continue
        if result.id in targets:
            left.append(f"{result.id} still fails: {result.summary}")
        elif was.get(result.id) in (Status.OK, Status.WARN, Status.SKIP):
            left.append(f"{result.id} failed after the fix: {result.summary}")
    return left
