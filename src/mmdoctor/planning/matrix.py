"""compat_matrix.yaml: load it once and answer questions about it.

The file ships inside the wheel; in a source checkout it is read from the top of the repo.
The JSON Schema next to it is enforced by the test suite; here a broken file gives a clean
`MatrixError` naming the file and what is wrong.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from mmdoctor import paths
from mmdoctor.errors import UsageError
from mmdoctor.versions import normalize_name


class MatrixError(UsageError):
    """A matrix file that cannot be used (exit 2: bad input)."""


class DriverVersion(Version):
    """A driver version that prints as NVIDIA writes it (580.65.06, not 580.65.6)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._text = text

    def __str__(self) -> str:
        return self._text


def minor(version: Version) -> str:
    """'2.1.2' -> '2.1': the key torch releases and wheel sets use."""
    return f"{version.major}.{version.minor}"


@dataclass(frozen=True)
class CudaDriverRow:
    cuda: str  # "12.x", "11.1-11.8" or "10.2"
    linux: DriverVersion
    windows: DriverVersion
    rule: str

    def covers(self, cuda: Version) -> bool:
        major, minor_ = cuda.release[0], cuda.release[1] if len(cuda.release) > 1 else 0
        if self.cuda.endswith(".x"):
            return major == int(self.cuda[:-2])
        if "-" in self.cuda:
            low, high = (Version(part) for part in self.cuda.split("-"))
            return low <= Version(f"{major}.{minor_}") <= high
        return Version(f"{major}.{minor_}") == Version(self.cuda)


@dataclass(frozen=True)
class TorchRelease:
    torch: str  # "2.13"
    torchvision: str  # "0.28"; "" while no torchvision is released for it
    python: SpecifierSet
    latest: str = ""  # newest patch, "2.13.0"
    torchvision_latest: str = ""
    variants: tuple[str, ...] = ()  # CUDA variants; "cpu" is always there too
    index: str = "index_url"  # or "find_links" (torch <= 1.10)
    verified: bool = True
    unverified_variants: frozenset[str] = frozenset()
    python_on: Mapping[str, SpecifierSet] = field(
        default_factory=dict
    )  # "windows", "linux-aarch64"
    torchvision_python: SpecifierSet | None = None  # where torchvision's wheels stop earlier
    # where an OS ("darwin") or OS-arch pair ("linux-aarch64") has other torchvision wheels
    torchvision_python_on: Mapping[str, SpecifierSet] = field(default_factory=dict)
    cxx_std: int = 17  # the C++ standard its headers require of an extension
    pypi: Mapping[str, str] = field(default_factory=dict)  # "linux-x86_64" -> PyPI's variant

    def pypi_variant(self, os: str, arch: str) -> str | None:
        """The variant PyPI's own torch wheels are on this platform (None: not recorded)."""
        return self.pypi.get(f"{os}-{arch}")

    @property
    def version(self) -> Version:
        return Version(self.torch)

    def python_for(self, os: str, arch: str) -> SpecifierSet:
        """The Pythons this release has wheels for on one platform."""
        return self.python_on.get(f"{os}-{arch}") or self.python_on.get(os) or self.python

    def torchvision_python_for(self, os: str, arch: str) -> SpecifierSet | None:
        """The Pythons its torchvision has wheels for on one platform, where they differ from
        torch's own (None: the same)."""
        on = self.torchvision_python_on
        return on.get(f"{os}-{arch}") or on.get(os) or self.torchvision_python

    def all_variants(self) -> tuple[str, ...]:
        return (*self.variants, "cpu")


@dataclass(frozen=True)
class CudaVariant:
    variant: str  # "cu121"
    cuda: Version
    sm: tuple[Version, ...]
    ptx: Version | None = None
    verified: bool = True
    # Lists that differ from the default: per torch minor, and on Linux aarch64 (sm, ptx).
    by_torch: Mapping[str, tuple[tuple[Version, ...], Version | None]] = field(default_factory=dict)
    aarch64: tuple[tuple[Version, ...], Version | None] | None = None

    def built_for(self, torch_minor: str, arch: str = "x86_64") -> CudaVariant:
        """This variant as the wheels of one torch release on one CPU architecture carry it."""
        lists = self.aarch64 if arch == "aarch64" else self.by_torch.get(torch_minor)
        if lists is None:
            return self
        return replace(self, sm=lists[0], ptx=lists[1], by_torch={}, aarch64=None)

    def arch_list(self) -> list[str]:
        """In torch's own spelling: sm_86 ..., compute_120."""
        archs = [f"sm_{v.major}{v.minor}" for v in self.sm]
        if self.ptx is not None:
            archs.append(f"compute_{self.ptx.major}{self.ptx.minor}")
        return archs


