"""torch and torchvision against the driver, the GPUs and each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from packaging.version import Version

from mmdoctor import shell
from mmdoctor.checks.model import Context, Finding, advice, check, fail, ok, skip, warn
from mmdoctor.environment import Gpu
from mmdoctor.knowledge import classify, classify_all
from mmdoctor.planning.current import arch_support
from mmdoctor.planning.machine import PlanningContext
from mmdoctor.planning.plan import Plan
from mmdoctor.planning.resolver import Candidate
from mmdoctor.planning.sources import Sources
from mmdoctor.planning.stack import StackPlan, plan_stack
from mmdoctor.planning.wishes import Wishes
from mmdoctor.target import StepResult
from mmdoctor.versions import parse_version

TORCH_INDEX = "https://download.pytorch.org/whl"


def torch_data(ctx: Context) -> dict[str, Any] | None:
    data = ctx.env.target.imported("torch")
    return dict(data) if data is not None else None


def torch_version(ctx: Context) -> Version | None:
    data = ctx.env.target.imported("torch")
    return parse_version(data["version"]) if data else None


def setuptools_for(ctx: Context) -> str:
    """The setuptools advice names: the plans' pin for this Python and torch."""
    python = ctx.env.target.python_version
    return ctx.matrix.setuptools_pin(Version(f"{python.major}.{python.minor}"), torch_version(ctx))


def step_failure(step: StepResult | None, what: str) -> str:
    """One line that says how a probe step failed."""
    if step is None:
        return f"{what} was not probed"
    if step.crashed:
        return f"{what}: {step.crashed}"
    return f"{what} failed: {step.error}"


def step_text(step: StepResult) -> str:
    """What a probe step said: its error, traceback and the stderr it printed (NumPy prints
    its ABI message there instead of raising it)."""
    return "\n".join((step.error or "", step.traceback or "", step.stderr))


def known_step_failure(step: StepResult | None, what: str) -> str | None:
    """The known failure (an id of known_failures.yaml) a failed probe step shows, as the one
    classifier of the knowledge base reads it. The text starts with the step's summary line,
    which names what failed ("import mim failed: ..."), as a log would: some entries need that
    context (a missing libcudart is mmcv's only when mmcv._ext is the import that failed)."""
    if step is None:
        return None
    return classify("\n".join((step_failure(step, what), step.traceback or "", step.stderr)))


@dataclass(frozen=True)
class PlannedStack:
    """What `mmdoctor install` would plan for an environment, as commands to paste."""

    stack: str  # the candidate, described
    torch: str  # the torch + torchvision step; "" where the installed torch is kept
    mmcv: tuple[str, ...]  # the steps after torch's, through mmcv's install (mim, builds)
    pins: str  # the pins' step for this torch (numpy<2, OpenCV); "" where none changes
    chosen: Candidate  # what the resolver chose (its mmcv is prebuilt or built, its torch...)
    plan: Plan  # the whole plan: its changes to the environment, its steps


def stack_plan(ctx: Context) -> StackPlan:
    """The plan `mmdoctor install` makes for this environment (the same planner, the same
    wishes as a bare `install`: the line already there, the CPU where there is no driver)."""
    found: StackPlan | None = ctx.memo.get("stack_plan")
    if found is not None:
        return found
    found = plan_stack(
        ctx.env,
        PlanningContext.from_environment(ctx.env),
        Wishes(cpu=ctx.cpu_only),
        ctx.matrix,
        installer="pip",
        sources=Sources(),
        suggest=False,
    )
    ctx.memo["stack_plan"] = found
    return found


