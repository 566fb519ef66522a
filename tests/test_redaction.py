"""Secrets never leave mmdoctor (issue 26, items 6-9): one redaction for every URL it prints or
writes (text, JSON, errors, logs, state files), `--export` with `${VAR}` placeholders that pip
expands, and ~/.netrc honoured by the pre-flight probe where pip honours it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_mmdoctor
from fakes.https_server import Site
from test_reach import closed_port

from mmdoctor import redact
from mmdoctor.install.reach import probe
from mmdoctor.pipnet import PipNetwork
from mmdoctor.redact import redact_credentials

# Each secret is one word, so that no part of it may be left in what mmdoctor shows.
LEAKY_URLS = {
    "https://alice:hunter2@mirror.example/simple": "hunter2",
    "https://alice:hun/ter2@mirror.example/simple": "ter2",  # raw "/" in the password
    "https://alice:hun#ter2@mirror.example/simple": "ter2",  # raw "#"
    "https://alice:hun?ter2@mirror.example/simple": "ter2",  # raw "?"
    "https://alice:hun@ter2@mirror.example/simple": "ter2",  # raw "@"
    "https://alice:hun:ter2@mirror.example/simple": "ter2",  # raw ":"
    "https://alice:hun%2Fter2@mirror.example/simple": "ter2",  # percent-encoded
    "https://al%69ce:hunt%65r2@mirror.example/simple": "hunt",
    "https://ghp_tokenvalue@mirror.example/simple": "ghp_tokenvalue",  # a token as the user
    "https://alice:s%C3%A9same@mirror.example/simple": "s%C3%A9same",
    "https://alice:sésame@mirror.example/simple": "sésame",
    "https%3A%2F%2Falice%3Ahunter2%40mirror.example%2Fsimple": "hunter2",  # a quoted URL
    "https://mirror.example/simple?token=tok123": "tok123",
    "https://mirror.example/simple/?apikey=key123&x=1": "key123",
    "https://mirror.example/simple?x=1&api_key=key456": "key456",
    "https://mirror.example/simple?auth=abc789": "abc789",
    "https://mirror.example/simple?password=pw789": "pw789",
    "https://mirror.example/simple?client_secret=sec789": "sec789",
    "https://bucket.example/w.whl?X-Amz-Signature=sig789&X-Amz-Credential=cred789": "sig789",
    "https://bucket.example/w.whl?X-Amz-Credential=cred789": "cred789",
    "https://acct.example/w.whl?sv=2024&sig=azuresig789": "azuresig789",
}
KEPT = (
    "https://download.pytorch.org/whl/cu126",
    "https://mirror.example:8443/simple",
    "https://host/path?q=a@b",
    "git+https://github.com/open-mmlab/mmcv@v2.1.0",
    "mmcv @ https://example.org/mmcv-2.1.0.tar.gz",
    "mail alice@example.com",
    "https://mirror.example/simple?page=2&sort=name",
)


@pytest.mark.parametrize("url", LEAKY_URLS)
def test_every_spelling_of_a_credential_is_removed(url: str) -> None:
    secret = LEAKY_URLS[url]
    for text in (f"pip install -i {url} mmcv", f'{{"url": "{url}"}}', f"`{url}`", url):
        shown = redact_credentials(text)
        assert secret not in shown, (text, shown)
        assert "***" in shown, shown
    escaped = json.dumps({"url": url})  # JSON escapes non-ASCII
    assert secret.encode("ascii", "backslashreplace").decode() not in redact_credentials(escaped)


@pytest.mark.parametrize("text", KEPT)
def test_what_is_no_credential_stays(text: str) -> None:
    assert redact_credentials(text) == text


def test_placeholders_are_what_pip_expands() -> None:
    url, names = redact.with_placeholders(
        "https://alice:hun/ter2@mirror.example/simple?token=tok123&page=2", "INDEX_URL"
    )
    assert "ter2" not in url and "tok123" not in url
    assert names == ("INDEX_URL_AUTH", "INDEX_URL_TOKEN")
    assert url == "https://${INDEX_URL_AUTH}@mirror.example/simple?token=${INDEX_URL_TOKEN}&page=2"
    assert redact.with_placeholders("https://download.pytorch.org/whl/cu126", "X") == (
        "https://download.pytorch.org/whl/cu126",
        (),
    )


# --- what the commands show -------------------------------------------------------------------

WHAT_IF = (
    *("install", "--cuda", "11.8", "--python-version", "3.10", "--mmdet", "3"),
    *("--driver", "535.104.05", "--gpu-cc", "8.6", "--line", "openmmlab", "--dry-run"),
)


def _secrets_in(text: str) -> list[str]:
    return [s for s in ("hunter2", ":hun", "ter2", "tok123", "key123", "pw789") if s in text]


@pytest.mark.parametrize("fmt", [(), ("--json",), ("-v",)])
def test_the_plan_never_shows_mirror_credentials(fmt: tuple[str, ...]) -> None:
    """Item 6: --torch-index-url and --mmcv-base-url with credentials, in text and JSON."""
    run = run_mmdoctor(
        *WHAT_IF, *fmt,
        "--torch-index-url", "https://alice:hunter2@mirror.example/whl/cu118?token=tok123",
        "--mmcv-base-url", "https://bob:hun%2Fter2@mm.example",
        "--index-url", "https://carol:pw789@pypi.example/simple",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert _secrets_in(run.stdout + run.stderr) == [], run.stdout
    assert "mirror.example" in run.stdout and "***" in run.stdout


def test_an_error_never_shows_a_password_with_raw_delimiters() -> None:
    """Item 7: a bad URL is said without its password, in text and in the JSON envelope."""
    for url in (
        "ftp://alice:hun/ter2@mirror.example/",
        "http://alice:hun#ter2@remote.example/",
        "https://alice:hun/ter2@mirror.example/simple",  # a URL pip cannot read either
        "https://alice:hun?ter2@mirror.example/simple",
        "https://[alice:hunter2@mirror.example/simple",
    ):
        for fmt in ((), ("--json",)):
            run = run_mmdoctor(*WHAT_IF, "--index-url", url, *fmt)
            assert run.returncode == 2, run.stderr
            assert _secrets_in(run.stdout + run.stderr) == [], run.stdout + run.stderr


def test_an_unreachable_source_from_pip_config_is_named_without_its_key(tmp_path: Path) -> None:
    """Item 7: a pip.conf extra-index-url with ?apikey= is probed, and named without it."""
    from installing import install_environ, make_venv

    venv = make_venv(tmp_path / "venv")
    dead = f"http://127.0.0.1:{closed_port()}"
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\nextra-index-url = {dead}/extra/?apikey=key123\n")
    env = install_environ(tmp_path, PIP_CONFIG_FILE=str(config))
    args = ["install", "--venv", str(venv), "--yes", "--cpu", "--torch", "2.4.1", "--mmdet", "3"]
    args += ["--index-url", f"{dead}/simple?token=tok123", "--torch-index-url", f"{dead}/t"]
    for fmt in ((), ("--json",)):
        run = run_mmdoctor(*args, *fmt, env=env)
        assert run.returncode == 4, run.stdout + run.stderr
        assert "Connection refused" in run.stderr
        assert _secrets_in(run.stdout + run.stderr) == [], run.stderr


def test_export_writes_placeholders_pip_expands(tmp_path: Path) -> None:
    """Item 8: one rule for every URL of the export: `${VAR}` placeholders, said in the file and
    in the output; pip's own expansion gives back the URLs."""
    out = tmp_path / "req.txt"
    run = run_mmdoctor(
        *WHAT_IF, "--export", str(out),
        "--index-url", "https://carol:pw789@pypi.example/simple",
        "--torch-index-url", "https://alice:hunter2@mirror.example/whl/cu118",
        "--mmcv-base-url", "https://bob:hun%2Fter2@mm.example",
        "--find-links", "https://dave@links.example/wheels/?token=tok123",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    text = out.read_text()
    assert _secrets_in(text) == [], text
    assert _secrets_in(run.stdout + run.stderr) == [], run.stdout
    for name in ("INDEX_URL_AUTH", "TORCH_INDEX_URL_AUTH", "MMCV_BASE_URL_AUTH"):
        assert "${" + name + "}" in text, text
        assert name in run.stdout, run.stdout
    assert "--index-url https://${INDEX_URL_AUTH}@pypi.example/simple" in text
    # pip's own reading of the file, with the variables set
    env = {
        **os.environ,
        "INDEX_URL_AUTH": "carol:pw789",
        "TORCH_INDEX_URL_AUTH": "alice:hunter2",
        "MMCV_BASE_URL_AUTH": "bob:hun%2Fter2",
        "FIND_LINKS_1_AUTH": "dave",
        "FIND_LINKS_1_TOKEN": "tok123",
    }
    reader = (
        "import sys\n"
        "from pip._internal.req.req_file import expand_env_variables\n"
        "for number, line in expand_env_variables(enumerate(open(sys.argv[1]).read().splitlines())):\n"
        "    print(line)\n"
    )
    expanded = subprocess.run(
        [sys.executable, "-c", reader, str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert "--index-url https://carol:pw789@pypi.example/simple" in expanded
    assert "--extra-index-url https://alice:hunter2@mirror.example/whl/cu118" in expanded
    assert "https://bob:hun%2Fter2@mm.example/mmcv/dist/" in expanded


# --- netrc ------------------------------------------------------------------------------------


def test_the_probe_reads_netrc_as_pip_does(plain_site: Site, tmp_path: Path) -> None:
    """Item 9: an index that wants a password pip takes from ~/.netrc (or $NETRC) answers the
    pre-flight probe too; without the netrc entry it is a 401, as for pip."""
    (plain_site.root / "simple").write_text("<html></html>")
    plain_site.server.required_auth = "Basic YWxpY2U6aHVudGVyMg=="  # alice:hunter2
    url = f"{plain_site.base}/simple"
    home = tmp_path / "home"
    home.mkdir()
    assert probe(url, PipNetwork(), {"HOME": str(home)}, 5) == "HTTP 401 Unauthorized"
    netrc = home / ".netrc"
    netrc.write_text("machine 127.0.0.1\nlogin alice\npassword hunter2\n")
    netrc.chmod(0o600)
    assert probe(url, PipNetwork(), {"HOME": str(home)}, 5) is None
    elsewhere = tmp_path / "netrc"
    elsewhere.write_text(netrc.read_text())
    assert probe(url, PipNetwork(), {"NETRC": str(elsewhere), "HOME": "/nonexistent"}, 5) is None
    # credentials in the URL win, as in pip: wrong ones are a 401 whatever netrc says
    wrong = url.replace("http://", "http://alice:wrong@")
    assert probe(wrong, PipNetwork(), {"HOME": str(home)}, 5) == "HTTP 401 Unauthorized"


@pytest.mark.slow
def test_an_install_writes_no_credential_into_its_log_or_state_files(
    standins, tmp_path: Path
) -> None:
    """Logs and state files too: an install from an index with user:password@ and find-links
    with ?token= (the index ignores both) fails at its final check on the stand-ins and rolls
    back; nothing it printed or left in the state folder holds either secret."""
    from faulting import fault_environ, install_argv, start
    from installing import make_venv

    venv = make_venv(tmp_path / "venv")
    index = standins.url.replace("http://", "http://alice:hunter2@")
    links = f"{standins.url}/mmengine/?token=tok123"
    argv = [a if a != standins.url else index for a in install_argv(venv, standins)]
    env = fault_environ(tmp_path)
    run = start([*argv, "--find-links", links, "--json"], env)
    code, stdout, stderr = run.finish()
    assert code == 3, stdout + stderr
    assert _secrets_in(stdout + stderr) == []
    state = Path(env["MMDOCTOR_STATE_DIR"])
    written = [p for p in state.rglob("*") if p.is_file()]
    assert any(p.suffix == ".log" for p in written) and any(p.name == "freeze.txt" for p in written)
    for path in written:
        assert _secrets_in(path.read_text(errors="replace")) == [], path
