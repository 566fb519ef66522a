"""A plan's steps as data, and the installers that turn them into command lines.

A `Step` carries its fields: the packages and pins it installs, builds or downloads, the index,
the find-links, the wheel folder and source tree of a build, its environment. Whoever needs to
know where a step looks (install's pre-flight of its hosts, the note of where pip took each
package, the build's cache folder) reads the fields. Its `tool` turns it into argv at the last
moment: pip, mim and uv are the three installers behind one protocol (`Installer`); a `Command`
is a step that is no installer's (tar, sed, the torch check, mmdoctor's own check).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from mmdoctor.planning.sources import INSTALLERS, Sources

# What a step is, for the executor: "install" (packages into the target), "remove" (packages
# out of it), "prepare" (a source build's download, unpack and patch, skipped once the build is
# cached), "build" (a wheel into the cache), "verify" (the torch just installed, against the
# plan), "check" (the final check).
KINDS = ("install", "remove", "prepare", "build", "verify", "check")


class Tool(Protocol):
    def argv(self, step: Step) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Step:
    description: str
    tool: Tool
    kind: str = "install"
    packages: tuple[str, ...] = ()  # requirements: "torch==2.13.0", "setuptools==80.9.0"
    index_url: str | None = None
    find_links: tuple[str, ...] = ()
    only_binary: tuple[str, ...] = ()  # never these from an sdist
    no_binary: tuple[str, ...] = ()  # these from their sdist only (a build, a download)
    wheel_dir: str | None = None  # a build: where the wheel goes (the cache's folder)
    source_tree: str | None = None  # a build from an unpacked tree instead of `packages`
    dest: str | None = None  # a download: where the sdist goes
    reinstall: bool = False  # over the same version, broken, and nothing else (no deps)
    env: Mapping[str, str] = field(default_factory=dict)
    unless_built: str = ""  # a wheel folder: the step prepares a build, skipped once it is done
    # the command line a plan shows where it is not argv's: a script of mmdoctor's by its name
    # (`python -I -c <verify-torch>`); argv, the JSON and the log keep the script
    shown: str | None = None

    @property
    def argv(self) -> tuple[str, ...]:
        return self.tool.argv(self)

    def to_dict(self) -> dict[str, Any]:
        return {"description": self.description, "argv": list(self.argv), "env": dict(self.env)}

    @property
    def asks_indexes(self) -> bool:
        """A pip, mim or uv run that fetches from package indexes (what the pre-flight probes)."""
        return isinstance(self.tool, (Pip, Mim, Uv)) and self.kind != "remove"


@dataclass(frozen=True)
class Command:
    """A step that is no installer's: its argv as it is."""

    line: tuple[str, ...]

    def argv(self, step: Step) -> tuple[str, ...]:
        return self.line


def _sources(step: Step) -> tuple[str, ...]:
    out: list[str] = ["--index-url", step.index_url] if step.index_url else []
    for link in step.find_links:
        out += ["--find-links", link]
    return tuple(out)


def _only_binary(step: Step) -> tuple[str, ...]:
    return tuple(part for package in step.only_binary for part in ("--only-binary", package))


def _again(step: Step, flag: str = "--force-reinstall") -> tuple[str, ...]:
    return (flag, "--no-deps") if step.reinstall else ()


@dataclass(frozen=True)
class Pip:
    """`python -m pip` of the target: installs, and every build and download (pip's build
    runs without isolation, so the build sees torch and the pinned setuptools)."""

    executable: str

    def argv(self, step: Step) -> tuple[str, ...]:
        head = (self.executable, "-m", "pip")
        if step.kind == "build":
            what = step.packages if step.source_tree is None else (step.source_tree,)
            return (
                *head,
                *("wheel", "--no-deps", "--no-build-isolation"),
                *(part for package in step.no_binary for part in ("--no-binary", package)),
                *what,
                *_sources(step),
                *(("--wheel-dir", step.wheel_dir) if step.wheel_dir else ()),
            )
        if step.kind == "remove":
            return (*head, "uninstall", "--yes", *step.packages)
        if step.dest is not None:  # a download: its metadata read without build isolation too
            return (
                *head,
                *("download", "--no-deps", "--no-build-isolation"),
                *(part for package in step.no_binary for part in ("--no-binary", package)),
                *step.packages,
                *("--dest", step.dest),
                *_sources(step),
            )
        return (
            *(*head, "install", *_again(step), *step.packages),
            *(*_only_binary(step), *_sources(step)),
        )