def planned_stack(ctx: Context) -> PlannedStack | None:
    """The stack `mmdoctor install` would choose for this environment (its Python, driver and
    GPUs, the torch it holds where that can stay), and its steps: advice that cannot walk into
    a torch no mmcv fits or a Python it has no wheel for. None where nothing fits."""
    plan = stack_plan(ctx).plan
    if plan is None:
        return None
    steps = plan.steps
    torch = next((s for s in steps if any(p.startswith("torch==") for p in s.packages)), None)
    verify = next(i for i, s in enumerate(steps) if s.kind == "verify")
    spec = f"{plan.mmcv_name}=={plan.mmcv_version}"
    installs_mmcv = [i for i, s in enumerate(steps) if spec in s.packages and s.kind == "install"]
    mmcv = steps[verify + 1 : installs_mmcv[-1] + 1] if installs_mmcv else []
    pinned = {pin.requirement for pin in plan.pins if pin.name != "setuptools"}  # in mmcv
    pins = next(
        (s for s in steps if s.kind == "install" and s.packages and pinned >= set(s.packages)),
        None,
    )
    return PlannedStack(
        plan.candidate.describe(),
        shell.join(torch.argv) if torch is not None else "",
        tuple(
            shell.command_line(s.argv, s.env)
            for s in mmcv
            if s.kind in ("install", "prepare", "build")
        ),
        shell.join(pins.argv) if pins is not None else "",
        plan.candidate,
        plan,
    )


def fitting_torch(ctx: Context) -> str:
    """The command that replaces a torch this machine cannot use: the torch step `mmdoctor
    install` plans here (pinned, so mmcv has a wheel for it), else the index that fits."""
    planned = planned_stack(ctx)
    if planned is not None and planned.torch:
        return planned.torch
    return (
        f"{ctx.pip} install --force-reinstall torch torchvision "
        f"--index-url {torch_install_hint(ctx)}"
    )


def torch_install_hint(ctx: Context) -> str:
    """The index a fresh torch should come from, judged only from the driver and GPUs.
    (The full resolver, with mmcv wheels in mind, is `mmdoctor install`.)"""
    nvidia = ctx.env.nvidia
    if not nvidia.has_driver or nvidia.driver_version is None:
        return f"{TORCH_INDEX}/cpu"
    driver = Version(nvidia.driver_version)
    cu13 = ctx.matrix.min_driver("13.0", ctx.env.os)
    cu12 = ctx.matrix.min_driver("12.6", ctx.env.os)
    newest_cc = max((_cc(g) for g in nvidia.gpus), default=Version("0"))
    if cu13 is not None and driver >= cu13:
        return f"{TORCH_INDEX}/cu130"
    if cu12 is not None and driver >= cu12 and newest_cc < Version("10.0"):
        return f"{TORCH_INDEX}/cu126"
    return f"{TORCH_INDEX}/cu118"


def _cc(gpu: Gpu) -> Version:
    return parse_version(gpu.compute_capability) or Version("0")


@check("torch.import", "torch imports")
def torch_imports(ctx: Context) -> Finding:
    step = ctx.env.target.step("torch")
    data = torch_data(ctx)
    if data is not None:
        if data["cuda"]:
            cudnn = f", cuDNN {data['cudnn']}" if data.get("cudnn") else ""
            return ok(f"torch {data['version']} (CUDA {data['cuda']}{cudnn})", data["file"])
        if data.get("hip"):
            return ok(f"torch {data['version']} (ROCm {data['hip']})", data["file"])
        return ok(f"torch {data['version']} (CPU-only build)", data["file"])
    if step is not None and step.missing:
        planned = planned_stack(ctx)
        if planned is not None and planned.torch:
            plans = (
                "Install the torch and torchvision `mmdoctor install` plans here "
                f"({planned.stack}):"
            )
            missing = advice(plans, planned.torch)
        else:
            missing = advice(
                "Install torch and torchvision from the index that fits this machine "
                "(`mmdoctor install` picks the whole stack):",
                f"{ctx.pip} install torch torchvision --index-url {torch_install_hint(ctx)}",
            )
        return fail(f"torch is not installed in {ctx.env.target.executable}", advice=missing)
    known = known_step_failure(step, "import torch")
    details = [step.traceback] if step is not None and step.traceback else []
    if known == "numpy2-abi":
        return fail(
            "import torch fails: this torch was built for NumPy 1.x and NumPy 2 is installed",
            *details,
            commands=(f'{ctx.pip} install "numpy<2"',),
            known_failure=known,
        )
    if known:
        return fail(step_failure(step, "import torch"), *details, known_failure=known)
    return fail(
        step_failure(step, "import torch"),
        *details,
        advice=advice(
            "Reinstall torch; if it keeps failing, run `mmdoctor diagnose` on the error.",
            f"{ctx.pip} install --force-reinstall --no-deps torch=={_version(ctx, 'torch')}",
        ),
    )


