"""install's probe of its package sources before the first change (issue 12): real HTTP and
HTTPS servers on 127.0.0.1, a port nobody listens on, pip's own settings as `pip config list`
prints them."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from conftest import run_mmdoctor
from fakes.https_server import Site
from packaging.version import Version

from mmdoctor.install.reach import PYPI, PipNetwork, plan_urls, probe
from mmdoctor.pipnet import parse_pip_config
from mmdoctor.planning.machine import Machine
from mmdoctor.planning.matrix import load_matrix
from mmdoctor.planning.plan import Plan, build_plan
from mmdoctor.planning.resolver import resolve
from mmdoctor.planning.sources import Sources
from mmdoctor.planning.wishes import Wishes


def closed_port() -> int:
    """A port on 127.0.0.1 that refuses connections: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_pip_settings_are_read_as_pip_install_reads_them() -> None:
    listing = "\n".join(
        [
            "global.index-url='https://mirror.example/simple'",
            "install.index-url='https://install.example/simple'",
            ":env:.cert='/etc/ca.pem'",
            "global.cert='/other.pem'",
            "global.extra-index-url='file:///opt/a https://extra.example/simple'",
            "global.find-links='/opt/wheels'",
            ":env:.proxy='http://proxy.example:3128'",
            "global.trusted-host='a.example b.example'",
        ]
    )
    network = parse_pip_config(listing)
    assert network.index_url == "https://install.example/simple"  # [install] over [global]
    assert network.cert == "/etc/ca.pem"  # the environment over the files
    assert network.extra_index_urls == ("file:///opt/a", "https://extra.example/simple")
    assert network.find_links == ("/opt/wheels",)
    assert network.proxy == "http://proxy.example:3128"
    assert network.trusted_hosts == ("a.example", "b.example")
    assert parse_pip_config("") == PipNetwork(index_url=PYPI)


def _plan(installer: str = "mim", sources: Sources | None = None) -> Plan:
    matrix = load_matrix()
    machine = Machine(
        os="linux", python=Version("3.10"), driver=Version("535.104.05"), gpu_ccs=(Version("8.6"),)
    )
    chosen = resolve(machine, Wishes(mmdet="3", line="openmmlab"), matrix).chosen
    assert chosen is not None and chosen.mmcv.prebuilt
    return build_plan(
        chosen, machine, matrix, executable="python", installer=installer,
        sources=sources or Sources(),
    )  # fmt: skip


def test_the_urls_are_each_index_and_page_the_steps_use_and_pips_own() -> None:
    plan = _plan()
    network = PipNetwork(index_url="https://mirror.example/simple", find_links=("/opt/wheels",))
    urls = plan_urls(plan, network, {})
    assert urls[0] == "https://mirror.example/simple"  # steps without --index-url use pip's
    assert plan.torch_index_url in urls and plan.mmcv_find_links in urls
    assert all(u.startswith("https://") for u in urls)  # local folders are not probed
    assert len(urls) == len(set(urls))
    mirrored = _plan(sources=Sources(index_url="https://corp.example/pypi/simple"))
    assert "https://mirror.example/simple" not in plan_urls(mirrored, network, {})
    # uv reads its own settings, never pip's
    uv = plan_urls(_plan("uv"), network, {"UV_DEFAULT_INDEX": "https://uv.example/simple"})
    assert uv[0] == "https://uv.example/simple" and "https://mirror.example/simple" not in uv


def test_an_answer_pip_can_use_is_reachable_and_a_refusal_is_not(site: Site) -> None:
    (site.root / "simple").write_text("<html></html>")
    network = PipNetwork(cert=site.environ["SSL_CERT_FILE"])
    assert probe(f"{site.base}/simple", network, {}, 5) is None
    assert probe(f"{site.base}/no-such-page", network, {}, 5) is None  # a 404 is an answer
    site.server.statuses["private"] = 403
    assert probe(f"{site.base}/private", network, {}, 5) == "HTTP 403 Forbidden"
    site.server.statuses["down"] = 503
    assert probe(f"{site.base}/down", network, {}, 5) == "HTTP 503 Service Unavailable"


