"""The machines people plan for in 2026, each expectation taken from a source, not the matrix.

Sources, as the tests name them:
- RELEASE.md: pytorch/pytorch RELEASE.md "PyTorch CUDA Support Matrix" for 2.12-2.14
  (pytorch/pytorch#182849, #197555): Linux x86_64 12.6.3 Maxwell(5.0)..Hopper(9.0), 13.0.2 and
  13.2.1 Turing(7.5)..Blackwell(10.0, 12.0); Linux aarch64 12.6.3 Ampere(8.0), Hopper(9.0) and
  13.0.2 / 13.2.1 Ampere(8.0), Hopper(9.0), Blackwell(10.0, 11.0, 12.0).
- NVIDIA: CUDA 13.x needs a driver >= 580 (minor-version compatibility); 12.x >= 525.60.13;
  CUDA 13.0 removed Maxwell, Pascal and Volta; the toolkit driver of 12.8 is 570.26.
- version.json: open-mmlab/mmcv docs/en/_static/version.json (x86_64 wheel folders only).
- publish.yml: VBTI-development/onedl-mmcv .github/workflows/publish.yml at v2.3.3-v2.3.6
  (CUDA folders cp310/cp312 with TORCH_CUDA_ARCH_LIST "7.5 8.6 8.9 9.0 12.0" for cu128+,
  "7.5 8.0 8.6 8.9 9.0" for cu118/cu124; no aarch64 server wheels), and its JetPack builder
  (docker/build/Dockerfile.jetpack60/61: NVIDIA's JetPack torch, FORCE_CUDA=1,
  TORCH_CUDA_ARCH_LIST=8.7; JetPack 6.1's torch from https://pypi.jetson-ai-lab.io/jp6/cu126).
- SBSA: PyPI's and PyTorch's Linux aarch64 CUDA wheels are server-Arm (SBSA) builds, not L4T
  (JetPack) ones (bitsandbytes-foundation/bitsandbytes#1930, #1941, on a JetPack 6.2 Orin).
"""

from __future__ import annotations

import pytest
from packaging.version import Version as V

from mmdoctor.planning.machine import Machine
from mmdoctor.planning.matrix import DriverVersion, load_matrix
from mmdoctor.planning.resolver import Resolution, resolve
from mmdoctor.planning.wishes import Wishes

M = load_matrix()

R535, R570, R580 = "535.104.05", "570.124.06", "580.95.05"
JETPACK_6_DRIVER = "540.4.0"  # what a JetPack 6 Orin reports (issue 28's case)


def linux(python: str, driver: str | None, *ccs: str, arch: str = "x86_64") -> Machine:
    return Machine(
        "linux",
        V(python),
        DriverVersion(driver) if driver else None,
        tuple(V(cc) for cc in ccs),
        arch=arch,
    )


def plan(machine: Machine, wishes: Wishes | None = None) -> Resolution:
    return resolve(machine, wishes or Wishes(), M)


def reasons(result: Resolution) -> list[str]:
    return [r.reason for r in result.rejected]


# ------------------------------------------------------------------- Jetson (aarch64)


@pytest.mark.parametrize("driver", [None, JETPACK_6_DRIVER, R580])
@pytest.mark.parametrize("python", ["3.10", "3.12"])
def test_a_jetson_orin_gets_no_pytorch_cuda_build_and_is_told_where_its_torch_is(
    driver: str | None, python: str
) -> None:
    """SBSA: no PyTorch or PyPI aarch64 CUDA wheel runs on JetPack's CUDA, whatever the driver
    and whatever an sm_80 cubin could do on sm_87. publish.yml: onedl builds onedl-mmcv for
    JetPack against NVIDIA's torch, FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=8.7."""
    result = plan(linux(python, driver, "8.7", arch="aarch64"))
    assert result.chosen is None
    cuda = [r for r in result.rejected if not r.candidate.endswith(" cpu")]
    assert cuda and all("Jetson" in r.reason and "SBSA" in r.reason for r in cuda), cuda[:3]
    assert not any("no NVIDIA driver" in r or "no cu126 build" in r for r in reasons(result))
    first = result.suggestions[0]
    assert "https://pypi.jetson-ai-lab.io/jp6/cu126" in first, result.suggestions
    assert "TORCH_CUDA_ARCH_LIST=8.7" in first and "FORCE_CUDA=1" in first, first
    assert any(s.startswith("with --cpu") for s in result.suggestions), result.suggestions


