"""`mmdoctor matrix`: what works with what, from the compatibility matrix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mmdoctor.commands.interaction import Interaction
from mmdoctor.errors import ExitCode
from mmdoctor.result import Result

if TYPE_CHECKING:
    from mmdoctor.planning.compat_table import CompatRow


@dataclass(frozen=True)
class MatrixOptions:
    cuda: str | None = None
    torch: str | None = None
    mmdet: str | None = None
    line: str | None = None
    matrix: Path | None = None


@dataclass(frozen=True)
class MatrixRows:
    path: str  # the matrix file they come from
    rows: tuple[CompatRow, ...]


def run(options: MatrixOptions, ui: Interaction) -> Result:
    from mmdoctor.planning.compat_table import compat_rows
    from mmdoctor.planning.machine import make_wishes
    from mmdoctor.planning.matrix import load_matrix

    loaded = load_matrix(str(options.matrix) if options.matrix else None)
    wishes = make_wishes(
        loaded,
        cuda=options.cuda,
        cpu=False,
        torch=options.torch,
        mmdet=options.mmdet,
        allow_source_build=True,
        line=options.line,
    )
    rows = compat_rows(
        loaded, cuda=wishes.cuda, torch=wishes.torch, mmdet=wishes.mmdet, line=wishes.line
    )
    return Result("matrix", "ok", ExitCode.OK, MatrixRows(loaded.path, tuple(rows)))
