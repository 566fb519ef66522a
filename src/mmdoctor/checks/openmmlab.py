"""mmcv / mmcv-full / mmcv-lite / onedl-mmcv, mmengine and mmdet (of either stack line)
against torch and each other. A module ("mmdet") may come from either line's distribution
("mmdet" or "onedl-mmdetection"): the checks ask by module, and name the distribution."""

from __future__ import annotations

from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from mmdoctor.checks.model import Context, Finding, advice, check, fail, ok, skip, warn
from mmdoctor.checks.torch import (
    known_step_failure,
    setuptools_for,
    stack_plan,
    step_failure,
    torch_data,
    torch_version,
)
from mmdoctor.planning.matrix import StackLine
from mmdoctor.planning.resolver import find_prebuilt_mmcv
from mmdoctor.target import Distribution
from mmdoctor.versions import normalize_name, parse_version

# The modules two distributions can fight over, in the order the check reports them.
SHARED_MODULES = ("mmcv", "mmengine", "mmdet")


def providers(ctx: Context, module: str) -> list[Distribution]:
    """The installed distributions that install `module`, of either line."""
    names = ctx.matrix.module_distributions(module)
    return [d for name in names for d in ctx.env.target.installed(name)]


def provider(ctx: Context, module: str) -> Distribution | None:
    found = providers(ctx, module)
    return found[0] if found else None


def mmcv_dists(ctx: Context) -> list[Distribution]:
    return providers(ctx, "mmcv")


def installed_line(ctx: Context) -> StackLine | None:
    """The line of the installed mmdet, else of the installed mmcv; None when neither is."""
    for module in ("mmdet", "mmcv"):
        dist = provider(ctx, module)
        if dist is not None:
            return ctx.matrix.line_of(dist.name)
    return None


def ops_package(dist: Distribution) -> bool:
    """Whether this distribution carries compiled ops: mmcv-full 1.x, mmcv 2.x and onedl-mmcv
    do (an onedl-mmcv sdist built without torch does not: mmcv.ops finds that); mmcv 1.x (the
    old lite package) and mmcv-lite do not."""
    if normalize_name(dist.name) in ("mmcv-full", "onedl-mmcv"):
        return True
    if dist.name.lower() == "mmcv":
        version = parse_version(dist.version)
        return version is not None and version.major >= 2
    return False


def wanted_mmcv(ctx: Context) -> str:
    """The mmcv distribution the installed mmdet needs: mmdet 2.x -> mmcv-full, 3.x -> mmcv,
    onedl-mmdetection -> onedl-mmcv."""
    dist = provider(ctx, "mmdet")
    line = installed_line(ctx)
    if line is not None and line.name != "openmmlab":
        return line.mmcv[0]
    mmdet = parse_version(dist.version if dist else None)
    if mmdet is not None and mmdet.major < 3:
        return "mmcv-full"
    return "mmcv"


def mmdet_requirement(ctx: Context, package: str) -> str | None:
    """mmdet's enforced range for mmcv or mmengine, as a pip specifier ('>=2.0.0rc4,<2.2.0')."""
    bounds = ctx.env.target.imported("mmdet_bounds")
    if not bounds:
        return None
    found: dict[str, Any] = dict(bounds.get("bounds", {}).get(package, {}))
    if "minimum" not in found or "maximum" not in found:
        return None
    op = "<=" if found.get("max_inclusive") else "<"
    return f">={found['minimum']},{op}{found['maximum']}"


def mim_install(ctx: Context, spec: str, *flags: str) -> tuple[str, ...]:
    """`python -m mim install SPEC`, preceded by installing the line's mim where none is."""
    prefix: tuple[str, ...] = ()
    if provider(ctx, "mim") is None:
        good = setuptools_for(ctx)
        line = installed_line(ctx)
        mim = line.mim if line is not None else "openmim"
        prefix = (f"{ctx.pip} install {mim} setuptools=={good}",)
    return (*prefix, " ".join((f"{ctx.python} -m mim install", *flags, f'"{spec}"')))


def prebuilt_mmcv_exists(ctx: Context, name: str, spec: str) -> bool:
    """Whether OpenMMLab publishes a wheel of `name` (within `spec`) for this torch, CUDA and
    Python, by the matrix's wheel table."""
    torch = torch_data(ctx)
    torch_v = torch_version(ctx)
    if torch is None or torch_v is None:
        return True  # torch comes first; mim picks the wheel set after it
    variant = "cu" + torch["cuda"].replace(".", "") if torch.get("cuda") else "cpu"
    python = ctx.env.target.python_version
    found = find_prebuilt_mmcv(
        ctx.matrix,
        name,
        SpecifierSet(spec.removeprefix(name)),
        torch_minor=f"{torch_v.major}.{torch_v.minor}",
        variant=variant,
        python=Version(f"{python.major}.{python.minor}"),
        os=ctx.env.os,
        arch=ctx.env.host.arch,
    )
    return found is not None


