"""Turn a resolver candidate into an install plan: packages, pins, exact steps, warnings.

A plan is data. `mmdoctor install --dry-run` renders it; `--export` writes it as a pip
requirements file (export.py); `install` (without --dry-run) carries the steps out
(mmdoctor.install). The steps are fields that the chosen installer turns into its exact
commands (steps.py), so what a dry run shows is what an install runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from mmdoctor.planning.changes import REINSTALLED, Changes, Holding, Planned, stack_changes
from mmdoctor.planning.machine import Machine, PlanningContext
from mmdoctor.planning.matrix import Matrix, StackLine, minor
from mmdoctor.planning.resolver import Candidate, Resolution, spec_text
from mmdoctor.planning.source_build import max_jobs, source_build_steps, toolchain_blockers
from mmdoctor.planning.sources import Sources
from mmdoctor.planning.steps import Installer, Step
from mmdoctor.shell import command_line
from mmdoctor.target import Target
from mmdoctor.versions import normalize_name

NO_SOURCES = Sources()  # the defaults: PyPI, PyTorch's and the lines' own hosts
# Run in the target right after torch + torchvision are installed: a probe, which a plan shows
# by its name (VERIFY_TORCH_NAME) and runs as `python -I -c VERIFY_TORCH`. It prints what it
# found before each thing that may fail, so a failure still tells which torch pip brought in
# (execute.verify_torch compares them with the plan).
VERIFY_TORCH_NAME = "<verify-torch>"
VERIFY_TORCH = (
    'import torch; print("torch", torch.__version__, torch.version.cuda or "cpu", flush=True); '
    'import torchvision.ops; print("torchvision", torchvision.__version__, flush=True); '
    "b = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]]); "
    "k = torchvision.ops.nms(b, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist(); "
    'assert k == [0, 2], k; print("nms", k)'
)


@dataclass(frozen=True)
class PinChoice:
    name: str
    spec: str
    reason: str
    known_failure: str | None = None

    @property
    def requirement(self) -> str:
        return f"{self.name}{self.spec}"


@dataclass(frozen=True)
class Plan:
    python: str  # "3.10"
    executable: str
    os: str
    torch_version: str
    variant: str  # "cu121" or "cpu"
    torch_index_url: str | None  # torch >= 1.11
    torch_find_links: str | None  # torch <= 1.10
    torchvision_version: str
    mmcv_name: str
    mmcv_version: str
    mmcv_find_links: str
    mmcv_prebuilt: bool
    mmdet_version: str
    mmengine_version: str | None
    mim_version: str
    pins: tuple[PinChoice, ...]
    steps: tuple[Step, ...]
    warnings: tuple[str, ...]
    candidate: Candidate
    line: StackLine  # the stack line: its package names
    installer: str = "mim"
    sources: Sources = field(default_factory=Sources)
    blockers: tuple[str, ...] = ()  # what stops the plan here (a build's toolchain, ...)
    line_reason: str = ""  # why this line won (the resolver's one line)
    changes: Changes = field(default_factory=Changes)  # to the environment it is for

    def to_dict(self) -> dict[str, Any]:
        line = self.line.name
        return {
            "line": {"name": line, "reason": self.line_reason},
            "python": self.python,
            "executable": self.executable,
            "os": self.os,
            "torch": {
                "version": self.torch_version,
                "variant": self.variant,
                "index_url": self.torch_index_url,
                "find_links": self.torch_find_links,
                "source": "pypi" if self.candidate.from_pypi else "pytorch",
                "build": self.candidate.wheel_variant,
            },
            "torchvision": {"version": self.torchvision_version},
            "mmcv": {
                "name": self.mmcv_name,
                "version": self.mmcv_version,
                "find_links": self.mmcv_find_links,
                "prebuilt": self.mmcv_prebuilt,
            },
            "mmdet": {"name": self.line.mmdet, "version": self.mmdet_version},
            "mmengine": (
                {"name": self.line.mmengine, "version": self.mmengine_version}
                if self.mmengine_version
                else None
            ),
            "mim": {"name": self.line.mim, "version": self.mim_version},
            # kept for scripts written before the onedl line: the upstream mim only
            "openmim": {"version": self.mim_version} if line == "openmmlab" else None,
            "pins": [asdict(p) for p in self.pins],
            "steps": [step.to_dict() for step in self.steps],
            "warnings": list(self.warnings),
            "changes": [change.to_dict() for change in self.changes.items],
        }

    @property
    def torch_requirement(self) -> str:
        """torch with its local version tag, exact on any index: torch==2.1.2+cu121 (PyPI's
        builds carry none)."""
        if self.candidate.from_pypi:
            return f"torch=={self.torch_version}"
        return f"torch=={self.torch_version}+{self.variant}"

    @property
    def torchvision_requirement(self) -> str:
        # a wildcard cannot carry a local version tag
        if "*" in self.torchvision_version or self.candidate.from_pypi:
            return f"torchvision=={self.torchvision_version}"
        return f"torchvision=={self.torchvision_version}+{self.variant}"


@dataclass(frozen=True)
class InstallPlan:
    """What was chosen for an environment, and why; the plan is None when nothing fits."""

    resolution: Resolution
    plan: Plan | None
    context: PlanningContext
    target: Target  # the environment the steps change (a new --venv: the one to be made)
    exported: Path | None = None  # where --export wrote the plan
    dry_run: bool = True
    next_steps: tuple[str, ...] = ()  # what to do after a dry run, and cheaper options
    new_venv: Path | None = None  # --venv DIR, made once the plan is confirmed
    venv_from: str | None = None  # the Python that makes new_venv (`target` is the venv's)
    here: bool = True  # for this machine and environment (not what-if values)

    def to_dict(self, verbose: bool = False) -> dict[str, Any]:
        rejected = self.resolution.rejected if self.plan is None or verbose else ()
        return {
            "machine": self.context.to_dict(),
            "plan": self.plan.to_dict() if self.plan is not None else None,
            "rejected": [{"candidate": r.candidate, "reason": r.reason} for r in rejected],
            "suggestions": list(self.resolution.suggestions),
            "exported": str(self.exported) if self.exported is not None else None,
            "next_steps": list(self.next_steps),
        }


def build_plan(
    candidate: Candidate,
    machine: Machine,
    matrix: Matrix,
    *,
    executable: str,
    cpu_count: int | None = None,
    memory_bytes: int | None = None,
    gcc: Version | None = None,
    installer: str = "mim",
    sources: Sources = NO_SOURCES,
    line_reason: str = "",
    target: Target | None = None,
    torch_why: str = "",
    focus: frozenset[str] | None = None,
) -> Plan:
    """The plan for `candidate`: its pins, its changes to `target` (None: an environment with
    nothing installed, a plan for another machine), the steps for what changes, warnings.
    `torch_why`: why a torch installed there is replaced; `focus`: only the changes to these
    distributions (fix: those its failing checks are about), None for all."""
    torch = candidate.torch
    mmcv = candidate.mmcv
    kept = candidate.installed
    find_links_era = torch.index == "find_links" and not candidate.from_pypi and kept is None
    line = matrix.stack_lines[candidate.line]
    pins = _pins(candidate, matrix, machine.python)
    engine = str(line.mmengine_latest) if candidate.mmdet.line >= 3 else None
    plan_torch = candidate.torch_version
    # The matrix pairs torchvision with the newest torch patch; for another patch, pip picks the
    # torchvision of the minor that pins exactly this torch.
    vision = torch.torchvision_latest if plan_torch == torch.latest else f"{torch.torchvision}.*"
    # The folder of the torch build installed (mim reads torch.version.cuda to form it).
    mmcv_link = line.find_link(candidate.wheel_variant, torch.torch, sources.mmcv_base_url)
    holding = Holding(target)
    changes = stack_changes(
        holding,
        matrix,
        line,
        Planned(
            torch=plan_torch,
            torchvision=vision,
            mmcv=(mmcv.package, str(mmcv.version)),
            mmengine=(line.mmengine, engine) if engine else None,
            mmdet=(line.mmdet, str(candidate.mmdet.version)),
            pins={p.name: (p.spec, p.reason) for p in pins},
            torch_why=torch_why,
            kept_torch=kept.version if kept is not None else "",
            mmcv_why="a prebuilt wheel for this torch"
            if mmcv.prebuilt
            else "built here for this torch: no prebuilt wheel fits it",
        ),
    )
    torch_index = _torch_index(candidate, matrix, sources, find_links_era)
    focus = _with_mim(focus, changes, line, mmcv.package if mmcv.prebuilt else None, installer)
    build = _Build(
        candidate=candidate,
        matrix=matrix,
        machine=machine,
        tools=Installer(installer, executable, sources),
        installer=installer,
        sources=sources,
        changes=changes,
        holding=holding,
        pins=pins,
        torch_version=plan_torch,
        vision=vision,
        torch_index=torch_index,
        find_links_era=find_links_era,
        engine=engine,
        mmcv_link=mmcv_link,
        jobs=max_jobs(cpu_count, memory_bytes),
        focus=focus,
    )
    steps = _steps(build)
    blockers = (*toolchain_blockers(candidate, machine, matrix, gcc), *_torch_blockers(build))
    return Plan(
        python=f"{machine.python.major}.{machine.python.minor}",
        executable=executable,
        os=machine.os,
        torch_version=plan_torch,
        variant=candidate.variant,
        torch_index_url=torch_index,
        torch_find_links=matrix.torch_find_links if find_links_era else None,
        torchvision_version=vision,
        mmcv_name=mmcv.package,
        mmcv_version=str(mmcv.version),
        mmcv_find_links=mmcv_link,
        mmcv_prebuilt=mmcv.prebuilt,
        mmdet_version=str(candidate.mmdet.version),
        mmengine_version=engine,
        mim_version=str(line.mim_latest),
        pins=pins,
        steps=steps,
        warnings=_warnings(candidate, machine, matrix, steps, blockers),
        candidate=candidate,
        installer=installer,
        sources=sources,
        blockers=blockers,
        line=line,
        line_reason=line_reason,
        changes=changes.focused(focus),
    )


def _with_mim(
    focus: frozenset[str] | None,
    changes: Changes,
    line: StackLine,
    mmcv_wheel: str | None,
    installer: str,
) -> frozenset[str] | None:
    """A fix that installs what mim installs (mmengine, mmdet, a prebuilt mmcv) needs the
    line's mim there too."""
    if focus is None or installer != "mim":
        return focus
    via_mim = {normalize_name(n) for n in (line.mmengine, line.mmdet, mmcv_wheel) if n}
    changing = {normalize_name(c.name) for c in changes.touched if c.action != "remove"}
    return focus | {normalize_name(line.mim)} if focus & via_mim & changing else focus


