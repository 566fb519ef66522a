"""What a person at a terminal sees: problems first, advice they can paste, a summary line."""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console
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
    # rich already honours NO_COLOR and drops colour when the output is not a terminal.
    return Console(file=file or sys.stdout, highlight=False, soft_wrap=True)


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
        for label, value in environment_rows(env):
            console.print(Text(f"  {label + ':':<16} {redact_credentials(value)}", style="dim"))
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


def _render_result(
    result: CheckResult, *, verbose: bool, unicode_ok: bool, console: Console
) -> None:
    glyph, ascii_glyph, style = GLYPHS[result.status]
    mark = f"[{glyph}]" if unicode_ok else ascii_glyph
    line = Text()
    line.append(mark, style=f"bold {style}")
    line.append(f" {result.title}: ", style="bold")
    line.append(redact_credentials(result.summary))
    if verbose:
        line.append(f"  ({result.id})", style="dim")
    console.print(line)
    detail_mark = "•" if unicode_ok else "-"
    for detail in result.details:
        for i, text in enumerate(redact_credentials(detail).splitlines()):
            console.print(Text(f"    {detail_mark if i == 0 else ' '} {text}", style="dim"))
    if result.cause:
        console.print(Text(f"    Why: {result.cause}", style="dim"))
    if result.advice is not None:
        console.print(Text(f"    Fix: {redact_credentials(result.advice.text)}", style="cyan"))
        for command in result.advice.commands:
            console.print(Text(f"      $ {redact_credentials(command)}", style="bold cyan"))
    if result.known_failure:
        console.print(Text(f"    Known failure: {result.known_failure}", style="dim"))
    if verbose and result.traceback:
        console.print(Text(result.traceback, style="dim"))