def mmcv_install(ctx: Context, name: str, spec: str) -> tuple[str, ...]:
    """Commands that install mmcv/mmcv-full `spec` with its ops: mim and the prebuilt wheel
    where one exists, else a source build that works on current pip (no build isolation,
    a setuptools that still has pkg_resources)."""
    if prebuilt_mmcv_exists(ctx, name, spec):
        return mim_install(ctx, spec, "--no-cache-dir")
    torch = torch_data(ctx) or {}
    good = setuptools_for(ctx)
    cuda = "FORCE_CUDA=1 " if torch.get("cuda") else ""
    return (
        f"{ctx.pip} install setuptools=={good} wheel ninja psutil",
        f'MMCV_WITH_OPS=1 {cuda}{ctx.pip} install --no-build-isolation --no-cache-dir "{spec}"',
    )


def install_note(ctx: Context, name: str, spec: str) -> str:
    if prebuilt_mmcv_exists(ctx, name, spec):
        return f"Install {name} from OpenMMLab's prebuilt wheels for this torch"
    torch = torch_data(ctx) or {}
    builds = ctx.matrix.source_builds
    cores = ctx.env.host.cpu_count or 1
    archs = len({g.compute_capability for g in ctx.env.nvidia.gpus}) if torch.get("cuda") else 0
    minutes = f"about {builds.minutes(cores, archs)} minutes on {cores} cores" if builds else ""
    return f"No prebuilt {name} exists for torch {torch.get('version')}: build it from source" + (
        f" ({minutes})" if minutes else ""
    )


@check("stack.complete", "torch has the rest of the stack: mmcv and mmdet")
def stack_complete(ctx: Context) -> Finding:
    """A torch alone is half a stack: for MMDetection it is the main problem, and the plan
    install makes for this environment (keeping what works) is the fix."""
    torch = ctx.env.target.version_of("torch")
    if torch is None:
        return skip("no torch (torch.import says what to do)")
    missing = [module for module in ("mmcv", "mmdet") if not providers(ctx, module)]
    if not missing:
        return ok(f"torch {torch} with {', '.join(_installed(ctx, 'mmcv', 'mmdet'))}")
    plan = stack_plan(ctx).plan
    command = f"mmdoctor install --python {ctx.python}"
    if plan is None:
        return fail(
            f"torch {torch} is here, but no {' and no '.join(missing)}, and no stack fits "
            "this environment",
            advice=advice("`mmdoctor install` says why, and what would fit:", command),
        )
    return fail(
        f"torch {torch} is here, but no {' and no '.join(missing)}",
        *(change.said() for change in plan.changes.items if change.action != "keep"),
        advice=advice(
            f"Install the rest of the stack ({plan.candidate.describe()}), keeping what works:",
            command,
        ),
    )


def _installed(ctx: Context, *modules: str) -> list[str]:
    return [f"{d.name} {d.version}" for module in modules for d in providers(ctx, module)]


@check("mmcv.variants", "one distribution per OpenMMLab module (mmcv, mmengine, mmdet)")
def one_mmcv(ctx: Context) -> Finding:
    found = {module: providers(ctx, module) for module in SHARED_MODULES}
    if not any(found.values()):
        return skip("no mmcv, mmengine or mmdet installed, of either line")
    clashes = {module: dists for module, dists in found.items() if len(dists) > 1}
    if not clashes:
        return ok(", ".join(f"{d.name} {d.version}" for ds in found.values() for d in ds))
    shared = "; ".join(
        f"`{module}` from {', '.join(f'{d.name} {d.version}' for d in dists)}"
        for module, dists in clashes.items()
    )
    removed = sorted({d.name for dists in clashes.values() for d in dists})
    reinstall: list[str] = []
    notes: list[str] = []
    if "mmcv" in clashes:
        spec = _kept_mmcv(ctx, clashes["mmcv"])
        wanted = wanted_mmcv(ctx)
        notes.append(f"{install_note(ctx, wanted, spec)}.")
        reinstall += mmcv_install(ctx, wanted, spec)
    reinstall += [f"{ctx.pip} install {_kept_distribution(ctx, m)}" for m in clashes if m != "mmcv"]
    return fail(
        f"two distributions install the same module: {shared}",
        "They overwrite each other's files, so what the import loads is an accident, and "
        "uninstalling one breaks the other (upstream OpenMMLab and the onedl fork install the "
        "same modules).",
        *[f"{d.name} {d.version} in {d.location}" for dists in clashes.values() for d in dists],
        *notes,
        commands=(f"{ctx.pip} uninstall -y {' '.join(removed)}", *reinstall),
        known_failure="mmcv-and-mmcv-full-coinstalled" if "mmcv" in clashes else None,
    )