def _torch_index(
    candidate: Candidate, matrix: Matrix, sources: Sources, find_links_era: bool
) -> str | None:
    """The index torch (and torchvision) come from: PyTorch's for the variant, a mirror of it,
    or None (PyPI, or PyTorch's find-links page). A kept torch's torchvision comes from the
    index of the build it is: PyTorch's for a +cpu / +cuXXX build, PyPI's otherwise."""
    kept = candidate.installed
    if kept is not None:
        local = kept.version.partition("+")[2]
        return (sources.torch_index_url or matrix.torch_index(kept.build)) if local else None
    if find_links_era or candidate.from_pypi:
        return None
    return sources.torch_index_url or matrix.torch_index(candidate.variant)


def _torch_blockers(build: _Build) -> list[str]:
    """A torch that is kept but has no torchvision, where none can be added without replacing
    it (a pre-release: PyPI's and PyTorch's torchvision pin a release)."""
    kept = build.candidate.installed
    if kept is None or kept.plain or build.changes.keeps("torchvision"):
        return []
    return [
        f"torch {kept.version} has no torchvision, and none can be added without replacing "
        "torch: install the torchvision built with it (NGC's and JetPack's images ship one)"
    ]


def _pins(candidate: Candidate, matrix: Matrix, python: Version) -> tuple[PinChoice, ...]:
    facts: dict[str, Version | str] = {
        "torch": Version(candidate.torch_version),
        "mmdet": candidate.mmdet.version,
        "mmcv": candidate.mmcv.version,
        "mmcv_package": candidate.mmcv.package,
        "python": python,
        "stack_line": candidate.line,
    }
    chosen: dict[str, PinChoice] = {}
    for pin in matrix.pins:
        if not pin.applies(facts):
            continue
        if pin.name in chosen:  # two conditions on one package: both specifiers hold
            before = chosen[pin.name]
            spec = spec_text(SpecifierSet(before.spec) & SpecifierSet(pin.spec))
            chosen[pin.name] = PinChoice(
                pin.name,
                spec,
                f"{before.reason}; {pin.reason}",
                before.known_failure or pin.known_failure,
            )
            continue
        chosen[pin.name] = PinChoice(pin.name, pin.spec, pin.reason, pin.known_failure)
    return tuple(chosen.values())


