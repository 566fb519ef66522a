"""The drift check (src/mmdoctor/drift.py, scripts/matrix_drift.py), offline.

The pure functions run on small hand-made PEP 691 responses, one finding kind at a time; the
script runs in a subprocess on the responses saved from PyPI on 2026-12-02 under
tests/data/pypi (written by `scripts/matrix_drift.py --save tests/data/pypi`).
"""

from __future__ import annotations

import gzip
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from conftest import REPO

from mmdoctor import drift
from mmdoctor.drift import Finding

SCRIPT = REPO / "scripts" / "matrix_drift.py"
SAVED = REPO / "tests" / "data" / "pypi"
X86 = "manylinux_2_28_x86_64"


def _file(name: str, requires: str | None = ">=3.10", yanked: bool | str = False) -> dict[str, Any]:
    return {
        "filename": name,
        "hashes": {"sha256": "0" * 64},
        "requires-python": requires,
        "size": 1,
        "url": f"https://files.example/{name}",
        "yanked": yanked,
    }


def response(name: str, *files: dict[str, Any]) -> dict[str, Any]:
    versions = sorted({str(drift.file_version(f["filename"])) for f in files})
    return {
        "meta": {"api-version": "1.1"},
        "name": name,
        "versions": versions,
        "files": list(files),
    }


def wheels(
    project: str,
    version: str,
    pythons: tuple[int, ...] = (10, 11),
    platforms: tuple[str, ...] = (X86,),
) -> list[dict[str, Any]]:
    return [
        _file(f"{project}-{version}-cp3{m}-cp3{m}-{platform}.whl")
        for m in pythons
        for platform in platforms
    ]


def matrix() -> dict[str, Any]:
    """A tiny matrix that agrees with responses(), with keys and tables the check must ignore."""
    return {
        "schema_version": 1,
        "torch_releases": {
            "source": "test",
            "rows": [
                {
                    "torch": "2.1",
                    "latest": "2.1.2",
                    "torchvision": "0.16",
                    "torchvision_latest": "0.16.2",
                    "python": ">=3.10,<3.12",
                    "platforms": ["linux_x86_64"],
                    "variants": ["cu121"],
                    "cxx_std": 17,
                },
            ],
        },
        "mmcv_wheels": {
            "rows": [{"package": "mmcv", "versions": ["2.1.0", "2.0.1"], "python": ">=3.8"}]
        },
        "mmdet_releases": {"rows": [{"mmdet": "3.3.0", "line": 3}, {"mmdet": "3.2.0", "line": 3}]},
        "stack_lines": {
            "rows": [
                {
                    "line": "openmmlab",
                    "mmdet": "mmdet",
                    "mmengine": "mmengine",
                    "mmengine_latest": "0.10.7",
                }
            ]
        },
        "a_table_from_later": {"rows": ["odd", 3, {"torch": "9.9"}]},
    }


def responses() -> dict[str, dict[str, Any]]:
    """Old releases below the oldest row, a pre-release and a yanked patch: none is drift."""
    return {
        "torch": response(
            "torch",
            _file(f"torch-1.0.0-cp37-cp37m-{X86}.whl", ">=3.6"),
            *wheels("torch", "2.1.0"),
            *wheels("torch", "2.1.2"),
            _file(f"torch-2.1.3-cp310-cp310-{X86}.whl", yanked="broken build"),
            *wheels("torch", "2.2.0rc1"),
        ),
        "torchvision": response(
            "torchvision",
            _file("torchvision-0.2.0-py2.py3-none-any.whl", None),
            *wheels("torchvision", "0.16.2"),
        ),
        "mmcv": response(
            "mmcv",
            _file("mmcv-1.7.0.tar.gz"),
            _file("mmcv-2.0.1.tar.gz"),
            _file("mmcv-2.1.0.tar.gz"),
            _file("mmcv-2.2.0rc1.tar.gz"),
        ),
        "mmdet": response(
            "mmdet",
            _file("mmdet-2.28.2-py3-none-any.whl"),
            _file("mmdet-3.2.0-py3-none-any.whl"),
            _file("mmdet-3.3.0-py3-none-any.whl"),
        ),
        "mmengine": response(
            "mmengine", _file("mmengine-0.10.6-py3-none-any.whl"), _file("mmengine-0.10.7.tar.gz")
        ),
    }


