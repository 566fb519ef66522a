"""`mmdoctor fleet ...`: the same check on every node of a cluster, through Slurm, in one
summary; or the summary of reports gathered any other way."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from mmdoctor.commands import install
from mmdoctor.commands.install import NODE_VENV
from mmdoctor.commands.interaction import Interaction
from mmdoctor.errors import ExitCode, UsageError
from mmdoctor.fleet.collect import gather, mmdoctor_command
from mmdoctor.fleet.plan import FleetPlanned, install_plan, plan_fleet
from mmdoctor.fleet.reports import NodeReport, gpu_count, read_report_files
from mmdoctor.fleet.slurm import SrunRequest, find_srun
from mmdoctor.fleet.summary import FleetSummary, hostlist, summarise
from mmdoctor.install.outcome import Judgement
from mmdoctor.options import SourceOptions, StackOptions, WhatIfOptions, argv_of
from mmdoctor.planning.machine import Machine, WhatIf
from mmdoctor.planning.matrix import load_matrix
from mmdoctor.result import Result
from mmdoctor.target import choose_interpreter, venv_python


@dataclass(frozen=True)
class FleetCheckOptions:
    nodes: int | None = None
    nodelist: str | None = None
    partition: str | None = None
    python: str | None = None  # the interpreter each node checks (the same path on every node)
    venv: Path | None = None  # or the venv each node checks (fleet install: the one it makes)
    srun_arg: Sequence[str] = ()
    timeout: float = 120.0
    mmdoctor: str | None = None  # how a node starts mmdoctor; default: this one's interpreter
    offline: bool = False
    cpu_only: bool = False
    only: Sequence[str] = ()


@dataclass(frozen=True)
class FleetReportOptions:
    paths: Sequence[Path] = ()


def check_argv(options: FleetCheckOptions) -> list[str]:
    """The command each node runs."""

    argv = [*mmdoctor_command(options.mmdoctor), "check", "--json", *target_argv(options)]
    if options.offline:
        argv.append("--offline")
    if options.cpu_only:
        argv.append("--cpu-only")
    for check in options.only:
        argv += ["--only", check]
    return argv


def target_argv(options: FleetCheckOptions) -> list[str]:
    """--python or --venv, as given, for each node's own mmdoctor (the same path on each)."""
    if options.python and options.venv:
        raise UsageError("--venv and --python name two environments: give one of them")
    if options.venv:
        return ["--venv", str(options.venv)]
    return ["--python", options.python] if options.python else []


def srun_request(options: FleetCheckOptions) -> SrunRequest:

    if options.nodes is not None and options.nodelist:
        raise UsageError("--nodes and --nodelist exclude each other")
    return SrunRequest(
        nodes=options.nodes,
        nodelist=options.nodelist,
        partition=options.partition,
        srun_args=tuple(options.srun_arg),
        timeout=options.timeout,
    )


def run_check(options: FleetCheckOptions, ui: Interaction) -> Result:

    find_srun()  # no srun: exit 2 before anything else
    request = srun_request(options)
    remote = check_argv(options)
    summary = summarise(ui.busy(lambda: gather(request, remote)))
    return Result("fleet check", summary.status, summary.exit_code, summary)


def run_report(options: FleetReportOptions, ui: Interaction) -> Result:

    summary = summarise(read_report_files(options.paths))
    return Result("fleet report", summary.status, summary.exit_code, summary)


@dataclass(frozen=True)
class FleetPlanOptions(FleetCheckOptions, StackOptions):
    matrix: Path | None = None


def run_plan(options: FleetPlanOptions, ui: Interaction) -> Result:

    matrix = load_matrix(str(options.matrix) if options.matrix else None)
    wishes = options.wishes(matrix)  # bad wishes are exit 2 before any node is asked
    reports = gather_facts(options, ui)
    planning = plan_fleet(reports, matrix, wishes)
    python = str(venv_python(options.venv)) if options.venv else options.python
    body = FleetPlanned(
        planning,
        install_plan(planning, matrix, python or "python"),
        tuple(r for r in reports if r.document is None),
    )
    status = "planned" if body.exit_code == 0 else ("blocked" if body.install else "no-plan")
    return Result("fleet plan", status, body.exit_code, body)


