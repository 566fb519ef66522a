"""Drift between compat_matrix.yaml and what PyPI publishes: pure functions, no network.

In: the PEP 691 JSON simple-API responses (`GET /simple/<project>/`, as dicts) and the matrix
as PyYAML reads it (a plain dict). Out: a list of `Finding`s, each naming the project, its kind,
what the matrix says and what PyPI says. `scripts/matrix_drift.py` fetches (or reads saved
responses), calls `find_drift` and prints the report.

A release counts when it is a final version (no pre- or dev-release; post-releases count) with
at least one file that is not yanked. Kinds:

- missing_release: PyPI has a release (or a torch / torchvision minor) no row knows. Only ones
  newer than the oldest row (or version) of the table are reported, so history is not noise.
- newer_patch: a row's `latest` (or `torchvision_latest`, `mmengine.latest`) has a newer patch.
- not_on_pypi: the matrix names a release PyPI does not have (or has only yanked).
- python_contradiction: for one platform, the row's Pythons (`python`; `python_on` for an OS
  or OS-arch; `torchvision_python` for torchvision) allow a Python that no wheel of the minor's
  newest patch has on it (cpXY tags; abi3 and py3-none wheels cover what they cover).
- python_missing: wheels exist on a platform for a Python that the row's Pythons exclude.
  The platforms checked are those the matrix declares for the release (see `platform`) that
  have wheels; Linux x86_64 alone when it declares none.
- platform: the platform families the newest patch has wheels for, against the row's
  `platforms:`, else the `platforms` table's rows whose `torch` range holds the release, else
  `torch_releases.platforms`; with none of these the families are listed.
- not_modelled: no table covers the project: its newest release, requires-python, wheel tags.

Each modelled project has a small check function in CHECKS; a new table (an `onedl` one, say)
is one more function and one more `Check(...)` line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

Matrix = Mapping[str, Any]
Response = Mapping[str, Any]

KINDS = (
    "missing_release",
    "newer_patch",
    "not_on_pypi",
    "python_contradiction",
    "python_missing",
    "platform",
    "not_modelled",
)
# What the drift check asks PyPI about, in report order.
PROJECTS = (
    "torch",
    "torchvision",
    "mmcv",
    "mmcv-full",
    "mmdet",
    "mmengine",
    "openmim",
    "onedl-mmcv",
    "onedl-mmengine",
    "onedl-mmdetection",
    "onedl-mim",
)
# The platform the matrix models today (the Python check reads these wheels first).
MODELLED_PLATFORM = "linux x86_64"
_OPEN_ENDED_MINOR = 39  # a specifier that allows 3.39 has no upper bound worth listing


@dataclass(frozen=True)
class Finding:
    project: str
    kind: str
    matrix: str
    pypi: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class IndexFile:
    filename: str
    requires_python: str | None
    yanked: bool


@dataclass(frozen=True)
class ProjectIndex:
    """One project's page: its versions with at least one installable file, and the yanked."""

    name: str
    releases: Mapping[Version, tuple[IndexFile, ...]]  # files not yanked; pre-releases too
    yanked: frozenset[Version]  # every file yanked

    def finals(self) -> list[Version]:
        """Final releases (post-releases included), oldest first."""
        return sorted(v for v in self.releases if not (v.is_prerelease or v.is_devrelease))

    def newest_in(self, minor: tuple[int, int]) -> Version | None:
        found = [v for v in self.finals() if _minor(v) == minor]
        return found[-1] if found else None


# -- the responses ------------------------------------------------------------------------


def _is_yanked(entry: Mapping[str, Any]) -> bool:
    """PEP 691: `yanked` is a boolean, or the reason as a string (yanked)."""
    value = entry.get("yanked", False)
    return value is True or isinstance(value, str)


