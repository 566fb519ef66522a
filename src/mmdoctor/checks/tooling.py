"""The interpreter, packaging tools, the CUDA toolkit for source builds, and OpenCV."""

from __future__ import annotations

from typing import Any

from packaging.version import Version

from mmdoctor.checks.model import (
    Context,
    Finding,
    MachineView,
    advice,
    check,
    fail,
    machine_check,
    ok,
    skip,
    warn,
)
from mmdoctor.checks.openmmlab import providers
from mmdoctor.checks.torch import (
    known_step_failure,
    setuptools_for,
    step_failure,
    torch_data,
    torch_version,
)
from mmdoctor.target import Distribution
from mmdoctor.versions import normalize_name, parse_version

OPENCV_DISTS = (
    "opencv-python",
    "opencv-python-headless",
    "opencv-contrib-python",
    "opencv-contrib-python-headless",
)


@check("python.environment", "target Python environment")
def python_environment(ctx: Context) -> Finding:
    target = ctx.env.target
    line = (
        f"Python {target.version} ({target.implementation}, {target.kind}) at {target.executable}"
    )
    version = target.python_version
    if target.externally_managed or target.kind == "system":
        return warn(
            line,
            "This is a system interpreter"
            + (" marked externally managed (PEP 668)" if target.externally_managed else "")
            + ": `mmdoctor install` and `fix` refuse to change it unless given --system.",
            advice=advice(
                "Make a virtual environment for the stack:",
                f"{ctx.python} -m venv ~/.venvs/mm && ~/.venvs/mm/bin/python -m pip install -U pip",
            ),
        )
    if target.version_of("pip") is None:
        return warn(
            line,
            "It has no pip: every command below, and `mmdoctor install` and `fix`, run this "
            "interpreter's pip.",
            advice=advice("Add pip to it:", f"{ctx.python} -m ensurepip --upgrade"),
        )
    if version >= Version("3.13"):
        return warn(
            line,
            "OpenMMLab has no mmcv wheels for Python 3.13+, and mmcv's setup.py fails to build "
            "there (KeyError: '__version__').",
            known_failure="py313-setup-version-keyerror",
        )
    return ok(line)


@check("setuptools.window", "setuptools fits mim, mmcv builds and torch")
def setuptools_window(ctx: Context) -> Finding:
    target = ctx.env.target
    facts = ctx.matrix
    setuptools = parse_version(target.version_of("setuptools"))
    mims = providers(ctx, "mim")
    mim_installed = bool(mims)
    # onedl-mim imports no pkg_resources: only openmim (and mmcv builds) need it
    openmim = any(normalize_name(d.name) == "openmim" for d in mims)
    torch_v = torch_version(ctx)
    good = setuptools_for(ctx)
    mim_step = target.step("mim")
    if mim_installed and target.imported("mim") is None:
        error = f"{mim_step.error if mim_step else ''}"
        known = known_step_failure(mim_step, "import mim")
        if openmim and known in ("pkg-resources-removed-mim", "mim-py312-pkgutil-impimporter"):
            return fail(
                f"openmim cannot start: {error}",
                f"setuptools here: {setuptools or 'not installed'}. openmim imports "
                f"pkg_resources, which setuptools {facts.fact('setuptools_without_pkg_resources')} "
                "removed; setuptools older than Python 3.12 support breaks it too.",
                commands=(f"{ctx.pip} install setuptools=={good}",),
                known_failure=known,
            )
        return fail(
            step_failure(mim_step, "import mim"),
            *([mim_step.traceback] if mim_step is not None and mim_step.traceback else []),
            known_failure=known,
        )
    old_torch = facts.fact("torch_last_distutils_user")
    if torch_v is not None and (torch_v.major, torch_v.minor) <= (old_torch.major, old_torch.minor):
        step = target.step("distutils")
        if step is not None and not step.ok:
            return fail(
                f"torch {torch_v} needs distutils.version, which setuptools {setuptools} "
                "no longer imports",
                "`from torch.utils.tensorboard import SummaryWriter` (and mmcv's "
                "TensorboardLoggerHook) fail with: module 'distutils' has no attribute 'version'.",
                commands=(
                    f"{ctx.pip} install setuptools=={facts.fact('setuptools_for_old_torch')}",
                ),
                known_failure="distutils-no-version",
            )
    if setuptools is None:
        return skip("setuptools is not installed (nothing here needs it)")
    removed = facts.fact("setuptools_without_pkg_resources")
    if setuptools >= removed:
        lines = facts.lines_among(d.name for d in target.distributions)
        fork = any(line != "openmmlab" for line in lines)
        users = "openmim" if openmim else "" if mims or fork else "openmim, once installed"
        return warn(
            f"setuptools {setuptools} has no pkg_resources: a source build of mmcv "
            + (f"(and {users}) " if users else "")
            + "will fail",
            commands=(f"{ctx.pip} install setuptools=={good}",),
            known_failure="pkg-resources-removed-mmcv-build",
        )
    return ok(f"setuptools {setuptools} (pkg_resources available)")


