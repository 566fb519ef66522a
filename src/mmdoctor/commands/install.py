"""`mmdoctor install`: choose the stack for this machine, show the plan, carry it out.

The way through, option to outcome: the options are checked first (sources, wishes, what-if
values), then `plan_install` chooses the interpreter and probes it and the machine once
(probe/collect.py, as `check` does), makes the facts a Machine (what-if values in their place)
and asks the resolver and the planner (planning/) for the plan. A dry run returns that. A real
run shows the plan, asks, probes the plan's package sources, creates a new --venv, and hands
the steps to `install.execute`, which snapshots, runs them, checks the result and rolls back on
any failure.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mmdoctor import __version__, shell, signals
from mmdoctor.commands.interaction import Interaction
from mmdoctor.errors import BuildBlocked, Declined, ExitCode, MmdoctorError, UsageError
from mmdoctor.install.execute import execute, install_handlers, restore_options
from mmdoctor.install.outcome import InstallOutcome, JobDone, Judgement, Verdict
from mmdoctor.install.reach import require_reachable
from mmdoctor.install.snapshot import Restore, discard
from mmdoctor.install.state import EnvState, check_state_folder
from mmdoctor.options import SourceOptions, StackOptions, WhatIfOptions
from mmdoctor.paths import require_plain
from mmdoctor.planning.export import export_requirements
from mmdoctor.planning.machine import PlanningContext, WhatIf
from mmdoctor.planning.matrix import Matrix, load_matrix
from mmdoctor.planning.plan import InstallPlan, Plan
from mmdoctor.planning.resolver import resolve
from mmdoctor.planning.sources import Sources
from mmdoctor.planning.stack import plan_stack
from mmdoctor.probe.collect import collect_environment
from mmdoctor.probe.inside import STACK_STEPS
from mmdoctor.report import CheckReport, check_environment
from mmdoctor.result import Result
from mmdoctor.target import Choice, Target, choose_interpreter, default_target, venv_python


@dataclass(frozen=True)
class InstallOptions(StackOptions, SourceOptions, WhatIfOptions):
    python: str | None = None
    venv: Path | None = None
    system: bool = False
    yes: bool = False
    keep_on_check_failure: bool = False
    dry_run: bool = False
    export: Path | None = None
    timeout: float = 90.0
    matrix: Path | None = None
    offline: bool = False  # plan without asking the package sources first

    @property
    def planning(self) -> bool:
        return self.dry_run or self.export is not None


# How an install's result is checked: given the interpreter installed into, a check to run
# and how to judge what it returns. Default: `check` of that interpreter, every problem counts.
Verifier = Callable[[str], tuple[Callable[[], Verdict], Callable[[Any], Judgement]]]


def run(
    options: InstallOptions,
    ui: Interaction,
    *,
    verifier: Verifier | None = None,
    what_if: WhatIf | None = None,
) -> Result:
    """`what_if`: facts of the machine given as values (fleet install: its nodes' lowest driver
    and every GPU arch) in place of the options' own --driver / --gpu-cc."""
    options = node_venv(options)
    require_plain("--export", options.export)
    sources = options.sources()  # bad input first, before anything is probed
    if not options.planning:
        check_state_folder()
    if not options.planning and not options.yes and not ui.can_ask:
        raise UsageError(
            "install changes an environment and there is no terminal to ask on: add "
            "--yes (or --dry-run to only plan)"
        )
    matrix = load_matrix(str(options.matrix) if options.matrix else None)
    chosen = plan_install(options, matrix, sources, what_if)
    plan = chosen.plan
    if plan is None:
        return Result("install", "no-plan", ExitCode.PROBLEMS, chosen)
    if options.planning:
        return _planned(chosen, plan, matrix, options)
    target, fresh = _confirm_and_probe(chosen, plan, options, ui)
    try:
        outcome = carry_out(plan, target, matrix, options, ui, verifier, fresh)
    except BaseException:  # a venv this run made goes, whatever stopped the run
        if fresh is not None:
            with signals.shielded():
                fresh.remove()
        raise
    return Result(
        "install",
        outcome.status,
        outcome.exit_code,
        JobDone(outcome, target.executable, plan, _final(outcome)),
        (outcome.failure,) if outcome.failure else (),
    )


# Set by `fleet install --wheelhouse` for the install each node runs: only there is %n in
# --venv the node's name (elsewhere a folder may have %n in its name).
NODE_VENV = "MMDOCTOR_NODE_VENV"


def node_venv(options: InstallOptions) -> InstallOptions:
    """--venv with %n in it (as in srun's file names), in a node's install of `fleet install
    --wheelhouse` ($MMDOCTOR_NODE_VENV): the node's name there ($SLURMD_NODENAME, else the
    host name), so one command gives every node its own venv."""
    if options.venv is None or "%n" not in str(options.venv) or not os.environ.get(NODE_VENV):
        return options
    node = os.environ.get("SLURMD_NODENAME") or socket.gethostname()
    return replace(options, venv=Path(str(options.venv).replace("%n", node)))


