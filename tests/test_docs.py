"""The documentation names every check, so that it cannot silently fall behind the code."""

from __future__ import annotations

import re

from conftest import REPO

from mmdoctor.checks import all_checks
from mmdoctor.checks.nvidia import NVML_FAILURES
from mmdoctor.checks.torch import IMPORT_ERROR_SIGNATURES


def test_every_check_is_documented() -> None:
    readme = (REPO / "README.md").read_text()
    page = (REPO / "docs" / "checks.md").read_text()
    for item in all_checks():
        assert f"`{item.id}`" in readme, item.id
        assert f"`{item.id}`" in page, item.id


def test_every_known_failure_a_check_can_name_is_documented() -> None:
    page = (REPO / "docs" / "checks.md").read_text()
    source = "".join(p.read_text() for p in (REPO / "src" / "mmdoctor" / "checks").glob("*.py"))
    ids = set(re.findall(r'known_failure="([a-z0-9-]+)"', source))
    ids |= {known for _needle, known in IMPORT_ERROR_SIGNATURES}
    ids |= {known for _summary, _text, known in NVML_FAILURES.values() if known}
    assert len(ids) >= 20
    missing = sorted(i for i in ids if i not in page)
    assert not missing, missing
