"""One node's report, and the facts a fleet compares, read from `check --json` documents.

A report from another node is data, not a CheckReport: it may come from another mmdoctor
version, so every key is read with a default and a document that is not mmdoctor's is a
"no report" with the reason, never an exception.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mmdoctor.errors import UsageError

SCHEMA = "mmdoctor/result/v1"
# The facts nodes are grouped by, in the order they are shown.
CHECK_FACTS = ("driver", "GPUs", "compute capability", "Python", "torch", "torch CUDA")
FACTS = (*CHECK_FACTS, "mmcv", "mmdet", "device", "model")  # the last two: a smoke test's
_MMCV = ("mmcv", "onedl-mmcv", "mmcv-full", "mmcv-lite")
_MMDET = ("mmdet", "onedl-mmdetection")


@dataclass(frozen=True)
class NodeReport:
    """What one node gave: its check document, or why there is none."""

    node: str
    document: Mapping[str, Any] | None = None
    reason: str | None = None  # no document: down, timed out, crashed, no mmdoctor there
    seconds: float | None = None  # how long its task ran, when known
    detail: str = ""  # the last words the node said (stderr), for a missing report

    @property
    def healthy(self) -> bool:
        return self.document is not None and self.document.get("exit_code") == 0

    @property
    def checks(self) -> list[Mapping[str, Any]]:
        """A check report's checks, or a smoke test's stages (both: id, status, summary)."""
        doc = self.document or {}
        checks = doc.get("checks") or doc.get("stages") or []
        return [c for c in checks if isinstance(c, Mapping)]

    @property
    def timing(self) -> float | None:
        """What a node is compared with its peers by: a smoke test's seconds per image, else
        how long its task ran."""
        per_image = _dig(self.document or {}, "timing", "median_seconds")
        return float(per_image) if isinstance(per_image, (int, float)) else self.seconds


@dataclass(frozen=True)
class NodeFacts:
    values: tuple[tuple[str, str], ...] = field(default=())  # (fact, value) in FACTS order

    def get(self, fact: str) -> str:
        return dict(self.values).get(fact, "")


def _dig(doc: Mapping[str, Any], *keys: str) -> Any:
    value: Any = doc
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _machine(doc: Mapping[str, Any], *keys: str) -> Any:
    """A fact of the node's machine: from the environment checked, or from a bare check's
    `machine` (no --python: the machine alone)."""
    return _dig(doc, "environment", *keys) or _dig(doc, "machine", *keys)


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _first_version(distributions: list[Any], names: tuple[str, ...]) -> str:
    """The version of the first of `names` installed, prefixed by its name unless it is the
    first (the plain upstream name): "2.2.0", "onedl-mmcv 2.3.6", "none"."""
    for wanted in names:
        for dist in distributions:
            if _normal(str(dist.get("name", ""))) == wanted:
                version = str(dist.get("version"))
                return version if wanted == names[0] else f"{wanted} {version}"
    return "none"


def facts_of(doc: Mapping[str, Any]) -> NodeFacts:
    """The facts of one node that its peers should share (a smoke test's or an install's:
    what it ran)."""
    if doc.get("command") == "install":
        plan = doc.get("plan") or {}
        torch, mmcv = plan.get("torch") or {}, plan.get("mmcv") or {}
        return NodeFacts(
            (
                ("torch", f"{torch.get('version')} ({torch.get('variant')})"),
                ("mmcv", f"{mmcv.get('name')} {mmcv.get('version')}"),
            )
        )
    if doc.get("command") == "smoke-test":
        model = _dig(doc, "model", "id")
        return NodeFacts((("device", str(doc.get("device"))), ("model", str(model))))
    gpus = [g for g in _machine(doc, "nvidia", "gpus") or [] if isinstance(g, Mapping)]
    models: dict[str, int] = {}
    for gpu in gpus:
        models[str(gpu.get("name"))] = models.get(str(gpu.get("name")), 0) + 1
    gpu_text = ", ".join(f"{n}x {name}" for name, n in models.items()) or "none"
    ccs = sorted({str(g.get("compute_capability")) for g in gpus})
    target = _dig(doc, "environment", "target") or {}
    distributions = [d for d in target.get("distributions") or [] if isinstance(d, Mapping)]
    torch = _first_version(distributions, ("torch",))
    torch_cuda = _dig(target, "steps", "torch", "data", "cuda")
    values = (
        ("driver", str(_machine(doc, "nvidia", "driver_version") or "none")),
        ("GPUs", gpu_text),
        ("compute capability", " ".join(ccs) or "none"),
        ("Python", str(target.get("version") or "?")),
        ("torch", torch),
        ("torch CUDA", str(torch_cuda) if torch_cuda else ("CPU" if torch != "none" else "none")),
        ("mmcv", _first_version(distributions, _MMCV)),
        ("mmdet", _first_version(distributions, _MMDET)),
    )
    return NodeFacts(values)


def gpu_count(doc: Mapping[str, Any]) -> int:
    gpus = _machine(doc, "nvidia", "gpus")
    return len(gpus) if isinstance(gpus, list) else 0


def node_name(doc: Mapping[str, Any], fallback: str) -> str:
    """The scheduler's name for the node, else its host name, else `fallback` (a file name)."""
    host = _machine(doc, "host") or {}
    scheduler = host.get("scheduler") if isinstance(host, Mapping) else None
    if isinstance(scheduler, Mapping) and scheduler.get("SLURMD_NODENAME"):
        return str(scheduler["SLURMD_NODENAME"])
    return str(host.get("hostname") or fallback) if isinstance(host, Mapping) else fallback


def parse_report(text: str, node: str, command: str = "check") -> NodeReport:
    """A node's stdout (or file) as its report; anything but a `command` document is a reason."""
    text = text.strip()
    if not text:
        return NodeReport(node, reason="gave no output")
    try:
        doc = json.loads(text)
    except ValueError:
        return NodeReport(
            node, reason="its output is not JSON", detail=text.splitlines()[-1].strip()[:200]
        )
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or doc.get("command") != command:
        return NodeReport(node, reason=f"its output is not an mmdoctor {command} report")
    if doc.get("status") == "error":  # the error envelope: it could not run
        errors = doc.get("errors") or [{}]
        message = errors[0].get("message", "") if isinstance(errors[0], Mapping) else ""
        return NodeReport(node, reason=f"its {command} could not run", detail=str(message))
    return NodeReport(node, document=doc)


def read_report_files(paths: Iterable[Path]) -> list[NodeReport]:
    """Every `*.json` under each DIR, and each FILE, as one node's report (bad input: exit 2)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*.json") if p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    if not files:
        raise UsageError(f"no *.json report files in {', '.join(str(p) for p in paths)}")
    reports = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            reports.append(NodeReport(file.stem, reason=f"unreadable: {exc.strerror}"))
            continue
        report = parse_report(text, file.stem)
        if report.document is not None:
            report = NodeReport(node_name(report.document, file.stem), document=report.document)
        reports.append(report)
    names = Counter(r.node for r in reports)
    # two reports with one name (pods or containers sharing a host name): tell them apart by file
    return [
        replace(r, node=f"{r.node} ({file.name})") if names[r.node] > 1 else r
        for r, file in zip(reports, files, strict=True)
    ]
