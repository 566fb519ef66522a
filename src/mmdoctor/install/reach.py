"""Before install changes anything: can every index and find-links page the plan uses be
reached, with pip's own proxy and certificate settings? An unreachable PyTorch index otherwise
costs minutes of pip retries, after which pip may quietly take packages from another source.

Probes are short GETs, in parallel, each under a timeout. Any HTTP answer that pip could live
with counts as reachable (a find-links page may well be a 404 on a mirror); a connection that
fails, a certificate that is refused, a timeout, 401/403/407 or a 5xx does not.
"""

from __future__ import annotations

import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from mmdoctor import __version__, shell
from mmdoctor.errors import ExitCode, MmdoctorError
from mmdoctor.net import basic_authorization, one_line, proxies, reason_of
from mmdoctor.plan import Plan
from mmdoctor.redact import redact_credentials

PYPI = "https://pypi.org/simple/"
PROBE_TIMEOUT = 15.0  # seconds per URL: pip's own default timeout
_PACKAGE_COMMANDS = ("install", "download", "wheel")
_REFUSING = (401, 403, 407)


class Unreachable(MmdoctorError):
    """A package source the plan needs did not answer: nothing was changed."""

    exit_code = ExitCode.CANNOT_RUN


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
    """`pip config list` output ("global.index-url='...'", ":env:.cert='...'"), as `pip
    install` reads it: the environment over the [install] section over [global]."""
    rank = {":env:": 3, "install": 2, "global": 1}
    found: dict[str, tuple[int, str]] = {}
    for line in listing.splitlines():
        match = re.fullmatch(r"(:env:|[\w-]+)\.([\w-]+)=(['\"])(.*)\3", line.strip())
        if match is None or match.group(1) not in rank:
            continue
        section, key, value = match.group(1), match.group(2), match.group(4)
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


def pip_network(executable: str, timeout: float) -> PipNetwork:
    """The target's pip settings; pip's defaults where pip cannot say (an old pip)."""
    result = shell.run([executable, "-m", "pip", "config", "list"], timeout=timeout)
    return parse_pip_config(result.stdout) if result.ok else PipNetwork()


def plan_urls(plan: Plan, network: PipNetwork, environ: Mapping[str, str]) -> tuple[str, ...]:
    """Every http(s) index and find-links page the plan's package steps will ask, in order."""
    urls: list[str] = []
    extra: tuple[str, ...]
    links: tuple[str, ...]
    if plan.installer == "uv":  # uv reads its own settings, never pip's
        default = environ.get("UV_DEFAULT_INDEX") or environ.get("UV_INDEX_URL") or PYPI
        extra, links = (), ()
    else:
        default, extra, links = network.index_url, network.extra_index_urls, network.find_links
    for step in plan.steps:
        if not _is_package_step(step.argv):
            continue
        urls += _values(step.argv, "--index-url", "-i") or [default]
        urls += [*_values(step.argv, "--extra-index-url"), *extra]
        urls += [*_values(step.argv, "--find-links", "-f"), *links]
    if plan.mmcv_prebuilt and plan.installer == "mim":
        urls.append(plan.mmcv_find_links)  # mim computes the page itself: the same one
    return tuple(dict.fromkeys(u for u in urls if u.startswith(("http://", "https://"))))


def require_reachable(
    plan: Plan,
    executable: str,
    environ: Mapping[str, str],
    *,
    timeout: float = PROBE_TIMEOUT,
) -> None:
    """Raise Unreachable naming each package source of the plan that does not answer."""
    network = pip_network(executable, timeout=60)
    urls = plan_urls(plan, network, environ)
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(urls)))) as pool:
        answers = list(pool.map(lambda url: probe(url, network, environ, timeout), urls))
    failed = [(url, why) for url, why in zip(urls, answers, strict=True) if why is not None]
    if failed:
        hosts = "; ".join(f"{redact_credentials(url)}: {why}" for url, why in failed)
        raise Unreachable(
            f"a package source the plan needs does not answer ({hosts}); nothing was changed. "
            "Check the network, the proxy (PIP_PROXY, HTTPS_PROXY) and certificates (PIP_CERT), "
            "or name a mirror (--index-url, --torch-index-url, --mmcv-base-url)"
        )


def probe(url: str, network: PipNetwork, environ: Mapping[str, str], timeout: float) -> str | None:
    """None where `url` answers as pip could use it, else the answer in a few words."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    clean = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    headers = {"User-Agent": f"mmdoctor/{__version__}"}
    authorization = basic_authorization(parts)
    if authorization is not None:
        headers["Authorization"] = authorization
    try:
        context = _context(network, host)
    except (OSError, ssl.SSLError) as exc:
        return f"pip's certificate settings cannot be loaded ({reason_of(exc)})"
    found = {"http": network.proxy, "https": network.proxy} if network.proxy else {}
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler(found if found else proxies(environ, host)),
        urllib.request.HTTPSHandler(context=context),
    )
    try:
        with opener.open(urllib.request.Request(clean, headers=headers), timeout=timeout):
            return None
    except urllib.error.HTTPError as exc:
        if exc.code in _REFUSING or exc.code >= 500:
            return f"HTTP {exc.code} {one_line(exc.reason)}"
        return None  # it answered: pip asks per-project pages, which may exist
    except urllib.error.URLError as exc:
        return _why(exc.reason)
    except (OSError, ValueError) as exc:
        return _why(exc)


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


def _why(reason: object) -> str:
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"its certificate was not accepted ({reason.verify_message or one_line(reason)})"
    return reason_of(reason)


def _is_package_step(argv: Sequence[str]) -> bool:
    """A pip, mim or uv command that installs, downloads or builds from package sources."""
    head = [a.rsplit("/", 1)[-1] for a in argv[:4]]
    tool = any(a in ("pip", "mim", "uv") for a in head)
    return tool and any(a in _PACKAGE_COMMANDS for a in argv[:5])


def _values(argv: Sequence[str], *flags: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in flags]
