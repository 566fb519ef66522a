"""Near neighbours: for every pair of entries whose samples cross-match (a sample of one entry
also shows the other, as a weaker match or as a later link of its chain), the sample's own entry
ranks first. The pairs are found from the samples themselves (tests/data/logs and the held-out
prose of tests/data/prose) and pinned below, so that a new pattern which makes two entries meet
is seen and judged here, not found later by a user."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from conftest import REPO

from mmdoctor.diagnose import CONFIDENT, decode_log, match_log
from mmdoctor.knowledge import load_knowledge

DATA = REPO / "tests" / "data"
SAMPLES = sorted((DATA / "logs").glob("*.log")) + sorted((DATA / "prose").glob("*.txt"))

# (the sample's entry, the entry its sample also shows, how): "chain" where the other is a later
# link of the sample's chain (shown under it), "weak" where it is reported below it.
PINNED = {
    ("build-isolation-no-torch", "mmcv-ext-missing", "chain"),
    ("checkpoint-not-a-checkpoint", "torch-load-weights-only", "chain"),
    ("cuda-home-not-set", "pip-inconsistent-metadata", "weak"),
    ("gcc-too-old-for-torch", "ninja-missing", "weak"),
    ("gpu-sm-unsupported-by-torch", "no-kernel-image", "chain"),
    ("manylinux-wheel-refused", "glibc-too-old-ext", "weak"),
    ("mmcv-and-mmcv-full-coinstalled", "ddp-replicated-tensor-module", "chain"),
    ("mmcv-cxx17-old-mmcv-new-torch", "gcc-too-old-for-torch", "weak"),
    ("mmcv-no-prebuilt-wheel-source-build", "pkg-resources-removed-mmcv-build", "chain"),
    ("msvc-version-unsupported", "nvcc-gcc-too-new", "weak"),
    ("network-tls-certificate", "network-unreachable", "weak"),
    ("nvml-driver-library-mismatch", "cuda-forward-compat-unsupported", "chain"),
    ("nvml-driver-library-mismatch", "torch-cuda-unavailable", "chain"),
    ("onedl-mmcv-lite-build", "mmcv-ext-missing", "chain"),
    ("openmmlab-sibling-bounds", "mmengine-version-incompat", "chain"),
    ("pkg-resources-from-python-wheels", "setuptools-mixed-copies", "chain"),
    ("torch-cpu-only-build", "mmcv-no-prebuilt-wheel-source-build", "chain"),
}


@cache
def matches_of(path: Path) -> list:
    return match_log(decode_log(path.read_bytes(), path.name), load_knowledge())


def crossings() -> list[tuple[Path, str, str]]:
    found = []
    for path in SAMPLES:
        own = path.name.split(".")[0]
        matches = matches_of(path)
        chain = matches[0].chain if matches else ()
        others = {m.failure.id for m in matches} | set(chain)
        found += [(path, own, other) for other in sorted(others - {own})]
    return found


CROSSINGS = crossings()


def test_the_pairs_that_meet_are_the_pinned_ones() -> None:
    seen = set()
    for path, own, other in CROSSINGS:
        top = matches_of(path)[0]
        seen.add((own, other, "chain" if other in top.chain else "weak"))
    assert seen == PINNED


@pytest.mark.parametrize(
    ("path", "own", "other"),
    CROSSINGS,
    ids=[f"{p.name}-{other}" for p, _own, other in CROSSINGS],
)
def test_the_sample_s_own_entry_ranks_first(path: Path, own: str, other: str) -> None:
    matches = matches_of(path)
    top = matches[0]
    assert top.failure.id == own and top.confidence >= CONFIDENT
    ranked = [m.failure.id for m in matches]
    assert other in top.chain or ranked.index(other) > 0


def test_nccl_s_full_shm_is_not_a_full_disk() -> None:
    """NCCL's posix_fallocate says 'No space left on device' about /dev/shm: the shared-memory
    entry, never the disk one (whose pattern leaves that wording out)."""
    path = DATA / "logs" / "nccl-shm-segment-failed.log"
    assert "No space left on device" in path.read_text()
    assert [m.failure.id for m in matches_of(path)] == ["nccl-shm-segment-failed"]


def test_a_driver_library_mismatch_explains_error_804() -> None:
    """Error 804 also follows a driver update whose kernel module is still the old one: with
    NVML's mismatch message in the log, the mismatch is the root and 804 its consequence."""
    path = DATA / "logs" / "nvml-driver-library-mismatch.chain.log"
    top = matches_of(path)[0]
    assert top.failure.id == "nvml-driver-library-mismatch"
    assert "cuda-forward-compat-unsupported" in top.chain
    alone = DATA / "logs" / "cuda-forward-compat-unsupported.log"
    assert matches_of(alone)[0].failure.id == "cuda-forward-compat-unsupported"


def test_torch_s_own_cuda_library_is_not_mmcv_s() -> None:
    """libcudart missing under mmcv's ext_loader is mmcv's wheel (mmcv-ext-libcudart-missing);
    a library missing while torch itself imports is torch's install."""
    mmcv = DATA / "logs" / "mmcv-ext-libcudart-missing.log"
    torch = DATA / "logs" / "torch-cuda-libraries-missing.cusparselt.log"
    assert [m.failure.id for m in matches_of(mmcv)][:1] == ["mmcv-ext-libcudart-missing"]
    assert "torch-cuda-libraries-missing" not in [m.failure.id for m in matches_of(mmcv)]
    assert [m.failure.id for m in matches_of(torch)] == ["torch-cuda-libraries-missing"]
