"""The checks, in the order a person reads them: machine, torch, OpenMMLab, tooling."""

from __future__ import annotations

from mmdoctor.checks import nvidia, openmmlab, tooling, torch  # noqa: F401  (they register)
from mmdoctor.checks.model import REGISTRY, Check

_ORDER = (
    "python.",
    "nvidia.",
    "torch.",
    "torchvision.",
    "numpy.",
    "mmcv.",
    "mmdet.",
    "mmengine.",
    "setuptools.",
    "cuda.",
    "opencv.",
)


def all_checks() -> list[Check]:
    def rank(item: Check) -> int:
        return next(
            (i for i, prefix in enumerate(_ORDER) if item.id.startswith(prefix)), len(_ORDER)
        )

    return sorted(REGISTRY, key=rank)
