"""The one way a command's Result leaves mmdoctor: `emit(result, format)`.

text: rich, for a person (render/human.py and the *_out modules, one function per kind of
body); json: the versioned envelope on stdout (render/json_out.py); markdown: check's report
for a bug report. An error is one line on stderr in every format (and the envelope with json).
"""

from __future__ import annotations

import sys
from functools import singledispatch
from pathlib import Path
from typing import TextIO

from rich.console import Console

from mmdoctor.diagnose import Diagnosis
from mmdoctor.errors import MmdoctorError
from mmdoctor.fix import FixPlanned
from mmdoctor.fleet.plan import FleetPlanned
from mmdoctor.fleet.summary import FleetSummary
from mmdoctor.install.outcome import JobDone, RolledBack
from mmdoctor.paths import require_plain, write_atomic
from mmdoctor.planning.compat_table import MatrixRows
from mmdoctor.planning.export import export_variables
from mmdoctor.planning.plan import InstallPlan
from mmdoctor.redact import redact_credentials
from mmdoctor.render import json_out, markdown
from mmdoctor.render.diagnose_out import render_diagnosis
from mmdoctor.render.fleet_out import render_fleet, render_fleet_plan
from mmdoctor.render.human import (
    make_console,
    render_check_report,
    render_machine_report,
    say,
)
from mmdoctor.render.install_out import render_fix_plan, render_outcome, render_restore
from mmdoctor.render.junit_out import junit_document
from mmdoctor.render.plan_out import render_compat_table, render_plan
from mmdoctor.render.prometheus_out import textfile
from mmdoctor.render.smoke_out import render_smoke
from mmdoctor.report import CheckList, CheckReport, MachineReport
from mmdoctor.result import Failed, Result
from mmdoctor.smoke.run import SmokeReport

FORMATS = ("text", "json", "markdown")


def emit(result: Result, fmt: str, *, verbose: bool = False, debug: bool = False) -> None:
    if isinstance(result.body, Failed):
        said = redact_credentials(result.body.message)
        if result.body.kind == "declined":  # an answer, not an error
            print(f"mmdoctor: {said}", file=sys.stderr)
        else:  # a traceback to show only where mmdoctor did not expect what happened
            hint = " (--debug shows the traceback)" if result.body.kind == "internal" else ""
            print(f"mmdoctor: error: {said}{'' if debug else hint}", file=sys.stderr)
        if fmt == "json":
            print(json_out.document(result, verbose=verbose))
        return
    if fmt == "json":
        print(json_out.document(result, verbose=verbose))
    elif fmt == "markdown" and isinstance(result.body, CheckReport):
        print(markdown.check_report(result.body), end="")
    else:
        console = make_console()
        with console.capture() as captured:  # what is shown passes one redaction, as JSON does
            human(result.body, console, verbose)
        text = redact_credentials(captured.get())
        if not console.is_terminal:  # tables pad their cells: no trailing spaces in files
            text = "".join(line.rstrip() + "\n" for line in text.splitlines())
        sys.stdout.write(text)


def show_text(result: Result, file: TextIO, *, verbose: bool = False) -> None:
    """A result as text on `file` (the plan to confirm, on the terminal, while stdout takes
    the JSON document)."""
    human(result.body, make_console(file), verbose)


def write_files(result: Result, *, junit: Path | None, prometheus: Path | None) -> None:
    """The files a command was asked to write besides its output: --junit (a fleet summary),
    --prometheus (a check report, or that check could not run). Each is written atomically."""

    require_plain("--junit", junit)
    require_plain("--prometheus", prometheus)
    try:
        if junit is not None and isinstance(result.body, FleetSummary):
            write_atomic(junit, junit_document(result.body, f"mmdoctor {result.command}"))
        if prometheus is not None:
            write_atomic(prometheus, redact_credentials(textfile(result)))
    except OSError as exc:
        path = junit if junit is not None and not prometheus else prometheus
        raise MmdoctorError(f"could not write {path}: {exc.strerror or exc}") from exc


@singledispatch
def human(body: object, console: Console, verbose: bool) -> None:
    raise TypeError(f"no text rendering for {type(body).__name__}")


@human.register
def _(body: CheckReport, console: Console, verbose: bool) -> None:

    render_check_report(body, verbose=verbose, console=console)


@human.register
def _(body: MachineReport, console: Console, verbose: bool) -> None:

    render_machine_report(body, verbose=verbose, console=console)


@human.register
def _(body: CheckList, console: Console, verbose: bool) -> None:
    for check_id, title in body.checks:  # a long title goes on under itself
        say(console, f"{check_id:<22} ", title)


@human.register
def _(body: InstallPlan, console: Console, verbose: bool) -> None:

    render_plan(
        body.resolution,
        body.plan,
        body.context,
        verbose=verbose,
        console=console,
        dry_run=body.dry_run,
    )
    for line in body.next_steps:
        console.print(f"Next: {line}")
    if body.exported is not None and body.plan is not None:
        how = (
            f"`python -m pip install -r {body.exported}` installs this plan."
            if body.plan.mmcv_prebuilt
            else "its first lines give the runs that install this plan (mmcv is built from source)."
        )
        console.print(f"Wrote {body.exported}: {how}")
        variables = export_variables(body.plan)
        if variables:
            names = ", ".join(variables)
            console.print(
                f"Its credentials are ${{VAR}} placeholders, which pip expands: set {names}."
            )


@human.register
def _(body: JobDone, console: Console, verbose: bool) -> None:

    for report in body.reports:  # a check report, or a fleet's summary (fleet install)
        if report.status != "healthy":
            human(report, console, False)
    render_outcome(body.outcome, console, body.executable)


@human.register
def _(body: FixPlanned, console: Console, verbose: bool) -> None:

    render_fix_plan(body.plan, console)
    if body.nothing:
        console.print("Nothing for mmdoctor to fix here.")
    if body.dry_run:
        console.print("Dry run: nothing was changed.")


@human.register
def _(body: RolledBack, console: Console, verbose: bool) -> None:

    render_restore(body.restore, console)
    console.print(f"Snapshot: {body.snapshot}\nLog: {body.log}")


@human.register
def _(body: MatrixRows, console: Console, verbose: bool) -> None:

    render_compat_table(list(body.rows), console)


@human.register
def _(body: SmokeReport, console: Console, verbose: bool) -> None:

    render_smoke(body, console=console, verbose=verbose)


@human.register
def _(body: Diagnosis, console: Console, verbose: bool) -> None:

    render_diagnosis(body, console=console, verbose=verbose)


@human.register
def _(body: FleetSummary, console: Console, verbose: bool) -> None:

    render_fleet(body, console, "mmdoctor fleet")


@human.register
def _(body: FleetPlanned, console: Console, verbose: bool) -> None:

    render_fleet_plan(body, console, verbose)
