"""The local package index (tests/fakes/simple_index.py) driven by real pip: it serves what it
lists, under the hashes it publishes, and its faults make pip fail the way a bad network does.

pip runs with isolated_pip_env(): no config file and no PIP_* variables, so this machine's
find-links and extra indexes cannot stand in for the index under test.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fakes.simple_index import SimpleIndex, isolated_pip_env, project_of

pytestmark = pytest.mark.slow  # the first run downloads the index's files (about 400 MB)

OPENMIM = "openmim-0.3.9-py2.py3-none-any.whl"


def _pip_download(
    index: SimpleIndex, dest: Path, *requirements: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--progress-bar", "off",
         "--index-url", index.url, "--dest", str(dest), *requirements],
        capture_output=True, text=True, env=isolated_pip_env(), timeout=300,
    )  # fmt: skip


def _sha(file: Path) -> str:
    return hashlib.sha256(file.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("filename", "project"),
    [
        ("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", "torch"),
        ("opencv_python-4.10.0.84-cp37-abi3-manylinux_2_17_x86_64.whl", "opencv-python"),
        ("opencv-python-4.10.0.84.tar.gz", "opencv-python"),
        ("mmcv-2.1.0.tar.gz", "mmcv"),
        ("aliyun-python-sdk-core-2.16.0.tar.gz", "aliyun-python-sdk-core"),
        ("Zope.Interface-5.0.zip", "zope-interface"),
        (".index-ready", None),
        ("notes.txt", None),
    ],
)
def test_project_of_a_filename(filename: str, project: str | None) -> None:
    assert project_of(filename) == project


def test_pages_list_projects_and_hashes_and_redirect_other_spellings(
    index: SimpleIndex, index_files: Path
) -> None:
    root = urllib.request.urlopen(index.url + "/", timeout=30).read().decode()
    assert '<a href="openmim/">openmim</a>' in root
    assert '<a href="mmcv/">mmcv</a>' in root

    # A non-normalized name is redirected to the canonical page (urllib follows it).
    page = urllib.request.urlopen(index.url + "/OpenMIM", timeout=30)
    assert page.url == index.url + "/openmim/"
    sha = _sha(index_files / OPENMIM)
    assert f'<a href="../../files/{OPENMIM}#sha256={sha}">{OPENMIM}</a>' in page.read().decode()

    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(index.url + "/no-such-project/", timeout=30)
    assert missing.value.code == 404
    assert index.requests[:3] == ["/simple/", "/simple/OpenMIM", "/simple/openmim/"]


def test_files_are_immutable_pages_and_faulty_files_are_not_cached(index: SimpleIndex) -> None:
    """As PyPI's file host: a client (uv) may keep a file for good; a page never, so a fault
    armed later still reaches every client."""

    def cache_control(path: str) -> str:
        request = urllib.request.Request(index.url.removesuffix("/simple") + path, method="HEAD")
        return urllib.request.urlopen(request, timeout=30).headers["Cache-Control"]

    assert cache_control(f"/files/{OPENMIM}") == "max-age=365000000, immutable, public"
    assert cache_control("/simple/openmim/") == "no-store"
    index.fail(OPENMIM, "slow", seconds=0.1)
    assert cache_control(f"/files/{OPENMIM}") == "no-store"


def test_pip_downloads_a_wheel_with_the_published_hash(
    index: SimpleIndex, index_files: Path, tmp_path: Path
) -> None:
    proc = _pip_download(index, tmp_path, "openmim==0.3.9")

    assert proc.returncode == 0, proc.stderr
    assert _sha(tmp_path / OPENMIM) == _sha(index_files / OPENMIM)
    assert index.requests == ["/simple/openmim/", f"/files/{OPENMIM}"]


def test_a_500_fails_pip_after_its_retries(index: SimpleIndex, tmp_path: Path) -> None:
    index.fail("openmim-0.3.9", "500")
    proc = _pip_download(index, tmp_path, "openmim==0.3.9")

    assert proc.returncode != 0
    assert "500" in proc.stderr, proc.stderr
    assert not (tmp_path / OPENMIM).exists()
    assert index.requests.count(f"/files/{OPENMIM}") > 1  # pip retried before giving up


def test_a_single_500_is_absorbed_by_pips_retry(index: SimpleIndex, tmp_path: Path) -> None:
    index.fail("openmim-0.3.9", "500", times=1)
    proc = _pip_download(index, tmp_path, "openmim==0.3.9")

    assert proc.returncode == 0, proc.stderr
    assert index.requests.count(f"/files/{OPENMIM}") == 2


def test_a_truncated_body_fails_pip(index: SimpleIndex, tmp_path: Path) -> None:
    index.fail("openmim-0.3.9", "truncate")
    proc = _pip_download(index, tmp_path, "openmim==0.3.9")

    assert proc.returncode != 0
    assert any(
        word in proc.stderr for word in ("IncompleteRead", "incomplete", "HASHES", "hash")
    ), proc.stderr
    assert not (tmp_path / OPENMIM).exists()


def test_a_slow_body_takes_its_time_and_still_arrives(index: SimpleIndex, tmp_path: Path) -> None:
    index.fail("openmim-0.3.9", "slow", seconds=2)
    start = time.monotonic()
    proc = _pip_download(index, tmp_path, "openmim==0.3.9")

    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - start >= 2
    assert (tmp_path / OPENMIM).is_file()


def test_an_unknown_project_has_no_matching_distribution(
    index: SimpleIndex, tmp_path: Path
) -> None:
    proc = _pip_download(index, tmp_path, "mmdoctor-no-such-project==1.0")

    assert proc.returncode != 0
    assert "No matching distribution found for mmdoctor-no-such-project==1.0" in proc.stderr
    assert index.requests == ["/simple/mmdoctor-no-such-project/"]
