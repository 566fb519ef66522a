"""compat_matrix.yaml against what its sources say themselves (issue 28).

Each test reads a source's own statement, saved under tests/data or written out here with
where it comes from, and checks the matrix (and the plans made from it) against it: never the
matrix against itself.

- tests/data/pypi/*.json: PyPI's PEP 691 answers (scripts/matrix_drift.py --save).
- tests/data/wheel-metadata/: the header of a wheel's .dist-info/METADATA and torch/version.py (as .txt),
  read from files.pythonhosted.org with HTTP range requests on 2026-12-06 (the wheels' zip
  directory and those members only).
"""

from __future__ import annotations

import json
import re
from email.parser import HeaderParser

from conftest import REPO
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version as V

from mmdoctor.planning.machine import Machine
from mmdoctor.planning.matrix import load_matrix
from mmdoctor.planning.resolver import resolve
from mmdoctor.planning.wishes import Wishes

M = load_matrix()
PYPI = REPO / "tests" / "data" / "pypi"
METADATA = REPO / "tests" / "data" / "wheel-metadata"


def metadata(wheel: str) -> dict[str, list[str]]:
    """A wheel's METADATA headers: name -> every value (Requires-Dist repeats)."""
    message = HeaderParser().parsestr((METADATA / f"{wheel}.METADATA").read_text())
    return {key: message.get_all(key) or [] for key in set(message.keys())}


def load_raw() -> dict:
    import yaml

    return yaml.safe_load((REPO / "compat_matrix.yaml").read_text())


def saved(project: str) -> dict:
    return json.loads((PYPI / f"{project}.json").read_text())


def files_of(project: str, version: str) -> list[dict]:
    prefix = f"{project}-{version}-"
    return [f for f in saved(project)["files"] if f["filename"].startswith(prefix)]


def release(minor: str):
    found = M.torch_release(V(minor))
    assert found is not None, minor
    return found


# ------------------------------------------------------------------- torchvision 0.29.2


def test_torchvision_0_29_2_is_a_torchvision_for_torch_2_15() -> None:
    """PyPI: torchvision 0.29.2 (py3-none wheels) requires torch>=2.14.0 and was uploaded with
    torch 2.15.0. So 2.15 has a torchvision, and it is the newest 0.29 release."""
    head = metadata("torchvision-0.29.2-py3-none-manylinux_2_28_x86_64.whl")
    (torch_requirement,) = [
        Requirement(r) for r in head["Requires-Dist"] if Requirement(r).name == "torch"
    ]
    row = release("2.15")
    assert V(row.latest) in torch_requirement.specifier
    assert (row.torchvision, row.torchvision_latest) == ("0.29", "0.29.2")
    wheels = {f["filename"].split("-")[2] for f in files_of("torchvision", "0.29.2")}
    assert wheels == {"py3"}  # one wheel per platform for every Python
    # and a plan uses it: a CPU box on Python 3.12 gets torch 2.15 when it asks for it
    chosen = resolve(Machine("linux", V("3.12")), Wishes(cpu=True, torch=V("2.15")), M).chosen
    assert chosen is not None and chosen.torch.torchvision_latest == "0.29.2"


def test_torchvision_excludes_python_3_14_1_as_its_metadata_says() -> None:
    """torchvision 0.26-0.29 declare Requires-Python '!=3.14.1,>=3.10' (PyPI): pip refuses them
    on CPython 3.14.1, so a target known to be 3.14.1 gets no plan on those torch releases."""
    declared: dict[str, SpecifierSet] = {}
    for entry in saved("torchvision")["files"]:
        version = entry["filename"].split("-")[1]
        if entry["requires-python"] and "!=3.14.1" in entry["requires-python"]:
            declared[".".join(version.split(".")[:2])] = SpecifierSet(entry["requires-python"])
    assert sorted(declared, key=V) == ["0.26", "0.27", "0.28", "0.29"]
    for row in M.torch_releases:
        if row.torchvision not in declared:
            continue
        spec = row.torchvision_python_for("linux", "x86_64")
        assert spec is not None and V("3.14.1") not in spec, row.torch
        assert V("3.14") in spec or V("3.14") not in row.python, row.torch
        exact = Machine("linux", V("3.14.1"))
        result = resolve(exact, Wishes(cpu=True, torch=row.version), M, suggest=False)
        if V("3.14") in row.python:
            assert result.chosen is None, row.torch
            assert any("!=3.14.1" in r.reason for r in result.rejected), result.rejected


# ------------------------------------------------------------------- PyPI's torch 2.15


