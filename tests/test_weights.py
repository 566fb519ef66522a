"""The checkpoint fetcher against a real HTTPS server on 127.0.0.1 (Range, cuts, stalls, 404s).

The server is http.server with a small Range-aware handler, behind a certificate signed by a
throw-away CA made with the openssl command line; the client trusts it only through
SSL_CERT_FILE in the environ passed to fetch_checkpoint.
"""

from __future__ import annotations

import base64
import hashlib
import os
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from fakes.https_server import SIZE, Site

from mmdoctor.errors import ExitCode
from mmdoctor.paths import cache_dir
from mmdoctor.smoke.weights import (
    Checkpoint,
    DownloadError,
    WeightsError,
    fetch_checkpoint,
    hash_prefix_from_name,
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- downloads -----------------------------------------------------------------------------


def test_download_verifies_then_reuses_the_cache_without_the_network(site: Site) -> None:
    name, data = site.put()
    got = fetch_checkpoint(f"{site.base}/{name}", environ=site.environ)

    assert got == Checkpoint(
        site.checkpoints / name, _sha(data), True, f"{site.base}/{name}", SIZE, 0
    )
    assert got.path.read_bytes() == data
    assert sorted(p.name for p in site.checkpoints.iterdir()) == [name]  # no .part left
    assert [(s.range, s.status) for s in site.server.log] == [(None, 200)]

    again = fetch_checkpoint(f"{site.base}/{name}", environ=site.environ)
    assert again == Checkpoint(got.path, got.sha256, True, got.source, 0, 0)
    assert len(site.server.log) == 1  # no request at all


@pytest.mark.parametrize("failure", ["cut", "stall"])
def test_an_interrupted_download_keeps_its_part_and_resumes_with_range(
    site: Site, failure: str
) -> None:
    name, data = site.put()
    url = f"{site.base}/{name}"
    if failure == "cut":
        site.server.cut_after = SIZE // 3
    else:
        site.server.stall_after = SIZE // 3

    with pytest.raises(DownloadError) as err:
        fetch_checkpoint(url, environ=site.environ, timeout=0.3)
    assert err.value.exit_code == ExitCode.CANNOT_RUN
    assert "run again to resume" in str(err.value)
    if failure == "stall":
        assert "timed out" in str(err.value)
    part = site.checkpoints / f"{name}.part"
    kept = part.stat().st_size
    assert 0 < kept <= SIZE // 3
    assert part.read_bytes() == data[:kept]
    assert not (site.checkpoints / name).exists()

    site.server.cut_after = site.server.stall_after = None
    site.server.release.set()
    got = fetch_checkpoint(url, environ=site.environ)

    last = site.server.log[-1]
    assert (last.range, last.status, last.sent) == (f"bytes={kept}-", 206, SIZE - kept)
    assert got.resumed_from == kept
    assert got.downloaded_bytes == SIZE - kept < SIZE
    assert got.verified and got.sha256 == _sha(data)
    assert got.path.read_bytes() == data
    assert not part.exists()


def test_a_server_that_ignores_range_starts_the_file_over(site: Site) -> None:
    name, data = site.put()
    site.checkpoints.mkdir(parents=True)
    (site.checkpoints / f"{name}.part").write_bytes(b"stale bytes from another file")
    site.server.ignore_range = True

    got = fetch_checkpoint(f"{site.base}/{name}", environ=site.environ)
    assert site.server.log[-1].range is not None  # it asked, the server said 200
    assert (got.resumed_from, got.downloaded_bytes, got.verified) == (0, SIZE, True)
    assert got.path.read_bytes() == data


def test_a_part_that_is_already_complete_gets_416_and_is_kept(site: Site) -> None:
    name, data = site.put()
    site.checkpoints.mkdir(parents=True)
    (site.checkpoints / f"{name}.part").write_bytes(data)

    got = fetch_checkpoint(f"{site.base}/{name}", environ=site.environ)
    assert [s.status for s in site.server.log] == [416]
    assert (got.resumed_from, got.downloaded_bytes, got.verified) == (SIZE, 0, True)
    assert got.path.read_bytes() == data


def test_a_part_longer_than_the_file_is_discarded(site: Site) -> None:
    name, data = site.put()
    site.checkpoints.mkdir(parents=True)
    (site.checkpoints / f"{name}.part").write_bytes(data + b"extra")

    got = fetch_checkpoint(f"{site.base}/{name}", environ=site.environ)
    assert [s.status for s in site.server.log] == [416, 200]
    assert got.path.read_bytes() == data


def test_a_damaged_cached_file_is_fetched_again(site: Site) -> None:
    name, data = site.put()
    site.checkpoints.mkdir(parents=True)
    (site.checkpoints / name).write_bytes(b"bit rot")

    got = fetch_checkpoint(f"{site.base}/{name}", environ=site.environ)
    assert len(site.server.log) == 1
    assert got.path.read_bytes() == data and got.downloaded_bytes == SIZE


def test_a_wrong_hash_is_refused_and_nothing_stays_in_the_cache(site: Site) -> None:
    name, data = site.put("model_20260101-00000000.pth")
    with pytest.raises(WeightsError) as err:
        fetch_checkpoint(f"{site.base}/{name}", environ=site.environ)
    message = str(err.value)
    assert err.value.exit_code == ExitCode.USAGE
    assert f"sha256 starts with {_sha(data)[:8]}, the name says 00000000" in message
    assert "refused, not loaded" in message and "\n" not in message
    assert list(site.checkpoints.iterdir()) == []


def test_expected_prefix_overrides_the_name(site: Site) -> None:
    name, data = site.put("plain.pth")
    url = f"{site.base}/{name}"
    with pytest.raises(WeightsError, match="expected 12345678: refused"):
        fetch_checkpoint(url, expected_prefix="12345678", environ=site.environ)
    assert list(site.checkpoints.iterdir()) == []

    got = fetch_checkpoint(url, expected_prefix=_sha(data)[:8].upper(), environ=site.environ)
    assert got.verified
    with pytest.raises(WeightsError, match="8 to 64 hex digits"):
        fetch_checkpoint(url, expected_prefix="xyz", environ=site.environ)


def test_a_name_without_a_hash_downloads_unverified(site: Site) -> None:
    name, data = site.put("plain.pth")
    got = fetch_checkpoint(f"{site.base}/{name}", environ=site.environ)
    assert (got.verified, got.sha256) == (False, _sha(data))


def test_404_is_a_download_error(site: Site) -> None:
    with pytest.raises(DownloadError) as err:
        fetch_checkpoint(f"{site.base}/missing-12345678.pth", environ=site.environ)
    assert str(err.value) == f"HTTP 404 Not Found for {site.base}/missing-12345678.pth"
    assert err.value.exit_code == ExitCode.CANNOT_RUN
    assert list(site.checkpoints.iterdir()) == []


def test_an_untrusted_certificate_is_a_download_error(site: Site) -> None:
    name, _ = site.put()
    environ = {"MMDOCTOR_CACHE_DIR": site.environ["MMDOCTOR_CACHE_DIR"]}  # no SSL_CERT_FILE
    with pytest.raises(DownloadError, match="certificate was not accepted") as err:
        fetch_checkpoint(f"{site.base}/{name}", environ=environ)
    assert "SSL_CERT_FILE" in str(err.value)
    assert site.server.log == []  # the handshake failed: no request was sent


def test_a_missing_ssl_cert_file_is_a_usage_error(site: Site, tmp_path: Path) -> None:
    environ = {**site.environ, "SSL_CERT_FILE": str(tmp_path / "nope.pem")}
    with pytest.raises(WeightsError, match=r"SSL_CERT_FILE=.*nope\.pem"):
        fetch_checkpoint(f"{site.base}/x.pth", environ=environ)


def test_plain_http_is_allowed_to_loopback_only(
    plain_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, data = plain_site.put()
    port = plain_site.server.server_address[1]
    for host in ("127.0.0.1", "localhost"):
        got = fetch_checkpoint(f"http://{host}:{port}/{name}", environ=plain_site.environ)
        assert got.path.read_bytes() == data and got.verified
        got.path.unlink()
    assert len(plain_site.server.log) == 2

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("a request was made")

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", no_network)
    for url in (
        f"http://example.com/{name}",
        f"http://10.0.0.1:{port}/{name}",
        f"http://127.0.0.1.example.com/{name}",
        f"ftp://127.0.0.1/{name}",
    ):
        with pytest.raises(WeightsError) as err:
            fetch_checkpoint(url, environ=plain_site.environ)
        assert err.value.exit_code == ExitCode.USAGE and "\n" not in str(err.value)
    with pytest.raises(WeightsError, match="plain http is refused"):
        fetch_checkpoint(f"http://example.com/{name}", environ=plain_site.environ)


def test_a_redirect_to_plain_http_elsewhere_is_refused(site: Site) -> None:
    site.server.redirects["moved-12345678.pth"] = "http://example.com/model-12345678.pth"
    with pytest.raises(WeightsError, match="plain http is refused"):
        fetch_checkpoint(f"{site.base}/moved-12345678.pth", environ=site.environ)
    assert len(site.server.log) == 1


def test_credentials_are_sent_but_never_shown(site: Site) -> None:
    name, _ = site.put()
    secret = "s3cr%40t"  # "s3cr@t", percent-encoded as a URL needs it
    base = site.base.replace("https://", f"https://alice:{secret}@")
    site.server.redirects["old.pth"] = f"{site.base}/{name}"

    got = fetch_checkpoint(f"{base}/{name}", environ=site.environ)
    assert got.source == f"{site.base.replace('https://', 'https://***@')}/{name}"
    expected = "Basic " + base64.b64encode(b"alice:s3cr@t").decode()
    assert site.server.log[-1].authorization == expected

    fetch_checkpoint(f"{base}/old.pth", environ=site.environ)  # redirected to the same file
    assert site.server.log[-2].authorization == expected
    assert site.server.log[-1].authorization is None  # not forwarded through a redirect

    failures = [
        f"{base}/missing.pth",  # 404
        f"{base}/model-00000000.pth",  # served below with a wrong hash
        f"https://alice:{secret}@127.0.0.1:notaport/x.pth",
        f"http://alice:{secret}@example.com/x.pth",
        "https://alice:p@ss@127.0.0.1:1/x.pth",  # an unencoded @ in the password
    ]
    site.put("model-00000000.pth")
    for url in failures:
        with pytest.raises((WeightsError, DownloadError)) as err:
            fetch_checkpoint(url, environ=site.environ, timeout=2)
        text = str(err.value)
        assert "s3cr" not in text and "alice" not in text and "p@ss" not in text, text
        assert "***@" in text, text


def test_progress_bar_only_when_asked(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    name, _ = site.put()
    fetch_checkpoint(f"{site.base}/{name}", environ=site.environ)
    assert capsys.readouterr() == ("", "")
    (site.checkpoints / name).unlink()
    fetch_checkpoint(f"{site.base}/{name}", environ=site.environ, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and name in err


# --- local files and names -----------------------------------------------------------------


def test_local_files_are_hashed_and_checked_in_place(tmp_path: Path) -> None:
    data = os.urandom(1000)
    good = tmp_path / f"mine-{_sha(data)[:8]}.pth"
    good.write_bytes(data)
    got = fetch_checkpoint(str(good), environ={"MMDOCTOR_CACHE_DIR": str(tmp_path / "c")})
    assert got == Checkpoint(good, _sha(data), True, str(good), 0, 0)
    assert not (tmp_path / "c").exists()  # nothing copied

    bad = tmp_path / "mine-00000000.pth"
    bad.write_bytes(data)
    with pytest.raises(WeightsError, match="the name says 00000000: refused"):
        fetch_checkpoint(str(bad))
    assert bad.exists()  # the user's own file is never deleted

    plain = tmp_path / "plain.pth"
    plain.write_bytes(data)
    assert not fetch_checkpoint(str(plain)).verified
    assert fetch_checkpoint(str(plain), expected_prefix=_sha(data)[:8]).verified
    with pytest.raises(WeightsError, match="expected 00000000"):
        fetch_checkpoint(str(plain), expected_prefix="00000000")
    with pytest.raises(WeightsError, match="no such file"):
        fetch_checkpoint(str(tmp_path / "nope.pth"))
    with pytest.raises(WeightsError, match="not a file"):
        fetch_checkpoint(str(tmp_path))


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("retinanet_r50_fpn_1x_coco_20200130-c2398f9e.pth", "c2398f9e"),
        ("faster_rcnn_r50_fpn_1x_coco_20200130-047C8118.pth", "047c8118"),
        ("resnet50-0676ba61.pth", "0676ba61"),
        ("model-c2398f9e.pth.part", None),
        ("model-c2398f9.pth", None),
        ("model_c2398f9e.pth", None),
        ("model-c2398f9e.pt", None),
        ("model.pth", None),
    ],
)
def test_hash_prefix_from_name(name: str, prefix: str | None) -> None:
    assert hash_prefix_from_name(name) == prefix


def test_cache_dir_precedence(tmp_path: Path) -> None:
    env = {"MMDOCTOR_CACHE_DIR": "/a", "XDG_CACHE_HOME": "/x", "HOME": "/h"}
    assert cache_dir(env) == Path("/a")
    assert cache_dir({**env, "MMDOCTOR_CACHE_DIR": ""}) == Path("/x/mmdoctor")
    assert cache_dir({"XDG_CACHE_HOME": "/x", "HOME": "/h"}) == Path("/x/mmdoctor")
    assert cache_dir({"XDG_CACHE_HOME": "relative", "HOME": "/h"}) == Path("/h/.cache/mmdoctor")
    assert cache_dir({"HOME": "/h"}) == Path("/h/.cache/mmdoctor")
    assert cache_dir({}) == Path.home() / ".cache" / "mmdoctor"
