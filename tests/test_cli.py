"""The command line as users and scripts meet it: exit codes, --json, Markdown, bad input.

Everything runs the real CLI in a subprocess against real venvs. The only stand-in is the
NVIDIA driver, replaced at the libnvidia-ml.so.1 boundary (tests/fakes/fake_nvml.c).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, _venv
from fakes.nvml import fake_nvml_env

A100 = "NVIDIA A100-SXM4-80GB|8.0|81920|GPU-11111111-2222-3333-4444-555555555555"
GTX1080 = "NVIDIA GeForce GTX 1080|6.1|8192|GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def statuses(doc: dict) -> dict[str, str]:
    return {c["id"]: c["status"] for c in doc["checks"]}


def by_id(doc: dict, check_id: str) -> dict:
    return next(c for c in doc["checks"] if c["id"] == check_id)


def assert_one_line_error(stderr: str, needle: str) -> None:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("mmdoctor: error: ")
    assert needle in lines[0]


# ------------------------------------------------------------------- basics


def test_version_and_help(mmdoctor) -> None:
    version = mmdoctor("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("mmdoctor 0.1.0")
    helped = mmdoctor("--help")
    assert helped.returncode == 0 and "check" in helped.stdout
    check_help = mmdoctor("check", "--help")
    assert check_help.returncode == 0
    assert "--python" in check_help.stdout and "--json" in check_help.stdout


def test_unknown_option_is_a_usage_error(mmdoctor) -> None:
    run = mmdoctor("check", "--no-such-option")
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert "No such option" in run.stderr


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["check", "--json", "--bogus"], {}, "No such option: --bogus"),
        (["check", "--format", "json", "--bogus"], {}, "No such option: --bogus"),
        (["check", "--json", "--timeout", "0"], {}, "Invalid value for '--timeout'"),
        (["install", "--dry-run", "--json", "--dryrun"], {}, "No such option: --dryrun"),
        (["check", "--json"], {"MMDOCTOR_CPU_ONLY": "maybe"}, "MMDOCTOR_CPU_ONLY"),
        (["matrix", "--json", "--mmdet"], {}, "--mmdet"),
    ],
)
def test_parse_errors_are_one_line_and_the_envelope_under_json(
    mmdoctor, args: list[str], env: dict[str, str], needle: str
) -> None:
    # issue 13.7: Typer's boxed panel on stderr and an empty stdout were no use to a script
    run = mmdoctor(*args, env={**os.environ, **env})
    assert run.returncode == 2, run.stderr
    assert_one_line_error(run.stderr, needle)
    assert "╭" not in run.stderr  # no box
    doc = run.json()
    assert (doc["command"], doc["status"], doc["exit_code"]) == (args[0], "error", 2)
    assert needle in doc["errors"][0]["message"]
    assert f"see mmdoctor {args[0]} --help" in doc["errors"][0]["message"]


def test_a_parse_error_in_text_is_one_line_too(mmdoctor) -> None:
    run = mmdoctor("install", "--dryrun")
    assert run.returncode == 2 and run.stdout == ""
    assert_one_line_error(run.stderr, "Possible options: --driver, --dry-run")


def test_console_script_and_module_agree() -> None:
    # `mmdoctor` is the console script of the installed package, beside the test interpreter.
    script = Path(sys.executable).parent / "mmdoctor"
    if not script.is_file():
        pytest.skip("mmdoctor is not installed as a console script in this environment")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("mmdoctor ")


def test_list_checks(mmdoctor) -> None:
    run = mmdoctor("check", "--list-checks")
    assert run.returncode == 0
    ids = [line.split()[0] for line in run.stdout.splitlines()]
    assert "nvidia.driver" in ids and "mmdet.compat" in ids and len(ids) >= 18


# ------------------------------------------------------------------- bad input: exit 2


def test_python_that_does_not_exist(mmdoctor) -> None:
    run = mmdoctor("check", "--python", "/nonexistent/python")
    assert run.returncode == 2
    assert_one_line_error(run.stderr, "--python /nonexistent/python: no such file or directory")


def test_python_that_is_a_text_file(mmdoctor, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a program\n")
    run = mmdoctor("check", "--python", str(text))
    assert run.returncode == 2
    assert_one_line_error(run.stderr, "permission denied")


def test_python_that_is_another_program(mmdoctor, tmp_path: Path) -> None:
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\necho 'I am not Python' >&2\nexit 3\n")
    script.chmod(0o755)
    run = mmdoctor("check", "--python", str(script))
    assert run.returncode == 2
    assert_one_line_error(run.stderr, "not a Python 3.7+ interpreter (it did not run the probe)")
    assert "it printed: I am not Python" in run.stderr


@pytest.mark.parametrize("command", [["check"], ["install", "--dry-run"], ["smoke-test"]])
def test_python_that_is_a_program_of_the_system(mmdoctor, command: list[str]) -> None:
    # issue 13.16: `--python /bin/ls` said "cannot access 'mim'"; smoke-test went on to the
    # weights download (exit 4 here) before it knew the target was no Python
    run = mmdoctor(*command, "--python", "/bin/ls")
    assert run.returncode == 2, run.stdout + run.stderr
    assert_one_line_error(run.stderr, "--python /bin/ls: not a Python 3.7+ interpreter")
    assert "download" not in run.stderr


def test_bad_what_if_override(mmdoctor) -> None:
    env = {**os.environ, "MMDOCTOR_DRIVER_VERSION": "latest"}
    run = mmdoctor("check", "--json", env=env)
    assert run.returncode == 2
    assert_one_line_error(run.stderr, "MMDOCTOR_DRIVER_VERSION='latest'")
    doc = run.json()
    assert doc["status"] == "error" and doc["exit_code"] == 2
    assert "latest" in doc["errors"][0]["message"]


def test_unknown_check_id(mmdoctor) -> None:
    run = mmdoctor("check", "--only", "no.such.check")
    assert run.returncode == 2
    assert_one_line_error(run.stderr, "no such check")


def test_broken_matrix_names_file_and_line(mmdoctor, tmp_path: Path) -> None:
    broken = tmp_path / "matrix.yaml"
    broken.write_text("schema_version: 1\ncuda_drivers:\n  rows: [\n    - {cuda: 12.x\n")
    run = mmdoctor("check", "--matrix", str(broken))
    assert run.returncode == 2
    assert_one_line_error(run.stderr, f"{broken}:")
    assert "not valid YAML" in run.stderr


def test_debug_shows_the_traceback(mmdoctor) -> None:
    run = mmdoctor("--debug", "check", "--python", "/nonexistent/python")
    assert run.returncode == 2
    assert "Traceback" in run.stderr


# ------------------------------------------------------------------- could not run: exit 4


def test_probe_timeout_is_exit_4(mmdoctor, tmp_path: Path) -> None:
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\nsleep 60\n")
    script.chmod(0o755)
    run = mmdoctor("check", "--python", str(script), "--timeout", "2", "--json")
    assert run.returncode == 4
    assert "did not answer" in run.stderr
    assert run.json()["exit_code"] == 4


# ------------------------------------------------------------------- real environments


def test_no_driver_here_exits_1_and_says_so(mmdoctor, torch_venv: Path) -> None:
    run = mmdoctor("check", "--python", str(torch_venv))
    assert run.returncode == 1
    assert "no NVIDIA driver" in run.stdout
    assert "CPU only" in run.stdout
    assert "mmdoctor check --cpu-only" in run.stdout


def test_a_cpu_only_torch_env_is_half_a_stack(mmdoctor, torch_venv: Path) -> None:
    # issue 25: torch alone, on a CPU box, was "healthy" with no mmcv, no mmdet, no torchvision;
    # for a doctor of MMDetection environments that is the main problem, and install its fix
    run = mmdoctor("check", "--python", str(torch_venv), "--cpu-only", "--json")
    assert run.returncode == 1, run.stdout
    doc = run.json()
    assert doc["schema"] == "mmdoctor/result/v1"
    assert doc["command"] == "check"
    assert doc["exit_code"] == 1
    assert doc["status"] == "problems"
    assert doc["environment"]["target"]["executable"] == str(torch_venv / "bin" / "python")
    checks = statuses(doc)
    assert checks["nvidia.driver"] == "skip"
    assert checks["torch.import"] == "ok"
    assert "2.13.0+cpu" in by_id(doc, "torch.import")["summary"]
    stack = by_id(doc, "stack.complete")
    assert stack["status"] == "fail" and "no mmcv and no mmdet" in stack["summary"]
    install = f"mmdoctor install --python {torch_venv / 'bin' / 'python'}"
    assert stack["advice"]["commands"] == [install]
    assert doc["next"]["command"] == install
    assert doc["next"]["changes"].startswith("keeps torch 2.13.0+cpu; adds torchvision")
    assert all(set(c) >= {"id", "status", "summary", "details", "advice"} for c in doc["checks"])


def test_json_is_the_only_thing_on_stdout(mmdoctor, bare_venv: Path) -> None:
    run = mmdoctor("check", "--python", str(bare_venv), "--format", "json")
    doc = json.loads(run.stdout)  # raises if anything else is mixed in
    assert run.returncode == doc["exit_code"] == 1
    assert statuses(doc)["torch.import"] == "fail"


def test_verbose_shows_every_check_and_the_environment(mmdoctor, torch_venv: Path) -> None:
    quiet = mmdoctor("check", "--python", str(torch_venv))
    loud = mmdoctor("check", "--python", str(torch_venv), "-v")
    assert "(torch.import)" in loud.stdout and "torch:" in loud.stdout
    assert "torch imports" not in quiet.stdout  # passing checks are hidden by default
    assert "-v shows all" in quiet.stdout
    assert "\x1b[" not in loud.stdout  # no colour when not a terminal


def test_the_real_broken_stack(mmdoctor, stack_venv: Path) -> None:
    """mmdet 3.3.0 + mmcv-lite 2.2.0 + torch 2.13 CPU: what `pip install mmdet` leaves today."""
    run = mmdoctor("check", "--python", str(stack_venv), "--cpu-only", "--json")
    assert run.returncode == 1
    doc = run.json()
    compat = by_id(doc, "mmdet.compat")
    assert compat["status"] == "fail"
    assert "MMCV==2.2.0 is used but incompatible" in compat["summary"]
    assert compat["known_failure"] == "mmcv-too-new-for-mmdet3"
    # torch 2.13 has no prebuilt mmcv: the advice is the source build that works on current pip.
    assert compat["advice"]["commands"][-1].endswith(
        '-m pip install --no-build-isolation --no-cache-dir "mmcv>=2.0.0rc4,<2.2.0"'
    )
    assert by_id(doc, "mmcv.ops")["status"] == "fail"
    assert by_id(doc, "mmengine.checkpoint")["known_failure"] == "torch-load-weights-only"


def test_the_advice_for_the_broken_stack_repairs_it(mmdoctor, compiled_stack_venv: Path) -> None:
    """The fixture ran check's advice (uninstall mmcv-lite, the setuptools window, a source
    build of mmcv 2.1.0); now the same check passes and the compiled ops really run."""
    run = mmdoctor("check", "--python", str(compiled_stack_venv), "--cpu-only", "--json")
    doc = run.json()
    assert run.returncode == 0, [c for c in doc["checks"] if c["status"] == "fail"]
    assert by_id(doc, "mmcv.ops")["status"] == "ok"
    assert "CPU only" in by_id(doc, "mmcv.ops")["summary"]
    assert by_id(doc, "mmdet.compat")["summary"].startswith("mmdet 3.3.0 imports with mmcv 2.1.0")
    nms = subprocess.run(
        [
            str(compiled_stack_venv / "bin" / "python"),
            "-c",
            "import torch; from mmcv.ops import nms; "
            "boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float32); "
            "scores = torch.tensor([0.9, 0.8, 0.7]); "
            "_, keep = nms(boxes, scores, 0.5); print(keep.tolist())",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert nms.returncode == 0, nms.stderr
    assert nms.stdout.strip() == "[0, 2]"


def test_broken_packages_do_not_crash_mmdoctor(mmdoctor, broken_venv: Path) -> None:
    run = mmdoctor("check", "--python", str(broken_venv), "--cpu-only", "--timeout", "4", "--json")
    assert run.returncode == 1
    doc = run.json()
    ops = by_id(doc, "mmcv.ops")
    assert ops["status"] == "fail" and "SIGSEGV" in ops["summary"]
    assert by_id(doc, "opencv.duplicates")["status"] == "fail"
    assert by_id(doc, "opencv.import")["known_failure"] == "libgl-missing"
    hung = doc["environment"]["target"]["steps"]["mmengine"]
    assert hung["crashed"] == "did not finish within 4 s (killed)"


def test_mim_without_pkg_resources_and_the_advice_fixes_it(mmdoctor, tmp_path: Path) -> None:
    """openmim then a newer setuptools: the three-way squeeze. The advised command must work."""
    venv = _venv(f"mim-fix-{tmp_path.name}", [["openmim==0.3.9"], ["setuptools==84.2.1"]])
    try:
        before = mmdoctor("check", "--python", str(venv), "--only", "setuptools", "--json").json()
        finding = by_id(before, "setuptools.window")
        assert finding["status"] == "fail"
        assert finding["known_failure"] == "pkg-resources-removed-mim"
        for command in finding["advice"]["commands"]:
            subprocess.run(shlex.split(command), check=True, capture_output=True, timeout=600)
        after = mmdoctor("check", "--python", str(venv), "--only", "setuptools", "--json")
        assert after.returncode == 0
        mim = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "mim", "--version"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert mim.returncode == 0 and "0.3.9" in mim.stdout
    finally:
        subprocess.run(["rm", "-rf", str(venv)], check=False)


# ------------------------------------------------------------------- NVML through the stand-in driver


def test_gpu_machine_with_cpu_torch(mmdoctor, fake_nvml_lib: Path, torch_venv: Path) -> None:
    env = fake_nvml_env(fake_nvml_lib, gpus=[A100, A100], driver="535.104.05", cuda=12020)
    run = mmdoctor("check", "--python", str(torch_venv), "--json", env=env)
    doc = run.json()
    assert run.returncode == 1
    driver = by_id(doc, "nvidia.driver")
    assert driver["status"] == "ok"
    assert driver["summary"] == "driver 535.104.05, supports CUDA <= 12.2 (read from nvml)"
    gpus = doc["environment"]["nvidia"]["gpus"]
    assert [g["compute_capability"] for g in gpus] == ["8.0", "8.0"]
    assert gpus[0]["memory_total_bytes"] == 81920 * 2**20
    cpu = by_id(doc, "torch.cuda_build")
    assert cpu["status"] == "fail" and cpu["known_failure"] == "torch-cpu-only-build"
    assert "https://download.pytorch.org/whl/cu126" in cpu["advice"]["commands"][0]


def test_driver_library_mismatch(mmdoctor, fake_nvml_lib: Path, torch_venv: Path) -> None:
    env = fake_nvml_env(fake_nvml_lib, init_error=18)
    run = mmdoctor("check", "--python", str(torch_venv), env=env)
    assert run.returncode == 1
    assert "driver/library version mismatch" in run.stdout
    assert "Reboot" in run.stdout


def test_old_driver_and_old_gpu_with_cuda_torch(
    mmdoctor, fake_nvml_lib: Path, cuda_torch_venv: Path
) -> None:
    """A real CUDA 13.0 torch on a (stand-in) driver 470 with a GTX 1080."""
    env = fake_nvml_env(fake_nvml_lib, gpus=[GTX1080], driver="470.82.01", cuda=11040)
    doc = mmdoctor("check", "--python", str(cuda_torch_venv), "--json", env=env).json()
    too_old = by_id(doc, "torch.driver")
    assert too_old["status"] == "fail"
    assert (
        "needs driver >= 580.65.06 (CUDA 13.0), this is 470.82.01 (CUDA <= 11.4)"
        in too_old["summary"]
    )
    arch = by_id(doc, "torch.gpu_arch")
    assert arch["status"] == "fail" and "sm_61" in arch["summary"]
    assert statuses(doc)["torchvision.match"] == "ok"


def test_what_if_overrides(mmdoctor, cuda_torch_venv: Path) -> None:
    env = {**os.environ, "MMDOCTOR_DRIVER_VERSION": "580.95.05", "MMDOCTOR_GPU_CC": "9.0,9.0"}
    run = mmdoctor("check", "--python", str(cuda_torch_venv), "--json", env=env)
    doc = run.json()
    assert doc["environment"]["nvidia"]["source"] == "override"
    assert doc["environment"]["overrides"]["MMDOCTOR_GPU_CC"] == "9.0,9.0"
    assert statuses(doc)["torch.driver"] == "ok"
    assert statuses(doc)["torch.gpu_arch"] == "ok"


def test_markdown_report_is_scrubbed(mmdoctor, fake_nvml_lib: Path, torch_venv: Path) -> None:
    env = fake_nvml_env(fake_nvml_lib, gpus=[A100], driver="535.104.05")
    env["HOME"] = str(REPO.parent)  # the venvs live under it, so their paths must turn into ~
    run = mmdoctor("check", "--python", str(torch_venv), "--format", "markdown", env=env)
    assert run.returncode == 1
    report = run.stdout
    assert report.startswith("## mmdoctor check report")
    assert "GPU-11111111" not in report and "GPU-<redacted>" in report
    assert str(REPO.parent) + "/" not in report
    assert "~/" in report
    assert "| `torch.cuda_build` |" in report
    assert "```bash" in report


# ------------------------------------------------------------------- a real terminal


def run_in_pty(args: list[str], env: dict[str, str]) -> str:
    """The CLI with stdout on a pseudo-terminal, as a person at a terminal runs it."""
    import pty

    primary, secondary = pty.openpty()
    full_env = {**env, "PYTHONPATH": str(REPO / "src"), "COLUMNS": "120"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmdoctor", *args],
        stdout=secondary,
        stderr=subprocess.DEVNULL,
        env=full_env,
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(primary)
    return b"".join(chunks).decode("utf-8", "replace")


def test_colour_on_a_terminal_and_no_color_honoured(bare_venv: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["TERM"] = "xterm-256color"
    args = ["check", "--python", str(bare_venv), "--only", "torch.import"]
    colour_code = re.compile(r"\x1b\[(?:[0-9]+;)*(?:3[0-8]|9[0-7])[;m]")
    coloured = run_in_pty(args, env)
    assert colour_code.search(coloured) and "torch is not installed" in coloured
    plain = run_in_pty(args, {**env, "NO_COLOR": "1"})
    assert "torch is not installed" in plain
    assert not colour_code.search(plain)


# ------------------------------------------------------------------- interpreters no stack runs on


@pytest.mark.parametrize("version", ["2.7", "3.6"])
@pytest.mark.parametrize(
    "command", [["check"], ["install", "--dry-run"], ["fix", "--dry-run"], ["smoke-test"]]
)
def test_a_python_no_stack_runs_on_is_refused(mmdoctor, version: str, command: list[str]) -> None:
    # issue 13.8: Python 3.6 got a [✓] and an mmdet 3 plan; Python 2.7 got torch advice
    found = sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}"))
    if not found:
        pytest.skip(f"no Python {version} from pyenv here")
    run = mmdoctor(*command, "--python", str(found[0]), "--json")
    assert run.returncode == 2, run.stdout + run.stderr
    assert_one_line_error(run.stderr, f"is Python {version}.")
    assert "need Python 3.7+" in run.json()["errors"][0]["message"]


def test_a_venv_without_pip(mmdoctor, tmp_path: Path) -> None:
    venv = tmp_path / "nopip"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    checked = mmdoctor("check", "--python", python, "--only", "python", "--json")
    finding = next(c for c in checked.json()["checks"] if c["id"] == "python.environment")
    assert finding["status"] == "warn" and "no pip" in finding["details"][0]
    assert finding["advice"]["commands"] == [f"{python} -m ensurepip --upgrade"]
    for command in (["install", "--dry-run"], ["fix", "--dry-run", "--cpu-only"]):
        run = mmdoctor(*command, "--python", python)
        assert run.returncode == 2, (command, run.stdout, run.stderr)
        assert_one_line_error(run.stderr, "has no pip: run")


def test_two_formats_at_once_and_a_format_people_guess(mmdoctor) -> None:
    clash = mmdoctor("check", "--json", "--format", "markdown")
    assert clash.returncode == 2 and clash.json()["status"] == "error"
    assert_one_line_error(clash.stderr, "--json and --format markdown ask for two formats")
    guessed = mmdoctor("check", "--format", "md")
    assert guessed.returncode == 2
    assert_one_line_error(guessed.stderr, "'md' is not one of 'text', 'json', 'markdown'")
    assert "Value error" not in guessed.stderr
    assert mmdoctor("-V").stdout.startswith("mmdoctor 0.1.0")


# ------------------------------------------------------------------- whose environment (13.2)


@pytest.mark.parametrize(
    "command", [["install", "--dry-run"], ["fix", "--dry-run"], ["smoke-test"]]
)
def test_mmdoctors_own_environment_is_never_the_default_target(mmdoctor, command) -> None:
    # the interpreter running these tests holds mmdoctor and no torch, mmcv or mmdet: as pipx's
    # (a bare `check` looks at the machine instead: tests/test_first_minute.py)
    run = mmdoctor(*command)
    assert run.returncode == 2, run.stdout + run.stderr
    assert_one_line_error(run.stderr, f"mmdoctor runs from its own ({sys.prefix})")
    assert "--python PATH or --venv DIR" in run.stderr
    assert mmdoctor("check", "--json").json()["environment"] is None


def test_a_stale_virtual_env_is_said_not_skipped(mmdoctor, tmp_path: Path) -> None:
    run = mmdoctor("check", env={**os.environ, "VIRTUAL_ENV": str(tmp_path / "gone")})
    assert run.returncode == 2
    assert_one_line_error(run.stderr, f"$VIRTUAL_ENV is {tmp_path / 'gone'}, which has no Python")


def test_mmdoctor_inside_a_projects_venv_checks_that_venv(torch_venv: Path) -> None:
    # mmdoctor installed beside torch (here: its code and dependencies on the path)
    site = next(Path(sys.prefix).glob("lib/python3*/site-packages"))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(site)])
    python = str(torch_venv / "bin" / "python")
    done = subprocess.run(
        [python, "-m", "mmdoctor", "check", "--cpu-only", "--only", "torch.import", "--json"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    doc = json.loads(done.stdout)
    assert doc["environment"]["target"]["executable"] == python, done.stderr
    assert doc["checks"][0]["status"] == "ok" and done.returncode == 0


# ------------------------------------------------------------------- help at 80 columns (13.4)


@pytest.mark.parametrize(
    "command", ["check", "install", "fix", "rollback", "matrix", "smoke-test", "diagnose"]
)
def test_help_reads_at_80_columns(mmdoctor, command: str) -> None:
    run = mmdoctor(command, "--help", env={**os.environ, "COLUMNS": "80"})
    assert run.returncode == 0
    lines = run.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    assert "…" not in run.stdout and "╭" not in run.stdout  # nothing cut short, no boxes
    options = run.stdout.split("Options:")[1]
    for python_type in ("<bool>", "<str>", "<float", "<int", "<list", "<path>"):
        assert python_type not in run.stdout, (python_type, run.stdout)  # arguments too
    assert "  -h, --help" in options
    # the docstring is re-wrapped to the width, its paragraphs kept
    assert any(line.startswith("  Exit codes: ") for line in lines), lines[:12]


def test_install_help_names_values_as_people_read_them(mmdoctor) -> None:
    text = mmdoctor("install", "--help", env={**os.environ, "COLUMNS": "80"}).stdout
    for shown in ("--python PATH", "--venv DIR", "--driver VERSION", "--gpu-cc X.Y",
                  "--index-url URL", "--find-links DIR|URL", "--timeout SECONDS",
                  "--allow-source-build / --no-source-build"):  # fmt: skip
        assert shown in text, shown


# ------------------------------------------------------------------- the terminal's width (13.3)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def _in_a_pty(*args: str, columns: int = 80) -> str:
    """Run mmdoctor on a real pseudo-terminal of `columns` columns; its screen output, plain."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "VIRTUAL_ENV")}
    env.update(NO_COLOR="1", TERM="xterm", PYTHONPATH=str(REPO / "src"))
    proc = subprocess.Popen([sys.executable, "-m", "mmdoctor", *args], stdin=follower,
                            stdout=follower, stderr=follower, env=env)  # fmt: skip
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=120)
    os.close(leader)
    text = _ANSI.sub("", out.decode()).replace("\r\n", "\n")
    return text.split("\n", 1)[1] if "Probing" in text.split("\n", 1)[0] else text


