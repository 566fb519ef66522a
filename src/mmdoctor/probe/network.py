"""The hosts a plan downloads from, asked once each with pip's own settings: the package index
pip uses (PyPI or a mirror), PyTorch's wheel index, OpenMMLab's and onedl's mmcv wheel pages and
the model zoo. Each answer is named (DNS, refused, timeout, TLS, HTTP status), as flutter
doctor's "Network resources" does, so a proxy or a mirror is found before an install waits on it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from mmdoctor.environment import Reachability
from mmdoctor.pipnet import Answer, PipNetwork, pip_network, probe_url
from mmdoctor.planning.matrix import Matrix

NETWORK_TIMEOUT = 5.0  # seconds per host: a healthy index answers in well under one
PACKAGE_INDEX = "package index"


def network_targets(
    matrix: Matrix, network: PipNetwork, environ: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    """(role, URL, method) of every host a plan may download from: pip's index (and extra
    indexes), then the matrix's hosts (a line's mirror variable, MMCV_BASE_URL, where set)."""
    targets = [(PACKAGE_INDEX, network.index_url, "GET")]
    targets += [("extra package index", url, "GET") for url in network.extra_index_urls]
    targets.append(("PyTorch wheels", matrix.torch_index_url.format(variant="cpu") + "/", "GET"))
    for line in matrix.stack_lines.values():
        mirror = environ.get(line.base_url_env) if line.base_url_env else None
        page = _a_wheel_page(matrix, line.name, mirror or None)
        if page is not None:
            targets.append((f"{line.mmcv[0]} wheels ({line.name})", page, "GET"))
    model = matrix.smoke_model(matrix.default_smoke_model)
    if model is not None:  # a HEAD: the checkpoint itself is 100+ MB
        targets.append(("model zoo (smoke-test weights)", model.checkpoint_url, "HEAD"))
    # a file:// index or find-links folder has no host to ask
    unique = {url: (role, url, method) for role, url, method in targets}
    return [t for url, t in unique.items() if url.startswith(("http://", "https://"))]


def _a_wheel_page(matrix: Matrix, line: str, base: str | None) -> str | None:
    """One find-links page the line's mim would read: its newest published wheel set."""
    package = matrix.stack_lines[line].mmcv[0]
    for wheel_set in matrix.mmcv_wheels:
        if wheel_set.package == package and wheel_set.os == "linux" and wheel_set.sets:
            variant, minors = next(iter(wheel_set.sets.items()))
            minor = max(minors, key=lambda m: tuple(int(p) for p in m.split(".")))
            return matrix.stack_lines[line].find_link(variant, minor, base)
    return None


def probe_network(
    matrix: Matrix,
    *,
    executable: str,
    environ: Mapping[str, str],
    timeout: float = NETWORK_TIMEOUT,
) -> tuple[Reachability, ...]:
    """Every target, in parallel, each bounded by `timeout`: a host name that never resolves
    (getaddrinfo ignores socket timeouts) is a timeout too, in a thread left to die on its own."""
    network = pip_network(executable, timeout=30)
    targets = network_targets(matrix, network, environ)
    answers: dict[str, Answer] = {}

    def ask(url: str, method: str) -> None:
        answers[url] = probe_url(url, network, environ, timeout, method=method)

    threads = [
        threading.Thread(target=ask, args=(url, method), daemon=True, name="network-probe")
        for _, url, method in targets
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 1)
    late = Answer("timeout", f"no answer in {timeout:.0f} s", seconds=timeout)
    return tuple(
        Reachability(role, url, a.kind, a.detail, a.seconds, a.status)
        for role, url, _ in targets
        for a in (answers.get(url, late),)
    )
