"""pip's network settings (the environment and its config files) and one probe of a URL as pip
would fetch it: its proxy, its certificate bundle, its trusted hosts. `install` probes every
source its plan uses before the first change; `check` probes the hosts plans download from."""

from __future__ import annotations

import re
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mmdoctor import __version__
from mmdoctor.net import basic_authorization, netrc_authorization, one_line, proxies, reason_of

PYPI = "https://pypi.org/simple/"


@dataclass(frozen=True)
class PipNetwork:
    """The network settings the target's pip runs with (environment and config files)."""

    index_url: str = PYPI
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    proxy: str | None = None
    cert: str | None = None
    client_cert: str | None = None
    trusted_hosts: tuple[str, ...] = ()


def parse_pip_config(listing: str) -> PipNetwork:
    """`pip config list` output ("global.index-url='...'", ":env:.cert='...'")."""
    items = []
    for line in listing.splitlines():
        match = re.fullmatch(r"((?::env:|[\w-]+)\.[\w-]+)=(['\"])(.*)\2", line.strip())
        if match is not None:
            items.append((match.group(1), match.group(3)))
    return pip_network_from(items)


def pip_environment(environ: Mapping[str, str]) -> PipNetwork:
    """pip's settings as its PIP_* variables give them (PIP_INDEX_URL is `:env:.index-url`),
    where there is no pip to ask for its config files (a bare `check`: no target)."""
    return pip_network_from(
        (f":env:.{name[4:].lower().replace('_', '-')}", value)
        for name, value in environ.items()
        if name.startswith("PIP_") and value
    )


def pip_network_from(items: Iterable[tuple[str, str]]) -> PipNetwork:
    """pip's configuration items ("global.index-url", ":env:.cert"), as `pip install` reads
    them: the environment over the [install] section over [global]."""
    rank = {":env:": 3, "install": 2, "global": 1}
    found: dict[str, tuple[int, str]] = {}
    for name, value in items:
        section, _, key = name.partition(".")
        if section not in rank or not key:
            continue
        if found.get(key, (0, ""))[0] < rank[section]:
            found[key] = (rank[section], value)
    values = {key: value for key, (_, value) in found.items()}

    def many(key: str) -> tuple[str, ...]:
        return tuple(values.get(key, "").split())

    return PipNetwork(
        index_url=values.get("index-url") or PYPI,
        extra_index_urls=many("extra-index-url"),
        find_links=many("find-links"),
        proxy=values.get("proxy") or None,
        cert=values.get("cert") or None,
        client_cert=values.get("client-cert") or None,
        trusted_hosts=many("trusted-host"),
    )


@dataclass(frozen=True)
class Host:
    """One URL to ask, what it is for, and how (a HEAD for a big file: nothing is downloaded)."""

    role: str
    url: str
    method: str = "GET"


@dataclass(frozen=True)
class Answer:
    """How a URL answered: `kind` is "ok" (an HTTP answer below 400), "http" (4xx/5xx, in
    `status`), "dns", "refused", "timeout", "tls", "proxy" or "error"; `detail` is one line."""

    kind: str
    detail: str
    status: int | None = None
    seconds: float = 0.0


def probe_url(
    url: str,
    network: PipNetwork,
    environ: Mapping[str, str],
    timeout: float,
    *,
    method: str = "GET",
) -> Answer:
    """Ask `url` once, as pip would reach it (a HEAD for a big file: nothing is downloaded)."""
    started = time.monotonic()
    answer = _ask(url, network, environ, timeout, method)
    return Answer(answer.kind, answer.detail, answer.status, round(time.monotonic() - started, 2))


def _ask(
    url: str, network: PipNetwork, environ: Mapping[str, str], timeout: float, method: str
) -> Answer:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    clean = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    headers = {"User-Agent": f"mmdoctor/{__version__}"}
    # credentials in the URL, else netrc's for the host: what pip sends
    authorization = basic_authorization(parts) or netrc_authorization(host, environ)
    if authorization is not None:
        headers["Authorization"] = authorization
    try:
        context = _context(network, host)
    except (OSError, ssl.SSLError) as exc:
        return Answer("tls", f"pip's certificate settings cannot be loaded ({reason_of(exc)})")
    found = {"http": network.proxy, "https": network.proxy} if network.proxy else {}
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler(found if found else proxies(environ, host)),
        urllib.request.HTTPSHandler(context=context),
    )
    request = urllib.request.Request(clean, headers=headers, method=method)
    try:
        with opener.open(request, timeout=timeout) as response:
            return Answer("ok", f"HTTP {response.status}", response.status)
    except urllib.error.HTTPError as exc:
        kind = "proxy" if exc.code == 407 else "http"
        return Answer(kind, f"HTTP {exc.code} {one_line(exc.reason)}", exc.code)
    except urllib.error.URLError as exc:
        return _failure(exc.reason)
    except (OSError, ValueError) as exc:
        return _failure(exc)


def _failure(reason: object) -> Answer:
    if isinstance(reason, ssl.SSLCertVerificationError):
        why = reason.verify_message or one_line(reason)
        return Answer("tls", f"its certificate was not accepted ({why})")
    if isinstance(reason, ssl.SSLError):
        return Answer("tls", f"TLS failed ({reason_of(reason)})")
    if isinstance(reason, socket.gaierror):
        return Answer("dns", f"the host name does not resolve ({reason_of(reason)})")
    if isinstance(reason, ConnectionRefusedError):
        return Answer("refused", reason_of(reason))
    if isinstance(reason, TimeoutError):
        return Answer("timeout", reason_of(reason))
    text = reason_of(reason)
    if "Tunnel connection failed" in text or "proxy" in text.lower():
        return Answer("proxy", f"the proxy refused ({text})")
    return Answer("error", text)


def _context(network: PipNetwork, host: str) -> ssl.SSLContext:
    if host in network.trusted_hosts:  # pip's --trusted-host: no verification for it
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=network.cert)
    if network.client_cert:
        context.load_cert_chain(network.client_cert)
    return context
