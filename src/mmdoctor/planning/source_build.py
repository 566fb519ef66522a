"""mmcv from source, where no prebuilt wheel fits: the steps that build it into the wheel
cache and install that wheel, the compile jobs and GPU archs of the build, and what stops a
build on this machine before it starts (install's blockers, check's build.prerequisites)."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.version import Version

from mmdoctor import wheel_cache
from mmdoctor.planning.machine import Machine
from mmdoctor.planning.matrix import Matrix, TorchRelease
from mmdoctor.planning.resolver import Candidate
from mmdoctor.planning.steps import Installer, Step


def arch_list_for(candidate: Candidate, machine: Machine, matrix: Matrix) -> str:
    """TORCH_CUDA_ARCH_LIST for a source build: the GPUs here (fewer archs, faster build), else
    the variant's own list. A GPU newer than the variant's newest arch (which its nvcc may not
    know) gets that arch as PTX, which the driver JIT-compiles for it. An installed torch of a
    build the matrix does not know (JetPack's, NGC's): the GPUs' own archs."""
    known = matrix.cuda_variants.get(candidate.variant)
    if known is None:
        ccs = sorted(set(machine.gpu_ccs))
        return ";".join(f"{cc.major}.{cc.minor}" for cc in ccs)
    info = known.built_for(candidate.torch.torch, machine.arch)
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


def source_build_steps(
    candidate: Candidate,
    matrix: Matrix,
    machine: Machine,
    installer: Installer,
    torch_version: str,
    jobs: int,
    *,
    reinstall: bool = False,
) -> list[Step]:
    """Build mmcv from its sdist into the wheel cache, then install that wheel (`reinstall`: over
    a broken install of the same version). Where torch's headers need a newer C++ than the
    sdist's setup.py forces, the build runs on mmdoctor's own unpacked copy with the flag
    raised (never on the user's files)."""
    mmcv, torch, variant = candidate.mmcv, candidate.torch, candidate.variant
    spec = f"{mmcv.package}=={mmcv.version}"
    env = {"MMCV_WITH_OPS": "1", "MAX_JOBS": str(jobs)}
    if variant != "cpu":
        env["FORCE_CUDA"] = "1"
        env["TORCH_CUDA_ARCH_LIST"] = arch_list_for(candidate, machine, matrix)
    key = wheel_cache.BuildKey(
        package=mmcv.package,
        version=str(mmcv.version),
        torch=_key_torch(candidate, torch_version),
        cuda=variant,
        python_tag=f"cp{machine.python.major}{machine.python.minor}",
        arch_list=env.get("TORCH_CUDA_ARCH_LIST", ""),
    )
    wheelhouse = str(wheel_cache.folder(key))
    why = f"no prebuilt wheel for torch {torch.torch} {variant}"
    steps = []
    build_description = (
        f"{spec} built from {'that copy' if mmcv.raise_cxx_to else 'its PyPI sdist'} ({why}) "
        "without build isolation, so the build sees torch and this setuptools, into the "
        "wheel cache (skipped when it already holds this build)"
    )
    build = installer.build_wheel(build_description, spec, mmcv.package, wheelhouse, env)
    if mmcv.raise_cxx_to is not None:
        source = wheel_cache.source_folder(key)
        sdist = source / wheel_cache.sdist_filename(mmcv.package, str(mmcv.version))
        tree = source / wheel_cache.sdist_stem(mmcv.package, str(mmcv.version))
        forced = mmcv.forced_cxx
        steps += [
            installer.download_sdist(
                f"{spec}'s sdist from PyPI into mmdoctor's build folder",
                spec,
                mmcv.package,
                str(source),
                unless_built=wheelhouse,
            ),
            installer.command(
                "unpack it there",
                *("tar", "-xzf", str(sdist), "-C", str(source)),
                unless_built=wheelhouse,
            ),
            installer.command(
                f"raise its setup.py's -std=c++{forced} to -std=c++{mmcv.raise_cxx_to}: torch "
                f"{torch.torch}'s headers need C++{mmcv.raise_cxx_to}",
                "sed",
                f"-i.c++{forced}",
                f"s/-std=c++{forced}/-std=c++{mmcv.raise_cxx_to}/g",
                str(tree / "setup.py"),
                unless_built=wheelhouse,
            ),
        ]
        build = installer.build_wheel_from(build_description, str(tree), wheelhouse, env)
    steps += [
        build,
        installer.install_built(
            f"{spec}: the wheel just built (or cached)",
            spec,
            mmcv.package,
            wheelhouse,
            reinstall=reinstall,
        ),
    ]
    return steps


def _key_torch(candidate: Candidate, torch_version: str) -> str:
    """The torch of the build's cache key: PyPI's CUDA torch and the CPU one of a --cpu plan
    share a version, so the key says the build too; an installed torch, as it says itself."""
    if candidate.installed is not None:
        return candidate.installed.cache_version
    if candidate.from_pypi:
        return f"{torch_version}+{candidate.wheel_variant}"
    return torch_version


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
    cuda = matrix.variant_cuda(candidate.variant)
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
