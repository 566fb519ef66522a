"""The Interaction a command gets from the CLI: a person at a terminal, or a script."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import typer
from rich.console import Console

from mmdoctor.install.outcome import Progress
from mmdoctor.render.emit import emit
from mmdoctor.render.install_out import StepProgress
from mmdoctor.result import Result

T = TypeVar("T")


class Terminal:
    """Asks and shows only where a person can see it: text output, on a terminal."""

    def __init__(self, fmt: str, verbose: bool) -> None:
        self.fmt = fmt
        self.verbose = verbose

    @property
    def can_ask(self) -> bool:
        return sys.stdin.isatty() and sys.stdout.isatty()

    def confirm(self, question: str) -> bool:
        return bool(typer.confirm(question, default=False))

    def show(self, result: Result) -> None:
        if self.fmt == "text":
            emit(result, self.fmt, verbose=self.verbose)

    def busy(self, work: Callable[[], T]) -> T:
        """A spinner on stderr while probing, only for a person at a terminal."""
        if self.fmt != "text" or not sys.stderr.isatty():
            return work()
        with Console(stderr=True).status("Probing the driver, toolkit and Python environment…"):
            return work()

    def progress(self) -> Progress:
        return StepProgress()
