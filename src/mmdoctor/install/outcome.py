"""How a job that changed an environment ended (an install, a fix, a rollback), as the data a
renderer shows and the JSON carries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mmdoctor.errors import ExitCode
from mmdoctor.install.snapshot import Restore
from mmdoctor.planning.steps import Step
from mmdoctor.redact import redact_credentials


class Verdict(Protocol):
    """What the check after the steps returns: a CheckReport of the environment, or (fleet
    install) the summary of every node's check of it."""

    @property
    def status(self) -> str: ...

    def job_keys(self) -> dict[str, Any]:
        """What the JSON of the job carries of it besides the outcome (fleet: every node)."""
        ...


class PlanBody(Protocol):
    """The plan a job carried out (an install's Plan, a fix's FixPlan)."""

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Judgement:
    """What the check after the steps says of the job: why it did not hold (empty: it held)
    and the known failures behind that."""

    problems: tuple[str, ...] = ()
    known_failures: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepRecord:
    number: int
    description: str
    command: str
    seconds: float
    ok: bool
    note: str = ""


class Progress(Protocol):
    """Who watches a job: each step as it starts and ends, its output lines, a note."""

    def step_started(self, number: int, total: int, step: Step) -> None: ...
    def line(self, text: str) -> None: ...
    def step_done(self, record: StepRecord, total: int) -> None: ...
    def note(self, text: str) -> None: ...


@dataclass(frozen=True)
class InstallOutcome:
    job: str  # "install" or "fix"
    status: str  # "installed" (or "fixed"), "kept-with-problems", "rolled-back", "not-restored"
    steps: tuple[StepRecord, ...]
    failure: str | None  # one line: what went wrong
    failure_lines: tuple[str, ...]  # the output lines that explain it
    known_failures: tuple[str, ...]  # ids from the knowledge base that match those lines
    restore: Restore | None
    log_path: Path
    snapshot_path: Path
    check_status: str | None  # the post-install check: "healthy", "warnings", "problems"
    final_report: Verdict | None = None  # what that check found

    @property
    def exit_code(self) -> ExitCode:
        if self.status == "kept-with-problems":
            return ExitCode.PROBLEMS
        if self.status not in ("rolled-back", "not-restored"):
            return ExitCode.OK
        if self.status == "rolled-back":
            return ExitCode.ROLLED_BACK
        return ExitCode.CANNOT_RUN

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": [
                {
                    "number": r.number,
                    "description": r.description,
                    "command": r.command,
                    "seconds": r.seconds,
                    "ok": r.ok,
                    "note": r.note,
                }
                for r in self.steps
            ],
            "failure": self.failure,
            "failure_lines": [redact_credentials(line) for line in self.failure_lines],
            "known_failures": list(self.known_failures),
            "restore": self.restore.to_dict() if self.restore is not None else None,
            "check": self.check_status,
            "log": str(self.log_path),
            "snapshot": str(self.snapshot_path),
        }


@dataclass(frozen=True)
class JobDone:
    """An install or fix carried out: how it ended, for which interpreter, after which plan."""

    outcome: InstallOutcome
    executable: str
    plan: PlanBody  # what was carried out
    reports: tuple[Verdict, ...] = ()  # check reports (or a fleet's) to show before the outcome

    def to_dict(self, verbose: bool = False) -> dict[str, Any]:
        keys = {"target": self.executable, "plan": self.plan.to_dict(), **self.outcome.to_dict()}
        final = self.outcome.final_report
        return {**keys, **final.job_keys()} if final is not None else keys


@dataclass(frozen=True)
class RolledBack:
    """`mmdoctor rollback`: what the restore did, from which snapshot, logged where."""

    restore: Restore
    executable: str
    snapshot: Path
    log: Path

    def to_dict(self, verbose: bool = False) -> dict[str, Any]:
        return {
            "target": self.executable,
            "snapshot": str(self.snapshot),
            "log": str(self.log),
            "restore": self.restore.to_dict(),
        }