def file_version(filename: str) -> Version | None:
    """The version a wheel or sdist filename carries; None for other or odd names."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None


def parse_project(data: Response) -> ProjectIndex:
    """A PEP 691 project response (or its trimmed copy) -> ProjectIndex."""
    live: dict[Version, list[IndexFile]] = {}
    dead: set[Version] = set()
    for entry in data.get("files") or []:
        version = (
            file_version(str(entry.get("filename", ""))) if isinstance(entry, Mapping) else None
        )
        if version is None:
            continue
        requires = entry.get("requires-python")
        item = IndexFile(str(entry["filename"]), str(requires) if requires else None, False)
        if _is_yanked(entry):
            dead.add(version)
        else:
            live.setdefault(version, []).append(item)
    return ProjectIndex(
        name=str(data.get("name", "")),
        releases={v: tuple(files) for v, files in live.items()},
        yanked=frozenset(dead - set(live)),
    )


def trim_response(data: Response) -> dict[str, Any]:
    """The fields the drift check reads: name, versions, and per file filename,
    requires-python, yanked (what `--save` writes)."""
    return {
        "name": data.get("name"),
        "versions": list(data.get("versions") or []),
        "files": [
            {
                "filename": entry.get("filename"),
                "requires-python": entry.get("requires-python"),
                "yanked": entry.get("yanked", False),
            }
            for entry in data.get("files") or []
            if isinstance(entry, Mapping)
        ],
    }


# -- versions, Pythons and platforms --------------------------------------------------------


def _minor(version: Version) -> tuple[int, int]:
    release = (*version.release, 0)
    return release[0], release[1]


def _version(value: object) -> Version | None:
    try:
        return Version(str(value))
    except InvalidVersion:
        return None


def _show_minor(minor: tuple[int, int]) -> str:
    return f"{minor[0]}.{minor[1]}"


def wheel_tags(filename: str) -> frozenset[Tag]:
    """The tags of a wheel filename; empty for an sdist or an odd name."""
    if not filename.endswith(".whl"):
        return frozenset()
    try:
        return parse_wheel_filename(filename)[3]
    except (InvalidWheelFilename, InvalidVersion):
        return frozenset()


def _cpython(interpreter: str) -> tuple[int, int] | None:
    """'cp310' -> (3, 10); 'cp27' -> (2, 7); anything else -> None."""
    match = re.fullmatch(r"cp(\d)(\d+)", interpreter)
    return (int(match[1]), int(match[2])) if match else None


_LINUX = re.compile(r"(?:manylinux(?:1|2010|2014|_\d+_\d+)|musllinux_\d+_\d+|linux)_(.+)")
_MACOS = re.compile(r"macosx_\d+_\d+_(.+)")
_WINDOWS = {"win_amd64": "windows amd64", "win32": "windows x86", "win_arm64": "windows arm64"}


def platform_families(platform: str) -> tuple[str, ...]:
    """A wheel's platform tag -> the families it serves ('manylinux_2_28_x86_64' ->
    ('linux x86_64',); 'macosx_11_0_universal2' -> both macOS ones)."""
    if platform in _WINDOWS:
        return (_WINDOWS[platform],)
    linux = _LINUX.fullmatch(platform)
    if linux:
        prefix = "linux (musl)" if platform.startswith("musllinux") else "linux"
        return (f"{prefix} {linux[1]}",)
    mac = _MACOS.fullmatch(platform)
    if mac:
        arch = {"intel": "x86_64", "universal": "x86_64"}.get(mac[1], mac[1])
        return ("macos arm64", "macos x86_64") if arch == "universal2" else (f"macos {arch}",)
    return (platform,)


# "darwin" holds "win": the macOS words come first.
_OS_WORDS: tuple[tuple[str, str], ...] = (("linux", "linux"), ("darwin", "macos"))
_OS_WORDS += (("mac", "macos"), ("osx", "macos"), ("win", "windows"))
_ARCH_WORDS = {
    "linux": {"x86_64": "x86_64", "amd64": "x86_64", "x64": "x86_64", "aarch64": "aarch64",
              "arm64": "aarch64"},
    "windows": {"x86_64": "amd64", "amd64": "amd64", "x64": "amd64", "arm64": "arm64",
                "aarch64": "arm64"},
    "macos": {"x86_64": "x86_64", "amd64": "x86_64", "intel": "x86_64", "arm64": "arm64",
              "aarch64": "arm64"},
}  # fmt: skip


def canonical_platform(name: str) -> str:
    """A platform as a matrix may spell it ('linux_x86_64', 'win-amd64', 'macOS arm64',
    'manylinux_2_28_aarch64') -> the family names platform_families() uses."""
    text = name.strip().lower().replace("x86-64", "x86_64")
    os_name = next((os_ for word, os_ in _OS_WORDS if word in text), None)
    if os_name is None:
        return text
    words = re.findall(r"x86_64|amd64|x64|aarch64|arm64|intel", text)
    arch = _ARCH_WORDS[os_name].get(words[0]) if words else None
    return f"{os_name} {arch}" if arch else text


def wheel_platforms(files: Iterable[IndexFile]) -> set[str]:
    return {
        f
        for item in files
        for tag in wheel_tags(item.filename)
        for f in platform_families(tag.platform)
    }


@dataclass(frozen=True)
class PythonTags:
    """The CPythons one platform's wheels are for: exact cpXY tags, the lowest abi3 floor, and
    for Python-agnostic wheels (py3-none-<platform>) the requires-python they carry ("" for
    none: any Python 3)."""

    exact: frozenset[tuple[int, int]]
    abi3: tuple[int, int] | None = None
    generic: str | None = None

    def __bool__(self) -> bool:
        return bool(self.exact) or self.abi3 is not None or self.generic is not None

    def covers(self, python: tuple[int, int]) -> bool:
        if python in self.exact or (self.abi3 is not None and python >= self.abi3):
            return True
        if self.generic is None or python[0] != 3:
            return False
        spec = _specifier(self.generic)
        return spec is None or spec.contains(_show_minor(python))

    def describe(self) -> str:
        parts = [_show_pythons(self.exact)] if self.exact else []
        parts += [f"abi3 from {_show_minor(self.abi3)}"] if self.abi3 else []
        if self.generic is not None:
            parts.append(f"py3 (requires-python {self.generic or 'any'})")
        return ", ".join(parts)


def _generic(tag: Tag) -> bool:
    return tag.interpreter == "py3" and tag.abi == "none"


def python_tags(files: Iterable[IndexFile], family: str) -> PythonTags:
    """The CPython tags of the wheels for one platform family ('linux x86_64')."""
    exact: set[tuple[int, int]] = set()
    floors: set[tuple[int, int]] = set()
    generic: str | None = None
    for item in files:
        for tag in wheel_tags(item.filename):
            if family not in platform_families(tag.platform):
                continue
            python = _cpython(tag.interpreter)
            if python is not None:
                (floors if tag.abi == "abi3" else exact).add(python)
            elif _generic(tag):
                generic = item.requires_python or ""
    return PythonTags(frozenset(exact), min(floors) if floors else None, generic)


def _allowed_pythons(spec: SpecifierSet, tags: PythonTags) -> set[tuple[int, int]]:
    candidates = {(3, m) for m in range(_OPEN_ENDED_MINOR + 1)} | tags.exact
    allowed = {p for p in candidates if spec.contains(_show_minor(p))}
    known = [*tags.exact, *([tags.abi3] if tags.abi3 else [])]
    if (3, _OPEN_ENDED_MINOR) in allowed and known:  # no upper bound: up to the newest wheel
        allowed = {p for p in allowed if p <= max(known)}
    return allowed


def python_gaps(
    spec: SpecifierSet, tags: PythonTags
) -> tuple[frozenset[tuple[int, int]], frozenset[tuple[int, int]]]:
    """(Pythons the specifier allows that no wheel has, Pythons with cpXY wheels it excludes)."""
    allowed = _allowed_pythons(spec, tags)
    lacking = frozenset(p for p in allowed if not tags.covers(p))
    return lacking, frozenset(tags.exact - allowed)


def _show_pythons(pythons: Iterable[tuple[int, int]]) -> str:
    return ", ".join(_show_minor(p) for p in sorted(pythons))


# -- the matrix ---------------------------------------------------------------------------


def table_rows(matrix: Matrix, table: str) -> list[Mapping[str, Any]]:
    """A table's rows, tolerant of a missing table, missing rows and odd entries."""
    section = matrix.get(table)
    rows = section.get("rows") if isinstance(section, Mapping) else None
    return [row for row in rows if isinstance(row, Mapping)] if isinstance(rows, list) else []


