"""`mmdoctor smoke-test`: check the inputs, fetch the weights, run the stages in the target.

The stages (smoke/inside_smoke.py) run inside the target interpreter in one subprocess with a
per-stage timeout; a segfault or a hung CUDA call is a failed stage. A failed stage whose text
the knowledge base (known_failures.yaml) recognises names that failure and carries its fix.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mmdoctor import paths, shell
from mmdoctor.errors import UsageError
from mmdoctor.knowledge import classify, load_knowledge
from mmdoctor.planning.matrix import Matrix, SmokeModel
from mmdoctor.probe.collect import TOOL_TIMEOUT
from mmdoctor.probe.inside import probe_python, run_marked
from mmdoctor.probe.nvidia import parse_overrides, probe_nvidia
from mmdoctor.redact import redact_credentials
from mmdoctor.smoke.weights import DownloadError, fetch_checkpoint
from mmdoctor.target import StepResult, choose_interpreter

STAGES = ("torch", "ops", "detector", "inference", "timing")
STAGE_TITLES = {
    "torch": "torch on the device",
    "ops": "mmcv compiled ops (nms, roi_align) against a reference",
    "detector": "build the detector from mmdet's config",
    "inference": "detect objects in the image",
    "timing": "latency and throughput",
}
# What the zoo models must find on the shipped image (a public-domain NASA portrait).
SHIPPED_IMAGE_EXPECTS = {"classes": ["person"], "score": 0.5}
IMAGE_MAGIC = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG", b"BM": "BMP"}


@dataclass(frozen=True)
class SmokeOptions:
    python: str | None
    device: str | None  # None: cuda:0 when a GPU is visible, else cpu
    model: str | None
    image: str | None
    weights: str  # "zoo" or "none"
    checkpoint: str | None  # a path or URL instead of the zoo's
    score_thr: float
    out: str | None
    runs: int | None
    timeout: float
    venv: Path | None = None  # the target as a venv folder (or python above, not both)


@dataclass(frozen=True)
class Stage:
    id: str
    title: str
    status: str  # ok, fail, skip
    summary: str
    seconds: float | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    advice: str | None = None
    known_failure: str | None = None


@dataclass(frozen=True)
class SmokeReport:
    executable: str
    device: str
    model: SmokeModel
    image: str
    weights: str  # a one-line description of the weights used
    notes: tuple[str, ...]
    stages: tuple[Stage, ...]

    @property
    def passed(self) -> bool:
        return all(stage.status == "ok" for stage in self.stages)

    def to_dict(self, verbose: bool = False) -> dict[str, Any]:
        return {
            "executable": self.executable,
            "device": self.device,
            "model": {"id": self.model.id, "title": self.model.title},
            "image": self.image,
            "weights": redact_credentials(self.weights),
            "notes": list(self.notes),
            "stages": [asdict(stage) for stage in self.stages],
            "detections": next(
                (list(s.data.get("detections") or []) for s in self.stages if s.id == "inference"),
                [],
            ),
            "timing": next((dict(s.data) for s in self.stages if s.id == "timing"), {}),
        }


def check_image(path: str | None) -> str:
    """The image to use, verified to exist and to be a JPEG, PNG or BMP (exit 2 if not)."""
    if path is None:
        return str(paths.SHIPPED_IMAGE)
    image = Path(path).expanduser()
    if image.is_dir():
        raise UsageError(f"--image {path}: a folder, not an image file")
    if not image.is_file():
        raise UsageError(f"--image {path}: no such file")
    with image.open("rb") as handle:
        head = handle.read(8)
    if not any(head.startswith(magic) for magic in IMAGE_MAGIC):
        raise UsageError(f"--image {path}: not an image (expected a JPEG, PNG or BMP file)")
    return str(image.resolve())


def choose_model(matrix: Matrix, model_id: str | None) -> SmokeModel:
    chosen = matrix.smoke_model(model_id or matrix.default_smoke_model)
    if chosen is None:
        known = ", ".join(m.id for m in matrix.smoke_models)
        raise UsageError(f"--model {model_id}: unknown model (choose one of {known})")
    return chosen


LOCAL_RANK_VARIABLES = ("SLURM_LOCALID", "LOCAL_RANK")  # srun's, torchrun's


def local_device(environ: Mapping[str, str]) -> tuple[str, str]:
    """`--device cuda:local`: the GPU of this task's rank on its node, as a launcher that
    starts one task per GPU numbers them; (the device, where its number came from)."""
    for name in LOCAL_RANK_VARIABLES:
        value = environ.get(name, "")
        if value.isdigit():
            return f"cuda:{value}", f"cuda:local is cuda:{value} (${name})"
    return "cuda:0", "cuda:local is cuda:0 (neither $SLURM_LOCALID nor $LOCAL_RANK is set)"


def _device(asked: str | None, matrix: Matrix, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """The device to run on, from --device and the GPUs NVML sees."""

    gpus = 0
    if asked != "cpu":
        nvidia = probe_nvidia(
            overrides=parse_overrides(environ),
            timeout=TOOL_TIMEOUT,
            max_cuda_for_driver=matrix.max_cuda_for_driver,
        )
        gpus = len(nvidia.gpus)
    local = None
    if asked == "cuda:local":
        asked, local = local_device(environ)
    device, notes = choose_device(asked, gpus)
    return device, [*notes, local] if local else notes


def choose_device(device: str | None, gpu_count: int) -> tuple[str, list[str]]:
    """The device and what to tell the user about the choice."""
    notes: list[str] = []
    if device is None:
        if gpu_count:
            return "cuda:0", notes
        notes.append("no NVIDIA GPU is visible: running on the CPU (--device cpu)")
        return "cpu", notes
    if device == "cpu":
        return device, notes
    if device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit()):
        index = int(device[5:]) if ":" in device else 0
        if index >= gpu_count:
            seen = f"{gpu_count} GPU(s)" if gpu_count else "no NVIDIA GPU"
            raise UsageError(f"--device {device}: this machine has {seen}")
        return f"cuda:{index}", notes
    raise UsageError(f"--device {device}: expected cpu, cuda or cuda:N")


def settings(
    *,
    device: str,
    model: SmokeModel,
    checkpoint: str | None,
    image: str,
    expect: Mapping[str, Any] | None,
    options: SmokeOptions,
) -> dict[str, Any]:
    return {
        "device": device,
        # Fresh inputs each run (the seed is reported, so a failure can be replayed).
        "seed": random.SystemRandom().randrange(1, 2**31),
        "configs": {str(line): path for line, path in model.configs.items()},
        "checkpoint": checkpoint,
        "image": image,
        "score_thr": options.score_thr,
        "out": str(Path(options.out).expanduser().resolve()) if options.out else None,
        "runs": options.runs or (10 if device.startswith("cuda") else 3),
        "expect": dict(expect) if expect else None,
    }


def stage_from(result: StepResult | None, stage_id: str) -> Stage:
    title = STAGE_TITLES[stage_id]
    if result is None:
        return Stage(stage_id, title, "skip", "not run: an earlier stage failed")
    data = dict(result.data)
    if result.ok:
        return Stage(stage_id, title, "ok", summarize(stage_id, data), result.seconds, data)
    # The knowledge base names the failure and gives its fix, as for check's findings.
    known = classify(f"{result.error or ''}\n{result.traceback or ''}\n{result.stderr}")
    failure = load_knowledge().get(known) if known else None
    advice = failure.fix_text if failure else None
    summary = result.crashed or result.error or "failed"
    details = {"traceback": result.traceback} if result.traceback else {}
    return Stage(stage_id, title, "fail", summary, result.seconds, details, advice, known)


def summarize(stage_id: str, data: Mapping[str, Any]) -> str:
    if stage_id == "torch":
        where = data.get("name") or "CPU"
        return (
            f"torch {data.get('torch')} on {data.get('device')} ({where}): matrix product "
            f"matches the reference (max error {data.get('matmul_max_abs_error'):.2g})"
        )
    if stage_id == "ops":
        return (
            f"nms kept the same {data.get('nms_kept')} boxes as {data.get('nms_reference')}; "
            f"roi_align within {data.get('roi_align_max_abs_error'):.2g} of "
            f"{data.get('roi_align_reference')} (seed {data.get('seed')})"
        )
    if stage_id == "detector":
        return (
            f"mmdet {data.get('mmdet')}: {Path(str(data.get('config'))).name}, "
            f"{data.get('parameters', 0) / 1e6:.1f} M parameters, {data.get('classes')} classes"
        )
    if stage_id == "inference":
        shown = data.get("detections") or []
        top = ", ".join(f"{d['class']} {d['score']:.2f}" for d in shown[:3])
        return f"{len(shown)} detection(s) above the threshold" + (f": {top}" if top else "")
    if stage_id == "timing":
        memory = data.get("peak_memory_bytes") or 0
        return (
            f"median {data.get('median_seconds')} s per image over {data.get('runs')} run(s), "
            f"{data.get('images_per_second')} images/s, peak memory {memory / 2**20:.0f} MiB "
            f"({data.get('peak_memory_of')})"
        )
    return ""


# Which of the packages every stack has (mmdet 2 has no mmengine) the target cannot import,
# found without importing them (fast).
_FIND_STACK = (
    "import importlib.util\n"
    "print(' '.join(m for m in ('torch', 'mmcv', 'mmdet')"
    " if importlib.util.find_spec(m) is None))"
)


def missing_stack(executable: str, env: Mapping[str, str]) -> list[str]:
    """The stack's packages the target lacks; [] if it has them all (or could not say)."""

    try:
        found = shell.run([executable, "-c", _FIND_STACK], timeout=60, env=env)
    except shell.CommandNotFound as exc:
        raise UsageError(f"--python {executable}: {exc.reason}") from None
    return found.stdout.split() if found.ok else []