@dataclass(frozen=True)
class MmcvWheelSet:
    package: str  # "mmcv" or "mmcv-full"
    versions: tuple[Version, ...]
    python: SpecifierSet
    sets: Mapping[str, frozenset[str]]  # variant -> torch minors with a wheel folder
    verified: bool = True
    python_verified: bool = True
    python_seen: frozenset[str] = frozenset()  # X.Y whose wheels a third-party listing showed
    os: str = "linux"  # "linux", "windows" or "darwin"
    # variant -> the archs its wheels carry (no PTX); absent: the torch variant's own list
    cuda_arch: Mapping[str, tuple[Version, ...]] = field(default_factory=dict)

    def has(self, variant: str, torch_minor: str) -> bool:
        return torch_minor in self.sets.get(variant, frozenset())


@dataclass(frozen=True)
class StackLine:
    """One line of the stack: upstream OpenMMLab or VBTI's onedl fork (same module names)."""

    name: str  # "openmmlab" or "onedl"
    title: str
    mmcv: tuple[str, ...]  # its mmcv distributions
    mmengine: str
    mmengine_latest: Version
    mmdet: str
    mim: str
    mim_latest: Version
    base_url: str
    find_links: str  # "{base}/{variant}-torch{torch_digits}0/simple/onedl-mmcv/index.html"
    base_url_env: str = ""
    mmengine_tested_torch: Version | None = None
    python: SpecifierSet = field(default_factory=SpecifierSet)  # the Pythons its tools install on
    python_note: str = ""  # why not the others
    opencv: tuple[str, ...] = ("opencv-python",)  # the OpenCV distributions its packages require

    def find_link(self, variant: str, torch_minor: str, base: str | None = None) -> str:
        """The find-links page exactly as this line's mim forms it."""
        return self.find_links.format(
            base=(base or self.base_url).rstrip("/"),
            variant=variant,
            torch=torch_minor,
            torch_digits=torch_minor.replace(".", ""),
        )


@dataclass(frozen=True)
class MmdetRelease:
    version: Version
    line: int
    mmcv_package: str
    mmcv: SpecifierSet
    mmengine: SpecifierSet | None
    mim_extra: bool
    stack_line: str = "openmmlab"
    python: SpecifierSet = field(default_factory=SpecifierSet)
    distribution: str = "mmdet"  # its line's name for it: "onedl-mmdetection"


@dataclass(frozen=True)
class SourceBuildRule:
    package: str
    versions: SpecifierSet
    torch: SpecifierSet
    cxx: int  # the C++ standard its setup.py forces
    compiles_raised_to: int | None = None  # measured to compile with the flag raised to this
    note: str = ""
    python: SpecifierSet = field(default_factory=SpecifierSet)  # the Pythons setup.py runs on
    python_note: str = ""  # why not the others


@dataclass(frozen=True)
class BuildVerdict:
    """Whether an sdist compiles against a torch release, and how."""

    ok: bool
    raise_cxx_to: int | None = None  # the build raises -std=c++N to this on its own copy
    forced_cxx: int | None = None  # N: the standard the sdist's setup.py forces
    reason: str = ""  # why not, when not ok