def test_pips_certificate_and_proxy_settings_are_the_ones_used(site: Site) -> None:
    url = f"{site.base}/simple"
    without_ca = probe(url, PipNetwork(), {}, 5)
    assert without_ca is not None and "certificate was not accepted" in without_ca
    trusted = PipNetwork(trusted_hosts=("127.0.0.1",))
    assert probe(url, trusted, {}, 5) is None  # --trusted-host, as pip has it
    # PIP_PROXY applies even to 127.0.0.1 here: a proxy that is down makes the index unreachable
    proxied = PipNetwork(
        cert=site.environ["SSL_CERT_FILE"], proxy=f"http://127.0.0.1:{closed_port()}"
    )
    assert probe(url, proxied, {}, 5) == "Connection refused"
    assert probe(f"http://127.0.0.1:{closed_port()}/simple", PipNetwork(), {}, 5) == (
        "Connection refused"
    )


def test_an_unreachable_index_stops_install_before_any_change(tmp_path: Path) -> None:
    from installing import freeze, install_environ, make_venv

    venv = make_venv(tmp_path / "venv")
    before = freeze(venv, "--all")
    dead = f"http://127.0.0.1:{closed_port()}/simple"
    env = install_environ(tmp_path)
    args = ["install", "--venv", str(venv), "--yes", "--cpu", "--torch", "2.4.1", "--mmdet", "3"]
    run = run_mmdoctor(*args, "--index-url", dead, "--torch-index-url", dead, env=env)
    assert run.returncode == 4, run.stdout + run.stderr
    assert f"{dead}: Connection refused" in run.stderr and "nothing was changed" in run.stderr
    assert "Traceback" not in run.stderr
    assert freeze(venv, "--all") == before
    assert not (tmp_path / "state" / "envs").exists()  # not even a snapshot
    doc = run_mmdoctor(*args, "--index-url", dead, "--json", env=env).json()
    assert doc["exit_code"] == 4 and "Connection refused" in doc["errors"][0]["message"]


def test_a_venv_the_stopped_install_made_is_removed(tmp_path: Path) -> None:
    """`install --venv NEW` makes the venv to probe its pip settings; stopped by an unreachable
    index it says "nothing was changed", and then the venv is gone (an empty folder the user
    gave stays, empty)."""
    from installing import install_environ

    dead = f"http://127.0.0.1:{closed_port()}/simple"
    env = install_environ(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder in (tmp_path / "new", empty):
        args = ["install", "--venv", str(folder), "--yes", "--cpu", "--torch", "2.4.1"]
        run = run_mmdoctor(*args, "--index-url", dead, "--torch-index-url", dead, env=env)
        assert run.returncode == 4 and "nothing was changed" in run.stderr, run.stderr
    assert not (tmp_path / "new").exists()
    assert empty.is_dir() and not any(empty.iterdir())


@pytest.mark.parametrize("status", [403, 500])
def test_a_mirror_that_refuses_is_named_with_its_answer(site: Site, tmp_path: Path, status) -> None:
    from installing import install_environ, make_venv

    site.server.statuses["simple"] = status
    venv = make_venv(tmp_path / "venv")
    env = {**install_environ(tmp_path), "PIP_CERT": site.environ["SSL_CERT_FILE"]}
    run = run_mmdoctor(
        "install", "--venv", str(venv), "--yes", "--cpu", "--torch", "2.4.1", "--mmdet", "3",
        "--index-url", f"{site.base}/simple", "--torch-index-url", f"{site.base}/simple",
        env=env,
    )  # fmt: skip
    assert run.returncode == 4, run.stdout + run.stderr
    assert f"{site.base}/simple: HTTP {status}" in run.stderr
