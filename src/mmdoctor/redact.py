"""Remove what must not leave the machine: credentials everywhere, more in a pasted report.

`redact_credentials` is the one redaction of every URL mmdoctor prints or writes (text, JSON,
Markdown, logs, state files, errors). It errs on the side of the secret:

- userinfo, however spelled: up to the last "@" of the authority, as urllib.parse reads it, so
  a password holding "@" or ":" goes whole; percent-encoded, or in a percent-encoded URL
  (`https%3A%2F%2F...%40`);
- a password holding a raw "/", "?" or "#" (which ends the authority for urllib, and so would
  leave the rest of it in the path): `scheme://user:...@` up to the last "@" of the URL. A URL
  such as `https://host:8443/repo.git@v1` loses its host too: shown as `https://***@v1`;
- the value of a query parameter whose name says token, key, auth, password, secret,
  signature, credential (`?token=`, `?apikey=`, `X-Amz-Signature=`, Azure's `sig=`).
"""

from __future__ import annotations

import re
from pathlib import Path

# A URL ends at white space, a quote or an angle bracket (prose, JSON, Markdown, shell quoting).
_END = r"\s'\"<>`"
_SCHEME = r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*(?:://|%3[aA]%2[fF]%2[fF]))"
_AT = r"(?:@|%40)"
# userinfo ends at the last "@" before the authority ends ("/", "?", "#")
_AUTHORITY_USERINFO = re.compile(_SCHEME + rf"[^/?#{_END}]*{_AT}")
# user:password where the password holds a raw "/", "?" or "#": to the last "@" of the URL
_RAW_PASSWORD = re.compile(_SCHEME + rf"[^/?#@:{_END}]*:[^{_END}]*{_AT}")
_SECRET_NAMES = r"token|key|auth|passw|pwd|secret|signature|credential"
_SECRET_PARAMETER = re.compile(
    rf"(?P<name>[?&;](?:[^=&#{_END}]*?(?:{_SECRET_NAMES})[^=&#{_END}]*|sig))=[^&#{_END}]+",
    re.IGNORECASE,
)
_GPU_UUID = re.compile(r"\b(GPU|MIG)-[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b")
REDACTED = "***"


def redact_credentials(text: str) -> str:
    """https://user:token@host/?token=x -> https://***@host/?token=*** (every output)."""
    text = _RAW_PASSWORD.sub(rf"\g<scheme>{REDACTED}@", text)
    text = _AUTHORITY_USERINFO.sub(rf"\g<scheme>{REDACTED}@", text)
    return _SECRET_PARAMETER.sub(rf"\g<name>={REDACTED}", text)


def with_placeholders(url: str, stem: str) -> tuple[str, tuple[str, ...]]:
    """`url` with its credentials replaced by `${VAR}` placeholders, which pip expands in a
    requirements file (`${STEM_AUTH}` for the userinfo, `${STEM_NAME}` for a secret query
    parameter), and the names of those variables."""
    names: list[str] = []

    def userinfo(match: re.Match[str]) -> str:
        names.append(f"{stem}_AUTH")
        return f"{match['scheme']}${{{stem}_AUTH}}@"

    def parameter(match: re.Match[str]) -> str:
        key = re.sub(r"[^A-Z0-9]+", "_", match["name"][1:].upper()).strip("_")
        names.append(f"{stem}_{key}")
        return f"{match['name']}=${{{stem}_{key}}}"

    done = _RAW_PASSWORD.sub(userinfo, url, count=1)
    if not names:
        done = _AUTHORITY_USERINFO.sub(userinfo, done, count=1)
    done = _SECRET_PARAMETER.sub(parameter, done)
    return done, tuple(names)


def redact_report(text: str, home: str | None = None) -> str:
    """For a report meant to be pasted publicly: credentials, GPU UUIDs and the home folder."""
    text = redact_credentials(text)
    text = _GPU_UUID.sub(r"\1-<redacted>", text)
    home = home if home is not None else str(Path.home())
    if home and home != "/":
        text = re.sub(re.escape(home) + r"(?=/|\b|$)", "~", text)
    return text