@dataclass(frozen=True)
class SourceBuilds:
    rules: tuple[SourceBuildRule, ...]
    requirements: tuple[str, ...]
    ops_core_minutes: float  # the C++ ops of one build, in core-minutes
    arch_core_minutes: float  # each CUDA arch on top
    min_gcc: Mapping[int, int] = field(default_factory=dict)  # C++ standard -> oldest gcc
    tmp_gib: float = 4.0  # free space a build needs in TMPDIR
    cache_gib: float = 5.0  # and in pip's cache
    # the resolver asks the same question for every variant of a torch: answered once
    _verdicts: dict[tuple[Any, ...], BuildVerdict] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def minutes(self, jobs: int, cuda_archs: int) -> int:
        """About how long one build takes with `jobs` parallel compile jobs."""
        work = self.ops_core_minutes + self.arch_core_minutes * cuda_archs
        return max(1, round(work / max(1, jobs)))

    def rule(self, package: str, version: Version) -> SourceBuildRule | None:
        return next((r for r in self.rules if r.package == package and version in r.versions), None)

    def verdict(
        self, package: str, version: Version, torch: TorchRelease, python: Version | None = None
    ) -> BuildVerdict:
        """Whether `package` `version`'s sdist compiles against `torch` (on `python`, when
        given): its rule covers that torch and Python, and its forced C++ standard is enough
        for torch's headers or was measured to compile raised to what they need."""
        key = (package, version, torch.torch, torch.version, torch.cxx_std, python)
        if key not in self._verdicts:
            self._verdicts[key] = self._verdict(package, version, torch, python)
        return self._verdicts[key]

    def _verdict(
        self, package: str, version: Version, torch: TorchRelease, python: Version | None
    ) -> BuildVerdict:
        rule = self.rule(package, version)
        if rule is None or torch.version not in rule.torch:
            return BuildVerdict(
                False,
                reason=f"{package} {version} is not known to compile against torch {torch.torch}",
            )
        if python is not None and python not in rule.python:
            return BuildVerdict(
                False,
                reason=f"{package} {version}'s sdist builds on Python {rule.python} only: "
                f"{rule.python_note}",
            )
        if torch.cxx_std <= rule.cxx:
            return BuildVerdict(True)
        if rule.compiles_raised_to is not None and rule.compiles_raised_to >= torch.cxx_std:
            return BuildVerdict(True, raise_cxx_to=torch.cxx_std, forced_cxx=rule.cxx)
        return BuildVerdict(
            False,
            reason=f"{package} {version}'s setup.py forces -std=c++{rule.cxx} and torch "
            f"{torch.torch}'s headers need C++{torch.cxx_std}",
        )


@dataclass(frozen=True)
class WheelGlibc:
    """The glibc the prebuilt Linux wheels of a package's releases need (their manylinux tag)."""

    package: str
    versions: SpecifierSet
    arch: str
    glibc: Version
    variants: frozenset[str] = frozenset()  # only these builds; empty: every build
    verified: bool = True


@dataclass(frozen=True)
class Sibling:
    """The bounds a sibling OpenMMLab package's releases assert at import (mmocr, mmseg...)."""

    distribution: str
    module: str
    releases: SpecifierSet
    requires: Mapping[str, tuple[tuple[str, Version], ...]]  # module -> ((operator, version), ...)
    source: str

    def broken_by(self, module: str, version: Version) -> str | None:
        """The bound `version` of `module` breaks ('<2.2.0'), as the sibling's own
        digit_version comparison reads it (a pre-release sorts below its release), or None."""
        for operator, bound in self.requires.get(module, ()):
            if not _COMPARE[operator](version, bound):
                return f"{operator}{bound}"
        return None


_COMPARE: Mapping[str, Callable[[Version, Version], bool]] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
}


@dataclass(frozen=True)
class Platform:
    """An OS and CPU architecture plans are made for, and what torch has there."""

    os: str
    arch: str
    torch: SpecifierSet
    cuda: str | tuple[str, ...]  # "all", "none", or the variants built for it
    verified: bool = True
    note: str = ""
    # variant -> the torch releases built with it here, where not every release that has it
    cuda_torch: Mapping[str, SpecifierSet] = field(default_factory=dict)

    def has_variant(self, variant: str, torch: Version | None = None) -> bool:
        """Whether torch has `variant` builds here (for this torch release, when given)."""
        if variant == "cpu" or self.cuda == "all":
            return True
        if self.cuda == "none" or variant not in self.cuda:
            return False
        releases = self.cuda_torch.get(variant)
        return releases is None or torch is None or torch in releases


@dataclass(frozen=True)
class JetsonGpu:
    cc: Version  # 8.7
    gpus: str  # "Jetson AGX Orin, Orin NX, Orin Nano"
    verified: bool = True


@dataclass(frozen=True)
class JetPack:
    """One JetPack release: its CUDA and Python, the Jetson GPUs it runs on, NVIDIA's torch
    builds for it and where they come from."""

    jetpack: str  # "6.1"
    cuda: Version
    python: Version
    gpus: tuple[Version, ...]
    torch: tuple[Version, ...]
    torch_index: str
    l4t: str = ""
    verified: bool = True


