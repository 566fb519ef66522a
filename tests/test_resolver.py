"""The resolver: the corners people hit, properties over random machines, and mim's own URL.

Machines here are what-if values (no probing). The property tests check every chosen stack
against the matrix data directly, with the rules written out again in this file, so a resolver
that drifts from its matrix fails here. The find-links test runs the real openmim 0.3.9 code
(from PyPI) against a stand-in `torch` package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import BASE_PYTHON
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from mmdoctor.planning.machine import Machine
from mmdoctor.planning.matrix import DriverVersion, load_matrix
from mmdoctor.planning.plan import build_plan
from mmdoctor.planning.resolver import Candidate, Resolution, resolve, runs_on
from mmdoctor.planning.sources import Sources
from mmdoctor.planning.wishes import Wishes

M = load_matrix()
V = Version
PY = sys.executable

# Real driver versions (NVIDIA release notes and common distribution packages).
DRIVERS = (
    "418.39",
    "440.33",
    "450.80.02",
    "460.32.03",
    "470.82.01",
    "495.29.05",
    "510.47.03",
    "515.65.01",
    "525.60.13",
    "530.30.02",
    "535.104.05",
    "545.23.08",
    "550.54.14",
    "555.42.06",
    "560.35.03",
    "565.57.01",
    "570.124.06",
    "575.57.08",
    "580.65.06",
    "580.95.05",
    "590.44.01",
)
# Maxwell .. Blackwell: the compute capabilities GPUs in the field report.
COMPUTE_CAPABILITIES = (
    "5.0",
    "5.2",
    "6.0",
    "6.1",
    "7.0",
    "7.5",
    "8.0",
    "8.6",
    "8.9",
    "9.0",
    "10.0",
    "12.0",
    "8.7",  # Jetson Orin: PyTorch's and PyPI's CUDA wheels never run there (JETSON_CCS)
)
# Compute capabilities only Jetson's integrated GPUs have (developer.nvidia.com/cuda-gpus: 8.7
# Orin, 7.2 Xavier): they run JetPack's CUDA, not the SBSA builds on PyPI and PyTorch's index.
JETSON_CCS = {Version("8.7"), Version("7.2")}


def gpu_box(python: str, driver: str = "535.104.05", *ccs: str) -> Machine:
    return Machine(
        os="linux",
        python=V(python),
        driver=DriverVersion(driver),
        gpu_ccs=tuple(V(cc) for cc in (ccs or ("8.6",))),
    )


def cpu_box(python: str) -> Machine:
    return Machine(os="linux", python=V(python))


def torch_minor(version: Version) -> str:
    return f"{version.major}.{version.minor}"


def variant_cuda(variant: str) -> Version | None:
    return None if variant == "cpu" else M.cuda_variants[variant].cuda


# ------------------------------------------------------------------- table: the corners


def test_seed_case_cuda_116_python_310_mmdet_2() -> None:
    machine = gpu_box("3.10")
    result = resolve(machine, Wishes(cuda=V("11.6"), mmdet="2"), M)
    chosen = result.chosen
    assert chosen is not None, result.rejected
    assert chosen.torch.latest == "1.13.1"
    assert chosen.variant == "cu116"
    assert chosen.mmcv.package == "mmcv-full"
    assert chosen.mmcv.version in SpecifierSet("~=1.7.0")
    assert chosen.mmcv.prebuilt
    assert chosen.mmdet.version == V("2.28.2")
    url = "https://download.openmmlab.com/mmcv/dist/cu116/torch1.13.0/index.html"
    assert M.mmcv_find_link(chosen.variant, chosen.torch.torch) == url
    plan = build_plan(chosen, machine, M, executable=PY)
    assert plan.mmcv_find_links == url
    assert plan.torch_requirement == "torch==1.13.1+cu116"
    assert plan.torch_index_url == "https://download.pytorch.org/whl/cu116"


def test_seed_case_on_python_311_has_no_plan_and_says_why() -> None:
    result = resolve(gpu_box("3.11"), Wishes(cuda=V("11.6"), mmdet="2"), M)
    assert result.chosen is None
    assert result.rejected
    for rejection in result.rejected:
        assert "Python" in rejection.reason, rejection
    assert any(s.startswith("on Python 3.10") for s in result.suggestions), result.suggestions
    on_310 = next(s for s in result.suggestions if s.startswith("on Python 3.10"))
    assert "torch 1.13.1 (cu116)" in on_310 and "mmdet 2.28.2" in on_310


def test_h100_has_no_cu116_kernels() -> None:
    result = resolve(gpu_box("3.10", "535.104.05", "9.0"), Wishes(cuda=V("11.6")), M)
    assert result.chosen is None
    assert result.rejected
    assert all("sm_90" in r.reason for r in result.rejected), result.rejected
    # The same GPU with the default wishes gets a CUDA build that has sm_90.
    other = resolve(gpu_box("3.10", "535.104.05", "9.0"), Wishes(), M)
    assert other.chosen is not None
    assert V("9.0") in M.cuda_variants[other.chosen.variant].sm


TORCH_22_ON = [r for r in M.torch_releases if r.version >= V("2.2")]


@pytest.mark.parametrize("release", TORCH_22_ON, ids=lambda r: f"torch{r.torch}")
def test_mmdet_33_on_torch_22_or_newer_never_gets_a_prebuilt_mmcv(release) -> None:
    # mmdet 3.3 needs mmcv < 2.2.0, and mmcv 2.1.0 wheels stop at torch 2.1.
    mmdet_33 = next(r for r in M.mmdet_releases if r.version == V("3.3.0"))
    assert V("2.1.0") in mmdet_33.mmcv and V("2.2.0") not in mmdet_33.mmcv
    machines = [gpu_box("3.10", "590.44.01", "8.6"), cpu_box("3.10")]
    for machine in machines:
        variants = release.variants if machine.driver is not None else ("cpu",)
        for variant in variants:
            cuda = variant_cuda(variant)
            wishes = Wishes(
                line="openmmlab", torch=release.version, cuda=cuda, cpu=cuda is None, mmdet="3.3.0"
            )
            result = resolve(machine, wishes, M, suggest=False)
            for candidate in (result.chosen, *result.alternatives):
                if candidate is None:
                    continue
                assert not candidate.mmcv.prebuilt, candidate.describe()
                assert candidate.mmcv.version < V("2.2.0"), candidate.describe()
            strict = resolve(
                machine,
                Wishes(
                    line="openmmlab",
                    torch=release.version,
                    cuda=cuda,
                    cpu=cuda is None,
                    mmdet="3",
                    allow_source_build=False,
                ),
                M,
                suggest=False,
            )
            assert strict.chosen is None, (release.torch, variant, strict.chosen)
            for rejection in strict.rejected:
                if rejection.candidate.startswith("mmdet"):
                    assert "source builds are off" in rejection.reason


def test_mmdet_3_on_torch_22_without_source_builds_has_no_plan() -> None:
    result = resolve(
        gpu_box("3.10"), Wishes(torch=V("2.2"), mmdet="3", allow_source_build=False), M
    )
    assert result.chosen is None
    assert result.rejected
    assert any(s.startswith("without --torch") for s in result.suggestions)
    allowed = resolve(gpu_box("3.10"), Wishes(torch=V("2.2"), mmdet="3"), M)
    assert allowed.chosen is not None and not allowed.chosen.mmcv.prebuilt


@pytest.mark.parametrize("python", ["3.8", "3.9", "3.10", "3.11", "3.12"])
@pytest.mark.parametrize("mmdet", [None, "2", "3"])
def test_driver_470_gets_cuda_11_never_12(python, mmdet) -> None:
    result = resolve(
        gpu_box(python, "470.82.01"), Wishes(line="openmmlab", mmdet=mmdet), M, suggest=False
    )
    if result.chosen is None:
        # only mmdet 2 on a Python without a torch that mmcv-full 1.x builds against
        assert mmdet == "2" and V(python) >= V("3.12"), result.rejected
        return
    for candidate in (result.chosen, *result.alternatives):
        cuda = variant_cuda(candidate.variant)
        assert cuda is not None and cuda.major == 11, candidate.describe()
    if python == "3.10" and mmdet is None:
        # R470 runs CUDA 11.4 natively: cu113, not cu118 through minor-version compatibility
        assert result.chosen.variant == "cu113"


@pytest.mark.parametrize("python", ["3.8", "3.9", "3.10", "3.11", "3.12"])
def test_cpu_box_gets_the_cpu_variant(python) -> None:
    result = resolve(cpu_box(python), Wishes(), M, suggest=False)
    assert result.chosen is not None, result.rejected
    assert result.chosen.variant == "cpu"
    assert all(c.variant == "cpu" for c in result.alternatives)


@pytest.mark.parametrize("python", ["3.10", "3.11", "3.12"])
def test_rtx_5090_gets_a_blackwell_build_and_a_source_built_mmcv(python) -> None:
    machine = gpu_box(python, "575.57.08", "12.0")
    result = resolve(machine, Wishes(line="openmmlab"), M)
    chosen = result.chosen
    assert chosen is not None, result.rejected
    assert chosen.variant in ("cu128", "cu129")
    info = M.cuda_variants[chosen.variant]
    assert V("12.0") in info.sm or (info.ptx is not None and info.ptx <= V("12.0"))
    assert "sm_120" in info.arch_list() or "compute_120" in info.arch_list()
    assert not chosen.mmcv.prebuilt
    plan = build_plan(chosen, machine, M, executable=PY)
    mmcv_step = next(s for s in plan.steps if "--no-build-isolation" in s.argv)
    assert mmcv_step.env["TORCH_CUDA_ARCH_LIST"] == "12.0"
    assert mmcv_step.env["FORCE_CUDA"] == "1"

    strict = resolve(machine, Wishes(line="openmmlab", allow_source_build=False), M)
    assert strict.chosen is None
    # No suggestion offers a GPU stack of this line without a source build; the onedl line
    # has a prebuilt wheel for Blackwell on Python 3.10 and 3.12 (not 3.11).
    for suggestion in strict.suggestions:
        assert (
            suggestion.startswith(("with --cpu", "without --line: onedl-mmdetection"))
            or "(source build)" in suggestion
        ), suggestion
    onedl = [s for s in strict.suggestions if s.startswith("without --line")]
    assert bool(onedl) == (python != "3.11"), strict.suggestions
    assert all("onedl-mmcv 2.3.6 (prebuilt)" in s for s in onedl)


@pytest.mark.parametrize("python", ["3.10", "3.11"])
def test_rtx_5090_without_source_builds_is_offered_only_a_cpu_stack(python) -> None:
    strict = resolve(
        gpu_box(python, "575.57.08", "12.0"), Wishes(line="openmmlab", allow_source_build=False), M
    )
    assert strict.chosen is None
    without_build = [
        s for s in strict.suggestions if "(source build)" not in s and "--line" not in s
    ]
    assert without_build, strict.suggestions
    assert all(s.startswith("with --cpu") and s.endswith("(cpu)") for s in without_build)


def test_cu124_releases_carry_no_ptx_so_blackwell_on_python_38_has_no_plan() -> None:
    # Audit 4: the 9.0+PTX of CUDA 12.4 was on nightlies only. Python 3.8 stops at torch 2.4,
    # whose newest variant is cu124: nothing there runs on an sm_120 GPU.
    info = M.cuda_variants["cu124"]
    assert info.ptx is None and "compute_90" not in info.arch_list()
    machine = gpu_box("3.8", "570.26", "12.0")  # the first driver that knows sm_120
    result = resolve(machine, Wishes(), M)
    assert result.chosen is None
    assert any("no kernels for sm_120" in r.reason for r in result.rejected)
    assert any(s.startswith("on Python 3.1") for s in result.suggestions), result.suggestions


def test_ptx_runs_on_a_newer_major_and_only_where_the_release_carries_it() -> None:
    # Audit 5: cu128 carries compute_120 in torch 2.7's wheels, none in 2.8-2.11's.
    cu128 = M.cuda_variants["cu128"]
    future = V("13.0")  # no cubin of any variant runs on another major
    assert runs_on(cu128.built_for("2.7"), future)
    assert not runs_on(cu128.built_for("2.8"), future)
    assert not runs_on(cu128.built_for("2.11"), future)


def test_source_build_arch_list_is_one_the_variants_nvcc_can_compile() -> None:
    # A GPU newer than the variant's newest cubin (GB10, sm_121, beside torch 2.7's sm_120)
    # is built for that newest arch plus PTX: nvcc 12.8 may not know sm_121.
    machine = gpu_box("3.10", "570.26", "12.1")
    chosen = resolve(machine, Wishes(torch=V("2.7")), M).chosen
    assert chosen is not None and chosen.variant == "cu128" and not chosen.mmcv.prebuilt
    plan = build_plan(chosen, machine, M, executable=PY)
    step = next(s for s in plan.steps if s.kind == "build")
    assert step.env["TORCH_CUDA_ARCH_LIST"] == "12.0+PTX", step.env


@pytest.mark.parametrize("machine", [gpu_box("3.13"), cpu_box("3.13")], ids=["gpu", "cpu"])
def test_python_313_has_no_upstream_plan(machine) -> None:
    # Upstream: no mmcv wheel for 3.13, and setup.py breaks under PEP 667. (onedl-mmcv's
    # static version builds there: tests/test_machines_2026.py.)
    result = resolve(machine, Wishes(line="openmmlab"), M)
    assert result.chosen is None
    assert result.rejected
    for rejection in result.rejected:
        # A torch that has wheels for 3.13 is refused for its driver alone, and every mmcv
        # choice on it for Python 3.13 (no wheels; setup.py breaks under PEP 667).
        if rejection.candidate.startswith("mmdet") or rejection.candidate.endswith(" cpu"):
            assert "Python" in rejection.reason or "torchvision" in rejection.reason, rejection
        else:
            assert any(w in rejection.reason for w in ("Python", "driver", "torchvision"))
    assert any(r.candidate.startswith("mmdet") for r in result.rejected)
    assert any(s.startswith("on Python 3.1") for s in result.suggestions)


@pytest.mark.parametrize(
    ("machine", "wishes"),
    [
        (gpu_box("3.10"), Wishes(cuda=V("11.6"), mmdet="2")),
        (gpu_box("3.11"), Wishes(cuda=V("11.6"), mmdet="2")),
        (gpu_box("3.11", "575.57.08", "12.0"), Wishes()),
        (cpu_box("3.13"), Wishes()),
        (gpu_box("3.10", "470.82.01", "8.6", "7.5"), Wishes(mmdet="3", allow_source_build=False)),
    ],
)
def test_resolve_is_deterministic(machine, wishes) -> None:
    first = resolve(machine, wishes, M)
    second = resolve(machine, wishes, M)
    assert first == second
    assert isinstance(first, Resolution)


@pytest.mark.parametrize(
    "wishes",
    [Wishes(cuda=V("11.5"), torch=V("2.0")), Wishes(cuda=V("13.2"), torch=V("2.1"))],
    ids=["cuda11.5-torch2.0", "cuda13.2-torch2.1"],
)
def test_a_missing_plan_always_says_why(wishes) -> None:
    result = resolve(gpu_box("3.10"), wishes, M)
    assert result.chosen is None
    assert result.rejected


# ------------------------------------------------------------------- properties

PYTHONS = [V(f"3.{n}") for n in range(7, 14)]
NVCCS = [None, V("11.8"), V("12.1"), V("13.0")]

machines = st.builds(
    Machine,
    # Linux x86_64 most often; the other platforms the matrix knows, and one it does not
    # (Windows on ARM), too.
    os=st.sampled_from(("linux", "linux", "linux", "windows", "darwin")),
    arch=st.sampled_from(("x86_64", "x86_64", "aarch64")),
    python=st.sampled_from(PYTHONS),
    driver=st.sampled_from((None, *DRIVERS)).map(lambda d: d and DriverVersion(d)),
    gpu_ccs=st.lists(st.sampled_from(COMPUTE_CAPABILITIES).map(V), max_size=2).map(tuple),
    nvcc=st.sampled_from(NVCCS),
)


@st.composite
def wishes_strategy(draw) -> Wishes:
    cudas = sorted({v.cuda for v in M.cuda_variants.values()})
    # Each wish is left out two times in three: most real calls name one or two of them.
    cuda = draw(st.one_of(st.none(), st.none(), st.sampled_from(cudas)))
    cpu = False if cuda is not None else draw(st.booleans())
    torches = [r.version for r in M.torch_releases] + [V(r.latest) for r in M.torch_releases]
    torch = draw(st.one_of(st.none(), st.none(), st.sampled_from(torches)))
    line = draw(st.sampled_from([None, None, "openmmlab", "onedl"]))
    # onedl has no mmdet 2 (--line onedl --mmdet 2 is bad input: a test of its own)
    mmdet = draw(st.sampled_from([None, "3"] if line == "onedl" else [None, "2", "3"]))
    return Wishes(
        cuda=cuda,
        cpu=cpu,
        torch=torch,
        mmdet=mmdet,
        allow_source_build=draw(st.booleans()),
        line=line,
    )


PROPERTY = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def has_gpu(machine: Machine) -> bool:
    return machine.driver is not None or bool(machine.gpu_ccs)


def gpu_runs(variant: str, cc: Version, torch: str, arch: str = "x86_64") -> bool:
    """A cubin sm_XY runs on the same major with minor <= the GPU's; PTX JIT-compiles upwards.
    The lists are the ones this torch release's wheels for this CPU carry."""
    info = M.cuda_variants[variant]
    sm, ptx = (info.aarch64 if arch == "aarch64" else None) or info.by_torch.get(
        torch, (info.sm, info.ptx)
    )
    same_major = any(s.major == cc.major and s.minor <= cc.minor for s in sm)
    return same_major or (ptx is not None and ptx <= cc)


