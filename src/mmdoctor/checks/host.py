"""The machine under the stack: its C library against the prebuilt wheels, and what a source
build of mmcv needs (a compiler torch's headers accept, Python.h, ninja, disk, memory)."""

from __future__ import annotations

from dataclasses import dataclass

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
from mmdoctor.checks.torch import fitting_torch, planned_stack
from mmdoctor.environment import CACHE_DISK, TMP_DISK
from mmdoctor.planning.matrix import WheelGlibc
from mmdoctor.planning.source_build import JOB_BYTES, build_shortfalls, max_jobs
from mmdoctor.versions import parse_version

GIB = 2**30


def _row_text(row: WheelGlibc) -> str:
    unverified = "" if row.verified else ", not verified"
    builds = f" {'/'.join(sorted(row.variants))}" if row.variants else ""
    return f"{row.package}{row.versions}{builds} (glibc {row.glibc}{unverified})"


@machine_check("platform.glibc", "glibc new enough for the prebuilt wheels")
def glibc_fits(ctx: MachineView) -> Finding:
    host = ctx.machine.host
    if host.os != "linux":
        return skip(f"{host.os}: wheels there do not depend on glibc")
    if host.glibc is None:
        return warn(
            "this Linux has no glibc (musl, as on Alpine): pip installs no manylinux wheel "
            "here, and torch publishes none for musl",
            advice=advice("Use a glibc-based image (Debian, Ubuntu, RHEL) for the stack."),
        )
    glibc = Version(host.glibc)
    rows = [r for r in ctx.matrix.wheel_glibc if r.arch == host.arch]
    if isinstance(ctx, Context):  # a target's torch the loader will refuse
        too_new = _torch_too_new(ctx, glibc)
        if too_new is not None:
            return too_new
    newer = [r for r in rows if r.glibc > glibc]
    if newer:
        return warn(
            f"glibc {glibc}: some prebuilt wheels need a newer one: "
            + "; ".join(_row_text(r) for r in newer),
            "Plans here choose around them (`mmdoctor install --dry-run` says which and why).",
            advice=advice(
                "Nothing to do for a stack that fits; a newer OS (glibc >= 2.28: RHEL 8, "
                "Ubuntu 20.04, Debian 10) opens the newer torch releases."
            ),
        )
    newest = max(rows, key=lambda r: r.glibc, default=None)
    need = f" (the newest need: {_row_text(newest)})" if newest else ""
    return ok(f"glibc {glibc}: every prebuilt wheel the matrix knows fits{need}")


def _torch_too_new(ctx: Context, glibc: Version) -> Finding | None:
    # the torch distribution, whether or not it imports (a torch that cannot load is the case)
    installed = parse_version(ctx.env.target.version_of("torch"))
    if installed is None:
        return None
    row = ctx.matrix.glibc_needed("torch", installed, ctx.env.host.arch)
    if row is None or row.glibc <= glibc:
        return None
    return fail(
        f"torch {installed} is installed, but its wheels need glibc {row.glibc} and "
        f"this machine has {glibc}: it fails to load ('GLIBC_{row.glibc}' not found)",
        known_failure="glibc-too-old-ext",
        commands=(fitting_torch(ctx),),
    )


# what each disk's free space is for, and the matrix's figure for it (source_builds.disk_gib)
_DISK_USE = {TMP_DISK: "a source build of mmcv", CACHE_DISK: "the downloads of a CUDA stack"}


@machine_check("platform.disk", "free space for downloads and builds")
def disk_space(ctx: MachineView) -> Finding:
    builds = ctx.matrix.source_builds
    need = {TMP_DISK: builds.tmp_gib, CACHE_DISK: builds.cache_gib} if builds else {}
    seen, short = [], []
    for disk in ctx.machine.host.disks:
        if disk.free_bytes is None:
            seen.append(f"{disk.path} ({disk.role}): could not be read")
            continue
        line = f"{disk.path} ({disk.role}): {disk.free_bytes / GIB:.1f} GiB free"
        want = need.get(disk.role)
        if want and disk.free_bytes < want * GIB:
            short.append(f"{line}, {_DISK_USE.get(disk.role, 'it')} takes about {want:.0f}")
        seen.append(line)
    if short:
        return warn(
            "; ".join(short),
            advice=advice(
                "Free space there, or point TMPDIR or PIP_CACHE_DIR at a disk with room (pip's "
                "--no-cache-dir does without the cache)."
            ),
        )
    return ok("; ".join(seen) if seen else "no disk to look at")


