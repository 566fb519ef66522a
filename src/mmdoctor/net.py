"""What every HTTP client in mmdoctor shares: proxies read as urllib and curl read them, and
error reasons as one line without credentials. Standard library only."""

from __future__ import annotations

import base64
import ipaddress
import netrc
import os
import ssl
import urllib.parse
from collections.abc import Mapping

from mmdoctor.redact import redact_credentials


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def basic_authorization(parts: urllib.parse.SplitResult) -> str | None:
    """The Authorization header for a URL's user:password@ (urllib cannot send it itself)."""
    if parts.username is None and parts.password is None:
        return None
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def netrc_authorization(host: str, environ: Mapping[str, str]) -> str | None:
    """The Authorization header pip sends to `host` when its URL carries no credentials: the
    host's entry in the first netrc file that exists ($NETRC, else ~/.netrc, else ~/_netrc),
    as requests reads it for pip."""
    home = environ.get("HOME") or os.path.expanduser("~")
    named = environ.get("NETRC")  # set, even empty, it is the only place looked at
    files = [os.path.join(home, ".netrc"), os.path.join(home, "_netrc")]
    for path in [named] if named is not None else files:
        if not os.path.exists(path):
            continue
        try:
            entry = netrc.netrc(path).authenticators(host)
        except (netrc.NetrcParseError, OSError):
            return None  # requests ignores a file it cannot read, and so does pip
        if entry is None:
            return None
        login, account, password = entry
        credentials = f"{login or account}:{password}".encode()
        return "Basic " + base64.b64encode(credentials).decode("ascii")
    return None


def proxies(environ: Mapping[str, str], host: str) -> dict[str, str]:
    """Proxies from `environ` as urllib.request.getproxies would read them; none for loopback."""
    if is_loopback(host):
        return {}
    found: dict[str, str] = {}
    for key in sorted(environ, key=lambda k: k.islower()):  # lowercase names win, as in urllib
        if key.lower().endswith("_proxy") and environ[key]:
            found[key.lower()[: -len("_proxy")]] = environ[key]
    if no_proxy(found.pop("no", ""), host):
        return {}
    return found


def no_proxy(entries: str, host: str) -> bool:
    """$no_proxy as curl and urllib read it: "*", or hosts and domain suffixes, comma-separated."""
    host = host.lower()
    for entry in entries.lower().replace(" ", "").split(","):
        entry = entry.lstrip(".")
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return True
    return False


def reason_of(error: object) -> str:
    """Why a request failed, in a few words ("timed out", "Connection refused")."""
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror and not isinstance(error, ssl.SSLError):
        return error.strerror
    return one_line(error) or type(error).__name__


def one_line(value: object) -> str:
    """Messages are one line, and never carry credentials (not even from a library's text)."""
    return redact_credentials(" ".join(str(value).split()))