def platform_of(machine: Machine):
    return next((p for p in M.platforms if (p.os, p.arch) == (machine.os, machine.arch)), None)


def torch_fits(release, machine: Machine) -> bool:
    """torch and torchvision have wheels for this platform and Python."""
    platform = platform_of(machine)
    if platform is None or release.version not in platform.torch or not release.torchvision:
        return False
    python = (
        release.python_on.get(f"{machine.os}-{machine.arch}")
        or release.python_on.get(machine.os)
        or release.python
    )
    vision = (
        release.torchvision_python_on.get(f"{machine.os}-{machine.arch}")
        or release.torchvision_python_on.get(machine.os)
        or release.torchvision_python
        or SpecifierSet()
    )
    return machine.python in python and machine.python in vision


def cuda_fits(variant: str, machine: Machine, torch: str) -> bool:
    if variant == "cpu":
        return True
    platform = platform_of(machine)
    if platform is None or platform.cuda == "none" or machine.os == "darwin":
        return False
    if platform.cuda != "all" and variant not in platform.cuda:
        return False
    if variant in platform.cuda_torch and V(torch) not in platform.cuda_torch[variant]:
        return False
    if machine.driver is None or variant not in M.cuda_variants:
        return False
    if any(cc in JETSON_CCS for cc in machine.gpu_ccs):
        return False
    needed = M.min_driver(str(M.cuda_variants[variant].cuda), machine.os)
    return (
        needed is not None
        and machine.driver >= needed
        and all(gpu_runs(variant, cc, torch, machine.arch) for cc in machine.gpu_ccs)
        and all(driver_knows(cc, machine) for cc in machine.gpu_ccs)
    )