def _specifier(value: object) -> SpecifierSet | None:
    try:
        return SpecifierSet(str(value)) if value else None
    except InvalidSpecifier:
        return None


def matrix_platforms(value: object) -> set[str] | None:
    """A row's `platforms:` as families: a list of names, a mapping keyed by name, or a list
    of mappings with os/arch (or platform/name) keys. None when absent or unreadable."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, Mapping):
        value = list(value)
    if not isinstance(value, list) or not value:
        return None
    out: set[str] = set()
    for item in value:
        if isinstance(item, Mapping):
            words = [str(item[k]) for k in ("platform", "name", "os", "arch") if k in item]
            item = " ".join(words)
        out.add(canonical_platform(str(item)))
    return out


# -- the comparisons ----------------------------------------------------------------------


def _absent(project: str, index: ProjectIndex, said: str, version: Version) -> Finding | None:
    """not_on_pypi when the matrix names `version` and PyPI has no installable file of it."""
    if version in index.releases:
        return None
    state = "only yanked files" if version in index.yanked else "no such release"
    return Finding(project, "not_on_pypi", said, f"{version}: {state}")


def _later_versions(
    project: str, index: ProjectIndex, known: set[Version], table: str
) -> list[Finding]:
    """missing_release for each final release newer than the oldest known one that the
    table lacks, and not_on_pypi for each known one PyPI lacks."""
    if not known:
        return []
    findings = [
        Finding(project, "missing_release", f"{table}: no {v} (oldest known {min(known)})", str(v))
        for v in index.finals()
        if v > min(known) and v not in known
    ]
    for version in sorted(known):
        absent = _absent(project, index, f"{table}: {version}", version)
        findings += [absent] if absent else []
    return findings


def _missing_minors(
    project: str, index: ProjectIndex, minors: set[tuple[int, int]], table: str, key: str
) -> list[Finding]:
    """missing_release for each minor PyPI has, newer than the oldest row, that no row has."""
    if not minors:
        return []
    span = f"{_show_minor(min(minors))}-{_show_minor(max(minors))}"
    return [
        Finding(
            project,
            "missing_release",
            f"{table}: no {key} {_show_minor(m)} row (rows: {span})",
            f"{index.newest_in(m)} (newest {_show_minor(m)} patch)",
        )
        for m in sorted({_minor(v) for v in index.finals()} - minors)
        if m > min(minors)
    ]


def _patch_findings(
    project: str, index: ProjectIndex, row_minor: tuple[int, int], latest: Version | None, said: str
) -> list[Finding]:
    newest = index.newest_in(row_minor)
    if newest is None:
        state = "only yanked" if any(_minor(v) == row_minor for v in index.yanked) else "none"
        return [
            Finding(project, "not_on_pypi", said, f"{_show_minor(row_minor)} releases: {state}")
        ]
    if latest is None:
        return []
    absent = _absent(project, index, said, latest)
    findings = [absent] if absent else []
    if newest > latest:
        findings.append(Finding(project, "newer_patch", said, f"{newest}"))
    return findings


def python_findings(
    project: str,
    said: str,
    release: Version,
    files: Sequence[IndexFile],
    specs: Mapping[str, tuple[str, object]],
) -> list[Finding]:
    """Per platform family, the row's Pythons (specs: family -> (the key that says it, its
    specifier)) against the CPython tags of that family's wheels of one release: allowed
    without a wheel (python_contradiction), wheels it excludes (python_missing). Families
    with the same rule and the same wheels share one finding."""
    groups: dict[tuple[str, str, frozenset[tuple[int, int]], frozenset[tuple[int, int]]], list[str]]
    groups = {}
    for family, (key, text) in sorted(specs.items()):
        spec, tags = _specifier(text), python_tags(files, family)
        if spec is None or not tags:
            continue
        lacking, extra = python_gaps(spec, tags)
        if lacking or extra:
            groups.setdefault((f"{key} {text}", tags.describe(), lacking, extra), []).append(family)
    findings = []
    for (rule, wheels, lacking, extra), families in groups.items():
        where = ", ".join(families)
        rule_said, has = f"{said}: {rule} ({where})", f"{release} wheels ({where}): {wheels}"
        if lacking:
            text = _show_pythons(lacking)
            findings.append(
                Finding(
                    project,
                    "python_contradiction",
                    f"{rule_said} allows {text}",
                    f"{has}; none for {text}",
                )
            )
        if extra:
            text = _show_pythons(extra)
            findings.append(Finding(project, "python_missing", f"{rule_said} excludes {text}", has))
    return findings


def platform_findings(
    project: str,
    said: str,
    release: Version,
    files: Sequence[IndexFile],
    declared: tuple[set[str], str] | None,
) -> list[Finding]:
    """The families one release has wheels for, against what the matrix declares (the
    families, and where it says so); without a declaration they are listed, as the matrix
    does not model platforms yet."""
    has = wheel_platforms(files)
    if not has:
        return []
    listed = f"{release} has wheels for {', '.join(sorted(has))}"
    if declared is None:
        said = f"{said}: no platforms (models {MODELLED_PLATFORM} only)"
        return [Finding(project, "platform", said, listed)]
    wanted, where = declared
    if wanted == has:
        return []
    parts = [f"not in the matrix: {', '.join(sorted(has - wanted))}"] if has - wanted else []
    parts += [f"no wheels for: {', '.join(sorted(wanted - has))}"] if wanted - has else []
    said = f"{said}: {where}: {', '.join(sorted(wanted)) or 'none'}"
    return [Finding(project, "platform", said, f"{listed}; {'; '.join(parts)}")]


def _os_of(name: str) -> str | None:
    lowered = name.lower()
    return next((os_ for word, os_ in _OS_WORDS if word in lowered), None)


def _on_platform(on: object, family: str) -> str | None:
    """The key of a per-platform mapping (python_on, torchvision_python_on) that holds for one
    family: its OS-arch key ('linux-aarch64'), else its OS key ('windows'); None if neither."""
    if not isinstance(on, Mapping):
        return None
    exact = [str(k) for k in on if canonical_platform(str(k)) == family]
    by_os = [
        str(k)
        for k in on
        if " " not in canonical_platform(str(k)) and _os_of(str(k)) == _os_of(family)
    ]
    return next(iter(exact + by_os), None)


def python_spec(row: Mapping[str, Any], family: str, series: str) -> tuple[str, object]:
    """Which key of a torch_releases row gives the Pythons of one family's wheels, and its
    value. For torchvision: torchvision_python_on (OS-arch, then OS), else torchvision_python;
    then, as for torch, python_on (OS-arch, then OS), else python."""
    if series == "torchvision":
        key = _on_platform(row.get("torchvision_python_on"), family)
        if key is not None:
            return f"torchvision_python_on {key}", row["torchvision_python_on"][key]
        if row.get("torchvision_python"):
            return "torchvision_python", row["torchvision_python"]
    key = _on_platform(row.get("python_on"), family)
    if key is not None:
        return f"python_on {key}", row["python_on"][key]
    return "python", row.get("python")


def _torch_in(text: object, torch: Version) -> bool:
    if text is None or text == "":
        return True
    spec = _specifier(text)
    return spec is not None and spec.contains(torch, prereleases=True)


def declared_platforms(
    matrix: Matrix, row: Mapping[str, Any], torch: Version
) -> tuple[set[str], str] | None:
    """The families the matrix says a torch release has wheels for, and where it says so:
    the row's `platforms:`, else the `platforms` table's rows whose `torch` range holds it
    (os + arch), else a `platforms:` of torch_releases itself; None when nothing says."""
    own = matrix_platforms(row.get("platforms"))
    if own is not None:
        return own, "platforms"
    rows = table_rows(matrix, "platforms")
    if rows:
        found = {
            canonical_platform(f"{r.get('os')} {r.get('arch')}")
            for r in rows
            if _torch_in(r.get("torch"), torch)
        }
        return found, "platforms table"
    default = matrix_platforms(_section(matrix, "torch_releases").get("platforms"))
    return (default, "torch_releases platforms") if default is not None else None


# -- one function per modelled project ----------------------------------------------------


def _section(matrix: Matrix, table: str) -> Mapping[str, Any]:
    section = matrix.get(table)
    return section if isinstance(section, Mapping) else {}


def _versions(value: object) -> set[Version]:
    items = value if isinstance(value, list) else [value]
    return {v for v in (_version(item) for item in items if item is not None) if v is not None}


def _row_label(row: Mapping[str, Any], minor_key: str, minor: tuple[int, int]) -> str:
    label = f"row {row.get('torch')}"
    return label if minor_key == "torch" else f"{label} ({minor_key} {_show_minor(minor)})"


def _series_row(
    project: str, index: ProjectIndex, matrix: Matrix, row: Mapping[str, Any], series: str
) -> list[Finding]:
    """One torch_releases row for one series (torch: torch, latest; torchvision: torchvision,
    torchvision_latest): its patch, its Pythons per platform, and (torch) its platforms."""
    latest_key = "latest" if series == "torch" else f"{series}_latest"
    version, torch = _version(row.get(series)), _version(row.get("torch"))
    if version is None or torch is None:
        return []
    minor = _minor(version)
    said = _row_label(row, series, minor)
    latest = _version(row.get(latest_key)) if row.get(latest_key) else None
    findings = _patch_findings(project, index, minor, latest, f"{said}: {latest_key} {latest}")
    newest = index.newest_in(minor)
    if newest is None:
        return findings
    files = index.releases[newest]
    declared = declared_platforms(matrix, row, torch)
    families = (declared[0] if declared else {MODELLED_PLATFORM}) & wheel_platforms(files)
    specs = {family: python_spec(row, family, series) for family in families}
    findings += python_findings(project, said, newest, files, specs)
    if series == "torch":
        findings += platform_findings(project, said, newest, files, declared)
    return findings


def _check_series(project: str, index: ProjectIndex, matrix: Matrix, series: str) -> list[Finding]:
    rows = table_rows(matrix, "torch_releases")
    minors = {_minor(v) for v in (_version(row.get(series)) for row in rows) if v is not None}
    findings = _missing_minors(project, index, minors, "torch_releases", series)
    for row in rows:
        findings += _series_row(project, index, matrix, row, series)
    return findings


def check_torch(project: str, index: ProjectIndex, matrix: Matrix) -> list[Finding]:
    return _check_series(project, index, matrix, "torch")


def check_torchvision(project: str, index: ProjectIndex, matrix: Matrix) -> list[Finding]:
    return _check_series(project, index, matrix, "torchvision")


def check_mmcv_wheels(project: str, index: ProjectIndex, matrix: Matrix) -> list[Finding]:
    """mmcv, mmcv-full (or any package a mmcv_wheels row names): PyPI releases no row has."""
    rows = [r for r in table_rows(matrix, "mmcv_wheels") if r.get("package") == project]
    known = {v for row in rows for v in _versions(row.get("versions"))}
    return _later_versions(project, index, known, "mmcv_wheels")


def _line_of(project: str, matrix: Matrix, name_key: str) -> Mapping[str, Any] | None:
    """The stack_lines row whose `name_key` (mmdet, mmengine, mim) is this project."""
    rows = table_rows(matrix, "stack_lines")
    return next((row for row in rows if row.get(name_key) == project), None)


def _names(name_key: str) -> Callable[[str, Matrix], bool]:
    return lambda project, matrix: _line_of(project, matrix, name_key) is not None


def check_mmdet(project: str, index: ProjectIndex, matrix: Matrix) -> list[Finding]:
    """mmdet or onedl-mmdetection: the mmdet_releases rows of its line."""
    line = _line_of(project, matrix, "mmdet") or {}
    rows = [
        row
        for row in table_rows(matrix, "mmdet_releases")
        if row.get("stack_line", "openmmlab") == line.get("line")
    ]
    known = {v for row in rows for v in _versions(row.get("mmdet"))}
    return _later_versions(project, index, known, "mmdet_releases")


def _check_line_latest(
    project: str, index: ProjectIndex, matrix: Matrix, name_key: str
) -> list[Finding]:
    """mmengine or mim of a line: its `*_latest` is on PyPI and nothing newer is."""
    line = _line_of(project, matrix, name_key) or {}
    latest = _version(line.get(f"{name_key}_latest"))
    if latest is None:
        return []
    said = f"stack_lines {line.get('line')}: {name_key}_latest {latest}"
    absent = _absent(project, index, said, latest)
    findings = [absent] if absent else []
    for version in index.finals():
        if version > latest:
            kind = "newer_patch" if _minor(version) == _minor(latest) else "missing_release"
            findings.append(Finding(project, kind, said, str(version)))
    return findings


def _torch_rows_have(key: str) -> Callable[[str, Matrix], bool]:
    return lambda project, matrix: (
        project == key and any(key in row for row in table_rows(matrix, "torch_releases"))
    )


@dataclass(frozen=True)
class Check:
    """models(project, matrix): whether this check covers the project in this matrix."""

    models: Callable[[str, Matrix], bool]
    run: Callable[[str, ProjectIndex, Matrix], list[Finding]]


CHECKS: tuple[Check, ...] = (
    Check(_torch_rows_have("torch"), check_torch),
    Check(_torch_rows_have("torchvision"), check_torchvision),
    Check(
        lambda p, m: any(r.get("package") == p for r in table_rows(m, "mmcv_wheels")),
        check_mmcv_wheels,
    ),
    Check(_names("mmdet"), check_mmdet),
    Check(_names("mmengine"), lambda p, i, m: _check_line_latest(p, i, m, "mmengine")),
    Check(_names("mim"), lambda p, i, m: _check_line_latest(p, i, m, "mim")),
)


def not_modelled(project: str, index: ProjectIndex, matrix: Matrix) -> Finding:
    """A project no check covers: its newest release, requires-python and wheel tags."""
    stem = project.split("-")[0].lower()
    named = sorted(str(k) for k in matrix if str(k).lower().startswith(stem))
    said = "no table this check reads"
    said += f" (tables named like it: {', '.join(named)})" if named else ""
    finals = index.finals()
    newest = finals[-1] if finals else max(index.releases, default=None)
    if newest is None:
        return Finding(project, "not_modelled", said, "no installable release")
    files = index.releases[newest]
    requires = sorted({f.requires_python or "none" for f in files})
    wheels = sorted(
        {
            "-".join(f.filename[: -len(".whl")].split("-")[-3:])
            for f in files
            if f.filename.endswith(".whl")
        }
    )
    pypi = f"newest {newest}: requires-python {', '.join(requires)}; "
    pypi += f"wheels {', '.join(wheels)}" if wheels else "sdist only"
    return Finding(project, "not_modelled", said, pypi)


def _ordered(projects: Iterable[str]) -> list[str]:
    names = set(projects)
    return [p for p in PROJECTS if p in names] + sorted(names - set(PROJECTS))


def find_drift(responses: Mapping[str, Response], matrix: Matrix) -> list[Finding]:
    """Every finding for the projects in `responses` (project name -> PEP 691 response)."""
    findings: list[Finding] = []
    for project in _ordered(responses):
        index = parse_project(responses[project])
        checks = [check for check in CHECKS if check.models(project, matrix)]
        if not checks:
            findings.append(not_modelled(project, index, matrix))
        for check in checks:
            findings += check.run(project, index, matrix)
    return findings


# -- the allowlist: findings left in on purpose --------------------------------------------

ALLOWLIST = "scripts/matrix_drift_allowlist.yaml"
_ALLOWANCE_KEYS = ("project", "kind", "matrix", "pypi", "why")


@dataclass(frozen=True)
class Allowance:
    """A finding the matrix keeps on purpose: the finding exactly, and why."""

    project: str
    kind: str
    matrix: str
    pypi: str
    why: str

    def allows(self, finding: Finding) -> bool:
        return (self.project, self.kind, self.matrix, self.pypi) == (
            finding.project,
            finding.kind,
            finding.matrix,
            finding.pypi,
        )


def read_allowances(data: object) -> list[Allowance]:
    """The `allowed:` entries of an allowlist file as YAML reads it; ValueError naming the first
    entry that is not one (every key a non-empty string, a known kind)."""
    entries = data.get("allowed") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        raise ValueError("expected a mapping with an 'allowed' list")
    found = []
    for number, entry in enumerate(entries, start=1):
        values = [entry.get(k) if isinstance(entry, Mapping) else None for k in _ALLOWANCE_KEYS]
        if not all(isinstance(v, str) and v.strip() for v in values):
            raise ValueError(f"entry {number}: needs {', '.join(_ALLOWANCE_KEYS)}, each a text")
        allowance = Allowance(*(str(v) for v in values))
        if allowance.kind not in KINDS:
            raise ValueError(f"entry {number}: kind {allowance.kind!r} is not one of {KINDS}")
        found.append(allowance)
    return found


@dataclass(frozen=True)
class Checked:
    findings: list[Finding]  # not allowed
    allowed: list[tuple[Finding, Allowance]]
    stale: list[Allowance]  # for a project checked, matching no finding


def apply_allowances(
    findings: Sequence[Finding], allowances: Sequence[Allowance], projects: Iterable[str]
) -> Checked:
    """Split the findings into those an allowance names and the rest; an allowance for one of
    the projects checked that names no finding is stale (the matrix or PyPI moved on)."""
    left: list[Finding] = []
    allowed: list[tuple[Finding, Allowance]] = []
    for finding in findings:
        allowance = next((a for a in allowances if a.allows(finding)), None)
        if allowance is None:
            left.append(finding)
        else:
            allowed.append((finding, allowance))
    used = {id(a) for _f, a in allowed}
    checked = set(projects)
    stale = [a for a in allowances if a.project in checked and id(a) not in used]
    return Checked(left, allowed, stale)


def report_lines(
    findings: Sequence[Finding],
    source: str,
    allowed: Sequence[tuple[Finding, Allowance]] = (),
    stale: Sequence[Allowance] = (),
) -> list[str]:
    """The readable report: one line per finding, grouped by project; then the allowed ones,
    each with why, and the allowances that no longer match anything."""
    lines = _finding_lines(findings, source)
    if allowed:
        lines += ["", f"allowed ({len(allowed)}), {ALLOWLIST}:"]
        for finding, allowance in allowed:
            lines.append(f"  {finding.project} {finding.kind}  matrix: {finding.matrix}")
            lines.append(f"    why: {allowance.why}")
    if stale:
        lines += ["", f"no longer found ({len(stale)}): remove or update these allowances:"]
        lines += [f"  {a.project} {a.kind}  matrix: {a.matrix}  |  PyPI: {a.pypi}" for a in stale]
    return lines


def _finding_lines(findings: Sequence[Finding], source: str) -> list[str]:
    if not findings:
        return [f"No drift: compat_matrix.yaml agrees with {source}."]
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.project, []).append(finding)
    width = max(len(f.kind) for f in findings)
    lines = [f"{len(findings)} findings, compat_matrix.yaml against {source}:"]
    for project, group in groups.items():
        lines += ["", f"{project} ({len(group)})"]
        lines += [f"  {f.kind:<{width}}  matrix: {f.matrix}  |  PyPI: {f.pypi}" for f in group]
    return lines