def test_a_jetson_xavier_is_told_its_torch_is_nvidias_jetpack_5_build() -> None:
    result = plan(linux("3.8", None, "7.2", arch="aarch64"))
    assert result.chosen is None
    assert all("Jetson" in r.reason for r in result.rejected if not r.candidate.endswith(" cpu"))
    assert "JetPack 5.1" in result.suggestions[0], result.suggestions


# ------------------------------------------------------------------- Grace (aarch64)


def test_a_gh200_on_r570_gets_torch_cu126_for_aarch64_and_builds_mmcv() -> None:
    """RELEASE.md: 2.12-2.14 have aarch64 CUDA 12.6.3 builds with Hopper(9.0); R570 runs
    12.x but not 13.x (>= 580). No one publishes mmcv wheels for server aarch64."""
    result = plan(linux("3.12", R570, "9.0", arch="aarch64"))
    chosen = result.chosen
    assert chosen is not None, reasons(result)
    assert chosen.variant == "cu126" and chosen.torch.torch in ("2.12", "2.13", "2.14")
    assert not chosen.mmcv.prebuilt
    for candidate in result.alternatives:
        assert candidate.variant == "cu126" and not candidate.mmcv.prebuilt


def test_cu126_on_aarch64_is_only_the_releases_release_md_lists() -> None:
    gh200 = linux("3.12", R570, "9.0", arch="aarch64")
    older = plan(gh200, Wishes(cuda=V("12.6"), torch=V("2.11")))
    assert older.chosen is None
    assert any("cu126" in r and "linux aarch64" in r for r in reasons(older)), reasons(older)


def test_a_gb200_on_r570_has_no_plan_and_on_r580_gets_cuda_13() -> None:
    """aarch64 12.6.3 has no Blackwell(10.0); 13.x needs a 580 driver."""
    on_570 = plan(linux("3.12", R570, "10.0", arch="aarch64"))
    assert on_570.chosen is None
    assert any("sm_100" in r for r in reasons(on_570)), reasons(on_570)
    assert any(">= 580.65.06" in r for r in reasons(on_570)), reasons(on_570)
    on_580 = plan(linux("3.12", R580, "10.0", arch="aarch64"))
    assert on_580.chosen is not None and on_580.chosen.variant in ("cu130", "cu132")


# ------------------------------------------------------------------- Python 3.13 and 3.14

# Measured here (2026-12-06, CPython 3.13.0, setuptools 80.9.0): `python setup.py --version` in
# the unpacked mmcv-2.1.0 sdist stops with KeyError: '__version__' (get_version() reads locals()
# after exec, PEP 667), in onedl_mmcv-2.3.6 it prints 2.3.6 (a static version); `pip wheel` of
# the onedl-mmcv 2.3.6, onedl-mmdetection 3.5.1 and onedl-mim 0.5.1 sdists succeeds.
# PyPI: onedl-mim 0.5.1 requires pandas==2.2.3, whose wheels are cp39-cp313 (none for 3.14).
PANDAS_2_2_3_WHEELS = {"3.9", "3.10", "3.11", "3.12", "3.13"}


def test_an_rtx_4090_on_python_3_13_gets_an_onedl_source_build() -> None:
    result = plan(linux("3.13", "550.54.14", "8.9"))
    chosen = result.chosen
    assert chosen is not None, reasons(result)[:5]
    assert chosen.line == "onedl" and chosen.mmcv.package == "onedl-mmcv"
    assert not chosen.mmcv.prebuilt  # onedl's wheels are cp310/cp312 only (publish.yml)
    upstream = plan(linux("3.13", "550.54.14", "8.9"), Wishes(line="openmmlab"))
    assert upstream.chosen is None
    assert any("3.13" in r and "get_version" in r for r in reasons(upstream)), reasons(upstream)


def test_python_3_14_has_no_onedl_plan_for_onedl_mims_pandas_pin() -> None:
    assert "3.14" not in PANDAS_2_2_3_WHEELS
    result = plan(linux("3.14", R580, "8.9"))
    assert result.chosen is None
    onedl = [r for r in result.rejected if r.candidate.startswith("onedl-mmdetection")]
    assert onedl and all("pandas==2.2.3" in r.reason for r in onedl), onedl[:2]


# ------------------------------------------------------------------- no driver described