def driver_knows(cc: Version, machine: Machine) -> bool:
    """The driver is at least the toolkit driver of the first CUDA that targets the GPU."""
    first = {V("8.0"): "11.0", V("8.6"): "11.1", V("8.9"): "11.8", V("9.0"): "11.8"}
    first |= {V("10.0"): "12.8", V("12.0"): "12.8"}
    if machine.os != "linux" or cc not in first:
        return True
    driver = dict(M.toolkit_drivers)[V(first[cc])]
    return machine.driver is not None and machine.driver >= driver


def prebuilt_wheel(
    package: str, version: Version, torch: str, variant: str, machine: Machine
) -> bool:
    return machine.arch in M.mmcv_wheel_archs and any(
        s.package == package
        and s.os == machine.os
        and version in s.versions
        and torch in s.sets.get(variant, ())
        and machine.python in s.python
        # an arch list of its own (onedl-mmcv): SASS for every GPU, no PTX
        and all(
            any(a.major == cc.major and a <= cc for a in s.cuda_arch[variant])
            for cc in machine.gpu_ccs
            if variant in s.cuda_arch
        )
        for s in M.mmcv_wheels
    )


def compiles(package: str, version: Version, torch: str, python: Version) -> bool:
    """The rule covers this torch and this Python, and the C++ standard setup.py forces (or
    was measured to compile raised to) is at least what torch's headers need."""
    builds = M.source_builds
    need = next(r.cxx_std for r in M.torch_releases if r.torch == torch)
    return builds is not None and any(
        rule.package == package
        and version in rule.versions
        and V(torch) in rule.torch
        and python in rule.python
        and max(rule.cxx, rule.compiles_raised_to or 0) >= need
        for rule in builds.rules
    )