def kinds(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.project, f.kind) for f in findings]


# -- the pure functions -------------------------------------------------------------------


def test_a_matrix_that_agrees_has_no_drift() -> None:
    assert drift.find_drift(responses(), matrix()) == []
    assert drift.report_lines([], "PyPI") == ["No drift: compat_matrix.yaml agrees with PyPI."]


def test_a_new_torch_minor_is_a_missing_release_and_an_old_one_is_not() -> None:
    data = responses()
    data["torch"]["files"] += wheels("torch", "2.2.0") + wheels("torch", "2.2.1")
    data["torch"]["files"] += wheels("torch", "1.13.1")  # older than the oldest row: history
    found = drift.find_drift(data, matrix())
    assert kinds(found) == [("torch", "missing_release")]
    assert found[0].pypi == "2.2.1 (newest 2.2 patch)"
    assert "no torch 2.2 row" in found[0].matrix


def test_a_newer_patch_of_torch_and_of_torchvision() -> None:
    data = responses()
    data["torch"]["files"] += wheels("torch", "2.1.4")
    data["torchvision"]["files"] += wheels("torchvision", "0.16.3")
    found = drift.find_drift(data, matrix())
    assert found == [
        Finding("torch", "newer_patch", "row 2.1: latest 2.1.2", "2.1.4"),
        Finding(
            "torchvision",
            "newer_patch",
            "row 2.1 (torchvision 0.16): torchvision_latest 0.16.2",
            "0.16.3",
        ),
    ]


def test_what_the_matrix_names_and_pypi_lacks_is_not_on_pypi() -> None:
    data = responses()
    table = matrix()
    table["torch_releases"]["rows"][0]["latest"] = "2.1.3"  # only yanked files
    table["torch_releases"]["rows"].append({"torch": "2.9", "latest": "2.9.0", "python": ">=3.10"})
    table["mmdet_releases"]["rows"].append({"mmdet": "3.4.0"})
    found = drift.find_drift(data, table)
    assert [(f.kind, f.pypi) for f in found if f.kind == "not_on_pypi"] == [
        ("not_on_pypi", "2.1.3: only yanked files"),
        ("not_on_pypi", "2.9 releases: none"),
        ("not_on_pypi", "3.4.0: no such release"),
    ]
    assert ("torch", "newer_patch") not in kinds(found)  # 2.1.2 is older than what it names


def test_a_python_the_row_allows_without_a_wheel_is_a_contradiction() -> None:
    table = matrix()
    table["torch_releases"]["rows"][0]["python"] = ">=3.10,<3.13"
    found = drift.find_drift(responses(), table)
    assert kinds(found) == [
        ("torch", "python_contradiction"),
        ("torchvision", "python_contradiction"),
    ]
    assert found[0].matrix == "row 2.1: python >=3.10,<3.13 (linux x86_64) allows 3.12"
    assert found[0].pypi == "2.1.2 wheels (linux x86_64): 3.10, 3.11; none for 3.12"


def test_wheels_for_a_python_the_row_excludes_are_python_missing() -> None:
    data = responses()
    data["torch"]["files"] += wheels("torch", "2.1.2", pythons=(9,))
    found = drift.find_drift(data, matrix())
    assert kinds(found) == [("torch", "python_missing")]
    assert found[0].matrix.endswith("excludes 3.9")
    assert found[0].pypi == "2.1.2 wheels (linux x86_64): 3.9, 3.10, 3.11"


