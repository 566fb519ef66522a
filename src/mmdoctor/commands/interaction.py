"""What a command may ask of whoever runs it, between starting and returning its Result: a
spinner while it probes, something to look at before going on (the plan), a yes/no question,
progress lines for a long job. The CLI answers at a terminal; `Unattended` answers for tests,
scripts and --json, where nobody is there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from mmdoctor.install.outcome import Progress, StepRecord
from mmdoctor.planning.steps import Step
from mmdoctor.result import Result

T = TypeVar("T")


class Interaction(Protocol):
    @property
    def can_ask(self) -> bool:
        """Whether someone is there to answer `confirm`."""
        ...

    def confirm(self, question: str) -> bool: ...

    def show(self, result: Result) -> None:
        """Something to see before the command goes on (the plan it is about to carry out)."""
        ...

    def busy(self, work: Callable[[], T]) -> T:
        """Run `work` (a probe), with a spinner where someone is watching."""
        ...

    def progress(self) -> Progress: ...


class Unattended:
    """Nobody to ask and nothing to show: every question is answered no."""

    can_ask = False

    def confirm(self, question: str) -> bool:
        return False

    def show(self, result: Result) -> None:
        return None

    def busy(self, work: Callable[[], T]) -> T:
        return work()

    def progress(self) -> Progress:
        return SilentProgress()


class SilentProgress:
    def step_started(self, number: int, total: int, step: Step) -> None: ...
    def line(self, text: str) -> None: ...
    def step_done(self, record: StepRecord, total: int) -> None: ...
    def note(self, text: str) -> None: ...