@dataclass(frozen=True)
class _Build:
    """What the steps of a plan are made from."""

    candidate: Candidate
    matrix: Matrix
    machine: Machine
    tools: Installer
    installer: str
    sources: Sources
    changes: Changes
    holding: Holding
    pins: tuple[PinChoice, ...]
    torch_version: str
    vision: str
    torch_index: str | None
    find_links_era: bool
    engine: str | None
    mmcv_link: str
    jobs: int
    focus: frozenset[str] | None = None  # fix: only these distributions change

    @property
    def line(self) -> StackLine:
        return self.matrix.stack_lines[self.candidate.line]

    def changed(self, name: str) -> bool:
        return self.in_focus(name) and not self.changes.keeps(name)

    def in_focus(self, name: str) -> bool:
        return self.focus is None or normalize_name(name) in self.focus


def _steps(build: _Build) -> tuple[Step, ...]:
    """A step for each change, in the order that keeps each one safe: what must go first, the
    build tools, torch, its check, mim, mmcv, mmengine and mmdet, the pins, the final check."""
    torch_changes = build.focus is None or build.changed("torch") or build.changed("torchvision")
    return (
        *_removals(build),
        *_build_tools(build),
        *_torch_steps(build),
        *([_verify_step(build)] if torch_changes else []),
        *_mim_steps(build),
        *_mmcv_steps(build),
        *_openmmlab_steps(build),
        *_pin_steps(build),
        build.tools.command(
            "check the result",
            *("mmdoctor", "check", "--python", build.tools.executable),
            kind="check",
        ),
    )