def test_python_on_and_torchvision_python_name_the_pythons_of_one_platform() -> None:
    row = {"python": ">=3.9,<3.14", "torchvision_python": ">=3.9,<3.13",
           "python_on": {"windows": ">=3.9,<3.13", "linux-aarch64": ">=3.9,<3.12"}}  # fmt: skip
    assert drift.python_spec(row, "linux x86_64", "torch") == ("python", ">=3.9,<3.14")
    assert drift.python_spec(row, "windows amd64", "torch") == ("python_on windows", ">=3.9,<3.13")
    assert drift.python_spec(row, "linux aarch64", "torch")[0] == "python_on linux-aarch64"
    assert drift.python_spec(row, "linux aarch64", "torchvision")[0] == "torchvision_python"
    # torchvision's own per-platform Pythons (torchvision_python_on) come first for torchvision
    row["torchvision_python_on"] = {"darwin-aarch64": ">=3.10,<3.13", "windows": ">=3.9,<3.12"}
    assert drift.python_spec(row, "macos arm64", "torchvision") == (
        "torchvision_python_on darwin-aarch64",
        ">=3.10,<3.13",
    )
    on_windows = drift.python_spec(row, "windows amd64", "torchvision")
    assert on_windows[0] == "torchvision_python_on windows"
    assert drift.python_spec(row, "linux aarch64", "torchvision")[0] == "torchvision_python"
    assert drift.python_spec(row, "macos arm64", "torch") == ("python", ">=3.9,<3.14")


def test_the_pythons_are_checked_per_platform_and_shared_findings_merge() -> None:
    data = responses()
    platforms = (X86, "manylinux_2_28_aarch64", "win_amd64")
    data["torch"]["files"] = wheels("torch", "2.1.2", pythons=(10, 11), platforms=platforms)
    data["torch"]["files"] += wheels("torch", "2.1.2", pythons=(12,), platforms=(X86,))
    table = matrix()
    row = table["torch_releases"]["rows"][0]
    row.update(python=">=3.10,<3.13", platforms=["linux x86_64", "linux aarch64", "win_amd64"])
    found = drift.find_drift({"torch": data["torch"]}, table)
    assert found == [
        Finding(
            "torch",
            "python_contradiction",
            "row 2.1: python >=3.10,<3.13 (linux aarch64, windows amd64) allows 3.12",
            "2.1.2 wheels (linux aarch64, windows amd64): 3.10, 3.11; none for 3.12",
        )
    ]
    row["python_on"] = {"linux-aarch64": ">=3.10,<3.12", "windows": ">=3.10,<3.12"}
    assert drift.find_drift({"torch": data["torch"]}, table) == []


def test_abi3_and_python_agnostic_wheels_cover_their_pythons() -> None:
    abi3 = [drift.IndexFile(f"x-1.0-cp39-abi3-{X86}.whl", ">=3.9", False)]
    tags = drift.python_tags(abi3, "linux x86_64")
    assert tags.abi3 == (3, 9) and tags.covers((3, 13)) and not tags.covers((3, 8))
    agnostic = [drift.IndexFile(f"x-1.0-py3-none-{X86}.whl", ">=3.10,!=3.14.1", False)]
    tags = drift.python_tags(agnostic, "linux x86_64")
    assert tags.describe() == "py3 (requires-python >=3.10,!=3.14.1)"
    assert tags.covers((3, 14)) and not tags.covers((3, 9))
    assert not drift.python_tags(agnostic, "windows amd64")


