"""A fleet summary as JUnit XML, which CI dashboards, Jenkins, GitLab and Ansible read: one
<testsuite> per node, one <testcase> per check. fail is a <failure>, crash an <error>, skip
<skipped/>; a node without a report is one <testcase name="report"> with an <error>."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from mmdoctor.fleet.reports import NodeReport
from mmdoctor.fleet.summary import FleetSummary
from mmdoctor.redact import redact_credentials


def _clean(text: object) -> str:
    """XML 1.0 forbids most control characters, which a node's stderr can hold."""
    cleaned = "".join(c for c in str(text) if c in "\t\n\r" or ord(c) >= 0x20)
    return redact_credentials(cleaned)


def _advice(check: Mapping[str, Any]) -> str:
    lines = [str(d) for d in check.get("details") or []]
    advice = check.get("advice")
    if isinstance(advice, Mapping):
        lines += [str(advice.get("text") or "")] + [str(c) for c in advice.get("commands") or []]
    return "\n".join(lines)


def _suite(node: NodeReport, name: str) -> ET.Element:
    suite = ET.Element("testsuite", name=node.node, hostname=node.node)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if node.document is None:
        case = ET.SubElement(suite, "testcase", classname=f"{name}.{node.node}", name="report")
        message = f"{node.reason}: {node.detail}" if node.detail else str(node.reason)
        ET.SubElement(case, "error", message=_clean(message), type="no-report")
        counts["tests"], counts["errors"] = 1, 1
    for check in node.checks:
        status = str(check.get("status"))
        case = ET.SubElement(
            suite, "testcase", classname=f"{name}.{node.node}", name=str(check.get("id"))
        )
        counts["tests"] += 1
        summary = _clean(check.get("summary") or "")
        if status == "fail":
            element = ET.SubElement(case, "failure", message=summary, type="fail")
            element.text = _clean(_advice(check))
            counts["failures"] += 1
        elif status == "crash":
            element = ET.SubElement(case, "error", message=summary, type="crash")
            element.text = _clean(_advice(check))
            counts["errors"] += 1
        elif status == "skip":
            ET.SubElement(case, "skipped", message=summary)
            counts["skipped"] += 1
        elif status == "warn":
            ET.SubElement(case, "system-out").text = f"warning: {summary}"
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", f"{node.seconds or 0:.3f}")
    return suite


def junit_document(summary: FleetSummary, name: str = "mmdoctor") -> str:
    root = ET.Element("testsuites", name=name)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for node in summary.nodes:
        suite = _suite(node, name)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
