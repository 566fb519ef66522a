"""`mmdoctor fleet ...`: the same check on every node of a cluster, through Slurm, in one
summary; or the summary of reports gathered any other way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from mmdoctor.commands.interaction import Interaction
from mmdoctor.result import Result

if TYPE_CHECKING:
    from mmdoctor.commands.install import InstallPlan
    from mmdoctor.errors import ExitCode
    from mmdoctor.fleet.plan import FleetPlanning
    from mmdoctor.fleet.reports import NodeReport
    from mmdoctor.fleet.slurm import SrunRequest
    from mmdoctor.fleet.summary import FleetSummary
    from mmdoctor.install.execute import Judgement
    from mmdoctor.planning.matrix import Matrix
    from mmdoctor.planning.resolver import Machine, Wishes


@dataclass(frozen=True)
class FleetCheckOptions:
    nodes: int | None = None
    nodelist: str | None = None
    partition: str | None = None
    python: str | None = None  # the interpreter each node checks (the same path on every node)
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
    from mmdoctor.fleet.collect import mmdoctor_command

    argv = [*mmdoctor_command(options.mmdoctor), "check", "--json"]
    if options.python:
        argv += ["--python", options.python]
    if options.offline:
        argv.append("--offline")
    if options.cpu_only:
        argv.append("--cpu-only")
    for check in options.only:
        argv += ["--only", check]
    return argv


def srun_request(options: FleetCheckOptions) -> SrunRequest:
    from mmdoctor.errors import UsageError
    from mmdoctor.fleet.slurm import SrunRequest

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
    from mmdoctor.fleet.collect import gather
    from mmdoctor.fleet.slurm import find_srun
    from mmdoctor.fleet.summary import summarise

    find_srun()  # no srun: exit 2 before anything else
    request = srun_request(options)
    remote = check_argv(options)
    summary = summarise(ui.busy(lambda: gather(request, remote)))
    return Result("fleet check", summary.status, summary.exit_code, summary)


def run_report(options: FleetReportOptions, ui: Interaction) -> Result:
    from mmdoctor.fleet.reports import read_report_files
    from mmdoctor.fleet.summary import summarise

    summary = summarise(read_report_files(options.paths))
    return Result("fleet report", summary.status, summary.exit_code, summary)


@dataclass(frozen=True)
class FleetPlanOptions(FleetCheckOptions):
    cpu: bool = False
    cuda: str | None = None
    torch: str | None = None
    mmdet: str | None = None
    line: str | None = None
    torch_source: str = "pytorch"
    allow_source_build: bool = True
    matrix: Path | None = None


@dataclass(frozen=True)
class FleetPlanned:
    """fleet plan: the stack for the nodes that reported, and the nodes it leaves out."""

    planning: FleetPlanning
    install: InstallPlan | None  # the plan as `install` shows it; None: nothing fits
    missing: tuple[NodeReport, ...]  # nodes that gave no facts

    @property
    def exit_code(self) -> ExitCode:
        from mmdoctor.errors import ExitCode

        whole = self.planning.fits_all and not self.missing
        return ExitCode.OK if whole else ExitCode.PROBLEMS


def run_plan(options: FleetPlanOptions, ui: Interaction) -> Result:
    from mmdoctor.fleet.plan import plan_fleet
    from mmdoctor.planning.matrix import load_matrix

    matrix = load_matrix(str(options.matrix) if options.matrix else None)
    wishes = _wishes(options, matrix)  # bad wishes are exit 2 before any node is asked
    reports = gather_facts(options, ui)
    planning = plan_fleet(reports, matrix, wishes)
    body = FleetPlanned(
        planning,
        install_plan(planning, matrix, options.python or "python"),
        tuple(r for r in reports if r.document is None),
    )
    status = "planned" if body.exit_code == 0 else ("blocked" if body.install else "no-plan")
    return Result("fleet plan", status, body.exit_code, body)


def _wishes(options: FleetPlanOptions, matrix: Matrix) -> Wishes:
    from mmdoctor.planning.machine import make_wishes

    return make_wishes(
        matrix,
        cuda=options.cuda,
        cpu=options.cpu,
        torch=options.torch,
        mmdet=options.mmdet,
        allow_source_build=options.allow_source_build,
        line=options.line,
        torch_source=options.torch_source,
    )


def gather_facts(options: FleetCheckOptions, ui: Interaction) -> list[NodeReport]:
    """Every node's report with the facts a plan needs (its NVIDIA checks only: quick)."""
    from mmdoctor.fleet.collect import gather
    from mmdoctor.fleet.slurm import find_srun

    find_srun()
    request = srun_request(options)
    remote = check_argv(replace(options, only=("nvidia",), offline=True))
    return ui.busy(lambda: gather(request, remote))


