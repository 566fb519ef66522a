"""Turn a resolver candidate into an install plan: packages, pins, exact steps, warnings.

A plan is data. `mmdoctor install --dry-run` renders it; `--export` writes it as a pip
requirements file; `install` (without --dry-run) carries the steps out (mmdoctor.install).
The steps are the exact commands for the chosen installer and package sources, so what a dry
run shows is what an install runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from mmdoctor import wheel_cache
from mmdoctor.planning.matrix import Matrix, StackLine, TorchRelease, minor
from mmdoctor.planning.resolver import Candidate, Machine, spec_text

INSTALLERS = ("mim", "pip", "uv")


@dataclass(frozen=True)
class Sources:
    """Where packages come from. None / empty: the defaults (PyPI, PyTorch's and OpenMMLab's
    hosts, and whatever the user's own PIP_* settings add)."""

    index_url: str | None = None  # a PyPI mirror
    torch_index_url: str | None = None  # a mirror of PyTorch's per-variant index
    find_links: tuple[str, ...] = ()  # extra folders or pages of wheels, for every step
    mmcv_base_url: str | None = None  # a mirror of the line's mmcv wheel host (MMCV_BASE_URL)


# Run in the target right after torch + torchvision are installed: one line, so the plan can
# show it as it runs. It prints what it found before each thing that may fail, so a failure
# still tells which torch pip brought in (execute.verify_torch compares them with the plan).
VERIFY_TORCH = (
    'import torch; print("torch", torch.__version__, torch.version.cuda or "cpu", flush=True); '
    'import torchvision.ops; print("torchvision", torchvision.__version__, flush=True); '
    "b = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]]); "
    "k = torchvision.ops.nms(b, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist(); "
    'assert k == [0, 2], k; print("nms", k)'
)


@dataclass(frozen=True)
class Step:
    """One command. `kind` tells the executor what it is: "install" (run argv), "verify" (argv
    tests the torch just installed against the plan), "build" (argv builds a wheel into the
    cache) or "check" (the post-install check, run in-process)."""

    description: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    kind: str = "install"
    unless_built: str = ""  # a wheel folder: the step prepares a build, skipped once it is done


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
    sources: Sources = Sources()
    blockers: tuple[str, ...] = ()  # toolchain problems that stop a source build (see warnings)
    line_reason: str = ""  # why this line won (the resolver's one line)

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
    sources: Sources = Sources(),
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


def arch_list_for(candidate: Candidate, machine: Machine, matrix: Matrix) -> str:
    """TORCH_CUDA_ARCH_LIST for a source build: the GPUs here (fewer archs, faster build), else
    the variant's own list. A GPU newer than the variant's newest arch (which its nvcc may not
    know) gets that arch as PTX, which the driver JIT-compiles for it."""
    info = matrix.cuda_variants[candidate.variant].built_for(candidate.torch.torch, machine.arch)
    if not machine.gpu_ccs:
        return ";".join(f"{v.major}.{v.minor}" for v in info.sm)
    newest = max(info.sm)
    archs = set()
    for cc in machine.gpu_ccs:
        if cc > newest:
            archs.add(f"{newest.major}.{newest.minor}+PTX")
        else:
            archs.add(f"{cc.major}.{cc.minor}")
    return ";".join(sorted(archs, key=lambda a: Version(a.removesuffix("+PTX"))))


JOB_BYTES = 3 * 2**30  # what one compile job of mmcv's ops can take (an nvcc job: about 3 GB)


def max_jobs(cpu_count: int | None, memory_bytes: int | None) -> int:
    """Parallel compile jobs: one per core, but no more than the memory holds."""
    cores = cpu_count or 1
    if memory_bytes:
        return max(1, min(cores, int(memory_bytes // JOB_BYTES)))
    return cores


class Commands:
    """The install command lines for one installer, interpreter and set of package sources."""

    def __init__(self, installer: str, executable: str, sources: Sources) -> None:
        if installer not in INSTALLERS:
            raise ValueError(f"unknown installer {installer!r}")
        self.installer = installer
        self.executable = executable
        self.sources = sources

    def _head(self, via_mim: bool) -> tuple[str, ...]:
        if self.installer == "uv":
            return ("uv", "pip", "install", "--python", self.executable)
        if via_mim and self.installer == "mim":
            return (self.executable, "-m", "mim", "install")
        return (self.executable, "-m", "pip", "install")

    def install(
        self,
        *requirements: str,
        index_url: str | None = None,
        find_links: tuple[str, ...] = (),
        via_mim: bool = False,
    ) -> tuple[str, ...]:
        return (
            *self._head(via_mim),
            *requirements,
            *self._options(index_url or self.sources.index_url, find_links),
        )

    def install_built(self, requirement: str, package: str, wheelhouse: str) -> tuple[str, ...]:
        """The wheel built into `wheelhouse`: `package` only as a wheel (the index has only its
        sdist), its dependencies from the index as usual."""
        return (
            *self._head(False),
            requirement,
            *("--only-binary", package),
            *self._options(self.sources.index_url, (wheelhouse,)),
        )

    def build_wheel(self, requirement: str, package: str) -> tuple[str, ...]:
        """pip builds (uv's build isolation differs); the step adds `--wheel-dir FOLDER`."""
        return (
            self.executable,
            *("-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-binary", package),
            requirement,
            *self._options(self.sources.index_url, ()),
        )

    def build_wheel_from(self, source: str) -> tuple[str, ...]:
        """pip builds an unpacked source tree (mmdoctor's own copy of the sdist)."""
        return (
            self.executable,
            *("-m", "pip", "wheel", "--no-deps", "--no-build-isolation", source),
        )

    def download_sdist(self, requirement: str, package: str, dest: str) -> tuple[str, ...]:
        """pip reads an sdist's metadata even to download it: without build isolation, so that
        the setuptools with pkg_resources that the plan pinned runs mmcv's setup.py."""
        return (
            self.executable,
            *("-m", "pip", "download", "--no-deps", "--no-build-isolation"),
            *("--no-binary", package, requirement),
            *("--dest", dest),
            *self._options(self.sources.index_url, ()),
        )

    def _options(self, index_url: str | None, find_links: tuple[str, ...]) -> tuple[str, ...]:
        out: list[str] = []
        if index_url:
            out += ["--index-url", index_url]
        for link in (*find_links, *self.sources.find_links):
            out += ["--find-links", link]
        return tuple(out)


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
    commands = Commands(installer, executable, sources)
    variant = candidate.variant
    mmcv = candidate.mmcv
    setuptools = [p for p in pins if p.name == "setuptools"]
    later_pins = [p for p in pins if p.name != "setuptools"]
    build_tools = [p.requirement for p in setuptools] + ["wheel"]
    if not mmcv.prebuilt and matrix.source_builds is not None:
        extra = [r for r in matrix.source_builds.requirements if not r.startswith("setuptools")]
        build_tools += [r for r in extra if r not in build_tools]
    steps = [
        Step(
            "build tools first: the setuptools window this stack needs, so nothing later "
            "breaks mim or a build",
            commands.install(*build_tools),
        )
    ]
    vision_pin = f"torchvision=={vision}"
    if find_links_era:
        if "*" not in vision:
            vision_pin += f"+{variant}"
        steps.append(
            Step(
                f"torch {torch_version} + torchvision {vision} ({variant}) from PyTorch's "
                "find-links page",
                commands.install(
                    f"torch=={torch_version}+{variant}",
                    vision_pin,
                    find_links=(matrix.torch_find_links,),
                ),
            )
        )
    elif candidate.from_pypi:
        steps.append(
            Step(
                f"torch {torch_version} + torchvision {vision} from PyPI (its "
                f"{candidate.wheel_variant} build)",
                commands.install(f"torch=={torch_version}", vision_pin),
            )
        )
    else:
        steps.append(
            Step(
                f"torch {torch_version} + torchvision {vision} from the PyTorch {variant} index",
                commands.install(
                    f"torch=={torch_version}",
                    vision_pin,
                    index_url=sources.torch_index_url or matrix.torch_index(variant),
                ),
            )
        )
    steps.append(
        Step(
            f"torch {torch_version} + torchvision {vision} import and run a tiny nms, before "
            "anything builds or installs on top of them",
            (executable, "-I", "-c", VERIFY_TORCH),
            kind="verify",
        )
    )
    line = matrix.stack_lines[candidate.line]
    upstream = candidate.line == "openmmlab"
    steps.append(
        Step(
            f"{line.mim} (its openxlab dependency pins setuptools~=60.2.0)"
            if upstream
            else f"{line.mim} (needs setuptools >= 80, no pkg_resources)",
            commands.install(f"{line.mim}=={line.mim_latest}"),
        )
    )
    if setuptools and upstream:
        steps.append(
            Step(
                "the setuptools pin again, over openxlab's (pip warns about the conflict; "
                "it is harmless)",
                commands.install(*(p.requirement for p in setuptools)),
            )
        )
    spec = f"{mmcv.package}=={mmcv.version}"
    # mim finds the line's wheels itself (from MMCV_BASE_URL); pip and uv get the page.
    mirror = sources.mmcv_base_url if installer == "mim" else None
    mim_env = {line.base_url_env: mirror} if mirror and line.base_url_env else {}
    if mmcv.prebuilt:
        # onedl-mmcv's PyPI sdist builds silently without ops where the wheel is missed
        only_binary = () if upstream else ("--only-binary", mmcv.package)
        steps.append(
            Step(
                f"{spec} from the {line.name} wheel index ({mmcv_link})",
                (
                    *commands.install(
                        spec, find_links=() if installer == "mim" else (mmcv_link,), via_mim=True
                    ),
                    *only_binary,
                ),
                mim_env,
            )
        )
    else:
        steps += _source_build_steps(
            candidate, matrix, machine, commands, torch_version, max_jobs(cpu_count, memory_bytes)
        )
    if engine is not None:
        steps.append(
            Step(
                f"{line.mmengine} {engine}",
                commands.install(f"{line.mmengine}=={engine}", via_mim=True),
                mim_env,
            )
        )
    steps.append(
        Step(
            f"{line.mmdet} {candidate.mmdet.version}",
            commands.install(f"{line.mmdet}=={candidate.mmdet.version}", via_mim=True),
            mim_env,
        )
    )
    if later_pins:
        steps.append(
            Step(
                "pins for this stack: "
                + "; ".join(f"{p.requirement} ({p.reason})" for p in later_pins),
                commands.install(*(p.requirement for p in later_pins)),
            )
        )
    steps.append(
        Step("check the result", ("mmdoctor", "check", "--python", executable), kind="check")
    )
    return tuple(steps)


def _source_build_steps(
    candidate: Candidate,
    matrix: Matrix,
    machine: Machine,
    commands: Commands,
    torch_version: str,
    jobs: int,
) -> list[Step]:
    """Build mmcv from its sdist into the wheel cache, then install that wheel. Where torch's
    headers need a newer C++ than the sdist's setup.py forces, the build runs on mmdoctor's own
    unpacked copy with the flag raised (never on the user's files)."""
    mmcv, torch, variant = candidate.mmcv, candidate.torch, candidate.variant
    spec = f"{mmcv.package}=={mmcv.version}"
    env = {"MMCV_WITH_OPS": "1", "MAX_JOBS": str(jobs)}
    if variant != "cpu":
        env["FORCE_CUDA"] = "1"
        env["TORCH_CUDA_ARCH_LIST"] = arch_list_for(candidate, machine, matrix)
    key = wheel_cache.BuildKey(
        package=mmcv.package,
        version=str(mmcv.version),
        # PyPI's CUDA torch and the CPU one of a --cpu plan share a version: the key tells them
        torch=f"{torch_version}+{candidate.wheel_variant}"
        if candidate.from_pypi
        else torch_version,
        cuda=variant,
        python_tag=f"cp{machine.python.major}{machine.python.minor}",
        arch_list=env.get("TORCH_CUDA_ARCH_LIST", ""),
    )
    wheelhouse = str(wheel_cache.folder(key))
    why = f"no prebuilt wheel for torch {torch.torch} {variant}"
    steps = []
    build = (*commands.build_wheel(spec, mmcv.package), "--wheel-dir", wheelhouse)
    if mmcv.raise_cxx_to is not None:
        source = wheel_cache.source_folder(key)
        sdist = source / wheel_cache.sdist_filename(mmcv.package, str(mmcv.version))
        tree = source / wheel_cache.sdist_stem(mmcv.package, str(mmcv.version))
        forced = mmcv.forced_cxx
        steps += [
            Step(
                f"{spec}'s sdist from PyPI into mmdoctor's build folder",
                commands.download_sdist(spec, mmcv.package, str(source)),
                unless_built=wheelhouse,
            ),
            Step(
                "unpack it there",
                ("tar", "-xzf", str(sdist), "-C", str(source)),
                unless_built=wheelhouse,
            ),
            Step(
                f"raise its setup.py's -std=c++{forced} to -std=c++{mmcv.raise_cxx_to}: torch "
                f"{torch.torch}'s headers need C++{mmcv.raise_cxx_to}",
                (
                    "sed",
                    f"-i.c++{forced}",
                    f"s/-std=c++{forced}/-std=c++{mmcv.raise_cxx_to}/g",
                    str(tree / "setup.py"),
                ),
                unless_built=wheelhouse,
            ),
        ]
        build = (*commands.build_wheel_from(str(tree)), "--wheel-dir", wheelhouse)
    steps += [
        Step(
            f"{spec} built from {'that copy' if mmcv.raise_cxx_to else 'its PyPI sdist'} ({why}) "
            "without build isolation, so the build sees torch and this setuptools, into the "
            "wheel cache (skipped when it already holds this build)",
            build,
            env,
            kind="build",
        ),
        Step(
            f"{spec}: the wheel just built (or cached)",
            commands.install_built(spec, mmcv.package, wheelhouse),
        ),
    ]
    return steps


def toolchain_blockers(
    candidate: Candidate, machine: Machine, matrix: Matrix, gcc: Version | None
) -> list[str]:
    """What stops a source build on this machine before it starts: install checks these
    first and stops with the fix instead of failing twenty minutes into a build."""
    if candidate.mmcv.prebuilt:
        return []
    host = host_blockers(candidate, machine, matrix, gcc)
    if candidate.variant == "cpu":
        return host
    return host + cuda_blockers(candidate, machine, matrix, gcc)


@dataclass(frozen=True)
class Shortfall:
    """Something every source build needs that this machine lacks, said once for install's
    blockers and check's build.prerequisites."""

    known_failure: str
    text: str  # "gcc 7.5.0 is older than torch 2.10's C++17 headers accept (gcc >= 9)"
    fix: str  # in words
    commands: tuple[str, ...] = ()


def build_shortfalls(
    torch: TorchRelease,
    matrix: Matrix,
    *,
    gcc: Version | None,
    python: Version,
    python_headers: bool | None,
    tmp_free: int | None,
) -> list[Shortfall]:
    """A compiler torch's headers accept, Python.h, room in TMPDIR (None: not known)."""
    builds = matrix.source_builds
    if builds is None:
        return []
    out = []
    least = builds.min_gcc.get(torch.cxx_std)
    if gcc is None:
        out.append(
            Shortfall(
                "gcc-too-old-for-torch",
                "there is no gcc on PATH",
                "install g++",
                ("apt-get install -y g++",),
            )
        )
    elif least is not None and gcc.major < least:
        out.append(
            Shortfall(
                "gcc-too-old-for-torch",
                f"gcc {gcc} is older than torch {torch.torch}'s C++{torch.cxx_std} headers "
                f"accept (gcc >= {least})",
                "install a newer gcc and set CC/CXX to it",
                (f"export CC=gcc-{least} CXX=g++-{least}",),
            )
        )
    if python_headers is False:
        minor = f"{python.major}.{python.minor}"
        out.append(
            Shortfall(
                "python-h-missing",
                f"Python.h is missing for Python {minor} (the build compiles a C extension)",
                f"install python{minor}-dev or use a Python with its headers",
                (f"apt-get install -y python{minor}-dev",),
            )
        )
    if tmp_free is not None and tmp_free < builds.tmp_gib * 2**30:
        out.append(
            Shortfall(
                "no-space-left",
                f"TMPDIR has {tmp_free / 2**30:.1f} GiB free and a build needs about "
                f"{builds.tmp_gib:.0f}",
                "point TMPDIR at a folder on a disk with room",
            )
        )
    return out


def host_blockers(
    candidate: Candidate, machine: Machine, matrix: Matrix, gcc: Version | None
) -> list[str]:
    if not machine.toolchain_known:  # a plan for another machine: its own facts are unknown
        return []
    shortfalls = build_shortfalls(
        candidate.torch,
        matrix,
        gcc=gcc,
        python=machine.python,
        python_headers=machine.python_headers,
        tmp_free=machine.build_tmp_free,
    )
    return [f"{s.text}: {s.fix}" for s in shortfalls]


def cuda_blockers(
    candidate: Candidate, machine: Machine, matrix: Matrix, gcc: Version | None
) -> list[str]:
    """nvcc, of torch's CUDA major, with a host gcc it accepts: a CUDA build needs them."""
    cuda = matrix.cuda_variants[candidate.variant].cuda
    if not machine.toolchain_known:
        return [
            f"the source build compiles CUDA ops: the machine that builds it needs nvcc "
            f"{cuda.major}.x (CUDA_HOME or PATH) and a gcc that nvcc accepts"
        ]
    if machine.nvcc is None:
        return [
            f"the source build compiles CUDA ops and needs nvcc {cuda.major}.x "
            "(CUDA_HOME or PATH); none was found"
        ]
    if machine.nvcc.major != cuda.major:
        return [
            f"nvcc {machine.nvcc} does not match torch's CUDA {cuda}: install the CUDA "
            f"{cuda.major}.x toolkit and point CUDA_HOME at it before the build"
        ]
    limit = matrix.max_gcc(machine.nvcc)
    if gcc is not None and limit is not None and gcc.major > limit:
        return [
            f"gcc {gcc} is newer than nvcc {machine.nvcc} accepts (<= {limit}): "
            f"install gcc-{limit} and set CC/CXX to it"
        ]
    return []


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


def _command_line(argv: tuple[str, ...], env: Mapping[str, str]) -> str:
    """A step for a file that may be read in another environment: its `python` there."""
    from mmdoctor.shell import command_line

    return command_line(("python", *argv[1:]) if argv[0].endswith("python") else argv, env)


def _export_how(plan: Plan) -> list[str]:
    """How to use the file: in one pip run, or around the plan's own build steps."""
    if plan.mmcv_prebuilt:
        return ["# Install with: python -m pip install -r THIS_FILE"]
    at = next(i for i, s in enumerate(plan.steps) if s.kind == "build")
    build_steps = [s for s in plan.steps[:at] if s.unless_built] + list(plan.steps[at : at + 2])
    return [
        f"# No prebuilt {plan.mmcv_name} exists for this torch: it is built from source, which",
        "# pip cannot do in the same run that installs torch. Install this file first, then",
        "# run the plan's own build and install steps, then mmdet:",
        "#   python -m pip install -r THIS_FILE",
        *(f"#   {_command_line(s.argv, s.env)}" for s in build_steps),
        f"#   python -m pip install {plan.line.mmdet}=={plan.mmdet_version}",
    ]


def export_requirements(plan: Plan, matrix: Matrix, version: str) -> str:
    """A pip requirements file that installs the same stack without mmdoctor."""
    lines = [
        f"# Written by mmdoctor {version}: {plan.line.mmdet} {plan.mmdet_version} + "
        f"{plan.mmcv_name} {plan.mmcv_version} + torch {plan.torch_version} ({plan.variant}), "
        f"Python {plan.python}, {plan.os}.",
        *_export_how(plan),
    ]
    source_build = not plan.mmcv_prebuilt
    if plan.torch_index_url:
        lines.append(f"--extra-index-url {plan.torch_index_url}")
    if plan.torch_find_links:
        lines.append(f"--find-links {plan.torch_find_links}")
    if not source_build:
        lines.append(f"--find-links {plan.mmcv_find_links}")
        if plan.line.name == "onedl":  # never the ops-less sdist
            lines.append(f"--only-binary {plan.mmcv_name}")
    for pin in plan.pins:
        if pin.name == "setuptools":
            lines.append(f"{pin.requirement}  # {pin.reason}")
    lines.append("wheel")
    if source_build and matrix.source_builds is not None:  # what the build needs: ninja, psutil
        done = ("setuptools", "wheel")
        lines.extend(r for r in matrix.source_builds.requirements if not r.startswith(done))
    lines.append(plan.torch_requirement)
    lines.append(plan.torchvision_requirement)
    if plan.mmengine_version:
        lines.append(f"{plan.line.mmengine}=={plan.mmengine_version}")
    if not source_build:
        lines.append(f"{plan.mmcv_name}=={plan.mmcv_version}")
        lines.append(f"{plan.line.mmdet}=={plan.mmdet_version}")
    for pin in plan.pins:
        if pin.name != "setuptools":
            lines.append(f"{pin.requirement}  # {pin.reason}")
    return "\n".join(lines) + "\n"
