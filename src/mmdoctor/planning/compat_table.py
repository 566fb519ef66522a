"""`mmdoctor matrix`: what `install` can plan, as rows derived from compat_matrix.yaml.

For each group of mmdet releases with the same mmcv and mmengine bounds, each torch release and
CUDA variant, and each Python, the row is the mmcv the resolver itself would choose there
(`resolver.plannable`): a prebuilt wheel or a source build, or none. Linux x86_64, with the
machine's driver and GPUs left out: `install --dry-run` adds those.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from packaging.version import Version

from mmdoctor.planning.machine import Machine
from mmdoctor.planning.matrix import Matrix, MmdetRelease, TorchRelease
from mmdoctor.planning.resolver import plannable, pythons

PLATFORM = ("linux", "x86_64")


@dataclass(frozen=True)
class CompatRow:
    mmdet: str  # "3.2.0-3.3.0"
    mmcv: str  # "mmcv 2.1.0"
    torch: str  # "2.1"
    variants: tuple[str, ...]  # torch variants this row covers
    python: str  # "3.8-3.11", "3.10-3.11 3.13-3.14"
    how: str  # "prebuilt" or "source build"
    verified: bool = True
    pythons: tuple[str, ...] = ()  # every Python minor the row covers


@dataclass(frozen=True)
class MatrixRows:
    """`mmdoctor matrix`: the rows for its filters, and the matrix file they come from."""

    path: str
    rows: tuple[CompatRow, ...]

    def to_dict(self, verbose: bool = False) -> dict[str, Any]:
        return {"matrix": self.path, "rows": [asdict(row) for row in self.rows]}


def _groups(releases: list[MmdetRelease]) -> list[list[MmdetRelease]]:
    """mmdet releases with the same mmcv and mmengine ranges, newest first."""
    groups: dict[tuple[str, str, str], list[MmdetRelease]] = {}
    for release in releases:
        key = (release.mmcv_package, str(release.mmcv), str(release.mmengine))
        groups.setdefault(key, []).append(release)
    ordered = sorted(groups.values(), key=lambda g: max(r.version for r in g), reverse=True)
    return [sorted(g, key=lambda r: r.version) for g in ordered]


def _label(group: list[MmdetRelease]) -> str:
    low, high = group[0].version, group[-1].version
    span = str(low) if low == high else f"{low}-{high}"
    name = group[0].distribution  # the fork's mmdet is named, upstream's is just the version
    return span if name == "mmdet" else f"{name} {span}"


def python_ranges(found: list[Version]) -> str:
    """'3.10-3.11 3.13-3.14': runs of consecutive minors, a space between runs."""
    runs: list[list[Version]] = []
    for python in sorted(found):
        if runs and python.minor == runs[-1][-1].minor + 1:
            runs[-1].append(python)
        else:
            runs.append([python])
    return " ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def compat_rows(
    matrix: Matrix,
    *,
    cuda: Version | None = None,
    torch: Version | None = None,
    mmdet: str | None = None,
    line: str | None = None,
) -> list[CompatRow]:
    releases = [r for r in matrix.mmdet_releases if line is None or r.stack_line == line]
    if mmdet in ("2", "3"):
        releases = [r for r in releases if r.line == int(mmdet)]
    elif mmdet:
        releases = [r for r in releases if str(r.version) == mmdet]
    torches = [
        t
        for t in matrix.torch_releases
        if torch is None or t.torch == f"{torch.major}.{torch.minor}"
    ]
    wanted_variant = f"cu{cuda.major}{cuda.minor}" if cuda is not None else None
    machines = [Machine(PLATFORM[0], python, arch=PLATFORM[1]) for python in pythons(matrix)]
    rows: list[CompatRow] = []
    for group in _groups(releases):
        for release in sorted(torches, key=lambda t: t.version, reverse=True):
            rows.extend(_rows_for(matrix, group, release, wanted_variant, machines))
    return rows


# (mmcv package, version, prebuilt, verified) -> variant -> the Pythons install plans it for
_Choices = dict[tuple[str, Version, bool, bool], dict[str, list[Version]]]


def _rows_for(
    matrix: Matrix,
    group: list[MmdetRelease],
    release: TorchRelease,
    wanted_variant: str | None,
    machines: list[Machine],
) -> list[CompatRow]:
    head = group[-1]
    variants = [v for v in release.all_variants() if wanted_variant in (None, v)]
    choices: _Choices = {}
    for machine in machines:
        if machine.python not in release.python_for(*PLATFORM) or machine.python not in head.python:
            continue  # no torch wheel or no mmdet release for this Python: nothing to plan
        for variant in variants:
            found = plannable(matrix, release, variant, head, machine)
            if found is None:
                continue
            mmcv = found.mmcv
            key = (mmcv.package, mmcv.version, mmcv.prebuilt, found.is_verified(matrix))
            choices.setdefault(key, {}).setdefault(variant, []).append(machine.python)
    rows = []
    # prebuilt before a source build, the newer mmcv first, then the verified
    for key in sorted(choices, key=lambda k: (k[2], k[1], k[3]), reverse=True):
        package, version, prebuilt, verified = key
        by_pythons: dict[tuple[Version, ...], list[str]] = {}
        for variant, planned in choices[key].items():
            by_pythons.setdefault(tuple(planned), []).append(variant)
        for found_pythons, same in by_pythons.items():
            rows.append(
                CompatRow(
                    mmdet=_label(group),
                    mmcv=f"{package} {version}",
                    torch=release.torch,
                    variants=tuple(same),
                    python=python_ranges(list(found_pythons)),
                    how="prebuilt" if prebuilt else "source build",
                    verified=verified,
                    pythons=tuple(str(p) for p in found_pythons),
                )
            )
    return rows