def install_plan(planning: FleetPlanning, matrix: Matrix, executable: str) -> InstallPlan | None:
    from mmdoctor.commands.install import InstallPlan
    from mmdoctor.environment import HostInfo
    from mmdoctor.planning.machine import PlanningContext
    from mmdoctor.planning.plan import build_plan

    if planning.resolution is None or planning.machine is None:
        return None
    machine, resolution = planning.machine, planning.resolution
    host = HostInfo(os=machine.os, machine=machine.arch)
    context = PlanningContext(machine, executable, host, None, planning.sources)
    plan = None
    if resolution.chosen is not None:
        plan = build_plan(
            resolution.chosen,
            machine,
            matrix,
            executable=executable,
            line_reason=resolution.line_reason,
        )
    return InstallPlan(resolution, plan, context, dry_run=True)


SMOKE_GRACE = 30.0  # seconds the srun step outlives each node's smoke-test --timeout


@dataclass(frozen=True)
class FleetSmokeOptions(FleetCheckOptions):
    per_gpu: bool = False  # one task per GPU (--device cuda:local), not one per node
    device: str | None = None
    model: str | None = None
    weights: str = "zoo"
    runs: int | None = None


def smoke_argv(options: FleetSmokeOptions) -> list[str]:
    from mmdoctor.fleet.collect import mmdoctor_command

    argv = [*mmdoctor_command(options.mmdoctor), "smoke-test", "--json"]
    argv += ["--weights", options.weights, "--timeout", f"{options.timeout:g}"]
    device = options.device or ("cuda:local" if options.per_gpu else None)
    for flag, value in (("--python", options.python), ("--device", device)):
        if value:
            argv += [flag, value]
    if options.model:
        argv += ["--model", options.model]
    if options.runs:
        argv += ["--runs", str(options.runs)]
    return argv


def run_smoke(options: FleetSmokeOptions, ui: Interaction) -> Result:
    from mmdoctor.fleet.collect import gather
    from mmdoctor.fleet.reports import gpu_count
    from mmdoctor.fleet.summary import summarise

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
class FleetInstallOptions(FleetPlanOptions):
    venv: Path | None = None  # on storage every node shares
    yes: bool = False
    installer: str = "mim"
    index_url: str | None = None
    torch_index_url: str | None = None
    mmcv_base_url: str | None = None
    find_links: Sequence[str] = ()
    install_timeout: float = 90.0  # one probe step of the install (as install's --timeout)
    # per-node venvs instead of a shared one: every node installs (--venv may hold %n), and
    # mmcv is built once, by the first node, into this folder that the others read
    wheelhouse: Path | None = None


INSTALL_STEP_TIMEOUT = 4 * 3600.0  # seconds a node's own install may take (a source build)