def not_installed(executable: str, missing: list[str]) -> tuple[Stage, ...]:
    """The stages of a target without the stack: the first fails, naming the way to install it."""
    first = Stage(
        STAGES[0],
        STAGE_TITLES[STAGES[0]],
        "fail",
        f"not installed in {executable}: {', '.join(missing)}",
        advice=f"install the stack first: mmdoctor install --python {executable}",
    )
    rest = (stage_from(None, stage_id) for stage_id in STAGES[1:])
    return (first, *rest)


def run_smoke(options: SmokeOptions, matrix: Matrix, environ: Mapping[str, str]) -> SmokeReport:

    model = choose_model(matrix, options.model)
    image = check_image(options.image)
    if options.out and not Path(options.out).expanduser().resolve().parent.is_dir():
        raise UsageError(f"--out {options.out}: its folder does not exist")
    if options.weights not in ("zoo", "none"):
        raise UsageError(f"--weights {options.weights}: expected zoo or none")
    choice = choose_interpreter(python=options.python, venv=options.venv, environ=environ)
    executable = choice.executable
    device, notes = _device(options.device, matrix, environ)

    env = {**environ, "PYTHONDONTWRITEBYTECODE": "1"}
    # Not a Python, or one no stack runs on: exit 2 before anything else is looked at.
    probe_python(executable, timeout=TOOL_TIMEOUT, environ=env, how=choice.how)
    missing = missing_stack(executable, env)
    if missing:  # before any download: weights are no use without the stack
        stages = not_installed(executable, missing)
        weights = "not fetched: the stack is not installed"
        return SmokeReport(executable, device, model, image, weights, tuple(notes), stages)
    checkpoint_path: str | None = None
    expect: Mapping[str, Any] | None = None
    if options.weights == "none" and options.checkpoint is None:
        weights = "none: random weights, a pipeline check only (no detections are judged)"
    else:
        source = options.checkpoint or model.checkpoint_url
        try:
            fetched = fetch_checkpoint(
                source,
                expected_prefix=None if options.checkpoint else model.sha256_prefix,
                environ=environ,
                progress=_tty(),
            )
        except DownloadError as exc:
            if options.checkpoint:
                raise
            raise DownloadError(
                f"{exc}; without the model zoo, use --checkpoint PATH|URL (a copy or a mirror) "
                "or --weights none for a pipeline check"
            ) from None
        checkpoint_path = str(fetched.path)
        zoo = fetched.sha256.startswith(model.sha256_prefix)
        weights = f"{fetched.source} (sha256 {fetched.sha256[:12]}…"
        weights += (
            ", the zoo's)"
            if zoo
            else (", verified by its name)" if fetched.verified else ", not verified)")
        )
        if zoo:
            # torch >= 2.6 defaults to weights_only loading, which mmengine <= 0.10.7 does not
            # expect. Only the zoo's own file (its sha256 matched) is trusted with full
            # unpickling, and for this run only; any other file loads as torch decides.
            env["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
            notes.append(
                "the checkpoint's sha256 matches the model zoo's, so it is loaded with full "
                "unpickling (TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 for this run only)"
            )
        if zoo and options.image is None:
            expect = SHIPPED_IMAGE_EXPECTS
    script = paths.inside_script(paths.SMOKE_SCRIPT)
    args = json.dumps(
        settings(
            device=device,
            model=model,
            checkpoint=checkpoint_path,
            image=image,
            expect=expect,
            options=options,
        )
    )
    _begun, finished, _culprit = run_marked(
        executable,
        script,
        [args],
        step_timeout=options.timeout,
        total_timeout=options.timeout * len(STAGES) + 30,
        env=env,
    )
    stages = tuple(stage_from(finished.get(stage_id), stage_id) for stage_id in STAGES)
    return SmokeReport(
        executable=executable,
        device=device,
        model=model,
        image=image,
        weights=weights,
        notes=tuple(notes),
        stages=stages,
    )


def _tty() -> bool:
    import sys

    return sys.stderr.isatty()
