"""Where pip really took each package from, read from its own output after a step.

A step says where it asks (an --index-url); pip's configuration (find-links, extra indexes, a
cache) can answer from elsewhere, and that is what a user needs to know when a torch is not the
planned build. pip logs one line per distribution it fetches: `Downloading URL` for any host but
PyPI's file store, `Downloading FILE` for PyPI's, `Processing PATH` for a local file, `Using
cached ...` for its cache. uv prints no sources, so its steps get no note.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from packaging.utils import canonicalize_name

_FETCHED = re.compile(r"^\s*(?P<how>Downloading|Processing|Using cached) (?P<what>\S+)", re.M)
# name-version(-tags).whl or name-version.tar.gz / .zip
_ARCHIVE = re.compile(
    r"^(?P<name>[A-Za-z0-9_.]+?)-(?P<version>\d[^-/]*?)(?:-[^/]*)?\.(?:whl|tar\.gz|zip)$"
)
PYPI = "PyPI"


def origins(output: str) -> dict[str, tuple[str, str]]:
    """Canonical distribution name -> (version, where it came from), for each fetched file."""
    found: dict[str, tuple[str, str]] = {}
    for line in _FETCHED.finditer(output):
        how, what = line["how"], line["what"]
        filename = what.rstrip("/").rsplit("/", 1)[-1].split("#", 1)[0]
        archive = _ARCHIVE.match(filename)
        if archive is None:
            continue
        name = canonicalize_name(archive["name"])
        found[name] = (archive["version"], _where(how, what))
    return found


def _where(how: str, what: str) -> str:
    if how == "Using cached":
        return "pip's cache"
    if how == "Processing":
        # a local file: its folder (find-links, or given); pip shortens it to ./ below its
        # working folder, which is this process's
        return os.path.dirname(os.path.abspath(what))
    if "://" not in what:
        return PYPI  # pip names only the file for PyPI's own file store
    parts = urlsplit(what)
    folder = parts.path.rsplit("/", 1)[0]
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{folder}"


def origins_note(output: str, wanted: Iterable[str]) -> str:
    """'came from: torch 2.13.0+cpu /opt/wheels; torchvision 0.28.0 PyPI' for the packages a
    step asked for (its name==version arguments); "" when pip named none of them."""
    found = origins(output)
    said = []
    for name in wanted:
        hit = found.get(canonicalize_name(name))
        if hit is not None:
            said.append(f"{name} {hit[0]} from {hit[1]}")
    return f"came from: {'; '.join(said)}" if said else ""


def requested(argv: Iterable[str]) -> list[str]:
    """The distributions a pip/mim install command names with an exact pin."""
    return [a.split("==", 1)[0] for a in argv if "==" in a and not a.startswith("-")]
