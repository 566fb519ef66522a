"""A smoke-test report for people (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from mmdoctor.redact import redact_credentials
from mmdoctor.render.human import say
from mmdoctor.smoke.run import SmokeReport

MARKS = {"ok": ("✓", "green"), "fail": ("✗", "red"), "skip": ("-", "dim")}


def render_smoke(report: SmokeReport, *, console: Console, verbose: bool) -> None:
    console.print(
        Text(
            f"mmdoctor smoke-test · {report.model.title} on {report.device} · {report.executable}",
            style="bold",
        )
    )
    # each under its lead at a terminal (a path or a fix never falls back to the margin)
    say(console, "  weights: ", redact_credentials(report.weights), "dim")
    say(console, "  image:   ", report.image, "dim")
    for note in report.notes:
        say(console, "  note:    ", note, "yellow")
    for stage in report.stages:
        mark, style = MARKS[stage.status]
        line = Text()
        line.append(f"{stage.title}: ", style="bold")
        line.append(redact_credentials(stage.summary))
        if stage.seconds is not None:
            line.append(f"  ({stage.seconds:.1f} s)", style="dim")
        say(console, Text(f"[{mark}]", style=f"bold {style}") + " ", line)
        if stage.advice:
            say(console, "    Fix: ", stage.advice, "cyan")
        if stage.known_failure:
            say(console, "    Known failure: ", stage.known_failure, "dim")
        if verbose and stage.data.get("traceback"):
            console.print(Text(str(stage.data["traceback"]), style="dim"))
    detections = next(
        (s.data.get("detections") for s in report.stages if s.id == "inference" and s.data), None
    )
    if detections:
        console.print(Text("Detections:", style="bold"))
        for d in detections[: None if verbose else 10]:
            box = ", ".join(f"{v:.0f}" for v in d["box"])
            console.print(Text(f"  {d['class']:<16} {d['score']:.2f}  [{box}]"))
    out = next((s.data.get("out") for s in report.stages if s.data.get("out")), None)
    if out:
        console.print(Text(f"Wrote {out} with the boxes drawn.", style="dim"))
    if report.passed:
        console.print(Text("Every stage passed.", style="bold green"))
    else:
        failed = next(s for s in report.stages if s.status == "fail")
        console.print(Text(f"Stage '{failed.id}' failed: exit 1.", style="bold red"))
