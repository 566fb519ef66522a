"""A smoke-test report for people (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from mmdoctor.redact import redact_credentials
from mmdoctor.smoke.run import SmokeReport

MARKS = {"ok": ("✓", "green"), "fail": ("✗", "red"), "skip": ("-", "dim")}


def render_smoke(report: SmokeReport, *, console: Console, verbose: bool) -> None:
    console.print(
        Text(
            f"mmdoctor smoke-test · {report.model.title} on {report.device} · {report.executable}",
            style="bold",
        )
    )
    console.print(Text(f"  weights: {redact_credentials(report.weights)}", style="dim"))
    console.print(Text(f"  image:   {report.image}", style="dim"))
    for note in report.notes:
        console.print(Text(f"  note:    {note}", style="yellow"))
    for stage in report.stages:
        mark, style = MARKS[stage.status]
        line = Text()
        line.append(f"[{mark}]", style=f"bold {style}")
        line.append(f" {stage.title}: ", style="bold")
        line.append(redact_credentials(stage.summary))
        if stage.seconds is not None:
            line.append(f"  ({stage.seconds:.1f} s)", style="dim")
        console.print(line)
        if stage.advice:
            console.print(Text(f"    Fix: {stage.advice}", style="cyan"))
        if stage.known_failure:
            console.print(Text(f"    Known failure: {stage.known_failure}", style="dim"))
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
