"""The result of a command, rendered once: by rich for people, as JSON or Markdown for tools."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from mmdoctor import __version__
from mmdoctor.checks.model import CheckResult, Status
from mmdoctor.environment import Environment
from mmdoctor.errors import ExitCode

SCHEMA = "mmdoctor/result/v1"


@dataclass(frozen=True)
class CheckReport:
    command: str
    environment: Environment
    results: tuple[CheckResult, ...]
    version: str = field(default=__version__)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PROBLEMS if any(r.status.is_problem for r in self.results) else ExitCode.OK

    @property
    def status(self) -> str:
        """'healthy', 'warnings' or 'problems': the one word a script reads."""
        if self.exit_code != ExitCode.OK:
            return "problems"
        if any(r.status == Status.WARN for r in self.results):
            return "warnings"
        return "healthy"

    def counts(self) -> Counter[Status]:
        return Counter(r.status for r in self.results)