def test_platforms_against_the_row_the_platforms_table_or_nothing() -> None:
    data = responses()
    data["torch"]["files"] += wheels("torch", "2.1.2", platforms=("macosx_11_0_arm64",))
    table = matrix()
    row = table["torch_releases"]["rows"][0]
    row["platforms"] = ["linux_x86_64", "linux_aarch64"]
    assert [(f.matrix, f.pypi) for f in drift.find_drift(data, table)] == [
        (
            "row 2.1: platforms: linux aarch64, linux x86_64",
            "2.1.2 has wheels for linux x86_64, macos arm64; not in the matrix: macos arm64; "
            "no wheels for: linux aarch64",
        )
    ]
    del row["platforms"]  # the platforms table, by torch range
    table["platforms"] = {"rows": [
        {"os": "linux", "arch": "x86_64", "torch": ">=1.8"},
        {"os": "darwin", "arch": "aarch64", "torch": ">=1.8"},
        {"os": "darwin", "arch": "x86_64", "torch": ">=1.8,<2.1"},
    ]}  # fmt: skip
    assert drift.find_drift(data, table) == []
    del table["platforms"]  # nothing says: what PyPI has is listed
    assert drift.find_drift(data, table) == [
        Finding(
            "torch",
            "platform",
            "row 2.1: no platforms (models linux x86_64 only)",
            "2.1.2 has wheels for linux x86_64, macos arm64",
        )
    ]


@pytest.mark.parametrize(
    ("tag", "families"),
    [
        ("manylinux_2_28_x86_64", ("linux x86_64",)),
        ("manylinux1_x86_64", ("linux x86_64",)),
        ("manylinux2014_aarch64", ("linux aarch64",)),
        ("linux_x86_64", ("linux x86_64",)),
        ("musllinux_1_2_x86_64", ("linux (musl) x86_64",)),
        ("win_amd64", ("windows amd64",)),
        ("win32", ("windows x86",)),
        ("macosx_11_0_arm64", ("macos arm64",)),
        ("macosx_10_9_x86_64", ("macos x86_64",)),
        ("macosx_10_9_universal2", ("macos arm64", "macos x86_64")),
        ("any", ("any",)),
    ],
)
def test_platform_families_of_wheel_tags(tag: str, families: tuple[str, ...]) -> None:
    assert drift.platform_families(tag) == families


@pytest.mark.parametrize(
    ("spelling", "family"),
    [
        ("linux_x86_64", "linux x86_64"),
        ("Linux x86-64", "linux x86_64"),
        ("manylinux_2_28_aarch64", "linux aarch64"),
        ("linux arm64", "linux aarch64"),
        ("win_amd64", "windows amd64"),
        ("windows x86_64", "windows amd64"),
        ("darwin aarch64", "macos arm64"),
        ("macOS-x86_64", "macos x86_64"),
        ("solaris sparc", "solaris sparc"),
    ],
)
def test_matrix_spellings_of_platforms(spelling: str, family: str) -> None:
    assert drift.canonical_platform(spelling) == family


def test_mmcv_and_mmdet_releases_no_row_has_newer_than_the_oldest() -> None:
    data = responses()
    data["mmcv"]["files"] += [_file("mmcv-1.7.2.tar.gz"), _file("mmcv-2.0.2.tar.gz")]
    data["mmcv"]["files"] += [_file("mmcv-2.2.0.post1.tar.gz")]
    data["mmdet"]["files"] += [_file("mmdet-2.28.3.tar.gz"), _file("mmdet-3.2.1.tar.gz")]
    found = drift.find_drift(data, matrix())
    assert [(f.project, f.kind, f.pypi) for f in found] == [
        ("mmcv", "missing_release", "2.0.2"),
        ("mmcv", "missing_release", "2.2.0.post1"),
        ("mmdet", "missing_release", "3.2.1"),
    ]
    assert found[0].matrix == "mmcv_wheels: no 2.0.2 (oldest known 2.0.1)"


def test_mmengine_newer_than_its_latest() -> None:
    data = responses()
    data["mmengine"]["files"] += [_file("mmengine-0.10.8.tar.gz"), _file("mmengine-0.11.0.tar.gz")]
    found = drift.find_drift(data, matrix())
    assert [(f.kind, f.matrix, f.pypi) for f in found] == [
        ("newer_patch", "stack_lines openmmlab: mmengine_latest 0.10.7", "0.10.8"),
        ("missing_release", "stack_lines openmmlab: mmengine_latest 0.10.7", "0.11.0"),
    ]


