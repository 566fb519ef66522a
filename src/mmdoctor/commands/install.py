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
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mmdoctor import __version__, shell, signals
from mmdoctor.commands.interaction import Interaction
from mmdoctor.errors import BuildBlocked, ExitCode, MmdoctorError, UsageError
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
from mmdoctor.planning.plan import InstallPlan, Plan, build_plan
from mmdoctor.planning.resolver import resolve
from mmdoctor.planning.sources import Sources
from mmdoctor.probe.collect import collect_environment
from mmdoctor.probe.inside import PYTHON_STEP
from mmdoctor.report import CheckReport, check_environment
from mmdoctor.result import Result
from mmdoctor.target import Choice, Target, choose_interpreter, venv_python


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
    if options.planning:
        if options.export is not None and plan is not None:
            chosen = replace(chosen, exported=_export(plan, matrix, options.export))
        status, code = ("planned", ExitCode.OK) if plan else ("no-plan", ExitCode.PROBLEMS)
        return Result("install", status, code, chosen)
    if plan is None:
        return Result("install", "no-plan", ExitCode.PROBLEMS, chosen)
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


def node_venv(options: InstallOptions) -> InstallOptions:
    """--venv with %n in it (as in srun's file names): the node's name there ($SLURMD_NODENAME,
    else the host name), so one command gives every node its own venv."""
    if options.venv is None or "%n" not in str(options.venv):
        return options
    node = os.environ.get("SLURMD_NODENAME") or socket.gethostname()
    return replace(options, venv=Path(str(options.venv).replace("%n", node)))


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
    """Show the plan, ask, probe its package sources, check the state folder, make a new
    --venv: all before the first change. The environment the steps change comes back, and the
    venv made for them, if one was."""
    target = chosen.target
    ui.show(Result("install", "planned", ExitCode.OK, replace(chosen, dry_run=False)))
    if plan.blockers:
        raise BuildBlocked("the source build cannot start here: " + "; ".join(plan.blockers))
    where = chosen.new_venv or Path(target.prefix)
    if not options.yes and not ui.confirm(f"Install this into {where}?"):
        raise UsageError("not confirmed: nothing was changed")
    require_reachable(plan, target.pip_network, os.environ)
    EnvState(target.prefix).prepare()  # room for the snapshot and the log, or nothing is made
    if chosen.new_venv is not None:
        base = _probed(_choice(options)).executable  # the Python the venv is made from
        return target, _create_venv(base, chosen.new_venv)
    return target, None


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
    what_if = what_if or options.what_if(matrix, elsewhere=elsewhere)
    choice = _choice(options)
    described = None
    if what_if.python is not None:  # a plan for another Python: nothing of it is probed
        executable = _steps_python(choice) if choice else "python"
        described = replace(Target.described(what_if.python), executable=executable)
    env = collect_environment(
        described or _probed(choice),
        environ=os.environ,
        step_timeout=options.timeout,
        max_cuda_for_driver=matrix.max_cuda_for_driver,
        steps=(PYTHON_STEP,),
        nvidia=what_if.probes_nvidia,
        toolkit=not what_if.elsewhere,
    )
    target = env.target
    new_venv = choice.new_venv if choice is not None else None
    if described is None and new_venv is None:
        # every step, the snapshot and the restore run this environment's pip
        target.require_pip()
        if not options.planning:
            target.require_writable(system=options.system)
    context = PlanningContext.from_environment(env, what_if)
    what_if.require_platform(matrix, context.machine.os, context.machine.arch)
    if new_venv is not None:
        context = replace(context, executable=str(venv_python(new_venv)))
        target = target.in_new_venv(new_venv)
    resolution = resolve(context.machine, wishes, matrix)
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
            installer=options.installer,
            sources=sources,
            line_reason=resolution.line_reason,
        )
    next_steps = _next_steps(options, plan is not None)
    if plan is not None and not plan.mmcv_prebuilt and wishes.allow_source_build:
        strict = resolve(context.machine, replace(wishes, allow_source_build=False), matrix)
        next_steps += tuple(f"no build needed {s}" for s in strict.suggestions if "(prebuilt)" in s)
    return InstallPlan(
        resolution,
        plan,
        context,
        target,
        dry_run=options.planning,
        next_steps=next_steps,
        new_venv=new_venv,
    )


def _choice(options: InstallOptions) -> Choice | None:
    """The interpreter, as every command chooses it; None for a plan for another machine's
    Python that names none."""
    if options.python_version and not (options.python or options.venv):
        return None
    return choose_interpreter(
        python=options.python,
        venv=options.venv,
        environ=os.environ,
        writes=not options.planning,
    )


def _probed(choice: Choice | None) -> Choice:
    assert choice is not None, "a target is chosen unless --python-version describes it"
    return choice


def _steps_python(choice: Choice) -> str:
    """The interpreter the steps run: a new venv's own, else the one chosen."""
    return str(venv_python(choice.new_venv)) if choice.new_venv else choice.executable


def _next_steps(options: InstallOptions, planned: bool) -> tuple[str, ...]:
    """After a dry run: how to carry the plan out (on the machine the what-ifs describe)."""
    if not planned or not options.planning:
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
