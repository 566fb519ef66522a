"""Fetch a model-zoo checkpoint into mmdoctor's cache: resumable, sha256-checked, https only.

Standard library only (urllib), plus rich for the optional progress bar, imported when asked.
OpenMMLab zoo file names carry the first 8 hex digits of the file's sha256
(`..._20200130-c2398f9e.pth`); a file whose hash disagrees is deleted and refused, never loaded.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import posixpath
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mmdoctor import __version__
from mmdoctor.errors import ExitCode, MmdoctorError
from mmdoctor.net import basic_authorization, is_loopback, one_line, proxies, reason_of
from mmdoctor.paths import checkpoint_dir
from mmdoctor.redact import redact_credentials

_CHUNK = 1 << 20
# torch.hub's convention, which OpenMMLab's zoo follows: "-<sha256 prefix>.pth" at the end.
_NAME_HASH = re.compile(r"-([0-9a-fA-F]{8,64})\.pth$")
_PREFIX = re.compile(r"[0-9a-f]{8,64}")
_HAS_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)", re.IGNORECASE)


class WeightsError(MmdoctorError):
    """Bad input: a refused URL, a wrong hash, a missing local file."""

    exit_code = ExitCode.USAGE


class DownloadError(MmdoctorError):
    """The network or the server failed; a partial download is kept for the next run."""

    exit_code = ExitCode.CANNOT_RUN


@dataclass(frozen=True)
class Checkpoint:
    path: Path  # the verified file in the cache (or the user's local file)
    sha256: str  # full hex digest
    verified: bool  # a known sha256 prefix (name or expected_prefix) matched
    source: str  # the URL with credentials redacted, or the local path
    downloaded_bytes: int  # 0 when served from the cache or a local file
    resumed_from: int  # byte offset a resumed download continued from (0 if none)


def hash_prefix_from_name(name: str) -> str | None:
    """`retinanet_r50_fpn_1x_coco_20200130-c2398f9e.pth` -> "c2398f9e"; None without one."""
    match = _NAME_HASH.search(name)
    return match.group(1).lower() if match else None


def fetch_checkpoint(
    source: str,
    *,
    expected_prefix: str | None = None,
    environ: Mapping[str, str] = os.environ,
    progress: bool = False,
    timeout: float = 60.0,
) -> Checkpoint:
    """A checkpoint from an https:// URL (http:// only to this machine) or a local file path.

    Downloads resume from `<cache>/checkpoints/<name>.part`; a cached complete file is hashed
    again and reused without touching the network.
    """
    wanted = _normalise_prefix(expected_prefix)
    if not _HAS_SCHEME.match(source):
        return _local_file(source, wanted)

    url = _parse_url(source)
    prefix = wanted or hash_prefix_from_name(url.basename)
    folder = checkpoint_dir(environ)
    final = folder / url.basename
    if final.is_file():
        digest = _sha256_file(final, url.shown)
        if prefix is None or digest.startswith(prefix):
            return Checkpoint(final, digest, prefix is not None, url.shown, 0, 0)
        # damaged or stale: fetch it again, the new copy is checked the same way
        _cache_op(final.unlink, final, missing_ok=True)

    _cache_op(folder.mkdir, folder, parents=True, exist_ok=True)
    part = folder / (url.basename + ".part")
    digest, received, resumed_from = _download(url, part, environ, progress, timeout)
    if prefix is not None and not digest.startswith(prefix):
        part.unlink(missing_ok=True)  # never leave a file that could be mistaken for the real one
        raise WeightsError(_mismatch(url.shown, digest, prefix, named=wanted is None))
    _cache_op(os.replace, final, part, final)  # atomic: never a half-written <name> in the cache
    return Checkpoint(final, digest, prefix is not None, url.shown, received, resumed_from)


# --- local files ---------------------------------------------------------------------------


def _local_file(source: str, wanted: str | None) -> Checkpoint:
    shown = redact_credentials(source)
    path = Path(source).expanduser()
    if not path.exists():
        raise WeightsError(f"{shown}: no such file")
    if not path.is_file():
        raise WeightsError(f"{shown}: not a file")
    digest = _sha256_file(path, shown)
    prefix = wanted or hash_prefix_from_name(path.name)
    if prefix is not None and not digest.startswith(prefix):
        raise WeightsError(_mismatch(shown, digest, prefix, named=wanted is None))
    return Checkpoint(path.absolute(), digest, prefix is not None, shown, 0, 0)


# --- URLs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Url:
    clean: str  # what urllib gets: no user:password@ (urllib cannot use it anyway)
    shown: str  # for messages and Checkpoint.source: credentials replaced by ***
    host: str
    basename: str
    authorization: str | None  # Basic auth built from the URL's credentials


def _parse_url(source: str) -> _Url:
    """Split and police a URL: https anywhere, plain http only to a loopback address."""
    shown = redact_credentials(source)
    try:
        parts = urllib.parse.urlsplit(source)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        raise WeightsError(f"{shown}: not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise WeightsError(
            f"{shown}: unsupported scheme {scheme}://; give an https:// URL or a local file path"
        )
    if not host:
        raise WeightsError(f"{shown}: the URL has no host")
    if scheme == "http" and not is_loopback(host):
        raise WeightsError(
            f"{shown}: plain http is refused except to this machine (127.0.0.1, ::1, localhost);"
            " use https:// so the checkpoint cannot be swapped in transit"
        )
    basename = urllib.parse.unquote(posixpath.basename(parts.path))
    if basename in ("", ".", "..") or any(c in basename for c in "/\\\0"):
        raise WeightsError(f"{shown}: the URL does not end in a file name")

    authorization = basic_authorization(parts)
    netloc = parts.netloc.rpartition("@")[2]
    clean = urllib.parse.urlunsplit((scheme, netloc, parts.path, parts.query, ""))
    return _Url(clean, shown, host, basename, authorization)


def _normalise_prefix(prefix: str | None) -> str | None:
    if prefix is None:
        return None
    value = prefix.strip().lower()
    if not _PREFIX.fullmatch(value):
        raise WeightsError(f"expected sha256 prefix {prefix!r}: give 8 to 64 hex digits")
    return value


def _mismatch(shown: str, digest: str, prefix: str, *, named: bool) -> str:
    claim = f"the name says {prefix}" if named else f"expected {prefix}"
    return f"{shown}: sha256 starts with {digest[: len(prefix)]}, {claim}: refused, not loaded"


# --- HTTP ----------------------------------------------------------------------------------


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Every hop obeys the same rules: an https URL must not redirect to plain http elsewhere."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        target = _parse_url(newurl)
        # urllib cannot use user:password@ and would echo it in an error: drop it. The
        # Authorization header was added unredirected, so it never follows to another host.
        return super().redirect_request(req, fp, code, msg, headers, target.clean)


def _ssl_context(environ: Mapping[str, str]) -> ssl.SSLContext:
    """Verification always on; SSL_CERT_FILE from `environ` (not only os.environ) is honoured."""
    cafile = environ.get("SSL_CERT_FILE") or None
    if cafile is None:
        return ssl.create_default_context()  # OpenSSL's defaults (it reads os.environ itself)
    try:
        return ssl.create_default_context(cafile=cafile, capath=environ.get("SSL_CERT_DIR") or None)
    except (OSError, ssl.SSLError) as exc:
        raise WeightsError(f"SSL_CERT_FILE={cafile}: cannot load CA certificates from it") from exc


def _opener(url: _Url, environ: Mapping[str, str]) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.ProxyHandler(proxies(environ, url.host)),
        urllib.request.HTTPSHandler(context=_ssl_context(environ)),
        _CheckedRedirects(),
    )


def _request(url: _Url, offset: int) -> urllib.request.Request:
    request = urllib.request.Request(
        url.clean,
        # identity: a compressed body would make Range offsets and Content-Length meaningless
        headers={"User-Agent": f"mmdoctor/{__version__}", "Accept-Encoding": "identity"},
    )
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    if url.authorization:
        request.add_unredirected_header("Authorization", url.authorization)
    return request


def _download(
    url: _Url, part: Path, environ: Mapping[str, str], progress: bool, timeout: float
) -> tuple[str, int, int]:
    """Fill `part` (resuming it when it exists); return (sha256, bytes received, resumed from)."""
    opener = _opener(url, environ)
    for _ in range(2):  # a second round only after discarding a .part the server disowned
        offset = part.stat().st_size if part.is_file() else 0
        try:
            response = opener.open(_request(url, offset), timeout=timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 416 and offset:
                total = _range_total(exc.headers.get("Content-Range"))
                if total is None or total == offset:
                    return _sha256_file(part, url.shown), 0, offset  # already complete
                part.unlink()  # longer than the file: not a prefix of it, start over
                continue
            raise DownloadError(f"HTTP {exc.code} {one_line(exc.reason)} for {url.shown}") from exc
        except urllib.error.URLError as exc:
            raise _network_error(url, exc.reason) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise _network_error(url, exc) from exc
        with response:
            if response.status == 206:
                start = _range_start(response.headers.get("Content-Range"))
                if start != offset:
                    part.unlink(missing_ok=True)  # a range we did not ask for: start over
                    continue
                return _receive(response, part, offset, url, progress)
            # 200: the server ignored Range (or there was none): the body is the whole file
            return _receive(response, part, 0, url, progress)
    raise DownloadError(f"{url.shown}: the server's range replies do not add up; run again")


def _receive(
    response: http.client.HTTPResponse, part: Path, offset: int, url: _Url, progress: bool
) -> tuple[str, int, int]:
    hasher = hashlib.sha256()
    if offset:
        _hash_into(hasher, part, url.shown)  # the bytes kept from the earlier attempt
    length = _int_or_none(response.headers.get("Content-Length"))
    total = None if length is None else offset + length
    bar = _Bar(url.basename, offset, total) if progress else None
    received = 0
    try:
        try:
            out = part.open("ab" if offset else "wb")
        except OSError as exc:
            raise DownloadError(f"cannot write {part}: {reason_of(exc)}") from exc
        with out:
            while True:
                try:
                    chunk = response.read1(_CHUNK)  # what has arrived: a stall loses nothing
                except (OSError, http.client.HTTPException) as exc:  # dropped, timed out, cut
                    raise _interrupted(url, offset + received, exc) from exc
                if not chunk:
                    break
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise DownloadError(f"cannot write {part}: {reason_of(exc)}") from exc
                hasher.update(chunk)
                received += len(chunk)
                if bar is not None:
                    bar.advance(len(chunk))
            out.flush()
            os.fsync(out.fileno())  # on disk before the rename makes it "complete"
    finally:
        if bar is not None:
            bar.close()
    if length is not None and received < length:
        # http.client returns b"" on an early close with a Content-Length: check it ourselves
        raise _interrupted(url, offset + received, "the connection closed early")
    return hasher.hexdigest(), received, offset


def _network_error(url: _Url, reason: object) -> DownloadError:
    if isinstance(reason, ssl.SSLCertVerificationError):
        detail = reason.verify_message or one_line(reason)
        return DownloadError(
            f"cannot download {url.shown}: the server's certificate was not accepted ({detail});"
            " if a private CA signed it, point SSL_CERT_FILE at that CA's certificate"
        )
    return DownloadError(f"cannot download {url.shown}: {reason_of(reason)}")


def _interrupted(url: _Url, have: int, reason: object) -> DownloadError:
    return DownloadError(
        f"download of {url.shown} interrupted after {have} bytes ({reason_of(reason)});"
        " the partial file is kept: run again to resume"
    )


def _range_start(header: str | None) -> int | None:
    match = _CONTENT_RANGE.match(header or "")
    return int(match.group(1)) if match and match.group(1) else None


def _range_total(header: str | None) -> int | None:
    match = _CONTENT_RANGE.match(header or "")
    return int(match.group(3)) if match and match.group(3) != "*" else None


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# --- helpers -------------------------------------------------------------------------------


def _sha256_file(path: Path, shown: str) -> str:
    hasher = hashlib.sha256()
    _hash_into(hasher, path, shown)
    return hasher.hexdigest()


def _hash_into(hasher: hashlib._Hash, path: Path, shown: str) -> None:
    try:
        with path.open("rb") as handle:
            while block := handle.read(_CHUNK):
                hasher.update(block)
    except OSError as exc:
        raise WeightsError(f"{shown}: cannot read {path}: {reason_of(exc)}") from exc


def _cache_op(operation: Callable[..., object], path: Path, *args: object, **kw: object) -> None:
    """A file operation in the cache; an unwritable cache is "cannot run", not a traceback."""
    try:
        operation(*args, **kw)
    except OSError as exc:
        raise DownloadError(f"cannot update the cache at {path}: {reason_of(exc)}") from exc


class _Bar:
    """A rich progress bar on stderr: bytes, total from Content-Length, speed."""

    def __init__(self, label: str, completed: int, total: int | None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._task = self._progress.add_task(label, total=total, completed=completed)
        self._progress.start()

    def advance(self, size: int) -> None:
        self._progress.update(self._task, advance=size)

    def close(self) -> None:
        self._progress.stop()