def line_takes(mmdet, machine: Machine) -> bool:
    """The mmdet release and its stack line (its mim, say) install on this Python."""
    line = M.stack_lines[mmdet.stack_line]
    return machine.python in mmdet.python and machine.python in line.python


def check_candidate(candidate: Candidate, machine: Machine, wishes: Wishes) -> None:
    """Every constraint, from the matrix data, written out independently of the resolver."""
    release = next(r for r in M.torch_releases if r.torch == candidate.torch.torch)
    assert release == candidate.torch
    label = candidate.describe()
    assert torch_fits(release, machine), label
    variant = candidate.variant
    assert variant in release.variants or variant == "cpu", label
    if variant == "cpu":
        assert wishes.cpu or not has_gpu(machine), f"CPU stack on a GPU box: {label}"
    else:
        info = M.cuda_variants[variant]
        assert machine.driver is not None, label
        needed = M.min_driver(str(info.cuda), machine.os)
        assert needed is not None and machine.driver >= needed, label
        assert cuda_fits(variant, machine, release.torch), label
        for cc in machine.gpu_ccs:
            assert gpu_runs(variant, cc, release.torch, machine.arch), f"{label} on sm_{cc}"
    mmdet = candidate.mmdet
    assert mmdet in M.mmdet_releases, label
    assert wishes.line in (None, mmdet.stack_line), label
    assert line_takes(mmdet, machine), label
    mmcv = candidate.mmcv
    assert mmcv.package == mmdet.mmcv_package, label
    assert mmcv.version in mmdet.mmcv, label
    if mmcv.prebuilt:
        assert prebuilt_wheel(mmcv.package, mmcv.version, release.torch, variant, machine)
    else:
        assert wishes.allow_source_build, label
        assert compiles(mmcv.package, mmcv.version, release.torch, machine.python), label
    if wishes.cuda is not None:
        assert variant == f"cu{wishes.cuda.major}{wishes.cuda.minor}", label
    if wishes.cpu:
        assert variant == "cpu", label
    if wishes.torch is not None:
        assert release.torch == torch_minor(wishes.torch), label
    if wishes.mmdet in ("2", "3"):
        assert mmdet.line == int(wishes.mmdet), label


