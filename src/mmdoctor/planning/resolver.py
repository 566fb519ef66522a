"""Choose the torch + torchvision + mmcv + mmdet (+ mmengine) stack that fits a machine.

Pure: a `Machine` (probed or what-if), the user's `Wishes` and the `Matrix` in, a `Resolution`
out. Every candidate is (torch release, CUDA variant, mmdet release); each is either kept, with
the mmcv it would use, or rejected with one line saying why. mmdet releases belong to a stack
line (upstream OpenMMLab or VBTI's onedl fork), so both lines compete under one ranking, in order:

1. the newest mmdet line that has any plan (3 before 2), unless --mmdet says otherwise;
2. a prebuilt mmcv wheel before a source build;
3. the newest mmdet release (onedl-mmdetection 3.5 before OpenMMLab's frozen 3.3);
4. rows marked verified before unverified ones;
5. a source build this machine's nvcc can compile (or a plan for another machine);
6. a CUDA the driver runs natively before one it runs only through minor-version compatibility;
7. the newest CUDA the driver allows (a CUDA build before CPU when there is a GPU);
8. the newest torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from mmdoctor.planning.current import InstalledTorch
from mmdoctor.planning.machine import Machine, has_gpu
from mmdoctor.planning.matrix import (
    BuildVerdict,
    CudaVariant,
    Matrix,
    MmcvWheelSet,
    MmdetRelease,
    Platform,
    TorchRelease,
    minor,
)
from mmdoctor.planning.wishes import (
    Wishes,
    cuda_tag,
    exact_torch,
    mmdet_releases,
    resolve_input_check,
)


@dataclass(frozen=True)
class MmcvChoice:
    package: str  # "mmcv", "mmcv-full" or "onedl-mmcv"
    version: Version
    prebuilt: bool
    verified: bool = True
    python_verified: bool = True
    raise_cxx_to: int | None = None  # a source build that raises its sdist's -std=c++N to this
    forced_cxx: int | None = None  # that N


@dataclass(frozen=True)
class Candidate:
    torch: TorchRelease
    variant: str  # "cu121" or "cpu"
    mmdet: MmdetRelease
    mmcv: MmcvChoice
    torch_version: str = ""  # the exact release to install: --torch X.Y.Z, else the newest patch
    # The build of torch installed: the variant, except PyPI's CUDA build on a CPU-only plan.
    wheel_variant: str = ""
    from_pypi: bool = False  # torch + torchvision from PyPI (--torch-source pypi)
    installed: InstalledTorch | None = None  # the environment's own torch, kept as it is

    def __post_init__(self) -> None:
        if not self.torch_version:
            object.__setattr__(self, "torch_version", self.torch.latest)
        if not self.wheel_variant:
            object.__setattr__(self, "wheel_variant", self.variant)

    @property
    def line(self) -> str:
        return self.mmdet.stack_line

    def is_verified(self, matrix: Matrix) -> bool:
        """Every row this candidate stands on is marked verified in the matrix."""
        cuda = self.variant == "cpu" or (
            self.variant not in self.torch.unverified_variants
            and (self.installed is not None or matrix.cuda_variants[self.variant].verified)
        )
        return self.torch.verified and cuda and self.mmcv.verified

    def describe(self) -> str:
        how = "prebuilt" if self.mmcv.prebuilt else "source build"
        return (
            f"{self.mmdet.distribution} {self.mmdet.version} + {self.mmcv.package} "
            f"{self.mmcv.version} ({how}) + torch {self.torch_version} ({self.variant})"
        )


@dataclass(frozen=True)
class Rejection:
    candidate: str
    reason: str


@dataclass(frozen=True)
class Resolution:
    machine: Machine
    wishes: Wishes
    chosen: Candidate | None
    rejected: tuple[Rejection, ...] = ()
    alternatives: tuple[Candidate, ...] = ()  # the runners-up, best first
    suggestions: tuple[str, ...] = field(default=())
    line_reason: str = ""  # one line: why the chosen stack line won


def resolve(
    machine: Machine, wishes: Wishes, matrix: Matrix, *, suggest: bool = True
) -> Resolution:
    resolve_input_check(wishes, matrix)
    platform = matrix.platform(machine.os, machine.arch)
    if platform is None:
        return Resolution(
            machine, wishes, None, (Rejection("torch", platform_unknown(machine, matrix)),)
        )
    releases: list[TorchRelease] = []
    if wishes.installed is not None:
        kept, rejected = _on_installed_torch(wishes.installed, machine, wishes, matrix)
    else:
        kept, rejected, releases = _candidates(machine, wishes, matrix, platform)
    if not kept and not rejected and wishes.cuda is not None:
        # Nothing was even a candidate: say so, rather than leave `rejected` empty.
        tag = cuda_tag(wishes.cuda)
        where = ", ".join(f"{r.torch} ({', '.join(r.all_variants())})" for r in releases)
        rejected.append(
            Rejection(f"torch {tag}", f"no torch release here has a {tag} build: {where}")
        )
    kept.sort(key=lambda c: _rank(c, machine, matrix), reverse=True)
    chosen = kept[0] if kept else None
    suggestions: tuple[str, ...] = ()
    if chosen is None and suggest:
        suggestions = _suggest(machine, wishes, matrix)
    return Resolution(
        machine=machine,
        wishes=wishes,
        chosen=chosen,
        rejected=tuple(_dedupe(rejected)),
        alternatives=tuple(kept[1:4]),
        suggestions=suggestions,
        line_reason=_line_reason(kept, machine, wishes, matrix),
    )


def _candidates(
    machine: Machine, wishes: Wishes, matrix: Matrix, platform: Platform
) -> tuple[list[Candidate], list[Rejection], list[TorchRelease]]:
    """Every (torch release, variant, mmdet) the wishes allow: kept with its mmcv, or rejected
    with why; and the torch releases looked at."""
    kept: list[Candidate] = []
    rejected: list[Rejection] = []
    releases = _torch_releases(wishes, matrix)
    for release in releases:
        for variant in _variants(release, machine, wishes):
            label = f"torch {release.torch} {variant}"
            wheel_variant, reason = _wheel_variant(release, variant, machine, wishes, matrix)
            reason = (
                jetson_rejection(variant, machine, matrix)
                or reason
                or _reject_torch(release, variant, machine, matrix, platform)
            )
            if reason is not None:
                rejected.append(Rejection(label, reason))
                continue
            for mmdet in mmdet_releases(wishes, matrix):
                mmcv, why = _choose_mmcv(release, wheel_variant, mmdet, machine, wishes, matrix)
                if mmcv is None:
                    rejected.append(Rejection(f"{_mmdet_name(mmdet)} on {label}", why))
                    continue
                candidate = Candidate(
                    release,
                    variant,
                    mmdet,
                    mmcv,
                    exact_torch(wishes),
                    wheel_variant=wheel_variant,
                    from_pypi=wishes.torch_source == "pypi",
                )
                forbidden = _forbidden(candidate, wishes, matrix)
                if forbidden:
                    rejected.append(Rejection(f"{_mmdet_name(mmdet)} on {label}", forbidden))
                    continue
                kept.append(candidate)
    return kept, rejected, releases


def _on_installed_torch(
    torch: InstalledTorch, machine: Machine, wishes: Wishes, matrix: Matrix
) -> tuple[list[Candidate], list[Rejection]]:
    """The stacks that keep the installed torch: its release and the build it is (its CUDA,
    read from torch itself), every mmdet the wishes allow, the mmcv each would use (no
    prebuilt wheel matches a torch that is no plain release: built here then)."""
    label = f"torch {torch.version} (installed)"
    release = matrix.torch_release(torch.release)
    if release is None:
        return [], [Rejection(label, f"torch {torch.release} is not in the matrix")]
    on_gpu = has_gpu(machine) and not wishes.cpu and torch.cuda is not None
    variant = torch.build if on_gpu else "cpu"
    kept: list[Candidate] = []
    rejected: list[Rejection] = []
    for mmdet in mmdet_releases(wishes, matrix):
        mmcv, why = _choose_mmcv(
            release, torch.build, mmdet, machine, wishes, matrix, prebuilt=torch.plain
        )
        if mmcv is None:
            rejected.append(Rejection(f"{_mmdet_name(mmdet)} on {label}", why))
            continue
        candidate = Candidate(
            release, variant, mmdet, mmcv, torch.public, wheel_variant=torch.build, installed=torch
        )
        forbidden = _forbidden(candidate, wishes, matrix)
        if forbidden:
            rejected.append(Rejection(f"{_mmdet_name(mmdet)} on {label}", forbidden))
            continue
        kept.append(candidate)
    return kept, rejected


def _forbidden(candidate: Candidate, wishes: Wishes, matrix: Matrix) -> str | None:
    """Why the environment's own constraints forbid what this candidate installs, or None."""
    if not wishes.constraints.items:
        return None
    line = matrix.stack_lines[candidate.line]
    release = candidate.torch
    vision = (
        release.torchvision_latest
        if candidate.torch_version == release.latest
        else f"{release.torchvision}.*"
    )
    wanted = [
        (candidate.mmcv.package, str(candidate.mmcv.version)),
        (candidate.mmdet.distribution, str(candidate.mmdet.version)),
        (line.mim, str(line.mim_latest)),
    ]
    if candidate.installed is None:
        wanted = [("torch", candidate.torch_version), ("torchvision", vision), *wanted]
    if candidate.mmdet.line >= 3:
        wanted.append((line.mmengine, str(line.mmengine_latest)))
    for name, version in wanted:
        constraint = wishes.constraints.forbids(name, version)
        if constraint is not None:
            return f"{name} {version} breaks the environment's constraint {constraint.source}"
    return None