def test_a_gpu_cc_without_a_driver_is_told_to_add_one() -> None:
    """--gpu-cc 8.6 on a machine with no driver: every CUDA build needs one, so the nearest
    change is to describe it (as --cuda 11.6 without a driver already said)."""
    result = plan(linux("3.12", None, "8.6"))
    assert result.chosen is None
    assert "--driver VERSION" in result.suggestions[0], result.suggestions
    # NVIDIA Table 3: 590.44.01 is CUDA 13.1's driver; with it an RTX 30xx has a CUDA plan
    driven = [s for s in result.suggestions if s.startswith("if its driver is 590.44.01")]
    assert driven and "(cu" in driven[0], result.suggestions
    cuda_only = plan(linux("3.11", None), Wishes(cuda=V("11.6")))
    assert "--driver VERSION" in cuda_only.suggestions[0], cuda_only.suggestions


# ------------------------------------------------------------------- the nearest change first


def test_python_3_13_without_builds_is_offered_python_3_12_first() -> None:
    """publish.yml: onedl's cp312 cu129 wheels for torch 2.9 and 2.10 carry sm_89; R550 runs
    CUDA 12.x (>= 525.60.13). One minor away, no build: the nearest change."""
    result = plan(linux("3.13", "550.54.14", "8.9"), Wishes(allow_source_build=False))
    assert result.chosen is None
    first = result.suggestions[0]
    assert first.startswith("on Python 3.12: onedl-mmdetection"), result.suggestions
    assert "(prebuilt)" in first and "(cu129)" in first, first


def test_the_seed_on_python_3_11_is_offered_python_3_10_first() -> None:
    """The walkthrough's fix: torch 1.13 (cu116) has no Python 3.11 torchvision (0.14.x), and
    version.json has mmcv-full 1.7.x wheels for cu116/torch 1.13: Python 3.10 keeps --cuda."""
    machine = linux("3.11", R535, "8.6")
    result = plan(machine, Wishes(cuda=V("11.6"), mmdet="2"))
    assert result.chosen is None
    first = result.suggestions[0]
    assert first.startswith("on Python 3.10: mmdet 2.28.2 + mmcv-full 1.7."), result.suggestions
    assert first.endswith("(prebuilt) + torch 1.13.1 (cu116)"), first


def test_python_3_14_is_offered_a_prebuilt_python_before_a_build_one_minor_nearer() -> None:
    """3.13 needs an onedl source build (one minor plus a build), 3.12 has onedl's prebuilt
    cp312 wheel (two minors): the same size, and the one without a build comes first."""
    result = plan(linux("3.14", R580, "8.9"))
    assert result.chosen is None
    assert result.suggestions[0].startswith("on Python 3.12: "), result.suggestions
    assert "(prebuilt)" in result.suggestions[0]
    assert result.suggestions[1].startswith("on Python 3.13: "), result.suggestions
    assert "(source build)" in result.suggestions[1]


# ------------------------------------------------------------------- Hopper and Blackwell


def test_an_h100_on_r535_gets_onedls_prebuilt_cuda_12_wheel_never_cuda_13() -> None:
    """R535 runs 12.x, not 13.x (>= 580); publish.yml's cp312 cu129 folders (torch 2.9, 2.10)
    carry sm_90."""
    result = plan(linux("3.12", R535, "9.0"))
    chosen = result.chosen
    assert chosen is not None, reasons(result)[:3]
    assert chosen.mmcv.package == "onedl-mmcv" and chosen.mmcv.prebuilt
    assert (chosen.variant, chosen.torch.torch in ("2.9", "2.10")) == ("cu129", True)
    for candidate in (chosen, *result.alternatives):
        assert not candidate.variant.startswith("cu13"), candidate.describe()


def test_an_h100_on_r535_and_python_3_11_gets_upstreams_prebuilt_cu121_wheel() -> None:
    """onedl has no cp311 wheel (publish.yml); version.json: mmcv 2.1.0 for cu121/torch 2.1,
    whose wheels (build_cuda.sh for 12.1) carry sm_90."""
    chosen = plan(linux("3.11", R535, "9.0")).chosen
    assert chosen is not None and chosen.line == "openmmlab" and chosen.mmcv.prebuilt
    assert (str(chosen.mmcv.version), chosen.torch.torch, chosen.variant) == (
        "2.1.0",
        "2.1",
        "cu121",
    )


def test_a_b200_on_r570_builds_mmcv_for_cuda_12_8_and_on_r535_has_no_driver_for_it() -> None:
    """Blackwell needs CUDA 12.8's driver (570.26); RELEASE.md: 12.8.1 builds Blackwell(10.0);
    onedl's wheels have no sm_100 (publish.yml); R570 runs 12.8 natively, not 12.9 (575.51.03)."""
    result = plan(linux("3.12", R570, "10.0"))
    chosen = result.chosen
    assert chosen is not None, reasons(result)[:3]
    assert chosen.variant == "cu128" and not chosen.mmcv.prebuilt
    old = plan(linux("3.12", R535, "10.0"))
    assert old.chosen is None
    assert any("sm_100" in r and ">= 570.26" in r for r in reasons(old)), reasons(old)[:3]