def feasible(machine: Machine, wishes: Wishes) -> list[tuple[int, bool, Version]]:
    """Brute force over the matrix: (mmdet line, prebuilt, mmdet version) of every stack that
    meets every constraint."""
    found = []
    for release in M.torch_releases:
        if wishes.torch is not None and release.torch != torch_minor(wishes.torch):
            continue
        if not torch_fits(release, machine):
            continue
        if wishes.cpu:
            variants: tuple[str, ...] = ("cpu",)
        elif wishes.cuda is not None:
            variants = tuple(
                v for v in release.variants if v == f"cu{wishes.cuda.major}{wishes.cuda.minor}"
            )
        elif has_gpu(machine):
            variants = release.variants
        else:
            variants = (*release.variants, "cpu")
        for variant in variants:
            if not cuda_fits(variant, machine, release.torch):
                continue
            for mmdet in M.mmdet_releases:
                if wishes.mmdet in ("2", "3") and mmdet.line != int(wishes.mmdet):
                    continue
                if wishes.line not in (None, mmdet.stack_line) or not line_takes(mmdet, machine):
                    continue
                versions = {
                    v
                    for s in M.mmcv_wheels
                    if s.package == mmdet.mmcv_package
                    for v in s.versions
                    if v in mmdet.mmcv
                }
                prebuilt = any(
                    prebuilt_wheel(mmdet.mmcv_package, v, release.torch, variant, machine)
                    for v in versions
                )
                built = (
                    wishes.allow_source_build
                    and M.source_builds is not None
                    and any(
                        compiles(mmdet.mmcv_package, v, release.torch, machine.python)
                        for v in versions
                    )
                )
                if prebuilt or built:
                    found.append((mmdet.line, prebuilt, mmdet.version))
    return found


@PROPERTY
@given(machine=machines, wishes=wishes_strategy())
def test_every_chosen_stack_meets_every_constraint(machine, wishes) -> None:
    result = resolve(machine, wishes, M, suggest=False)
    for candidate in (result.chosen, *result.alternatives):
        if candidate is not None:
            check_candidate(candidate, machine, wishes)
    # Complete as well as sound: no plan only when nothing in the matrix fits.
    stacks = feasible(machine, wishes)
    assert (result.chosen is None) == (not stacks), (result.chosen, stacks[:3])
    if result.chosen is not None:
        # Ranking rules 1-3 of the resolver's docstring: newest mmdet line, then prebuilt
        # before a source build, then the newest mmdet release.
        chosen = result.chosen
        assert (chosen.mmdet.line, chosen.mmcv.prebuilt, chosen.mmdet.version) == max(stacks)
        plan = build_plan(chosen, machine, M, executable=PY)
        # every step runs the target's interpreter, but the unpack and the C++ raise of a
        # source build's own copy (tar, sed)
        assert all(step.argv[0] == PY or step.unless_built for step in plan.steps[:-1])
        assert plan.steps[-1].argv == ("mmdoctor", "check", "--python", PY)
        assert plan.mmcv_find_links == M.mmcv_find_link(
            chosen.variant, chosen.torch.torch, line=chosen.line
        )
        assert plan.torch_requirement == f"torch=={chosen.torch.latest}+{chosen.variant}"


@settings(max_examples=40, deadline=None, database=None)
@given(machine=machines, wishes=wishes_strategy())
def test_resolve_is_deterministic_everywhere(machine, wishes) -> None:
    assert resolve(machine, wishes, M) == resolve(machine, wishes, M)


# ------------------------------------------------------------------- openmim's own find-link

MIM_WHEEL = Path("/tmp/mimwheel/openmim-0.3.9-py2.py3-none-any.whl")

# Runs inside the throwaway venv. openmim's mim/__init__ imports every command (pandas,
# model-index, opendatalab ...); when that fails, mim.utils and mim/commands/install.py are
# loaded from their files under empty parent packages, so the function is mim's own code.
MIM_SCRIPT = textwrap.dedent(
    """
    import importlib, importlib.util, json, os, sys, types

    def load():
        try:
            from mim.commands.install import get_mmcv_full_find_link
            from mim.utils import DEFAULT_MMCV_BASE_URL
            return get_mmcv_full_find_link, DEFAULT_MMCV_BASE_URL, "import mim"
        except ImportError:
            for name in [n for n in sys.modules if n == "mim" or n.startswith("mim.")]:
                del sys.modules[name]
        root = os.path.dirname(importlib.util.find_spec("mim").origin)
        for name, path in (("mim", root), ("mim.commands", os.path.join(root, "commands"))):
            package = types.ModuleType(name)
            package.__path__ = [path]
            sys.modules[name] = package
        utils = importlib.import_module("mim.utils")
        install = importlib.import_module("mim.commands.install")
        return install.get_mmcv_full_find_link, utils.DEFAULT_MMCV_BASE_URL, "by path"

    find_link, default_base, how = load()
    import torch
    print(json.dumps({
        "default": find_link(default_base),
        "mirror": find_link(sys.argv[1]),
        "how": how,
        "torch_file": torch.__file__,
        "mim_file": sys.modules[find_link.__module__].__file__,
    }))
    """
)
MIRROR = "https://mirror.example.org/openmmlab"