# ------------------------------------------------------------------- the candidate space


def _torch_releases(wishes: Wishes, matrix: Matrix) -> list[TorchRelease]:
    if wishes.torch is None:
        return list(matrix.torch_releases)
    return [r for r in matrix.torch_releases if r.torch == minor(wishes.torch)]


def _variants(release: TorchRelease, machine: Machine, wishes: Wishes) -> list[str]:
    if wishes.cpu:
        return ["cpu"]
    if wishes.cuda is not None:
        tag = cuda_tag(wishes.cuda)
        return [tag] if tag in release.variants else []
    if has_gpu(machine):
        return list(release.variants)  # a CPU stack on a GPU box only when asked (--cpu)
    return list(release.all_variants())


def _mmdet_name(mmdet: MmdetRelease) -> str:
    return f"{mmdet.distribution} {mmdet.version}"


def _wheel_variant(
    release: TorchRelease, variant: str, machine: Machine, wishes: Wishes, matrix: Matrix
) -> tuple[str, str | None]:
    """The torch build installed for this variant, or why --torch-source pypi has none: PyPI
    carries one build per platform (a CUDA one on Linux x86_64), which a CPU plan runs on the
    CPU and a CUDA plan takes only when it is the variant planned."""
    if wishes.torch_source != "pypi":
        return variant, None
    where = f"{machine.os}-{machine.arch}"
    pypi = release.pypi_variant(machine.os, machine.arch)
    if pypi is None:
        recorded = [f"{r.torch} {r.pypi[where]}" for r in matrix.torch_releases if where in r.pypi]
        has = f"PyPI's torch there: {', '.join(recorded)}" if recorded else "none recorded"
        return variant, (
            f"the matrix records no PyPI build of torch {release.torch} for "
            f"{machine.os} {machine.arch} ({has})"
        )
    if variant not in ("cpu", pypi):
        return variant, f"PyPI's torch {release.torch} for {machine.os} {machine.arch} is {pypi}"
    return pypi, None


