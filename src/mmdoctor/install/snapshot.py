"""Snapshot an environment before changing it, and put it back exactly, as shown by what is on
disk.

The snapshot is `pip freeze --all` and `pip inspect` (names, versions, where each distribution
came from and where its metadata lives), every file each distribution's RECORD lists with its
hash and its size and modification time then, what each site folder held, and `pip check`.

Restoring uninstalls what was added and reinstalls, without dependencies, what was removed,
changed or damaged (a file its RECORD lists gone or different: pip stopped half-way): from
pip's cache, the indexes the install used, and the interpreter's own ensurepip wheels (a fresh
venv's pip and setuptools, which no index may have). Then what an interrupted pip left in the
site folders (its `~` folders, files no distribution owns) goes. "Restored" is then checked,
not assumed: the same `pip freeze --all`, every distribution's files there with their hashes,
nothing added to the site folders, the same `pip check`.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from mmdoctor import shell
from mmdoctor.errors import MmdoctorError
from mmdoctor.install.runner import Runner
from mmdoctor.paths import write_private
from mmdoctor.redact import redact_credentials

SHOWN_FILES = 3  # files named per damaged distribution


@dataclass(frozen=True)
class Dist:
    name: str
    version: str
    requirement: tuple[str, ...]  # what reinstalls exactly this: ("x==1",), ("-e", url), ...
    metadata: str = ""  # its .dist-info folder (pip inspect's metadata_location)


@dataclass(frozen=True)
class FileState:
    """A file a RECORD lists: its hash there ("sha256=...", "" for none) and, at the snapshot,
    its size and modification time (None: it was missing then)."""

    path: str
    hash: str
    size: int | None
    mtime_ns: int | None


@dataclass(frozen=True)
class Snapshot:
    folder: Path
    freeze: str  # credentials redacted, as every comparison reads it
    dists: dict[str, Dist]  # canonical name -> Dist
    files: dict[str, tuple[FileState, ...]] = field(default_factory=dict)
    sites: dict[str, tuple[str, ...]] = field(default_factory=dict)  # folder -> its entries
    pip_check: str | None = None  # `pip check` then (None: not known)
    executable: str = ""
    taken_ns: int = 0  # when (time.time_ns()): a file written since is the job's


@dataclass(frozen=True)
class Restore:
    ok: bool  # what is on disk is the snapshot's: freeze, files, site folders, pip check
    removed: tuple[str, ...]
    reinstalled: tuple[str, ...]
    differences: tuple[str, ...]  # what still differs ("- x==1", "+ x==2", "x: missing f")
    repaired: tuple[str, ...] = ()  # what an interrupted pip left, removed
    way_back: str | None = None  # when not ok: how to get back to the snapshot
    discarded: str | None = None  # a venv the job made, removed whole instead

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "removed": list(self.removed),
            "reinstalled": list(self.reinstalled),
            "repaired": list(self.repaired),
            "differences": list(self.differences),
            "way_back": self.way_back,
            "discarded": self.discarded,
        }


class SnapshotError(MmdoctorError):
    pass


# --- reading the environment --------------------------------------------------------------


def freeze(runner: Runner, executable: str) -> str:
    result = runner.run([executable, "-m", "pip", "freeze", "--all"], timeout=300, quiet=True)
    if not result.ok:
        why = result.last_error_line or "no output"
        raise SnapshotError(f"`pip freeze` failed in {executable}: {why}")
    return redact_credentials(result.stdout)  # an editable's git remote may hold a token


def inspect(runner: Runner, executable: str) -> dict[str, Dist]:
    result = runner.run([executable, "-m", "pip", "inspect"], timeout=300, quiet=True)
    if not result.ok:
        why = result.last_error_line or "no output"
        raise SnapshotError(f"`pip inspect` failed in {executable}: {why}")
    dists: dict[str, Dist] = {}
    for item in json.loads(result.stdout)["installed"]:
        meta = item["metadata"]
        name, version = meta["name"], meta["version"]
        dists[canonicalize_name(name)] = Dist(
            name, version, _requirement(name, version, item), str(item.get("metadata_location", ""))
        )
    return dists


def pip_check(runner: Runner, executable: str) -> str | None:
    """`pip check`'s findings, one per line, sorted (None where it could not say)."""
    result = runner.run([executable, "-m", "pip", "check"], timeout=300, quiet=True)
    if result.returncode not in (0, 1):
        return None
    return "".join(sorted(line + "\n" for line in result.stdout.splitlines() if line.strip()))