def test_pypi_torch_2_15_is_a_cuda_13_2_build_on_linux() -> None:
    """Its METADATA requires cuda-toolkit==13.2.2 on Linux and its torch/version.py says
    cuda '13.2', for the x86_64 and the aarch64 wheel alike."""
    cu132 = next(v.variant for v in M.cuda_variants.values() if v.cuda == V("13.2"))
    for arch in ("x86_64", "aarch64"):
        wheel = f"torch-2.15.0-cp312-cp312-manylinux_2_28_{arch}.whl"
        toolkit = [
            Requirement(r) for r in metadata(wheel)["Requires-Dist"] if r.startswith("cuda-toolkit")
        ]
        assert [str(r.specifier) for r in toolkit] == ["==13.2.2"], toolkit
        version_py = (METADATA / f"{wheel}.torch-version-py.txt").read_text()
        assert re.search(r"cuda: Optional\[str\] = '13\.2'", version_py), version_py
        assert release("2.15").pypi_variant("linux", arch) == cu132
    assert metadata("torch-2.15.0-cp312-cp312-manylinux_2_28_x86_64.whl")["Requires-Python"] == [
        ">=3.11"
    ]
    assert release("2.15").python.contains("3.11") and not release("2.15").python.contains("3.10")


def test_a_plan_with_pypis_torch_2_15_takes_its_cuda_13_2_build() -> None:
    machine = Machine("linux", V("3.12"), V("580.95.05"), (V("8.9"),))
    wishes = Wishes(torch=V("2.15"), torch_source="pypi")
    chosen = resolve(machine, wishes, M).chosen
    assert chosen is not None and chosen.wheel_variant == "cu132", chosen


# ------------------------------------------------------------------- mmdet 2.24.1-2.25.1

# Read from each wheel on PyPI (pip download --no-deps, 2026-12-06): mmdet/__init__.py's
# mmcv_minimum_version / mmcv_maximum_version (asserted with >= and <=) and whether METADATA
# has `Provides-Extra: mim`. The sha256 prefix names the wheel read.
MMDET_WHEELS = {
    "2.24.0": ("1.3.17", "1.6.0", False, "22a40deded05"),
    "2.24.1": ("1.3.17", "1.6.0", False, "6934aca07311"),
    "2.25.0": ("1.3.17", "1.6.0", False, "632371149833"),
    "2.25.1": ("1.3.17", "1.7.0", True, "212ae84e35d0"),
    "2.25.2": ("1.3.17", "1.7.0", True, "1c0b70c9b3e1"),
}


def test_every_mmdet_release_from_2_24_on_pypi_has_a_row_with_its_wheels_bounds() -> None:
    on_pypi = {
        f["filename"].split("-")[1]
        for f in saved("mmdet")["files"]
        if f["filename"].endswith(".whl") and not f["yanked"]
    }
    rows = {str(r.version): r for r in M.mmdet_releases if r.stack_line == "openmmlab"}
    newer = {v for v in on_pypi if V("2.24.0") <= V(v) and not V(v).is_prerelease}
    assert newer <= set(rows), sorted(newer - set(rows), key=V)
    for version, (low, high, mim, _sha) in MMDET_WHEELS.items():
        row = rows[version]
        assert row.mmcv == SpecifierSet(f">={low},<={high}"), version
        assert row.mim_extra is mim, version


# ------------------------------------------------------------------- Windows wheel sets