def gather_facts(options: FleetCheckOptions, ui: Interaction) -> list[NodeReport]:
    """Every node's report with the facts a plan needs (its NVIDIA checks only: quick)."""

    find_srun()
    request = srun_request(options)
    remote = check_argv(replace(options, only=("nvidia",), offline=True))
    return ui.busy(lambda: gather(request, remote))


SMOKE_GRACE = 30.0  # seconds the srun step outlives each node's smoke-test --timeout


@dataclass(frozen=True)
class FleetSmokeOptions(FleetCheckOptions):
    per_gpu: bool = False  # one task per GPU (--device cuda:local), not one per node
    device: str | None = None
    model: str | None = None
    weights: str = "zoo"
    runs: int | None = None


def smoke_argv(options: FleetSmokeOptions) -> list[str]:

    argv = [*mmdoctor_command(options.mmdoctor), "smoke-test", "--json", *target_argv(options)]
    argv += ["--weights", options.weights, "--timeout", f"{options.timeout:g}"]
    device = options.device or ("cuda:local" if options.per_gpu else None)
    if device:
        argv += ["--device", device]
    if options.model:
        argv += ["--model", options.model]
    if options.runs:
        argv += ["--runs", str(options.runs)]
    return argv


def run_smoke(options: FleetSmokeOptions, ui: Interaction) -> Result:

    # each node's smoke-test has --timeout; the step a little more, so that a node's own
    # timeout is what reports a slow stage
    request = replace(srun_request(options), timeout=options.timeout + SMOKE_GRACE)
    if options.per_gpu:  # as many tasks per node as the nodes have GPUs (the most of any)
        facts = gather_facts(options, ui)
        counts = [gpu_count(r.document) for r in facts if r.document is not None]
        request = replace(request, tasks_per_node=max(counts, default=0) or 1)
    reports = ui.busy(lambda: gather(request, smoke_argv(options), command="smoke-test"))
    summary = summarise(reports)
    return Result("fleet smoke-test", summary.status, summary.exit_code, summary)


@dataclass(frozen=True)
class FleetInstallOptions(FleetPlanOptions, SourceOptions):
    venv: Path | None = None  # on storage every node shares
    yes: bool = False
    install_timeout: float = 90.0  # one probe step of the install (as install's --timeout)
    # per-node venvs instead of a shared one: every node installs (--venv may hold %n), and
    # mmcv is built once, by the first node, into this folder that the others read
    wheelhouse: Path | None = None


INSTALL_STEP_TIMEOUT = 4 * 3600.0  # seconds a node's own install may take (a source build)


def run_install(options: FleetInstallOptions, ui: Interaction) -> Result:
    """Plan for every node, install once into the shared venv (here), then check it on every
    node: anything short of every node healthy rolls the venv back, as `install` does."""
    if options.venv is None:
        raise UsageError("fleet install needs --venv DIR, on storage every node shares")
    if not options.yes and not ui.can_ask:
        raise UsageError(
            "fleet install changes an environment and there is no terminal to ask on: add --yes"
        )
    matrix = load_matrix(str(options.matrix) if options.matrix else None)
    wishes = options.wishes(matrix)
    choice = choose_interpreter(
        python=options.python, venv=options.venv, environ=os.environ, creates=True
    )
    venv = str(venv_python(choice.new_venv)) if choice.new_venv else choice.executable
    # the nodes tell their facts through the Python the venv is (or will be) made from
    reports = gather_facts(replace(options, python=choice.executable, venv=None), ui)
    planning = plan_fleet(reports, matrix, wishes)
    missing = tuple(r for r in reports if r.document is None)
    if not planning.fits_all or missing or planning.machine is None:
        body = FleetPlanned(planning, install_plan(planning, matrix, venv), missing)
        return Result("fleet install", "blocked", ExitCode.PROBLEMS, body)
    machine = planning.machine
    if options.wheelhouse is not None:
        return _install_per_node(options, planning.planned, machine)
    every_node = replace(options, cpu_only=options.cpu_only or options.cpu)  # as install checks
    result = install.run(
        install.InstallOptions(
            **_values(options, StackOptions),
            **_values(options, SourceOptions),
            python=options.python,
            venv=options.venv,
            yes=options.yes,
            timeout=options.install_timeout,
            matrix=options.matrix,
        ),
        ui,
        verifier=lambda python: fleet_verifier(every_node, python),
        # the fleet's machine: its lowest driver and every node's GPU archs (a build covers all)
        what_if=WhatIf(driver=machine.driver, gpu_ccs=machine.gpu_ccs),
    )
    return replace(result, command="fleet install")