def _requirement(name: str, version: str, item: dict[str, object]) -> tuple[str, ...]:
    direct = item.get("direct_url")
    if isinstance(direct, dict) and isinstance(direct.get("url"), str):
        url = str(direct["url"])
        info = direct.get("dir_info")
        if isinstance(info, dict) and info.get("editable"):
            return ("-e", url)
        return (f"{name} @ {url}",)
    return (f"{name}=={version}",)


def recorded_files(metadata: str) -> tuple[FileState, ...]:
    """The files a .dist-info's RECORD lists, as they are now (none for an .egg-info)."""
    folder = Path(metadata)
    try:
        with (folder / "RECORD").open(encoding="utf-8", newline="") as stream:
            rows = [row for row in csv.reader(stream) if row and row[0]]
    except OSError:
        return ()
    files = []
    for row in rows:
        path = os.path.normpath(os.path.join(folder.parent, row[0]))
        size: int | None = None
        mtime: int | None = None
        try:
            seen = os.lstat(path)
            size, mtime = seen.st_size, seen.st_mtime_ns
        except OSError:
            pass  # missing at the snapshot: not asked for afterwards
        files.append(FileState(path, row[1] if len(row) > 1 else "", size, mtime))
    return tuple(files)


def _site_folders(dists: Iterable[Dist]) -> list[str]:
    """The folders the distributions' metadata lives in (site-packages, once each)."""
    found = {os.path.realpath(Path(d.metadata).parent) for d in dists if d.metadata}
    return sorted(found)


def _entries(folder: str) -> tuple[str, ...]:
    try:
        return tuple(sorted(os.listdir(folder)))
    except OSError:
        return ()


# --- the snapshot ---------------------------------------------------------------------------


def take(runner: Runner, executable: str, folder: Path) -> Snapshot:
    taken_ns = time.time_ns()
    frozen = freeze(runner, executable)
    dists = inspect(runner, executable)
    snap = Snapshot(
        folder,
        frozen,
        dists,
        files={key: recorded_files(d.metadata) for key, d in dists.items() if d.metadata},
        sites={site: _entries(site) for site in _site_folders(dists.values())},
        pip_check=pip_check(runner, executable),
        executable=executable,
        taken_ns=taken_ns,
    )
    save(snap)
    return snap


def save(snap: Snapshot) -> None:
    """Into its folder, each file written whole (a crash leaves the old or the new)."""
    listed = {
        k: [d.name, d.version, list(d.requirement), d.metadata] for k, d in snap.dists.items()
    }
    on_disk = {
        "files": {
            k: [[f.path, f.hash, f.size, f.mtime_ns] for f in v] for k, v in snap.files.items()
        },
        "sites": {k: list(v) for k, v in snap.sites.items()},
        "pip_check": snap.pip_check,
        "taken_ns": snap.taken_ns,
    }
    write_private(snap.folder / "freeze.txt", snap.freeze)
    write_private(snap.folder / "inspect.json", json.dumps(listed))
    write_private(snap.folder / "disk.json", json.dumps(on_disk))
    write_private(snap.folder / "executable.txt", snap.executable + "\n")


def load(folder: Path) -> Snapshot:
    try:
        frozen = (folder / "freeze.txt").read_text(encoding="utf-8")
        raw = json.loads((folder / "inspect.json").read_text(encoding="utf-8"))
        disk_file = folder / "disk.json"  # absent from snapshots older than issue 26
        disk = json.loads(disk_file.read_text(encoding="utf-8")) if disk_file.is_file() else {}
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"the snapshot in {folder} cannot be read: {exc}") from None
    dists = {k: Dist(v[0], v[1], tuple(v[2]), *v[3:4]) for k, v in raw.items()}
    files = {k: tuple(FileState(*f) for f in v) for k, v in disk.get("files", {}).items()}
    sites = {k: tuple(v) for k, v in disk.get("sites", {}).items()}
    return Snapshot(
        folder, frozen, dists, files, sites, disk.get("pip_check"), taken_ns=disk.get("taken_ns", 0)
    )


# --- putting it back ------------------------------------------------------------------------