def _kept_distribution(ctx: Context, module: str) -> str:
    """What to reinstall after a clash on mmengine or mmdet: the installed mmdet's line's."""
    line = installed_line(ctx) or ctx.matrix.stack_lines["openmmlab"]
    if module == "mmengine":
        return f"{line.mmengine}=={line.mmengine_latest}"
    return line.mmdet


def _kept_mmcv(ctx: Context, dists: list[Distribution]) -> str:
    """The mmcv to reinstall: the installed one that mmdet wants, with ops, else mmdet's range."""
    wanted = wanted_mmcv(ctx)
    keep = next((d for d in dists if normalize_name(d.name) == wanted and ops_package(d)), None)
    return f"{wanted}=={keep.version}" if keep else mmdet_spec(ctx, wanted)


def mmdet_spec(ctx: Context, wanted: str) -> str:
    requirement = mmdet_requirement(ctx, "mmcv")
    return f"{wanted}{requirement}" if requirement else wanted


@check("mmcv.ops", "mmcv compiled ops load (mmcv._ext)")
def mmcv_ops(ctx: Context) -> Finding:
    target = ctx.env.target
    dists = mmcv_dists(ctx)
    if not dists:
        return skip("mmcv is not installed")
    if not any(ops_package(d) for d in dists):
        names = ", ".join(f"{d.name} {d.version}" for d in dists)
        wanted = wanted_mmcv(ctx)
        text = f"{names} has no compiled ops"
        spec = mmdet_spec(ctx, wanted)
        note = f"{wanted} has the ops. {install_note(ctx, wanted, spec)}."
        commands = (
            f"{ctx.pip} uninstall -y {' '.join(d.name for d in dists)}",
            *mmcv_install(ctx, wanted, spec),
        )
        if provider(ctx, "mmdet") is not None:
            return fail(
                text + ", and mmdet needs them",
                note,
                commands=commands,
                known_failure="mmcv-ext-missing",
            )
        return warn(
            text + " (fine unless you use mmcv.ops)",
            advice=advice(f"Replace it with {wanted}, which has the ops:", *commands),
        )
    data = target.imported("mmcv_ext")
    step = target.step("mmcv_ext")
    if data is not None:
        info = target.imported("mmcv_ext_info")
        if info is None:
            return ok("mmcv._ext loads")
        cuda = info.get("compiling_cuda")
        built = f"CUDA {cuda}" if cuda and cuda != "not available" else "CPU only"
        return ok(f"mmcv._ext loads (built for {built}, compiler {info.get('compiler')})")
    known = known_step_failure(step, "import mmcv._ext") or "mmcv-ext-missing"
    torch = torch_data(ctx)
    version = next((d.version for d in dists if ops_package(d)), "<version>")
    name = next((d.name for d in dists if ops_package(d)), "mmcv")
    return fail(
        step_failure(step, "import mmcv._ext"),
        *([step.traceback] if step is not None and step.traceback else []),
        *([f"torch here: {torch['version']} (CUDA {torch['cuda'] or 'none'})"] if torch else []),
        f"{install_note(ctx, name, f'{name}=={version}')}.",
        commands=(f"{ctx.pip} uninstall -y {name}", *mmcv_install(ctx, name, f"{name}=={version}")),
        known_failure=known,
    )