def test_projects_without_a_table_are_not_modelled() -> None:
    data = {
        "onedl-mmcv": response(
            "onedl-mmcv", _file("onedl_mmcv-2.3.5.tar.gz"), _file("onedl_mmcv-2.3.6.tar.gz")
        ),
        "openmim": response("openmim", _file("openmim-0.3.9-py2.py3-none-any.whl", ">=3.6")),
        "mmengine": response("mmengine", _file("mmengine-0.10.7.tar.gz")),
    }
    table = matrix()
    table["onedl"] = {"rows": []}  # a table named like it that no check reads yet
    del table["stack_lines"]  # a table this matrix lacks: its projects are not modelled either
    found = drift.find_drift(data, table)
    assert [f.project for f in found] == ["mmengine", "openmim", "onedl-mmcv"]  # report order
    assert {f.kind for f in found} == {"not_modelled"}
    assert found[1].pypi == "newest 0.3.9: requires-python >=3.6; wheels py2.py3-none-any"
    assert found[2] == Finding(
        "onedl-mmcv",
        "not_modelled",
        "no table this check reads (tables named like it: onedl)",
        "newest 2.3.6: requires-python >=3.10; sdist only",
    )


def test_a_mmcv_wheels_row_for_another_package_makes_it_modelled() -> None:
    table = matrix()
    table["mmcv_wheels"]["rows"].append({"package": "onedl-mmcv", "versions": ["2.3.5"]})
    data = {
        "onedl-mmcv": response(
            "onedl-mmcv", _file("onedl_mmcv-2.3.5.tar.gz"), _file("onedl_mmcv-2.3.6.tar.gz")
        )
    }
    assert kinds(drift.find_drift(data, table)) == [("onedl-mmcv", "missing_release")]


def test_odd_rows_and_entries_are_skipped() -> None:
    table = matrix()
    table["torch_releases"]["rows"] += ["not a row", {"torch": None}, {"torch": "x.y"}]
    table["mmcv_wheels"]["rows"][0]["versions"] += [None, "not-a-version"]
    data = responses()
    data["torch"]["files"] += ["not a file", {"filename": "torch-2.1.2.exe"}, {"filename": ""}]
    assert drift.find_drift(data, table) == []


def test_trim_keeps_what_the_check_reads() -> None:
    full = responses()["torch"]
    trimmed = drift.trim_response(full)
    assert set(trimmed) == {"name", "versions", "files"}
    assert set(trimmed["files"][0]) == {"filename", "requires-python", "yanked"}
    yanked = [f["yanked"] for f in trimmed["files"] if f["filename"].startswith("torch-2.1.3-")]
    assert yanked == ["broken build"]
    assert drift.parse_project(trimmed) == drift.parse_project(full)


def test_report_groups_one_line_per_finding() -> None:
    found = [
        Finding("torch", "newer_patch", "row 2.1: latest 2.1.2", "2.1.4"),
        Finding("torch", "python_missing", "a", "b"),
        Finding("openmim", "not_modelled", "c", "d"),
    ]
    lines = drift.report_lines(found, "PyPI")
    assert lines[0] == "3 findings, compat_matrix.yaml against PyPI:"
    assert lines[1:4] == [
        "",
        "torch (2)",
        "  newer_patch     matrix: row 2.1: latest 2.1.2  |  PyPI: 2.1.4",
    ]
    assert lines[-2:] == ["openmim (1)", "  not_modelled    matrix: c  |  PyPI: d"]


# -- the script, on the saved responses ---------------------------------------------------


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def test_the_saved_responses_are_small_and_cover_every_project() -> None:
    assert {p.name for p in SAVED.iterdir()} == {f"{p}.json" for p in drift.PROJECTS}
    assert sum(p.stat().st_size for p in SAVED.iterdir()) < 1_500_000