def run_install(options: FleetInstallOptions, ui: Interaction) -> Result:
    """Plan for every node, install once into the shared venv (here), then check it on every
    node: anything short of every node healthy rolls the venv back, as `install` does."""
    from mmdoctor.commands import install
    from mmdoctor.errors import ExitCode, UsageError
    from mmdoctor.fleet.plan import plan_fleet
    from mmdoctor.install.destination import planned_interpreter
    from mmdoctor.planning.matrix import load_matrix

    if options.venv is None:
        raise UsageError("fleet install needs --venv DIR, on storage every node shares")
    if not options.yes and not ui.can_ask:
        raise UsageError(
            "fleet install changes an environment and there is no terminal to ask on: add --yes"
        )
    matrix = load_matrix(str(options.matrix) if options.matrix else None)
    wishes = _wishes(options, matrix)
    base, venv_python = planned_interpreter(str(options.venv), options.python)
    reports = gather_facts(replace(options, python=base), ui)
    planning = plan_fleet(reports, matrix, wishes)
    missing = tuple(r for r in reports if r.document is None)
    if not planning.fits_all or missing or planning.machine is None:
        body = FleetPlanned(planning, install_plan(planning, matrix, venv_python), missing)
        return Result("fleet install", "blocked", ExitCode.PROBLEMS, body)
    machine = planning.machine
    if options.wheelhouse is not None:
        return _install_per_node(options, planning.planned, machine)
    chosen = install.InstallOptions(
        python=options.python,
        venv=options.venv,
        yes=options.yes,
        cuda=options.cuda,
        cpu=options.cpu,
        torch=options.torch,
        mmdet=options.mmdet,
        line=options.line,
        torch_source=options.torch_source,
        allow_source_build=options.allow_source_build,
        installer=options.installer,
        index_url=options.index_url,
        torch_index_url=options.torch_index_url,
        mmcv_base_url=options.mmcv_base_url,
        find_links=options.find_links,
        # the fleet's machine: its lowest driver and every node's GPU archs (a build covers all)
        driver=str(machine.driver) if machine.driver is not None else None,
        gpu_cc=tuple(str(cc) for cc in machine.gpu_ccs),
        timeout=options.install_timeout,
        matrix=options.matrix,
    )
    every_node = replace(options, cpu_only=options.cpu_only or options.cpu)  # as install checks
    result = install.run(chosen, ui, verifier=lambda python: fleet_verifier(every_node, python))
    return replace(result, command="fleet install")


def fleet_verifier(
    options: FleetCheckOptions, python: str
) -> tuple[Callable[[], FleetSummary], Callable[[FleetSummary], Judgement]]:
    """install's check step for a shared venv: `check` of it on every node."""
    from mmdoctor.fleet.collect import gather
    from mmdoctor.fleet.summary import summarise
    from mmdoctor.install.execute import Judgement

    request = srun_request(options)
    remote = check_argv(replace(options, python=python))

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
    """The `mmdoctor install` each node runs for its own venv: the fleet's plan wishes, and
    the fleet's machine as what-if values, so every node plans (and keys its build) alike."""
    from mmdoctor.fleet.collect import mmdoctor_command

    argv = [*mmdoctor_command(options.mmdoctor), "install", "--venv", str(options.venv)]
    argv += ["--yes", "--json", "--installer", options.installer]
    argv += ["--torch-source", options.torch_source, "--timeout", f"{options.install_timeout:g}"]
    flags = {
        "--python": options.python,
        "--cuda": options.cuda,
        "--torch": options.torch,
        "--mmdet": options.mmdet,
        "--line": options.line,
        "--index-url": options.index_url,
        "--torch-index-url": options.torch_index_url,
        "--mmcv-base-url": options.mmcv_base_url,
        "--matrix": str(options.matrix) if options.matrix else None,
        "--driver": str(machine.driver) if machine.driver is not None else None,
    }
    argv += [part for flag, value in flags.items() if value for part in (flag, value)]
    argv += [part for link in options.find_links for part in ("--find-links", link)]
    argv += [part for cc in machine.gpu_ccs for part in ("--gpu-cc", str(cc))]
    argv.append("--cpu" if options.cpu else "")
    argv.append("--allow-source-build" if options.allow_source_build else "--no-source-build")
    return [part for part in argv if part]


def _install_per_node(
    options: FleetInstallOptions, nodes: Sequence[str], machine: Machine
) -> Result:
    """The first node installs (and builds mmcv into the wheelhouse), then the others at once,
    reading the wheel it built: N nodes, one build."""
    import os

    from mmdoctor.fleet.collect import gather
    from mmdoctor.fleet.reports import NodeReport
    from mmdoctor.fleet.summary import hostlist, summarise

    assert options.wheelhouse is not None
    options.wheelhouse.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MMDOCTOR_WHEELHOUSE": str(options.wheelhouse.absolute())}
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
