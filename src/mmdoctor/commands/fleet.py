"""`mmdoctor fleet ...`: the same check on every node of a cluster, through Slurm, in one
summary; or the summary of reports gathered any other way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mmdoctor.commands.interaction import Interaction
from mmdoctor.result import Result

if TYPE_CHECKING:
    from mmdoctor.fleet.slurm import SrunRequest


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