def restore(
    runner: Runner,
    executable: str,
    snapshot: Snapshot,
    *,
    source_options: tuple[str, ...] = (),
    bundled_wheels: str | None = None,
) -> Restore:
    """Put the environment back to `snapshot`. `source_options` are pip options naming where
    packages came from (--index-url, --extra-index-url, --find-links). Never raises for what
    the environment does: what could not be done is in the answer, with the way back."""
    way_back = _way_back(executable, snapshot.folder)
    try:
        return _restore(runner, executable, snapshot, source_options, bundled_wheels, way_back)
    except (shell.CommandNotFound, SnapshotError, OSError, ValueError) as exc:
        why = f"the restore could not run: {exc}"
        return Restore(False, (), (), (why,), way_back=way_back)


def _restore(
    runner: Runner,
    executable: str,
    snapshot: Snapshot,
    source_options: tuple[str, ...],
    bundled_wheels: str | None,
    way_back: str,
) -> Restore:
    now = inspect(runner, executable)
    added = sorted(now[key].name for key in now.keys() - snapshot.dists.keys())
    back = [
        dist
        for key, dist in sorted(snapshot.dists.items())
        if key not in now
        or now[key].requirement != dist.requirement
        or _damaged(snapshot.files.get(key, ()))
    ]
    if added:
        runner.run([executable, "-m", "pip", "uninstall", "--yes", *added], timeout=1800)
    if back:
        options = list(source_options)
        if bundled_wheels:
            options += ["--find-links", bundled_wheels]
        requirements = [part for dist in back for part in dist.requirement]
        runner.run(
            [executable, "-m", "pip", "install", "--no-deps", "--force-reinstall",
             *requirements, *options],
            timeout=3600,
        )  # fmt: skip
    after = inspect(runner, executable)
    touched: set[str] = {canonicalize_name(d.name) for d in back}
    damaged = _file_differences(snapshot, after, touched)
    repaired = () if damaged else _remove_debris(snapshot, after, touched)
    differences = [
        *_differences(snapshot.freeze, freeze(runner, executable)),
        *damaged,
        *_debris(snapshot, after, touched),
        *_check_differences(snapshot.pip_check, pip_check(runner, executable)),
    ]
    return Restore(
        ok=not differences,
        removed=tuple(added),
        reinstalled=tuple(f"{d.name}=={d.version}" for d in back),
        differences=tuple(differences),
        repaired=repaired,
        way_back=None if not differences else way_back,
    )


def _way_back(executable: str, folder: Path) -> str:
    return (
        f"`mmdoctor rollback --python {executable}` tries the restore again; the snapshot is "
        f"{folder}: `python -m pip install --no-deps --force-reinstall -r "
        f"{folder}/freeze.txt` puts its versions back by hand"
    )


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256=" + base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def _file_problem(file: FileState, stamp: tuple[int, int] | None = None) -> str | None:
    """Why a RECORD'd file is not as it should be: "missing", "changed", or None. A file that
    kept its size and time is taken as it was; otherwise its hash decides (a file without one,
    such as a .pyc, need only be there)."""
    try:
        seen = os.lstat(file.path)
    except OSError:
        return "missing"
    if stamp is not None and (seen.st_size, seen.st_mtime_ns) == stamp:
        return None
    if not file.hash.startswith("sha256="):
        return None
    try:
        return None if _sha256(file.path) == file.hash else "changed"
    except OSError:
        return "missing"


def _damaged(files: Iterable[FileState]) -> bool:
    """Whether any file present at the snapshot is now gone or different."""
    return any(
        _file_problem(f, (f.size, f.mtime_ns)) is not None
        for f in files
        if f.size is not None and f.mtime_ns is not None
    )


def _file_differences(
    snapshot: Snapshot, now: Mapping[str, Dist], reinstalled: set[str]
) -> list[str]:
    """Each distribution of the snapshot with files gone or changed: a reinstalled one against
    its new RECORD (every hash), the others against the snapshot."""
    found = []
    for key, dist in sorted(snapshot.dists.items()):
        current = now.get(key)
        if current is None or not current.metadata:
            continue  # not there at all: freeze says so
        if key in reinstalled or current.metadata != dist.metadata:
            problems = [(f, _file_problem(f)) for f in recorded_files(current.metadata)]
        else:
            problems = [
                (f, _file_problem(f, (f.size, f.mtime_ns)))
                for f in snapshot.files.get(key, ())
                if f.size is not None and f.mtime_ns is not None
            ]
        bad = [f"{why} {Path(f.path).name}" for f, why in problems if why]
        if bad:
            more = f" and {len(bad) - SHOWN_FILES} more" if len(bad) > SHOWN_FILES else ""
            found.append(f"{dist.name} {dist.version}: {', '.join(bad[:SHOWN_FILES])}{more}")
    return found