# ------------------------------------------------------------------- constraints


def platform_unknown(machine: Machine, matrix: Matrix) -> str:
    return (
        f"the matrix knows no torch for {machine.os} {machine.arch} "
        f"(it knows {matrix.platform_names()})"
    )


def _reject_torch(
    release: TorchRelease, variant: str, machine: Machine, matrix: Matrix, platform: Platform
) -> str | None:
    """Why this torch release and variant cannot run here, or None."""
    no_wheels = _no_wheels(release, machine, platform)
    if no_wheels is not None:
        return no_wheels
    old_glibc = glibc_too_old(
        matrix,
        "torch",
        release.version,
        os=machine.os,
        arch=machine.arch,
        glibc=machine.glibc,
        variant=variant,
    )
    if old_glibc is not None:
        return f"torch {release.torch} {variant} wheels {old_glibc}"
    if variant == "cpu":
        return None
    if machine.os == "darwin":
        return "macOS has no CUDA builds of torch"
    if not platform.has_variant(variant, release.version):
        where = f"{machine.os} {machine.arch}"
        releases = platform.cuda_torch.get(variant)
        if releases is None:
            return f"torch has no {variant} build for {where}"
        have = spec_text(releases)
        return f"torch {release.torch} has no {variant} build for {where} ({have} do)"
    return _cuda_rejection(release, variant, machine, matrix)