@dataclass(frozen=True)
class JetsonWheelFolder:
    """A folder of onedl's prebuilt onedl-mmcv wheels for one JetPack and torch minor."""

    folder: str  # "jetpack61-torch280"
    jetpack: str
    torch: str  # "2.8"
    versions: SpecifierSet
    verified: bool = True


@dataclass(frozen=True)
class Jetson:
    """Jetson GPUs run JetPack's CUDA: their torch is NVIDIA's JetPack build, and onedl builds
    onedl-mmcv against it with `build_env` (FORCE_CUDA, TORCH_CUDA_ARCH_LIST)."""

    why: str  # why PyTorch's and PyPI's aarch64 CUDA wheels do not run there
    gpus: tuple[JetsonGpu, ...]
    jetpacks: tuple[JetPack, ...]  # newest first
    mmcv_versions: SpecifierSet  # the onedl-mmcv releases onedl builds for JetPack
    build_env: Mapping[str, str]
    build_python: Version
    wheel_folders: tuple[JetsonWheelFolder, ...] = ()

    def gpu(self, cc: Version) -> JetsonGpu | None:
        return next((g for g in self.gpus if g.cc == cc), None)

    def jetpacks_for(self, cc: Version) -> list[JetPack]:
        """The JetPacks that run on this GPU, newest first."""
        return [j for j in self.jetpacks if cc in j.gpus]


@dataclass(frozen=True)
class Pin:
    name: str
    spec: str
    when: Mapping[str, str]
    reason: str
    known_failure: str | None = None

    def applies(self, facts: Mapping[str, Version | str]) -> bool:
        """Every condition holds for these facts (versions; mmcv_package by name). A condition
        on a fact not given is not checked: check's advice knows the Python and torch only."""
        for key, value in self.when.items():
            fact = facts.get(key)
            if isinstance(fact, str):
                if fact != value:
                    return False
            elif fact is not None and fact not in SpecifierSet(value):
                return False
        return True


@dataclass(frozen=True)
class SmokeModel:
    id: str  # "retinanet-r50"
    title: str
    configs: Mapping[int, str]  # mmdet line -> config path under mmdet/.mim/configs/
    checkpoint_url: str
    approx_mb: int

    @property
    def sha256_prefix(self) -> str:
        """OpenMMLab names checkpoints ...-<first 8 hex of sha256>.pth."""
        return self.checkpoint_url.rsplit("-", 1)[-1].removesuffix(".pth")