def _planned(chosen: InstallPlan, plan: Plan, matrix: Matrix, options: InstallOptions) -> Result:
    """A dry run's answer, with the exit code the real run would end with before its first
    change: a plan that cannot start here (a source build without its toolchain) is exit 1."""
    if options.export is not None:
        chosen = replace(chosen, exported=_export(plan, matrix, options.export))
    if plan.blockers and chosen.here:  # a plan for another machine says what that one needs
        message = blocked(plan)
        return Result("install", "blocked", ExitCode.PROBLEMS, chosen, ({"message": message},))
    return Result("install", "planned", ExitCode.OK, chosen)


def blocked(plan: Plan) -> str:
    what = "plan" if plan.mmcv_prebuilt else "source build"
    return f"the {what} cannot start here: " + "; ".join(plan.blockers)


@dataclass(frozen=True)
class FreshVenv:
    """A venv this run made: removed on any failure or interruption before it is handed over
    (an empty folder the user gave stays, empty)."""

    folder: Path
    existed: bool

    def remove(self) -> Restore:
        return discard(self.folder, keep_folder=self.existed)


def _confirm_and_probe(
    chosen: InstallPlan, plan: Plan, options: InstallOptions, ui: Interaction
) -> tuple[Target, FreshVenv | None]:
    """Show the plan, stop where it cannot start here, ask (naming each torch, package and
    OpenCV it replaces or removes), check the state folder, make a new --venv: all before the
    first change. The environment the steps change comes back, and the venv made for them, if
    one was."""
    target = chosen.target
    ui.show(Result("install", "planned", ExitCode.OK, replace(chosen, dry_run=False)))
    if plan.blockers:
        raise BuildBlocked(blocked(plan))
    where = chosen.new_venv or Path(target.prefix)
    if not options.yes and not ui.confirm(question(plan, where)):
        raise Declined("not confirmed: nothing was changed")
    EnvState(target.prefix).prepare()  # room for the snapshot and the log, or nothing is made
    if chosen.new_venv is not None and chosen.venv_from is not None:
        return target, _create_venv(chosen.venv_from, chosen.new_venv)
    return target, None


def question(plan: Plan, where: Path) -> str:
    """'Install this into ENV? It replaces torch 2.1.2 with 2.13.0 and removes ...'."""
    changing = [c for c in plan.changes.touched if c.action in ("replace", "remove")]
    said = []
    for change in changing:
        if change.action == "remove":
            said.append(f"removes {change.name} {change.installed}")
        else:
            said.append(f"replaces {change.name} {change.installed} with {change.planned}")
    return f"Install this into {where}?" + (f" It {'; '.join(said)}." if said else "")


def plan_install(
    options: InstallOptions,
    matrix: Matrix,
    sources: Sources,
    what_if: WhatIf | None = None,
) -> InstallPlan:
    """The interpreter, probed once with the machine (or described by what-if values), the
    candidate that fits it best, its steps."""
    wishes = options.wishes(matrix)
    elsewhere = options.planning and bool(options.given())
    choice = _choice(options)
    unnamed = choice is None and not options.python_version  # no target, no --python-version
    asked = _for_this_python(options) if unnamed else options
    what_if = what_if or asked.what_if(matrix, elsewhere=elsewhere)
    described = None
    if what_if.python is not None:  # a plan for another Python: nothing of it is probed
        executable = _steps_python(choice) if choice else "python"
        described = replace(Target.described(what_if.python), executable=executable)
    env = collect_environment(
        described or _probed(choice),
        environ=os.environ,
        step_timeout=options.timeout,
        max_cuda_for_driver=matrix.max_cuda_for_driver,
        steps=STACK_STEPS,
        one_run=True,
        nvidia=what_if.probes_nvidia,
        toolkit=not what_if.elsewhere,
    )
    new_venv = choice.new_venv if choice is not None else None
    here = described is None and not what_if.elsewhere  # the plan is for this environment
    if here and new_venv is None:
        # refused as the real run refuses it: PEP 668 or a system Python, no pip, a lock held
        env.target.require_writable(system=options.system)
        EnvState(env.target.prefix).require_free()
    context = PlanningContext.from_environment(env, what_if)
    what_if.require_platform(matrix, context.machine.os, context.machine.arch)
    venv_from = env.target.executable if new_venv is not None else None
    if new_venv is not None:
        env = replace(env, target=env.target.in_new_venv(new_venv))
        context = replace(context, executable=env.target.executable)
    stack = plan_stack(env, context, wishes, matrix, installer=options.installer, sources=sources)
    resolution, plan = stack.resolution, stack.plan
    if plan is not None and here and not options.offline:
        require_reachable(plan, env.target.pip_network, os.environ)  # before any question
    next_steps = _next_steps(options, plan, here)
    if unnamed:
        next_steps = (
            f"no target was named: this plan is for Python {asked.python_version}, the one "
            "running mmdoctor (--python-version X.Y plans for another)",
            *next_steps,
        )
    if plan is not None and not plan.mmcv_prebuilt and wishes.allow_source_build:
        strict = resolve(context.machine, replace(wishes, allow_source_build=False), matrix)
        next_steps += tuple(f"no build needed {s}" for s in strict.suggestions if "(prebuilt)" in s)
    return InstallPlan(
        resolution,
        plan,
        context,
        env.target,
        dry_run=options.planning,
        next_steps=next_steps,
        new_venv=new_venv,
        venv_from=venv_from,
        here=here,
    )


