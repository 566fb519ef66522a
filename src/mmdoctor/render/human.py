"""What a person at a terminal sees: problems first, advice they can paste, a summary line."""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mmdoctor.checks.model import CheckResult, Status
from mmdoctor.redact import redact_credentials
from mmdoctor.render.facts import environment_rows
from mmdoctor.report import CheckReport

GLYPHS = {
    Status.OK: ("✓", "[ok]", "green"),
    Status.WARN: ("!", "[warn]", "yellow"),
    Status.FAIL: ("✗", "[FAIL]", "red"),
    Status.CRASH: ("☠", "[CRASH]", "magenta"),
    Status.SKIP: ("-", "[skip]", "dim"),
}
ORDER = (Status.CRASH, Status.FAIL, Status.WARN, Status.OK, Status.SKIP)


def make_console(file: TextIO | None = None) -> Console:
    """rich honours NO_COLOR and drops colour off a terminal. At a terminal prose wraps to its
    width; into a pipe or a file nothing is wrapped (a line per finding, for grep)."""
    console = Console(file=file or sys.stdout, highlight=False)
    console.soft_wrap = not console.is_terminal
    return console


def say(console: Console, lead: str | Text, text: str | Text, style: str = "") -> None:
    """`lead` then `text`, wrapped to the terminal with a hanging indent under the text, so a
    continuation never starts at the margin or mid-word."""
    body = text if isinstance(text, Text) else Text(text, style=style)
    head = lead if isinstance(lead, Text) else Text(lead, style=style)
    if console.soft_wrap:
        console.print(head + body)
        return
    grid = Table.grid()
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(head, body)
    console.print(grid)


def command(console: Console, lead: str, line: str, style: str = "bold cyan") -> None:
    """A command to copy: always one line, whatever the width (the terminal may fold it on
    screen, but a copy gets it whole)."""
    console.print(Text(f"{lead}{line}", style=style), no_wrap=True, overflow="ignore", crop=False)


def _unicode_ok(console: Console) -> bool:
    return (console.encoding or "").lower().replace("-", "").startswith("utf")


def render_check_report(report: CheckReport, *, verbose: bool, console: Console) -> None:
    unicode_ok = _unicode_ok(console)
    env = report.environment
    console.print(
        Text(
            f"mmdoctor check · {env.target.executable} (Python {env.target.version})", style="bold"
        )
    )
    if verbose:
        rows = environment_rows(env)
        width = max(len(label) for label, _ in rows) + 1  # onedl-mmdetection is the longest
        for label, value in rows:
            line = f"  {label + ':':<{width}} {redact_credentials(value)}"
            console.print(Text(line, style="dim"))
        console.print()

    shown = sorted(report.results, key=lambda r: ORDER.index(r.status))
    hidden = 0
    for result in shown:
        if not verbose and result.status in (Status.OK, Status.SKIP):
            hidden += 1
            continue
        _render_result(result, verbose=verbose, unicode_ok=unicode_ok, console=console)

    counts = report.counts()
    parts = [
        f"{counts[Status.OK]} ok",
        f"{counts[Status.WARN]} warning(s)",
        f"{counts[Status.FAIL]} failed",
    ]
    if counts[Status.CRASH]:
        parts.append(f"{counts[Status.CRASH]} crashed")
    parts.append(f"{counts[Status.SKIP]} skipped")
    style = {"healthy": "green", "warnings": "yellow"}.get(report.status, "red")
    console.print()
    verdict = {
        "healthy": "No problems found.",
        "warnings": "No blocking problems; see the warnings.",
        "problems": f"Problems found: exit {int(report.exit_code)}.",
    }[report.status]
    console.print(Text(f"{verdict} {', '.join(parts)}.", style=f"bold {style}"))
    if hidden:
        console.print(
            Text(f"({hidden} passing or skipped check(s) hidden; -v shows all)", style="dim")
        )
    if report.next is not None:
        say(console, "Next: ", f"it {report.next.changes}" if report.next.changes else "", "bold")
        command(console, "  $ ", report.next.command, "cyan")


def _render_result(
    result: CheckResult, *, verbose: bool, unicode_ok: bool, console: Console
) -> None:
    glyph, ascii_glyph, style = GLYPHS[result.status]
    mark = f"[{glyph}]" if unicode_ok else ascii_glyph
    line = Text()
    line.append(f"{result.title}: ", style="bold")
    line.append(redact_credentials(result.summary))
    if verbose:
        line.append(f"  ({result.id})", style="dim")
    say(console, Text(mark, style=f"bold {style}") + " ", line)
    detail_mark = "•" if unicode_ok else "-"
    for detail in result.details:
        for i, text in enumerate(redact_credentials(detail).splitlines()):
            say(console, f"    {detail_mark if i == 0 else ' '} ", text, "dim")
    if result.cause:
        say(console, "    Why: ", result.cause, "dim")
    if result.advice is not None:
        say(console, "    Fix: ", redact_credentials(result.advice.text), "cyan")
        for advised in result.advice.commands:
            command(console, "      $ ", redact_credentials(advised))
    if result.known_failure:
        say(console, "    Known failure: ", result.known_failure, "dim")
    if verbose and result.traceback:
        console.print(Text(result.traceback, style="dim"))
