"""network.reachable against real servers on 127.0.0.1: an HTTPS host whose CA is not trusted
(a re-signing proxy), a closed port, a server too slow to answer, an index answering 403, and
all of them answering. The hosts come from a matrix file that names the local servers as the
PyTorch index, the mmcv wheel hosts and the model zoo (as a user's mirror matrix would), and
the package index from PIP_INDEX_URL, as pip reads it."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import yaml
from conftest import REPO, run_mmdoctor
from fakes.https_server import Site
from fakes.simple_index import isolated_pip_env

from mmdoctor.probe.network import NETWORK_TIMEOUT


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mirror_matrix(folder: Path, *, torch: str, mmcv: str, onedl: str, zoo: str) -> Path:
    raw = yaml.safe_load((REPO / "compat_matrix.yaml").read_text(encoding="utf-8"))
    raw["pytorch_index"]["index_url"] = torch + "/{variant}"
    for line in raw["stack_lines"]["rows"]:
        line["base_url"] = mmcv if line["line"] == "openmmlab" else onedl
    raw["smoke_models"]["base_url"] = zoo + "/"
    path = folder / "mirror-matrix.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def check_network(
    python: Path, matrix: Path, index: str, ca: Path | None = None, **environ: str
) -> dict:
    """network.reachable alone, with pip configured only by PIP_INDEX_URL (and PIP_CERT)."""
    env = {**isolated_pip_env(), "PIP_INDEX_URL": index, "MMDOCTOR_OFFLINE": "0", **environ}
    if ca is not None:
        env["PIP_CERT"] = str(ca)
    run = run_mmdoctor(
        "check", "--python", str(python), "--matrix", str(matrix), "--only", "network",
        "--json", env=env,
    )  # fmt: skip
    assert run.returncode in (0, 1), run.stdout + run.stderr
    (result,) = run.json()["checks"]
    return result


def tls_ca(site: Site) -> Path:
    return Path(site.environ["SSL_CERT_FILE"])


def answers(result: dict) -> str:
    return " | ".join([result["summary"], *result["details"]])


def test_every_host_answering_is_ok(site: Site, bare_venv: Path, tmp_path: Path) -> None:
    (site.root / "simple").mkdir()
    (site.root / "weights.pth").write_bytes(b"x" * 1024)
    matrix = mirror_matrix(
        tmp_path, torch=site.base, mmcv=site.base, onedl=site.base, zoo=site.base
    )
    python = bare_venv / "bin" / "python"
    result = check_network(python, matrix, f"{site.base}/simple/", ca=tls_ca(site))
    # The wheel pages and the checkpoint are not on this server: a 404 is an answer too.
    assert result["status"] == "ok", answers(result)
    # the hosts the plan here would use (issue 25): pip's index, PyTorch's, the wheel page of
    # the line it plans (not the other's) and the model zoo
    assert "4 of 4 answered" in result["summary"], answers(result)
    zoo = [s for s in site.server.log if s.path.endswith(".pth")]
    assert zoo and all(s.method == "HEAD" for s in zoo)  # the checkpoint itself is not fetched


def test_each_failure_is_named_by_what_it_is(site: Site, bare_venv: Path, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    untrusted = site.base  # its CA is not given to this run: as behind a re-signing proxy
    matrix = mirror_matrix(tmp_path, torch=dead, mmcv=untrusted, onedl=dead, zoo=dead)
    (site.root / "simple").mkdir()
    result = check_network(bare_venv / "bin" / "python", matrix, f"{dead}/simple/")
    text = answers(result)
    assert result["status"] == "fail", text
    assert result["known_failure"] == "network-unreachable"
    assert "pip's package index does not answer" in result["summary"]
    assert "Connection refused" in text
    assert "certificate was not accepted" in text and "mmcv wheels (openmmlab)" in text


def test_an_index_answering_403_fails_and_names_it(
    site: Site, bare_venv: Path, tmp_path: Path
) -> None:
    site.server.statuses["simple/"] = 403
    matrix = mirror_matrix(
        tmp_path, torch=site.base, mmcv=site.base, onedl=site.base, zoo=site.base
    )
    python = bare_venv / "bin" / "python"
    result = check_network(python, matrix, f"{site.base}/simple/", ca=tls_ca(site))
    assert result["status"] == "fail", answers(result)
    assert result["known_failure"] == "index-http-error"
    assert "HTTP 403" in result["summary"]


def test_a_slow_host_is_a_timeout_and_only_a_warning(
    site: Site, bare_venv: Path, tmp_path: Path
) -> None:
    # a server that takes the connection and never says a word (the kernel accepts it)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        slow = f"http://127.0.0.1:{silent.getsockname()[1]}"
        matrix = mirror_matrix(tmp_path, torch=slow, mmcv=site.base, onedl=site.base, zoo=site.base)
        python = bare_venv / "bin" / "python"
        result = check_network(python, matrix, f"{site.base}/simple/", ca=tls_ca(site))
    text = answers(result)
    assert result["status"] == "warn", text
    assert result["summary"].endswith("do not answer: PyTorch wheels"), text
    assert "timed out" in text or f"no answer in {NETWORK_TIMEOUT:.0f} s" in text
    assert "--torch-source pypi" in result["advice"]["text"]


def test_offline_asks_nothing(site: Site, bare_venv: Path, tmp_path: Path) -> None:
    matrix = mirror_matrix(
        tmp_path, torch=site.base, mmcv=site.base, onedl=site.base, zoo=site.base
    )
    env = {**os.environ, **site.environ, "PIP_INDEX_URL": f"{site.base}/simple/"}
    run = run_mmdoctor(
        "check", "--python", str(bare_venv / "bin" / "python"), "--matrix", str(matrix),
        "--only", "network", "--offline", "--json", env=env,
    )  # fmt: skip
    (result,) = run.json()["checks"]
    assert result["status"] == "skip" and "unless --offline" in result["summary"]
    assert site.server.log == []


def test_pips_proxy_is_the_way_out(site: Site, bare_venv: Path, tmp_path: Path) -> None:
    matrix = mirror_matrix(
        tmp_path, torch=site.base, mmcv=site.base, onedl=site.base, zoo=site.base
    )
    # (no NO_PROXY exception for 127.0.0.1 here: the proxy is what is tested)
    env = {"PIP_PROXY": f"http://127.0.0.1:{closed_port()}", "NO_PROXY": "", "no_proxy": ""}
    result = check_network(
        bare_venv / "bin" / "python", matrix, f"{site.base}/simple/", ca=tls_ca(site), **env
    )
    assert result["status"] == "fail", answers(result)  # the site is up; the proxy is not
    assert "Connection refused" in result["summary"]