@dataclass(frozen=True)
class Matrix:
    path: str
    cuda_drivers: tuple[CudaDriverRow, ...]
    toolkit_drivers: tuple[tuple[Version, Version], ...]  # (cuda, its toolkit's Linux driver)
    gpu_architectures: Mapping[Version, tuple[Version, str]]  # cc -> (first CUDA, its GPUs)
    torch_releases: tuple[TorchRelease, ...]
    facts: Mapping[str, Version]
    cuda_variants: Mapping[str, CudaVariant]
    torch_index_url: str  # "https://download.pytorch.org/whl/{variant}"
    torch_find_links: str
    stack_lines: Mapping[str, StackLine]
    mmcv_wheels: tuple[MmcvWheelSet, ...]
    mmdet_releases: tuple[MmdetRelease, ...]
    source_builds: SourceBuilds | None
    gcc_limits: Mapping[Version, int]
    pins: tuple[Pin, ...]
    smoke_models: tuple[SmokeModel, ...]
    default_smoke_model: str
    platforms: tuple[Platform, ...] = ()
    mmcv_wheel_archs: frozenset[str] = frozenset({"x86_64"})
    wheel_glibc: tuple[WheelGlibc, ...] = ()
    siblings: tuple[Sibling, ...] = ()
    jetson: Jetson | None = None
    unverified_toolkits: frozenset[Version] = frozenset()  # toolkit drivers third parties give

    def newest_toolkit_driver(self) -> tuple[Version, Version] | None:
        """(CUDA, its toolkit's Linux driver) of the newest CUDA whose driver is verified."""
        known = [row for row in self.toolkit_drivers if row[0] not in self.unverified_toolkits]
        return max(known, default=None)

    def jetson_gpu(self, ccs: Iterable[Version]) -> JetsonGpu | None:
        """The first of these GPUs that is a Jetson's (JetPack's CUDA only), if any."""
        if self.jetson is None:
            return None
        return next((gpu for cc in ccs if (gpu := self.jetson.gpu(cc)) is not None), None)

    def glibc_needed(
        self, package: str, version: Version, arch: str, variant: str | None = None
    ) -> WheelGlibc | None:
        """The row saying which glibc `package` `version`'s Linux wheels need, if one does."""
        for row in self.wheel_glibc:
            if row.package != package or row.arch != arch or version not in row.versions:
                continue
            if not row.variants or variant in row.variants:
                return row
        return None

    def sibling(self, distribution: str, version: Version) -> Sibling | None:
        key = distribution.lower().replace("_", "-")
        return next(
            (s for s in self.siblings if s.distribution == key and version in s.releases), None
        )

    def setuptools_pin(self, python: Version, torch: Version | None = None) -> str:
        """The setuptools release plans pin for this Python and torch (a recent torch when
        None): setuptools 80.9.0 needs Python 3.9, so 3.8 and 3.7 get their own."""
        known = {"python": python, "torch": torch or self.torch_releases[-1].version}
        for pin in self.pins:
            if pin.name == "setuptools" and pin.spec.startswith("==") and pin.applies(known):
                return pin.spec.removeprefix("==")
        return str(self.fact("setuptools_known_good"))

    def variant_cuda(self, variant: str) -> Version:
        """The CUDA of a variant ("cu130" -> 13.0): the matrix's, else read from the tag (an
        installed torch's own build may be one PyTorch does not publish)."""
        known = self.cuda_variants.get(variant)
        if known is not None:
            return known.cuda
        digits = variant.removeprefix("cu")
        return Version(f"{digits[:-1]}.{digits[-1]}")

    def platform_names(self) -> str:
        """'linux x86_64, linux aarch64, ...': what a refusal names as known."""
        return ", ".join(f"{p.os} {p.arch}" for p in self.platforms)

    def platform(self, os: str, arch: str) -> Platform | None:
        return next((p for p in self.platforms if p.os == os and p.arch == arch), None)

    def smoke_model(self, model_id: str) -> SmokeModel | None:
        return next((m for m in self.smoke_models if m.id == model_id), None)

    def min_driver(self, cuda: str, os: str) -> DriverVersion | None:
        """The oldest driver that runs code built with this CUDA (minor-version compatible)."""
        wanted = Version(cuda)
        for row in self.cuda_drivers:
            if row.covers(wanted):
                return row.windows if os == "windows" else row.linux
        return None

    def gpu_min_driver(self, cc: Version) -> tuple[Version, str] | None:
        """The oldest Linux driver that knows GPUs of this compute capability (the toolkit
        driver of the first CUDA that targets them), and which GPUs those are."""
        known = self.gpu_architectures.get(cc)
        if known is None:
            return None
        first_cuda, gpus = known
        driver = dict(self.toolkit_drivers).get(first_cuda)
        return (driver, gpus) if driver is not None else None

    def max_cuda_for_driver(self, driver: str) -> str | None:
        """The newest CUDA whose own toolkit driver is <= this driver (Linux, Table 3)."""
        version = Version(driver)
        fitting = [cuda for cuda, minimum in self.toolkit_drivers if minimum <= version]
        return str(max(fitting)) if fitting else None

    def torch_release(self, torch: Version) -> TorchRelease | None:
        key = minor(torch)
        return next((row for row in self.torch_releases if row.torch == key), None)

    def fact(self, name: str) -> Version:
        return self.facts[name]

    def mmcv_find_link(
        self, variant: str, torch_minor: str, base: str | None = None, line: str = "openmmlab"
    ) -> str:
        """The find-links URL exactly as the line's `mim install` forms it."""
        return self.stack_lines[line].find_link(variant, torch_minor, base)

    def line_of(self, distribution: str) -> StackLine | None:
        """The line an mmcv / mmengine / mmdet distribution belongs to."""
        name = normalize_name(distribution)
        for line in self.stack_lines.values():
            if name in (*line.mmcv, line.mmengine, line.mmdet, line.mim):
                return line
        return None

    def lines_among(self, distributions: Iterable[str]) -> list[str]:
        """The names of the lines these installed distributions belong to, sorted."""
        return sorted({line.name for d in distributions if (line := self.line_of(d)) is not None})

    def module_distributions(self, module: str) -> tuple[str, ...]:
        """Every distribution, of either line, that installs the top-level module `module`
        ("mmcv", "mmengine", "mmdet", "mim", a sibling's "mmseg"): two in one environment
        overwrite each other."""
        names: list[str] = []
        for line in self.stack_lines.values():
            by_module = {
                "mmcv": line.mmcv,
                "mmengine": (line.mmengine,),
                "mmdet": (line.mmdet,),
                "mim": (line.mim,),
            }
            names += by_module.get(module, ())
        names += [s.distribution for s in self.siblings if s.module == module]  # mmseg...
        return tuple(dict.fromkeys(names))

    def torch_index(self, variant: str) -> str:
        return self.torch_index_url.format(variant=variant)

    def max_gcc(self, cuda: Version) -> int | None:
        return self.gcc_limits.get(Version(minor(cuda)))


