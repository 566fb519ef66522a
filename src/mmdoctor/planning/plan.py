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

from mmdoctor.planning.machine import Machine, PlanningContext
from mmdoctor.planning.matrix import Matrix, StackLine, minor
from mmdoctor.planning.resolver import Candidate, Resolution, spec_text
from mmdoctor.planning.source_build import max_jobs, source_build_steps, toolchain_blockers
from mmdoctor.planning.sources import Sources
from mmdoctor.planning.steps import Installer, Step
from mmdoctor.shell import command_line
from mmdoctor.target import Target

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
    blockers: tuple[str, ...] = ()  # toolchain problems that stop a source build (see warnings)
    line_reason: str = ""  # why this line won (the resolver's one line)

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
) -> Plan:
    torch = candidate.torch
    variant = candidate.variant
    mmcv = candidate.mmcv
    find_links_era = torch.index == "find_links" and not candidate.from_pypi
    line = matrix.stack_lines[candidate.line]
    pins = _pins(candidate, matrix, machine.python)
    engine = str(line.mmengine_latest) if candidate.mmdet.line >= 3 else None
    plan_torch = candidate.torch_version
    # The matrix pairs torchvision with the newest torch patch; for another patch, pip picks the
    # torchvision of the minor that pins exactly this torch.
    vision = torch.torchvision_latest if plan_torch == torch.latest else f"{torch.torchvision}.*"
    # The folder of the torch build installed (mim reads torch.version.cuda to form it).
    mmcv_link = line.find_link(candidate.wheel_variant, torch.torch, sources.mmcv_base_url)
    steps = _steps(
        candidate,
        matrix,
        torch_version=plan_torch,
        vision=vision,
        mmcv_link=mmcv_link,
        executable=executable,
        pins=pins,
        engine=engine,
        find_links_era=find_links_era,
        machine=machine,
        cpu_count=cpu_count,
        memory_bytes=memory_bytes,
        installer=installer,
        sources=sources,
    )
    blockers = tuple(toolchain_blockers(candidate, machine, matrix, gcc))
    return Plan(
        python=f"{machine.python.major}.{machine.python.minor}",
        executable=executable,
        os=machine.os,
        torch_version=plan_torch,
        variant=variant,
        torch_index_url=None
        if find_links_era or candidate.from_pypi
        else (sources.torch_index_url or matrix.torch_index(variant)),
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
    )


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


def _steps(
    candidate: Candidate,
    matrix: Matrix,
    *,
    torch_version: str,
    vision: str,
    mmcv_link: str,
    executable: str,
    pins: tuple[PinChoice, ...],
    engine: str | None,
    find_links_era: bool,
    machine: Machine,
    cpu_count: int | None,
    memory_bytes: int | None,
    installer: str,
    sources: Sources,
) -> tuple[Step, ...]:
    tools = Installer(installer, executable, sources)
    variant = candidate.variant
    mmcv = candidate.mmcv
    setuptools = [p for p in pins if p.name == "setuptools"]
    later_pins = [p for p in pins if p.name != "setuptools"]
    build_tools = [p.requirement for p in setuptools] + ["wheel"]
    if not mmcv.prebuilt and matrix.source_builds is not None:
        extra = [r for r in matrix.source_builds.requirements if not r.startswith("setuptools")]
        build_tools += [r for r in extra if r not in build_tools]
    steps = [
        tools.install(
            "build tools first: the setuptools window this stack needs, so nothing later "
            "breaks mim or a build",
            *build_tools,
        )
    ]
    vision_pin = f"torchvision=={vision}"
    if find_links_era:
        if "*" not in vision:
            vision_pin += f"+{variant}"
        steps.append(
            tools.install(
                f"torch {torch_version} + torchvision {vision} ({variant}) from PyTorch's "
                "find-links page",
                f"torch=={torch_version}+{variant}",
                vision_pin,
                find_links=(matrix.torch_find_links,),
            )
        )
    elif candidate.from_pypi:
        steps.append(
            tools.install(
                f"torch {torch_version} + torchvision {vision} from PyPI (its "
                f"{candidate.wheel_variant} build)",
                f"torch=={torch_version}",
                vision_pin,
            )
        )
    else:
        steps.append(
            tools.install(
                f"torch {torch_version} + torchvision {vision} from the PyTorch {variant} index",
                f"torch=={torch_version}",
                vision_pin,
                index_url=sources.torch_index_url or matrix.torch_index(variant),
            )
        )
    steps.append(
        tools.command(
            f"torch {torch_version} + torchvision {vision} import and run a tiny nms, before "
            "anything builds or installs on top of them",
            *(executable, "-I", "-c", VERIFY_TORCH),
            kind="verify",
            shown=f"{command_line([executable, '-I', '-c'])} {VERIFY_TORCH_NAME}",
        )
    )
    line = matrix.stack_lines[candidate.line]
    upstream = candidate.line == "openmmlab"
    steps.append(
        tools.install(
            f"{line.mim} (its openxlab dependency pins setuptools~=60.2.0)"
            if upstream
            else f"{line.mim} (needs setuptools >= 80, no pkg_resources)",
            f"{line.mim}=={line.mim_latest}",
        )
    )
    if setuptools and upstream:
        steps.append(
            tools.install(
                "the setuptools pin again, over openxlab's (pip warns about the conflict; "
                "it is harmless)",
                *(p.requirement for p in setuptools),
            )
        )
    spec = f"{mmcv.package}=={mmcv.version}"
    # mim finds the line's wheels itself (from MMCV_BASE_URL); pip and uv get the page.
    mirror = sources.mmcv_base_url if installer == "mim" else None
    mim_env = {line.base_url_env: mirror} if mirror and line.base_url_env else {}
    if mmcv.prebuilt:
        steps.append(
            tools.install(
                f"{spec} from the {line.name} wheel index ({mmcv_link})",
                spec,
                find_links=() if installer == "mim" else (mmcv_link,),
                via_mim=True,
                # onedl-mmcv's PyPI sdist builds silently without ops where the wheel is missed
                only_binary=() if upstream else (mmcv.package,),
                env=mim_env,
            )
        )
    else:
        jobs = max_jobs(cpu_count, memory_bytes)
        steps += source_build_steps(candidate, matrix, machine, tools, torch_version, jobs)
    if engine is not None:
        steps.append(
            tools.install(
                f"{line.mmengine} {engine}", f"{line.mmengine}=={engine}", via_mim=True, env=mim_env
            )
        )
    steps.append(
        tools.install(
            f"{line.mmdet} {candidate.mmdet.version}",
            f"{line.mmdet}=={candidate.mmdet.version}",
            via_mim=True,
            env=mim_env,
        )
    )
    if later_pins:
        steps.append(
            tools.install(
                "pins for this stack: "
                + "; ".join(f"{p.requirement} ({p.reason})" for p in later_pins),
                *(p.requirement for p in later_pins),
            )
        )
    steps.append(
        tools.command("check the result", "mmdoctor", "check", "--python", executable, kind="check")
    )
    return tuple(steps)


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
    cuda = matrix.cuda_variants[variant].cuda if variant != "cpu" else None
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
    if variant != "cpu" and not matrix.cuda_variants[variant].verified:
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
