"""The checks, in the order a person reads them: machine, torch, OpenMMLab, tooling."""

from __future__ import annotations

from mmdoctor.checks import host, network, nvidia, openmmlab, tooling, torch  # noqa: F401 (register)
from mmdoctor.checks.model import REGISTRY, Check

_ORDER = (
    "python.",
    "platform.",
    "nvidia.",
    "torch.",
    "torchvision.",
    "numpy.",
    "stack.",
    "mmcv.",
    "mmdet.",
    "mmengine.",
    "openmmlab.",
    "setuptools.",
    "cuda.",
    "build.",
    "opencv.",
    "network.",
)


def all_checks() -> list[Check]:
    def rank(item: Check) -> int:
        return next(
            (i for i, prefix in enumerate(_ORDER) if item.id.startswith(prefix)), len(_ORDER)
        )

    return sorted(REGISTRY, key=rank)
