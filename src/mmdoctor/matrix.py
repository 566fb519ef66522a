"""compat_matrix.yaml: load it once and answer questions about it.

The file ships inside the wheel; in a source checkout it is read from the top of the repo.
The JSON Schema next to it is enforced by the test suite; here a broken file gives a clean
`MatrixError` naming the file and what is wrong.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from mmdoctor.errors import UsageError

MATRIX_FILE = "compat_matrix.yaml"


class MatrixError(UsageError):
    """A matrix file that cannot be used (exit 2: bad input)."""


class DriverVersion(Version):
    """A driver version that prints as NVIDIA writes it (580.65.06, not 580.65.6)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._text = text

    def __str__(self) -> str:
        return self._text


@dataclass(frozen=True)
class CudaDriverRow:
    cuda: str  # "12.x", "11.1-11.8" or "10.2"
    linux: DriverVersion
    windows: DriverVersion
    rule: str

    def covers(self, cuda: Version) -> bool:
        major, minor = cuda.release[0], cuda.release[1] if len(cuda.release) > 1 else 0
        if self.cuda.endswith(".x"):
            return major == int(self.cuda[:-2])
        if "-" in self.cuda:
            low, high = (Version(part) for part in self.cuda.split("-"))
            return low <= Version(f"{major}.{minor}") <= high
        return Version(f"{major}.{minor}") == Version(self.cuda)


@dataclass(frozen=True)
class TorchRelease:
    torch: str  # "2.13"
    torchvision: str  # "0.28"
    python: SpecifierSet
    verified: bool = True


@dataclass(frozen=True)
class Matrix:
    path: str
    cuda_drivers: tuple[CudaDriverRow, ...]
    toolkit_drivers: tuple[tuple[Version, Version], ...]  # (cuda, its toolkit's Linux driver)
    torch_releases: tuple[TorchRelease, ...]
    mmcv_wheel_cuda_tags: frozenset[str]
    facts: Mapping[str, Version]

    def min_driver(self, cuda: str, os: str) -> DriverVersion | None:
        """The oldest driver that runs code built with this CUDA (minor-version compatible)."""
        wanted = Version(cuda)
        for row in self.cuda_drivers:
            if row.covers(wanted):
                return row.windows if os == "windows" else row.linux
        return None

    def max_cuda_for_driver(self, driver: str) -> str | None:
        """The newest CUDA whose own toolkit driver is <= this driver (Linux, Table 3)."""
        version = Version(driver)
        fitting = [cuda for cuda, minimum in self.toolkit_drivers if minimum <= version]
        return str(max(fitting)) if fitting else None

    def torch_release(self, torch: Version) -> TorchRelease | None:
        key = f"{torch.major}.{torch.minor}"
        return next((row for row in self.torch_releases if row.torch == key), None)

    def fact(self, name: str) -> Version:
        return self.facts[name]


@functools.cache
def load_matrix(path: str | None = None) -> Matrix:
    source = Path(path) if path else default_matrix_path()
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise MatrixError(f"{source}: cannot read the matrix ({exc.strerror})") from None
    import yaml  # only here: most commands never need a YAML parser

    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise MatrixError(f"{source}{where}: not valid YAML: {problem}") from None
    try:
        return _build(str(source), raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise MatrixError(f"{source}: {_describe(exc)}") from None


def default_matrix_path() -> Path:
    packaged = Path(__file__).with_name(MATRIX_FILE)
    if packaged.is_file():
        return packaged
    # A source checkout (editable install): the file lives at the top of the repository.
    return Path(__file__).resolve().parents[2] / MATRIX_FILE


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing key {exc.args[0]!r}"
    return str(exc)


def _build(path: str, raw: Any) -> Matrix:
    if not isinstance(raw, dict):
        raise ValueError("the top level must be a mapping")
    if raw.get("schema_version") != 1:
        raise ValueError(f"schema_version must be 1, not {raw.get('schema_version')!r}")
    return Matrix(
        path=path,
        cuda_drivers=tuple(
            CudaDriverRow(
                cuda=str(row["cuda"]),
                linux=DriverVersion(str(row["linux"])),
                windows=DriverVersion(str(row["windows"])),
                rule=str(row["rule"]),
            )
            for row in raw["cuda_drivers"]["rows"]
        ),
        toolkit_drivers=tuple(
            (Version(str(row["cuda"])), Version(str(row["linux"])))
            for row in raw["cuda_toolkit_drivers"]["rows"]
        ),
        torch_releases=tuple(
            TorchRelease(
                torch=str(row["torch"]),
                torchvision=str(row["torchvision"]),
                python=SpecifierSet(str(row["python"])),
                verified=bool(row.get("verified", True)),
            )
            for row in raw["torch_releases"]["rows"]
        ),
        mmcv_wheel_cuda_tags=frozenset(str(t) for t in raw["mmcv_wheel_cuda_tags"]["tags"]),
        facts={name: Version(str(fact["value"])) for name, fact in raw["facts"].items()},
    )
