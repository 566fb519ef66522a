"""What the user asks of a plan (`--cuda`, `--cpu`, `--torch`, `--mmdet`, `--line`,
`--torch-source`, source builds), parsed and checked against the matrix: a bad value, or one the
matrix does not have, is a one-line `UsageError` (exit 2) before anything is probed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from packaging.version import Version

from mmdoctor.errors import UsageError
from mmdoctor.planning.constraints import Constraints
from mmdoctor.planning.current import InstalledTorch
from mmdoctor.planning.matrix import Matrix, MmdetRelease

TORCH_SOURCES = ("pytorch", "pypi")
_CUDA = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.\d+)?$")  # 13, 12.1, 12.1.1: major.minor is meant
_TORCH = re.compile(r"^\d+\.\d+(\.\d+)?$")
_MMDET = re.compile(r"^(2|3|\d+\.\d+(\.\d+)?)$")  # 3.3: the newest 3.3.x


@dataclass(frozen=True)
class Wishes:
    cuda: Version | None = None  # --cuda X.Y: the torch CUDA variant
    cpu: bool = False  # --cpu
    torch: Version | None = None  # --torch 1.13 or 1.13.1
    mmdet: str | None = None  # --mmdet 2 | 3 | 3.3.0
    allow_source_build: bool = True
    line: str | None = None  # --line openmmlab | onedl; None: both compete
    line_why: str = ""  # why that line, where not --line (the environment holds it)
    torch_source: str = "pytorch"  # --torch-source: PyTorch's index for the variant, or "pypi"
    installed: InstalledTorch | None = None  # the environment's torch, to keep (fit the rest)
    # the environment's pip constraints: never broken
    constraints: Constraints = field(default_factory=Constraints)


class ResolveInputError(UsageError):
    """A wish that names something the matrix does not have (exit 2)."""


def make_wishes(
    matrix: Matrix,
    *,
    cuda: str | None,
    cpu: bool,
    torch: str | None,
    mmdet: str | None,
    allow_source_build: bool,
    line: str | None = None,
    torch_source: str = "pytorch",
) -> Wishes:
    if cuda and cpu:
        raise UsageError("--cuda and --cpu exclude each other")
    wishes = Wishes(
        cuda=parse_cuda(cuda) if cuda else None,
        cpu=cpu,
        torch=parse_torch(torch) if torch else None,
        mmdet=parse_mmdet(mmdet, matrix) if mmdet else None,
        allow_source_build=allow_source_build,
        line=line,
        torch_source=torch_source,
    )
    resolve_input_check(wishes, matrix)  # e.g. a --cuda no torch is built for
    return wishes


def parse_cuda(text: str) -> Version:
    found = _CUDA.match(text)
    if not found:
        raise UsageError(f"--cuda {text!r}: expected a CUDA version such as 11.6")
    return Version(f"{found[1]}.{found[2] or 0}")


def parse_torch(text: str) -> Version:
    if not _TORCH.match(text):
        raise UsageError(f"--torch {text!r}: expected a torch version such as 2.1 or 2.1.2")
    return Version(text)  # whether the matrix knows it: resolve_input_check


def parse_mmdet(text: str, matrix: Matrix) -> str:
    known = [str(r.version) for r in matrix.mmdet_releases]
    minors = {v.rsplit(".", 1)[0] for v in known}
    if not _MMDET.match(text) or (text not in ("2", "3", *minors) and text not in known):
        raise UsageError(f"--mmdet {text!r}: expected 2, 3 or one of {', '.join(known)}")
    return text


def resolve_input_check(wishes: Wishes, matrix: Matrix) -> None:
    """Raise ResolveInputError for wishes that name what the matrix does not have."""
    if wishes.torch is not None:
        release = matrix.torch_release(wishes.torch)
        if release is None:
            known = f"{matrix.torch_releases[0].torch} … {matrix.torch_releases[-1].torch}"
            raise ResolveInputError(f"--torch {wishes.torch}: not in the matrix (it has {known})")
        if exact_torch(wishes) and wishes.torch > Version(release.latest):
            raise ResolveInputError(
                f"--torch {wishes.torch}: the newest {release.torch} release the matrix knows "
                f"is {release.latest}"
            )
    if wishes.cuda is not None:
        tag = cuda_tag(wishes.cuda)
        if tag not in matrix.cuda_variants:
            known = ", ".join(str(v.cuda) for v in matrix.cuda_variants.values())
            raise ResolveInputError(
                f"--cuda {wishes.cuda}: no torch is built for CUDA {wishes.cuda} (known: {known})"
            )
    if wishes.line is not None and wishes.line not in matrix.stack_lines:
        raise ResolveInputError(
            f"--line {wishes.line}: expected one of {', '.join(matrix.stack_lines)}"
        )
    if wishes.torch_source not in TORCH_SOURCES:
        raise ResolveInputError(
            f"--torch-source {wishes.torch_source}: expected one of {', '.join(TORCH_SOURCES)}"
        )
    if wishes.mmdet is not None and not mmdet_releases(wishes, matrix):
        on_line = [r for r in matrix.mmdet_releases if wishes.line in (None, r.stack_line)]
        line = f" on the {wishes.line} line" if wishes.line else ""
        raise ResolveInputError(
            f"--mmdet {wishes.mmdet}: expected 2, 3 or a release the matrix knows{line} "
            f"({', '.join(str(r.version) for r in on_line)})"
        )


def exact_torch(wishes: Wishes) -> str:
    """--torch 2.1.0 names a patch release; --torch 2.1 leaves it to the matrix."""
    if wishes.torch is not None and len(wishes.torch.release) >= 3:
        return str(wishes.torch)
    return ""


def cuda_tag(cuda: Version) -> str:
    return f"cu{cuda.major}{cuda.minor}"


def mmdet_releases(wishes: Wishes, matrix: Matrix) -> list[MmdetRelease]:
    """The mmdet releases the wishes allow (their line, --mmdet), newest first."""
    releases = [r for r in matrix.mmdet_releases if wishes.line in (None, r.stack_line)]
    wish = wishes.mmdet
    if wish is None:
        return releases
    if wish in ("2", "3"):
        return [r for r in releases if r.line == int(wish)]
    if wish.count(".") == 1:  # a minor, such as 3.3: any of its releases, the newest first
        return [r for r in releases if str(r.version).startswith(wish + ".")]
    return [r for r in releases if str(r.version) == wish]
