"""The Interaction a command gets from the CLI: a person at a terminal, or a script.

The question before a change is asked wherever the person is: stdin a terminal, the question
on stderr (or stdout) where that is one, so `install ... | tee log` and `> /dev/null` still
ask. No answer (Enter, "n", Ctrl-D) is no; Ctrl-C goes on up as an interruption (exit 130)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO, TypeVar

from rich.console import Console

from mmdoctor.install.outcome import Progress
from mmdoctor.render.emit import emit, show_text
from mmdoctor.render.install_out import StepProgress
from mmdoctor.result import Result

T = TypeVar("T")


class Terminal:
    """Asks and shows only where a person can see it: text output, on a terminal."""

    def __init__(self, fmt: str, verbose: bool) -> None:
        self.fmt = fmt
        self.verbose = verbose
        self._to_confirm: Result | None = None  # with --json: the plan a question is about

    @property
    def can_ask(self) -> bool:
        return sys.stdin.isatty() and _screen() is not None

    def confirm(self, question: str) -> bool:
        screen = _screen() or sys.stderr
        sys.stdout.flush()  # the plan first, wherever stdout goes
        if self._to_confirm is not None:  # --json: the plan on the terminal, then the question
            show_text(self._to_confirm, screen, verbose=self.verbose)
            self._to_confirm = None
        while True:
            screen.write(f"{question} [y/N] ")
            screen.flush()
            try:
                line = sys.stdin.readline()
            except KeyboardInterrupt:
                screen.write("\n")  # the error goes on a line of its own, after the ^C
                raise
            answer = line.strip().lower()
            if not line:  # Ctrl-D: end of input, no answer
                screen.write("\n")
            if not line or answer in ("", "n", "no"):
                return False
            if answer in ("y", "yes"):
                return True
            screen.write("Please answer y or n.\n")

    def show(self, result: Result) -> None:
        """The plan before the question: on stdout as text; with --json, kept for `confirm`
        to show on the terminal (stdout holds only the document), if a question comes."""
        if self.fmt == "text":
            emit(result, self.fmt, verbose=self.verbose)
        else:
            self._to_confirm = result

    def busy(self, work: Callable[[], T]) -> T:
        """A spinner on stderr while probing, only for a person at a terminal."""
        if self.fmt != "text" or not sys.stderr.isatty():
            return work()
        with Console(stderr=True).status("Probing the driver, toolkit and Python environment…"):
            return work()

    def progress(self) -> Progress:
        return StepProgress()


def _screen() -> TextIO | None:
    """Where a question is seen: stderr, else stdout, where it is a terminal."""
    return next((out for out in (sys.stderr, sys.stdout) if out.isatty()), None)