@pytest.fixture(scope="session")
def mim_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the real openmim 0.3.9 (no dependencies but what its utils import)."""
    home = tmp_path_factory.mktemp("mim-venv")
    subprocess.run([BASE_PYTHON, "-m", "venv", str(home)], check=True, timeout=300)
    python = home / "bin" / "python"
    openmim = str(MIM_WHEEL) if MIM_WHEEL.is_file() else "openmim==0.3.9"
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "install", "-q"]
    for args in (
        [*pip, "--no-deps", openmim, "setuptools==80.9.0"],
        [*pip, "click", "requests", "rich"],
    ):
        done = subprocess.run(args, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.skip(f"cannot install openmim 0.3.9 from PyPI: {done.stderr.strip()[-300:]}")
    return python


def mim_find_links(python: Path, folder: Path, version: str, cuda: str | None) -> dict:
    """What openmim 0.3.9 computes with a stand-in torch of this version and CUDA."""
    package = folder / "torch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"__version__ = {version!r}\nfrom . import version\n")
    (package / "version.py").write_text(f"__version__ = {version!r}\ncuda = {cuda!r}\n")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(folder),  # mim creates ~/.cache/mim on import
        "PYTHONPATH": str(folder),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    done = subprocess.run(
        [str(python), "-c", MIM_SCRIPT, MIRROR],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(answer["torch_file"]).parent == package
    assert answer["mim_file"].endswith(os.path.join("mim", "commands", "install.py"))
    return answer


@pytest.mark.slow
@pytest.mark.parametrize(
    ("torch_version", "cuda"),
    [("1.13.1+cu116", "11.6"), ("2.1.2+cu121", "12.1"), ("2.1.0+cpu", None), ("1.8.1", "10.2")],
)
def test_find_link_is_what_mim_builds(mim_python, tmp_path, torch_version, cuda) -> None:
    mim = mim_find_links(mim_python, tmp_path, torch_version, cuda)
    variant = "cpu" if cuda is None else f"cu{cuda.replace('.', '')}"
    torch = torch_minor(V(torch_version))
    assert M.mmcv_find_link(variant, torch) == mim["default"]
    assert M.mmcv_find_link(variant, torch, MIRROR) == mim["mirror"]
    assert mim["mirror"].startswith(MIRROR + "/mmcv/dist/")


@pytest.mark.slow
def test_planned_find_link_is_what_mim_builds_after_the_plan(mim_python, tmp_path) -> None:
    """The seed case end to end: the torch the plan installs, then mim's URL for it."""
    machine = gpu_box("3.10")
    chosen = resolve(machine, Wishes(cuda=V("11.6"), mmdet="2"), M).chosen
    assert chosen is not None
    plan = build_plan(chosen, machine, M, executable=PY)
    cuda = str(M.cuda_variants[plan.variant].cuda)
    mim = mim_find_links(mim_python, tmp_path, f"{plan.torch_version}+{plan.variant}", cuda)
    assert plan.mmcv_find_links == mim["default"]
    mirrored = build_plan(chosen, machine, M, executable=PY, sources=Sources(mmcv_base_url=MIRROR))
    assert mirrored.mmcv_find_links == mim["mirror"]


# ------------------------------------------------------------------- new GPUs (issue 13.11)


def test_an_rtx_5090_on_r570_takes_the_cuda_its_driver_runs_natively() -> None:
    machine = Machine(
        os="linux", python=V("3.12"), driver=DriverVersion("570.86.10"), gpu_ccs=(V("12.0"),)
    )
    result = resolve(machine, Wishes(line="openmmlab", mmdet="3"), M, suggest=False)
    assert result.chosen is not None, result.rejected
    assert result.chosen.variant == "cu128"  # R570 is CUDA 12.8's driver; cu129 only via MVC


def test_a_blackwell_gpu_on_a_driver_that_predates_it_gets_no_plan() -> None:
    machine = Machine(
        os="linux", python=V("3.12"), driver=DriverVersion("535.104.05"), gpu_ccs=(V("12.0"),)
    )
    result = resolve(machine, Wishes(), M)
    assert result.chosen is None
    assert any(
        "sm_120 GPUs (RTX 50xx" in r.reason and ">= 570.26" in r.reason for r in result.rejected
    )
    assert M.gpu_min_driver(V("8.6")) == (V("455.23"), "RTX 30xx, A40, A10, RTX A6000")


# ------------------------------------------------------------------- the December 2026 audit
# One test per finding of shared/reference/matrix-audit-2026.md, numbered as there.


def plan_for(machine: Machine, wishes: Wishes):
    chosen = resolve(machine, wishes, M).chosen
    assert chosen is not None, resolve(machine, wishes, M).rejected
    return chosen, build_plan(chosen, machine, M, executable=PY)


