"""Versions and distribution names as the packaging standards read them (PEP 440, PEP 503)."""

from __future__ import annotations

import re

from packaging.version import InvalidVersion, Version


def parse_version(text: str | None) -> Version | None:
    """A PEP 440 version, or None for a missing or unparsable string (never raises)."""
    if not text:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None


def normalize_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