def _version(ctx: Context, name: str) -> str:
    return ctx.env.target.version_of(name) or "<version>"


@check("torch.cuda_build", "torch build fits the machine (CUDA vs CPU-only)")
def cpu_only_torch(ctx: Context) -> Finding:
    data = torch_data(ctx)
    gpus = ctx.env.nvidia.gpus
    if data is None:
        return skip("torch is not importable")
    if not gpus:
        return skip("no NVIDIA GPU: any torch build runs here (on the CPU)")
    if data.get("hip"):
        return fail(
            f"torch {data['version']} is a ROCm (AMD) build, but the GPUs are NVIDIA",
            advice=advice(
                "Install a CUDA build of torch:",
                f"{ctx.pip} install --force-reinstall torch torchvision "
                f"--index-url {torch_install_hint(ctx)}",
            ),
        )
    if not data["cuda"]:
        return fail(
            f"torch {data['version']} is a CPU-only build, but this machine has "
            f"{len(gpus)} NVIDIA GPU(s)",
            "mim will then fetch (or build) a CPU-only mmcv too, and `cuda:0` fails with "
            "'Torch not compiled with CUDA enabled'.",
            commands=(
                f"{ctx.pip} install --force-reinstall torch=={_base(data['version'])} "
                f"torchvision --index-url {torch_install_hint(ctx)}",
            ),
            known_failure="torch-cpu-only-build",
        )
    return ok(f"CUDA {data['cuda']} build on a machine with {len(gpus)} GPU(s)")


def _base(version: str) -> str:
    return version.split("+", 1)[0]


@check("torch.driver", "driver new enough for torch's CUDA")
def driver_for_torch(ctx: Context) -> Finding:
    data = torch_data(ctx)
    nvidia = ctx.env.nvidia
    if data is None or not data["cuda"]:
        return skip("no CUDA build of torch")
    if not nvidia.has_driver or nvidia.driver_version is None:
        return skip("no NVIDIA driver")
    needed = ctx.matrix.min_driver(data["cuda"], ctx.env.os)
    if needed is None:
        return warn(f"CUDA {data['cuda']} is not in the matrix; cannot judge the driver")
    driver = Version(nvidia.driver_version)
    if driver < needed:
        return fail(
            f"torch {data['version']} needs driver >= {needed} (CUDA {data['cuda']}), "
            f"this is {nvidia.driver_version}"
            + (f" (CUDA <= {nvidia.cuda_driver_version})" if nvidia.cuda_driver_version else ""),
            "torch will report cuda.is_available() == False or 'The NVIDIA driver on your "
            "system is too old'.",
            commands=(fitting_torch(ctx),),
            known_failure="cuda-driver-too-old",
        )
    ceiling = parse_version(nvidia.cuda_driver_version)
    torch_cuda = Version(data["cuda"])
    if ceiling is not None and torch_cuda > ceiling:
        return warn(
            f"driver {nvidia.driver_version} (CUDA <= {ceiling}) runs torch's CUDA {torch_cuda} "
            "only through minor-version compatibility",
            "Plain kernels work; PTX JIT compilation and some torch.compile/Triton paths need "
            "a driver of the toolkit's own release (pytorch/pytorch#130684).",
            advice=advice("Upgrade the driver when you can."),
        )
    return ok(f"driver {nvidia.driver_version} >= {needed}, the minimum for CUDA {data['cuda']}")


