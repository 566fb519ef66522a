"""A real PEP 503 "simple" package index on 127.0.0.1 (plain HTTP) over a folder of real wheels
and sdists, with faults that can be switched on and off while pip, uv or mim talk to it.

`ensure_index_files` fills that folder once with real `pip download` runs and reuses it until
the requirement groups change. Fixtures `index_files`, `local_index` and `index` are in
tests/conftest.py. Standard library only: the module is also handy from a plain script.
"""

from __future__ import annotations

import fcntl
import hashlib
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

FaultMode = Literal["500", "truncate", "slow"]
_FAULT_MODES = ("500", "truncate", "slow")
_SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2")
_CHUNK = 1024 * 1024


def normalize(name: str) -> str:
    """A project name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def project_of(filename: str) -> str | None:
    """The normalized project a distribution file belongs to; None for any other file."""
    if filename.endswith(".whl"):
        # Wheel names escape dashes in the project name, so the name is the first field.
        return normalize(filename.split("-", 1)[0])
    for suffix in _SDIST_SUFFIXES:
        if filename.endswith(suffix):
            # An sdist is NAME-VERSION where NAME may hold dashes (opencv-python-4.10.0.84,
            # aliyun-python-sdk-core-2.16.0): the version begins at the first dash before a digit.
            match = re.fullmatch(r"(.+?)-(\d.*)", filename[: -len(suffix)])
            return normalize(match.group(1)) if match else None
    return None


def isolated_pip_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (os.environ by default) without any pip or uv configuration, so that an
    --index-url pointing at the local index is the only place packages can come from.

    Not just PIP_CONFIG_FILE: this machine also sets PIP_FIND_LINKS=/opt/wheels (torch) in the
    environment, which would otherwise keep serving torch behind the index's back.
    """
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if not k.startswith(("PIP_", "UV_"))
    }
    env["PIP_CONFIG_FILE"] = os.devnull  # pip then reads no config file at all
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["UV_NO_CONFIG"] = "1"
    for key in ("NO_PROXY", "no_proxy"):  # a CI proxy must not swallow 127.0.0.1
        env[key] = ",".join(p for p in (env.get(key, ""), "127.0.0.1", "localhost") if p)
    return env


# --- the server ----------------------------------------------------------------------------


@dataclass
class _Fault:
    mode: FaultMode
    remaining: int | None  # None: for every matching request
    seconds: float  # how long a "slow" body takes