# The "Windows" section of open-mmlab/mmcv's docs/en/_static/version.json, for torch >= 1.8:
# main @ 3ba02dfd3 (mmcv 2.x) and 1.x @ ed4303ea9 (mmcv-full 1.7.x), variant -> torch minors.
WINDOWS_VERSION_JSON = {
    ("mmcv", "2.2.0"): {
        "cu121": {"2.1", "2.2", "2.3"},
        "cu118": {"2.0", "2.1", "2.2", "2.3"},
        "cu117": {"1.13", "2.0"},
        "cu116": {"1.12", "1.13"},
        "cu115": {"1.11"},
        "cu113": {"1.10", "1.11", "1.12"},
        "cu111": {"1.8", "1.9", "1.10"},
        "cu102": {"1.8", "1.9", "1.10"},
        "cpu": {"1.8", "1.9", "1.10", "1.11", "1.12", "1.13", "2.0", "2.1", "2.2", "2.3"},
    },
    ("mmcv", "2.1.0"): {
        "cu121": {"2.1"},
        "cu118": {"2.0", "2.1"},
        "cu117": {"1.13", "2.0"},
        "cu116": {"1.12", "1.13"},
        "cu115": {"1.11"},
        "cu113": {"1.10", "1.11", "1.12"},
        "cu111": {"1.8", "1.9", "1.10"},
        "cu102": {"1.8", "1.9", "1.10"},
        "cpu": {"1.8", "1.9", "1.10", "1.11", "1.12", "1.13", "2.0", "2.1"},
    },
    ("mmcv", "2.0.1"): {
        "cu118": {"2.0"},
        "cu117": {"1.13", "2.0"},
        "cu116": {"1.12", "1.13"},
        "cu115": {"1.11"},
        "cu113": {"1.10", "1.11", "1.12"},
        "cu111": {"1.8", "1.9", "1.10"},
        "cu102": {"1.8", "1.9", "1.10"},
        "cpu": {"1.8", "1.9", "1.10", "1.11", "1.12", "1.13", "2.0"},
    },
    ("mmcv", "2.0.0"): {
        "cu118": {"2.0"},
        "cu117": {"1.13", "2.0"},
        "cu116": {"1.12", "1.13"},
        "cu115": {"1.11"},
        "cu113": {"1.10", "1.11", "1.12"},
        "cu111": {"1.8", "1.9", "1.10"},
        "cu102": {"1.8", "1.9", "1.10"},
        "cu101": {"1.8"},
        "cpu": {"1.8", "1.9", "1.10", "1.11", "1.12", "1.13", "2.0"},
    },
}
for _full in ("1.7.1", "1.7.0"):
    WINDOWS_VERSION_JSON[("mmcv-full", _full)] = {
        "cu117": {"1.13"},
        "cu116": {"1.12", "1.13"},
        "cu115": {"1.11"},
        "cu113": {"1.10", "1.11", "1.12"},
        "cu111": {"1.8", "1.9", "1.10"},
        "cu102": {"1.8", "1.9", "1.10"},
        "cu101": {"1.8"},
        "cpu": {"1.8", "1.9", "1.10", "1.11", "1.12", "1.13"},
    }


def test_windows_wheel_sets_are_version_json_s() -> None:
    for (package, version), sets in WINDOWS_VERSION_JSON.items():
        rows = [
            s
            for s in M.mmcv_wheels
            if s.package == package and s.os == "windows" and V(version) in s.versions
        ]
        assert len(rows) == 1, (package, version)
        assert {k: set(v) for k, v in rows[0].sets.items()} == sets, (package, version)


def windows(python: str, driver: str, *ccs: str) -> Machine:
    return Machine("windows", V(python), V(driver), tuple(V(cc) for cc in ccs))


def test_windows_mmcv_2_0_0_has_a_cu101_wheel_for_torch_1_8() -> None:
    # 430.86 runs CUDA 10.1 on Windows (>= 418.96) but not 10.2 (441.22).
    wishes = Wishes(mmdet="3", allow_source_build=False)
    result = resolve(windows("3.8", "430.86", "7.5"), wishes, M)
    chosen = result.chosen
    assert chosen is not None, result.rejected
    assert (chosen.variant, chosen.torch.torch) == ("cu101", "1.8")
    assert chosen.mmcv.version == V("2.0.0") and chosen.mmcv.prebuilt


def test_windows_mmcv_full_1_7_has_cu115_for_torch_1_11_and_cu101_for_torch_1_8() -> None:
    for cuda, torch, driver in (("11.5", "1.11", "496.13"), ("10.1", "1.8", "430.86")):
        wishes = Wishes(cuda=V(cuda), torch=V(torch), mmdet="2", allow_source_build=False)
        chosen = resolve(windows("3.8", driver, "7.5"), wishes, M).chosen
        assert chosen is not None, (cuda, torch)
        assert chosen.mmcv.package == "mmcv-full" and chosen.mmcv.prebuilt
        assert chosen.mmcv.version in SpecifierSet("~=1.7.0"), chosen.describe()


# ------------------------------------------------------------------- old wheels per platform


def test_torch_and_torchvision_pythons_per_platform_are_their_wheels() -> None:
    """The saved PEP 691 answers: the Pythons of the newest patch's cpXY wheels, per platform,
    are what the matrix allows there, for torch and for torchvision (drift.py reads them)."""
    from mmdoctor import drift

    raw = load_raw()
    responses = {p: saved(p) for p in ("torch", "torchvision")}
    findings = drift.find_drift(responses, raw)
    wanted = {"python_contradiction", "python_missing", "platform"}
    assert [f for f in findings if f.kind in wanted] == []