@check("torch.gpu_arch", "GPU compute capability in torch's architectures")
def gpu_arch(ctx: Context) -> Finding:
    data = torch_data(ctx)
    gpus = ctx.env.nvidia.gpus
    if data is None or not data["cuda"]:
        return skip("no CUDA build of torch")
    if not gpus:
        return skip("no GPU to compare")
    arch_list = list(data.get("arch_list") or [])
    if not arch_list:
        return skip("torch did not report the architectures it was built for")
    unsupported, ptx_only = [], []
    for gpu in gpus:
        cc = parse_version(gpu.compute_capability)
        if cc is None:
            continue
        support = arch_support(cc, arch_list)
        if support is None:
            unsupported.append(gpu)
        elif support == "ptx":
            ptx_only.append(gpu)
    built = " ".join(arch_list)
    if unsupported:
        names = ", ".join(
            f"{g.name} (sm_{g.compute_capability.replace('.', '')})" for g in unsupported
        )
        return fail(
            f"torch {data['version']} has no kernels for {names}",
            f"torch was built for: {built}",
            "A cubin runs only on its own major architecture with an equal or newer minor; "
            "PTX (compute_XY) can be JIT-compiled for newer GPUs. Blackwell needs cu128 or "
            "newer; Maxwell/Pascal/Volta need cu126 or older.",
            commands=(fitting_torch(ctx),),
            known_failure="gpu-sm-unsupported-by-torch",
        )
    if ptx_only:
        names = ", ".join(g.name for g in ptx_only)
        return warn(
            f"{names}: only PTX in torch's build, JIT-compiled at first use",
            f"torch was built for: {built}",
            "The first CUDA call is slow while the driver compiles PTX, and the driver must be "
            "at least as new as the toolkit that made the PTX.",
        )
    return ok(f"every GPU is covered by torch's build ({built})")


@check("torch.cuda_available", "torch sees the GPUs")
def cuda_available(ctx: Context) -> Finding:
    data = torch_data(ctx)
    nvidia = ctx.env.nvidia
    if data is None or not data["cuda"]:
        return skip("no CUDA build of torch")
    if not nvidia.gpus or nvidia.source == "override":
        return skip("no real GPU to find")
    if data.get("cuda_available"):
        count = data.get("device_count", 0)
        if count != len(nvidia.gpus):
            return warn(
                f"torch sees {count} of the {len(nvidia.gpus)} GPUs",
                "CUDA_VISIBLE_DEVICES (or the container's device list) hides the others.",
            )
        return ok(f"torch.cuda.is_available() is True; {count} device(s)")
    reason = data.get("cuda_error") or "torch.cuda.is_available() returned False"
    return fail(
        "torch cannot use the GPUs",
        reason,
        advice=advice(
            "The checks above usually say why (driver too old, CPU-only build). Otherwise check "
            "CUDA_VISIBLE_DEVICES and that no other process holds the GPUs in exclusive mode."
        ),
    )


