"""The hosts plans download from, for check's `network.reachable`: pip's package index (and
extra indexes), PyTorch's wheel index, each line's mmcv wheel pages (its mirror variable,
MMCV_BASE_URL, where set) and the model zoo."""

from __future__ import annotations

from collections.abc import Mapping

from mmdoctor.pipnet import Host, PipNetwork
from mmdoctor.planning.matrix import Matrix

PACKAGE_INDEX = "package index"


def download_hosts(matrix: Matrix, network: PipNetwork, environ: Mapping[str, str]) -> list[Host]:
    """Every host a plan may download from, once each; a file:// index or find-links folder has
    no host to ask."""
    hosts = [Host(PACKAGE_INDEX, network.index_url)]
    hosts += [Host("extra package index", url) for url in network.extra_index_urls]
    hosts.append(Host("PyTorch wheels", matrix.torch_index_url.format(variant="cpu") + "/"))
    for line in matrix.stack_lines.values():
        mirror = environ.get(line.base_url_env) if line.base_url_env else None
        page = _a_wheel_page(matrix, line.name, mirror or None)
        if page is not None:
            hosts.append(Host(f"{line.mmcv[0]} wheels ({line.name})", page))
    model = matrix.smoke_model(matrix.default_smoke_model)
    if model is not None:  # a HEAD: the checkpoint itself is 100+ MB
        hosts.append(Host("model zoo (smoke-test weights)", model.checkpoint_url, "HEAD"))
    unique = {host.url: host for host in hosts}
    return [h for url, h in unique.items() if url.startswith(("http://", "https://"))]


def _a_wheel_page(matrix: Matrix, line: str, base: str | None) -> str | None:
    """One find-links page the line's mim would read: its newest published wheel set."""
    package = matrix.stack_lines[line].mmcv[0]
    for wheel_set in matrix.mmcv_wheels:
        if wheel_set.package == package and wheel_set.os == "linux" and wheel_set.sets:
            variant, minors = next(iter(wheel_set.sets.items()))
            minor = max(minors, key=lambda m: tuple(int(p) for p in m.split(".")))
            return matrix.stack_lines[line].find_link(variant, minor, base)
    return None
