"""What `install` and `rollback` show: a line per step on stderr (with a live spinner, the
elapsed time and pip's latest line on a terminal), then the outcome."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from mmdoctor import shell
from mmdoctor.fix import FixPlan
from mmdoctor.install.outcome import InstallOutcome, StepRecord
from mmdoctor.install.snapshot import Restore
from mmdoctor.knowledge import load_knowledge
from mmdoctor.planning.steps import Step
from mmdoctor.redact import redact_credentials
from mmdoctor.render.human import say
from mmdoctor.render.plan_out import render_steps


class StepProgress:
    """Implements execute.Progress. Plain lines when stderr is not a terminal (logs, CI)."""

    def __init__(self) -> None:
        self.console = Console(stderr=True, highlight=False, soft_wrap=True)
        self.live = self.console.is_terminal
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._started = time.monotonic()

    def step_started(self, number: int, total: int, step: Step) -> None:
        title = redact_credentials(f"[{number}/{total}] {step.description}")
        if not self.live:
            self.console.print(Text(f"{title} …"))
            return
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[last]}"),
            console=self.console,
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(_short(title, 70), total=None, last="")

    def line(self, text: str) -> None:
        if self._bar is not None and self._task is not None and text.strip():
            self._bar.update(self._task, last=_short(redact_credentials(text.strip()), 60))

    def step_done(self, record: StepRecord, total: int) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        mark, style = ("✓", "green") if record.ok else ("✗", "red")
        elapsed = time.monotonic() - self._started
        described = redact_credentials(f"{mark} [{record.number}/{total}] {record.description}")
        text = Text(described, style=style)
        text.append(f"  {record.seconds:.1f} s (total {elapsed:.0f} s)", style="dim")
        self.console.print(text)
        if record.note and record.ok:
            self.console.print(Text(redact_credentials(f"    {record.note}"), style="dim"))

    def note(self, text: str) -> None:
        self.console.print(Text(redact_credentials(text), style="yellow"))


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_outcome(outcome: InstallOutcome, console: Console, executable: str) -> None:
    """How an install or fix of `executable` ended; where it holds, the rollback that undoes
    it, in full (a bare `mmdoctor rollback` needs the target too)."""
    rollback = f"`mmdoctor rollback --python {shell.quote(executable)}`"
    if outcome.status in ("installed", "fixed"):
        console.print(
            Text(
                f"{outcome.status.capitalize()}. The check says: {outcome.check_status}.",
                style="bold green",
            )
        )
        console.print(Text(f"Log: {outcome.log_path}", style="dim"))
        say(console, "", f"{rollback} puts the environment back as it was before.", "dim")
        return
    if outcome.status == "kept-with-problems":
        console.print(
            Text(
                "Installed, but the check found the problems above. Kept as asked "
                f"(--keep-on-check-failure); {rollback} undoes the install.",
                style="bold yellow",
            )
        )
        console.print(Text(f"Log: {outcome.log_path}", style="dim"))
        return
    console.print(Text(f"{outcome.job.capitalize()} failed: {outcome.failure}", style="bold red"))
    for line in outcome.failure_lines:
        console.print(Text(f"  | {redact_credentials(line)}"))
    if outcome.known_failures:  # explained by the knowledge base, as check's findings are
        knowledge = load_knowledge()
        for known in outcome.known_failures:
            failure = knowledge.get(known)
            title = f": {failure.title}" if failure else ""
            console.print(Text(f"  Known failure {known}{title}", style="bold"))
            if failure:
                say(console, "    Fix: ", failure.fix_text, "cyan")
        console.print(Text(f"  (`mmdoctor diagnose {outcome.log_path}` shows the whole chain)"))
    if outcome.restore is not None:
        render_restore(outcome.restore, console)
    console.print(Text(f"Log: {outcome.log_path}", style="dim"))


def render_restore(restore: Restore, console: Console) -> None:
    if restore.ok and restore.discarded:
        console.print(Text(f"Rolled back: {restore.discarded}, made by this run, is removed."))
        return
    if restore.ok:
        console.print(
            Text(
                "Rolled back: the environment is as it was (pip freeze, every file its RECORDs "
                "list, its site folders and pip check match the snapshot).",
                style="yellow",
            )
        )
        return
    console.print(
        Text("The environment could NOT be fully restored. Still different:", style="bold red")
    )
    for line in restore.differences:
        console.print(Text(f"  {line}"))
    if restore.way_back:
        say(console, "  The way back: ", restore.way_back, "bold")


def render_fix_plan(plan: FixPlan, console: Console) -> None:
    console.print(Text("mmdoctor fix", style="bold"))
    if plan.fixing:
        console.print(Text("Fixing:", style="bold"))
        for result in plan.fixing:
            known = f" [{result.known_failure}]" if result.known_failure else ""
            say(console, "  ✗ ", f"{result.id}: {result.summary}{known}")
        render_steps(plan.steps, console)
    if plan.manual:
        console.print(Text("Not done by mmdoctor (do these yourself):", style="bold yellow"))
        for line in plan.manual:
            console.print(Text(f"  {line}"))