@check("torchvision.match", "torchvision matches torch")
def torchvision_matches(ctx: Context) -> Finding:
    target = ctx.env.target
    torch_v = torch_version(ctx)
    vision_installed = target.version_of("torchvision")
    if vision_installed is None:
        return skip("torchvision is not installed")
    if torch_v is None:
        return skip("torch is not importable")
    release = ctx.matrix.torch_release(torch_v)
    torch_raw = str(torch_v)
    vision_v = parse_version(vision_installed)
    fix_index = _index_of(torch_raw) or torch_install_hint(ctx)
    if release is not None and vision_v is not None:
        expected = Version(release.torchvision)
        if (vision_v.major, vision_v.minor) != (expected.major, expected.minor):
            return fail(
                f"torchvision {vision_installed} does not belong to torch {torch_raw}: "
                f"torch {release.torch} goes with torchvision {release.torchvision}",
                commands=(
                    f'{ctx.pip} install "torchvision=={release.torchvision}.*" '
                    f"--index-url {fix_index}",
                ),
                known_failure="torchvision-nms-missing",
            )
    step = target.step("torchvision")
    data = target.imported("torchvision")
    if data is None:
        known = known_step_failure(step, "import torchvision")
        command = (
            f"{ctx.pip} install --force-reinstall torch=={_base(torch_raw)} "
            f'"torchvision=={release.torchvision}.*" --index-url {fix_index}'
            if release
            else f"{ctx.pip} install --force-reinstall torchvision --index-url {fix_index}"
        )
        traceback = [step.traceback] if step is not None and step.traceback else []
        if known:
            return fail(
                step_failure(step, "import torchvision"),
                *traceback,
                commands=(command,),
                known_failure=known,
            )
        return fail(
            step_failure(step, "import torchvision"),
            *traceback,
            advice=advice(
                "torch and torchvision must come from the same index and release:", command
            ),
        )
    torch_cuda = (torch_data(ctx) or {}).get("cuda")
    vision_cuda = cuda_text(data.get("cuda"))
    if _major_minor(vision_cuda) != _major_minor(torch_cuda):
        return fail(
            f"torchvision was built for CUDA {vision_cuda or 'none (CPU)'}, "
            f"torch for CUDA {torch_cuda or 'none (CPU)'}",
            commands=(
                f"{ctx.pip} install --force-reinstall --no-deps torchvision=={vision_installed} "
                f"--index-url {fix_index}",
            ),
            known_failure="torchvision-nms-missing",
        )
    if release is None:
        return warn(
            f"torch {torch_raw} is not in the matrix; torchvision {vision_installed} imports"
        )
    return ok(f"torchvision {vision_installed} fits torch {torch_raw}")


def cuda_text(value: object) -> str | None:
    """torchvision reports its CUDA as an integer (13000 = 13.0); torch as "13.0"."""
    if value is None or value == "":
        return None
    text = str(value)
    if text.isdigit():
        number = int(text)
        return f"{number // 1000}.{(number % 1000) // 10}" if number else None
    return text


def _major_minor(cuda: str | None) -> tuple[int, int] | None:
    version = parse_version(cuda)
    return (version.major, version.minor) if version is not None else None


def _index_of(torch_raw: str) -> str | None:
    """The PyTorch index a local version tag points at: 2.1.2+cu121 -> .../whl/cu121."""
    if "+" in torch_raw:
        return f"{TORCH_INDEX}/{torch_raw.split('+', 1)[1]}"
    return None


@check("numpy.abi", "NumPy fits the compiled packages")
def numpy_abi(ctx: Context) -> Finding:
    target = ctx.env.target
    numpy_installed = target.version_of("numpy")
    if numpy_installed is None:
        return skip("numpy is not installed")
    broken = [
        name for name, step in target.steps.items() if "numpy2-abi" in classify_all(step_text(step))
    ]
    fix = (f'{ctx.pip} install "numpy<2"',)
    if broken:
        return fail(
            f"numpy {numpy_installed}: {', '.join(broken)} was compiled for NumPy 1.x",
            "NumPy printed: 'A module that was compiled using NumPy 1.x cannot be run in NumPy 2'.",
            commands=fix,
            known_failure="numpy2-abi",
        )
    numpy_v = parse_version(numpy_installed)
    torch_v = torch_version(ctx)
    first = ctx.matrix.fact("torch_first_numpy2")
    if numpy_v is not None and numpy_v.major >= 2 and torch_v is not None and torch_v < first:
        return fail(
            f"numpy {numpy_installed} with torch {torch_v}: torch before {first} was built "
            "for NumPy 1.x",
            commands=fix,
            known_failure="numpy2-abi",
        )
    return ok(f"numpy {numpy_installed}")
