"""`mmdoctor matrix`: what works with what, from the compatibility matrix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmdoctor.commands.interaction import Interaction
from mmdoctor.errors import ExitCode
from mmdoctor.options import StackOptions
from mmdoctor.planning.compat_table import MatrixRows, compat_rows
from mmdoctor.planning.matrix import load_matrix
from mmdoctor.result import Result


@dataclass(frozen=True)
class MatrixOptions(StackOptions):
    """The stack wishes as filters (--cuda, --torch, --mmdet, --line)."""

    matrix: Path | None = None


def run(options: MatrixOptions, ui: Interaction) -> Result:
    loaded = load_matrix(str(options.matrix) if options.matrix else None)
    wishes = options.wishes(loaded)
    rows = compat_rows(
        loaded, cuda=wishes.cuda, torch=wishes.torch, mmdet=wishes.mmdet, line=wishes.line
    )
    return Result("matrix", "ok", ExitCode.OK, MatrixRows(loaded.path, tuple(rows)))