def _removals(build: _Build) -> list[Step]:
    """What cannot live beside the plan goes first, before anything installs over it; an
    OpenCV that stays is then written again whole (the one removed shared its cv2/ files)."""
    removed = [c for c in build.changes.items if c.action == "remove" and build.in_focus(c.name)]
    if not removed:
        return []
    steps = [
        build.tools.remove(
            "remove what cannot live beside this stack: "
            + "; ".join(f"{c.name} {c.installed} ({c.reason})" for c in removed),
            *(c.name for c in removed),
        )
    ]
    again = [
        c
        for c in build.changes.items
        if c.action == "keep" and c.reason == REINSTALLED and build.in_focus(c.name)
    ]
    if again:
        steps.append(
            build.tools.install(
                "OpenCV again, as it was: " + ", ".join(f"{c.name} {c.installed}" for c in again),
                *(f"{c.name}=={c.installed}" for c in again),
                reinstall=True,
            )
        )
    return steps


def _build_tools(build: _Build) -> list[Step]:
    """The setuptools window the stack needs, and what a build needs, where not there yet."""
    matrix, mmcv = build.matrix, build.candidate.mmcv
    builds = not mmcv.prebuilt and build.changed(mmcv.package)
    needs_tools = build.focus is None or builds or build.changed(build.line.mim)
    # the setuptools window: for itself, or for a build and mim (pkg_resources), however
    # narrow the focus
    setuptools = [p for p in build.pins if p.name == "setuptools"]
    wanted = [
        p.requirement
        for p in setuptools
        if not build.changes.keeps("setuptools") and (needs_tools or build.in_focus("setuptools"))
    ]
    if not needs_tools:
        return _tools_step(build, wanted)  # fix: only what its checks are about
    tools = ["wheel"]
    if not mmcv.prebuilt and matrix.source_builds is not None:
        extra = [r for r in matrix.source_builds.requirements if not r.startswith("setuptools")]
        tools += [r for r in extra if r not in tools]
    wanted += [r for r in tools if build.holding.version(_name_of(r)) is None]
    return _tools_step(build, wanted)


def _tools_step(build: _Build, wanted: list[str]) -> list[Step]:
    if not wanted:
        return []
    return [
        build.tools.install(
            "build tools first: the setuptools window this stack needs, so nothing later "
            "breaks mim or a build",
            *wanted,
        )
    ]


def _name_of(requirement: str) -> str:
    return requirement.split("[")[0].split(";")[0].split("=")[0].split("<")[0].split(">")[0]


