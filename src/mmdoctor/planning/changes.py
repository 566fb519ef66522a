"""A plan as changes to the environment it is for: each package of the stack kept, added,
replaced or removed, with the version installed, the version planned and why.

What the environment holds already and still fits is kept, so an install that keeps
everything it can has steps only for the rest. Distributions that cannot live beside the plan
are removed first: another mmcv variant or the other line's packages (the same module names),
and an OpenCV that nothing requires beside the one the stack does (every OpenCV writes cv2/).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from mmdoctor.planning.matrix import Matrix, StackLine
from mmdoctor.target import Target
from mmdoctor.versions import normalize_name, parse_version

ACTIONS = ("keep", "add", "replace", "remove")
OPENCV = (
    *("opencv-python", "opencv-python-headless"),
    *("opencv-contrib-python", "opencv-contrib-python-headless"),
)


@dataclass(frozen=True)
class Change:
    name: str  # the distribution
    action: str  # keep, add, replace or remove
    installed: str | None  # the version installed; None: not installed
    planned: str | None  # the version (or specifier) planned; None: removed
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def said(self) -> str:
        """'keeps torch 2.13.0', 'replaces numpy 2.4.6 with numpy<2: ...', for a person."""
        if self.action == "keep":
            return f"keeps {self.name} {self.installed}: {self.reason}"
        if self.action == "add":
            return f"adds {self.planned_as}: {self.reason}"
        if self.action == "remove":
            return f"removes {self.name} {self.installed}: {self.reason}"
        return f"replaces {self.name} {self.installed} with {self.planned_as}: {self.reason}"

    @property
    def planned_as(self) -> str:
        """'mmcv 2.1.0', or 'numpy<2' for a pin."""
        planned = self.planned or ""
        return f"{self.name}{planned}" if planned[:1] in "<>=!~" else f"{self.name} {planned}"


@dataclass(frozen=True)
class Changes:
    """Every change of a plan, in the order a person reads them."""

    items: tuple[Change, ...] = ()

    def get(self, name: str) -> Change | None:
        key = normalize_name(name)
        return next((c for c in self.items if normalize_name(c.name) == key), None)

    def keeps(self, name: str) -> bool:
        change = self.get(name)
        return change is not None and change.action == "keep"

    def same_version_again(self, name: str) -> bool:
        """A replace by the same version (a broken install of it): pip must be told."""
        change = self.get(name)
        return (
            change is not None
            and change.action == "replace"
            and (change.installed == change.planned)
        )

    def summary(self) -> str:
        """'keeps torch 2.13.0; adds mmcv 2.1.0, mmdet 3.3.0; replaces numpy 2.4.6 (numpy<2)'."""
        torch = [c for c in self.items if c.name == "torch" and c.action == "keep"]
        parts = [f"keeps torch {c.installed}" for c in torch]
        for action, verb in (("add", "adds"), ("replace", "replaces"), ("remove", "removes")):
            said = [_short(c) for c in self.items if c.action == action]
            if said:
                parts.append(f"{verb} {', '.join(said)}")
        return "; ".join(parts)

    def focused(self, focus: frozenset[str] | None) -> Changes:
        """Only the changes to these distributions (None: every change)."""
        if focus is None:
            return self
        return Changes(tuple(c for c in self.items if normalize_name(c.name) in focus))

    @property
    def removed(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.items if c.action == "remove")

    @property
    def touched(self) -> tuple[Change, ...]:
        """What the plan changes: replaces and removes first, the question names them."""
        order = {"replace": 0, "remove": 1, "add": 2}
        return tuple(
            sorted((c for c in self.items if c.action != "keep"), key=lambda c: order[c.action])
        )


class Holding:
    """What the environment holds: its distributions by name, and what its probe found."""

    def __init__(self, target: Target | None) -> None:
        self.target = target
        self.versions: dict[str, str] = {}
        for dist in target.distributions if target is not None else ():
            self.versions.setdefault(normalize_name(dist.name), dist.version or "")

    def version(self, name: str) -> str | None:
        return self.versions.get(normalize_name(name))

    def requirers(self, name: str, leaving: Iterable[str]) -> list[str]:
        """The installed distributions, but those `leaving`, that require `name`."""
        gone = {normalize_name(n) for n in leaving}
        key = normalize_name(name)
        dists = self.target.distributions if self.target is not None else ()
        return [d.name for d in dists if key in d.requires and normalize_name(d.name) not in gone]

    def imports(self, step: str) -> bool:
        return self.target is not None and self.target.imported(step) is not None


def _short(change: Change) -> str:
    if change.action == "add":
        return change.planned_as
    if change.action == "remove":
        return f"{change.name} {change.installed}"
    return f"{change.name} {change.installed} ({change.planned_as})"


def version_change(name: str, installed: str | None, planned: str, reason: str) -> Change:
    """keep when the installed version is the planned one, else add or replace."""
    if installed is None:
        return Change(name, "add", None, planned, reason)
    same = parse_version(installed) == parse_version(planned) and parse_version(planned)
    return Change(name, "keep" if same else "replace", installed, planned, reason)


def spec_change(name: str, installed: str | None, spec: str, reason: str) -> Change:
    """A pin: kept where the installed version satisfies it."""
    if installed is None:
        return Change(name, "add", None, spec, reason)
    try:
        fits = SpecifierSet(spec).contains(installed, prereleases=True)
    except InvalidSpecifier:
        fits = False
    return Change(name, "keep" if fits else "replace", installed, spec, reason)


def line_conflicts(holding: Holding, line: StackLine, matrix: Matrix, mmcv: str) -> list[Change]:
    """The distributions installed that share a module with what the plan installs: the other
    mmcv variants, and the other line's mmengine, mmdet and mim."""
    ours = {normalize_name(n) for n in (mmcv, line.mmengine, line.mmdet, line.mim)}
    out = []
    for module in ("mmcv", "mmengine", "mmdet", "mim"):
        for name in matrix.module_distributions(module):
            installed = holding.version(name)
            if installed is None or normalize_name(name) in ours:
                continue
            planned = next(n for n in ours if module in _module_of(n, matrix))
            out.append(
                Change(
                    name,
                    "remove",
                    installed,
                    None,
                    f"it installs the module {module}, as {planned} does: never both",
                )
            )
    return out


