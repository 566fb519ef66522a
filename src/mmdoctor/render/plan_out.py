"""Install plans and the compatibility table, for people (rich)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mmdoctor import shell
from mmdoctor.planning.compat_table import CompatRow
from mmdoctor.planning.machine import PlanningContext
from mmdoctor.planning.plan import Plan
from mmdoctor.planning.resolver import Resolution
from mmdoctor.planning.steps import Step
from mmdoctor.redact import redact_credentials
from mmdoctor.render.human import command, say

REJECTIONS_SHOWN = 12


def machine_line(context: PlanningContext) -> str:
    machine = context.machine
    driver = f"driver {machine.driver}" if machine.driver is not None else "no NVIDIA driver"
    gpus = ", ".join(f"sm_{cc.major}{cc.minor}" for cc in machine.gpu_ccs) or "no GPU"
    nvcc = f"nvcc {machine.nvcc}" if machine.nvcc else "no nvcc"
    if not machine.toolchain_known:
        nvcc = "nvcc not probed"
    glibc = f" (glibc {machine.glibc})" if machine.glibc else ""
    where = f"{machine.os} {machine.arch}{glibc}"
    return f"Python {machine.python} on {where} · {driver} · {gpus} · {nvcc}"


def render_plan(
    resolution: Resolution,
    plan: Plan | None,
    context: PlanningContext,
    *,
    verbose: bool,
    console: Console,
    dry_run: bool = True,
) -> None:
    header = f"mmdoctor install · {machine_line(context)} · into {context.executable}"
    console.print(Text(header, style="bold"))
    if plan is None:
        _render_no_plan(resolution, console=console, verbose=verbose)
        return
    how = "prebuilt wheel" if plan.mmcv_prebuilt else "source build"
    kept = plan.candidate.installed
    torch = f"{kept.version} (installed, kept)" if kept else plan.torch_version
    build = plan.variant  # the build it installs: PyPI's is its one build for the platform
    if plan.candidate.from_pypi and not kept:
        build = f"PyPI's {plan.candidate.wheel_variant} build"
    console.print(
        Text(
            f"Plan: {plan.line.mmdet} {plan.mmdet_version} + {plan.mmcv_name} "
            f"{plan.mmcv_version} ({how}) + torch {torch} ({build})",
            style="bold green",
        )
    )
    render_changes(plan, console)
    if plan.line_reason:
        say(console, "Line: ", plan.line_reason)
    render_sources(_sources(plan), console)
    if plan.pins:
        console.print(Text("Pins:", style="bold"))
        for pin in plan.pins:
            say(console, "  ", redact_credentials(f"{pin.requirement}: {pin.reason}"))
    render_steps(plan.steps, console)
    if plan.warnings:
        console.print(Text("Warnings:", style="bold yellow"))
        for warning in plan.warnings:
            say(console, "  ! ", redact_credentials(warning), "yellow")
    if verbose and resolution.alternatives:
        console.print(Text("Runners-up:", style="bold"))
        for alternative in resolution.alternatives:
            say(console, "  - ", alternative.describe(), "dim")
    if dry_run:
        console.print(Text("Dry run: nothing was changed.", style="dim"))


def _sources(plan: Plan) -> list[tuple[str, str, str, str | None]]:
    """Each package of the plan, its version, and where it comes from (and the URL)."""
    torch_from: tuple[str, str | None] = (
        f"PyTorch {plan.variant}:",
        plan.torch_index_url or plan.torch_find_links,
    )
    if plan.candidate.from_pypi:
        torch_from = (f"PyPI (its {plan.candidate.wheel_variant} build)", None)
    mmcv_from: tuple[str, str | None] = ("PyPI sdist, built here (no prebuilt wheel)", None)
    if plan.mmcv_prebuilt:
        mmcv_from = (f"{plan.line.name} wheels:", plan.mmcv_find_links)
    via = (f"PyPI (via {plan.installer})", None)
    kept = plan.candidate.installed
    rows = [
        ("torch", kept.version if kept else plan.torch_version, *torch_from),
        ("torchvision", plan.torchvision_version, *torch_from),
        (plan.line.mim, plan.mim_version, "PyPI", None),
        (plan.mmcv_name, plan.mmcv_version, *mmcv_from),
    ]
    if plan.mmengine_version:
        rows.append((plan.line.mmengine, plan.mmengine_version, *via))
    rows.append((plan.line.mmdet, plan.mmdet_version, *via))
    # what the environment holds and keeps is downloaded from nowhere
    return [
        (name, version, "installed: kept", None)
        if plan.changes.keeps(name)
        else (name, version, label, url)
        for name, version, label, url in rows
    ]


def render_sources(rows: Sequence[tuple[str, str, str, str | None]], console: Console) -> None:
    """package, version and where it comes from (a label, and a URL where there is one). No
    value is cut or folded: a URL that does not fit beside its label goes on a line of its own,
    as far left as it needs (only one wider than the terminal is left to it to fold)."""
    first = max(len(row[0]) for row in rows)
    second = max(len(row[1]) for row in rows)
    console.print(Text(f"{'package':<{first}}  {'version':<{second}}  from", style="bold"))
    for package, version, label, url in rows:
        lead = f"{package:<{first}}  {version:<{second}}  "
        shown = redact_credentials(url) if url else ""
        text = f"{label} {shown}" if shown else label
        if console.soft_wrap or not shown or len(lead) + len(text) <= console.width:
            say(console, lead, text)
            continue
        say(console, lead, label)
        room = console.width - len(shown)
        say(console, " " * (len(lead) if room >= len(lead) else max(2, room)), shown)


def render_changes(plan: Plan, console: Console) -> None:
    """What the plan does to the environment, replaces and removes first: shown where the
    environment holds something (a plan for an empty one adds all, as the table says)."""
    items = plan.changes.items
    if not any(c.action != "add" for c in items):
        return
    console.print(Text("Changes:", style="bold"))
    # torch first (what a user most needs to know: kept or replaced, and why), then what is
    # replaced or removed, then what is added, then the rest that stays
    order = {"replace": 1, "remove": 2, "add": 3, "keep": 4}
    styles = {"replace": "yellow", "remove": "yellow", "add": "green", "keep": "dim"}
    for change in sorted(items, key=lambda c: 0 if c.name == "torch" else order[c.action]):
        say(console, "  ", change.said(), styles[change.action])


def render_steps(steps: Sequence[Step], console: Console) -> None:
    """Numbered steps with the exact command of each (install's plan, fix's plan)."""
    console.print(Text("Steps:", style="bold"))
    for number, step in enumerate(steps, start=1):
        say(console, f"  {number}. ", redact_credentials(step.description))
        line = step.shown or shell.command_line(step.argv, step.env)  # a probe: its name
        command(console, "     $ ", line, "cyan")


def _render_no_plan(resolution: Resolution, *, console: Console, verbose: bool) -> None:
    console.print(Text("No stack fits this machine and these wishes.", style="bold red"))
    # One line per reason: on a CPU box every CUDA variant has the same one (no driver).
    groups: dict[str, list[str]] = {}
    for rejection in sorted(resolution.rejected, key=_newest_first):
        groups.setdefault(rejection.reason, []).append(rejection.candidate)
    limit = len(groups) if verbose else REJECTIONS_SHOWN
    for reason, candidates in list(groups.items())[:limit]:
        who = candidates[0]
        if len(candidates) > 1:
            who = ", ".join(candidates) if verbose else f"{who} and {len(candidates) - 1} more"
        say(console, "  ✗ ", f"{who}: {reason}")
    if len(groups) > limit:
        left = len(groups) - limit
        console.print(Text(f"  … and {left} more reason(s) (-v shows all)", style="dim"))
    if resolution.suggestions:
        console.print(Text("Nearest that would work:", style="bold"))
        for suggestion in resolution.suggestions:
            say(console, "  → ", suggestion, "green")


def _newest_first(rejection: Any) -> tuple[int, ...]:
    """Rejections of the newest torch first: those are the ones people ask about."""
    words = rejection.candidate.split()
    try:
        index = words.index("torch") + 1
        return tuple(-int(part) for part in words[index].split("."))
    except (ValueError, IndexError):
        return (0,)


def render_compat_table(rows: list[CompatRow], console: Console) -> None:
    """One row per (mmdet group, mmcv, torch, how) and the variants and Pythons install plans
    it for. A narrow terminal wraps a cell at its spaces, never cuts a value: each column is at
    least as wide as its longest word (a word folds only if they cannot fit side by side)."""
    if not rows:
        console.print(Text("Nothing in the matrix matches these filters.", style="yellow"))
        return
    header = ("mmdet", "mmcv", "torch", "CUDA variants", "Python", "how")
    cells = [
        (
            row.mmdet,
            row.mmcv,
            row.torch,
            " ".join(row.variants),
            row.python,
            row.how if row.verified else f"{row.how} (unverified)",
        )
        for row in rows
    ]
    table = Table(show_edge=False, pad_edge=False)
    widths = column_widths([header, *cells], console.width - 3 * (len(header) - 1))
    for title, width in zip(header, widths, strict=True):
        table.add_column(title, width=width, overflow="fold")
    for row, values in zip(rows, cells, strict=True):
        table.add_row(*values, style=None if row.how == "prebuilt" else "yellow")
    console.print(table)
    console.print(
        "What install plans on Linux x86_64 before it knows the driver and GPUs: "
        "`mmdoctor install --dry-run` checks those.",
        style="dim",
    )


def column_widths(lines: Sequence[Sequence[str]], room: int) -> list[int]:
    """Widths for these columns (the header among the lines) in `room` characters: each as
    wide as its widest cell when all fit, else at least its longest word, so that a cell wraps
    at its spaces and never inside a value; the room left goes, a character at a time, to the
    column with the most still to wrap."""
    columns = list(zip(*lines, strict=True))
    widest = [max(map(len, column)) for column in columns]
    if sum(widest) <= room:
        return widest
    widths = [max(len(word) for cell in column for word in cell.split()) for column in columns]
    while sum(widths) < room and widths != widest:
        most = max(range(len(widths)), key=lambda n: widest[n] - widths[n])
        widths[most] += 1
    return widths
