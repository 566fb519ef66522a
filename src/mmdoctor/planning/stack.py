"""The one planner every command shares (install, fix, check's advice, diagnose --python):
the stack for an environment, starting from what it holds.

A torch that runs here, and for which some stack exists, is kept, and the rest is fitted to
it; otherwise (it cannot work here, nothing fits it, or the user asked for another with
--torch or --cuda) the torch is planned like any other, and the plan says why the installed
one goes. The environment's own pip constraints bound every choice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mmdoctor.environment import Environment
from mmdoctor.planning.constraints import Constraints
from mmdoctor.planning.current import InstalledTorch, installed_torch
from mmdoctor.planning.machine import PlanningContext
from mmdoctor.planning.matrix import Matrix, minor
from mmdoctor.planning.plan import Plan, build_plan
from mmdoctor.planning.resolver import Rejection, Resolution, resolve
from mmdoctor.planning.sources import Sources
from mmdoctor.planning.wishes import Wishes, cuda_tag, exact_torch


@dataclass(frozen=True)
class StackPlan:
    """What an environment gets: the resolution, its plan (None: nothing fits), the installed
    torch, and why that torch goes where it does ("" where it stays or there is none)."""

    resolution: Resolution
    plan: Plan | None
    installed: InstalledTorch | None
    torch_why: str = ""


def plan_stack(
    env: Environment,
    context: PlanningContext,
    wishes: Wishes,
    matrix: Matrix,
    *,
    installer: str,
    sources: Sources,
    suggest: bool = True,
    focus: frozenset[str] | None = None,
) -> StackPlan:
    """The plan for this environment and machine (`context`, what-if values in it); `focus`:
    only its changes to these distributions (fix)."""
    installed = installed_torch(env, matrix, cpu_only=wishes.cpu)
    wishes = replace(wishes, constraints=Constraints.parse(env.target.constraints))
    lines = matrix.lines_among(d.name for d in env.target.distributions)
    if wishes.line is None and len(lines) == 1:  # the line the environment holds stays
        wishes = replace(wishes, line=lines[0], line_why="the line this environment holds")
    resolution, why = _resolve(installed, context, wishes, matrix, suggest=suggest)
    plan = None
    if resolution.chosen is not None:
        plan = build_plan(
            resolution.chosen,
            context.machine,
            matrix,
            executable=context.executable,
            cpu_count=context.host.cpu_count,
            memory_bytes=context.host.memory_total_bytes,
            gcc=context.gcc,
            installer=installer,
            sources=sources,
            line_reason=resolution.line_reason,
            target=env.target,
            torch_why=why,
            focus=focus,
        )
    return StackPlan(resolution, plan, installed, why if installed is not None else "")


def _resolve(
    installed: InstalledTorch | None,
    context: PlanningContext,
    wishes: Wishes,
    matrix: Matrix,
    *,
    suggest: bool,
) -> tuple[Resolution, str]:
    machine = context.machine
    pinned = _pinned_otherwise(wishes)
    if pinned is not None:
        return Resolution(machine, wishes, None, (pinned,)), ""
    if installed is None:
        return resolve(machine, wishes, matrix, suggest=suggest), ""
    why = asked_otherwise(installed, wishes) or installed.unfit
    if not why:
        kept = resolve(machine, replace(wishes, installed=installed), matrix, suggest=False)
        if kept.chosen is not None:
            return kept, ""
        first = kept.rejected[0].reason if kept.rejected else "the matrix has no stack for it"
        why = f"no stack fits torch {installed.version} here ({first})"
    return resolve(machine, wishes, matrix, suggest=suggest), why


def _pinned_otherwise(wishes: Wishes) -> Rejection | None:
    """--torch asking for a release the environment's own constraints forbid: refused as
    such, in one line, not as a rejection of every candidate."""
    if wishes.torch is None:
        return None
    asked = exact_torch(wishes) or f"{minor(wishes.torch)}.*"
    constraint = wishes.constraints.forbids("torch", asked)
    if constraint is None:
        return None
    reason = f"the environment's constraint {constraint.source} forbids it"
    return Rejection(f"--torch {wishes.torch}", reason)


def asked_otherwise(installed: InstalledTorch, wishes: Wishes) -> str:
    """Why the wishes ask for another torch than the one installed ("" where they do not)."""
    if wishes.torch is not None:
        exact = exact_torch(wishes)
        same = (
            installed.public == exact if exact else minor(installed.release) == minor(wishes.torch)
        )
        if not same:
            return f"--torch {wishes.torch} asks for another"
    if wishes.cuda is not None and cuda_tag(wishes.cuda) != installed.build:
        return f"--cuda {wishes.cuda} asks for another build ({installed.build} is installed)"
    return ""