class SimpleIndex:
    """Serves `folder` (flat: distribution files side by side) as
    /simple/ (projects), /simple/<project>/ (its files, with #sha256=) and /files/<filename>.

    The folder is read on each request, so files may be added while it runs.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._faults: dict[str, _Fault] = {}
        self._requests: list[str] = []
        self._hashes: dict[tuple[str, int, int], str] = {}
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> SimpleIndex:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="simple-index",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # a "slow" body stops dripping at once
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = self._thread = None

    def __enter__(self) -> SimpleIndex:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the index is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """What to pass as --index-url."""
        return f"http://127.0.0.1:{self.port}/simple"

    # faults and the request log (both changed from the test thread while handlers run)

    def fail(
        self,
        pattern: str,
        mode: FaultMode,
        *,
        times: int | None = None,
        seconds: float = 30.0,
    ) -> None:
        """Make downloads of files whose name contains `pattern` misbehave:
        "500" answers HTTP 500; "truncate" promises the full Content-Length, sends half, hangs
        up; "slow" drips the body out over about `seconds` whatever its size.
        `times`: only the next N matching downloads (then the fault lifts), e.g. to let pip's
        own retry succeed. Index pages are never faulted, only /files/.
        """
        if mode not in _FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; one of {_FAULT_MODES}")
        with self._lock:
            self._faults[pattern] = _Fault(mode, times, seconds)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[str]:
        """Paths requested so far, in order (a copy)."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # what the handler asks for

    def _record(self, path: str) -> None:
        with self._lock:
            self._requests.append(path)

    def _fault_for(self, filename: str) -> _Fault | None:
        with self._lock:
            for pattern, fault in self._faults.items():
                if pattern not in filename:
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self._faults[pattern]
                return fault
        return None

    def _projects(self) -> dict[str, list[Path]]:
        projects: dict[str, list[Path]] = {}
        for file in sorted(self.folder.iterdir()):
            project = project_of(file.name) if file.is_file() else None
            if project is not None:
                projects.setdefault(project, []).append(file)
        return projects

    def _sha256(self, file: Path) -> str:
        stat = file.stat()
        key = (file.name, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            known = self._hashes.get(key)
        if known is None:
            # Hashed outside the lock: a 200 MB torch wheel takes a moment.
            known = _file_sha256(file)
            with self._lock:
                self._hashes[key] = known
        return known


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, index: SimpleIndex) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.index = index

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hangs up mid-body is expected here, not worth a traceback


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _answer(self, with_body: bool) -> None:
        index = self.server.index
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        index._record(path)
        if path in ("/", "/simple"):
            self._redirect("/simple/")
        elif path == "/simple/":
            links = [(f"{name}/", name) for name in index._projects()]
            self._page("Simple index", links, with_body)
        elif match := re.fullmatch(r"/simple/([^/]+)(/?)", path):
            name, slash = match.groups()
            if normalize(name) != name or not slash:
                # PEP 503: clients may ask with any spelling; point them at the canonical page.
                self._redirect(f"/simple/{normalize(name)}/")
                return
            files = index._projects().get(name)
            if files is None:
                self._plain(404, f"no project {name!r} here\n", with_body)
                return
            links = [
                (f"../../files/{urllib.parse.quote(f.name)}#sha256={index._sha256(f)}", f.name)
                for f in files
            ]
            self._page(f"Links for {name}", links, with_body)
        elif path.startswith("/files/"):
            filename = path[len("/files/") :]
            file = index.folder / filename
            if "/" in filename or project_of(filename) is None or not file.is_file():
                self._plain(404, "no such file\n", with_body)
                return
            self._file(file, with_body)
        else:
            self._plain(404, "not found\n", with_body)

    def _headers(
        self, status: int, content_type: str, length: int, cache: str = "no-store"
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        # Pages may not be cached: a fault switched on later must reach the client.
        self.send_header("Cache-Control", cache)
        self.end_headers()

    def _redirect(self, location: str) -> None:
        self.send_response(301)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _plain(self, status: int, text: str, with_body: bool) -> None:
        data = text.encode()
        self._headers(status, "text/plain; charset=utf-8", len(data))
        if with_body:
            self.wfile.write(data)

    def _page(self, title: str, links: Sequence[tuple[str, str]], with_body: bool) -> None:
        anchors = "".join(
            f'<a href="{html.escape(href)}">{html.escape(text)}</a><br/>\n' for href, text in links
        )
        data = (
            "<!DOCTYPE html>\n<html><head>"
            '<meta name="pypi:repository-version" content="1.0">'
            f"<title>{html.escape(title)}</title></head>\n"
            f"<body><h1>{html.escape(title)}</h1>\n{anchors}</body></html>\n"
        ).encode()
        self._headers(200, "text/html; charset=utf-8", len(data))
        if with_body:
            self.wfile.write(data)

    def _file(self, file: Path, with_body: bool) -> None:
        index = self.server.index
        fault = index._fault_for(file.name)
        if fault is not None and fault.mode == "500":
            self._plain(500, "injected fault\n", with_body)
            return
        size = file.stat().st_size
        # A whole file is what PyPI's file host says of it: immutable. uv then unpacks a wheel
        # once and hardlinks it into every venv (without this, one 5.5 GB copy per venv); the
        # tests keep pip's cache off, so a fault armed later still reaches pip.
        cache = "no-store" if fault is not None else "max-age=365000000, immutable, public"
        self._headers(200, "application/octet-stream", size, cache)
        if not with_body:
            return
        self.close_connection = True  # whatever happens below, this connection is done
        try:
            with file.open("rb") as stream:
                if fault is None:
                    shutil.copyfileobj(stream, self.wfile, _CHUNK)
                elif fault.mode == "truncate":
                    # The promised length stays in the header: the client sees a short body.
                    _copy(stream, self.wfile, size // 2)
                else:
                    # "slow": ~600 sips, each after a pause, so any file takes ~fault.seconds.
                    step, pause = max(1, -(-size // 600)), fault.seconds / 600
                    while chunk := stream.read(step):
                        if index._stopping.wait(pause):
                            return
                        self.wfile.write(chunk)
                        self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (or was interrupted): nothing left to say to it


def _copy(source: Any, target: Any, count: int) -> None:
    while count > 0 and (chunk := source.read(min(_CHUNK, count))):
        target.write(chunk)
        count -= len(chunk)


def _file_sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- filling the folder --------------------------------------------------------------------

# Separate `pip download` runs: together they conflict (openxlab, under openmim, pins
# setuptools~=60.2.0), and an index may well hold several versions of one project.
# Everything comes from PyPI as a clean machine sees it (no local find-links or extra index):
# torch and torchvision are PyPI's own CUDA 13.0 builds, with their nvidia-* wheels.
REQUIREMENT_GROUPS: tuple[tuple[str, ...], ...] = (
    ("torch==2.13.0", "torchvision==0.28.0"),
    ("torch==2.14.1", "torchvision==0.29.1"),
    ("openmim==0.3.9",),
    ("onedl-mim==0.5.1",),
    ("setuptools==80.9.0", "wheel", "ninja", "psutil", "packaging>=24.2"),
    (
        "mmengine==0.10.7",
        "mmdet==3.3.0",
        "addict",
        "yapf",
        "opencv-python",
        "Pillow",
        "packaging",
        "numpy",
    ),
    (
        "onedl-mmengine==0.10.12",
        "onedl-mmdetection==3.5.1",
        "opencv-python==4.12.0.88",
        "opencv-python-headless==4.12.0.88",
    ),
)
# Fetched from PyPI directly: `pip download` of an mmcv sdist builds its metadata, which
# imports torch, and so fails.
SDISTS: tuple[tuple[str, str], ...] = (("mmcv", "2.1.0"), ("onedl-mmcv", "2.3.6"))
MARKER = ".index-ready"
_SPEC = ".index-spec"  # in the folder being built: which spec it is a partial build of

# The target interpreter's ensurepip wheels (pip and setuptools as a fresh venv has them), and
# what makes its downloads differ from another interpreter's (ABI tag, platform).
_PROBE = (
    "import ensurepip, json, os, sys, sysconfig\n"
    "bundled = os.path.join(os.path.dirname(ensurepip.__file__), '_bundled')\n"
    "wheels = sorted(f for f in os.listdir(bundled) if f.endswith('.whl'))\n"
    "print(json.dumps({'bundled': bundled, 'wheels': wheels,\n"
    "    'tag': [sys.implementation.cache_tag, sysconfig.get_platform()]}))\n"
)


class IndexBuildError(RuntimeError):
    """The folder could not be filled; the message says which step failed and why."""


def ensure_index_files(
    folder: Path,
    python: str,
    *,
    groups: Sequence[Sequence[str]] = REQUIREMENT_GROUPS,
    sdists: Sequence[tuple[str, str]] = SDISTS,
) -> Path:
    """`folder`, filled with every file the install stack needs for `python`'s platform.

    Built once: a marker holds the hash of the spec and a changed spec rebuilds from scratch.
    The build happens in a sibling `<folder>.partial` (an interrupted build resumes there;
    pip skips files already downloaded) and is renamed into place when complete, under a
    file lock so that two pytest processes do not build it twice.
    """
    folder = Path(folder)
    probe = _run([python, "-c", _PROBE], "probe the interpreter", timeout=120)
    info = json.loads(probe.stdout)
    spec = json.dumps(
        [[list(g) for g in groups], [list(s) for s in sdists], info["tag"], info["wheels"]]
    )
    key = hashlib.sha256(spec.encode()).hexdigest()
    marker = folder / MARKER
    if _read(marker) == key:
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_name(folder.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _read(marker) == key:  # built by another process while this one waited
            return folder
        partial = folder.with_name(folder.name + ".partial")
        if _read(partial / _SPEC) != key:
            shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True, exist_ok=True)
        (partial / _SPEC).write_text(key)
        for group in groups:
            _pip_download(python, partial, group)
        for name, version in sdists:
            _fetch_sdist(name, version, partial)
        if not info["wheels"]:
            raise IndexBuildError(f"{python} has no ensurepip wheels in {info['bundled']}")
        for wheel in info["wheels"]:
            shutil.copy2(Path(info["bundled"], wheel), partial / wheel)
        (partial / _SPEC).unlink()
        (partial / MARKER).write_text(key + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
    return folder


def _read(file: Path) -> str | None:
    try:
        return file.read_text().strip()
    except OSError:
        return None


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _run(
    argv: Sequence[str], what: str, timeout: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise IndexBuildError(f"could not {what}: {error}") from error
    if proc.returncode != 0:
        raise IndexBuildError(
            f"could not {what} (exit {proc.returncode}): {' '.join(argv)}\n{_tail(proc.stderr)}"
        )
    return proc


def pypi_only_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (os.environ by default) with pip reading PyPI alone, as on a clean machine: no
    config file, find-links, extra index or constraints; certificates and timeouts stay."""
    dropped = ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT")
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in dropped}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def _pip_download(
    python: str, dest: Path, requirements: Sequence[str], env: Mapping[str, str] | None = None
) -> None:
    """One `pip download` run from PyPI alone (or with `env`'s pip settings), retried once:
    PyPI hiccups should not fail a whole test session."""
    argv = [
        python,
        *("-m", "pip", "download", "--disable-pip-version-check", "--progress-bar", "off"),
        *("--dest", str(dest), *requirements),
    ]
    what = f"download {' '.join(requirements)}"
    env = pypi_only_env() if env is None else env
    try:
        _run(argv, what, timeout=3600, env=env)
    except IndexBuildError:
        time.sleep(5)
        _run(argv, what, timeout=3600, env=env)


def _fetch_sdist(name: str, version: str, dest: Path) -> None:
    """The sdist of name==version from PyPI, checked against the sha256 PyPI publishes."""
    last: Exception | None = None
    for attempt in range(2):
        if attempt:
            time.sleep(5)
        try:
            entry = next(f for f in _release_files(name, version) if f["packagetype"] == "sdist")
            target = dest / entry["filename"]
            want: str = entry["digests"]["sha256"]
            if target.is_file() and _file_sha256(target) == want:
                return
            part = target.with_name(target.name + ".part")
            with urllib.request.urlopen(entry["url"], timeout=120) as response:
                part.write_bytes(response.read())
            got = _file_sha256(part)
            if got != want:
                part.unlink()
                raise ValueError(f"{entry['url']}: sha256 {got}, PyPI says {want}")
            part.rename(target)
            return
        except (OSError, ValueError, KeyError, StopIteration) as error:
            last = error
    raise IndexBuildError(f"could not fetch the sdist of {name}=={version}: {last!r}")


def _release_files(name: str, version: str) -> list[dict[str, Any]]:
    try:
        files: list[dict[str, Any]] = _get_json(f"https://pypi.org/pypi/{name}/{version}/json")[
            "urls"
        ]
        return files
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
    # Some PyPI mirrors (this machine's among them) serve only the whole project's document.
    files = _get_json(f"https://pypi.org/pypi/{name}/json")["releases"][version]
    return files


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)