def test_check_wraps_prose_to_80_columns_and_keeps_commands_whole(bare_venv: Path) -> None:
    screen = _in_a_pty("check", "--python", str(bare_venv))
    lines = [line.rstrip() for line in screen.splitlines()]
    commands = [line for line in lines if line.lstrip().startswith("$ ")]
    # a long command goes on over lines ending ` \` (issue 27.5: tests/test_80_columns.py)
    assert commands and any(line.endswith(" \\") for line in commands)
    assert all(len(line) <= 80 for line in lines), screen
    # a wrapped "Why:" goes on under its text, not at the margin nor under "Why:"
    why = next(i for i, line in enumerate(lines) if line.startswith("    Why: "))
    assert lines[why + 1].startswith("         ") and lines[why + 1].strip(), lines[why : why + 2]
    fix = next(line for line in lines if line.startswith("    Fix: "))
    assert not fix.endswith("-")  # no word cut in two


def test_piped_check_output_is_not_wrapped(mmdoctor, bare_venv: Path) -> None:
    run = mmdoctor("check", "--python", str(bare_venv), env={**os.environ, "COLUMNS": "80"})
    why = [line for line in run.stdout.splitlines() if line.startswith("    Why: ")]
    assert why and any(len(line) > 80 for line in why)  # one line per finding, for grep


# ------------------------------------------------------------------- what people type (13.16)


def test_an_error_names_the_variable_that_was_set(mmdoctor) -> None:
    run = mmdoctor("check", env={**os.environ, "MMDOCTOR_PYTHON": "/nope"})
    assert run.returncode == 2
    assert_one_line_error(run.stderr, "MMDOCTOR_PYTHON /nope: no such file or directory")
    assert "--python /nope" in mmdoctor("check", "--python", "/nope").stderr


def test_a_reader_that_stops_early_is_no_error() -> None:
    # `mmdoctor diagnose LOG | head -1`: the exit code is the command's, not a broken pipe's
    log = REPO / "tests" / "data" / "logs" / "cuda-driver-too-old.log"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmdoctor", "diagnose", str(log), "-v"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # what head does after its line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert "Traceback" not in err and "Broken pipe" not in err


def test_piped_tables_have_no_trailing_spaces(mmdoctor) -> None:
    run = mmdoctor("matrix", "--mmdet", "3")
    assert run.returncode == 0
    assert not [line for line in run.stdout.splitlines() if line != line.rstrip()]
