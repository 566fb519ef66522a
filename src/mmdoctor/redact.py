"""Remove what must not leave the machine: credentials everywhere, more in a pasted report."""

from __future__ import annotations

import re
from pathlib import Path

# Userinfo is everything between "://" and the last "@" of the authority, as urllib.parse reads
# it (the authority ends at the first "/", "?" or "#"), so a password holding "@" goes entirely.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#\s]*@")
_GPU_UUID = re.compile(r"\b(GPU|MIG)-[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b")


def redact_credentials(text: str) -> str:
    """https://user:token@host/ -> https://***@host/ (applied to every output)."""
    return _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)


def redact_report(text: str, home: str | None = None) -> str:
    """For a report meant to be pasted publicly: credentials, GPU UUIDs and the home folder."""
    text = redact_credentials(text)
    text = _GPU_UUID.sub(r"\1-<redacted>", text)
    home = home if home is not None else str(Path.home())
    if home and home != "/":
        text = re.sub(re.escape(home) + r"(?=/|\b|$)", "~", text)
    return text
