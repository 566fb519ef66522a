"""The shipped compatibility matrix: valid against its schema, sourced, consistent, shipped."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import REPO
from packaging.version import Version

from mmdoctor.planning.matrix import MatrixError, load_matrix

MATRIX = REPO / "compat_matrix.yaml"
SCHEMA = REPO / "compat_matrix.schema.json"


def raw() -> dict:
    return yaml.safe_load(MATRIX.read_text())


def test_shipped_matrix_matches_its_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(raw(), schema)


def test_every_table_and_fact_names_a_source() -> None:
    data = raw()
    for key, table in data.items():
        if isinstance(table, dict) and "rows" in table:
            assert table.get("source"), key
    assert all(fact["source"] for fact in data["facts"].values())


def test_tables_are_consistent() -> None:
    matrix = load_matrix(str(MATRIX))
    # Every torch minor from 1.8 to 2.15 is there once, each torchvision newer than the last
    # (2.15 has none yet), and the C++ standard its headers need never goes down.
    torches = [Version(r.torch) for r in matrix.torch_releases]
    assert torches == sorted(torches) and len(set(torches)) == len(torches)
    assert str(torches[0]) == "1.8" and str(torches[-1]) == "2.15"
    visions = [Version(r.torchvision) for r in matrix.torch_releases if r.torchvision]
    assert visions == sorted(visions)
    standards = [r.cxx_std for r in matrix.torch_releases]
    assert standards == sorted(standards)
    # A newer CUDA never needs an older driver.
    drivers = [d for _cuda, d in sorted(matrix.toolkit_drivers)]
    assert drivers == sorted(drivers)
    # Every CUDA of the toolkit table is covered by the minimum-driver table.
    for cuda, toolkit_driver in matrix.toolkit_drivers:
        minimum = matrix.min_driver(str(cuda), "linux")
        assert minimum is not None, cuda
        assert minimum <= toolkit_driver, cuda


@pytest.mark.parametrize(
    ("driver", "expected"),
    # ltt 0.8.1 / uv oracle (driver-cuda-torch.md §6), for the CUDA families.
    [
        ("374", None),
        ("440.33", "10.2"),
        ("450.80.02", "11.0"),
        ("470.82.01", "11.4"),
        ("525.60.13", "12.0"),
        ("535.104.05", "12.2"),
        ("580.65.06", "13.0"),
        ("590.44.01", "13.1"),
    ],
)
def test_max_cuda_for_driver(driver: str, expected: str | None) -> None:
    assert load_matrix().max_cuda_for_driver(driver) == expected


@pytest.mark.parametrize(
    ("cuda", "os_name", "minimum"),
    [
        ("12.6", "linux", "525.60.13"),
        ("12.1", "windows", "528.33"),
        ("11.8", "linux", "450.80.02"),
        ("11.0", "linux", "450.36.06"),
        ("13.0", "linux", "580.65.06"),
        ("10.2", "linux", "440.33"),
    ],
)
def test_min_driver(cuda: str, os_name: str, minimum: str) -> None:
    assert str(load_matrix().min_driver(cuda, os_name)) == minimum


def test_a_matrix_with_a_missing_key_is_a_clear_error(tmp_path: Path) -> None:
    data = raw()
    del data["torch_releases"]
    broken = tmp_path / "m.yaml"
    broken.write_text(yaml.safe_dump(data))
    with pytest.raises(MatrixError, match=r"m\.yaml: missing key 'torch_releases'"):
        load_matrix(str(broken))


def test_a_bad_value_is_reported_with_its_line(tmp_path: Path) -> None:
    text = MATRIX.read_text().replace(
        '{cuda: "12.x", linux: "525.60.13"', '{cuda: "12.x", linux: "525.x"', 1
    )
    broken = tmp_path / "m.yaml"
    broken.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), start=1) if '"525.x"' in row)
    with pytest.raises(MatrixError, match=rf"m\.yaml:{line}: Invalid version: '525\.x'"):
        load_matrix(str(broken))


def test_matrix_and_schema_ship_inside_the_wheel(tmp_path: Path) -> None:
    pytest.importorskip("hatchling")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("mmdoctor-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "mmdoctor/compat_matrix.yaml" in names
    assert "mmdoctor/compat_matrix.schema.json" in names
    assert "mmdoctor/probe/inside_script.py" in names
    assert "mmdoctor/known_failures.yaml" in names
    assert "mmdoctor/smoke/data/astronaut.jpg" in names


def test_cross_references_resolve() -> None:
    matrix = load_matrix(str(MATRIX))
    torch_minors = {r.torch for r in matrix.torch_releases}
    for release in matrix.torch_releases:
        # Every variant a torch release names has its CUDA and architectures in the matrix.
        for variant in release.variants:
            assert variant in matrix.cuda_variants, (release.torch, variant)
        assert set(release.unverified_variants) <= set(release.variants)
        assert Version(release.latest).release[:2] == release.version.release[:2]
        assert release.torchvision_latest.startswith(release.torchvision + ".") or not (
            release.torchvision or release.torchvision_latest
        )
        for where, python in release.python_on.items():
            assert where.split("-")[0] in ("linux", "windows", "darwin"), where
            assert python != release.python, (release.torch, where)
    for info in matrix.cuda_variants.values():
        assert matrix.min_driver(str(info.cuda), "linux") is not None, info.variant
        assert list(info.sm) == sorted(info.sm)
        # A per-release list is for a release that has this variant.
        for minor in info.by_torch:
            release = matrix.torch_release(Version(minor))
            assert release is not None and info.variant in release.variants, (info, minor)
    known_mmcv = {(s.package, v) for s in matrix.mmcv_wheels for v in s.versions}
    for wheel_set in matrix.mmcv_wheels:
        for variant, minors in wheel_set.sets.items():
            assert variant == "cpu" or variant.startswith("cu"), variant
            assert minors <= torch_minors, (wheel_set.versions, variant, minors - torch_minors)
            # A wheel folder for a variant its torch never had can never be chosen (audit 12:
            # the cu115 folders of torch 1.11).
            for minor in minors:
                release = matrix.torch_release(Version(minor))
                assert release is not None and variant in release.all_variants(), (minor, variant)
    for release in matrix.mmdet_releases:
        # Each line's mmdet takes that line's mmcv: the two never share an environment.
        line = matrix.stack_lines[release.stack_line]
        assert release.mmcv_package in line.mmcv, release
        if release.stack_line == "openmmlab":
            assert release.mmcv_package == ("mmcv" if release.line == 3 else "mmcv-full")
        # An onedl-mmcv wheel row names the arch list of each CUDA folder it has.
    for wheel_set in matrix.mmcv_wheels:
        if wheel_set.package == "onedl-mmcv":
            cuda = {v for v in wheel_set.sets if v != "cpu"}
            assert cuda == set(wheel_set.cuda_arch), wheel_set.versions
    for release in matrix.mmdet_releases:
        assert (release.mmengine is not None) == (release.line == 3)
        # Each mmdet accepts at least one mmcv the matrix knows.
        assert any(p == release.mmcv_package and v in release.mmcv for p, v in known_mmcv)
    assert matrix.source_builds is not None
    for rule in matrix.source_builds.rules:
        assert any(p == rule.package and v in rule.versions for p, v in known_mmcv), rule
    # A per-release limit of a platform's CUDA variant is for a variant it has.
    for platform in matrix.platforms:
        for variant in platform.cuda_torch:
            assert isinstance(platform.cuda, tuple) and variant in platform.cuda, platform
    # The gcc limits never go down as CUDA goes up.
    limits = [matrix.gcc_limits[c] for c in sorted(matrix.gcc_limits)]
    assert limits == sorted(limits)


def test_every_pin_names_a_reason_and_a_condition() -> None:
    for pin in load_matrix(str(MATRIX)).pins:
        assert pin.reason and pin.when
