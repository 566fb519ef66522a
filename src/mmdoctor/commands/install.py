"""`mmdoctor install`: choose the stack for this machine, show the plan, carry it out.

The way through, option to outcome: `plan_install` validates the options (sources, wishes),
gathers the machine facts (probed, or what-if values), resolves a candidate from the matrix
and builds the plan's exact steps. A dry run returns that. A real run first chooses (or
creates) the destination, shows the plan, asks, and hands the steps to `install.execute`,
which snapshots, runs them, checks the result with `report.check_environment` and rolls back
on any failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmdoctor.commands.interaction import Interaction
from mmdoctor.errors import BuildBlocked, ExitCode, UsageError
from mmdoctor.result import Result

if TYPE_CHECKING:
    from mmdoctor.fix import FixPlan
    from mmdoctor.install.destination import Destination
    from mmdoctor.install.execute import InstallOutcome, Judgement, Verdict
    from mmdoctor.planning.machine import PlanningContext
    from mmdoctor.planning.matrix import Matrix
    from mmdoctor.planning.plan import Plan, Sources
    from mmdoctor.planning.resolver import Resolution


@dataclass(frozen=True)
class InstallOptions:
    python: str | None = None
    venv: Path | None = None
    system: bool = False
    yes: bool = False
    cuda: str | None = None
    cpu: bool = False
    torch: str | None = None
    mmdet: str | None = None
    line: str | None = None
    torch_source: str = "pytorch"
    allow_source_build: bool = True
    installer: str = "mim"
    keep_on_check_failure: bool = False
    index_url: str | None = None
    torch_index_url: str | None = None
    mmcv_base_url: str | None = None
    find_links: Sequence[str] = ()
    driver: str | None = None
    gpu_cc: Sequence[str] = ()
    python_version: str | None = None
    os_name: str | None = None
    arch: str | None = None
    dry_run: bool = False
    export: Path | None = None
    timeout: float = 90.0
    matrix: Path | None = None

    @property
    def planning(self) -> bool:
        return self.dry_run or self.export is not None


@dataclass(frozen=True)
class InstallPlan:
    """What was chosen, and why; the plan is None when nothing fits."""

    resolution: Resolution
    plan: Plan | None
    context: PlanningContext
    exported: Path | None = None  # where --export wrote the plan
    dry_run: bool = True
    next_steps: tuple[str, ...] = ()  # what to do after a dry run, and cheaper options


@dataclass(frozen=True)
class JobDone:
    """An install or fix carried out: how it ended, for which interpreter, after which plan."""

    outcome: InstallOutcome
    executable: str
    plan: Plan | FixPlan  # what was carried out
    reports: tuple[Verdict, ...] = ()  # check reports (or a fleet's) to show before the outcome


# How an install's result is checked: given the interpreter installed into, a check to run
# and how to judge what it returns. Default: `check` of that interpreter, every problem counts.
Verifier = Callable[[str], tuple[Callable[[], "Verdict"], Callable[[Any], "Judgement"]]]


def run(options: InstallOptions, ui: Interaction, verifier: Verifier | None = None) -> Result:
    from mmdoctor.planning.matrix import load_matrix

    options = node_venv(options)
    sources = _sources(options)  # bad input first, before anything is probed
    if not options.planning and not options.yes and not ui.can_ask:
        raise UsageError(
            "install changes an environment and there is no terminal to ask on: add "
            "--yes (or --dry-run to only plan)"
        )
    matrix = load_matrix(str(options.matrix) if options.matrix else None)
    if options.planning:
        chosen = plan_install(options, matrix, sources, *_interpreters(options, None))
        plan = chosen.plan
        if options.export is not None and plan is not None:
            chosen = replace(chosen, exported=_export(plan, matrix, options.export))
        status, code = ("planned", ExitCode.OK) if plan else ("no-plan", ExitCode.PROBLEMS)
        return Result("install", status, code, chosen)
    new_venv = _new_venv(options)
    destination = _destination(options)
    try:
        chosen = plan_install(options, matrix, sources, *_interpreters(options, destination))
        plan = chosen.plan
        if plan is None:
            raise _NoPlan
        _confirm_and_probe(chosen, destination, options, ui)
    except BaseException as exc:
        # stopped before the first step (no plan, not confirmed, blocked, unreachable, Ctrl-C):
        # a venv this run made goes too, so "nothing was changed" holds
        if new_venv is not None:
            _remove_new_venv(*new_venv)
        if isinstance(exc, _NoPlan):
            return Result("install", "no-plan", ExitCode.PROBLEMS, chosen)
        raise
    outcome = carry_out(plan, destination, matrix, options, ui, verifier)
    return Result(
        "install",
        outcome.status,
        outcome.exit_code,
        JobDone(outcome, destination.executable, plan, _final(outcome)),
        (outcome.failure,) if outcome.failure else (),
    )


def node_venv(options: InstallOptions) -> InstallOptions:
    """--venv with %n in it (as in srun's file names): the node's name there ($SLURMD_NODENAME,
    else the host name), so one command gives every node its own venv."""
    if options.venv is None or "%n" not in str(options.venv):
        return options
    import socket

    node = os.environ.get("SLURMD_NODENAME") or socket.gethostname()
    return replace(options, venv=Path(str(options.venv).replace("%n", node)))


class _NoPlan(Exception):
    """Nothing fits: the real run stops before its first step."""


def _new_venv(options: InstallOptions) -> tuple[Path, bool] | None:
    """The --venv folder this run will create a venv in (missing, or empty now) and whether
    the folder is there already; None where there is no such folder."""
    if options.venv is None:
        return None
    folder = options.venv.expanduser().absolute()
    if not folder.exists():
        return folder, False
    return (folder, True) if folder.is_dir() and not any(folder.iterdir()) else None


def _remove_new_venv(folder: Path, existed: bool) -> None:
    if not existed:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for entry in folder.iterdir():  # the user's empty folder stays, empty
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _confirm_and_probe(
    chosen: InstallPlan, destination: Destination, options: InstallOptions, ui: Interaction
) -> None:
    """Show the plan, ask, and probe its package sources: all before the first change."""
    from mmdoctor.install.reach import require_reachable

    plan = chosen.plan
    assert plan is not None
    ui.show(Result("install", "planned", ExitCode.OK, replace(chosen, dry_run=False)))
    if plan.blockers:
        raise BuildBlocked("the source build cannot start here: " + "; ".join(plan.blockers))
    if not options.yes and not ui.confirm(f"Install this into {destination.prefix}?"):
        raise UsageError("not confirmed: nothing was changed")
    require_reachable(plan, destination.executable, os.environ)


def plan_install(
    options: InstallOptions,
    matrix: Matrix,
    sources: Sources,
    python: str | None,
    steps_python: str | None = None,
) -> InstallPlan:
    """The machine (probed, or what-if values), the candidate that fits it best, its steps.
    `python` is probed for its version; the steps run `steps_python` (default: the same)."""
    from mmdoctor.planning import machine as machines
    from mmdoctor.planning.plan import build_plan
    from mmdoctor.planning.resolver import resolve

    wishes = machines.make_wishes(
        matrix,
        cuda=options.cuda,
        cpu=options.cpu,
        torch=options.torch,
        mmdet=options.mmdet,
        allow_source_build=options.allow_source_build,
        line=options.line,
        torch_source=options.torch_source,
    )
    context = machines.gather(
        matrix,
        python=python,
        environ=os.environ,
        driver=options.driver,
        gpu_cc=options.gpu_cc,
        python_version=options.python_version,
        os_name=options.os_name,
        arch=options.arch,
        timeout=options.timeout,
        builds_here=not (options.planning and _what_if(options)),
    )
    if steps_python is not None:
        context = replace(context, executable=steps_python)
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
    return InstallPlan(resolution, plan, context, dry_run=options.planning, next_steps=next_steps)


def _next_steps(options: InstallOptions, planned: bool) -> tuple[str, ...]:
    """After a dry run: how to carry the plan out (on the machine the what-ifs describe)."""
    if not planned or not options.planning:
        return ()
    what_if = _what_if(options)
    if what_if:
        return (
            f"this plan is for the machine that {', '.join(what_if)} describe: there, run "
            "`mmdoctor install` without them (and without --dry-run) to install it",
        )
    return ("to install it: the same command without --dry-run (it asks first; --yes does not)",)


def carry_out(
    plan: Plan,
    destination: Destination,
    matrix: Matrix,
    options: InstallOptions,
    ui: Interaction,
    verifier: Verifier | None = None,
) -> InstallOutcome:
    from mmdoctor.install.execute import (
        every_problem,
        execute,
        install_handlers,
        restore_options,
    )
    from mmdoctor.install.state import EnvState
    from mmdoctor.report import check_environment

    def check_here() -> Verdict:
        cpu = plan.variant == "cpu"
        return check_environment(
            destination.executable, matrix, cpu_only=cpu, timeout=options.timeout
        )

    run_check, judge = verifier(destination.executable) if verifier else (check_here, every_problem)
    system_ok = options.system and destination.externally_managed
    return execute(
        plan.steps,
        destination,
        EnvState(destination.prefix),
        ui.progress(),
        job="install",
        run_check=run_check,
        judge=judge,
        restore_options=restore_options(plan),
        handlers=install_handlers(plan, destination),
        extra_env={"PIP_BREAK_SYSTEM_PACKAGES": "1"} if system_ok else {},
        keep_on_check_failure=options.keep_on_check_failure,
    )


def choose(python: str | None, venv: Path | None, system: bool, timeout: float) -> Destination:
    """The environment install, fix and rollback write to, refused where mmdoctor must not."""
    from mmdoctor.install.destination import choose_destination

    return choose_destination(
        python=python,
        venv=str(venv) if venv is not None else None,
        system=system,
        environ=os.environ,
        timeout=timeout,
    )


def _final(outcome: InstallOutcome) -> tuple[Verdict, ...]:
    """The final check's report, to show where it is not healthy."""
    return (outcome.final_report,) if outcome.final_report is not None else ()


def _interpreters(
    options: InstallOptions, destination: Destination | None
) -> tuple[str | None, str | None]:
    """Which Python the plan is for, and which one its steps run: a dry run plans for the venv
    the real run would use or create, exactly as the real run would."""
    if destination is not None:
        return destination.executable, None
    if options.venv is not None:
        from mmdoctor.install.destination import planned_interpreter

        return planned_interpreter(str(options.venv), options.python)
    return options.python, None


def _what_if(options: InstallOptions) -> list[str]:
    """The what-if options given: they describe a machine other than this one."""
    given = (
        ("--driver", options.driver),
        ("--gpu-cc", options.gpu_cc),
        ("--python-version", options.python_version),
        ("--os", options.os_name),
        ("--arch", options.arch),
    )
    return [name for name, value in given if value]


def _sources(options: InstallOptions) -> Sources:
    from mmdoctor.planning.machine import make_sources

    return make_sources(
        installer=options.installer,
        index_url=options.index_url,
        torch_index_url=options.torch_index_url,
        mmcv_base_url=options.mmcv_base_url,
        find_links=options.find_links,
    )


def _destination(options: InstallOptions) -> Destination:
    return choose(options.python, options.venv, options.system, options.timeout)


def _export(plan: Plan, matrix: Matrix, path: Path) -> Path:
    from mmdoctor import __version__
    from mmdoctor.planning.plan import export_requirements

    try:
        path.write_text(export_requirements(plan, matrix, __version__), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--export {path}: {exc.strerror}") from None
    return path