def jetson_rejection(variant: str, machine: Machine, matrix: Matrix) -> str | None:
    """Why no CUDA build of PyTorch's or PyPI's runs on a Jetson GPU here, or None."""
    gpu = matrix.jetson_gpu(machine.gpu_ccs)
    if variant == "cpu" or gpu is None or matrix.jetson is None:
        return None
    return f"{_sm(gpu.cc)} is a Jetson GPU ({gpu.gpus}): {matrix.jetson.why}"


def _sm(cc: Version) -> str:
    return f"sm_{cc.major}{cc.minor}"


def _no_wheels(release: TorchRelease, machine: Machine, platform: Platform) -> str | None:
    """Why torch + torchvision of this release have no wheels for this platform and Python."""
    where = f"{machine.os} {machine.arch}"
    if release.version not in platform.torch:
        return f"torch {release.torch} has no {where} wheels ({spec_text(platform.torch)} do)"
    python = release.python_for(machine.os, machine.arch)
    if machine.python not in python:
        return (
            f"torch {release.torch} wheels for {where} need Python {spec_text(python)}, "
            f"this is {machine.python}"
        )
    if not release.torchvision_latest:
        return f"torch {release.torch} has no torchvision release yet"
    vision_python = release.torchvision_python_for(machine.os, machine.arch)
    if vision_python is not None and machine.python not in vision_python:
        return (
            f"torchvision {release.torchvision} wheels need Python {spec_text(vision_python)}, "
            f"this is {machine.python}"
        )
    return None


def glibc_too_old(
    matrix: Matrix,
    package: str,
    version: Version,
    *,
    os: str,
    arch: str,
    glibc: Version | None,
    variant: str | None = None,
) -> str | None:
    """'need glibc 2.28 (manylinux_2_28), this machine has 2.17' where the Linux wheels of
    `package` `version` need a newer C library than `glibc` (pip refuses them), else None."""
    if os != "linux" or glibc is None:
        return None
    row = matrix.glibc_needed(package, version, arch, variant)
    if row is None or row.glibc <= glibc:
        return None
    tag = f"manylinux_{row.glibc.major}_{row.glibc.minor}"
    return f"need glibc {row.glibc} ({tag}), this machine has {glibc}"


def _cuda_rejection(
    release: TorchRelease, variant: str, machine: Machine, matrix: Matrix
) -> str | None:
    known = matrix.cuda_variants.get(variant)
    if known is None:
        return f"{variant} is not in the matrix's CUDA variants"
    info = known.built_for(release.torch, machine.arch)
    if machine.driver is None:
        return "no NVIDIA driver on this machine"
    needed = matrix.min_driver(str(info.cuda), machine.os)
    if needed is None:
        return f"no known minimum driver for CUDA {info.cuda}"
    if machine.driver < needed:
        return f"{variant} needs driver >= {needed}, this is {machine.driver}"
    too_new = _gpu_unknown_to_driver(machine, matrix)
    if too_new is not None:
        return too_new
    for cc in machine.gpu_ccs:
        if not runs_on(info, cc):
            built = " ".join(info.arch_list())
            return (
                f"torch {release.torch} {variant} has no kernels for sm_{cc.major}{cc.minor} "
                f"(built for {built})"
            )
    return None


def spec_text(spec: SpecifierSet) -> str:
    """'>=3.7,<3.11': lower bound first, and an intersection of ranges narrowed to one range
    (SpecifierSet keeps every clause, and prints the upper bounds first)."""
    lows = [Version(s.version) for s in spec if s.operator == ">="]
    highs = [Version(s.version) for s in spec if s.operator == "<"]
    rest = sorted(str(s) for s in spec if s.operator not in (">=", "<"))
    parts = ([f">={max(lows)}"] if lows else []) + rest + ([f"<{min(highs)}"] if highs else [])
    return ",".join(parts)