def test_torch_1_8_has_aarch64_wheels_and_1_9_does_not() -> None:
    for version, aarch64 in (("1.8.1", True), ("1.9.1", False), ("1.10.2", True)):
        tags = {f["filename"].rsplit("-", 1)[-1] for f in files_of("torch", version)}
        assert any("aarch64" in tag for tag in tags) is aarch64, version
        vision = release(".".join(version.split(".")[:2])).torchvision_latest
        vision_tags = {f["filename"].rsplit("-", 1)[-1] for f in files_of("torchvision", vision)}
        assert any("aarch64" in tag for tag in vision_tags) is aarch64, vision
        arm = Machine("linux", V("3.8"), arch="aarch64")
        wishes = Wishes(cpu=True, torch=V(version), mmdet="2", allow_source_build=True)
        reasons = [r.reason for r in resolve(arm, wishes, M, suggest=False).rejected]
        refused = any("has no linux aarch64 wheels" in reason for reason in reasons)
        assert refused is not aarch64, (version, reasons[:2])


# ------------------------------------------------------------------- Jetson

# VBTI-development/onedl-mmcv's JetPack builder, docker/build/Dockerfile.jetpack60 and
# Dockerfile.jetpack61 (v2.3.6; .jetpack61 at v2.3.6.post1 for torch 2.11.0) and publish.yml's
# jetpack-wheelhouse ("JetPack 6.0 wheel build for ARM64 devices (CUDA 12.2.1, PyTorch 2.8.0)"):
# its base image, the torch it installs and from where, and the build's environment.
ONEDL_JETPACK_BUILDER = {
    "6.0": ("nvcr.io/nvidia/l4t-jetpack:r36.3.0", "12.2", {"2.8.0"}, "mmwheels-bucket.onedl.ai"),
    "6.1": (
        "nvcr.io/nvidia/l4t-jetpack:r36.4.0",
        None,  # the image's CUDA; the index path names it: jp6/cu126
        {"2.8.0", "2.11.0"},
        "https://pypi.jetson-ai-lab.io/jp6/cu126",
    ),
}
ONEDL_JETPACK_ENV = {"FORCE_CUDA": "1", "TORCH_CUDA_ARCH_LIST": "8.7"}
ONEDL_JETPACK_PYTHON = "3.10"  # uv venv --python 3.10


def test_jetson_rows_are_what_onedls_jetpack_builder_says() -> None:
    jetson = M.jetson
    assert jetson is not None
    packs = {p.jetpack: p for p in jetson.jetpacks}
    for jetpack, (image, cuda, torches, index) in ONEDL_JETPACK_BUILDER.items():
        row = packs[jetpack]
        assert image.endswith(f":r{row.l4t}.0"), (jetpack, row.l4t)
        assert cuda is None or row.cuda == V(cuda), jetpack
        assert {str(v) for v in row.torch} == torches, jetpack
        assert index in row.torch_index, jetpack
        assert row.python == V(ONEDL_JETPACK_PYTHON) and V("8.7") in row.gpus
    assert packs["6.1"].cuda == V("12.6")  # jp6/cu126
    assert dict(jetson.build_env) == ONEDL_JETPACK_ENV
    assert jetson.build_python == V(ONEDL_JETPACK_PYTHON)
    # the folders publish.yml uploads: jetpack{60|61}-torch{X}{Y}0
    for folder in jetson.wheel_folders:
        digits = folder.jetpack.replace(".", "")
        assert folder.folder == f"jetpack{digits}-torch{folder.torch.replace('.', '')}0"
        assert not folder.verified  # mmwheels.onedl.ai is unreachable from here
    # developer.nvidia.com/cuda-gpus: 8.7 is Jetson Orin
    gpu = jetson.gpu(V("8.7"))
    assert gpu is not None and "Orin" in gpu.gpus


def test_a_plan_around_jetpacks_torch_has_what_it_needs_in_the_matrix() -> None:
    """What issue 25's plan ("keep JetPack's torch, build onedl-mmcv for 8.7") reads: the
    JetPack of an installed torch X with CUDA Y, an onedl-mmcv that compiles against torch X,
    and the build's environment."""
    jetson = M.jetson
    assert jetson is not None and M.source_builds is not None
    for pack in jetson.jetpacks_for(V("8.7")):
        if pack.python < V("3.10"):
            continue  # onedl-mmdetection needs Python 3.10
        for torch in pack.torch:
            row = M.torch_release(torch)
            assert row is not None, torch
            built = [
                v
                for v in (V("2.3.6"), V("2.3.5"))
                if v in jetson.mmcv_versions and M.source_builds.verdict("onedl-mmcv", v, row).ok
            ]
            assert built, (pack.jetpack, torch)