@pytest.mark.parametrize(
    ("python", "driver", "variant", "torches"),
    [
        ("3.12", R580, "cu129", ("2.9", "2.10")),  # cp312 cu129 folders
        ("3.10", R570, "cu128", ("2.8",)),  # cp310 cu128-torch280, R570 runs 12.8 natively
    ],
)
def test_an_rtx_5090_gets_onedls_prebuilt_blackwell_wheel(
    python: str, driver: str, variant: str, torches: tuple[str, ...]
) -> None:
    """publish.yml v2.3.3+: the cu128/cu129 folders are built for '7.5 8.6 8.9 9.0 12.0'."""
    chosen = plan(linux(python, driver, "12.0")).chosen
    assert chosen is not None and chosen.mmcv.package == "onedl-mmcv" and chosen.mmcv.prebuilt
    assert chosen.variant == variant and chosen.torch.torch in torches, chosen.describe()


# ------------------------------------------------------------------- older cards, new drivers


def test_an_rtx_3090_on_r580_gets_onedls_cuda_12_9_wheel() -> None:
    """8.6 is in every onedl CUDA folder's list; R580 runs 12.9 natively (575.51.03), and the
    newest CUDA with a cp310 wheel is cu129 for torch 2.8."""
    chosen = plan(linux("3.10", R580, "8.6")).chosen
    assert chosen is not None and chosen.mmcv.prebuilt
    assert (chosen.variant, chosen.torch.torch) == ("cu129", "2.8"), chosen.describe()


def test_a_gtx_1080_ti_on_r580_gets_a_cuda_12_build_with_pascal_kernels() -> None:
    """CUDA 13 removed Pascal; cu128 and cu129 start at 7.0 (build_cuda.sh) or 7.5; cu121 has
    6.0, which runs on 6.1; version.json: mmcv 2.1.0 wheels for cu121/torch 2.1."""
    result = plan(linux("3.10", R580, "6.1"))
    chosen = result.chosen
    assert chosen is not None, reasons(result)[:3]
    assert (str(chosen.mmcv.version), chosen.torch.torch, chosen.variant) == (
        "2.1.0",
        "2.1",
        "cu121",
    )
    assert chosen.mmcv.prebuilt
    for candidate in result.alternatives:
        assert candidate.variant not in ("cu128", "cu129", "cu130", "cu132"), candidate.describe()


# ------------------------------------------------------------------- Windows and macOS


def test_an_rtx_4070_on_windows_gets_the_mmcv_2_1_0_cu121_wheel() -> None:
    """version.json's Windows sets: mmcv 2.1.0 for cu121/torch 2.1 (mmdet 3.3 needs < 2.2.0);
    560.94 is CUDA 12.6's Windows driver (>= 528.33 for 12.x); onedl has no Windows wheels."""
    machine = Machine("windows", V("3.11"), DriverVersion("560.94"), (V("8.9"),))
    chosen = plan(machine).chosen
    assert chosen is not None and chosen.mmcv.prebuilt and chosen.line == "openmmlab"
    assert (str(chosen.mmcv.version), chosen.torch.torch, chosen.variant) == (
        "2.1.0",
        "2.1",
        "cu121",
    )


def test_a_mac_gets_the_macos_cpu_wheel_up_to_python_3_11_and_an_arm_mac_a_build() -> None:
    """build_macos_wheel.yml: macOS mmcv wheels for torch 1.8-2.1 and Python 3.7-3.11, built on
    x86_64 runners (OpenMMLab's wheels are x86_64 only); torch has arm64 wheels from 1.10."""
    intel = plan(Machine("darwin", V("3.11")), Wishes(allow_source_build=False)).chosen
    assert intel is not None and intel.variant == "cpu" and intel.mmcv.prebuilt
    assert (str(intel.mmcv.version), intel.torch.torch) == ("2.1.0", "2.1")
    newer = plan(Machine("darwin", V("3.12")), Wishes(allow_source_build=False))
    assert newer.chosen is None
    arm = plan(Machine("darwin", V("3.11"), arch="aarch64")).chosen
    assert arm is not None and arm.variant == "cpu" and not arm.mmcv.prebuilt
