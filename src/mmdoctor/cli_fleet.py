"""`mmdoctor fleet ...`: the Typer declarations of the fleet commands (cli.py adds them as a
group). Like cli.py, no logic: each command hands its parameters to cli_support.serve."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mmdoctor.cli_support import (
    AllowSourceBuildOption,
    CpuOnlyOption,
    CpuOption,
    CudaOption,
    DebugOption,
    FindLinksOption,
    IndexUrlOption,
    InstallerOption,
    JsonOption,
    LineOption,
    MatrixOption,
    MmcvBaseUrlOption,
    MmdetOption,
    PythonOption,
    SmokeDeviceOption,
    SmokeModelOption,
    SmokeRunsOption,
    SmokeWeightsOption,
    TorchIndexUrlOption,
    TorchOption,
    TorchSourceOption,
    VenvOption,
    YesOption,
    serve,
)

fleet_app = typer.Typer(
    name="fleet",
    help="Check many nodes at once through Slurm, or summarise their reports.",
    short_help="Check, plan, install and smoke-test many nodes through Slurm.",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
Opt = typer.Option

NodesOption = Annotated[
    int | None, Opt("--nodes", "-N", metavar="N", min=1, help="Any N nodes (srun --nodes).")
]
NodelistOption = Annotated[
    str | None,
    Opt(
        "--nodelist",
        "-w",
        metavar="LIST",
        help="These nodes, as a Slurm host list (node1,gpu[01-16]). Default: every node of the "
        "partition.",
    ),
]
PartitionOption = Annotated[
    str | None, Opt("--partition", "-p", metavar="P", help="The Slurm partition.")
]
SrunArgOption = Annotated[
    list[str] | None,
    Opt(
        "--srun-arg",
        metavar="ARG",
        help="One more argument for srun, such as --account=vision (repeatable).",
    ),
]
FleetTimeoutOption = Annotated[
    float,
    Opt(
        "--timeout",
        metavar="SECONDS",
        min=1.0,
        help="Seconds the nodes have to report; a node that has not by then is named as timed out.",
    ),
]
MmdoctorOption = Annotated[
    str | None,
    Opt(
        "--mmdoctor",
        metavar="COMMAND",
        help="How a node starts mmdoctor. Default: this mmdoctor's own interpreter path "
        "(`python -m mmdoctor`), which the nodes share when it sits on shared storage.",
    ),
]
JunitOption = Annotated[
    Path | None,
    Opt(
        "--junit",
        metavar="FILE",
        help="Also write a JUnit XML file: one test suite per node, one test case per check.",
    ),
]
OfflineOption = Annotated[
    bool, Opt("--offline", help="The nodes do not ask the package index and download hosts.")
]


@fleet_app.command("check", short_help="Run `mmdoctor check` on every node and summarise.")
def fleet_check(
    nodes: NodesOption = None,
    nodelist: NodelistOption = None,
    partition: PartitionOption = None,
    python: PythonOption = None,
    venv: VenvOption = None,
    srun_arg: SrunArgOption = None,
    timeout: FleetTimeoutOption = 120.0,
    mmdoctor: MmdoctorOption = None,
    offline: OfflineOption = False,
    cpu_only: CpuOnlyOption = False,
    only: Annotated[
        list[str] | None,
        Opt("--only", metavar="ID", help="Each node runs only checks with this id or prefix."),
    ] = None,
    json_output: JsonOption = False,
    junit: JunitOption = None,
    debug: DebugOption = False,
) -> None:
    """Run `mmdoctor check` on every node (one srun task per node) and summarise: nodes
    grouped by their driver, GPUs and stack, the odd ones out, failing checks by node, and the
    nodes that gave no report, with why.

    Exit codes: 0 every node healthy, 1 a node has problems or gave no report, 2 bad input
    (no srun, a bad node list), 4 could not run.
    """
    from mmdoctor.commands import fleet as command

    serve("fleet check", command.run_check, command.FleetCheckOptions, locals())


@fleet_app.command("report", short_help="Summarise `check --json` reports gathered any other way.")
def fleet_report(
    paths: Annotated[list[Path], typer.Argument(metavar="FILE|DIR...", show_default=False)],
    json_output: JsonOption = False,
    junit: JunitOption = None,
    debug: DebugOption = False,
) -> None:
    """The fleet summary of `check --json` reports gathered any other way (a Kubernetes
    Indexed Job, Ansible, pdsh): each FILE, and every *.json under each DIR, is one node.

    Exit codes: 0 every node healthy, 1 a node has problems or an unreadable report, 2 bad input.
    """
    from mmdoctor.commands import fleet as command

    serve("fleet report", command.run_report, command.FleetReportOptions, locals())


@fleet_app.command("plan", short_help="One stack for every node, for an environment they share.")
def fleet_plan(
    nodes: NodesOption = None,
    nodelist: NodelistOption = None,
    partition: PartitionOption = None,
    python: PythonOption = None,
    venv: VenvOption = None,
    srun_arg: SrunArgOption = None,
    timeout: FleetTimeoutOption = 120.0,
    mmdoctor: MmdoctorOption = None,
    cuda: CudaOption = None,
    cpu: CpuOption = False,
    torch: TorchOption = None,
    mmdet: MmdetOption = None,
    line: LineOption = None,
    torch_source: TorchSourceOption = "pytorch",
    allow_source_build: AllowSourceBuildOption = True,
    matrix: MatrixOption = None,
    json_output: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """One stack for every node, for an environment they share: the lowest driver decides the
    CUDA variant, the union of their GPUs the prebuilt wheels that qualify and the arch list
    of a build. If nothing fits them all, the nodes that block it, and the best stack for the
    rest.

    Exit codes: 0 one stack fits every node, 1 some nodes block it (or gave no facts), 2 bad
    input, 4 could not run.
    """
    from mmdoctor.commands import fleet as command

    serve("fleet plan", command.run_plan, command.FleetPlanOptions, locals())


@fleet_app.command(
    "smoke-test", short_help="Run `mmdoctor smoke-test` on every node and summarise."
)
def fleet_smoke_test(
    nodes: NodesOption = None,
    nodelist: NodelistOption = None,
    partition: PartitionOption = None,
    python: PythonOption = None,
    venv: VenvOption = None,
    srun_arg: SrunArgOption = None,
    timeout: Annotated[
        float,
        Opt(
            "--timeout",
            metavar="SECONDS",
            min=1.0,
            help="Seconds each node's smoke test may take (the step gets 30 more).",
        ),
    ] = 900.0,
    mmdoctor: MmdoctorOption = None,
    per_gpu: Annotated[
        bool,
        Opt("--per-gpu", help="One task per GPU (each on --device cuda:local), not one per node."),
    ] = False,
    device: SmokeDeviceOption = None,
    model: SmokeModelOption = None,
    weights: SmokeWeightsOption = "zoo",
    runs: SmokeRunsOption = None,
    json_output: JsonOption = False,
    junit: JunitOption = None,
    debug: DebugOption = False,
) -> None:
    """Run `mmdoctor smoke-test` on every node (or every GPU) and summarise: the stages that
    failed by node, the nodes that gave no report and why, and a node 3x slower than the
    median of its peers (seconds per image).

    Exit codes: 0 every node passed, 1 a node failed a stage or gave no report, 2 bad input,
    4 could not run.
    """
    from mmdoctor.commands import fleet as command

    serve("fleet smoke-test", command.run_smoke, command.FleetSmokeOptions, locals())


@fleet_app.command(
    "install", short_help="Plan one stack for every node, install it, check it there."
)
def fleet_install(
    venv: Annotated[
        Path | None,
        Opt(
            "--venv",
            metavar="DIR",
            help="The environment to install, on storage every node shares.",
        ),
    ] = None,
    wheelhouse: Annotated[
        Path | None,
        Opt(
            "--wheelhouse",
            metavar="DIR",
            help="Per-node venvs instead (--venv may hold %n, the node's name): the first node "
            "builds mmcv into DIR, which the nodes share, and the others read it.",
        ),
    ] = None,
    nodes: NodesOption = None,
    nodelist: NodelistOption = None,
    partition: PartitionOption = None,
    python: Annotated[
        str | None,
        Opt(
            "--python",
            metavar="PATH",
            help="The interpreter to make the venv from (on every node).",
        ),
    ] = None,
    srun_arg: SrunArgOption = None,
    timeout: FleetTimeoutOption = 120.0,
    mmdoctor: MmdoctorOption = None,
    yes: YesOption = False,
    cuda: CudaOption = None,
    cpu: CpuOption = False,
    torch: TorchOption = None,
    mmdet: MmdetOption = None,
    line: LineOption = None,
    torch_source: TorchSourceOption = "pytorch",
    allow_source_build: AllowSourceBuildOption = True,
    installer: InstallerOption = "mim",
    index_url: IndexUrlOption = None,
    torch_index_url: TorchIndexUrlOption = None,
    mmcv_base_url: MmcvBaseUrlOption = None,
    find_links: FindLinksOption = None,
    offline: OfflineOption = False,
    matrix: MatrixOption = None,
    json_output: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Plan one stack for every node (as `fleet plan`), install it once into the shared --venv
    (mmcv built once, for every node's GPU archs), then check the venv on every node: anything
    short of every node healthy rolls it back, as `install` does.

    Exit codes: 0 installed and every node healthy, 1 nodes block one stack (nothing changed),
    2 bad input, 3 failed or a node unhealthy, rolled back, 4 could not run.
    """
    from mmdoctor.commands import fleet as command

    serve("fleet install", command.run_install, command.FleetInstallOptions, locals())