def _gpu_unknown_to_driver(machine: Machine, matrix: Matrix) -> str | None:
    """A GPU newer than the driver: no CUDA build runs on it (Linux minimums only)."""
    if machine.os != "linux" or machine.driver is None:
        return None
    for cc in machine.gpu_ccs:
        known = matrix.gpu_min_driver(cc)
        if known is not None and machine.driver < known[0]:
            return (
                f"sm_{cc.major}{cc.minor} GPUs ({known[1]}) need a driver that knows them, "
                f">= {known[0]}; this is {machine.driver}"
            )
    return None


def runs_on(info: CudaVariant, cc: Version) -> bool:
    """Same-major SASS with minor <= the GPU's, or PTX at or below the GPU's capability."""
    if any(sm.major == cc.major and sm <= cc for sm in info.sm):
        return True
    return info.ptx is not None and info.ptx <= cc


def _choose_mmcv(
    release: TorchRelease,
    variant: str,
    mmdet: MmdetRelease,
    machine: Machine,
    wishes: Wishes,
    matrix: Matrix,
    *,
    prebuilt: bool = True,
) -> tuple[MmcvChoice | None, str]:
    """The newest mmcv in mmdet's range with a wheel for this torch, else one that compiles.
    `variant` is the torch build installed (a CPU plan on PyPI's torch: its CUDA build);
    `prebuilt`: False for a torch no wheel index builds for (a pre-release): compiled only."""
    if machine.python not in mmdet.python:
        return None, f"{_mmdet_name(mmdet)} needs Python {spec_text(mmdet.python)}"
    line = matrix.stack_lines[mmdet.stack_line]
    if machine.python not in line.python:
        return None, (
            f"the {line.name} line needs Python {spec_text(line.python)}: {line.python_note}"
        )
    missing: list[str] = []
    wheel = find_prebuilt_mmcv(
        matrix,
        mmdet.mmcv_package,
        mmdet.mmcv,
        torch_minor=release.torch,
        variant=variant,
        python=machine.python,
        os=machine.os,
        arch=machine.arch,
        gpu_ccs=machine.gpu_ccs,
        missing=missing,
        glibc=machine.glibc,
    )
    if wheel is not None and prebuilt:
        return wheel, ""
    package, spec = mmdet.mmcv_package, mmdet.mmcv
    where = f"on {machine.os} {machine.arch}"
    if machine.arch not in matrix.mmcv_wheel_archs:
        where += f" (prebuilt wheels are {', '.join(sorted(matrix.mmcv_wheel_archs))} only)"
    no_wheel = (
        f"no prebuilt {package}{spec_text(spec)} for torch {release.torch} {variant}, "
        f"Python {machine.python} {where}"
    )
    if missing:
        no_wheel += f" ({missing[0]})"
    if not wishes.allow_source_build:
        return None, f"{no_wheel}, and source builds are off"
    if matrix.source_builds is None:
        return None, no_wheel
    version, verdict = newest_compiling_mmcv(matrix, package, spec, release, machine.python)
    if version is not None:
        return MmcvChoice(
            package,
            version,
            prebuilt=False,
            raise_cxx_to=verdict.raise_cxx_to,
            forced_cxx=verdict.forced_cxx,
        ), ""
    why = f" ({verdict.reason})" if verdict.reason else ""
    return None, (
        f"{no_wheel}, and no {package}{spec_text(spec)} compiles against torch {release.torch}{why}"
    )


