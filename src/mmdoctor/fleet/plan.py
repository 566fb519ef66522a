"""One stack for every node of a fleet, for an environment they share.

The nodes' facts make one Machine for the resolver: the lowest driver decides the CUDA
variant, the union of compute capabilities decides which prebuilt wheels qualify and the
TORCH_CUDA_ARCH_LIST of a build, the oldest glibc which wheels load. A rejection for an arch
names the nodes with that GPU. When nothing fits them all, the groups of nodes that block it
are left out, fewest nodes first, and the best stack for the rest is given with their names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import combinations
from typing import Any

from packaging.version import Version

from mmdoctor.environment import Environment, HostInfo
from mmdoctor.errors import ExitCode
from mmdoctor.fleet.reports import NodeReport
from mmdoctor.fleet.summary import hostlist
from mmdoctor.planning.machine import Machine, PlanningContext
from mmdoctor.planning.matrix import Matrix
from mmdoctor.planning.plan import InstallPlan, build_plan
from mmdoctor.planning.resolver import Resolution, find_prebuilt_mmcv, resolve
from mmdoctor.planning.wishes import Wishes
from mmdoctor.target import Target

MAX_LEFT_OUT = 2  # groups of nodes tried out of the plan together, when nothing fits them all
_LACKING = re.compile(r"(?<=have no )sm_(\d)(\d+)\b")  # the arch a wheel set lacks


@dataclass(frozen=True)
class NodeMachine:
    """What the resolver needs of one node."""

    os: str
    arch: str
    python: Version | None
    driver: Version | None
    gpu_ccs: tuple[Version, ...]
    glibc: Version | None


@dataclass(frozen=True)
class Blocker:
    nodes: tuple[str, ...]
    why: str  # what about them no stack for the rest accepts


@dataclass(frozen=True)
class FleetPlanning:
    resolution: Resolution | None  # for `planned`; None: nothing fits any subset tried
    machine: Machine | None
    planned: tuple[str, ...]  # the nodes the resolution is for
    blockers: tuple[Blocker, ...]  # nodes left out, and why
    sources: Mapping[str, str]  # fact -> which nodes it came from
    arch_rejections: tuple[str, ...] = ()  # prebuilt wheels rejected for a node's GPU

    @property
    def fits_all(self) -> bool:
        return (
            self.resolution is not None
            and self.resolution.chosen is not None
            and (not self.blockers)
        )


def node_machine(doc: Mapping[str, Any]) -> NodeMachine:
    """What one node's `check --json` says of it, as the Machine its facts make (the same
    reading as everywhere: PlanningContext.from_environment); a report without a readable
    environment gives no Python, which no plan fits."""
    try:
        env = Environment.from_dict(doc.get("environment") or {})
    except ValueError:
        return NodeMachine("linux", "x86_64", None, None, (), None)
    machine = PlanningContext.from_environment(env).machine
    return NodeMachine(
        os=machine.os,
        arch=machine.arch,
        python=machine.python,
        driver=machine.driver,
        gpu_ccs=tuple(sorted(set(machine.gpu_ccs))),
        glibc=machine.glibc,
    )


def combine(machines: Sequence[NodeMachine]) -> Machine | None:
    """One Machine every node can use, or None when they differ in what one environment
    cannot span (the OS, the CPU, the Python)."""
    first = machines[0]
    if any((m.os, m.arch, m.python) != (first.os, first.arch, first.python) for m in machines):
        return None
    if first.python is None:
        return None
    drivers = [m.driver for m in machines]
    glibcs = [m.glibc for m in machines if m.glibc is not None]
    return Machine(
        os=first.os,
        arch=first.arch,
        python=first.python,
        # a node without a driver takes none: a CUDA stack cannot serve it
        driver=None if None in drivers else min(d for d in drivers if d is not None),
        gpu_ccs=tuple(sorted({cc for m in machines for cc in m.gpu_ccs})),
        toolchain_known=False,  # the nodes' nvcc is not what builds: see fleet install
        glibc=min(glibcs) if glibcs else None,
    )


def _sources(machines: Mapping[str, NodeMachine], machine: Machine) -> dict[str, str]:
    lowest = [n for n, m in machines.items() if m.driver == machine.driver]
    oldest = [n for n, m in machines.items() if m.glibc == machine.glibc]
    by_cc = {
        str(cc): hostlist([n for n, m in machines.items() if cc in m.gpu_ccs])
        for cc in machine.gpu_ccs
    }
    return {
        "driver": f"the lowest of {len(machines)} nodes ({hostlist(lowest)})",
        "gpus": "; ".join(f"sm_{cc.replace('.', '')}: {nodes}" for cc, nodes in by_cc.items())
        or "no GPUs",
        "glibc": f"the oldest ({hostlist(oldest)})" if machine.glibc else "not known",
        "python": str(machine.python),
    }


def _why(group: NodeMachine, rest: Machine) -> str:
    """What sets a left-out group apart from the nodes planned for."""
    parts = []
    if (group.os, group.arch) != (rest.os, rest.arch):
        parts.append(f"{group.os} {group.arch}")
    if group.python != rest.python:
        parts.append(f"Python {group.python or 'unknown'}")
    if group.driver is None:
        parts.append("no NVIDIA driver")
    elif rest.driver is None or group.driver < rest.driver:
        parts.append(f"driver {group.driver}")
    new_ccs = [cc for cc in group.gpu_ccs if cc not in rest.gpu_ccs]
    parts += [f"sm_{cc.major}{cc.minor} GPUs" for cc in new_ccs]
    if group.glibc and rest.glibc and group.glibc < rest.glibc:
        parts.append(f"glibc {group.glibc}")
    return ", ".join(parts) or "its facts"


def _arch_rejections(
    resolution: Resolution, machines: Mapping[str, NodeMachine], matrix: Matrix
) -> tuple[str, ...]:
    """When the chosen mmcv is built from source: the prebuilt wheels that would have served
    but for one arch, why they do not qualify, the arch followed by the nodes that have it."""
    chosen, machine = resolution.chosen, resolution.machine
    if chosen is None or chosen.mmcv.prebuilt:
        return ()
    prebuilt_only = replace(resolution.wishes, allow_source_build=False)
    reasons: list[str] = []
    for cc in machine.gpu_ccs:
        without = replace(machine, gpu_ccs=tuple(c for c in machine.gpu_ccs if c != cc))
        alternative = resolve(without, prebuilt_only, matrix, suggest=False).chosen
        if alternative is None:
            continue
        find_prebuilt_mmcv(
            matrix,
            alternative.mmcv.package,
            alternative.mmdet.mmcv,
            torch_minor=alternative.torch.torch,
            variant=alternative.wheel_variant,
            python=machine.python,
            os=machine.os,
            arch=machine.arch,
            gpu_ccs=machine.gpu_ccs,
            missing=reasons,
            glibc=machine.glibc,
        )

    def name_nodes(match: re.Match[str]) -> str:
        cc = Version(f"{match.group(1)}.{match.group(2)}")
        nodes = [n for n, m in machines.items() if cc in m.gpu_ccs]
        return f"{match.group(0)} ({hostlist(nodes)})" if nodes else match.group(0)

    return tuple(dict.fromkeys(_LACKING.sub(name_nodes, r, count=1) for r in reasons))


def plan_fleet(nodes: Sequence[NodeReport], matrix: Matrix, wishes: Wishes) -> FleetPlanning:
    machines = {n.node: node_machine(n.document) for n in nodes if n.document is not None}
    groups: dict[NodeMachine, list[str]] = {}
    for node, facts in machines.items():
        groups.setdefault(facts, []).append(node)
    everyone = combine(list(groups)) if groups else None
    full = resolve(everyone, wishes, matrix) if everyone is not None else None
    if full is not None and full.chosen is not None:
        assert everyone is not None
        return _planning(full, everyone, groups, (), matrix)
    tries = [
        left_out
        for size in range(1, min(MAX_LEFT_OUT, len(groups) - 1) + 1)
        for left_out in combinations(groups, size)
    ]
    for left_out in sorted(tries, key=lambda out: sum(len(groups[g]) for g in out)):
        machine = combine([g for g in groups if g not in left_out])
        if machine is None:
            continue
        resolution = resolve(machine, wishes, matrix, suggest=False)
        if resolution.chosen is not None:
            return _planning(resolution, machine, groups, left_out, matrix)
    # nothing fits any subset tried: why not, for all of them (when one machine can say it)
    if full is None or everyone is None:
        return FleetPlanning(None, None, (), (), {})
    return _planning(full, everyone, groups, (), matrix)


def _planning(
    resolution: Resolution,
    machine: Machine,
    groups: Mapping[NodeMachine, Sequence[str]],
    left_out: Sequence[NodeMachine],
    matrix: Matrix,
) -> FleetPlanning:
    kept = {n: facts for facts, names in groups.items() if facts not in left_out for n in names}
    blockers = tuple(Blocker(tuple(sorted(groups[g])), _why(g, machine)) for g in left_out)
    return FleetPlanning(
        resolution,
        machine,
        tuple(sorted(kept)),
        blockers,
        _sources(kept, machine),
        _arch_rejections(resolution, kept, matrix),
    )


@dataclass(frozen=True)
class FleetPlanned:
    """fleet plan: the stack for the nodes that reported, and the nodes it leaves out."""

    planning: FleetPlanning
    install: InstallPlan | None  # the plan as `install` shows it; None: nothing fits
    missing: tuple[NodeReport, ...]  # nodes that gave no facts

    @property
    def exit_code(self) -> ExitCode:
        whole = self.planning.fits_all and not self.missing
        return ExitCode.OK if whole else ExitCode.PROBLEMS

    def to_dict(self, verbose: bool = False) -> dict[str, Any]:
        planning = self.planning
        install = self.install.to_dict(verbose) if self.install else {}
        return {
            "planned_for": list(planning.planned),
            "blockers": [{"nodes": list(b.nodes), "why": b.why} for b in planning.blockers],
            "facts_from": dict(planning.sources),
            "arch_rejections": list(planning.arch_rejections),
            "without_facts": [{"node": n.node, "reason": n.reason} for n in self.missing],
            **{key: install.get(key) for key in ("machine", "plan", "rejected", "suggestions")},
        }


def install_plan(planning: FleetPlanning, matrix: Matrix, executable: str) -> InstallPlan | None:
    """The plan as `install` would show it for the nodes' shared environment, whose Python is
    `executable` on every node."""
    if planning.resolution is None or planning.machine is None:
        return None
    machine, resolution = planning.machine, planning.resolution
    host = HostInfo(os=machine.os, machine=machine.arch)
    context = PlanningContext(machine, executable, host, None, planning.sources)
    target = replace(Target.described(machine.python), executable=executable)
    plan = None
    if resolution.chosen is not None:
        plan = build_plan(
            resolution.chosen,
            machine,
            matrix,
            executable=executable,
            line_reason=resolution.line_reason,
        )
    return InstallPlan(resolution, plan, context, target, dry_run=True)