def _values(options: object, group: type) -> dict[str, Any]:
    """The values `options` has of `group`'s fields."""
    return {f.name: getattr(options, f.name) for f in fields(group)}


def fleet_verifier(
    options: FleetCheckOptions, python: str
) -> tuple[Callable[[], FleetSummary], Callable[[FleetSummary], Judgement]]:
    """install's check step for a shared venv: `check` of it on every node."""

    request = srun_request(options)
    remote = check_argv(replace(options, python=python, venv=None))

    def check_every_node() -> FleetSummary:
        return summarise(gather(request, remote))

    def judge(summary: FleetSummary) -> Judgement:
        problems = [
            f"{p.node}: {p.check}: {p.summary}" for p in summary.problems if p.status != "warn"
        ]
        problems += [f"{n.node}: {n.reason}" for n in summary.missing]
        return Judgement(tuple(problems))

    return check_every_node, judge


def install_argv(options: FleetInstallOptions, machine: Machine) -> list[str]:
    """The `mmdoctor install` each node runs for its own venv: the fleet's wishes and sources
    as given, and the fleet's machine as what-if values, so every node plans (and keys its
    build) alike."""
    fleet_machine = WhatIfOptions(
        driver=str(machine.driver) if machine.driver is not None else None,
        gpu_cc=tuple(str(cc) for cc in machine.gpu_ccs),
    )
    argv = [*mmdoctor_command(options.mmdoctor), "install", "--venv", str(options.venv)]
    argv += ["--yes", "--json", "--timeout", f"{options.install_timeout:g}"]
    argv += ["--python", options.python] if options.python else []
    argv += ["--matrix", str(options.matrix)] if options.matrix else []
    argv += argv_of(options, StackOptions) + argv_of(options, SourceOptions)
    return argv + argv_of(fleet_machine, WhatIfOptions)


def _install_per_node(
    options: FleetInstallOptions, nodes: Sequence[str], machine: Machine
) -> Result:
    """The first node installs (and builds mmcv into the wheelhouse), then the others at once,
    reading the wheel it built: N nodes, one build."""

    assert options.wheelhouse is not None
    options.wheelhouse.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MMDOCTOR_WHEELHOUSE": str(options.wheelhouse.absolute()), NODE_VENV: "1"}
    remote = install_argv(options, machine)
    step = replace(srun_request(options), nodes=None, timeout=INSTALL_STEP_TIMEOUT)
    first = gather(replace(step, nodelist=nodes[0]), remote, command="install", env=env)
    reports = list(first)
    if len(nodes) > 1:
        if all(r.healthy for r in first):
            rest = replace(step, nodelist=hostlist(nodes[1:]))
            reports += gather(rest, remote, command="install", env=env)
        else:  # its build or install failed: the others would fail the same way
            reason = f"not attempted: the first node's install ({nodes[0]}) failed"
            reports += [NodeReport(node, reason=reason) for node in nodes[1:]]
    summary = summarise(reports)
    status = "installed" if summary.exit_code == 0 else "problems"
    return Result("fleet install", status, summary.exit_code, summary)