def _torch_steps(build: _Build) -> list[Step]:
    candidate, tools = build.candidate, build.tools
    torch_version, vision, variant = build.torch_version, build.vision, candidate.variant
    if not (build.changed("torch") or build.changed("torchvision")):
        return []
    if candidate.installed is not None:  # the torch stays; its torchvision, where missing
        if not build.changed("torchvision"):
            return []
        local = candidate.installed.version.partition("+")[2]
        pin = f"torchvision=={vision}" + (f"+{local}" if local and "*" not in vision else "")
        return [
            tools.install(
                f"torchvision {vision} for the torch {candidate.installed.version} kept here",
                pin,
                index_url=build.torch_index,
            )
        ]
    vision_pin = f"torchvision=={vision}"
    if build.find_links_era:
        if "*" not in vision:
            vision_pin += f"+{variant}"
        return [
            tools.install(
                f"torch {torch_version} + torchvision {vision} ({variant}) from PyTorch's "
                "find-links page",
                f"torch=={torch_version}+{variant}",
                vision_pin,
                find_links=(build.matrix.torch_find_links,),
            )
        ]
    if candidate.from_pypi:
        return [
            tools.install(
                f"torch {torch_version} + torchvision {vision} from PyPI (its "
                f"{candidate.wheel_variant} build)",
                f"torch=={torch_version}",
                vision_pin,
            )
        ]
    return [
        tools.install(
            f"torch {torch_version} + torchvision {vision} from the PyTorch {variant} index",
            f"torch=={torch_version}",
            vision_pin,
            index_url=build.torch_index,
        )
    ]


def _verify_step(build: _Build) -> Step:
    torch = build.candidate.installed.version if build.candidate.installed else build.torch_version
    return build.tools.command(
        f"torch {torch} + torchvision {build.vision} import and run a tiny nms, before "
        "anything builds or installs on top of them",
        *(build.tools.executable, "-I", "-c", VERIFY_TORCH),
        kind="verify",
        shown=f"{command_line([build.tools.executable, '-I', '-c'])} {VERIFY_TORCH_NAME}",
    )


def _mim_steps(build: _Build) -> list[Step]:
    line = build.line
    if not build.changed(line.mim):
        return []
    upstream = line.name == "openmmlab"
    steps = [
        build.tools.install(
            f"{line.mim} (its openxlab dependency pins setuptools~=60.2.0)"
            if upstream
            else f"{line.mim} (needs setuptools >= 80, no pkg_resources)",
            f"{line.mim}=={line.mim_latest}",
            reinstall=build.changes.same_version_again(line.mim),
        )
    ]
    setuptools = [p.requirement for p in build.pins if p.name == "setuptools"]
    if setuptools and upstream:
        steps.append(
            build.tools.install(
                "the setuptools pin again, over openxlab's (pip warns about the conflict; "
                "it is harmless)",
                *setuptools,
            )
        )
    return steps


def _mim_env(build: _Build) -> dict[str, str]:
    """mim finds the line's wheels itself (from MMCV_BASE_URL); pip and uv get the page."""
    mirror = build.sources.mmcv_base_url if build.installer == "mim" else None
    variable = build.line.base_url_env
    return {variable: mirror} if mirror and variable else {}


def _mmcv_steps(build: _Build) -> list[Step]:
    candidate, mmcv, line = build.candidate, build.candidate.mmcv, build.line
    if not build.changed(mmcv.package):
        return []
    spec = f"{mmcv.package}=={mmcv.version}"
    again = build.changes.same_version_again(mmcv.package)
    if not mmcv.prebuilt:
        return source_build_steps(
            candidate, build.matrix, build.machine, build.tools, build.torch_version, build.jobs,
            reinstall=again,
        )  # fmt: skip
    return [
        build.tools.install(
            f"{spec} from the {line.name} wheel index ({build.mmcv_link})",
            spec,
            find_links=() if build.installer == "mim" else (build.mmcv_link,),
            via_mim=True,
            # onedl-mmcv's PyPI sdist builds silently without ops where the wheel is missed
            only_binary=() if line.name == "openmmlab" else (mmcv.package,),
            env=_mim_env(build),
            reinstall=again,
        )
    ]


def _openmmlab_steps(build: _Build) -> list[Step]:
    line, steps = build.line, []
    if build.engine is not None and build.changed(line.mmengine):
        steps.append(
            build.tools.install(
                f"{line.mmengine} {build.engine}",
                f"{line.mmengine}=={build.engine}",
                via_mim=True,
                env=_mim_env(build),
                reinstall=build.changes.same_version_again(line.mmengine),
            )
        )
    mmdet = str(build.candidate.mmdet.version)
    if build.changed(line.mmdet):
        steps.append(
            build.tools.install(
                f"{line.mmdet} {mmdet}",
                f"{line.mmdet}=={mmdet}",
                via_mim=True,
                env=_mim_env(build),
                reinstall=build.changes.same_version_again(line.mmdet),
            )
        )
    return steps