def test_the_script_finds_no_drift_in_a_matrix_that_matches_pypi(tmp_path: Path) -> None:
    tiny = {
        "torch_releases": {
            "rows": [
                {"torch": "2.15", "latest": "2.15.0", "python": ">=3.11,<3.16",
                 "platforms": ["linux x86_64", "linux aarch64", "windows amd64", "macos arm64"]},
            ]
        },
        "stack_lines": {"rows": [{"line": "openmmlab", "mmdet": "mmdet", "mmengine": "mmengine", "mmengine_latest": "0.10.7"}]},
    }  # fmt: skip
    path = tmp_path / "matrix.yaml"
    path.write_text(yaml.safe_dump(tiny))
    done = run(
        "--from", str(SAVED), "--matrix", str(path), "--project", "torch", "--project", "mmengine"
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stdout
    assert done.stdout.startswith("No drift: compat_matrix.yaml agrees with saved responses in")


def test_the_script_reports_drift_in_a_tiny_matrix_as_json(tmp_path: Path) -> None:
    tiny = {
        "torch_releases": {
            "rows": [{"torch": "2.14", "latest": "2.14.0", "python": ">=3.10,<3.16"}]
        },
        "stack_lines": {
            "rows": [
                {
                    "line": "openmmlab",
                    "mmdet": "mmdet",
                    "mmengine": "mmengine",
                    "mmengine_latest": "0.10.5",
                }
            ]
        },
    }
    path = tmp_path / "matrix.yaml"
    path.write_text(yaml.safe_dump(tiny))
    args = ["--from", str(SAVED), "--matrix", str(path), "--json"]
    done = run(*args, "--project", "torch", "--project", "mmengine", "--project", "onedl-mim")
    assert done.returncode == 1, done.stderr
    body = json.loads(done.stdout)
    found = [(f["project"], f["kind"], f["pypi"]) for f in body["findings"]]
    assert found == [
        ("torch", "missing_release", "2.15.0 (newest 2.15 patch)"),
        ("torch", "newer_patch", "2.14.1"),
        (
            "torch",
            "python_contradiction",
            "2.14.1 wheels (linux x86_64): 3.10, 3.11, 3.12, 3.13, 3.14; none for 3.15",
        ),
        (
            "torch",
            "platform",
            "2.14.1 has wheels for linux aarch64, linux x86_64, macos arm64, windows amd64",
        ),
        ("mmengine", "newer_patch", "0.10.6"),
        ("mmengine", "newer_patch", "0.10.7"),
        ("onedl-mim", "not_modelled", "newest 0.5.1: requires-python >=3.10; sdist only"),
    ]


def test_the_script_on_the_shipped_matrix_reports_the_projects_it_does_not_model() -> None:
    done = run("--from", str(SAVED), "--json")
    assert done.returncode in (0, 1) and done.stderr == "", done.stderr
    findings = json.loads(done.stdout)["findings"]
    assert {f["kind"] for f in findings} <= set(drift.KINDS)
    assert {f["project"] for f in findings} <= set(drift.PROJECTS)
    assert done.returncode == (1 if findings else 0)
    not_modelled = {f["project"] for f in findings if f["kind"] == "not_modelled"}
    # Both lines are modelled now: their mmcv wheels, mmdet releases, mmengine and mim.
    assert not_modelled == set(), not_modelled

    text = run("--from", str(SAVED))
    assert text.returncode == done.returncode
    report = text.stdout.split("\nallowed (")[0]  # the allowed findings are listed apart
    assert len([line for line in report.splitlines() if line.startswith("  ")]) == len(findings)


def test_save_writes_the_trimmed_responses_it_reads(tmp_path: Path) -> None:
    done = run("--from", str(SAVED), "--save", str(tmp_path / "copy"), "--project", "torch")
    assert done.returncode in (0, 1), done.stderr
    assert (tmp_path / "copy" / "torch.json").read_bytes() == (SAVED / "torch.json").read_bytes()

    packed = tmp_path / "packed"
    packed.mkdir()
    (packed / "mmengine.json.gz").write_bytes(gzip.compress((SAVED / "mmengine.json").read_bytes()))
    gz = run("--from", str(packed), "--project", "mmengine", "--json")
    plain = run("--from", str(SAVED), "--project", "mmengine", "--json")
    assert json.loads(gz.stdout)["findings"] == json.loads(plain.stdout)["findings"]


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--from", "no/such/dir"], {}, "--from no/such/dir: not a folder"),
        (["--from", "tests", "--project", "torch"], {}, "no saved response for torch"),
        (["--matrix", "no-such.yaml", "--from", "tests/data/pypi"], {}, "cannot read the matrix"),
        (["--no-such-option"], {}, "unrecognized arguments"),
        (["--index-url", "http://pypi.org/simple"], {}, "only HTTPS"),
        # nothing listens on port 9 here: refused at once, no network needed
        (["--index-url", "https://127.0.0.1:9/simple", "--project", "torch", "--timeout", "5"], {},
         "cannot reach https://127.0.0.1:9/simple/torch/"),
        (["--project", "torch"], {"SSL_CERT_FILE": "/no/such/bundle.pem"}, "SSL_CERT_FILE=/no/such/bundle.pem"),
    ],
)  # fmt: skip
def test_bad_usage_and_an_unreachable_registry_exit_2_with_one_line(
    args: list[str], env: dict[str, str], says: str
) -> None:
    done = run(*args, env=env)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("matrix_drift: ") and says in done.stderr, done.stderr


