"""The target probe against real interpreters: bare, with torch, broken on purpose, old."""

from __future__ import annotations

import glob
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mmdoctor.errors import ProbeError, UsageError
from mmdoctor.probe import inside
from mmdoctor.probe.inside import crash_site, probe_target
from mmdoctor.probe.nvidia import (
    decode_cuda_version,
    parse_nvidia_smi,
    parse_overrides,
    parse_proc_version,
)
from mmdoctor.probe.toolkit import find_nvcc, parse_nvcc_version
from mmdoctor.target import Target, choose_interpreter


def probe(python: Path | str, step_timeout: float = 120) -> Target:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return probe_target(str(python), step_timeout=step_timeout, pool=pool, environ=os.environ)


def test_bare_venv(bare_venv: Path) -> None:
    target = probe(bare_venv / "bin" / "python")
    assert target.kind == "venv" and target.in_venv and not target.externally_managed
    assert target.version.startswith("3.")
    assert target.version_of("pip") is not None
    torch = target.step("torch")
    assert torch is not None and torch.missing and not torch.ok
    assert target.step("mmdet") is not None and target.step("mmdet").missing  # type: ignore[union-attr]


def test_venv_with_torch_cpu(torch_venv: Path) -> None:
    target = probe(torch_venv / "bin" / "python")
    torch = target.imported("torch")
    assert torch is not None
    assert torch["version"] == "2.13.0+cpu"
    assert torch["cuda"] is None
    assert torch["cuda_available"] is False
    assert target.imported("numpy") == {"version": "2.4.6"}
    assert target.version_of("torch") == "2.13.0+cpu"


def test_cuda_build_of_torch_reports_its_archs_without_a_gpu(cuda_torch_venv: Path) -> None:
    target = probe(cuda_torch_venv / "bin" / "python")
    torch = target.imported("torch")
    assert torch is not None
    assert torch["cuda"] == "13.0"
    assert "sm_90" in torch["arch_list"]  # compiled-in flags, read without a GPU
    assert torch["cuda_available"] is False  # no driver here
    vision = target.imported("torchvision")
    assert vision is not None and vision["version"].startswith("0.29")


def test_broken_packages_become_findings_not_crashes(broken_venv: Path) -> None:
    target = probe(broken_venv / "bin" / "python", step_timeout=4)
    ext = target.step("mmcv_ext")
    assert ext is not None and not ext.ok
    # faulthandler in the probe names the frame that died: the fake extension's line 2.
    assert ext.crashed is not None
    assert ext.crashed.startswith("the interpreter was killed by SIGSEGV at ")
    assert ext.crashed.endswith("mmcv/_ext.py:2 (<module>)")
    engine = target.step("mmengine")
    assert engine is not None and engine.crashed == "did not finish within 4 s (killed)"
    # The steps after the crash and the hang still ran, in a fresh process.
    assert target.imported("mmcv") == {
        "version": "2.1.0",
        "file": str(
            broken_venv
            / "lib"
            / f"python{target.version.rsplit('.', 1)[0]}"
            / "site-packages"
            / "mmcv"
            / "__init__.py"
        ),
    }
    mmdet = target.step("mmdet")
    assert mmdet is not None and mmdet.missing
    cv2 = target.step("cv2")
    assert cv2 is not None and "libGL.so.1" in (cv2.error or "")
    assert not cv2.missing  # installed but broken
    assert {d.name for d in target.distributions} >= {"opencv-python", "opencv-python-headless"}


def test_probe_runs_on_python_37() -> None:
    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.7*/bin/python3.7")))
    if not found:
        pytest.skip("no Python 3.7 on this machine")
    target = probe(found[0])
    assert target.version.startswith("3.7.")
    assert target.step("torch") is not None


def resolve_interpreter(python: str | None, environ: dict[str, str]) -> tuple[str, str]:
    choice = choose_interpreter(python=python, environ=environ)
    return choice.executable, choice.how


def test_resolve_interpreter(tmp_path: Path, bare_venv: Path) -> None:
    assert resolve_interpreter(str(bare_venv), {}) == (
        str(bare_venv / "bin" / "python"),
        "--python",
    )
    assert resolve_interpreter(None, {"VIRTUAL_ENV": str(bare_venv)})[1] == "$VIRTUAL_ENV"
    with pytest.raises(UsageError, match="no such file"):
        resolve_interpreter("/nonexistent/python", {})
    with pytest.raises(UsageError, match="no bin/python"):
        resolve_interpreter(str(tmp_path), {})


def test_a_file_that_is_not_python(tmp_path: Path) -> None:
    script = tmp_path / "notpython"
    script.write_text("#!/bin/sh\necho hello\n")
    script.chmod(0o755)
    with pytest.raises(UsageError, match=r"not a Python 3\.7\+"):
        probe(script)
    text = tmp_path / "text.txt"
    text.write_text("just text\n")
    with pytest.raises(UsageError, match="permission denied"):
        probe(text)


def test_an_interpreter_that_hangs_is_a_probe_timeout(tmp_path: Path) -> None:
    script = tmp_path / "hangs"
    script.write_text("#!/bin/sh\nsleep 60\n")
    script.chmod(0o755)
    with pytest.raises(ProbeError, match="did not answer"):
        probe(script, step_timeout=1)


# ------------------------------------------------------------------- parsers of real outputs


def test_decode_nvml_cuda_integer() -> None:
    assert decode_cuda_version(11060) == "11.6"
    assert decode_cuda_version(12080) == "12.8"
    assert decode_cuda_version(13000) == "13.0"