def test_audit_1_a_build_against_torch_214_raises_the_cxx_standard_on_a_copy() -> None:
    chosen, plan = plan_for(
        cpu_box("3.11"), Wishes(line="openmmlab", cpu=True, torch=V("2.14"), mmdet="3")
    )
    assert (chosen.mmcv.version, chosen.mmcv.prebuilt, chosen.mmcv.raise_cxx_to) == (
        V("2.1.0"),
        False,
        20,
    )
    kinds = [(s.argv[0], s.unless_built != "") for s in plan.steps]
    sed = next(s for s in plan.steps if s.argv[0] == "sed")
    assert sed.argv[2] == "s/-std=c++17/-std=c++20/g" and sed.argv[1].startswith("-i")
    # the copy lives in mmdoctor's own cache, next to nothing of the user's
    assert "/sources/" in sed.argv[-1] and sed.argv[-1].endswith("mmcv-2.1.0/setup.py")
    assert ("tar", True) in kinds
    build = next(s for s in plan.steps if s.kind == "build")
    assert build.argv[build.argv.index("--wheel-dir") - 1] == sed.argv[-1].removesuffix("/setup.py")
    assert any("C++20" in w and "-std=c++20" in w for w in plan.warnings), plan.warnings
    # torch 2.13's headers ask for C++17 only: the sdist builds as shipped
    chosen_213, plan_213 = plan_for(
        cpu_box("3.11"), Wishes(line="openmmlab", cpu=True, torch=V("2.13"), mmdet="3")
    )
    assert chosen_213.mmcv.raise_cxx_to is None
    assert not any(s.argv[0] in ("sed", "tar") for s in plan_213.steps)


def test_audit_1_an_sdist_not_measured_with_cxx20_is_refused_with_the_reason() -> None:
    # mmdet 3.1 takes mmcv < 2.1.0, whose setup.py hard-codes C++14.
    result = resolve(cpu_box("3.11"), Wishes(cpu=True, torch=V("2.14"), mmdet="3.1.0"), M)
    assert result.chosen is None
    assert any(
        "forces -std=c++14" in r.reason and "need C++20" in r.reason for r in result.rejected
    ), result.rejected


@pytest.mark.parametrize(
    ("python", "torch", "setuptools"),
    [
        ("3.7", "1.13", "==68.0.0"),
        ("3.8", "2.4", "==75.3.4"),
        ("3.9", "2.4", "==80.9.0"),
        ("3.9", "1.10", "==59.5.0"),
        ("3.12", "2.14", "==80.9.0"),
    ],
)
def test_audit_2_the_setuptools_pin_installs_on_the_plans_python(python, torch, setuptools) -> None:
    _, plan = plan_for(cpu_box(python), Wishes(cpu=True, torch=V(torch)))
    pins = {p.name: p.spec for p in plan.pins}
    assert pins["setuptools"] == setuptools
    # requires-python of those releases on PyPI (68.0.0 >=3.7, 75.3.4 >=3.8, 80.9.0 >=3.9)
    needs = {"==59.5.0": "3.6", "==68.0.0": "3.7", "==75.3.4": "3.8", "==80.9.0": "3.9"}
    assert V(python) >= V(needs[setuptools])


def test_audit_3_windows_gets_a_prebuilt_plan() -> None:
    # The acceptance case: 528.24 predates 12.x on Windows (528.33), so cu118.
    machine = Machine(
        os="windows", python=V("3.10"), driver=DriverVersion("528.24"), gpu_ccs=(V("8.6"),)
    )
    chosen = resolve(machine, Wishes(mmdet="3", allow_source_build=False), M).chosen
    assert chosen is not None
    assert chosen.mmcv.prebuilt and chosen.variant == "cu118"
    assert (str(chosen.mmcv.version), chosen.torch.torch) == ("2.1.0", "2.1")


def test_audit_3_windows_sets_stop_at_torch_23_and_macos_is_cpu_up_to_mmcv_210() -> None:
    windows = Machine(
        os="windows", python=V("3.10"), driver=DriverVersion("552.22"), gpu_ccs=(V("8.6"),)
    )
    assert (
        resolve(windows, Wishes(torch=V("2.4"), mmdet="3", allow_source_build=False), M).chosen
        is None
    )
    mac = Machine(os="darwin", python=V("3.10"))
    chosen = resolve(mac, Wishes(mmdet="3", allow_source_build=False), M).chosen
    assert chosen is not None and chosen.variant == "cpu" and chosen.mmcv.prebuilt
    assert (str(chosen.mmcv.version), chosen.torch.torch) == ("2.1.0", "2.1")


def test_audit_5_a_v100_runs_cu128_of_torch_28_to_210_only() -> None:
    v100 = gpu_box("3.10", "570.124.06", "7.0")
    for torch, runs in (("2.7", False), ("2.8", True), ("2.10", True), ("2.11", False)):
        result = resolve(v100, Wishes(cuda=V("12.8"), torch=V(torch)), M)
        assert (result.chosen is not None) == runs, (torch, result.rejected)


def test_audit_6_cu101_is_built_for_sm_70_which_runs_on_turing() -> None:
    info = M.cuda_variants["cu101"]
    assert [str(v) for v in info.sm] == ["3.7", "5.0", "6.0", "7.0"] and info.verified
    assert runs_on(info, V("7.5"))


def test_audit_7_8_cu130_is_the_measured_list_and_cuda_13_has_no_volta() -> None:
    info = M.cuda_variants["cu130"]
    assert info.arch_list() == ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]
    for variant in M.cuda_variants.values():
        if variant.cuda.major >= 13:
            assert min(variant.sm) >= V("7.5"), variant
    result = resolve(gpu_box("3.12", "580.95.05", "7.0"), Wishes(cuda=V("13.0")), M)
    assert result.chosen is None and any("sm_70" in r.reason for r in result.rejected)


def test_audit_9_torch_213_214_have_no_python_315_wheels() -> None:
    for torch in ("2.13", "2.14"):
        result = resolve(cpu_box("3.15"), Wishes(cpu=True, torch=V(torch)), M)
        assert result.chosen is None
        assert all("Python" in r.reason for r in result.rejected), result.rejected