@dataclass(frozen=True)
class Mim:
    """`python -m mim install`: finds the line's mmcv wheel page itself (MMCV_BASE_URL)."""

    executable: str

    def argv(self, step: Step) -> tuple[str, ...]:
        head = (self.executable, "-m", "mim", "install", *_again(step))
        return (*head, *step.packages, *_only_binary(step), *_sources(step))


@dataclass(frozen=True)
class Uv:
    """`uv pip install --python PY`: uv reads its own settings, never pip's."""

    executable: str

    def argv(self, step: Step) -> tuple[str, ...]:
        if step.kind == "remove":
            return ("uv", "pip", "uninstall", "--python", self.executable, *step.packages)
        head = ("uv", "pip", "install", "--python", self.executable, *_again(step, "--reinstall"))
        return (*head, *step.packages, *_only_binary(step), *_sources(step))


class Installer:
    """The steps one installer makes for one interpreter and set of package sources."""

    def __init__(self, name: str, executable: str, sources: Sources) -> None:
        if name not in INSTALLERS:
            raise ValueError(f"unknown installer {name!r}")
        self.name = name
        self.executable = executable
        self.sources = sources
        self.pip = Pip(executable)

    def _tool(self, via_mim: bool) -> Tool:
        if self.name == "uv":
            return Uv(self.executable)
        if via_mim and self.name == "mim":
            return Mim(self.executable)
        return self.pip

    def install(
        self,
        description: str,
        *packages: str,
        index_url: str | None = None,
        find_links: tuple[str, ...] = (),
        via_mim: bool = False,
        only_binary: tuple[str, ...] = (),
        env: Mapping[str, str] | None = None,
        reinstall: bool = False,
    ) -> Step:
        return Step(
            description,
            self._tool(via_mim),
            packages=packages,
            index_url=index_url or self.sources.index_url,
            find_links=(*find_links, *self.sources.find_links),
            only_binary=only_binary,
            env=env or {},
            reinstall=reinstall,
        )

    def remove(self, description: str, *packages: str) -> Step:
        return Step(description, Uv(self.executable) if self.name == "uv" else self.pip,
                    kind="remove", packages=packages)  # fmt: skip

    def install_built(
        self,
        description: str,
        requirement: str,
        package: str,
        wheelhouse: str,
        *,
        reinstall: bool = False,
    ) -> Step:
        """The wheel built into `wheelhouse`: `package` only as a wheel (the index has only its
        sdist), its dependencies from the index as usual."""
        return self.install(
            description,
            requirement,
            only_binary=(package,),
            find_links=(wheelhouse,),
            reinstall=reinstall,
        )

    def build_wheel(
        self,
        description: str,
        requirement: str,
        package: str,
        wheelhouse: str,
        env: Mapping[str, str],
    ) -> Step:
        """pip builds `requirement` from its sdist (uv's build isolation differs)."""
        return Step(
            description,
            self.pip,
            kind="build",
            packages=(requirement,),
            no_binary=(package,),
            index_url=self.sources.index_url,
            find_links=self.sources.find_links,
            wheel_dir=wheelhouse,
            env=env,
        )

    def build_wheel_from(
        self, description: str, source: str, wheelhouse: str, env: Mapping[str, str]
    ) -> Step:
        """pip builds an unpacked source tree (mmdoctor's own copy of the sdist)."""
        return Step(
            description, self.pip, kind="build", source_tree=source, wheel_dir=wheelhouse, env=env
        )

    def download_sdist(
        self, description: str, requirement: str, package: str, dest: str, unless_built: str
    ) -> Step:
        """pip reads an sdist's metadata even to download it: without build isolation, so that
        the setuptools with pkg_resources that the plan pinned runs mmcv's setup.py."""
        return Step(
            description,
            self.pip,
            kind="prepare",
            packages=(requirement,),
            no_binary=(package,),
            dest=dest,
            index_url=self.sources.index_url,
            find_links=self.sources.find_links,
            unless_built=unless_built,
        )

    def command(
        self,
        description: str,
        *argv: str,
        kind: str = "prepare",
        unless_built: str = "",
        shown: str | None = None,
    ) -> Step:
        return Step(description, Command(argv), kind=kind, unless_built=unless_built, shown=shown)
