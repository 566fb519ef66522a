"""Compare compat_matrix.yaml with what PyPI publishes; list what the matrix lacks or contradicts.

    python scripts/matrix_drift.py                        # ask PyPI, print the report
    python scripts/matrix_drift.py --json                 # the findings as JSON
    python scripts/matrix_drift.py --save tests/data/pypi # also keep the (trimmed) responses
    python scripts/matrix_drift.py --from tests/data/pypi # offline, on saved responses
    python scripts/matrix_drift.py --no-allowlist         # also what the allowlist allows

It asks PyPI's JSON simple API (PEP 691) for each project of mmdoctor.drift.PROJECTS (or those
given with --project), over HTTPS, with the CA bundle in SSL_CERT_FILE, REQUESTS_CA_BUNDLE or
PIP_CERT when one is set, else the system's. The comparison is mmdoctor/drift.py's.
Findings scripts/matrix_drift_allowlist.yaml names, each with why, are listed apart and do not
count; an allowance of a project checked that matches nothing is reported and counts.
Exit status: 0 no drift, 1 drift, 2 bad usage or an unreachable registry (one line on stderr).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import ssl
import sys
import urllib.error
import urllib.request
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))  # runs from a checkout without installing mmdoctor
from mmdoctor import drift  # noqa: E402

PYPI = "https://pypi.org/simple"
ACCEPT = "application/vnd.pypi.simple.v1+json"
CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT")


class DriftError(Exception):
    """Bad usage or an unreachable registry: one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise DriftError(message)


def ssl_context() -> ssl.SSLContext:
    """The CA bundle of the first of CA_VARIABLES that is set (a file or a folder), else the
    system's certificates."""
    for variable in CA_VARIABLES:
        path = os.environ.get(variable)
        if not path:
            continue
        try:
            if Path(path).is_dir():
                return ssl.create_default_context(capath=path)
            return ssl.create_default_context(cafile=path)
        except (OSError, ssl.SSLError) as error:
            raise DriftError(f"{variable}={path}: cannot load the CA bundle ({error})") from None
    return ssl.create_default_context()


def fetch(index_url: str, project: str, timeout: float, context: ssl.SSLContext) -> Any:
    url = f"{index_url.rstrip('/')}/{project}/"
    request = urllib.request.Request(
        url, headers={"Accept": ACCEPT, "User-Agent": "mmdoctor-matrix-drift"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            kind = response.headers.get("Content-Type", "")
            body = response.read()
    except urllib.error.HTTPError as error:
        raise DriftError(f"{url}: HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise DriftError(f"cannot reach {url}: {error.reason}") from None
    except (OSError, ValueError) as error:  # timeouts, resets, odd URLs
        raise DriftError(f"cannot reach {url}: {error}") from None
    if "json" not in kind:
        raise DriftError(f"{url}: answered {kind or 'no Content-Type'}, not {ACCEPT}")
    try:
        return checked(url, json.loads(body))
    except ValueError as error:
        raise DriftError(f"{url}: not JSON ({error})") from None


def checked(where: object, data: Any) -> Any:
    """A project response: a mapping with a list of files (PEP 691)."""
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise DriftError(f"{where}: not a PEP 691 project page (no list of files)")
    return data


def read_saved(folder: Path, project: str) -> Any:
    for path in (folder / f"{project}.json", folder / f"{project}.json.gz"):
        if path.is_file():
            try:
                raw = (
                    gzip.decompress(path.read_bytes())
                    if path.suffix == ".gz"
                    else path.read_bytes()
                )
                data = json.loads(raw)
            except (OSError, ValueError) as error:
                raise DriftError(f"{path}: unreadable ({error})") from None
            return checked(path, data)
    raise DriftError(f"{folder / (project + '.json')}: no saved response for {project}")


def read_matrix(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DriftError(f"{path}: cannot read the matrix ({first})") from None
    if not isinstance(data, dict):
        raise DriftError(f"{path}: not a mapping")
    return data


def read_allowlist(path: Path) -> list[drift.Allowance]:
    try:
        return drift.read_allowances(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValueError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DriftError(f"{path}: {first}") from None


def save(folder: Path, responses: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for project, data in responses.items():
        trimmed = drift.trim_response(data)
        files = ",\n".join(json.dumps(entry, sort_keys=True) for entry in trimmed["files"])
        head = {"name": trimmed["name"], "versions": trimmed["versions"]}
        text = json.dumps(head)[:-1] + ', "files": [\n' + files + "\n]}\n"
        (folder / f"{project}.json").write_text(text, encoding="utf-8")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=Path, default=REPO / "compat_matrix.yaml")
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        metavar="DIR",
        help="read saved responses DIR/<project>.json(.gz) instead of PyPI",
    )
    parser.add_argument(
        "--save",
        type=Path,
        metavar="DIR",
        help="write the responses, trimmed, to DIR/<project>.json",
    )
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument(
        "--allowlist",
        type=Path,
        default=REPO / drift.ALLOWLIST,
        metavar="FILE",
        help=f"findings left in on purpose, each with why (default {drift.ALLOWLIST})",
    )
    parser.add_argument(
        "--no-allowlist", action="store_true", help="report every finding, allowed or not"
    )
    parser.add_argument(
        "--project",
        action="append",
        metavar="NAME",
        help="only this project (repeatable); default: all of drift.PROJECTS",
    )
    parser.add_argument("--index-url", default=PYPI, help=f"an HTTPS simple index (default {PYPI})")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    args = parser.parse_args(argv)  # fmt: skip
    if not args.index_url.startswith("https://"):
        raise DriftError(f"--index-url {args.index_url}: only HTTPS indexes are asked")
    if args.source is not None and not args.source.is_dir():
        raise DriftError(f"--from {args.source}: not a folder")
    return args


def collect(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    projects = args.project or list(drift.PROJECTS)
    if args.source is not None:
        return {
            p: read_saved(args.source, p) for p in projects
        }, f"saved responses in {args.source}"
    context = ssl_context()
    responses = {p: fetch(args.index_url, p, args.timeout, context) for p in projects}
    return responses, f"{args.index_url.rstrip('/')}/ (PEP 691 JSON)"


def main(argv: list[str]) -> int:
    try:
        args = parse_args(argv)
        matrix = read_matrix(args.matrix)
        allowances = [] if args.no_allowlist else read_allowlist(args.allowlist)
        responses, source = collect(args)
    except DriftError as error:
        print(f"matrix_drift: {error}", file=sys.stderr)
        return 2
    if args.save is not None:
        try:
            save(args.save, responses)
        except OSError as error:
            print(f"matrix_drift: --save {args.save}: {error}", file=sys.stderr)
            return 2
    checked = drift.apply_allowances(drift.find_drift(responses, matrix), allowances, responses)
    if args.json:
        body = {
            "source": source,
            "findings": [f.as_dict() for f in checked.findings],
            "allowed": [{**f.as_dict(), "why": a.why} for f, a in checked.allowed],
            "stale": [asdict(a) for a in checked.stale],
        }
        print(json.dumps(body, indent=2))
    else:
        print(
            "\n".join(drift.report_lines(checked.findings, source, checked.allowed, checked.stale))
        )
    return 1 if checked.findings or checked.stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