def _pin_steps(build: _Build) -> list[Step]:
    later = [p for p in build.pins if p.name != "setuptools" and build.changed(p.name)]
    if not later:
        return []
    return [
        build.tools.install(
            "pins for this stack: " + "; ".join(f"{p.requirement} ({p.reason})" for p in later),
            *(p.requirement for p in later),
        )
    ]


def _warnings(
    candidate: Candidate,
    machine: Machine,
    matrix: Matrix,
    steps: tuple[Step, ...],
    blockers: tuple[str, ...],
) -> tuple[str, ...]:
    out: list[str] = []
    torch = candidate.torch
    variant = candidate.variant
    mmcv = candidate.mmcv
    cuda = matrix.variant_cuda(variant) if variant != "cpu" else None
    build = next((s for s in steps if s.kind == "build"), None)
    if build is not None and matrix.source_builds is not None:
        jobs = int(build.env.get("MAX_JOBS", "1"))
        archs = len(build.env.get("TORCH_CUDA_ARCH_LIST", "").replace(";", " ").split())
        minutes = matrix.source_builds.minutes(jobs, archs)
        what = f"{archs} CUDA arch(s), " if archs else ""
        out.append(
            f"no prebuilt {mmcv.package} for torch {torch.torch} ({variant}): source build of "
            f"{mmcv.package} {mmcv.version}, about {minutes} min ({what}{jobs} compile jobs)"
        )
        if mmcv.raise_cxx_to is not None:
            out.append(
                f"{mmcv.package} {mmcv.version}'s setup.py forces -std=c++"
                f"{mmcv.forced_cxx} and torch {torch.torch}'s headers need "
                f"C++{mmcv.raise_cxx_to}: the build raises it to -std=c++{mmcv.raise_cxx_to} on "
                "mmdoctor's own copy of the sdist (measured to compile: docs/matrix.md)"
            )
        out += blockers
    if cuda is not None and machine.driver is not None:
        native = matrix.max_cuda_for_driver(str(machine.driver))
        if native is not None and Version(native) < cuda:
            out.append(
                f"driver {machine.driver} supports CUDA {native} natively; {variant} runs through "
                "minor-version compatibility (no PTX JIT of newer code; some torch.compile "
                "paths fail)"
            )
    if not torch.verified:
        out.append(f"torch {torch.torch} is marked unverified in the matrix")
    platform = matrix.platform(machine.os, machine.arch)
    if variant != "cpu" and platform is not None and not platform.verified:
        out.append(
            f"the {machine.os} {machine.arch} {variant} builds of torch are marked unverified "
            "in the matrix"
        )
    known = matrix.cuda_variants.get(variant)
    if variant != "cpu" and known is not None and not known.verified:
        out.append(f"the {variant} variant's GPU architectures are marked unverified in the matrix")
    if mmcv.prebuilt and not mmcv.verified:
        out.append(
            f"{mmcv.package} {mmcv.version} wheels for this torch are not confirmed by a listing "
            "of their index (third-party listings, or what the builder is configured to build)"
        )
    if mmcv.prebuilt and not mmcv.python_verified:
        python = f"{machine.python.major}.{machine.python.minor}"
        out.append(
            f"{mmcv.package} {mmcv.version} wheels for Python {python} are not confirmed; "
            "if mim finds none it falls back to a source build"
        )
    out += _line_warnings(candidate, matrix)
    return tuple(out)


def _line_warnings(candidate: Candidate, matrix: Matrix) -> list[str]:
    out = []
    line = matrix.stack_lines[candidate.line]
    if candidate.from_pypi and candidate.wheel_variant != candidate.variant:
        out.append(
            f"PyPI's torch {candidate.torch_version} is its {candidate.wheel_variant} build: about "
            "3 GB with its CUDA wheels, and it runs on the CPU here"
        )
    torch_v = Version(candidate.torch_version)
    tested = line.mmengine_tested_torch
    if candidate.mmdet.line >= 3 and tested is not None and torch_v.release[:2] > tested.release:
        out.append(
            f"{line.mmengine} {line.mmengine_latest} documents torch <= {tested}; "
            f"torch {minor(torch_v)} works for inference here but is outside its tested range"
        )
    # onedl-mmengine >= 0.10.8 loads with weights_only itself (its _safe_torch_load)
    weights_only = torch_v >= matrix.fact("torch_weights_only_default")
    if weights_only and candidate.mmdet.line >= 3 and line.name == "openmmlab":
        out.append(
            "torch >= 2.6 loads checkpoints with weights_only=True, which mmengine <= 0.10.7 does "
            "not expect (known failure torch-load-weights-only)"
        )
    return out