def find_prebuilt_mmcv(
    matrix: Matrix,
    package: str,
    spec: SpecifierSet,
    *,
    torch_minor: str,
    variant: str,
    python: Version,
    os: str,
    arch: str = "x86_64",
    gpu_ccs: tuple[Version, ...] = (),
    missing: list[str] | None = None,
    glibc: Version | None = None,
) -> MmcvChoice | None:
    """The newest `package` in `spec` with a published wheel for this torch minor, variant,
    Python and platform, kernels for every GPU and a glibc the machine has (verified rows
    first); None where pip would fall back to the sdist. Wheels skipped for a GPU or the C
    library are described in `missing`."""
    if arch not in matrix.mmcv_wheel_archs:
        return None
    best: MmcvChoice | None = None
    for wheel_set, version in wheels_for(matrix, package, spec, variant, torch_minor, os):
        if python not in wheel_set.python:
            continue
        old_glibc = glibc_too_old(matrix, wheel_set.package, version, os=os, arch=arch, glibc=glibc)
        if old_glibc is not None:
            if missing is not None:
                missing.append(f"{package} {version} wheels {old_glibc}")
            continue
        lacking = _arch_missing(wheel_set, variant, gpu_ccs)
        if lacking is not None:
            if missing is not None:
                missing.append(f"{package} {version} {variant} wheels {lacking}")
            continue
        choice = MmcvChoice(
            wheel_set.package,
            version,
            prebuilt=True,
            verified=wheel_set.verified,
            # a wheel for this very Python seen in a listing is no guess any more
            python_verified=wheel_set.python_verified or minor(python) in wheel_set.python_seen,
        )
        if best is None or (choice.verified, version) > (best.verified, best.version):
            best = choice
    return best


def _arch_missing(
    wheel_set: MmcvWheelSet, variant: str, gpu_ccs: tuple[Version, ...]
) -> str | None:
    """Why this wheel set's kernels do not run on one of the GPUs (SASS only, no PTX: the "no
    kernel image is available" error), or None."""
    built = wheel_set.cuda_arch.get(variant)
    if not built:
        return None
    for cc in gpu_ccs:
        if not any(sm.major == cc.major and sm <= cc for sm in built):
            listed = " ".join(f"sm_{v.major}{v.minor}" for v in built)
            return f"have no sm_{cc.major}{cc.minor} kernels (built for {listed}, no PTX)"
    return None


def wheels_for(
    matrix: Matrix,
    package: str,
    spec: SpecifierSet,
    variant: str,
    torch_minor: str,
    os: str = "linux",
) -> Iterator[tuple[MmcvWheelSet, Version]]:
    """Every (wheel set, version in `spec`) with a wheel folder for this variant, torch and OS."""
    for wheel_set in matrix.mmcv_wheels:
        if (
            wheel_set.package == package
            and wheel_set.os == os
            and wheel_set.has(variant, torch_minor)
        ):
            for version in wheel_set.versions:
                if version in spec:
                    yield wheel_set, version


def newest_compiling_mmcv(
    matrix: Matrix,
    package: str,
    spec: SpecifierSet,
    torch: TorchRelease,
    python: Version | None = None,
) -> tuple[Version | None, BuildVerdict]:
    """The newest `package` in `spec` whose sdist compiles against this torch (on this
    Python, when given), and how; else None and the newest release's reason."""
    builds = matrix.source_builds
    if builds is None:
        return None, BuildVerdict(False)
    known = {v for s in matrix.mmcv_wheels if s.package == package for v in s.versions}
    first_refusal: BuildVerdict | None = None
    for version in sorted((v for v in known if v in spec), reverse=True):
        verdict = builds.verdict(package, version, torch, python)
        if verdict.ok:
            return version, verdict
        first_refusal = first_refusal or verdict
    return None, first_refusal or BuildVerdict(False)


# ------------------------------------------------------------------- ranking and advice


def _rank(candidate: Candidate, machine: Machine, matrix: Matrix) -> tuple[object, ...]:
    cuda = Version("0")
    if candidate.variant != "cpu":
        cuda = matrix.variant_cuda(candidate.variant)
    # A source build of CUDA ops needs nvcc of torch's CUDA major: prefer what is installed.
    builds_with_nvcc = (
        candidate.mmcv.prebuilt
        or candidate.variant == "cpu"
        or not machine.toolchain_known
        or (machine.nvcc is not None and machine.nvcc.major == cuda.major)
    )
    # A CUDA the driver runs natively beats a newer one it runs only through minor-version
    # compatibility (an RTX 5090 on R570 takes cu128, not cu129 with a warning).
    native = candidate.variant == "cpu" or _native(machine, matrix, cuda)
    return (
        candidate.mmdet.line,
        candidate.mmcv.prebuilt,
        candidate.mmdet.version,
        candidate.is_verified(matrix),
        builds_with_nvcc,
        native,
        cuda,
        candidate.torch.version,
        candidate.mmcv.version,
    )


