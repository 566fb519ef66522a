"""Issue 27, the first minute as a newcomer meets mmdoctor: naming an environment as uv and pipx
take it (a name on PATH, --venv DIR for every command that takes a target), and errors that
name what the user really set.

The real CLI in subprocesses against the cached test venvs."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO
from installing import make_venv
from screen import Screen

TARGET_COMMANDS = (
    ["check"],
    ["install", "--dry-run"],
    ["fix", "--dry-run"],
    ["rollback"],
    ["smoke-test"],
)


def one_line_error(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mmdoctor: error: "), stderr
    return lines[0]


# ------------------------------------------------------------------- item 2: naming a target


def test_a_bare_name_is_looked_up_on_path(mmdoctor, bare_venv: Path, tmp_path: Path) -> None:
    # `--python python3.12` said "no such file or directory": a shell, uv and pipx find it
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "python3.99").symlink_to(bare_venv / "bin" / "python")
    env = {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}
    run = mmdoctor(
        "check", "--python", "python3.99", "--only", "python.environment", "--json", env=env
    )
    assert run.returncode == 0, run.stderr
    assert run.json()["environment"]["target"]["executable"] == str(folder / "python3.99")
    # the same lookup for install's base Python and for $MMDOCTOR_PYTHON (a venv's python
    # linked from elsewhere runs as a system Python: --system, or the dry run refuses it as
    # the real run would)
    planned = mmdoctor("install", "--dry-run", "--cpu", "--system", "--json",
                       env={**env, "MMDOCTOR_PYTHON": "python3.99"})  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    assert planned.json()["plan"]["executable"] == str(folder / "python3.99")


def test_a_name_that_is_nowhere_says_where_it_looked(mmdoctor) -> None:
    run = mmdoctor("check", "--python", "python3.99-nowhere")
    assert run.returncode == 2
    line = one_line_error(run.stderr)
    assert "--python python3.99-nowhere: not on PATH and no such file or directory" in line


@pytest.mark.parametrize("command", [["check"], ["fix", "--dry-run"], ["smoke-test"], ["diagnose"]])
def test_every_command_that_takes_a_target_takes_venv(
    mmdoctor, command: list[str], bare_venv: Path
) -> None:
    # check had no --venv DIR where install and rollback had one
    args = [*command, "--venv", str(bare_venv), "--json"]
    if command == ["diagnose"]:
        args.append(str(REPO / "tests" / "data" / "logs" / "cuda-driver-too-old.log"))
    if command == ["smoke-test"]:
        args += ["--device", "cpu", "--weights", "none"]
    run = mmdoctor(*args)
    assert "Traceback" not in run.stderr and run.returncode in (0, 1), run.stderr
    doc = run.json()
    python = str(bare_venv / "bin" / "python")
    found = {
        "check": lambda: doc["environment"]["target"]["executable"],
        "fix": lambda: doc["target"],
        "smoke-test": lambda: doc["executable"],
        "diagnose": lambda: python if _checked_the_environment(doc) else None,
    }[command[0]]()
    assert found == python, run.stdout


def _checked_the_environment(diagnosis: dict) -> bool:
    notes = [note for match in diagnosis["matches"] for note in match["notes"]]
    return any(
        note.startswith("confirmed in this environment") or "does not see this" in note
        for note in notes
    )


@pytest.mark.parametrize("command", [*TARGET_COMMANDS, ["diagnose"]])
def test_the_pair_is_declared_once(mmdoctor, command: list[str]) -> None:
    text = mmdoctor(command[0], "--help", env={**os.environ, "COLUMNS": "200"}).stdout
    venv = next(line for line in text.splitlines() if "--venv DIR" in line)
    python = next(line for line in text.splitlines() if "--python PATH" in line)
    assert "Virtual environment folder" in venv, venv
    assert "Interpreter" in python and "on PATH" in python, python


@pytest.mark.parametrize("command", [["check"], ["fix", "--dry-run"], ["rollback"], ["smoke-test"]])
def test_a_venv_that_is_not_there(mmdoctor, command: list[str], tmp_path: Path) -> None:
    # only install makes a venv where --venv names none
    run = mmdoctor(*command, "--venv", str(tmp_path / "none"))
    assert run.returncode == 2
    assert f"--venv {tmp_path / 'none'}: no such directory" in one_line_error(run.stderr)
    assert not (tmp_path / "none").exists()


def test_venv_and_python_name_one_environment(mmdoctor, bare_venv: Path) -> None:
    run = mmdoctor("check", "--venv", str(bare_venv), "--python", str(bare_venv))
    assert run.returncode == 2
    assert "--venv and --python name two environments" in one_line_error(run.stderr)


# ------------------------------------------------------------------- item 6: the right words


def test_an_interpreter_from_the_variable_is_named_as_the_variable(mmdoctor) -> None:
    # MMDOCTOR_PYTHON=/etc/passwd was reported as `--python /etc/passwd`
    for value, said in (("/etc/passwd", "not executable"), ("/bin/ls", "not a Python 3.7+")):
        run = mmdoctor("check", env={**os.environ, "MMDOCTOR_PYTHON": value})
        assert run.returncode == 2
        line = one_line_error(run.stderr)
        assert f"$MMDOCTOR_PYTHON {value}: {said}" in line, line
        assert "--python" not in line


def test_rollback_does_not_offer_to_create_a_venv(mmdoctor) -> None:
    # it suggested "--venv DIR (created if missing)": rollback creates nothing
    run = mmdoctor("rollback")
    assert run.returncode == 2
    line = one_line_error(run.stderr)
    assert "created if missing" not in line and "--venv DIR" in line
    install = mmdoctor("install", "--cpu", "--yes")
    assert install.returncode == 2
    assert "--venv DIR (created if missing)" in one_line_error(install.stderr)


def test_no_target_for_a_dry_run_names_python_version(mmdoctor) -> None:
    run = mmdoctor("install", "--dry-run")
    assert run.returncode == 2
    assert re.search(r"--python-version X\.Y", one_line_error(run.stderr))


# ------------------------------------------------------------------- item 3: what-if plans


def test_a_what_if_dry_run_without_a_target_plans_for_this_python(mmdoctor) -> None:
    # it was refused unless --venv, --python or --python-version was given
    run = mmdoctor("install", "--dry-run", "--driver", "535.104.05", "--gpu-cc", "8.6", "--json")
    assert run.returncode == 0, run.stderr
    doc = run.json()
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert doc["machine"]["python"] == here
    assert doc["plan"]["python"] == here
    said = doc["next_steps"][0]
    assert f"this plan is for Python {here}, the one running mmdoctor" in said
    assert "--python-version X.Y" in said
    text = mmdoctor("install", "--dry-run", "--driver", "535.104.05", "--gpu-cc", "8.6")
    assert text.returncode == 0 and f"Python {here}, the one running mmdoctor" in text.stdout


# ------------------------------------------------------------------- item 1: a bare check

MACHINE_CHECKS = {"platform.glibc", "platform.disk", "nvidia.driver", "nvidia.gpus"}
MACHINE_CHECKS |= {"cuda.nvcc", "cuda.gcc", "network.reachable"}


def test_a_bare_check_looks_at_the_machine_and_lists_the_test_venvs(
    mmdoctor, bare_venv: Path, stack_venv: Path, torch_venv: Path
) -> None:
    # `mmdoctor check` with no target was exit 2 and showed nothing; run where the tests keep
    # their venvs, it lists them with their stack, read from their metadata
    run = mmdoctor("check", "--json", cwd=stack_venv.parent)
    doc = run.json()
    assert doc["command"] == "check" and doc["environment"] is None
    assert {c["id"] for c in doc["checks"]} == MACHINE_CHECKS
    failing = [c["id"] for c in doc["checks"] if c["status"] in ("fail", "crash")]
    assert run.returncode == doc["exit_code"] == (1 if failing else 0), failing
    assert failing == ["nvidia.driver"]  # no driver on these machines, and nothing else wrong
    assert doc["searched"] == str(stack_venv.parent)
    found = {
        Path(e["executable"]): e for e in doc["environments"] if e["where"] == "current folder"
    }
    assert found[stack_venv / "bin" / "python"]["packages"] == {
        "torch": "2.13.0+cpu", "mmcv-lite": "2.2.0", "mmdet": "3.3.0"
    }  # fmt: skip
    assert found[torch_venv / "bin" / "python"]["packages"] == {"torch": "2.13.0+cpu"}
    bare = found[bare_venv / "bin" / "python"]
    assert bare["packages"] == {} and bare["kind"] == "venv" and bare["version"]
    cached = {p for p in stack_venv.parent.iterdir() if (p / "pyvenv.cfg").is_file()}
    assert {p.parent.parent for p in found} == cached  # every venv the tests made, once each


def test_the_machine_decides_the_exit_code(mmdoctor, fake_nvml_lib: Path, tmp_path: Path) -> None:
    from fakes.nvml import fake_nvml_env

    a100 = "NVIDIA A100-SXM4-80GB|8.0|81920|GPU-11111111-2222-3333-4444-555555555555"
    env = fake_nvml_env(fake_nvml_lib, gpus=[a100], driver="535.104.05", cuda=12020)
    gpu = mmdoctor("check", "--json", env=env, cwd=tmp_path)
    assert gpu.returncode == 0, gpu.stdout
    assert {c["id"]: c["status"] for c in gpu.json()["checks"]}["nvidia.gpus"] == "ok"
    assert mmdoctor("check", "--cpu-only", cwd=tmp_path).returncode == 0
    assert mmdoctor("check", cwd=tmp_path).returncode == 1  # no driver here


def _link(path: Path, to: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(to)


def test_where_a_bare_check_looks(
    mmdoctor, bare_venv: Path, stack_venv: Path, torch_venv: Path, tmp_path: Path
) -> None:
    """PATH (python3*, not pyenv's shims), conda's environments.txt and installs, pyenv's
    versions, and venvs two levels under the current folder; each once; one that hangs or is
    no Python is said, and waited for no longer than its timeout."""
    home, bin_dir, project = tmp_path / "home", tmp_path / "bin", tmp_path / "project"
    _link(bin_dir / "python3.98", stack_venv / "bin" / "python")
    _link(bin_dir / "python3", stack_venv / "bin" / "python")  # the same environment again
    hang = bin_dir / "python3.97"
    hang.write_text("#!/bin/sh\nexec /bin/sleep 60\n")
    hang.chmod(0o755)
    (bin_dir / "python3.96").write_text("#!/bin/sh\necho 'not Python' >&2; exit 3\n")
    (bin_dir / "python3.96").chmod(0o755)
    _link(home / ".pyenv" / "shims" / "python3.95", bare_venv / "bin" / "python")
    (home / ".conda").mkdir(parents=True)
    (home / ".conda" / "environments.txt").write_text(f"{torch_venv}\n")
    _link(home / ".pyenv" / "versions" / "3.99.0", bare_venv)
    made = project / "api" / ".venv"  # two levels down
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(made)], check=True)
    deep = project / "a" / "b" / "venv"  # three levels down: not looked in
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(deep)], check=True)
    path = os.pathsep.join([str(bin_dir), str(home / ".pyenv" / "shims")])
    env = {**os.environ, "HOME": str(home), "PATH": path, "PYENV_ROOT": str(home / ".pyenv")}
    started = time.monotonic()
    run = mmdoctor("check", "--json", env=env, cwd=project)
    took = time.monotonic() - started
    found = [(e["where"], e["executable"], e["error"]) for e in run.json()["environments"]]
    assert found == [
        ("PATH", str(bin_dir / "python3"), None),  # python3.98 is the same environment
        ("PATH", str(bin_dir / "python3.96"), found[1][2]),
        ("PATH", str(bin_dir / "python3.97"), "did not answer in 5 s"),
        ("conda", str(torch_venv / "bin" / "python"), None),
        ("pyenv", str(home / ".pyenv" / "versions" / "3.99.0" / "bin" / "python"), None),
        ("current folder", str(made / "bin" / "python"), None),
    ], found
    assert found[1][2] == "did not run the probe: not Python"
    assert took < 20, took  # the one that hangs is given 5 s, the others run beside it


def test_a_bare_check_at_80_columns(bare_venv: Path, stack_venv: Path) -> None:
    done = Screen.run("check", cwd=stack_venv.parent)
    assert done.code == 1, done.text
    lines = done.lines
    assert lines[0].startswith("mmdoctor check · this machine")
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert any(line.strip().startswith(f"{stack_venv.name} · Python") for line in lines)
    assert "torch 2.13.0+cpu, mmcv-lite 2.2.0, mmdet 3.3.0" in " ".join(done.text.split())
    assert lines[-2] == "To check one (or activate it, or pass --venv DIR):", lines[-3:]
    assert lines[-1].startswith("  $ mmdoctor check --python ")


def test_a_stray_module_where_the_user_stands_shadows_nothing(tmp_path: Path) -> None:
    # found trying a bare check in /tmp: a warnings.py there broke the NVML probe (`python -m`
    # puts the working folder first on sys.path), and a json.py would break each glance. The
    # console script, as people run it (`python -m mmdoctor` would itself import them).
    script = Path(sys.executable).parent / "mmdoctor"
    if not script.is_file():
        pytest.skip("mmdoctor is not installed as a console script in this environment")
    for name in ("warnings.py", "json.py"):
        (tmp_path / name).write_text('raise ImportError("a stray module")\n')
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    done = subprocess.run(
        [str(script), "check", "--json", "--offline"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )  # fmt: skip
    doc = json.loads(done.stdout)
    driver = next(c for c in doc["checks"] if c["id"] == "nvidia.driver")
    assert driver["summary"].startswith("no NVIDIA driver: the NVML library"), driver
    assert doc["environments"] and not [e for e in doc["environments"] if e["error"]]


def test_fleet_report_reads_a_bare_checks_machine(mmdoctor, tmp_path: Path) -> None:
    # `fleet check` without --python: each node's bare check reports its machine
    report = tmp_path / "node.json"
    report.write_text(mmdoctor("check", "--json", cwd=tmp_path).stdout)
    summary = mmdoctor("fleet", "report", str(report), "--json").json()
    assert [n["node"] for n in summary["nodes"]] == [socket.gethostname()]
    assert summary["nodes"][0]["problems"][0]["check"] == "nvidia.driver"


# ------------------------------------------------------------------- item 6: noise

HINT = "(--debug shows the traceback)"


def test_the_debug_hint_only_where_there_is_a_traceback(
    mmdoctor, bare_venv: Path, tmp_path: Path
) -> None:
    # it followed every error: "no snapshot", a host that does not answer, Ctrl-C (the last in
    # tests/test_prompts.py and test_diagnose.py)
    env = {**os.environ, "MMDOCTOR_STATE_DIR": str(tmp_path / "state"), "MMDOCTOR_OFFLINE": "0"}
    nothing = mmdoctor("rollback", "--venv", str(bare_venv), env=env)
    assert nothing.returncode == 1 and "no snapshot" in one_line_error(nothing.stderr)
    assert HINT not in nothing.stderr
    venv = tmp_path / "new"
    args = ("install", "--venv", str(venv), "--cpu", "--yes", "--installer", "pip")
    unreachable = mmdoctor(*args, "--index-url", "https://127.0.0.1:9/simple", env=env)
    assert unreachable.returncode == 4, unreachable.stderr
    assert "127.0.0.1:9" in one_line_error(unreachable.stderr) and HINT not in unreachable.stderr
    assert not venv.exists()


def test_an_internal_error_keeps_the_hint(capsys) -> None:
    from mmdoctor.render.emit import emit
    from mmdoctor.result import Result

    emit(Result.of_exception("check", KeyError("surprise")), "text")
    assert (
        capsys.readouterr().err == f"mmdoctor: error: internal error: KeyError: 'surprise' {HINT}\n"
    )
    emit(Result.of_exception("check", KeyError("surprise")), "text", debug=True)
    assert HINT not in capsys.readouterr().err  # --debug printed the traceback already


def test_fix_steps_say_each_thing_once(mmdoctor, stack_venv: Path) -> None:
    # the fix text of one check was repeated word for word before each of its commands (the
    # OpenCV fix's steps 3 and 4; here mmcv.ops' three)
    doc = mmdoctor("fix", "--dry-run", "--cpu-only", "--python", str(stack_venv), "--json").json()
    descriptions = [step["description"] for step in doc["plan"]["steps"]]
    assert len(descriptions) == len(set(descriptions)) > 2, descriptions
    # the fix is the stack plan's changes here (issue 25): each step says what it does
    assert descriptions[0].startswith("remove what cannot live beside this stack: mmcv-lite")


def test_user_text_carries_no_provenance() -> None:
    # "(the reporter used opencv-python==4.5.5.64)": where a fix came from is the entry's
    # `sources`, not what the user is told to do
    from mmdoctor.knowledge import load_knowledge

    for failure in load_knowledge().failures:
        for text in (failure.fix_text, failure.root_cause):
            assert not re.search(r"\breport(er|ed by)\b|\bthe OP\b", text), (failure.id, text)


def test_the_plan_says_which_torch_build_pypi_gives(mmdoctor) -> None:
    # `--torch-source pypi` showed "torch 2.1.2 (cpu)" while planning PyPI's CUDA build
    run = mmdoctor("install", "--dry-run", "--python-version", "3.11", "--torch-source", "pypi")
    plan = next(line for line in run.stdout.splitlines() if line.startswith("Plan: "))
    wheel = mmdoctor(
        "install", "--dry-run", "--python-version", "3.11", "--torch-source", "pypi", "--json"
    ).json()["plan"]["torch"]
    assert plan.endswith(f"+ torch {wheel['version']} (PyPI's {wheel['build']} build)")
    assert wheel["build"] != "cpu" and "(cpu)" not in plan


def test_percent_n_is_a_node_name_only_for_fleet(mmdoctor, tmp_path: Path) -> None:
    # `--venv '/x%n'` put the host name in a plain install's path
    venv = tmp_path / "mm-%n"
    args = ("install", "--dry-run", "--cpu", "--venv", str(venv), "--json")
    plain = mmdoctor(*args).json()["plan"]["executable"]
    assert plain == str(venv / "bin" / "python")
    from mmdoctor.commands.install import NODE_VENV  # what fleet install --wheelhouse sets

    env = {**os.environ, NODE_VENV: "1", "SLURMD_NODENAME": "node7"}
    on_a_node = mmdoctor(*args, env=env).json()["plan"]["executable"]
    assert on_a_node == str(tmp_path / "mm-node7" / "bin" / "python")


def test_a_broken_slurm_configuration_is_said_with_its_fix(mmdoctor, tmp_path: Path) -> None:
    # sinfo's raw "fatal: Unable to process configuration file", and no fix
    if shutil.which("sinfo") is None:
        pytest.skip("no Slurm client (sinfo) here")
    conf = tmp_path / "slurm.conf"
    conf.write_text("ClusterName=broken\nBogusKey=1\n")
    run = mmdoctor("fleet", "check", env={**os.environ, "SLURM_CONF": str(conf)})
    assert run.returncode == 4, run.stderr
    line = one_line_error(run.stderr)
    assert f"Slurm's client cannot read its configuration ({conf})" in line, line
    assert "unrecognized key: BogusKey" in line and "SLURM_CONF" in line and HINT not in line


def test_fix_ends_with_the_rollback_that_undoes_it(mmdoctor, tmp_path: Path) -> None:
    # it ended "`mmdoctor rollback` puts the environment back", but a bare rollback needs the
    # target: the command it prints is the one that works, run here
    venv = make_venv(tmp_path / "venv")
    python = venv / "bin" / "python"
    for requirement in ("openmim==0.3.9", "setuptools==84.2.1"):
        pip = [str(python), "-m", "pip", "install", "-q", requirement]
        subprocess.run(pip, check=True, capture_output=True, timeout=900)
    env = {**os.environ, "MMDOCTOR_STATE_DIR": str(tmp_path / "state")}
    args = ("--python", str(venv), "--cpu-only", "--yes", "--only", "pkg-resources-removed-mim")
    run = mmdoctor("fix", *args, env=env, timeout=1800)
    assert run.returncode == 0, run.stdout + run.stderr
    said = re.search(r"`(mmdoctor rollback [^`]+)` puts the environment back", run.stdout)
    assert said and said[1] == f"mmdoctor rollback --python {python}", run.stdout
    back = mmdoctor(*said[1].split()[1:], env=env, timeout=900)
    assert back.returncode == 0, back.stdout + back.stderr


def test_where_none_has_a_stack_the_plan_is_the_next_step(
    mmdoctor, bare_venv: Path, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    _link(bin_dir / "python3", Path(sys.executable))  # mmdoctor's own: no stack
    _link(tmp_path / "work" / "venv", bare_venv)  # a link: not looked through
    real = tmp_path / "work" / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(real)], check=True)
    env = {**os.environ, "HOME": str(tmp_path), "PATH": str(bin_dir)}
    run = mmdoctor("check", "--offline", env=env, cwd=tmp_path / "work")
    tail = run.stdout.splitlines()[-4:]
    assert tail == [
        "To check one (or activate it, or pass --venv DIR):",
        "  $ mmdoctor check --python env",  # a venv before a system interpreter
        "None has torch, mmcv or mmdet; the stack that fits this machine, planned:",
        "  $ mmdoctor install --venv DIR --dry-run",
    ], run.stdout


def test_the_opencv_fix_says_each_thing_once() -> None:
    # the case of the report: two OpenCVs, the fix's uninstall and install steps (3 and 4)
    from builders import env

    from mmdoctor.checks import all_checks
    from mmdoctor.checks.model import Context, run_checks
    from mmdoctor.fix import plan_fixes, stack_plan_for
    from mmdoctor.planning.matrix import load_matrix
    from mmdoctor.planning.sources import Sources

    two = env(dists={"opencv-python": "4.9.0.80", "opencv-python-headless": "4.9"})
    matrix = load_matrix()
    results = run_checks(Context(two, matrix, cpu_only=True), all_checks())
    plan_for = stack_plan_for(two, matrix, Sources(), installer="pip", cpu_only=True)
    plan, _ = plan_fixes(results, "/venv/bin/python", ("opencv.duplicates",), matrix, plan_for)
    said = [step.description for step in plan.steps]
    assert len(said) == len(set(said)) == 3, said  # uninstall, install, check again
    # through the stack plan (issue 25): the OpenCV nothing requires goes, the other is
    # written again whole
    assert "reporter" not in said[0] and said[0].startswith("remove what cannot live beside")
    assert said[1] == "OpenCV again, as it was: opencv-python 4.9.0.80"


def test_fleet_install_still_makes_its_venv(mmdoctor, tmp_path: Path) -> None:
    # the shared --venv of `fleet install` is created like install's (here it gets as far as
    # looking for srun, which this PATH lacks), not refused as "no such directory"
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    run = mmdoctor("fleet", "install", "--venv", str(tmp_path / "shared"), "--yes", env=env)
    assert run.returncode == 2
    assert "no `srun` on PATH" in one_line_error(run.stderr)


@pytest.mark.parametrize("command", ["check", "plan", "smoke-test"])
def test_fleet_commands_take_the_pair_too(mmdoctor, command: str, bare_venv: Path) -> None:
    if shutil.which("srun") is None:
        pytest.skip("no Slurm client (srun) here: fleet commands stop before their target")
    run = mmdoctor("fleet", command, "--venv", str(bare_venv), "--python", str(bare_venv))
    assert run.returncode == 2
    assert "--venv and --python name two environments" in one_line_error(run.stderr)


def test_mmdoctors_own_venv_is_the_example_only_where_there_is_no_other(
    mmdoctor, tmp_path: Path
) -> None:
    # the only other interpreter: a system Python on PATH (the one the test venvs are made of)
    other = tmp_path / "bin" / "python3"
    _link(other, Path(getattr(sys, "_base_executable", sys.executable)))
    env = {**os.environ, "HOME": str(tmp_path), "PATH": str(other.parent)}
    env["PYENV_ROOT"] = str(tmp_path / "no-pyenv")
    # run where mmdoctor's own venv is found (its parent folder)
    run = mmdoctor("check", "--offline", env=env, cwd=Path(sys.prefix).parent)
    assert "(venv, mmdoctor's own): no torch" in run.stdout, run.stdout
    assert f"$ mmdoctor check --python {other}\n" in run.stdout, run.stdout
