"""A fleet summary for people (rich) and as the --json body."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from mmdoctor.fleet.plan import FleetPlanned
from mmdoctor.fleet.reports import NodeFacts
from mmdoctor.fleet.summary import FleetSummary, hostlist
from mmdoctor.redact import redact_credentials
from mmdoctor.render.human import say
from mmdoctor.render.plan_out import render_plan

MARKS = {"fail": ("✗", "red"), "crash": ("☠", "magenta"), "warn": ("!", "yellow")}


def facts_line(facts: NodeFacts) -> str:
    shown = []
    for fact, value in facts.values:
        if fact == "torch CUDA":
            continue
        if fact == "torch" and value != "none":
            cuda = facts.get("torch CUDA")
            value = f"{value} ({'CUDA ' + cuda if cuda not in ('CPU', 'none') else 'CPU'})"
        shown.append(f"{fact} {value}")
    return " · ".join(shown)


def render_fleet(summary: FleetSummary, console: Console, title: str) -> None:
    total, healthy = len(summary.nodes), len(summary.healthy)
    missing = len(summary.missing)
    console.print(
        Text(
            f"{title} · {total} node(s): {healthy} healthy, {total - healthy - missing} with "
            f"problems, {missing} without a report",
            style="bold",
        )
    )
    if summary.groups:
        console.print("Nodes by their facts:")
        for group in summary.groups:
            lead = f"  {hostlist(group.nodes)} ({len(group.nodes)}): "
            say(console, lead, facts_line(group.facts))
    if summary.odd:
        console.print("Odd ones out:")
        for odd in summary.odd:
            peers = f"{odd.usual_count} node{'s' if odd.usual_count > 1 else ''}"
            line = f"{odd.fact} {odd.value}, {peers} {'have' if odd.usual_count > 1 else 'has'} "
            say(console, f"  {odd.node}: ", line + odd.usual, style="yellow")
    if summary.problems:
        console.print("Problems by node:")
        for problem in summary.problems:
            mark, style = MARKS.get(problem.status, ("?", ""))
            text = f"{problem.check}: {redact_credentials(problem.summary)}"
            say(console, f"  {mark} {problem.node} ", text, style=style)
    if summary.missing:
        console.print("No report:")
        for node in summary.missing:
            detail = f": {redact_credentials(node.detail)}" if node.detail else ""
            say(console, f"  ✗ {node.node}: ", f"{node.reason}{detail}", style="red")
    for slow in summary.slow:
        say(
            console,
            f"  ! {slow.node}: ",
            f"took {slow.seconds:.1f} s, {slow.seconds / slow.median:.1f}x the median of its "
            f"peers ({slow.median:.1f} s)",
            style="yellow",
        )
    verdict = "every node is healthy" if summary.exit_code == 0 else "not every node is healthy"
    console.print(Text(verdict, style="green" if summary.exit_code == 0 else "red bold"))


def render_fleet_plan(body: FleetPlanned, console: Console, verbose: bool) -> None:
    planning = body.planning
    every = len(planning.planned) + sum(len(b.nodes) for b in planning.blockers)
    console.print(Text(f"mmdoctor fleet plan · {every} node(s) gave their facts", style="bold"))
    for fact, where in planning.sources.items():
        say(console, f"  {fact}: ", where, style="dim")
    for blocker in planning.blockers:
        say(console, f"  ✗ {hostlist(blocker.nodes)}: ", f"blocks one stack: {blocker.why}", "red")
    if planning.blockers:
        say(console, "The best stack for the rest: ", hostlist(planning.planned), "bold")
    for rejection in planning.arch_rejections:
        say(console, "  ✗ prebuilt ", rejection, "yellow")
    for node in body.missing:
        say(console, f"  ✗ {node.node}: ", f"no facts: {node.reason}", "red")
    if body.install is None:
        console.print(Text("No stack fits: the nodes differ in OS, CPU or Python.", style="red"))
        return
    install = body.install
    render_plan(install.resolution, install.plan, install.context, verbose=verbose, console=console)
