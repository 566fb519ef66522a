"""`mmdoctor matrix` shows what `install` can plan (issue 28), and fits a terminal.

The table and the resolver must agree both ways for a filter: every (variant, Python) a row
shows is planned by `resolve` with the row's mmcv, and every (variant, Python) `resolve` plans
is in a row. The 80-column check runs the real CLI on a pseudo-terminal and reads the screen.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest
from conftest import REPO
from packaging.version import Version as V

from mmdoctor.planning.compat_table import CompatRow, compat_rows, python_ranges
from mmdoctor.planning.machine import Machine
from mmdoctor.planning.matrix import DriverVersion, load_matrix
from mmdoctor.planning.resolver import pythons, resolve
from mmdoctor.planning.wishes import Wishes

M = load_matrix()
# A driver every CUDA variant of the matrix runs on (NVIDIA Table 3: CUDA 13.1's), no GPU named:
# the table leaves the machine's GPUs out, as this machine does.
DRIVER = DriverVersion("590.44.01")

FILTERS = [
    {"line": "onedl", "torch": V("2.9")},  # issue 28: install planned cu128 on 3.11, the table not
    {"mmdet": "3", "cuda": V("11.8")},
    {"mmdet": "2", "torch": V("1.13")},
    {"line": "openmmlab", "torch": V("2.14")},
    {"torch": V("2.15")},
]


def _wishes(row_torch: str, variant: str, mmdet: str, line: str | None) -> Wishes:
    cuda = None if variant == "cpu" else M.cuda_variants[variant].cuda
    return Wishes(cuda=cuda, cpu=cuda is None, torch=V(row_torch), mmdet=mmdet, line=line)


def _head(row: CompatRow) -> str:
    """The newest mmdet release of the row's group ('onedl-mmdetection 3.4.0-3.5.1' -> 3.5.1)."""
    return row.mmdet.split()[-1].split("-")[-1]


@pytest.mark.parametrize(
    "filters", FILTERS, ids=lambda f: " ".join(f"{k}={v}" for k, v in f.items())
)
def test_every_row_is_what_install_plans_and_every_plan_has_a_row(filters: dict) -> None:
    rows = compat_rows(M, **filters)
    assert rows, filters
    shown: dict[tuple[str, str, str, str], tuple[str, str]] = {}
    for row in rows:
        assert row.python == python_ranges([V(p) for p in row.pythons])
        for variant in row.variants:
            for python in row.pythons:
                shown[(_head(row), row.torch, variant, python)] = (row.mmcv, row.how)
    line = filters.get("line")
    for (mmdet, torch, variant, python), (mmcv, how) in shown.items():
        machine = Machine("linux", V(python), DRIVER)
        chosen = resolve(machine, _wishes(torch, variant, mmdet, line), M, suggest=False).chosen
        assert chosen is not None, (mmdet, torch, variant, python)
        planned = f"{chosen.mmcv.package} {chosen.mmcv.version}"
        built = "prebuilt" if chosen.mmcv.prebuilt else "source build"
        assert (planned, built) == (mmcv, how), (mmdet, torch, variant, python)
    # the other way: whatever install plans under the filter is in a row
    heads = {_head(row) for row in rows}
    torches = {row.torch for row in rows}
    for mmdet in heads:
        for torch in torches:
            release = M.torch_release(V(torch))
            assert release is not None
            for variant in release.all_variants():
                if (
                    "cuda" in filters
                    and variant != f"cu{filters['cuda'].major}{filters['cuda'].minor}"
                ):
                    continue
                for python in pythons(M):
                    machine = Machine("linux", python, DRIVER)
                    wishes = _wishes(torch, variant, mmdet, line)
                    if resolve(machine, wishes, M, suggest=False).chosen is not None:
                        assert (mmdet, torch, variant, str(python)) in shown, (
                            mmdet,
                            torch,
                            variant,
                            python,
                        )


def test_onedl_torch_2_9_shows_the_source_builds_install_plans() -> None:
    """The issue's case: install plans onedl + torch 2.9.1 cu128 on Python 3.11 (a source
    build); the table showed only Python 3.12 with cu129/cpu."""
    rows = compat_rows(M, line="onedl", torch=V("2.9"))
    built = [r for r in rows if r.how == "source build" and "cu128" in r.variants]
    assert built and "3.11" in built[0].pythons, rows
    prebuilt = [r for r in rows if r.how == "prebuilt"]
    assert any("cu129" in r.variants and r.pythons == ("3.12",) for r in prebuilt), rows


def test_python_ranges_are_runs_of_minors() -> None:
    assert python_ranges([V("3.10"), V("3.11"), V("3.13"), V("3.14")]) == "3.10-3.11 3.13-3.14"
    assert python_ranges([V("3.12")]) == "3.12"


# ------------------------------------------------------------------- a real 80-column terminal

_ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def screen(*args: str, columns: int = 80) -> str:
    """`mmdoctor ARGS` on a pseudo-terminal `columns` wide: what it shows, colours stripped."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(NO_COLOR="1", TERM="xterm", PYTHONPATH=str(REPO / "src"))
    proc = subprocess.Popen([sys.executable, "-m", "mmdoctor", *args], stdin=follower,
                            stdout=follower, stderr=follower, env=env)  # fmt: skip
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(timeout=120) == 0, out.decode(errors="replace")
    os.close(leader)
    return _ANSI.sub("", out.decode()).replace("\r\n", "\n")


def cells(text: str) -> list[list[str]]:
    """The table's body rows as cells: a row starts on the line with its torch (a short value
    that never wraps) and goes on over the lines with an empty torch cell; a cell's wrapped
    parts are joined with a space."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        if "│" not in line:
            continue
        parts = [p.strip() for p in line.split("│")]
        if parts[2] or not rows:
            rows.append(parts)
        else:
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], parts, strict=True)]
    return rows


@pytest.mark.parametrize(
    "args", [("--line", "onedl", "--torch", "2.9"), ("--mmdet", "3"), ()], ids=str
)
def test_the_table_fits_80_columns_and_cuts_no_value(args: tuple[str, ...]) -> None:
    text = screen("matrix", *args)
    lines = text.splitlines()
    assert lines and all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "…" not in text
    expected = compat_rows(
        M,
        line=args[1] if args[:1] == ("--line",) else None,
        torch=V(args[3]) if len(args) > 3 else None,
        mmdet=args[1] if args[:1] == ("--mmdet",) else None,
    )
    shown = cells(text)
    assert len(shown) == len(expected), (len(shown), len(expected))
    for row, want in zip(shown, expected, strict=True):
        how = want.how if want.verified else f"{want.how} (unverified)"
        assert row == [want.mmdet, want.mmcv, want.torch, " ".join(want.variants), want.python, how]