@check("mmcv.cuda", "mmcv ops built with torch's CUDA")
def mmcv_cuda(ctx: Context) -> Finding:
    target = ctx.env.target
    torch = torch_data(ctx)
    if target.imported("mmcv_ext") is None or torch is None:
        return skip("mmcv._ext or torch is not importable")
    info, step = target.imported("mmcv_ext_info"), target.step("mmcv_ext_info")
    if info is None:
        # The ops load; only mmcv's own build-info calls failed, which mmcv.utils.collect_env()
        # makes too. Whether the ops run is smoke-test's question.
        summary = step_failure(step, "mmcv._ext.get_compiling_cuda_version()")
        detail = "mmcv._ext loads, but the CUDA it was built for cannot be compared with torch's."
        smoke = f"mmdoctor smoke-test --python {ctx.python}"
        if step is not None and step.crashed:
            return warn(
                summary, detail, commands=(smoke,), known_failure="mmcv-ext-build-info-crash"
            )
        return warn(summary, detail, advice=advice("See whether the ops run:", smoke))
    built = info.get("compiling_cuda")
    torch_cuda = torch.get("cuda")
    if not built or built == "not available":
        if torch_cuda and ctx.env.nvidia.gpus:
            return fail(
                "mmcv's ops were compiled without CUDA, but torch and this machine have it",
                "On the GPU they fail with 'nms_impl: implementation for device cuda:0 not found'.",
                "`mmdoctor install` installs a CUDA build (a prebuilt wheel or a source build).",
                known_failure="mmcv-ops-built-without-cuda",
            )
        return ok("mmcv's ops are CPU-only, like torch here")
    if not torch_cuda:
        return warn(f"mmcv's ops were built for CUDA {built}, but torch is a CPU-only build")
    built_v, torch_v = Version(built), Version(torch_cuda)
    if built_v.major != torch_v.major:
        return fail(
            f"mmcv's ops were built for CUDA {built}, torch for CUDA {torch_cuda}",
            "`mim install` picks the wheel set of torch's CUDA.",
            known_failure="mmcv-ext-libcudart-missing",
        )
    if built_v != torch_v:
        return warn(f"mmcv's ops were built for CUDA {built}, torch for {torch_cuda} (same major)")
    return ok(f"mmcv and torch both use CUDA {built}")


@check("mmdet.compat", "mmdet accepts the installed mmcv and mmengine")
def mmdet_compat(ctx: Context) -> Finding:
    target = ctx.env.target
    mmdet = provider(ctx, "mmdet")
    if mmdet is None:
        return skip("mmdet is not installed (neither mmdet nor onedl-mmdetection)")
    mmdet_version = mmdet.version
    line = ctx.matrix.line_of(mmdet.name)
    if line is not None and line.name != "openmmlab":
        return _fork_mmdet_compat(ctx, mmdet)
    mmcv_req = mmdet_requirement(ctx, "mmcv")
    engine_req = mmdet_requirement(ctx, "mmengine")
    ranges = "; ".join(
        f"{name}{req}" for name, req in (("mmcv", mmcv_req), ("mmengine", engine_req)) if req
    )
    if target.imported("mmdet") is not None:
        installed = ", ".join(
            f"{d.name} {d.version}" for d in mmcv_dists(ctx) + providers(ctx, "mmengine")
        )
        return ok(
            f"mmdet {mmdet_version} imports with {installed}",
            *([f"mmdet requires {ranges}"] if ranges else []),
        )
    step = target.step("mmdet")
    error = step.error if step is not None and step.error else ""
    wanted = wanted_mmcv(ctx)
    if "MMEngine==" in error and "is used but incompatible" in error:
        return fail(
            f"mmdet {mmdet_version} rejects mmengine: {error.split(': ', 1)[-1]}",
            commands=(f'{ctx.pip} install "mmengine{engine_req or ">=0.7.1,<1.0.0"}"',),
            known_failure="mmengine-version-incompat",
        )
    if "is used but incompatible" in error:
        mmcv_v = parse_version(target.version_of("mmcv") or target.version_of("mmcv-full"))
        mmdet_v = parse_version(mmdet_version)
        cross_major = (
            mmcv_v is not None
            and mmdet_v is not None
            and (mmcv_v.major >= 2) != (mmdet_v.major >= 3)
        )
        return fail(
            f"mmdet {mmdet_version} rejects mmcv: {error.split(': ', 1)[-1]}",
            "Do not edit the assertion in mmdet/__init__.py: install an mmcv inside the range "
            "(for mmdet 3.x with torch >= 2.2 that is a source build of mmcv 2.1.0).",
            f"{install_note(ctx, wanted, mmdet_spec(ctx, wanted))}.",
            commands=(
                f"{ctx.pip} uninstall -y {' '.join(d.name for d in mmcv_dists(ctx)) or wanted}",
                *mmcv_install(ctx, wanted, mmdet_spec(ctx, wanted)),
            ),
            known_failure="mmcv-major-mismatch" if cross_major else "mmcv-too-new-for-mmdet3",
        )
    return fail(
        step_failure(step, "import mmdet"),
        *([step.traceback] if step is not None and step.traceback else []),
        *([f"mmdet requires {ranges}"] if ranges else []),
        known_failure=known_step_failure(step, "import mmdet"),
    )


