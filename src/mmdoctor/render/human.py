"""What a person at a terminal sees: problems first, advice they can paste, a summary line."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mmdoctor import shell
from mmdoctor.checks.model import CheckResult, Status
from mmdoctor.environment import MachineFacts
from mmdoctor.probe.discover import Discovery, FoundEnvironment
from mmdoctor.redact import redact_credentials
from mmdoctor.render.facts import environment_rows
from mmdoctor.report import CheckReport, CheckVerdict, MachineReport

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
    continuation never starts at the margin or mid-word. A word wider than the hanging column
    (a long path or URL) goes on a line of its own, as far left as it needs, rather than be
    folded inside; only one wider than the terminal is left to the terminal to fold."""
    body = text if isinstance(text, Text) else Text(text, style=style)
    head = lead if isinstance(lead, Text) else Text(lead, style=style)
    if console.soft_wrap:
        console.print(head + body)
        return
    hang, start = head.cell_len, 0
    for word in re.finditer(r"\S+", body.plain):
        if len(word.group()) <= console.width - hang:
            continue
        before = body[start : word.start()]
        before.rstrip()
        if before.plain.strip():
            _hanging(console, head, before)
        elif head.plain.strip():
            console.print(head)
        indent = (
            hang if hang + len(word.group()) <= console.width else console.width - len(word.group())
        )
        console.print(Text(" " * max(0, indent)) + body[word.start() : word.end()], crop=False)
        head, start = Text(" " * hang), word.end()
    rest = body[start:]
    if rest.plain.strip() or not start:  # what is left after the last wide word, if anything
        _hanging(console, head, rest[len(rest.plain) - len(rest.plain.lstrip()) :])


def _hanging(console: Console, head: Text, body: Text) -> None:
    grid = Table.grid()
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(head, body)
    console.print(grid)


def command(console: Console, lead: str, line: str, style: str = "bold cyan") -> None:
    """A command to copy. Into a pipe, one line. At a terminal too narrow for it, it goes on
    over lines that end ` \\`, each broken between two words (never inside `==80.9.0` or
    `--index-url`, as the terminal's own folding did), so that the lines paste as the one
    command; a word too wide for its indented line starts further left."""
    if console.soft_wrap or len(lead) + len(line) <= console.width:
        console.print(
            Text(f"{lead}{line}", style=style), no_wrap=True, overflow="ignore", crop=False
        )
        return
    indent = len(lead) + 2
    words = shell.shell_words(line)
    for number, part in enumerate(
        continued(words, console.width - len(lead), console.width - indent)
    ):
        left = lead if number == 0 else " " * max(0, min(indent, console.width - len(part)))
        console.print(Text(left + part, style=style), no_wrap=True, overflow="ignore", crop=False)


def continued(words: list[str], first: int, rest: int) -> list[str]:
    """`words` in lines, the first of at most `first` characters, the others of `rest`, each
    but the last ending ` \\`; a word too wide for a line has that line to itself."""
    lines: list[str] = []
    room, line = first, ""
    for word in words:
        if line and len(line) + 1 + len(word) + 2 > room:
            lines.append(f"{line} \\")
            room, line = rest, word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines


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

    _render_results(report, verbose=verbose, unicode_ok=unicode_ok, console=console)
    if report.next is not None:
        say(console, "Next: ", f"it {report.next.changes}" if report.next.changes else "", "bold")
        command(console, "  $ ", report.next.command, "cyan")


def _render_results(
    report: CheckVerdict,
    *,
    verbose: bool,
    unicode_ok: bool,
    console: Console,
    hide: tuple[Status, ...] = (Status.OK, Status.SKIP),
) -> None:
    """Each result not hidden (every one with -v), problems first, then the verdict."""
    shown = sorted(report.results, key=lambda r: ORDER.index(r.status))
    hidden = 0
    for result in shown:
        if not verbose and result.status in hide:
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
        what = "passing or skipped" if Status.OK in hide else "skipped"
        console.print(Text(f"({hidden} {what} check(s) hidden; -v shows all)", style="dim"))


