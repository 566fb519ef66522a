"""A real HTTPS server on 127.0.0.1 for checkpoint downloads: Range-aware, with modes that cut,
stall, ignore Range or redirect, behind a certificate from a throw-away CA (openssl command).

Fixtures `tls`, `site` (HTTPS) and `plain_site` (HTTP) are re-exported by tests/conftest.py.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import re
import shutil
import ssl
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SIZE = 256 * 1024


# --- the server ----------------------------------------------------------------------------


@dataclass
class Served:
    """One request as the server saw it."""

    path: str
    range: str | None
    authorization: str | None
    status: int = 0
    sent: int = 0  # body bytes written
    method: str = "GET"


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.log: list[Served] = []
        self.cut_after: int | None = None  # send this many body bytes, then drop the connection
        self.stall_after: int | None = None  # send this many, then go silent until released
        self.ignore_range = False  # answer 200 with the whole file even to a Range request
        self.redirects: dict[str, str] = {}
        self.statuses: dict[str, int] = {}  # answer these paths with this HTTP error status
        self.delay: float = 0.0  # wait this long (or until released) before any answer
        self.required_auth: str | None = None  # answer 401 unless this Authorization comes
        self.release = threading.Event()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass

    def do_HEAD(self) -> None:
        self.do_GET(with_body=False)

    def do_GET(self, with_body: bool = True) -> None:
        srv = self.server
        if srv.delay:
            srv.release.wait(srv.delay)  # a slow server: nothing until then
        name = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path.lstrip("/"))
        seen = Served(name, self.headers.get("Range"), self.headers.get("Authorization"))
        seen.method = "GET" if with_body else "HEAD"
        srv.log.append(seen)
        if srv.required_auth is not None and seen.authorization != srv.required_auth:
            seen.status = 401
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="mmdoctor test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if name in srv.statuses:
            seen.status = srv.statuses[name]
            self.send_error(seen.status)
            return
        if name in srv.redirects:
            seen.status = 302
            self.send_response(302)
            self.send_header("Location", srv.redirects[name])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        file = srv.root / name
        if "/" in name or not file.is_file():
            seen.status = 404
            self.send_error(404)
            return
        data = file.read_bytes()
        start, status = 0, 200
        if seen.range and not srv.ignore_range:
            match = re.fullmatch(r"bytes=(\d+)-", seen.range)
            assert match, seen.range
            start, status = int(match.group(1)), 206
            if start >= len(data):
                seen.status = 416
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        body = data[start:]
        seen.status = status
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if not with_body:
            return
        limit = min(x for x in (srv.cut_after, srv.stall_after, len(body)) if x is not None)
        self.wfile.write(body[:limit])
        seen.sent = limit
        if srv.stall_after is not None:
            srv.release.wait(10)
        self.close_connection = True  # a cut body: the connection just ends


@dataclass
class Site:
    server: _Server
    root: Path
    base: str  # https://127.0.0.1:PORT
    environ: dict[str, str] = field(default_factory=dict)

    def put(self, name: str | None = None, data: bytes | None = None) -> tuple[str, bytes]:
        """Serve `data` (random by default) as a zoo-style name carrying its sha256 prefix."""
        data = os.urandom(SIZE) if data is None else data
        name = name or f"model_20260101-{hashlib.sha256(data).hexdigest()[:8]}.pth"
        (self.root / name).write_bytes(data)
        return name, data

    @property
    def checkpoints(self) -> Path:
        return Path(self.environ["MMDOCTOR_CACHE_DIR"]) / "checkpoints"


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key): a throw-away CA and a leaf for
    127.0.0.1 and localhost (a real chain, which strict X.509 checking also accepts)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make the test certificates")
    folder = tmp_path_factory.mktemp("tls")
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key, csr = folder / "cert.pem", folder / "key.pem", folder / "req.csr"
    ext = folder / "ext.cnf"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    sign = ["-CA", ca, "-CAkey", ca_key, "-set_serial", "2", "-extfile", ext]
    for argv in (
        ["req", "-x509", *ec, "-subj", "/CN=mmdoctor test CA", "-keyout", ca_key, "-out", ca],
        ["req", *ec, "-subj", "/CN=localhost", "-keyout", key, "-out", csr],
        ["x509", "-req", "-in", csr, *sign, "-out", cert],
    ):
        subprocess.run(
            ["openssl", *map(str, argv), "-days", "1"], check=True, capture_output=True, timeout=60
        )
    return ca, cert, key


def _serve(root: Path, context: ssl.SSLContext | None, environ: dict[str, str]) -> Iterator[Site]:
    server = _Server(root)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    scheme = "https" if context else "http"
    try:
        yield Site(server, root, f"{scheme}://127.0.0.1:{server.server_address[1]}", environ)
    finally:
        server.release.set()  # a stalled handler lets go
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def site(tls: tuple[Path, Path, Path], tmp_path: Path) -> Iterator[Site]:
    ca, cert, key = tls
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    (tmp_path / "www").mkdir()
    environ = {"MMDOCTOR_CACHE_DIR": str(tmp_path / "cache"), "SSL_CERT_FILE": str(ca)}
    yield from _serve(tmp_path / "www", context, environ)


@pytest.fixture
def plain_site(tmp_path: Path) -> Iterator[Site]:
    (tmp_path / "www").mkdir()
    yield from _serve(tmp_path / "www", None, {"MMDOCTOR_CACHE_DIR": str(tmp_path / "cache")})
