"""The environment's own pins: pip's constraints files (PIP_CONSTRAINT, or `constraint` in
pip's configuration of the target; NVIDIA's NGC containers pin their torch this way). A plan
never asks pip for a version they forbid."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet

from mmdoctor.versions import normalize_name, parse_version


@dataclass(frozen=True)
class Constraint:
    name: str  # normalised
    spec: SpecifierSet
    source: str  # "/etc/pip/constraint.txt: torch==2.10.0a0+b558c6e"


@dataclass(frozen=True)
class Constraints:
    items: tuple[Constraint, ...] = ()

    @classmethod
    def parse(cls, lines: Iterable[tuple[str, str]]) -> Constraints:
        """(file, line) pairs as the probe read them; lines that are no requirement (an option,
        a URL) constrain nothing pip is asked here."""
        found = []
        for path, line in lines:
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                continue
            if requirement.specifier:
                name = normalize_name(requirement.name)
                found.append(Constraint(name, requirement.specifier, f"{path}: {line}"))
        return cls(tuple(found))

    def forbids(self, name: str, version: str) -> Constraint | None:
        """The constraint that `name==version` breaks, if one does. A wildcard (0.28.*) breaks
        one only where none of its releases the constraint names, nor its .0, satisfies it."""
        key = normalize_name(name)
        for constraint in self.items:
            if constraint.name == key and not any(
                constraint.spec.contains(candidate, prereleases=True)
                for candidate in _releases(version, constraint.spec)
            ):
                return constraint
        return None


def _releases(version: str, spec: SpecifierSet) -> list[str]:
    """The versions `version` stands for, as far as `spec` can tell them apart."""
    if not version.endswith(".*"):
        return [version] if parse_version(version) is not None else []
    stem = version.removesuffix("*")
    return [f"{stem}0", *(s.version for s in spec if s.version.startswith(stem))]