def _native(machine: Machine, matrix: Matrix, cuda: Version) -> bool:
    if machine.driver is None:
        return False
    ceiling = matrix.max_cuda_for_driver(str(machine.driver))
    return ceiling is not None and Version(ceiling) >= cuda


@dataclass(frozen=True)
class _Try:
    """One change to try: what it is, the machine and wishes with it, and how big it is (one
    per Python minor away; dropping or changing a wish 2; giving up the GPU 3)."""

    label: str
    machine: Machine
    wishes: Wishes
    size: int


_SUGGESTIONS = 3  # plans shown, beyond the advice


def _suggest(machine: Machine, wishes: Wishes, matrix: Matrix) -> tuple[str, ...]:
    """The nearest changes that give a plan, one wish or one machine fact at a time: the
    smallest change first, counting a plan that builds mmcv as one step bigger, and at equal
    size the one without a build."""
    ranked: list[tuple[int, bool, int, str]] = []
    tries = sorted(enumerate(_tries(machine, wishes, matrix)), key=lambda pair: pair[1].size)
    for order, change in tries:
        best = sorted(ranked)[:_SUGGESTIONS]
        if len(best) == _SUGGESTIONS and best[-1][:2] < (change.size, False):
            break  # no change this big can rank among those shown
        chosen = resolve(change.machine, change.wishes, matrix, suggest=False).chosen
        if chosen is not None:
            builds = not chosen.mmcv.prebuilt
            text = f"{change.label}: {chosen.describe()}"
            ranked.append((change.size + builds, builds, order, text))
    shown = [text for *_, text in sorted(ranked)[:_SUGGESTIONS]]
    return (*_advice(machine, wishes, matrix), *shown)


def _tries(machine: Machine, wishes: Wishes, matrix: Matrix) -> list[_Try]:
    """Every one-step change: each wish dropped, a what-if driver where none is known, each
    other Python a torch release has wheels for."""
    tries = _wish_tries(machine, wishes)
    newest = matrix.newest_toolkit_driver()
    if _needs_a_driver(machine, wishes) and newest is not None:
        cuda, driver = newest
        label = f"if its driver is {driver} (CUDA {cuda}'s) or newer"
        tries.append(_Try(label, replace(machine, driver=driver), wishes, 1))
    here = Version(minor(machine.python))
    for python in pythons(matrix):
        if python != here:
            other = replace(machine, python=python)
            tries.append(_Try(f"on Python {python}", other, wishes, abs(python.minor - here.minor)))
    return tries


def plannable(
    matrix: Matrix, release: TorchRelease, variant: str, mmdet: MmdetRelease, machine: Machine
) -> Candidate | None:
    """The candidate `resolve` keeps for this torch release, variant and mmdet release on this
    platform and Python, leaving out the driver and the GPUs (the `matrix` table's question:
    what can install plan here). None where it would reject it."""
    platform = matrix.platform(machine.os, machine.arch)
    if platform is None or _no_wheels(release, machine, platform) is not None:
        return None
    if variant != "cpu" and not platform.has_variant(variant, release.version):
        return None
    mmcv, _ = _choose_mmcv(release, variant, mmdet, machine, Wishes(), matrix)
    return Candidate(release, variant, mmdet, mmcv) if mmcv is not None else None


def pythons(matrix: Matrix) -> list[Version]:
    """The Python 3 minors some torch release of the matrix has wheels for."""
    candidates = (Version(f"3.{n}") for n in range(40))
    return [p for p in candidates if any(p in r.python for r in matrix.torch_releases)]


def _advice(machine: Machine, wishes: Wishes, matrix: Matrix) -> list[str]:
    """What to do that no other wish or Python can show as a plan."""
    jetson = jetson_advice(machine, matrix)
    if jetson is not None and not wishes.cpu:
        return [jetson]
    if _needs_a_driver(machine, wishes):
        alone = "--gpu-cc alone describes no driver; " if machine.gpu_ccs else ""
        return [
            "planning for another machine? describe it: --driver VERSION --gpu-cc X.Y "
            f"({alone}no NVIDIA driver was found here)"
        ]
    return []


