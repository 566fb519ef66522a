"""Carry a plan out: lock, snapshot, run each step, check the result; on any failure (or
Ctrl-C) put the environment back as it was.

Plain module: it takes the steps, the destination and a way to check it, and returns an
InstallOutcome that carries the final check's report and explains its own failure.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mmdoctor import shell, signals, wheel_cache
from mmdoctor.errors import ExitCode, MmdoctorError
from mmdoctor.install import snapshot as snapshots
from mmdoctor.install.origins import origins_note, requested
from mmdoctor.install.outcome import InstallOutcome, Judgement, Progress, StepRecord, Verdict
from mmdoctor.install.runner import Runner
from mmdoctor.install.state import EnvState, Log, NoRoom
from mmdoctor.knowledge import classify_all
from mmdoctor.paths import LinkRefused
from mmdoctor.planning.plan import Plan
from mmdoctor.planning.steps import Step
from mmdoctor.target import Target

FAILURE_LINES = 8


class NoSnapshot(MmdoctorError):
    exit_code = ExitCode.PROBLEMS


class StepFailed(Exception):
    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


def source_options(index_url: str | None, find_links: Sequence[str]) -> tuple[str, ...]:
    """--index-url and --find-links as pip options, for reinstalling on rollback."""
    options: list[str] = ["--index-url", index_url] if index_url else []
    for link in find_links:
        options += ["--find-links", link]
    return tuple(options)


def restore_options(plan: Plan) -> tuple[str, ...]:
    """The package sources the install used, torch's included, as pip options."""
    options = list(source_options(plan.sources.index_url, plan.sources.find_links))
    if plan.torch_index_url:
        options += ["--extra-index-url", plan.torch_index_url]
    if plan.torch_find_links:
        options += ["--find-links", plan.torch_find_links]
    return tuple(options)


# Carries out one step of a kind the executor does not run as a plain command ("build",
# "verify"), returning the note shown for it or raising StepFailed.
StepHandler = Callable[[Runner, Step], str]


