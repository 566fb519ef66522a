"""The hosts a plan downloads from, asked once each with pip's own settings: the package index
pip uses (PyPI or a mirror), PyTorch's wheel index, OpenMMLab's and onedl's mmcv wheel pages and
the model zoo. Each answer is named (DNS, refused, timeout, TLS, HTTP status), as flutter
doctor's "Network resources" does, so a proxy or a mirror is found before an install waits on it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from mmdoctor.environment import Reachability
from mmdoctor.pipnet import Answer, Host, PipNetwork, probe_url

NETWORK_TIMEOUT = 5.0  # seconds per host: a healthy index answers in well under one


def probe_network(
    hosts: Sequence[Host],
    *,
    network: PipNetwork,
    environ: Mapping[str, str],
    timeout: float = NETWORK_TIMEOUT,
) -> tuple[Reachability, ...]:
    """Every host, in parallel, each bounded by `timeout`, with pip's proxy and certificate
    settings: a host name that never resolves (getaddrinfo ignores socket timeouts) is a
    timeout too, in a thread left to die on its own."""
    answers: dict[str, Answer] = {}

    def ask(url: str, method: str) -> None:
        answers[url] = probe_url(url, network, environ, timeout, method=method)

    threads = [
        threading.Thread(target=ask, args=(host.url, host.method), daemon=True, name="network")
        for host in hosts
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 1)
    late = Answer("timeout", f"no answer in {timeout:.0f} s", seconds=timeout)
    return tuple(
        Reachability(host.role, host.url, a.kind, a.detail, a.seconds, a.status)
        for host in hosts
        for a in (answers.get(host.url, late),)
    )
