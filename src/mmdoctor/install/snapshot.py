"""Snapshot an environment before changing it, and put it back exactly.

The snapshot is `pip freeze --all` (what "exactly" is measured against) plus `pip inspect`
(names, versions and where each distribution came from). Restoring uninstalls what was added
and reinstalls, without dependencies, what was removed or changed: from pip's cache, the same
indexes the install used, and the interpreter's own ensurepip wheels (a fresh venv's pip and
setuptools, which no index may have).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from mmdoctor.errors import MmdoctorError
from mmdoctor.install.runner import Runner


@dataclass(frozen=True)
class Dist:
    name: str
    version: str
    requirement: tuple[str, ...]  # what reinstalls exactly this: ("x==1",), ("-e", url), ...


@dataclass(frozen=True)
class Snapshot:
    folder: Path
    freeze: str
    dists: dict[str, Dist]  # canonical name -> Dist


@dataclass(frozen=True)
class Restore:
    ok: bool  # `pip freeze --all` equals the snapshot's, byte for byte
    removed: tuple[str, ...]
    reinstalled: tuple[str, ...]
    differences: tuple[str, ...]  # freeze lines that still differ ("- x==1", "+ x==2")

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "removed": list(self.removed),
            "reinstalled": list(self.reinstalled),
            "differences": list(self.differences),
        }


class SnapshotError(MmdoctorError):
    pass


def freeze(runner: Runner, executable: str) -> str:
    result = runner.run([executable, "-m", "pip", "freeze", "--all"], timeout=300, quiet=True)
    if not result.ok:
        why = result.last_error_line or "no output"
        raise SnapshotError(f"`pip freeze` failed in {executable}: {why}")
    return result.stdout


def inspect(runner: Runner, executable: str) -> dict[str, Dist]:
    result = runner.run([executable, "-m", "pip", "inspect"], timeout=300, quiet=True)
    if not result.ok:
        why = result.last_error_line or "no output"
        raise SnapshotError(f"`pip inspect` failed in {executable}: {why}")
    dists: dict[str, Dist] = {}
    for item in json.loads(result.stdout)["installed"]:
        meta = item["metadata"]
        name, version = meta["name"], meta["version"]
        dists[canonicalize_name(name)] = Dist(name, version, _requirement(name, version, item))
    return dists


def _requirement(name: str, version: str, item: dict[str, object]) -> tuple[str, ...]:
    direct = item.get("direct_url")
    if isinstance(direct, dict) and isinstance(direct.get("url"), str):
        url = str(direct["url"])
        info = direct.get("dir_info")
        if isinstance(info, dict) and info.get("editable"):
            return ("-e", url)
        return (f"{name} @ {url}",)
    return (f"{name}=={version}",)


def take(runner: Runner, executable: str, folder: Path) -> Snapshot:
    folder.mkdir(parents=True, exist_ok=True)
    frozen = freeze(runner, executable)
    dists = inspect(runner, executable)
    (folder / "freeze.txt").write_text(frozen, encoding="utf-8")
    (folder / "inspect.json").write_text(
        json.dumps({k: [d.name, d.version, list(d.requirement)] for k, d in dists.items()}),
        encoding="utf-8",
    )
    (folder / "executable.txt").write_text(executable + "\n", encoding="utf-8")
    return Snapshot(folder, frozen, dists)


def load(folder: Path) -> Snapshot:
    try:
        frozen = (folder / "freeze.txt").read_text(encoding="utf-8")
        raw = json.loads((folder / "inspect.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"the snapshot in {folder} cannot be read: {exc}") from None
    dists = {k: Dist(v[0], v[1], tuple(v[2])) for k, v in raw.items()}
    return Snapshot(folder, frozen, dists)


def restore(
    runner: Runner,
    executable: str,
    snapshot: Snapshot,
    *,
    source_options: tuple[str, ...] = (),
    bundled_wheels: str | None = None,
) -> Restore:
    """Put the environment back to `snapshot`. `source_options` are pip options naming where
    packages came from (--index-url, --extra-index-url, --find-links)."""
    now = inspect(runner, executable)
    added = sorted(now[key].name for key in now.keys() - snapshot.dists.keys())
    back = [
        dist
        for key, dist in sorted(snapshot.dists.items())
        if key not in now or now[key].requirement != dist.requirement
    ]
    if added:
        runner.run([executable, "-m", "pip", "uninstall", "--yes", *added], timeout=1800)
    if back:
        options = list(source_options)
        if bundled_wheels:
            options += ["--find-links", bundled_wheels]
        requirements = [part for dist in back for part in dist.requirement]
        runner.run(
            [executable, "-m", "pip", "install", "--no-deps", *requirements, *options],
            timeout=3600,
        )
    after = freeze(runner, executable)
    return Restore(
        ok=after == snapshot.freeze,
        removed=tuple(added),
        reinstalled=tuple(f"{d.name}=={d.version}" for d in back),
        differences=_differences(snapshot.freeze, after),
    )


def _differences(before: str, after: str) -> tuple[str, ...]:
    old, new = set(before.splitlines()), set(after.splitlines())
    return tuple(
        [f"- {line}" for line in sorted(old - new)] + [f"+ {line}" for line in sorted(new - old)]
    )
