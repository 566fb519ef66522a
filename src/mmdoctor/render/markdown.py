"""`--format markdown`: a report to paste into a bug report, scrubbed of private details."""

from __future__ import annotations

from mmdoctor.checks.model import Status
from mmdoctor.redact import redact_report
from mmdoctor.render.facts import environment_rows
from mmdoctor.report import CheckReport

MARKS = {
    Status.OK: "✅ ok",
    Status.WARN: "⚠️ warn",
    Status.FAIL: "❌ fail",
    Status.CRASH: "💥 crash",
    Status.SKIP: "➖ skip",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def check_report(report: CheckReport, *, home: str | None = None) -> str:
    out = [
        "## mmdoctor check report",
        "",
        f"mmdoctor {report.version} · status **{report.status}** (exit {int(report.exit_code)})",
        "",
        "### Environment",
        "",
        "| | |",
        "|---|---|",
    ]
    out += [
        f"| {_cell(label)} | {_cell(value)} |"
        for label, value in environment_rows(report.environment)
    ]
    out += ["", "### Checks", "", "| status | check | summary |", "|---|---|---|"]
    out += [f"| {MARKS[r.status]} | `{r.id}` | {_cell(r.summary)} |" for r in report.results]
    problems = [r for r in report.results if r.status in (Status.FAIL, Status.CRASH, Status.WARN)]
    if problems:
        out += ["", "### Problems and fixes"]
        for result in problems:
            out += ["", f"#### {MARKS[result.status]}: {result.title}", "", result.summary]
            out += [f"- {line}" for detail in result.details for line in detail.splitlines()[:1]]
            if result.cause:
                out += ["", f"**Why:** {result.cause}"]
            if result.advice is not None:
                out += ["", f"**Fix:** {result.advice.text}"]
                if result.advice.commands:
                    out += ["", "```bash", *result.advice.commands, "```"]
            if result.known_failure:
                out += ["", f"Known failure id: `{result.known_failure}`"]
    return redact_report("\n".join(out) + "\n", home=home)