@functools.cache
def load_matrix(path: str | None = None) -> Matrix:
    source = Path(path) if path else default_matrix_path()
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise MatrixError(f"{source}: cannot read the matrix ({exc.strerror})") from None
    import yaml  # only here: most commands never need a YAML parser

    try:
        # The C loader when PyYAML has it: the pure-Python one takes ~0.1 s on this file.
        raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise MatrixError(f"{source}{where}: not valid YAML: {problem}") from None
    try:
        return _build(str(source), raw)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MatrixError(f"{source}{_line_of(text, exc)}: {_describe(exc)}") from None


def default_matrix_path() -> Path:
    return paths.data_file(paths.MATRIX_FILE)


def _line_of(text: str, exc: Exception) -> str:
    """':LINE' of the first line holding the value an error quotes ('Invalid version: '11.x''),
    so that a bad value in a hand-edited matrix is found at once; '' when there is none."""
    quoted = re.findall(r"'([^']+)'", str(exc))
    for value in quoted:
        for number, line in enumerate(text.splitlines(), start=1):
            if value in line and not line.lstrip().startswith("#"):
                return f":{number}"
    return ""


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing key {exc.args[0]!r}"
    return str(exc)


def _spec(text: Any) -> SpecifierSet:
    return SpecifierSet(str(text))


def _torch_release(row: Mapping[str, Any]) -> TorchRelease:
    return TorchRelease(
        torch=str(row["torch"]),
        torchvision=str(row.get("torchvision", "")),
        python=_spec(row["python"]),
        latest=str(row.get("latest", "")),
        torchvision_latest=str(row.get("torchvision_latest", "")),
        variants=tuple(str(v) for v in row.get("variants", ())),
        index=str(row.get("index", "index_url")),
        verified=bool(row.get("verified", True)),
        unverified_variants=frozenset(row.get("unverified_variants", ())),
        python_on={str(k): _spec(v) for k, v in (row.get("python_on") or {}).items()},
        torchvision_python=(
            _spec(row["torchvision_python"]) if row.get("torchvision_python") else None
        ),
        torchvision_python_on={
            str(k): _spec(v) for k, v in (row.get("torchvision_python_on") or {}).items()
        },
        cxx_std=int(row["cxx_std"]),
        pypi={str(k): str(v) for k, v in (row.get("pypi") or {}).items()},
    )


def _sibling(row: Mapping[str, Any]) -> Sibling:
    requires = {}
    for module, spec in (row.get("requires") or {}).items():
        requires[str(module)] = tuple((s.operator, Version(s.version)) for s in _spec(spec))
    return Sibling(
        distribution=str(row["distribution"]),
        module=str(row["module"]),
        releases=_spec(row["releases"]),
        requires=requires,
        source=str(row["source"]),
    )


def _stack_line(row: Mapping[str, Any]) -> StackLine:
    tested = row.get("mmengine_tested_torch")
    return StackLine(
        name=str(row["line"]),
        title=str(row["title"]),
        mmcv=tuple(str(p) for p in row["mmcv"]),
        mmengine=str(row["mmengine"]),
        mmengine_latest=Version(str(row["mmengine_latest"])),
        mmdet=str(row["mmdet"]),
        mim=str(row["mim"]),
        mim_latest=Version(str(row["mim_latest"])),
        base_url=str(row["base_url"]),
        find_links=str(row["find_links"]),
        base_url_env=str(row.get("base_url_env", "")),
        mmengine_tested_torch=Version(str(tested)) if tested else None,
        python=_spec(row.get("python", "")),
        python_note=str(row.get("python_note", "")),
        opencv=tuple(str(name) for name in row["opencv"]),
    )