# -- the script against a local PEP 691 index over HTTPS (the test CA in SSL_CERT_FILE) -------


class _Index(http.server.BaseHTTPRequestHandler):
    """/simple/<project>/ from tests/data/pypi as PEP 691 JSON; /html/<project>/ as HTML."""

    accepts: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        _Index.accepts.append(self.headers.get("Accept", ""))
        parts = self.path.strip("/").split("/")
        file = SAVED / f"{parts[-1]}.json"
        if len(parts) != 2 or not file.is_file():
            self.send_error(404)
            return
        body = file.read_bytes() if parts[0] == "simple" else b"<html></html>"
        kind = "application/vnd.pypi.simple.v1+json" if parts[0] == "simple" else "text/html"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def index(tls: tuple[Path, Path, Path]) -> Iterator[tuple[str, Path]]:
    """(https://127.0.0.1:PORT, the CA certificate that signs it)."""
    ca, cert, key = tls
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Index)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    _Index.accepts = []
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", ca
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT"])
def test_the_script_asks_an_https_index_for_pep_691_json(
    index: tuple[str, Path], variable: str, tmp_path: Path
) -> None:
    base, ca = index
    args = ["--index-url", f"{base}/simple/", "--project", "onedl-mim", "--project", "openmim"]
    env = {"SSL_CERT_FILE": "", "REQUESTS_CA_BUNDLE": "", "PIP_CERT": "", variable: str(ca)}
    done = run(*args, "--json", "--save", str(tmp_path), env=env)
    # both mims are modelled (stack_lines) and at their newest release: no drift
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["findings"] == []
    assert _Index.accepts == ["application/vnd.pypi.simple.v1+json"] * 2
    assert (tmp_path / "openmim.json").read_bytes() == (SAVED / "openmim.json").read_bytes()


def test_without_the_ca_an_unknown_404_or_html_exit_2(index: tuple[str, Path]) -> None:
    base, ca = index
    env = {"SSL_CERT_FILE": str(ca), "REQUESTS_CA_BUNDLE": "", "PIP_CERT": ""}
    cases = [
        ({**env, "SSL_CERT_FILE": ""}, f"{base}/simple", "openmim", "CERTIFICATE_VERIFY_FAILED"),
        (env, f"{base}/simple", "no-such-project", "HTTP 404"),
        (env, f"{base}/html", "openmim", "answered text/html"),
    ]
    for environ, url, project, says in cases:
        done = run("--index-url", url, "--project", project, env=environ)
        assert done.returncode == 2, done.stdout
        assert len(done.stderr.splitlines()) == 1 and says in done.stderr, done.stderr


# -- the allowlist: findings left in on purpose, each with why (issue 28) -------------------