@dataclass(frozen=True)
class _Item:
    """One prerequisite of a build that is missing: how bad, what, and its fix."""

    status: str  # "fail" or "warn"
    text: str
    known_failure: str | None = None
    commands: tuple[str, ...] = ()


@check("build.prerequisites", "what a source build of mmcv needs (compiler, headers, disk, memory)")
def build_prerequisites(ctx: Context) -> Finding:
    planned = planned_stack(ctx)
    if planned is None or planned.chosen.mmcv.prebuilt:
        return skip(
            "no source build ahead: the plan here installs a prebuilt mmcv wheel"
            if planned
            else "no plan fits this environment (see torch and mmcv checks)"
        )
    mmcv = planned.chosen.mmcv
    torch = planned.chosen.torch
    why = f"the plan here builds {mmcv.package} {mmcv.version} from source for torch {torch.torch}"
    target = ctx.env.target
    tmp = ctx.env.host.disk(TMP_DISK)
    shortfalls = build_shortfalls(
        torch,
        ctx.matrix,
        gcc=parse_version(ctx.env.toolkit.gcc_version),
        python=target.python_version,
        python_headers=target.has_python_h,
        tmp_free=tmp.free_bytes if tmp else None,
    )
    items = [
        *(_Item("fail", f"{s.text} ({s.fix})", s.known_failure, s.commands) for s in shortfalls),
        *_ninja(ctx),
        *_memory(ctx),
    ]
    if not items:
        return ok(f"{why}: {_has(ctx, torch.cxx_std)}")
    first = next((i for i in items if i.status == "fail"), items[0])
    report = fail if first.status == "fail" else warn
    return report(
        f"{why}, and {first.text}",
        *(i.text for i in items if i is not first),
        known_failure=first.known_failure,
        commands=first.commands,
    )


def _has(ctx: Context, cxx: int) -> str:
    """What the build will find, for the summary of a build that has all it needs."""
    builds = ctx.matrix.source_builds
    least = builds.min_gcc.get(cxx) if builds else None
    gcc = f"gcc {ctx.env.toolkit.gcc_version}" + (f" (>= {least} for C++{cxx})" if least else "")
    space = [
        f"{d.free_bytes / GIB:.0f} GiB free for {d.role}"
        for d in ctx.env.host.disks
        if d.free_bytes is not None
    ]
    memory = ctx.env.host.memory_total_bytes
    jobs = max_jobs(ctx.env.host.cpu_count, memory)
    ram = [f"{memory / GIB:.0f} GiB of memory for {jobs} compile jobs"] if memory else []
    headers = ["Python.h"] if ctx.env.target.has_python_h else []
    return ", ".join([gcc, *headers, "ninja", *space, *ram])


def _ninja(ctx: Context) -> list[_Item]:
    if ctx.env.target.ninja:
        return []
    return [
        _Item(
            "warn",
            "ninja is not installed (`mmdoctor install` adds it; without it a manual build "
            "falls back to a slow serial compile)",
            None,
            (f"{ctx.pip} install ninja",),
        )
    ]


def _memory(ctx: Context) -> list[_Item]:
    host = ctx.env.host
    if not host.memory_total_bytes:
        return []
    memory = host.memory_total_bytes / GIB
    chosen = max_jobs(host.cpu_count, host.memory_total_bytes)
    jobs = int(host.max_jobs) if host.max_jobs and host.max_jobs.isdigit() else None
    if jobs is not None and jobs * JOB_BYTES > host.memory_total_bytes:
        return [
            _Item(
                "warn",
                f"MAX_JOBS={jobs} compile jobs need about {jobs * JOB_BYTES / GIB:.0f} GiB and "
                f"this machine has {memory:.0f} GiB: the compiler gets killed",
                "compiler-killed-oom",
                (f"export MAX_JOBS={chosen}",),
            )
        ]
    if host.memory_total_bytes < JOB_BYTES:
        return [
            _Item(
                "warn",
                f"{memory:.1f} GiB of memory is less than one compile job can take "
                f"(about {JOB_BYTES / GIB:.0f} GiB): add swap before building",
                "compiler-killed-oom",
            )
        ]
    return []