def test_parse_proc_driver_version() -> None:
    # The two shapes uv's tests carry (open and proprietary kernel modules).
    assert (
        parse_proc_version(
            "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.144.03  Release Build  "
            "(dvs-builder@U16-I3-B03-4-3)  Thu Nov 28 11:41:19 UTC 2024\nGCC version: gcc 12\n"
        )
        == "550.144.03"
    )
    assert (
        parse_proc_version(
            "NVRM version: NVIDIA UNIX x86_64 Kernel Module  375.74  Wed Jun 14 01:39:39 PDT 2017\n"
        )
        == "375.74"
    )
    assert parse_proc_version("") is None


def test_parse_nvidia_smi_query() -> None:
    driver, gpus = parse_nvidia_smi(
        "0, NVIDIA A100-SXM4-80GB, 81920, 8.0, GPU-11111111-2222-3333-4444-555555555555, 535.104.05\n"
        "1, NVIDIA A100-SXM4-80GB, 81920, 8.0, GPU-11111111-2222-3333-4444-555555555556, 535.104.05\n"
    )
    assert driver == "535.104.05"
    assert [g.compute_capability for g in gpus] == ["8.0", "8.0"]
    assert gpus[0].memory_total_bytes == 81920 * 2**20
    assert parse_nvidia_smi("No devices were found\n") == (None, ())


def test_parse_overrides() -> None:
    assert parse_overrides(
        {"MMDOCTOR_DRIVER_VERSION": "535.104.05", "MMDOCTOR_GPU_CC": "8.6, 8.6"}
    ) == {
        "MMDOCTOR_DRIVER_VERSION": "535.104.05",
        "MMDOCTOR_GPU_CC": "8.6,8.6",
    }
    with pytest.raises(UsageError, match="not a driver version"):
        parse_overrides({"MMDOCTOR_DRIVER_VERSION": "new"})
    with pytest.raises(UsageError, match="not a compute capability"):
        parse_overrides({"MMDOCTOR_GPU_CC": "8.6,sm_90"})


def test_nvcc_on_this_machine() -> None:
    nvcc, _home = find_nvcc(os.environ)
    if nvcc is None:
        pytest.skip("no nvcc here")
    assert Path(nvcc).is_file()
    assert parse_nvcc_version("Cuda compilation tools, release 13.0, V13.0.88") == "13.0"


def test_cuda_home_without_nvcc(tmp_path: Path) -> None:
    nvcc, home = find_nvcc({"CUDA_HOME": str(tmp_path), "PATH": ""})
    assert nvcc is None and home == str(tmp_path)


def test_a_crash_in_the_build_info_call_leaves_the_ops_import_standing(
    ext_info_crash_venv: Path,
) -> None:
    target = probe(ext_info_crash_venv / "bin" / "python")
    assert target.imported("mmcv_ext") is not None
    info = target.step("mmcv_ext_info")
    assert info is not None and info.crashed is not None
    assert info.crashed.startswith("the interpreter was killed by SIGSEGV at ")
    assert "mmcv/_ext.py:9 (get_compiling_cuda_version)" in info.crashed


def test_a_crash_inside_the_probe_script_names_the_statement() -> None:
    script = "import sys\nx = 1\nimport mmcv._ext as ext; ext.boom()\n"
    stderr = (
        "Fatal Python error: Segmentation fault\n\nCurrent thread 0x1 (most recent call first):\n"
        '  File "<string>", line 3 in step_mmcv_ext\n  File "<string>", line 9 in run_step\n'
    )
    assert crash_site(stderr, script) == "`import mmcv._ext as ext; ext.boom()`"
    assert crash_site("Segmentation fault (core dumped)\n", script) is None


_PIP_CONFIG_BOTH_WAYS = """
import json, sys
source = open(sys.argv[1]).read().replace("main(sys.argv[1:])", "")
probe = {"__name__": "probe"}
exec(compile(source, "inside_script", "exec"), probe)
from pip._internal.configuration import Configuration
configuration = Configuration(isolated=False)
configuration.load()
pips = [[str(k), str(v)] for k, v in sorted(configuration.items())]
print(json.dumps([probe["pip_variables_only"](), probe["pip_config"](), pips]))
"""


@pytest.mark.parametrize("with_file", [False, True])
def test_pip_settings_read_without_pip_are_pips_own(
    bare_venv: Path, tmp_path: Path, with_file: bool
) -> None:
    """Where pip has no configuration file to read, the probe lists its PIP_* variables itself
    (pip's configuration module costs about 0.15 s of imports), exactly as pip does; where a
    file is there, pip reads it."""
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://mirror.example/simple\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=str(conf) if with_file else os.devnull, PIP_NO_CACHE_DIR="1",
               PIP___EXTRA_INDEX_URL="https://extra.example/simple", PIP_VERSION="x")  # fmt: skip
    script = Path(inside.__file__).with_name("inside_script.py")
    run = subprocess.run(
        [str(bare_venv / "bin" / "python"), "-c", _PIP_CONFIG_BOTH_WAYS, str(script)],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )  # fmt: skip
    alone, probed, pips = json.loads(run.stdout)
    assert probed == pips and any(k == ":env:.extra-index-url" for k, _ in pips), pips
    if with_file:
        assert alone is None and ["global.index-url", "https://mirror.example/simple"] in pips
    else:
        assert alone == pips


@pytest.mark.parametrize("version", ["2.7", "3.6"])
def test_the_probe_script_parses_on_pythons_no_stack_runs_on(version: str) -> None:
    """A Python 2.7 or 3.6 target is refused by its version, which the probe script must live
    long enough to report: one line of newer syntax would make it a SyntaxError instead."""
    found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python")))
    if not found:
        pytest.skip(f"no Python {version} under pyenv here")
    script = Path(inside.__file__).with_name("inside_script.py")
    check = f"compile(open({str(script)!r}).read(), 'inside_script', 'exec')"
    run = subprocess.run([found[0], "-c", check], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
