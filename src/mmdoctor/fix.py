"""`mmdoctor fix`: turn what `check` found into steps, and judge whether the fix held.

A failing check about the stack (torch, torchvision, NumPy, mmcv, mmengine, mmdet, OpenCV,
setuptools) is fixed by the changes the one planner makes for this environment, `install`'s
own, pins included: only its changes to the distributions those checks are about. Other advice
is carried out where it runs pip or mim inside the target interpreter; anything else (an apt
package, a driver, the rest of the stack, which is `mmdoctor install`'s) is listed for the user
to do. The steps run through the install executor, so a fix is snapshotted, logged, locked and
rolled back like an install.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmdoctor.checks.model import CheckResult, Status, id_matches
from mmdoctor.environment import Environment
from mmdoctor.planning.changes import OPENCV, Change
from mmdoctor.planning.machine import PlanningContext
from mmdoctor.planning.matrix import Matrix
from mmdoctor.planning.plan import Plan
from mmdoctor.planning.sources import Sources
from mmdoctor.planning.stack import plan_stack
from mmdoctor.planning.steps import Command, Step
from mmdoctor.planning.wishes import Wishes
from mmdoctor.versions import normalize_name

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_TOOLS = (("-m", "pip"), ("-m", "mim"))


@dataclass(frozen=True)
class FixPlan:
    fixing: tuple[CheckResult, ...]  # the checks these steps address (failures, named warnings)
    steps: tuple[Step, ...]  # their commands, then the check
    manual: tuple[str, ...]  # advice mmdoctor does not carry out itself
    changes: tuple[Change, ...] = ()  # the stack's, where install's planner makes the fix

    def to_dict(self) -> dict[str, Any]:
        return {
            "fixing": [
                {"id": r.id, "summary": r.summary, "known_failure": r.known_failure}
                for r in self.fixing
            ],
            "steps": [step.to_dict() for step in self.steps],
            "manual": list(self.manual),
            "changes": [change.to_dict() for change in self.changes],
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


def stack_focus(check_id: str, matrix: Matrix) -> frozenset[str]:
    """The distributions whose changes fix this failing check (none: not the stack's)."""
    mmcv = matrix.module_distributions("mmcv")
    engine = matrix.module_distributions("mmengine")
    torch = ("torch", "torchvision", *mmcv)  # an mmcv built for another torch is rebuilt
    names: dict[str, Iterable[str]] = {
        "torch.import": (*torch, "numpy"),
        "torch.cuda_build": torch,
        "torch.driver": torch,
        "torch.gpu_arch": torch,
        "torchvision.match": torch,
        "numpy.abi": ("numpy",),
        "mmcv.variants": mmcv,
        "mmcv.ops": mmcv,
        "mmcv.cuda": mmcv,
        "mmdet.compat": (*mmcv, *engine, *matrix.module_distributions("mmdet")),
        "mmengine.checkpoint": engine,
        "opencv.duplicates": OPENCV,
        "setuptools.window": ("setuptools",),
    }
    return frozenset(normalize_name(n) for n in names.get(check_id, ()))


def stack_plan_for(
    env: Environment, matrix: Matrix, sources: Sources, *, installer: str, cpu_only: bool
) -> Callable[[frozenset[str]], Plan | None]:
    """install's plan for this environment (a bare install's wishes: the line it holds, the CPU
    where asked), its changes narrowed to a focus: the plan fix carries out."""

    def plan_for(focus: frozenset[str]) -> Plan | None:
        return plan_stack(
            env, PlanningContext.from_environment(env), Wishes(cpu=cpu_only), matrix,
            installer=installer, sources=sources, suggest=False, focus=focus,
        ).plan  # fmt: skip

    return plan_for


def plan_fixes(
    results: Iterable[CheckResult],
    executable: str,
    only: Sequence[str],
    matrix: Matrix,
    plan_for: Callable[[frozenset[str]], Plan | None],
) -> tuple[FixPlan, Plan | None]:
    """The fix for the failing (and named) checks, and the stack plan whose changes it makes,
    if any: `plan_for(focus)` is install's plan for this environment, its changes narrowed to
    those distributions."""
    chosen = selected(results, only)
    focus_of = {r.id: stack_focus(r.id, matrix) for r in chosen}
    focus = frozenset().union(*focus_of.values())
    plan = plan_for(focus) if focus else None
    touched = {normalize_name(c.name) for c in plan.changes.touched} if plan is not None else set()
    # a check the plan's changes are about is fixed by them; any other by its own advice
    on_stack = [r for r in chosen if focus_of[r.id] & touched]
    fixing: list[CheckResult] = list(on_stack)
    steps: list[Step] = [s for s in plan.steps if s.kind != "check"] if on_stack and plan else []
    manual: list[str] = []
    seen = {step.argv for step in steps}
    for result in chosen:
        if result in on_stack:
            continue
        found = _advice_steps(result, executable)
        if found is None:
            manual += _manual(result)
            continue
        fixing.append(result)
        for step in found:
            if step.argv not in seen:  # two checks can advise the same command
                seen.add(step.argv)
                steps.append(step)
    if steps:
        steps.append(
            Step(
                "check again", Command(("mmdoctor", "check", "--python", executable)), kind="check"
            )
        )
    stack = plan if on_stack else None
    changes = stack.changes.items if stack is not None else ()
    return FixPlan(tuple(fixing), tuple(steps), tuple(manual), changes), stack


def _advice_steps(result: CheckResult, executable: str) -> list[Step] | None:
    """The check's advice as steps; None where some of it is not pip or mim in the target."""
    if result.advice is None or not result.advice.commands:
        return None
    commands = result.advice.commands
    runnable = [advice_step(c, executable, result, n) for n, c in enumerate(commands)]
    if any(step is None for step in runnable):
        return None
    return [step for step in runnable if step is not None]


def _manual(result: CheckResult) -> list[str]:
    if result.advice is None or not result.advice.commands:
        return [f"{result.id}: no command fixes this; `mmdoctor check` says why"]
    return [f"{result.id}: {c}" for c in result.advice.commands]


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
