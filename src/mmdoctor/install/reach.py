"""Before install changes anything: can every index and find-links page the plan uses be
reached, with pip's own proxy and certificate settings? An unreachable PyTorch index otherwise
costs minutes of pip retries, after which pip may quietly take packages from another source.

Probes are short GETs, in parallel, each under a timeout. Any HTTP answer that pip could live
with counts as reachable (a find-links page may well be a 404 on a mirror); a connection that
fails, a certificate that is refused, a timeout, 401/403/407 or a 5xx does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from mmdoctor.errors import ExitCode, MmdoctorError
from mmdoctor.pipnet import PYPI, PipNetwork, probe_url
from mmdoctor.planning.hosts import plan_hosts
from mmdoctor.planning.plan import Plan
from mmdoctor.redact import redact_credentials

__all__ = ["PYPI", "PipNetwork", "Unreachable", "plan_urls", "probe", "require_reachable"]

PROBE_TIMEOUT = 15.0  # seconds per URL: pip's own default timeout
_REFUSING = (401, 403, 407)


class Unreachable(MmdoctorError):
    """A package source the plan needs did not answer: nothing was changed."""

    exit_code = ExitCode.CANNOT_RUN


def plan_urls(plan: Plan, network: PipNetwork, environ: Mapping[str, str]) -> tuple[str, ...]:
    """Every http(s) index and find-links page the plan's installer runs will ask, in order."""
    return tuple(host.url for host in plan_hosts(plan, network, environ))


def require_reachable(
    plan: Plan,
    network: PipNetwork,
    environ: Mapping[str, str],
    *,
    timeout: float = PROBE_TIMEOUT,
) -> None:
    """Raise Unreachable naming each package source of the plan that does not answer, asked
    with the target pip's own `network` settings."""
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
    answer = probe_url(url, network, environ, timeout)
    if answer.kind != "http" or answer.status is None:
        return None if answer.kind == "ok" else answer.detail
    if answer.status in _REFUSING or answer.status >= 500:
        return answer.detail
    return None  # it answered: pip asks per-project pages, which may exist