def _fork_mmdet_compat(ctx: Context, mmdet: Distribution) -> Finding:
    """onedl-mmdetection asserts no mmcv or mmengine versions at import: it imports with an
    mmcv that has no compiled ops, and fails only when a model uses one."""
    target = ctx.env.target
    installed = ", ".join(
        f"{d.name} {d.version}" for d in mmcv_dists(ctx) + providers(ctx, "mmengine")
    )
    if target.imported("mmdet") is None:
        step = target.step("mmdet")
        return fail(
            step_failure(step, "import mmdet"),
            *([step.traceback] if step is not None and step.traceback else []),
            known_failure=known_step_failure(step, "import mmdet"),
        )
    if target.imported("mmcv_ext") is None:
        return warn(
            f"{mmdet.name} {mmdet.version} imports with {installed or 'no mmcv'}, but mmcv has "
            "no compiled ops that load",
            f"{mmdet.name} asserts no mmcv version, so nothing fails until a model uses an op "
            "(nms, RoIAlign): then 'No module named mmcv._ext'. See mmcv.ops for the fix.",
            known_failure="mmcv-ext-missing",
        )
    return ok(
        f"{mmdet.name} {mmdet.version} imports with {installed}",
        f"{mmdet.name} asserts no mmcv or mmengine versions; mmcv's ops load",
    )


@check("mmengine.checkpoint", "mmengine can load checkpoints with this torch")
def mmengine_weights_only(ctx: Context) -> Finding:
    dist = provider(ctx, "mmengine")
    engine = parse_version(dist.version if dist else None)
    torch_v = torch_version(ctx)
    if dist is None or engine is None or torch_v is None:
        return skip("mmengine (or onedl-mmengine) or torch is not installed")
    flipped = ctx.matrix.fact("torch_weights_only_default")
    last_bad = ctx.matrix.fact("mmengine_weights_only_fixed_after")
    # onedl-mmengine's releases all come after the last upstream one that lacks the fix
    # (0.10.8 passes weights_only itself), so one bound serves both lines
    if torch_v.release >= flipped.release and engine <= last_bad:
        return warn(
            f"{dist.name} {engine} with torch {torch_v}: torch.load defaults to weights_only=True, "
            "which mmengine's load_checkpoint does not expect",
            "Checkpoints that hold only tensors load; model zoo checkpoints with pickled "
            "metadata fail with 'Weights only load failed'.",
            "`mmdoctor smoke-test` handles this for zoo checkpoints whose hash it verified.",
            commands=(f"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 {ctx.python} your_script.py",),
            known_failure="torch-load-weights-only",
        )
    if torch_v.release >= flipped.release:
        return ok(
            f"{dist.name} {engine} and torch {torch_v} load checkpoints",
            f"{dist.name} > {last_bad} passes weights_only to torch.load itself",
        )
    return ok(f"{dist.name} {engine} and torch {torch_v} load checkpoints")


@check("openmmlab.siblings", "sibling OpenMMLab packages accept the stack (mmocr, mmseg, ...)")
def siblings_accept(ctx: Context) -> Finding:
    """mmocr, mmseg, mmpose, mmyolo, mmpretrain and mmdet3d assert their own bounds on mmcv,
    mmdet and mmengine at import: an upgrade of the stack breaks them without a word from pip."""
    checked: list[str] = []
    unknown: list[str] = []
    broken: list[str] = []
    for dist in ctx.env.target.distributions:
        name = normalize_name(dist.name)
        if not any(s.distribution == name for s in ctx.matrix.siblings):
            continue
        version = parse_version(dist.version)
        row = ctx.matrix.sibling(name, version) if version is not None else None
        if row is None:
            unknown.append(f"{dist.name} {dist.version}")
            continue
        checked.append(f"{dist.name} {dist.version}")
        for module in row.requires:
            installed = provider(ctx, module)
            have = parse_version(installed.version if installed else None)
            bound = row.broken_by(module, have) if installed and have else None
            if installed is not None and bound is not None:
                broken.append(
                    f"{dist.name} {dist.version} requires {module}{bound}, and "
                    f"{installed.name} {installed.version} is installed: `import {row.module}` "
                    "stops with an AssertionError"
                )
    notes = [f"bounds not in the matrix: {', '.join(unknown)}"] if unknown else []
    if broken:
        return fail(
            broken[0],
            *broken[1:],
            *notes,
            known_failure="openmmlab-sibling-bounds",
            commands=(f"{ctx.pip} list",),
        )
    if not checked:
        return skip("no sibling OpenMMLab package with known bounds is installed", *notes)
    return ok(f"{', '.join(checked)} accept the installed mmcv, mmdet and mmengine", *notes)