def _owned(now: Mapping[str, Dist]) -> tuple[set[str], set[str]]:
    """The entries of the site folders that some installed distribution's RECORD names, and
    every file the RECORDs list (real paths)."""
    entries, files = set(), set()
    for dist in now.values():
        if not dist.metadata:
            continue
        metadata = Path(dist.metadata)
        site = os.path.realpath(metadata.parent)
        entries.add(os.path.join(site, metadata.name))
        for file in recorded_files(dist.metadata):
            relative = os.path.relpath(file.path, metadata.parent)
            if not relative.startswith(".."):
                entries.add(os.path.join(site, relative.split(os.sep)[0]))
                files.add(os.path.join(site, relative))
    return entries, files


def _unlisted(folder: str, listed: set[str], since_ns: int) -> list[str]:
    """Files under `folder` written since the snapshot that no RECORD lists (byte code caches
    aside; a file that was there before the job stays, listed or not)."""
    found = []
    for root, folders, names in os.walk(folder):
        folders[:] = [f for f in folders if f != "__pycache__"]
        for name in names:
            path = os.path.join(root, name)
            if path not in listed and since_ns and _mtime_ns(path) >= since_ns:
                found.append(path)
    return found


def _mtime_ns(path: str) -> int:
    try:
        return os.lstat(path).st_mtime_ns
    except OSError:
        return 0


def _new_entries(snapshot: Snapshot, now: Mapping[str, Dist], touched: Iterable[str]) -> list[str]:
    """What the environment holds now that it did not at the snapshot and no distribution
    owns: pip's `~` folders and a half-installed wheel's files in the site folders, and, in
    the folders of the distributions the restore reinstalled, files of the version that was
    being installed over them (a `jaraco/functools/` of setuptools 80 beside 65's
    `jaraco/functools.py`, which then shadows it)."""
    if not snapshot.sites:
        return []  # a snapshot from before issue 26 did not list them
    entries, files = _owned(now)
    found = []
    for site, before in snapshot.sites.items():
        for entry in sorted(set(_entries(site)) - set(before)):
            path = os.path.join(site, entry)
            if path not in entries:
                found.append(path)
    folders = set().union(*(_top_folders(now.get(key)) for key in touched))
    for folder in sorted(folders):
        found += _unlisted(folder, files, snapshot.taken_ns)
    return found


def _top_folders(dist: Dist | None) -> set[str]:
    """The site folders' top-level folders a distribution's RECORD puts files in."""
    if dist is None or not dist.metadata:
        return set()
    metadata = Path(dist.metadata)
    site = os.path.realpath(metadata.parent)
    tops = set()
    for file in recorded_files(dist.metadata):
        parts = os.path.relpath(file.path, metadata.parent).split(os.sep)
        if len(parts) > 1 and parts[0] != ".." and not parts[0].endswith(".dist-info"):
            tops.add(os.path.join(site, parts[0]))
    return tops


def _remove_debris(
    snapshot: Snapshot, now: Mapping[str, Dist], touched: Iterable[str]
) -> tuple[str, ...]:
    removed = []
    for path in _new_entries(snapshot, now, touched):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                continue
        removed.append(path)
    return tuple(removed)


def _debris(snapshot: Snapshot, now: Mapping[str, Dist], touched: Iterable[str]) -> list[str]:
    return [f"left in the environment: {path}" for path in _new_entries(snapshot, now, touched)]


def _check_differences(before: str | None, after: str | None) -> list[str]:
    if before is None or after is None or before == after:
        return []
    return [f"pip check: {line}" for line in _differences(before, after)]


def _differences(before: str, after: str) -> tuple[str, ...]:
    old, new = set(before.splitlines()), set(after.splitlines())
    return tuple(
        [f"- {line}" for line in sorted(old - new)] + [f"+ {line}" for line in sorted(new - old)]
    )


def discard(folder: Path, *, keep_folder: bool) -> Restore:
    """Remove a venv the job made (what was there before: nothing, or an empty folder the user
    gave, which stays, empty)."""
    try:
        if not keep_folder:
            shutil.rmtree(folder)
        elif folder.is_dir():
            for entry in folder.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        why = f"{folder}, which this install made, could not be removed: {exc.strerror or exc}"
        return Restore(
            False, (), (), (why,), way_back=f"remove it: rm -rf {shell.quote(str(folder))}"
        )
    return Restore(True, (), (), (), discarded=str(folder))
