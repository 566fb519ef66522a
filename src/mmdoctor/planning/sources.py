"""Where packages come from: `--installer`, `--index-url`, `--torch-index-url`,
`--mmcv-base-url` and `--find-links`, checked once (plain http is refused except to this
machine: packages are code, and pip would run them)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mmdoctor.errors import UsageError
from mmdoctor.paths import require_plain
from mmdoctor.redact import redact_credentials

INSTALLERS = ("mim", "pip", "uv")
DEFAULT_INSTALLER = "mim"  # install's and fix's


@dataclass(frozen=True)
class Sources:
    """Where packages come from. None / empty: the defaults (PyPI, PyTorch's and OpenMMLab's
    hosts, and whatever the user's own PIP_* settings add)."""

    index_url: str | None = None  # a PyPI mirror
    torch_index_url: str | None = None  # a mirror of PyTorch's per-variant index
    find_links: tuple[str, ...] = ()  # extra folders or pages of wheels, for every step
    mmcv_base_url: str | None = None  # a mirror of the line's mmcv wheel host (MMCV_BASE_URL)


def make_sources(
    *,
    installer: str,
    index_url: str | None,
    torch_index_url: str | None,
    mmcv_base_url: str | None,
    find_links: Sequence[str],
) -> Sources:
    """Validate --installer and the mirrors."""
    if installer not in INSTALLERS:
        raise UsageError(f"--installer {installer!r}: expected one of {', '.join(INSTALLERS)}")
    if installer == "uv" and shutil.which("uv") is None:
        raise UsageError(
            "--installer uv: no uv on PATH (install it, or put the folder that holds it on "
            "PATH), or use mim or pip"
        )
    for option, url in (
        ("--index-url", index_url),
        ("--torch-index-url", torch_index_url),
        ("--mmcv-base-url (MMCV_BASE_URL)", mmcv_base_url),
    ):
        if url is not None:
            _check_url(option, url)
    for link in find_links:
        require_plain("--find-links", link)
        if "://" in link:
            _check_url("--find-links", link)
        elif not Path(link).expanduser().is_dir():
            raise UsageError(f"--find-links {link}: not a folder or a URL")
    return Sources(
        index_url=index_url,
        torch_index_url=torch_index_url,
        find_links=tuple(
            link if "://" in link else str(Path(link).expanduser().absolute())
            for link in find_links
        ),
        mmcv_base_url=mmcv_base_url,
    )


def _check_url(option: str, url: str) -> None:
    require_plain(option, url)
    shown = redact_credentials(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not one)
    except ValueError:  # its words may quote a piece of a password: not said
        raise UsageError(
            f"{option} {shown}: not a URL (its host or port does not parse; a / ? # @ or : in "
            "a password must be %-encoded)"
        ) from None
    if parts.scheme not in ("https", "http", "file") or (
        parts.scheme != "file" and not parts.hostname
    ):
        raise UsageError(f"{option} {shown}: expected an https:// URL")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise UsageError(
            f"{option} {shown}: plain http is only accepted for this machine; use https"
        )