def _written_again(items: list[Change], matrix: Matrix) -> list[Change]:
    """A kept distribution whose module another, removed, also installs is written again whole
    at the same version: removing the other deletes the files they share."""
    removed = {m: c.name for c in items if c.action == "remove" for m in _module_of(c.name, matrix)}
    out = []
    for change in items:
        shared = [m for m in _module_of(change.name, matrix) if m in removed]
        if change.action == "keep" and shared:
            why = f"written again whole once {removed[shared[0]]} goes (they share {shared[0]}/)"
            change = Change(change.name, "replace", change.installed, change.installed, why)
        out.append(change)
    return out


def _module_of(name: str, matrix: Matrix) -> tuple[str, ...]:
    return tuple(
        module
        for module in ("mmcv", "mmengine", "mmdet", "mim")
        if normalize_name(name) in {normalize_name(n) for n in matrix.module_distributions(module)}
    )


@dataclass(frozen=True)
class Planned:
    """What a plan installs, for the changes it makes to an environment."""

    torch: str  # "2.13.0"
    torchvision: str  # "0.28.0" or "0.28.*"
    mmcv: tuple[str, str]  # (distribution, version)
    mmengine: tuple[str, str] | None
    mmdet: tuple[str, str]
    pins: Mapping[str, tuple[str, str]]  # name -> (specifier, reason)
    torch_why: str = ""  # why the installed torch is replaced ("" where none is installed)
    kept_torch: str = ""  # the installed torch's own version, where the plan keeps it
    mmcv_why: str = ""  # where mmcv comes from: "prebuilt wheel", "built here for it"


def stack_changes(holding: Holding, matrix: Matrix, line: StackLine, planned: Planned) -> Changes:
    """Every package of the stack kept, added, replaced or removed."""
    items: list[Change] = []
    if planned.kept_torch:
        kept = planned.kept_torch
        items.append(Change("torch", "keep", kept, kept, "it runs here, and the stack fits it"))
    else:
        why = planned.torch_why or "the torch this stack runs on"
        items.append(version_change("torch", holding.version("torch"), planned.torch, why))
    vision = holding.version("torchvision")
    belongs = f"it belongs to torch {planned.kept_torch or planned.torch}"
    if vision is not None and (planned.kept_torch or _matches(vision, planned.torchvision)):
        items.append(Change("torchvision", "keep", vision, vision, belongs))
    else:
        items.append(version_change("torchvision", vision, planned.torchvision, belongs))
    mim = f"the {line.name} line's installer"
    items.append(version_change(line.mim, holding.version(line.mim), str(line.mim_latest), mim))
    mmcv, version = planned.mmcv
    change = version_change(mmcv, holding.version(mmcv), version, planned.mmcv_why)
    if change.action == "keep" and not holding.imports("mmcv_ext"):
        change = Change(mmcv, "replace", version, version, "its compiled ops do not load")
    items.append(change)
    mmdet, mmdet_version = planned.mmdet
    if planned.mmengine is not None:
        name, engine = planned.mmengine
        needs = f"{mmdet} {mmdet_version} runs on it"
        items.append(version_change(name, holding.version(name), engine, needs))
    items.append(version_change(mmdet, holding.version(mmdet), mmdet_version, "the detector"))
    items = _written_again(items + line_conflicts(holding, line, matrix, mmcv), matrix)
    for name, (spec, reason) in planned.pins.items():
        if not any(c.name == name for c in items):
            items.append(spec_change(name, holding.version(name), spec, reason))
    leaving = [c.name for c in items if c.action == "remove"]
    items += opencv_changes(holding, line, leaving)
    return Changes(tuple(items))


def _matches(installed: str, planned: str) -> bool:
    if planned.endswith(".*"):
        return installed.split("+")[0].startswith(planned[:-1])
    return installed.split("+")[0] == planned.split("+")[0]


def opencv_changes(holding: Holding, line: StackLine, leaving: Iterable[str]) -> list[Change]:
    """Every OpenCV installed writes cv2/: the ones the stack or an installed package requires
    stay, any other goes, and a kept one is then reinstalled as it is, since removing a copy
    deletes files they share."""
    installed = {name: holding.version(name) for name in OPENCV if holding.version(name)}
    if len(installed) < 2:
        return []
    gone = [*leaving, *OPENCV]
    needed = {normalize_name(n) for n in line.opencv}
    needed |= {normalize_name(n) for n in installed if holding.requirers(n, gone)}
    removed = [
        Change(name, "remove", version, None, _why_remove_opencv(name, line))
        for name, version in installed.items()
        if normalize_name(name) not in needed
    ]
    kept = [
        Change(name, "keep", version, version, REINSTALLED)
        for name, version in installed.items()
        if removed and normalize_name(name) in needed
    ]
    return removed + kept


REINSTALLED = "reinstalled as it is once the other copy of cv2 goes (they share its files)"


def _why_remove_opencv(name: str, line: StackLine) -> str:
    needed = " and ".join(line.opencv)
    return f"a second copy of cv2: the {line.name} stack requires {needed}, and nothing {name}"
