"""Rendering of `diagnose` results: rich for people, dicts for the JSON envelope."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from mmdoctor.decisive import Decisive
from mmdoctor.diagnose import CONFIDENT, PLACEHOLDER, Diagnosis, Match, bug_report_hint
from mmdoctor.knowledge import load_knowledge
from mmdoctor.redact import redact_credentials


def render_diagnosis(body: Diagnosis, *, console: Console, verbose: bool) -> None:
    console.print(Text(f"mmdoctor diagnose · {body.source}", style="bold"))
    if verbose and body.normalised:
        read_as = f"  Normalised before matching: {', '.join(body.normalised)}"
        console.print(Text(read_as, style="dim"))
    if body.decisive is not None:
        _render_decisive(body.decisive, console)
    render_matches(list(body.matches), console=console, verbose=verbose)


def _render_decisive(decisive: Decisive, console: Console) -> None:
    """Nothing known matched, but the log says plainly where it broke: show that place."""
    line = Text()
    line.append(f"{decisive.title} ", style="bold yellow")
    line.append(f"({decisive.area}, {decisive.confidence:.0%})", style="dim")
    console.print(line)
    console.print(Text("  No known failure matched; the decisive lines:"))
    for number, text in decisive.lines:
        console.print(Text(f"  line {number}: {redact_credentials(text)}", style="dim"))
    console.print(Text("  First checks:", style="cyan"))
    for check in decisive.checks:
        console.print(Text(f"    - {check}", style="cyan"))


def render_matches(matches: list[Match], *, console: Console, verbose: bool) -> None:
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
            if verbose:
                _render_chain(match, console)
        for number, text in match.evidence:
            console.print(Text(f"  line {number}: {redact_credentials(text)}", style="dim"))
        console.print(Text(f"  Fix: {failure.fix_text}", style="cyan"))
        _render_commands(match.commands, console)
        for note in match.notes:
            console.print(Text(f"  Note: {note}", style="yellow"))
    if verbose:
        for match in (m for m in matches if m.confidence < CONFIDENT):
            weak = f"  (weak: {match.failure.id} {match.confidence:.0%}: {match.failure.title})"
            console.print(Text(weak, style="dim"))


def _render_commands(commands: tuple[str, ...], console: Console) -> None:
    """A command with a <placeholder> is a template, and must not look like one to paste."""
    for command in commands:
        holes = sorted(set(PLACEHOLDER.findall(command)))
        if holes:
            console.print(
                Text(f"    template (fill in {', '.join(holes)}): {command}", style="cyan")
            )
        else:
            console.print(Text(f"    $ {command}", style="bold cyan"))


def _render_chain(match: Match, console: Console) -> None:
    """-v: what each later link of the chain is, so the whole story reads top to bottom."""
    knowledge = load_knowledge()
    for link in match.chain:
        failure = knowledge.get(link)
        console.print(Text(f"    then {link}: {failure.title if failure else ''}", style="dim"))