def _torch_of(ctx: MachineView) -> dict[str, Any] | None:
    """The target's torch as it imported (None: no target, or no torch that imports)."""
    return torch_data(ctx) if isinstance(ctx, Context) else None


@machine_check("cuda.nvcc", "nvcc for source builds, against torch's CUDA")
def nvcc_matches(ctx: MachineView) -> Finding:
    if ctx.target is None:  # the machine alone: what a source build would find
        return _toolkit_alone(ctx)
    torch = _torch_of(ctx)
    toolkit = ctx.machine.toolkit
    if torch is None or not torch.get("cuda"):
        return skip("no CUDA build of torch")
    if not toolkit.nvcc_version:
        return skip(
            f"no nvcc: fine with prebuilt wheels; building mmcv's CUDA ops would need the "
            f"CUDA {torch['cuda']} toolkit",
            *toolkit.notes,
        )
    nvcc, torch_cuda = Version(toolkit.nvcc_version), Version(torch["cuda"])
    if nvcc.major != torch_cuda.major:
        return warn(
            f"nvcc {nvcc} ({toolkit.nvcc_path}) and torch's CUDA {torch_cuda} differ in major "
            "version: a source build of mmcv would stop with "
            "'The detected CUDA version mismatches'",
            f"A source build needs the CUDA {torch_cuda.major}.x toolkit, with CUDA_HOME "
            "pointing at it.",
            known_failure="cuda-version-mismatch-build",
        )
    note = "" if nvcc == torch_cuda else " (same major: builds work, torch warns)"
    return ok(f"nvcc {nvcc} and torch's CUDA {torch_cuda}{note}", f"gcc {toolkit.gcc_version}")


def _toolkit_alone(ctx: MachineView) -> Finding:
    toolkit = ctx.machine.toolkit
    if not toolkit.nvcc_version:
        return skip(
            "no nvcc (CUDA toolkit): prebuilt wheels need none; a source build of mmcv's CUDA "
            "ops does",
            *toolkit.notes,
        )
    home = f", CUDA_HOME {toolkit.cuda_home}" if toolkit.cuda_home else ""
    return ok(
        f"nvcc {toolkit.nvcc_version} ({toolkit.nvcc_path}{home}): a source build for a torch "
        f"of CUDA {Version(toolkit.nvcc_version).major}.x can use it",
        f"gcc {toolkit.gcc_version or 'not found'}",
    )