def _needs_a_driver(machine: Machine, wishes: Wishes) -> bool:
    """A CUDA stack is wished for (--cuda, --gpu-cc) where no driver is known."""
    wants_cuda = wishes.cuda is not None or bool(machine.gpu_ccs)
    return machine.driver is None and wants_cuda and not wishes.cpu


def jetson_advice(machine: Machine, matrix: Matrix) -> str | None:
    """Where a Jetson's torch comes from (NVIDIA's JetPack builds), and how onedl builds
    onedl-mmcv against it; None when no GPU here is a Jetson's."""
    gpu = matrix.jetson_gpu(machine.gpu_ccs)
    if gpu is None or matrix.jetson is None:
        return None
    jetson = matrix.jetson
    text = f"on a Jetson ({_sm(gpu.cc)}: {gpu.gpus}) torch is NVIDIA's JetPack build"
    packs = jetson.jetpacks_for(gpu.cc)
    best = next((p for p in packs if p.verified), packs[0] if packs else None)
    if best is not None:
        torches = ", ".join(str(v) for v in best.torch)
        text += (
            f": JetPack {best.jetpack} (CUDA {best.cuda}, Python {best.python}) has torch "
            f"{torches} at {best.torch_index}"
        )
    if jetson.build_env.get("TORCH_CUDA_ARCH_LIST") == f"{gpu.cc.major}.{gpu.cc.minor}":
        env = " ".join(f"{k}={v}" for k, v in sorted(jetson.build_env.items()))
        text += f"; onedl builds onedl-mmcv against it with {env}"
    return text


def _wish_tries(machine: Machine, wishes: Wishes) -> list[_Try]:
    """Each wish given, dropped (or a GPU box planned for its CPU)."""
    dropped = [
        ("without --cuda", wishes.cuda is not None, replace(wishes, cuda=None)),
        ("without --torch", wishes.torch is not None, replace(wishes, torch=None)),
        ("without --mmdet", wishes.mmdet is not None, replace(wishes, mmdet=None)),
        ("without --line", wishes.line is not None, replace(wishes, line=None)),
        (
            "with torch from PyTorch's index",
            wishes.torch_source != "pytorch",
            replace(wishes, torch_source="pytorch"),
        ),
    ]
    tries = [_Try(label, machine, other, 2) for label, given, other in dropped if given]
    if not wishes.allow_source_build:  # one step, and the build it allows counts one more
        other = replace(wishes, allow_source_build=True)
        tries.append(_Try("with --allow-source-build", machine, other, 1))
    if not wishes.cpu and has_gpu(machine):
        other = replace(wishes, cpu=True, cuda=None)
        tries.append(_Try("with --cpu (no GPU use)", machine, other, 3))
    return tries


_RANK_REASONS = (
    "a newer mmdet line",
    "a prebuilt mmcv wheel instead of a source build",
    "a newer mmdet release",
    "every row it stands on verified",
    "a source build this machine's nvcc can compile",
    "a CUDA the driver runs natively",
    "a newer CUDA",
    "a newer torch",
    "a newer mmcv",
)


def _line_reason(kept: list[Candidate], machine: Machine, wishes: Wishes, matrix: Matrix) -> str:
    """Why the best candidate's stack line won, in one line ('' when there is no plan)."""
    if not kept:
        return ""
    best = kept[0]
    title = matrix.stack_lines[best.line].title
    if wishes.line is not None:
        return f"{title}: {wishes.line_why or f'asked for with --line {wishes.line}'}"
    rival = next((c for c in kept if c.line != best.line), None)
    if rival is None:
        others = [n for n in matrix.stack_lines if n != best.line]
        return f"{title}: the only line with a plan here (no {', '.join(others)} plan fits)"
    ours, theirs = _rank(best, machine, matrix), _rank(rival, machine, matrix)
    why = next(
        (reason for reason, a, b in zip(_RANK_REASONS, ours, theirs, strict=True) if a != b),
        "the same on every rule",
    )
    return f"{title}: {why} (the best {rival.line} plan: {rival.describe()})"


def _dedupe(rejections: list[Rejection]) -> list[Rejection]:
    seen = set()
    out = []
    for rejection in rejections:
        key = (rejection.candidate, rejection.reason)
        if key not in seen:
            seen.add(key)
            out.append(rejection)
    return out