ALLOWLIST = REPO / "scripts" / "matrix_drift_allowlist.yaml"


def test_an_allowance_takes_out_the_one_finding_it_names_and_says_why() -> None:
    found = [
        Finding("torch", "newer_patch", "row 2.1: latest 2.1.1", "2.1.2"),
        Finding("torch", "newer_patch", "row 2.2: latest 2.2.1", "2.2.2"),
    ]
    allowances = drift.read_allowances(
        {"allowed": [{"project": "torch", "kind": "newer_patch", "matrix": "row 2.1: latest 2.1.1",
                      "pypi": "2.1.2", "why": "measured with 2.1.1"}]}
    )  # fmt: skip
    checked = drift.apply_allowances(found, allowances, projects={"torch"})
    assert checked.findings == [found[1]]
    assert [(f, a.why) for f, a in checked.allowed] == [(found[0], "measured with 2.1.1")]
    assert checked.stale == []
    lines = drift.report_lines(checked.findings, "here", checked.allowed, checked.stale)
    assert lines[0] == "1 findings, compat_matrix.yaml against here:"
    assert "allowed (1), scripts/matrix_drift_allowlist.yaml:" in lines
    assert any("why: measured with 2.1.1" in line for line in lines)


def test_an_allowance_that_matches_nothing_is_stale_and_other_projects_are_not_asked() -> None:
    allowances = drift.read_allowances(
        {"allowed": [
            {"project": "torch", "kind": "newer_patch", "matrix": "m", "pypi": "p", "why": "w"},
            {"project": "mmcv", "kind": "newer_patch", "matrix": "m", "pypi": "p", "why": "w"},
        ]}
    )  # fmt: skip
    checked = drift.apply_allowances([], allowances, projects={"torch"})
    assert [a.project for a in checked.stale] == ["torch"]
    lines = drift.report_lines([], "here", [], checked.stale)
    assert lines[0].startswith("No drift") and any("no longer found" in line for line in lines)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ([], "an 'allowed' list"),
        ({"allowed": [{"project": "torch"}]}, "entry 1"),
        ({"allowed": [{"project": "torch", "kind": "odd", "matrix": "m", "pypi": "p",
                       "why": "w"}]}, "kind"),
        ({"allowed": [{"project": "torch", "kind": "newer_patch", "matrix": "m", "pypi": "p",
                       "why": ""}]}, "why"),
    ],
)  # fmt: skip
def test_a_bad_allowlist_is_a_value_error_naming_the_entry(data: Any, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        drift.read_allowances(data)


def test_the_shipped_allowlist_leaves_no_finding_on_the_saved_responses() -> None:
    done = run("--from", str(SAVED), "--json")
    body = json.loads(done.stdout)
    assert (done.returncode, body["findings"], body["stale"]) == (0, [], []), done.stdout
    assert body["allowed"] and all(a["why"] for a in body["allowed"])
    text = run("--from", str(SAVED))
    assert text.returncode == 0 and text.stdout.startswith("No drift"), text.stdout
    everything = run("--from", str(SAVED), "--no-allowlist", "--json")
    assert everything.returncode == 1
    assert len(json.loads(everything.stdout)["findings"]) == len(body["allowed"])


def test_a_stale_or_broken_allowlist_file(tmp_path: Path) -> None:
    stale = tmp_path / "allow.yaml"
    entry = {"project": "mmengine", "kind": "newer_patch", "matrix": "x", "pypi": "y", "why": "z"}
    stale.write_text(yaml.safe_dump({"allowed": [entry]}))
    done = run("--from", str(SAVED), "--project", "mmengine", "--allowlist", str(stale))
    assert done.returncode == 1 and "no longer found" in done.stdout, done.stdout
    broken = tmp_path / "broken.yaml"
    broken.write_text("allowed: [{project: torch}]\n")
    bad = run("--from", str(SAVED), "--allowlist", str(broken))
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1, bad.stderr
    assert bad.stderr.startswith(f"matrix_drift: {broken}: entry 1"), bad.stderr