def _choice(options: InstallOptions) -> Choice | None:
    """The interpreter, as every command chooses it; None for a plan for a Python that is not
    probed: --python-version with no target named, or a what-if dry run with none at all (it
    plans for the Python running mmdoctor, `_for_this_python`)."""
    if options.python_version and not (options.python or options.venv):
        return None
    python, venv, environ = options.python, options.venv, os.environ
    if options.planning and options.given():
        return default_target(python=python, venv=venv, environ=environ, creates=True)
    also = "; a dry run can also plan for another machine's Python with --python-version X.Y"
    return choose_interpreter(
        python=python,
        venv=venv,
        environ=environ,
        writes=not options.planning,
        creates=True,
        also=also if options.planning else "",
    )


def _for_this_python(options: InstallOptions) -> InstallOptions:
    """A what-if dry run with no target: the plan is for the Python running mmdoctor."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return replace(options, python_version=version)


def _probed(choice: Choice | None) -> Choice:
    assert choice is not None, "a target is chosen unless --python-version describes it"
    return choice


def _steps_python(choice: Choice) -> str:
    """The interpreter the steps run: a new venv's own, else the one chosen."""
    return str(venv_python(choice.new_venv)) if choice.new_venv else choice.executable


def _next_steps(options: InstallOptions, plan: Plan | None, here: bool) -> tuple[str, ...]:
    """After a dry run: how to carry the plan out (on the machine the what-ifs describe), only
    where it would run."""
    if plan is None or (plan.blockers and here) or not options.planning:
        return ()
    what_if = options.given()
    if what_if:
        return (
            f"this plan is for the machine that {', '.join(what_if)} describe: there, run "
            "`mmdoctor install` without them (and without --dry-run) to install it",
        )
    return ("to install it: the same command without --dry-run (it asks first; --yes does not)",)


def every_problem(report: CheckReport) -> Judgement:
    """install's judgement: any check that fails or crashes means the install did not hold."""
    failing = [r for r in report.results if r.status.is_problem]
    return Judgement(
        tuple(f"{r.id}: {r.summary}" for r in failing),
        tuple(r.known_failure for r in failing if r.known_failure),
    )


def carry_out(
    plan: Plan,
    target: Target,
    matrix: Matrix,
    options: InstallOptions,
    ui: Interaction,
    verifier: Verifier | None = None,
    fresh: FreshVenv | None = None,
) -> InstallOutcome:
    def check_here() -> Verdict:
        cpu = plan.variant == "cpu"
        return check_environment(
            Choice(target.executable, "--python"),
            matrix,
            cpu_only=cpu,
            timeout=options.timeout,
        )

    run_check, judge = verifier(target.executable) if verifier else (check_here, every_problem)
    system_ok = options.system and target.externally_managed
    return execute(
        plan.steps,
        target,
        EnvState(target.prefix),
        ui.progress(),
        job="install",
        run_check=run_check,
        judge=judge,
        restore_options=restore_options(plan),
        handlers=install_handlers(plan, target),
        extra_env={"PIP_BREAK_SYSTEM_PACKAGES": "1"} if system_ok else {},
        keep_on_check_failure=options.keep_on_check_failure,
        discard=fresh.remove if fresh is not None else None,
    )


def _create_venv(base: str, folder: Path) -> FreshVenv:
    """`python -m venv folder` from the chosen Python, after the plan was confirmed: a venv
    that failed to appear, or was interrupted half-made, goes again."""
    fresh = FreshVenv(folder, folder.exists())
    try:
        result = shell.run([base, "-m", "venv", str(folder)], timeout=300)
    except shell.CommandNotFound as exc:
        fresh.remove()
        raise UsageError(f"{base}: {exc.reason}") from None
    except BaseException:
        with signals.shielded():
            fresh.remove()
        raise
    if not result.ok:
        fresh.remove()
        why = result.last_error_line or "no output"
        raise MmdoctorError(f"could not create the venv {folder}: {why}")
    return fresh


def _final(outcome: InstallOutcome) -> tuple[Verdict, ...]:
    """The final check's report, to show where it is not healthy."""
    return (outcome.final_report,) if outcome.final_report is not None else ()


def _export(plan: Plan, matrix: Matrix, path: Path) -> Path:
    try:
        path.write_text(export_requirements(plan, matrix, __version__), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--export {path}: {exc.strerror}") from None
    return path