def test_audit_10_new_releases_and_a_torch_without_torchvision(tmp_path: Path) -> None:
    release = M.torch_release(V("2.12"))
    assert release is not None and (release.latest, release.torchvision_latest) == (
        "2.12.1",
        "0.27.1",
    )
    # A release with no torchvision yet (2.15 was one until torchvision 0.29.2) has no plan.
    with_vision = 'torchvision: "0.29", torchvision_latest: "0.29.2", python: ">=3.11'
    text = Path(M.path).read_text().replace(with_vision, 'python: ">=3.11')
    (tmp_path / "m.yaml").write_text(text)
    without = load_matrix(str(tmp_path / "m.yaml"))
    result = resolve(cpu_box("3.12"), Wishes(cpu=True, torch=V("2.15")), without)
    assert result.chosen is None
    assert any("no torchvision" in r.reason for r in result.rejected), result.rejected


def test_audit_11_torch_113_on_311_and_torch_25_on_windows_313() -> None:
    result = resolve(cpu_box("3.11"), Wishes(cpu=True, torch=V("1.13")), M)
    assert result.chosen is None
    assert all("torchvision 0.14" in r.reason for r in result.rejected), result.rejected
    windows = Machine(os="windows", python=V("3.13"))
    result = resolve(windows, Wishes(cpu=True, torch=V("2.5")), M)
    assert result.chosen is None and "windows" in result.rejected[0].reason


def test_audit_12_torch_111_cu115_wheel_sets_can_be_chosen() -> None:
    chosen, plan = plan_for(gpu_box("3.9", "470.82.01"), Wishes(cuda=V("11.5"), torch=V("1.11")))
    assert chosen.variant == "cu115" and chosen.mmcv.prebuilt
    assert not chosen.is_verified(M)  # cu115 for 1.11 is third-party knowledge
    assert plan.torch_index_url == "https://download.pytorch.org/whl/cu115"


def test_audit_13_cuda_132_on_a_595_driver_is_native() -> None:
    assert M.max_cuda_for_driver("595.45.04") == "13.2"
    assert M.max_cuda_for_driver("610.43.02") == "13.3"
    _, plan = plan_for(gpu_box("3.12", "595.45.04", "8.6"), Wishes(cuda=V("13.2")))
    assert not any("minor-version compatibility" in w for w in plan.warnings), plan.warnings


def test_audit_14_the_cuda_12_minimum_stays_the_12_0_ga_driver() -> None:
    # NVIDIA now says ">= 525"; the matrix keeps 525.60.13 (the 12.0 GA driver), on purpose.
    assert str(M.min_driver("12.6", "linux")) == "525.60.13"
    result = resolve(gpu_box("3.10", "525.53"), Wishes(cuda=V("12.1")), M)
    assert result.chosen is None and any("525.60.13" in r.reason for r in result.rejected)


def test_audit_15_mmdet_2252_has_the_mim_extra() -> None:
    release = next(r for r in M.mmdet_releases if str(r.version) == "2.25.2")
    assert release.mim_extra


def test_audit_16_the_yapf_pin_is_for_mmcv_full_171_and_older() -> None:
    _, old = plan_for(gpu_box("3.10", "535.104.05"), Wishes(torch=V("1.13"), mmdet="2"))
    assert old.mmcv_version == "1.7.1" and "yapf" in {p.name for p in old.pins}
    new_machine = gpu_box("3.10", "535.104.05")
    _, new = plan_for(new_machine, Wishes(torch=V("2.1"), mmdet="2", cuda=V("12.1")))
    assert new.mmcv_version == "1.7.2" and "yapf" not in {p.name for p in new.pins}


def test_audit_17_an_arm_machine_never_gets_an_x86_64_wheel() -> None:
    arm = Machine(os="linux", arch="aarch64", python=V("3.11"))
    chosen, plan = plan_for(arm, Wishes(line="openmmlab", cpu=True, mmdet="3"))
    assert not chosen.mmcv.prebuilt  # prebuilt mmcv wheels (either line) are x86_64 only
    assert not any("download.openmmlab.com" in " ".join(s.argv) for s in plan.steps)
    strict = resolve(
        arm, Wishes(line="openmmlab", cpu=True, mmdet="3", allow_source_build=False), M
    )
    assert strict.chosen is None
    assert any("wheels are x86_64 only" in r.reason for r in strict.rejected), strict.rejected


def test_audit_17_a_grace_hopper_gets_the_aarch64_cuda_13_build() -> None:
    gh200 = Machine(
        os="linux",
        arch="aarch64",
        python=V("3.12"),
        driver=DriverVersion("580.95.05"),
        gpu_ccs=(V("9.0"),),
        nvcc=V("13.0"),
    )
    chosen = resolve(gh200, Wishes(mmdet="3"), M).chosen
    assert chosen is not None and chosen.variant in ("cu130", "cu132")
    # RELEASE.md lists aarch64 cu126 builds for 2.12-2.14 only (issue 28)
    no = resolve(gh200, Wishes(cuda=V("12.6"), torch=V("2.11")), M)
    assert no.chosen is None and any("linux aarch64" in r.reason for r in no.rejected)
    cu126 = resolve(gh200, Wishes(cuda=V("12.6")), M).chosen
    assert cu126 is not None and cu126.torch.torch in ("2.12", "2.13", "2.14")


def test_an_os_and_cpu_the_matrix_does_not_know_has_no_plan() -> None:
    result = resolve(Machine(os="windows", arch="aarch64", python=V("3.12")), Wishes(), M)
    assert result.chosen is None
    assert "windows aarch64" in result.rejected[0].reason
    assert "linux x86_64" in result.rejected[0].reason