def _cuda_variant(row: Mapping[str, Any]) -> CudaVariant:
    sm, ptx = _arch_list(row)
    return CudaVariant(
        variant=str(row["variant"]),
        cuda=Version(str(row["cuda"])),
        sm=sm,
        ptx=ptx,
        verified=bool(row.get("verified", True)),
        by_torch={
            str(torch): _arch_list(lists) for torch, lists in row.get("by_torch", {}).items()
        },
        aarch64=_arch_list(row["aarch64"]) if row.get("aarch64") else None,
    )


def _arch_list(row: Mapping[str, Any]) -> tuple[tuple[Version, ...], Version | None]:
    """(sm, ptx) of a variant row or of one of its by_torch / aarch64 entries."""
    sm = tuple(Version(str(v)) for v in row["sm"])
    return sm, Version(str(row["ptx"])) if row.get("ptx") else None


def _jetson(raw: Mapping[str, Any] | None) -> Jetson | None:
    if not raw:
        return None
    builds = raw["onedl_mmcv"]
    return Jetson(
        why=str(raw["why"]),
        gpus=tuple(
            JetsonGpu(Version(str(g["cc"])), str(g["gpus"]), bool(g.get("verified", True)))
            for g in raw["gpus"]
        ),
        jetpacks=tuple(
            JetPack(
                jetpack=str(row["jetpack"]),
                cuda=Version(str(row["cuda"])),
                python=Version(str(row["python"])),
                gpus=tuple(Version(str(cc)) for cc in row["gpus"]),
                torch=tuple(Version(str(v)) for v in row["torch"]),
                torch_index=str(row["torch_index"]),
                l4t=str(row.get("l4t", "")),
                verified=bool(row.get("verified", True)),
            )
            for row in raw["jetpacks"]
        ),
        mmcv_versions=_spec(builds["versions"]),
        build_env={str(k): str(v) for k, v in builds["build_env"].items()},
        build_python=Version(str(builds["python"])),
        wheel_folders=tuple(
            JetsonWheelFolder(
                folder=str(row["folder"]),
                jetpack=str(row["jetpack"]),
                torch=str(row["torch"]),
                versions=_spec(row["versions"]),
                verified=bool(row.get("verified", True)),
            )
            for row in builds.get("folders") or ()
        ),
    )


