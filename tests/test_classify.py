"""knowledge.classify: the one classifier of failure text, for check, smoke-test, install and
diagnose alike.

It replaced two substring tables: IMPORT_ERROR_SIGNATURES in checks/torch.py (for the checks
that read a failed import) and STAGE_FAILURES in smoke/run.py (for a failed smoke stage). Each
of their needles, in the text its check or stage sees, must still name the failure it named.
"""

from __future__ import annotations

import itertools

import pytest
from conftest import REPO

from mmdoctor.knowledge import (
    CONFIDENT,
    classify,
    classify_all,
    clean,
    load_knowledge,
    match_log,
)
from mmdoctor.smoke.run import stage_from
from mmdoctor.target import StepResult

UNDEFINED_SYMBOL = (
    "ImportError: /venv/lib/python3.10/site-packages/mmcv/_ext.cpython-310-x86_64-linux-gnu.so: "
    "undefined symbol: _ZN3c106detail14torchCheckFailEPKcS2_jRKSs"
)

# (old needle, a text holding it as the check sees it, the id the needle gave), in the old
# table's order. Two entries want to know which import failed, as a log would say it: a missing
# pkg_resources is mim's when `import mim` failed, a missing libcudart is mmcv's when mmcv._ext
# did; the checks give the classifier their summary line ("import mim failed: ...") for that.
IMPORT_ERRORS = [
    (
        "compiled using NumPy 1.x cannot be run in",
        "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.0.2 as it may "
        "crash. To support both 1.x and 2.x versions of NumPy, modules must be compiled with "
        "NumPy 2.0.",
        "numpy2-abi",
    ),
    (
        "torchvision::nms does not exist",
        "RuntimeError: operator torchvision::nms does not exist",
        "torchvision-nms-missing",
    ),
    (
        "libGL.so.1",
        "ImportError: libGL.so.1: cannot open shared object file: No such file or directory",
        "libgl-missing",
    ),
    (
        "partially initialized module 'cv2'",
        "AttributeError: partially initialized module 'cv2' has no attribute "
        "'gapi_wip_gst_GStreamerPipeline' (most likely due to a circular import)",
        "opencv-circular-import",
    ),
    (
        "No module named 'pkg_resources'",
        "import mim failed: ModuleNotFoundError: No module named 'pkg_resources'",
        "pkg-resources-removed-mim",
    ),
    (
        "has no attribute 'ImpImporter'",
        "AttributeError: module 'pkgutil' has no attribute 'ImpImporter'. Did you mean: "
        "'zipimporter'?",
        "mim-py312-pkgutil-impimporter",
    ),
    ("undefined symbol", UNDEFINED_SYMBOL, "mmcv-ext-undefined-symbol"),
    (
        "libcudart.so",
        "import mmcv._ext failed: ImportError: libcudart.so.11.0: cannot open shared object "
        "file: No such file or directory",
        "mmcv-ext-libcudart-missing",
    ),
    (
        "No module named 'mmcv._ext'",
        "ModuleNotFoundError: No module named 'mmcv._ext'",
        "mmcv-ext-missing",
    ),
]

# The same for a failed smoke stage; the last two needles had no id, only advice prose, and are
# knowledge-base entries now.
STAGE_ERRORS = [
    (
        "no kernel image is available",
        "RuntimeError: CUDA error: no kernel image is available for execution on the device",
        "no-kernel-image",
    ),
    (
        "implementation for device cuda",
        "RuntimeError: nms_impl: implementation for device cuda:0 not found.",
        "mmcv-ops-built-without-cuda",
    ),
    (
        "No module named 'mmcv._ext'",
        "ModuleNotFoundError: No module named 'mmcv._ext'",
        "mmcv-ext-missing",
    ),
    ("undefined symbol", UNDEFINED_SYMBOL, "mmcv-ext-undefined-symbol"),
    (
        "Weights only load failed",
        "_pickle.UnpicklingError: Weights only load failed. This file can still be loaded, to do "
        "so you have two options. WeightsUnpickler error: Unsupported global: GLOBAL "
        "mmengine.logging.history_buffer.HistoryBuffer was not an allowed global by default.",
        "torch-load-weights-only",
    ),
    (
        "is used but incompatible",
        "AssertionError: MMCV==2.2.0 is used but incompatible. Please install mmcv>=2.0.0rc4, "
        "<2.2.0.",
        "mmcv-too-new-for-mmdet3",
    ),
    (
        "torch.cuda.is_available() is False",
        "RuntimeError: torch.cuda.is_available() is False",
        "torch-cuda-unavailable",
    ),
    (
        "CUDA out of memory",
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a "
        "total capacity of 7.79 GiB of which 3.19 MiB is free.",
        "cuda-out-of-memory",
    ),
]


@pytest.mark.parametrize(
    ("needle", "text", "known"), IMPORT_ERRORS + STAGE_ERRORS, ids=lambda v: str(v)[:40]
)
def test_each_old_needle_still_names_its_failure(needle: str, text: str, known: str) -> None:
    assert needle in text
    assert classify(text) == known, classify_all(text)


