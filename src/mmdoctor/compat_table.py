"""`mmdoctor matrix`: what works with what, as rows derived from compat_matrix.yaml."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from mmdoctor.matrix import Matrix, MmdetRelease, TorchRelease
from mmdoctor.resolver import newest_compiling_mmcv, spec_text, wheels_for


@dataclass(frozen=True)
class CompatRow:
    mmdet: str  # "3.2.0-3.3.0"
    mmcv: str  # "mmcv 2.1.0"
    torch: str  # "2.1"
    variants: tuple[str, ...]  # torch variants this row covers
    python: str  # ">=3.8,<3.12"
    how: str  # "prebuilt" or "source build"
    verified: bool = True


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
    rows: list[CompatRow] = []
    for group in _groups(releases):
        head = group[-1]
        for release in sorted(torches, key=lambda t: t.version, reverse=True):
            rows.extend(_rows_for(matrix, group, head, release, wanted_variant))
    return rows


def _rows_for(
    matrix: Matrix,
    group: list[MmdetRelease],
    head: MmdetRelease,
    release: TorchRelease,
    wanted_variant: str | None,
) -> list[CompatRow]:
    variants = [v for v in release.all_variants() if wanted_variant is None or v == wanted_variant]
    if not variants:
        return []
    by_version: dict[tuple[str, Version], tuple[list[str], SpecifierSet, bool]] = {}
    for variant in variants:
        found = list(wheels_for(matrix, head.mmcv_package, head.mmcv, variant, release.torch))
        if found:
            wheel_set, version = max(found, key=lambda pair: pair[1])
            entry = by_version.setdefault(
                (head.mmcv_package, version),
                ([], wheel_set.python & release.python, wheel_set.verified),
            )
            entry[0].append(variant)
    if by_version:
        return [
            CompatRow(
                mmdet=_label(group),
                mmcv=f"{package} {version}",
                torch=release.torch,
                variants=tuple(found),
                python=spec_text(python),
                how="prebuilt",
                verified=verified and release.verified,
            )
            for (package, version), (found, python, verified) in sorted(
                by_version.items(), reverse=True
            )
        ]
    builds = matrix.source_builds
    compiling, _ = newest_compiling_mmcv(matrix, head.mmcv_package, head.mmcv, release)
    rule = builds.rule(head.mmcv_package, compiling) if builds and compiling else None
    if rule is None or compiling is None:
        return []
    return [
        CompatRow(
            mmdet=_label(group),
            mmcv=f"{head.mmcv_package} {compiling}",
            torch=release.torch,
            variants=tuple(variants),
            python=spec_text(release.python & rule.python),
            how="source build",
            verified=release.verified,
        )
    ]