def _build(path: str, raw: Any) -> Matrix:
    if not isinstance(raw, dict):
        raise ValueError("the top level must be a mapping")
    if raw.get("schema_version") != 1:
        raise ValueError(f"schema_version must be 1, not {raw.get('schema_version')!r}")
    index = raw["pytorch_index"]
    wheels = raw["mmcv_wheels"]
    builds = raw.get("mmcv_source_builds")
    lines = {str(row["line"]): _stack_line(row) for row in raw["stack_lines"]["rows"]}
    return Matrix(
        path=path,
        cuda_drivers=tuple(
            CudaDriverRow(
                cuda=str(row["cuda"]),
                linux=DriverVersion(str(row["linux"])),
                windows=DriverVersion(str(row["windows"])),
                rule=str(row["rule"]),
            )
            for row in raw["cuda_drivers"]["rows"]
        ),
        toolkit_drivers=tuple(
            (Version(str(row["cuda"])), DriverVersion(str(row["linux"])))
            for row in raw["cuda_toolkit_drivers"]["rows"]
        ),
        unverified_toolkits=frozenset(
            Version(str(row["cuda"]))
            for row in raw["cuda_toolkit_drivers"]["rows"]
            if not row.get("verified", True)
        ),
        gpu_architectures={
            Version(str(row["cc"])): (Version(str(row["first_cuda"])), str(row["gpus"]))
            for row in (raw.get("gpu_architectures") or {}).get("rows", ())
        },
        torch_releases=tuple(_torch_release(row) for row in raw["torch_releases"]["rows"]),
        facts={name: Version(str(fact["value"])) for name, fact in raw["facts"].items()},
        cuda_variants={
            str(row["variant"]): _cuda_variant(row) for row in raw["cuda_variants"]["rows"]
        },
        torch_index_url=str(index["index_url"]),
        torch_find_links=str(index["find_links"]),
        stack_lines=lines,
        mmcv_wheels=tuple(
            MmcvWheelSet(
                package=str(row["package"]),
                versions=tuple(Version(str(v)) for v in row["versions"]),
                python=_spec(row["python"]),
                sets={
                    str(variant): frozenset(str(t) for t in minors)
                    for variant, minors in row["sets"].items()
                },
                verified=bool(row.get("verified", True)),
                python_verified=bool(row.get("python_verified", True)),
                python_seen=frozenset(str(p) for p in row.get("python_seen") or ()),
                os=str(row.get("os", "linux")),
                cuda_arch={
                    str(variant): tuple(Version(str(a)) for a in archs)
                    for variant, archs in (row.get("cuda_arch") or {}).items()
                },
            )
            for row in wheels["rows"]
        ),
        mmcv_wheel_archs=frozenset(str(a) for a in wheels["arch"]),
        platforms=tuple(
            Platform(
                os=str(row["os"]),
                arch=str(row["arch"]),
                torch=_spec(row["torch"]),
                cuda=row["cuda"] if isinstance(row["cuda"], str) else tuple(row["cuda"]),
                verified=bool(row.get("verified", True)),
                note=str(row.get("note", "")),
                cuda_torch={str(k): _spec(v) for k, v in (row.get("cuda_torch") or {}).items()},
            )
            for row in raw["platforms"]["rows"]
        ),
        mmdet_releases=tuple(
            MmdetRelease(
                version=Version(str(row["mmdet"])),
                line=int(row["line"]),
                mmcv_package=str(row["mmcv_package"]),
                mmcv=_spec(row["mmcv"]),
                mmengine=_spec(row["mmengine"]) if row.get("mmengine") else None,
                mim_extra=bool(row.get("mim_extra", False)),
                stack_line=str(row.get("stack_line", "openmmlab")),
                python=_spec(row.get("python", "")),
                distribution=lines[str(row.get("stack_line", "openmmlab"))].mmdet,
            )
            for row in raw["mmdet_releases"]["rows"]
        ),
        source_builds=(
            SourceBuilds(
                rules=tuple(
                    SourceBuildRule(
                        package=str(row["package"]),
                        versions=_spec(row["versions"]),
                        torch=_spec(row["torch"]),
                        cxx=int(row["cxx"]),
                        compiles_raised_to=(
                            int(row["compiles_raised_to"])
                            if row.get("compiles_raised_to")
                            else None
                        ),
                        note=str(row.get("note", "")),
                        python=_spec(row.get("python", "")),
                        python_note=str(row.get("python_note", "")),
                    )
                    for row in builds["rows"]
                ),
                requirements=tuple(str(r) for r in builds["requirements"]),
                ops_core_minutes=float(builds["core_minutes"]["ops"]),
                arch_core_minutes=float(builds["core_minutes"]["per_cuda_arch"]),
                min_gcc={int(k): int(v) for k, v in builds["min_gcc"].items()},
                tmp_gib=float(builds["disk_gib"]["tmp"]),
                cache_gib=float(builds["disk_gib"]["cache"]),
            )
            if builds
            else None
        ),
        gcc_limits={
            Version(str(row["cuda"])): int(row["max_gcc"])
            for row in raw.get("nvcc_gcc_limits", {}).get("rows", ())
        },
        wheel_glibc=tuple(
            WheelGlibc(
                package=str(row["package"]),
                versions=_spec(row["versions"]),
                arch=str(row["arch"]),
                glibc=Version(str(row["glibc"])),
                variants=frozenset(str(v) for v in row.get("variants") or ()),
                verified=bool(row.get("verified", True)),
            )
            for row in raw["wheel_glibc"]["rows"]
        ),
        siblings=tuple(_sibling(row) for row in raw["openmmlab_siblings"]["rows"]),
        jetson=_jetson(raw.get("jetson")),
        smoke_models=tuple(
            SmokeModel(
                id=str(row["id"]),
                title=str(row["title"]),
                configs={2: str(row["config_2"]), 3: str(row["config_3"])},
                checkpoint_url=str(raw["smoke_models"]["base_url"]) + str(row["checkpoint"]),
                approx_mb=int(row["approx_mb"]),
            )
            for row in raw["smoke_models"]["rows"]
        ),
        default_smoke_model=str(raw["smoke_models"]["default"]),
        pins=tuple(
            Pin(
                name=str(row["name"]),
                spec=str(row["spec"]),
                when={str(k): str(v) for k, v in row.get("when", {}).items()},
                reason=str(row["reason"]),
                known_failure=row.get("known_failure"),
            )
            for row in raw.get("pins", {}).get("rows", ())
        ),
    )
