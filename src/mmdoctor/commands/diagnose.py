"""`mmdoctor diagnose`: name the known failure behind a log, root cause first."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from mmdoctor.checks.model import Context
from mmdoctor.checks.torch import PlannedStack, planned_stack
from mmdoctor.commands.interaction import Interaction
from mmdoctor.diagnose import (
    CONFIDENT,
    Diagnosis,
    confirm_with_environment,
    decode_log,
    fit_stack_commands,
    match_log,
)
from mmdoctor.errors import ExitCode, UsageError
from mmdoctor.knowledge import load_knowledge
from mmdoctor.planning.matrix import load_matrix
from mmdoctor.report import check_environment
from mmdoctor.result import Result
from mmdoctor.target import choose_interpreter


@dataclass(frozen=True)
class DiagnoseOptions:
    log: str = "-"  # a file, or "-" for standard input
    python: str | None = None  # also run check there (or in venv), to confirm what the log says
    venv: Path | None = None
    timeout: float = 90.0
    matrix: Path | None = None


def run(options: DiagnoseOptions, ui: Interaction) -> Result:
    data, source = _read(options.log)
    text = decode_log(data, source)
    del data  # a 100 MB log is held once, as text, while it is matched
    matches = match_log(text, load_knowledge())
    planned: PlannedStack | None = None
    if options.python is not None or options.venv is not None:
        failing, planned = _check_target(options, ui)
        matches = confirm_with_environment(matches, failing)
    matches = fit_stack_commands(matches, planned)
    found = any(m.confidence >= CONFIDENT for m in matches)
    status, code = ("found", ExitCode.OK) if found else ("unknown", ExitCode.PROBLEMS)
    return Result("diagnose", status, code, Diagnosis(source, tuple(matches), found))


def _read(log: str) -> tuple[bytes, str]:
    if log == "-":
        if sys.stdin.isatty():  # else it waits in silence
            print("Paste the log, then Ctrl-D on a line of its own:", file=sys.stderr)
        data, source = sys.stdin.buffer.read(), "standard input"
    else:
        try:
            data, source = Path(log).read_bytes(), log
        except OSError as exc:
            raise UsageError(f"{log}: cannot read it ({exc.strerror})") from None
    if not data or data.isspace():  # (strip() would copy a big log)
        raise UsageError(f"{source}: empty, there is no log to read")
    return data, source


def _check_target(
    options: DiagnoseOptions, ui: Interaction
) -> tuple[dict[str, str], PlannedStack | None]:
    """`check` on --python: known-failure id -> the failing check's summary, and the stack and
    steps `mmdoctor install` would plan there (None where nothing fits)."""

    matrix = load_matrix(str(options.matrix) if options.matrix else None)
    choice = choose_interpreter(python=options.python, venv=options.venv, environ=os.environ)
    report = check_environment(
        choice, matrix, cpu_only=False, timeout=options.timeout, busy=ui.busy
    )
    failing = {
        r.known_failure: f"{r.id}: {r.summary}"
        for r in report.results
        if r.known_failure and r.status.is_problem
    }
    return failing, planned_stack(Context(report.environment, matrix, cpu_only=False))