def render_machine_report(report: MachineReport, *, verbose: bool, console: Console) -> None:
    """A bare `check`: the machine's checks (the passing ones too: this is the first look),
    then every Python environment found with its stack, then how to check one."""
    unicode_ok = _unicode_ok(console)
    console.print(
        Text("mmdoctor check · this machine (no Python environment named or active)", "bold")
    )
    say(console, "  ", machine_line(report.machine), "dim")
    _render_results(
        report, verbose=verbose, unicode_ok=unicode_ok, console=console, hide=(Status.SKIP,)
    )
    _render_environments(report.discovery, console)


def machine_line(machine: MachineFacts) -> str:
    host, nvidia, toolkit = machine.host, machine.nvidia, machine.toolkit
    parts = [f"{host.os} {host.machine}"]
    parts += [f"glibc {host.glibc}"] if host.glibc else []
    if host.cpu_count or host.memory_total_bytes:
        memory = f"{host.memory_total_bytes / 2**30:.0f} GiB" if host.memory_total_bytes else ""
        parts.append(", ".join(p for p in (f"{host.cpu_count} CPUs", memory) if p))
    parts.append(f"driver {nvidia.driver_version}" if nvidia.has_driver else "no NVIDIA driver")
    parts += [f"{len(nvidia.gpus)} GPU(s)"] if nvidia.gpus else []
    parts.append(f"nvcc {toolkit.nvcc_version}" if toolkit.nvcc_version else "no nvcc")
    parts.append(f"gcc {toolkit.gcc_version}" if toolkit.gcc_version else "no gcc")
    return " · ".join(parts)


def _render_environments(discovery: Discovery, console: Console) -> None:
    console.print()
    here = Path(discovery.folder)
    console.print(
        Text(
            "Python environments on this machine (torch, mmcv and mmdet as their metadata "
            f"says; venvs looked for in {discovery.folder} and two levels below):",
            style="bold",
        )
    )
    if not discovery.environments:
        say(console, "  ", "none found", "dim")
    where = None
    for found in discovery.environments:
        if found.where != where:
            where = found.where
            say(console, "  ", Text(found.where, style="bold"))
        say(console, "    ", _environment_line(found, here))
    if discovery.not_run:
        say(console, "  ", f"… and {discovery.not_run} more, not looked at", "dim")
    console.print()
    console.print("To check one (or activate it, or pass --venv DIR):")
    command(console, "  $ ", f"mmdoctor check --python {shell.quote(_example(discovery, here))}")
    if not any(found.has_stack for found in discovery.environments):
        console.print("None has torch, mmcv or mmdet; the stack that fits this machine, planned:")
        command(console, "  $ ", "mmdoctor install --venv DIR --dry-run")


def _shown_path(found: FoundEnvironment, here: Path) -> str:
    """A venv by its folder (relative to the current one where it is inside it), any other
    interpreter by its path."""
    path = Path(found.prefix) if found.kind in ("venv", "conda") and found.prefix else None
    if path is None:
        return found.executable
    try:
        return str(path.relative_to(here)) or "."
    except ValueError:
        return str(path)


def _environment_line(found: FoundEnvironment, here: Path) -> Text:
    line = Text(_shown_path(found, here), style="bold")
    if found.error is not None:
        line.append(f": {found.error}", style="red")
        return line
    kind = f"{found.kind}, mmdoctor's own" if found.own else found.kind
    line.append(f" · Python {found.version} ({kind})")
    if found.too_old:
        line.append(": too old for any stack", style="dim")
    elif found.has_stack:
        stack = ", ".join(f"{name} {version or '?'}" for name, version in found.packages.items())
        line.append(f": {stack}", style="green")
    else:
        line.append(": no torch, mmcv or mmdet", style="dim")
    return line


def _example(discovery: Discovery, here: Path) -> str:
    """The environment to name in the example: of those a check runs on, the first with the
    most of torch, an mmcv and an mmdet, a virtual or conda environment before an interpreter,
    mmdoctor's own last; else a placeholder."""
    usable = [f for f in discovery.environments if f.error is None and not f.too_old]
    chosen = max(
        usable, key=lambda f: (_stack_parts(f), not f.own, f.kind != "system"), default=None
    )
    return _shown_path(chosen, here) if chosen is not None else "PATH"


def _stack_parts(found: FoundEnvironment) -> int:
    """How many of torch, an mmcv and an mmdet an environment has."""
    names = " ".join(found.packages)
    return sum(part in names for part in ("torch", "mmcv", "mmdet"))


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