@machine_check("cuda.gcc", "host gcc accepted by nvcc (for source builds)")
def gcc_for_nvcc(ctx: MachineView) -> Finding:
    torch = _torch_of(ctx)
    toolkit = ctx.machine.toolkit
    if torch is not None and not torch.get("cuda"):
        return skip("CPU-only torch: a source build compiles no CUDA code")
    if not toolkit.nvcc_version or not toolkit.gcc_version:
        return skip("no nvcc or no gcc to compare")
    nvcc = Version(toolkit.nvcc_version)
    gcc = parse_version(toolkit.gcc_version)
    limit = ctx.matrix.max_gcc(nvcc)
    if gcc is None or limit is None:
        return skip(f"no known gcc limit for nvcc {nvcc}")
    if gcc.major > limit:
        return warn(
            f"gcc {gcc} is newer than nvcc {nvcc} accepts (gcc <= {limit}): a source build of "
            "mmcv's CUDA ops stops with 'unsupported GNU version'",
            f"Install gcc-{limit} and g++-{limit} for the build.",
            commands=(f"export CC=gcc-{limit} CXX=g++-{limit}",),
            known_failure="nvcc-gcc-too-new",
        )
    return ok(f"gcc {gcc} <= {limit}, the newest nvcc {nvcc} accepts")


@check("opencv.duplicates", "one OpenCV distribution")
def opencv_duplicates(ctx: Context) -> Finding:
    found = [d for name in OPENCV_DISTS for d in ctx.env.target.installed(name)]
    if not found:
        return skip("no OpenCV installed")
    listing = ", ".join(f"{d.name} {d.version}" for d in found)
    if len(found) == 1:
        return ok(listing)
    names = {normalize_name(d.name) for d in found}
    requirers = [
        d for d in ctx.env.target.distributions if len(names & set(d.requires)) == len(names)
    ]
    if requirers and len(found) == len(names):
        return _required_opencv_pair(ctx, found, requirers)
    return fail(
        f"{len(found)} OpenCV distributions share the module cv2: {listing}",
        "Keep one; headless suits servers.",
        commands=(
            f"{ctx.pip} uninstall -y {' '.join(sorted({d.name for d in found}))}",
            f"{ctx.pip} install opencv-python-headless",
        ),
        known_failure="opencv-circular-import",
    )


def _required_opencv_pair(
    ctx: Context, found: list[Distribution], requirers: list[Distribution]
) -> Finding:
    """A dependency requires every OpenCV installed (onedl-mmdetection's imaug requires both
    opencv-python and opencv-python-headless): removing one breaks it. One version of all of
    them makes the copies of cv2 identical, so cv2 works; different versions mix files."""
    listing = ", ".join(f"{d.name} {d.version}" for d in found)
    why = ", ".join(f"{d.name} {d.version}" for d in requirers)
    versions = {d.version for d in found}
    if len(versions) == 1:
        return warn(
            f"{listing}: both install cv2, and {why} requires them all",
            "The same version writes the same files, so cv2 works; uninstalling either breaks "
            f"{requirers[0].name}'s requirement. Upgrade them together, to one version.",
        )
    newest = max(versions, key=lambda v: parse_version(v) or Version("0"))
    return fail(
        f"{listing}: {why} requires them all, and their versions differ, so cv2 is a mix of "
        "both copies",
        "Install one version of all of them (within what the requirer allows: `pip check`).",
        commands=(
            f"{ctx.pip} install " + " ".join(f"{d.name}=={newest}" for d in found),
            f"{ctx.pip} check",
        ),
        known_failure="opencv-circular-import",
    )


@check("opencv.import", "cv2 imports (libGL and friends)")
def opencv_imports(ctx: Context) -> Finding:
    target = ctx.env.target
    if not any(target.installed(name) for name in OPENCV_DISTS):
        return skip("no OpenCV installed")
    data = target.imported("cv2")
    if data is not None:
        return ok(f"cv2 {data.get('version')} imports")
    step = target.step("cv2")
    known = known_step_failure(step, "import cv2")
    if known == "libgl-missing":
        return fail(
            "cv2 cannot load libGL.so.1 (opencv-python is the desktop build)",
            commands=(
                f"{ctx.pip} uninstall -y opencv-python && {ctx.pip} install opencv-python-headless",
                "sudo apt-get install -y libgl1 libglib2.0-0",
            ),
            known_failure=known,
        )
    return fail(step_failure(step, "import cv2"), known_failure=known)
