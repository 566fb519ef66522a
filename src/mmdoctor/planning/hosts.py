"""The hosts a plan downloads from: every index and find-links page its installer runs ask,
as install's pre-flight asks them and check's `network.reachable` reports them (with the model
zoo of the smoke test); where no plan fits, the hosts any plan may use: pip's package index (and
extra indexes), PyTorch's wheel index, each line's mmcv wheel pages (its mirror variable,
MMCV_BASE_URL, where set) and the model zoo."""

from __future__ import annotations

from collections.abc import Mapping

from mmdoctor.pipnet import PYPI, Host, PipNetwork
from mmdoctor.planning.matrix import Matrix
from mmdoctor.planning.plan import Plan

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
    hosts += zoo_host(matrix)
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


def plan_hosts(plan: Plan, network: PipNetwork, environ: Mapping[str, str]) -> list[Host]:
    """Every http(s) index and find-links page the plan's installer runs will ask, in order:
    each step's own index (else the installer's default) and find-links, then what pip's
    configuration adds; uv reads its own settings, never pip's."""
    if plan.installer == "uv":
        default = environ.get("UV_DEFAULT_INDEX") or environ.get("UV_INDEX_URL") or PYPI
        extra: tuple[str, ...] = ()
        links: tuple[str, ...] = ()
    else:
        default, extra, links = network.index_url, network.extra_index_urls, network.find_links
    mmcv = f"{plan.mmcv_name} wheels ({plan.line.name})"
    hosts: list[Host] = []
    for step in plan.steps:
        if not step.asks_indexes:
            continue
        index = step.index_url or default
        hosts.append(
            Host("PyTorch wheels" if index == plan.torch_index_url else PACKAGE_INDEX, index)
        )
        hosts += [Host("extra package index", url) for url in extra]
        pages = (*step.find_links, *links)
        hosts += [Host(mmcv if url == plan.mmcv_find_links else "find-links", url) for url in pages]
    spec = f"{plan.mmcv_name}=={plan.mmcv_version}"
    installs_mmcv = any(spec in step.packages for step in plan.steps)
    if plan.mmcv_prebuilt and plan.installer == "mim" and installs_mmcv:
        hosts.append(Host(mmcv, plan.mmcv_find_links))  # mim computes the page: the same one
    unique: dict[str, Host] = {}
    for host in hosts:  # each URL once, in the order asked, with the first role it has
        unique.setdefault(host.url, host)
    return [h for h in unique.values() if h.url.startswith(("http://", "https://"))]


def zoo_host(matrix: Matrix) -> list[Host]:
    """The smoke test's default checkpoint (a HEAD: it is 100+ MB)."""
    model = matrix.smoke_model(matrix.default_smoke_model)
    return [Host("model zoo (smoke-test weights)", model.checkpoint_url, "HEAD")] if model else []