class _Checked:
    """Runs the check step for the executor and keeps its last report and judgement."""

    def __init__(self, run_check: Callable[[], Verdict], judge: Callable[[Any], Judgement]) -> None:
        self._run_check = run_check
        self._judge = judge
        self.report: Verdict | None = None
        self.judgement = Judgement()

    def check(self) -> str:
        self.report = self._run_check()
        self.judgement = self._judge(self.report)
        return self.status or ""

    @property
    def status(self) -> str | None:
        """The word the outcome shows: "problems" when the job did not hold."""
        if self.report is None:
            return None
        if self.judgement.problems:
            return "problems"
        # what the job was about holds; checks it did not touch may still fail
        return "other problems remain" if self.report.status == "problems" else self.report.status

    def explain(self, output: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Why the job failed: the check's problems, else the failed command's output lines;
        and the known failures behind them."""
        if self.judgement.problems:
            return self.judgement.problems, self.judgement.known_failures
        return explaining_lines(output), _known(output)


def execute(
    steps: tuple[Step, ...],
    target: Target,
    state: EnvState,
    progress: Progress,
    *,
    job: str,
    run_check: Callable[[], Verdict],
    restore_options: tuple[str, ...],
    judge: Callable[[Any], Judgement],
    handlers: Mapping[str, StepHandler] | None = None,
    extra_env: dict[str, str] | None = None,
    success: str = "installed",
    keep_on_check_failure: bool = False,
    discard: Callable[[], snapshots.Restore] | None = None,
) -> InstallOutcome:
    """Lock, snapshot, run `steps`; on a failure restore the snapshot. A "check" step calls
    `run_check` and `judge`s its report; `handlers` carry out the steps of other kinds
    (install's torch verification and source build). With `keep_on_check_failure`, problems
    found by the final check leave the result in place (exit 1; `mmdoctor rollback` still
    undoes it). A signal (Ctrl-C, SIGTERM, SIGHUP) during a step is a failure like any other;
    once the steps are over, signals no longer interrupt: the restore always finishes.
    `discard`: for an environment the job itself made (a new venv), what undoes it instead of
    the snapshot's restore (removing it)."""
    state.prepare()  # room for the snapshot and the log, before the first change
    with state.lock(job):
        stamp = state.stamp()
        log = Log(state.log_path(stamp, job))
        try:
            runner = Runner(log, extra_env=extra_env, on_line=progress.line)
            log.write(f"mmdoctor {job} in {target.executable} ({target.prefix})")
            snap = _snapshot(runner, target, state, stamp)
            checked = _Checked(run_check, judge)
            records, failure, output = _run(steps, runner, progress, checked.check, handlers or {})
            with signals.hold(RESTORE_GOES_ON if failure else JOB_DONE):

                def outcome(
                    status: str,
                    why: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
                    restored: snapshots.Restore | None = None,
                ) -> InstallOutcome:
                    return InstallOutcome(
                        job, status, records, failure, *why, restored, log.path, snap.folder,
                        checked.status, checked.report,
                    )  # fmt: skip

                if failure is None:
                    return outcome(success)
                why = checked.explain(output)
                for problem in checked.judgement.problems:  # the log alone then says why
                    log.write(f"! {problem}")
                if keep_on_check_failure and checked.judgement.problems:
                    return outcome("kept-with-problems", why)
                log.write(f"! {failure}: restoring the snapshot {snap.folder}")
                progress.note(f"{failure}: restoring the environment as it was…")
                restored = discard() if discard else _restore(runner, target, snap, restore_options)
                log.write(_restore_line(restored))
                return outcome("rolled-back" if restored.ok else "not-restored", why, restored)
        finally:
            log.close()


RESTORE_GOES_ON = (
    "the restore goes on (stopped half-way it would leave the environment broken; "
    "after kill -9, `mmdoctor rollback` is the way back)"
)
JOB_DONE = "the job is done; mmdoctor is saying how it ended"


def _snapshot(runner: Runner, target: Target, state: EnvState, stamp: str) -> snapshots.Snapshot:
    """The snapshot, written whole before the first change: where it cannot be, the job stops
    here with nothing changed."""
    try:
        snap = snapshots.take(runner, target.executable, state.new_snapshot_dir(stamp))
        state.set_latest(stamp)
    except LinkRefused:
        raise
    except OSError as exc:
        raise NoRoom(
            f"the snapshot cannot be written into the state folder {state.top} "
            f"({exc.strerror or exc}): nothing was changed"
        ) from None
    return snap


def _restore_line(restored: snapshots.Restore) -> str:
    if restored.ok:
        return "= restored: freeze, every RECORD'd file, the site folders and pip check match"
    return f"! not restored: {'; '.join(restored.differences)}. Way back: {restored.way_back}"


def _run(
    steps: tuple[Step, ...],
    runner: Runner,
    progress: Progress,
    run_check: Callable[[], str],
    handlers: Mapping[str, StepHandler],
) -> tuple[tuple[StepRecord, ...], str | None, str]:
    """Run the steps in order, stopping at the first failure (or signal: also one that comes
    between two steps)."""
    records: list[StepRecord] = []
    total = len(steps)
    for number, step in enumerate(steps, start=1):
        started = time.monotonic()
        try:
            progress.step_started(number, total, step)
            note = _carry_out(step, runner, run_check, handlers)
            records.append(
                StepRecord(number, step.description, _shown(step), _since(started), True, note)
            )
            if note:  # in the log too: a skipped build, where pip took each package
                runner.log.write(f"= step {number}: {note}")
            progress.step_done(records[-1], total)
        except (StepFailed, MmdoctorError, shell.CommandNotFound, KeyboardInterrupt) as exc:
            failure = _failure(number, exc)
            output = exc.output if isinstance(exc, StepFailed) else ""
            del records[number - 1 :]  # a signal after the step had ended: it is the failure
            records.append(
                StepRecord(number, step.description, _shown(step), _since(started), False, failure)
            )
            progress.step_done(records[-1], total)
            return tuple(records), failure, output
    return tuple(records), None, ""


def _carry_out(
    step: Step,
    runner: Runner,
    run_check: Callable[[], str],
    handlers: Mapping[str, StepHandler],
) -> str:
    if step.kind == "check":
        note = run_check()
        if note == "problems":
            raise StepFailed("the check afterwards found problems")
        return note
    if step.kind in handlers:
        return handlers[step.kind](runner, step)
    if step.unless_built and wheel_cache.cached_wheel(Path(step.unless_built)):
        return "skipped: the wheel cache holds this build"
    return _run_step(runner, step)


def _failure(number: int, exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return f"interrupted ({signals.name(signals.signal_of(exc))})"
    return f"step {number}: {exc}"


def _run_step(runner: Runner, step: Step) -> str:
    """Run it; where it asked for packages, where pip took them (its configuration may have
    answered from elsewhere than the step's index)."""
    result = runner.run(step.argv, env=step.env)
    _require_ok(result)
    return origins_note(result.stdout, requested(step.packages)) if step.packages else ""


def _require_ok(result: shell.CommandResult) -> None:
    if not result.ok:
        raise StepFailed(_why(result), result.stdout + result.stderr_tail)


def _why(result: shell.CommandResult) -> str:
    tool = Path(result.argv[0]).name
    if len(result.argv) > 2 and result.argv[1] == "-m":
        tool = result.argv[2]
    if result.timed_out:
        return f"{tool} did not finish in time"
    return f"{tool} failed (exit {result.returncode})"


def install_handlers(plan: Plan, target: Target) -> dict[str, StepHandler]:
    """install's own step kinds: the torch verification and the source build."""
    return {
        "verify": lambda runner, step: verify_torch(plan, runner, step),
        "build": lambda runner, step: _build(plan, target, runner, step),
    }


def verify_torch(plan: Plan, runner: Runner, step: Step) -> str:
    """The plan's VERIFY_TORCH step: torch and torchvision import, torchvision's nms runs, and
    both are the planned builds. Seconds here save a build of many minutes against a torch
    that pip's own settings (find-links, an extra index) swapped for another."""
    result = runner.run(step.argv, env=step.env, timeout=600)
    found = dict(
        (words[0], words[1:]) for words in map(str.split, result.stdout.splitlines()) if words
    )
    wrong = _unplanned(plan, found)
    if wrong or not result.ok:
        error = explaining_lines(result.stderr_tail)
        raise StepFailed(
            "; ".join([*wrong, *([f"it failed: {error[-1]}"] if error and not result.ok else [])])
            or _why(result),
            result.stdout + result.stderr_tail,
        )
    return f"torch {' '.join(found['torch'])}, torchvision {found['torchvision'][0]}, nms ok"


def _unplanned(plan: Plan, found: Mapping[str, list[str]]) -> list[str]:
    """What the verification printed that is not the plan's torch / torchvision."""
    torch = found.get("torch", [])
    mismatch = _torch_mismatch(plan, *torch) if len(torch) == 2 else None
    wrong = [mismatch] if mismatch else []
    vision = found.get("torchvision", [])
    want = plan.torchvision_version
    if vision and not _same_release(vision[0].split("+")[0], want):
        wrong.append(f"the target has torchvision {vision[0]}, not the planned {want}")
    return wrong


def _same_release(version: str, wanted: str) -> bool:
    """`wanted` may end in a wildcard (0.16.*), as the matrix spells some torchvision pins."""
    if wanted.endswith(".*"):
        return version == wanted[:-2] or version.startswith(wanted[:-1])
    return version == wanted


def _build(plan: Plan, target: Target, runner: Runner, step: Step) -> str:
    """The plan's build step, as shown: `pip wheel ... --wheel-dir FOLDER`, FOLDER being the
    cache folder of this exact torch / CUDA / Python / arch list, unless a wheel is there
    already. The torch in the target must be the planned one, and the wheel must hold ops."""
    assert step.wheel_dir is not None, "a build step names its wheel folder"
    wheelhouse = Path(step.wheel_dir)
    _require_planned_torch(plan, target, runner)
    wheel = wheel_cache.cached_wheel(wheelhouse)
    if wheel is not None:
        return f"reused the cached wheel {wheel}"
    mmcv = plan.candidate.mmcv
    if mmcv.raise_cxx_to is not None and mmcv.forced_cxx is not None and step.source_tree:
        _require_raised_standard(Path(step.source_tree), mmcv.forced_cxx, mmcv.raise_cxx_to)
    result = runner.run(step.argv, env=step.env)
    wheel = wheel_cache.cached_wheel(wheelhouse)
    if not result.ok or wheel is None:
        raise StepFailed(_why(result), result.stdout + result.stderr_tail)
    # onedl-mmcv has no MMCV_WITH_OPS switch and builds without ops silently: check every build
    if not wheel_cache.has_compiled_ops(wheel):
        wheel.unlink()
        raise StepFailed(f"the build made {wheel.name} without mmcv/_ext (no compiled ops)")
    return f"built and cached {wheel}"


def _require_raised_standard(tree: Path, forced: int, standard: int) -> None:
    """The copy's setup.py asks for C++`standard` and no longer for C++`forced`: an sdist that
    spelled its flag differently would otherwise build into torch's '#error C++20 ...'.
    (Other standards may stay: mmcv 2.1.0 keeps -std=c++14 for torch <= 1.12.1.)"""
    try:
        text = (tree / "setup.py").read_text(encoding="utf-8")
    except OSError as exc:
        raise StepFailed(f"{tree / 'setup.py'}: cannot read it ({exc.strerror})") from None
    if f"-std=c++{standard}" not in text or f"-std=c++{forced}" in text:
        found = sorted(set(re.findall(r"-std=c\+\+(\d+)", text)))
        raise StepFailed(
            f"{tree / 'setup.py'} still asks for -std=c++{forced}, or not for -std=c++{standard} "
            f"(it has {', '.join(found) or 'no -std flag'}): the raise did not apply"
        )


# torch's version and CUDA from torch/version.py, read without importing torch (about 2 s).
_TORCH_FACTS = """
import ast, importlib.util, os
spec = importlib.util.find_spec("torch")
found = {}
if spec is not None and spec.origin:
    with open(os.path.join(os.path.dirname(spec.origin), "version.py")) as f:
        for node in ast.parse(f.read()).body:
            value = getattr(node, "value", None)
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(value, ast.Constant):
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                    if isinstance(t, ast.Name):
                        found[t.id] = value.value
print(found.get("__version__") or "")
print(found.get("cuda") or "cpu")
"""


def _require_planned_torch(plan: Plan, target: Target, runner: Runner) -> None:
    """mmcv is built against the torch in the target: it must be the one the plan installed,
    or the cached wheel's key would lie (pip's own settings can bring in another torch)."""
    result = runner.run([target.executable, "-I", "-c", _TORCH_FACTS], timeout=300, quiet=True)
    lines = result.stdout.strip().splitlines()
    if not result.ok or len(lines) < 2 or not lines[-2]:
        raise StepFailed(
            "torch is not installed in the target, so mmcv cannot be built against it",
            result.stderr_tail,
        )
    mismatch = _torch_mismatch(plan, lines[-2], lines[-1])
    if mismatch:
        raise StepFailed(mismatch)


def _torch_mismatch(plan: Plan, version: str, cuda: str) -> str | None:
    """Why torch `version` built for `cuda` ("13.0", "cpu") is not the plan's, if it is not."""
    variant = "cpu" if cuda == "cpu" else "cu" + cuda.replace(".", "")
    planned = plan.candidate.wheel_variant  # PyPI's CUDA build on a --cpu plan
    if version.split("+")[0] == plan.torch_version and variant == planned:
        return None
    return (
        f"the target has torch {version} ({variant}), not the planned {plan.torch_version} "
        f"({planned}): pip's own settings (find-links, an extra index) gave another build"
    )


def explaining_lines(output: str) -> tuple[str, ...]:
    """The few lines of a failed command's output that say why: errors first, else the end."""
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    wanted = ("error", "exception", "failed", "no matching distribution", "conflict", "hash")
    errors = [line for line in lines if any(w in line.lower() for w in wanted)]
    chosen = errors[-FAILURE_LINES:] if errors else lines[-FAILURE_LINES:]
    return tuple(chosen)


def _known(output: str) -> tuple[str, ...]:
    return classify_all(output)


def _shown(step: Step) -> str:
    return shell.command_line(step.argv, step.env)


def _since(started: float) -> float:
    return round(time.monotonic() - started, 1)


def _restore(
    runner: Runner,
    target: Target,
    snap: snapshots.Snapshot,
    source_options: tuple[str, ...],
) -> snapshots.Restore:
    return snapshots.restore(
        runner,
        target.executable,
        snap,
        source_options=source_options,
        bundled_wheels=target.bundled_wheels,
    )


def rollback(
    target: Target, state: EnvState, progress: Progress, *, source_options: tuple[str, ...]
) -> tuple[snapshots.Restore, Path, Path]:
    """`mmdoctor rollback`: restore the last snapshot taken before an install or fix. It needs
    no room in the state folder: its log goes to stderr where it cannot be written."""
    state.check()
    if state.latest_snapshot() is None:  # said before the lock makes a state folder for it
        raise NoSnapshot(f"no snapshot of {target.prefix} to roll back to")
    with state.lock("rollback"):
        folder = state.latest_snapshot()
        if folder is None:
            raise NoSnapshot(f"no snapshot of {target.prefix} to roll back to")
        snap = snapshots.load(folder)
        log = Log(state.log_path(state.stamp(), "rollback"))
        try:
            with signals.hold(RESTORE_GOES_ON):
                runner = Runner(log, on_line=progress.line)
                restored = _restore(runner, target, snap, source_options)
                log.write(_restore_line(restored))
        finally:
            log.close()
        return restored, folder, log.path
