"""Rendering of `diagnose` results: rich for people, dicts for the JSON envelope."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from mmdoctor.diagnose import CONFIDENT, Match, bug_report_hint
from mmdoctor.redact import redact_credentials


def render_matches(matches: list[Match], *, console: Console, verbose: bool, source: str) -> None:
    console.print(Text(f"mmdoctor diagnose · {source}", style="bold"))
    confident = [m for m in matches if m.confidence >= CONFIDENT]
    if not confident:
        console.print(Text(bug_report_hint(), style="yellow"))
        for match in matches[:3]:
            console.print(Text(f"  (weak: {match.failure.id} {match.confidence:.0%})", style="dim"))
        return
    for rank, match in enumerate(confident if verbose else confident[:3], start=1):
        failure = match.failure
        label = "Root cause" if rank == 1 else "Also possible"
        line = Text()
        line.append(f"{label}: ", style="bold red" if rank == 1 else "bold yellow")
        line.append(f"{failure.title} ", style="bold")
        line.append(f"({failure.id}, {match.confidence:.0%})", style="dim")
        console.print(line)
        console.print(Text(f"  {failure.root_cause}"))
        if match.chain:
            chain = " → ".join((failure.id, *match.chain))
            console.print(Text(f"  Chain, fix the first link: {chain}", style="magenta"))
        for number, text in match.evidence:
            console.print(Text(f"  line {number}: {redact_credentials(text)}", style="dim"))
        console.print(Text(f"  Fix: {failure.fix_text}", style="cyan"))
        for command in failure.fix_commands:
            console.print(Text(f"    $ {command}", style="bold cyan"))
        for note in match.notes:
            console.print(Text(f"  Note: {note}", style="yellow"))


def match_dict(match: Match) -> dict[str, Any]:
    failure = match.failure
    return {
        "id": failure.id,
        "title": failure.title,
        "confidence": match.confidence,
        "evidence_lines": [
            {"line": number, "text": redact_credentials(text)} for number, text in match.evidence
        ],
        "chain": list(match.chain),
        "root_cause": failure.root_cause,
        "fix": {"text": failure.fix_text, "commands": list(failure.fix_commands)},
        "versions": failure.versions,
        "sources": list(failure.sources),
        "notes": list(match.notes),
    }
