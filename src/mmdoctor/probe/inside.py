"""Probe the target interpreter: run inside_script.py in it, and survive what it does.

The steps run in two groups, in two processes at once: the light packaging steps, and the
torch → mmcv → mmdet chain (each import there builds on the one before). A step that kills or
hangs its process is recorded as crashed, and the group starts again after it.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, Future
from typing import Any

from mmdoctor import paths, shell
from mmdoctor.errors import MmdoctorError, ProbeError, UsageError
from mmdoctor.target import StepResult, Target, distributions_of

MARKER = "@@MMDOCTOR "
# The oldest Python any stack mmdoctor knows runs on (mmcv 2, mmdet 3, mmengine and torch >=
# 1.11 all need 3.7), and the oldest its probe scripts are written for.
OLDEST_PYTHON = (3, 7)
# The interpreter's own facts (where it lives, pip and its settings, what is installed): no
# imports of the stack, so it answers in a fraction of a second and comes first.
PYTHON_STEP = "python"
LIGHT_STEPS = ("distutils", "setuptools", "pkg_resources", "numpy", "cv2", "mim")
# mmcv_ext_info last: when it kills the interpreter, no later step has to run again.
STACK_STEPS = (
    "torch",
    "torchvision",
    "mmcv",
    "mmcv_ext",
    "mmengine",
    "mmdet_bounds",
    "mmdet",
    "mmcv_ext_info",
)
IMPORT_STEPS = (*LIGHT_STEPS, *STACK_STEPS)


def _script() -> str:
    return paths.inside_script(paths.PROBE_SCRIPT)


def probe_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of a probe run: check is read-only, so no __pycache__ files are left in
    the user's environment."""
    env = dict(environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONSTARTUP", None)
    return env


def probe_python(
    executable: str, *, timeout: float, environ: Mapping[str, str], how: str = "--python"
) -> StepResult:
    """The python step alone, in one run of the interpreter: an interpreter that does not run
    it, or one no stack runs on, is refused here (exit 2 or 4), named as it was chosen (`how`:
    --python, $MMDOCTOR_PYTHON, --venv, $VIRTUAL_ENV, ...)."""
    env = probe_env(environ)
    step = _run_group(executable, _script(), (PYTHON_STEP,), timeout, env, how)[PYTHON_STEP]
    return _usable(executable, step, timeout, how)


def probe_in_one_run(
    executable: str,
    steps: Sequence[str],
    *,
    step_timeout: float,
    environ: Mapping[str, str],
    how: str = "--python",
) -> tuple[StepResult, dict[str, StepResult]]:
    """The python step, then `steps`, in one run of the interpreter (install: its facts and
    the stack it holds, as check reads them); a step that kills the run is recorded and the
    rest run again after it."""
    env = probe_env(environ)
    results = _run_group(executable, _script(), (PYTHON_STEP, *steps), step_timeout, env, how)
    return _usable(executable, results.pop(PYTHON_STEP), step_timeout, how), results


def _usable(executable: str, step: StepResult, timeout: float, how: str) -> StepResult:
    """The python step's answer, if it is a Python a stack runs on: a hung one, one that
    failed, one whose answer is not the probe's, or a Python too old, is refused."""
    if step.crashed and step.crashed.startswith(HUNG):
        raise _hung(executable, timeout)
    if not step.ok:
        raise ProbeError(f"{executable}: the probe failed inside it: {step.error or step.crashed}")
    _require_facts(executable, step.data, how)
    require_supported(executable, str(step.data["version"]))
    return step


# What the python step must answer, and of which type: anything else is not a Python (a
# script printing the marker, a wrapper that lies), refused as such rather than a KeyError.
_FACTS: dict[str, type | tuple[type, ...]] = {
    "version": str,
    "implementation": str,
    "prefix": str,
    "in_venv": bool,
    "is_conda": bool,
    "externally_managed": bool,
    "platform": str,
    "machine": str,
    "distributions": list,
}


def _require_facts(executable: str, data: object, how: str) -> None:
    missing = (
        [key for key, kind in _FACTS.items() if not isinstance(data.get(key), kind)]
        if isinstance(data, dict)
        else ["any fact"]
    )
    records = data.get("distributions") if isinstance(data, dict) else None
    if isinstance(records, list) and not all(map(_distribution_record, records)):
        missing.append("distributions")
    if missing:
        raise UsageError(
            f"{how} {executable}: not a Python 3.7+ interpreter mmdoctor can use (its answer "
            f"to the probe lacks {', '.join(missing)})"
        )


def _distribution_record(record: object) -> bool:
    return (
        isinstance(record, dict)
        and isinstance(record.get("name"), str)
        and isinstance(record.get("location"), str)
        and isinstance(record.get("version"), str | None)
    )


HUNG = "did not finish within"


def _hung(executable: str, timeout: float) -> ProbeError:
    return ProbeError(
        f"{executable}: the probe did not answer within {timeout:g} s (a hung interpreter? "
        "--timeout gives it longer)"
    )


def probe_steps(
    executable: str,
    steps: Sequence[str],
    *,
    step_timeout: float,
    pool: Executor,
    environ: Mapping[str, str],
    how: str = "--python",
) -> list[Future[dict[str, StepResult]]]:
    """The import steps of `steps`: the light group and the stack chain, each in a process of
    its own, at once."""
    env, script = probe_env(environ), _script()
    groups = [tuple(s for s in group if s in steps) for group in (LIGHT_STEPS, STACK_STEPS)]
    return [
        pool.submit(_run_group, executable, script, group, step_timeout, env, how)
        for group in groups
        if group
    ]


def results(jobs: Sequence[Future[dict[str, StepResult]]]) -> dict[str, StepResult]:
    return {name: step for job in jobs for name, step in job.result().items()}


def probe_target(
    executable: str,
    *,
    step_timeout: float,
    pool: Executor,
    environ: Mapping[str, str],
    how: str = "--python",
    steps: Sequence[str] = IMPORT_STEPS,
) -> Target:
    """Every step of `steps` in the target: the python step first, the import steps in
    parallel with it."""
    imports = probe_steps(
        executable, steps, step_timeout=step_timeout, pool=pool, environ=environ, how=how
    )
    python = probe_python(executable, timeout=step_timeout, environ=environ, how=how)
    return target_from(executable, how, python, results(imports))


def target_from(
    executable: str, how: str, python: StepResult, steps: Mapping[str, StepResult]
) -> Target:
    """A Target from the python step's facts and the other steps' results."""
    data = python.data
    config = data.get("pip_config")
    return Target(
        executable=executable,
        version=str(data["version"]),
        implementation=str(data["implementation"]),
        prefix=str(data["prefix"]),
        in_venv=bool(data["in_venv"]),
        is_conda=bool(data["is_conda"]),
        externally_managed=bool(data["externally_managed"]),
        platform=str(data["platform"]),
        machine=str(data["machine"]),
        distributions=distributions_of(data["distributions"]),
        steps=dict(steps),
        include_dir=data.get("include") or None,
        has_python_h=data.get("has_python_h"),
        scripts_dir=data.get("scripts") or None,
        ninja=data.get("ninja") or None,
        how=how,
        bundled_wheels=data.get("bundled") or None,
        pip_config=tuple((str(k), str(v)) for k, v in config) if config is not None else None,
        constraints=tuple((str(f), str(line)) for f, line in data.get("constraints") or ()),
    )


def require_supported(executable: str, version: str) -> None:
    """Refuse an interpreter no stack runs on (exit 2), before its findings mislead."""
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts < OLDEST_PYTHON:
        oldest = ".".join(map(str, OLDEST_PYTHON))
        raise UsageError(
            f"{executable} is Python {version}: no torch + mmcv + mmdet stack mmdoctor knows "
            f"runs on it (mmcv 2, mmdet 3 and torch >= 1.11 need Python {oldest}+); use a "
            f"Python {oldest} or newer"
        )


def run_marked(
    executable: str,
    script: str,
    args: Sequence[str],
    *,
    step_timeout: float,
    total_timeout: float,
    env: Mapping[str, str],
    how: str = "--python",
) -> tuple[list[str], dict[str, StepResult], str | None]:
    """Run a marker-protocol script (see inside_script.py) in the target interpreter. Returns
    the steps that began, those that finished, and the one that killed or hung the process
    (recorded as crashed in the finished ones too), if any."""
    try:
        run = shell.run(
            [executable, "-c", script, *args],
            timeout=total_timeout,
            idle_timeout=step_timeout,
            env=env,
        )
    except shell.CommandNotFound as exc:
        raise UsageError(f"{how} {executable}: {exc.reason}") from None
    begun, finished = _parse(run.stdout)
    if not begun:
        raise _not_python(executable, run, how, step_timeout)
    culprit = next((name for name in begun if name not in finished), None)
    if culprit is None and not run.ok:
        culprit = begun[-1] if begun[-1] not in finished else None
    if culprit is not None:
        death = _describe_death(run, step_timeout)
        where = crash_site(run.stderr_tail, script)
        if where and not run.timed_out:
            death = f"{death} at {where}"
        finished[culprit] = StepResult(
            name=culprit, ok=False, error=death, crashed=death, stderr=run.stderr_tail
        )
    return begun, finished, culprit


def _run_group(
    executable: str,
    script: str,
    steps: Sequence[str],
    step_timeout: float,
    env: Mapping[str, str],
    how: str = "--python",
) -> dict[str, StepResult]:
    results: dict[str, StepResult] = {}
    remaining = list(steps)
    while remaining:
        _begun, finished, culprit = run_marked(
            executable,
            script,
            remaining,
            step_timeout=step_timeout,
            total_timeout=step_timeout * len(remaining) + 5,
            env=env,
            how=how,
        )
        results.update({name: step for name, step in finished.items() if name in remaining})
        left = [name for name in remaining if name not in results]
        if culprit is None and left:
            # The process ended without starting the rest: count the next one as the culprit.
            results[left[0]] = StepResult(
                name=left[0], ok=False, error="the probe stopped before this step"
            )
        elif culprit is not None and culprit not in remaining:
            # It died in a step nobody asked for (not the probe script talking): no step of
            # this group can run, and running it again would never end.
            why = f"the interpreter stopped in a step it was not asked for ({culprit})"
            results.update({name: StepResult(name=name, ok=False, error=why) for name in left})
        remaining = [name for name in remaining if name not in results]
    return results


def _parse(stdout: str) -> tuple[list[str], dict[str, StepResult]]:
    begun: list[str] = []
    finished: dict[str, StepResult] = {}
    for line in stdout.splitlines():
        if not line.startswith(MARKER):
            continue  # libraries print too
        try:
            record: Any = json.loads(line[len(MARKER) :])
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue  # not the probe script's: it writes objects only
        if "begin" in record:
            begun.append(str(record["begin"]))
            continue
        if "step" not in record:
            continue
        name = str(record["step"])
        finished[name] = StepResult(
            name=name,
            ok=bool(record.get("ok")),
            data=record.get("data") or {},
            error=record.get("error"),
            missing=bool(record.get("missing")),
            traceback=record.get("traceback"),
            stderr=record.get("stderr") or "",
            seconds=record.get("seconds"),
        )
    return begun, finished


def _describe_death(run: shell.CommandResult, step_timeout: float) -> str:
    if run.timed_out:
        return f"{HUNG} {step_timeout:g} s (killed)"
    code = run.returncode
    if code is not None and code < 0:
        try:
            return f"the interpreter was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"the interpreter was killed by signal {-code}"
    return f"the interpreter exited with status {code} in the middle of this step"


# faulthandler's frames, innermost first: File "<string>", line 266 in step_mmcv_ext
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<func>\S+)', re.M)


def crash_site(stderr: str, script: str) -> str | None:
    """The innermost Python frame of a fatal crash, from faulthandler's report: a library's file
    and line, or, inside the probe script (run as `-c`, so named <string>), the statement."""
    frame = _FRAME.search(stderr)
    if frame is None:
        return None
    file, number = frame["file"], int(frame["line"])
    if file == "<string>":
        lines = script.splitlines()
        statement = lines[number - 1].strip() if 0 < number <= len(lines) else frame["func"]
        return f"`{statement}`"
    return f"{file}:{number} ({frame['func']})"


def _not_python(
    executable: str, run: shell.CommandResult, how: str, timeout: float
) -> MmdoctorError:
    if run.timed_out:
        return _hung(executable, timeout)
    # What it printed is shown as its own words: for /bin/ls it is about the probe's arguments.
    last = run.last_error_line.strip()[:200]
    said = f"; it printed: {last}" if last else f"; it exited with status {run.returncode}"
    return UsageError(
        f"{how} {executable}: not a Python 3.7+ interpreter (it did not run the probe){said}"
    )