@pytest.mark.parametrize(
    ("text", "known"),
    [
        (
            "ImportError: cannot import name 'dnn' from partially initialized module 'cv2' "
            "(most likely due to a circular import)",
            "opencv-circular-import",
        ),
        (
            "import mim failed: AttributeError: module 'pkgutil' has no attribute 'ImpImporter'",
            "mim-py312-pkgutil-impimporter",
        ),
        (
            "RuntimeError: Attempting to deserialize object on a CUDA device but "
            "torch.cuda.is_available() is False. If you are running on a CPU-only machine, "
            "please use torch.load with map_location=torch.device('cpu') to map your storages "
            "to the CPU.",
            "torch-cuda-unavailable",
        ),
        ("RuntimeError: CUDA error: out of memory", "cuda-out-of-memory"),
        # torch >= 2.x with mmcv built for 1.x: still mmcv's, by the path in the message
        (
            "import mmdet failed: ImportError: /opt/conda/lib/python3.8/site-packages/mmcv/"
            "_ext.cpython-38-x86_64-linux-gnu.so: undefined symbol: _ZNK2at6Tensor7is_cudaEv",
            "mmcv-ext-undefined-symbol",
        ),
    ],
)
def test_variants_of_the_old_needles(text: str, known: str) -> None:
    assert classify(text) == known, classify_all(text)


@pytest.mark.parametrize(
    ("text", "known"),
    [
        # A needle alone said more than it knew: these are not the failures it named. torch's
        # own libraries missing a symbol or libcudart are not mmcv's _ext; pkg_resources missing
        # elsewhere is not openmim's failure.
        (
            "import torch failed: ImportError: /venv/lib/python3.10/site-packages/torch/lib/"
            "libtorch_cuda.so: undefined symbol: ncclCommRegister",
            None,
        ),
        (
            "import torch failed: ImportError: libcudart.so.12: cannot open shared object file: "
            "No such file or directory",
            None,
        ),
        ("import cv2 failed: ModuleNotFoundError: No module named 'pkg_resources'", None),
        # "is used but incompatible" named mmcv-too-new-for-mmdet3 for any of mmdet's asserts
        (
            "AssertionError: MMEngine==0.7.0 is used but incompatible. Please install "
            "mmengine>=0.7.1, <1.0.0.",
            "mmengine-version-incompat",
        ),
        (
            "AssertionError: MMCV==2.1.0 is used but incompatible. Please install mmcv>=1.3.17, "
            "<=1.8.0.",
            "mmcv-major-mismatch",
        ),
    ],
)
def test_where_the_old_needles_named_the_wrong_failure(text: str, known: str | None) -> None:
    assert classify(text) == known, classify_all(text)


def test_the_numpy_abi_message_outranks_what_fails_after_it() -> None:
    """The old table put the NumPy ABI message first: NumPy prints it (to stderr) while an
    extension built for NumPy 1.x loads, and the import then fails with some other error (an
    undefined symbol, a missing module). The knowledge base ranks it first by its weight."""
    numpy_text, numpy_id = IMPORT_ERRORS[0][1:]
    for _needle, other, _known in IMPORT_ERRORS[1:] + STAGE_ERRORS:
        for text in (f"{other}\n{numpy_text}", f"{numpy_text}\n{other}"):
            assert classify(text) == numpy_id, classify_all(text)


def test_needles_of_one_step_never_meet_so_their_old_order_does_not_matter() -> None:
    """Apart from NumPy's message, two old needles cannot share one step's text (a step stops
    at its first exception). Where two are pasted together anyway both are named, the one with
    the stronger evidence first: classify_all keeps every confident root."""
    for (_n1, a, known_a), (_n2, b, known_b) in itertools.combinations(IMPORT_ERRORS[1:], 2):
        found = classify_all(f"{a}\n{b}")
        assert known_a in found and known_b in found, (known_a, known_b, found)


def test_classify_all_is_what_install_reported() -> None:
    """install's _known kept every root with confidence >= 0.5, in chain order."""
    knowledge = load_knowledge()
    for log in sorted((REPO / "tests" / "data" / "logs").glob("*.log")):
        text = log.read_text(encoding="utf-8", errors="replace")
        old = tuple(
            m.failure.id for m in match_log(clean(text), knowledge) if m.confidence >= CONFIDENT
        )
        assert classify_all(text) == old, log.name
        assert classify(text) == (old[0] if old else None)
    assert classify_all("  \n") == () and classify("") is None


# ------------------------------------------------------------------- smoke stages


def failed_stage(error: str, traceback: str | None = None, stderr: str = "") -> StepResult:
    return StepResult(name="ops", ok=False, error=error, traceback=traceback, stderr=stderr)


@pytest.mark.parametrize(("needle", "text", "known"), STAGE_ERRORS, ids=lambda v: str(v)[:40])
def test_a_failed_stage_names_the_failure_and_gives_its_fix(
    needle: str, text: str, known: str
) -> None:
    stage = stage_from(failed_stage(text), "ops")
    entry = load_knowledge().get(known)
    assert entry is not None
    assert stage.status == "fail" and stage.summary == text
    assert stage.known_failure == known
    assert stage.advice == entry.fix_text


def test_the_stage_text_includes_traceback_and_stderr() -> None:
    stage = stage_from(
        failed_stage("RuntimeError: boom", traceback=UNDEFINED_SYMBOL, stderr="warning"), "ops"
    )
    assert stage.known_failure == "mmcv-ext-undefined-symbol"
    assert stage.data == {"traceback": UNDEFINED_SYMBOL}


def test_an_unknown_stage_failure_has_no_advice() -> None:
    stage = stage_from(failed_stage("AssertionError: roi_align on cpu differs by 0.3"), "ops")
    assert stage.status == "fail"
    assert stage.known_failure is None and stage.advice is None
