"""A fleet's reports in one summary: nodes grouped by identical facts, the odd ones out named,
failing checks by node, the nodes that gave no report and why. Pure: data in, data out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from mmdoctor.errors import ExitCode
from mmdoctor.fleet.reports import FACTS, NodeFacts, NodeReport, facts_of

PROBLEMS = ("fail", "crash")
SLOW_FACTOR = 3.0  # a node this many times slower than the median of its peers is named


@dataclass(frozen=True)
class FactGroup:
    facts: NodeFacts
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class OddOne:
    """One node whose fact differs from most of the fleet."""

    node: str
    fact: str
    value: str
    usual: str  # the value most nodes have
    usual_count: int


@dataclass(frozen=True)
class NodeProblem:
    node: str
    check: str
    status: str  # fail | crash | warn
    summary: str


@dataclass(frozen=True)
class SlowNode:
    node: str
    seconds: float
    median: float  # of the other nodes


@dataclass(frozen=True)
class FleetSummary:
    nodes: tuple[NodeReport, ...]
    groups: tuple[FactGroup, ...]  # largest first
    odd: tuple[OddOne, ...]
    problems: tuple[NodeProblem, ...]
    missing: tuple[NodeReport, ...]  # no report, with the reason
    slow: tuple[SlowNode, ...] = ()

    @property
    def healthy(self) -> tuple[str, ...]:
        return tuple(n.node for n in self.nodes if n.healthy)

    @property
    def exit_code(self) -> ExitCode:
        every = bool(self.nodes) and len(self.healthy) == len(self.nodes)
        return ExitCode.OK if every else ExitCode.PROBLEMS

    @property
    def status(self) -> str:
        if self.exit_code == ExitCode.OK:
            return "healthy"
        return "unreachable" if self.missing and not self.healthy else "problems"

    def to_dict(self, verbose: bool = False) -> dict[str, Any]:
        problems: dict[str, list[dict[str, str]]] = {}
        for problem in self.problems:
            problems.setdefault(problem.node, []).append(
                {"check": problem.check, "status": problem.status, "summary": problem.summary}
            )
        nodes = [
            {
                "node": node.node,
                "healthy": node.healthy,
                "status": (node.document or {}).get("status") if node.document else "no-report",
                "reason": node.reason,
                "detail": node.detail or None,
                "seconds": node.seconds,
                "problems": problems.get(node.node, []),
                "log": (node.document or {}).get("log"),  # an install's, on that node
            }
            for node in self.nodes
        ]
        return {
            "counts": {
                "nodes": len(self.nodes),
                "healthy": len(self.healthy),
                "without_report": len(self.missing),
            },
            "nodes": nodes,
            "groups": [
                {"nodes": list(g.nodes), "facts": dict(g.facts.values)} for g in self.groups
            ],
            "odd_ones_out": [asdict(odd) for odd in self.odd],
            "slow": [asdict(slow) for slow in self.slow],
        }

    def job_keys(self) -> dict[str, Any]:
        """fleet install's JSON carries every node's check of the venv."""
        return {"fleet": self.to_dict()}


def summarise(nodes: Sequence[NodeReport]) -> FleetSummary:
    reported = [n for n in nodes if n.document is not None]
    facts = {n.node: facts_of(n.document) for n in reported if n.document is not None}
    grouped: dict[NodeFacts, list[str]] = {}
    for node, node_facts in facts.items():
        grouped.setdefault(node_facts, []).append(node)
    groups = sorted(
        (FactGroup(f, tuple(sorted(names))) for f, names in grouped.items()),
        key=lambda g: (-len(g.nodes), g.nodes),
    )
    return FleetSummary(
        nodes=tuple(sorted(nodes, key=lambda n: n.node)),
        groups=tuple(groups),
        odd=tuple(_odd_ones(facts)),
        problems=tuple(_problems(reported)),
        missing=tuple(sorted((n for n in nodes if n.document is None), key=lambda n: n.node)),
        slow=tuple(_slow(reported)),
    )


def _odd_ones(facts: dict[str, NodeFacts]) -> list[OddOne]:
    """Per fact, the nodes whose value differs from the most common one."""
    odd: list[OddOne] = []
    for fact in FACTS:
        counts = Counter(f.get(fact) for f in facts.values())
        if len(counts) < 2 or "" in counts:  # the same for all, or not a fact of these reports
            continue
        usual, usual_count = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        for node in sorted(facts):
            value = facts[node].get(fact)
            if value != usual:
                odd.append(OddOne(node, fact, value, usual, usual_count))
    return odd


def _problems(reported: list[NodeReport]) -> list[NodeProblem]:
    out: list[NodeProblem] = []
    for node in sorted(reported, key=lambda n: n.node):
        doc = node.document or {}
        if doc.get("failure"):  # an install that failed (and was rolled back on that node)
            out.append(NodeProblem(node.node, str(doc["command"]), "fail", str(doc["failure"])))
        for check in node.checks:
            status = str(check.get("status"))
            if status in PROBLEMS or status == "warn":
                summary = str(check.get("summary") or "")
                out.append(NodeProblem(node.node, str(check.get("id")), status, summary))
    return out


def _slow(reported: list[NodeReport]) -> list[SlowNode]:
    timed = {n.node: n.timing for n in reported if n.timing is not None}
    if len(timed) < 3:  # a median of one peer says nothing
        return []
    slow = []
    for node, seconds in sorted(timed.items()):
        peers = sorted(s for n, s in timed.items() if n != node)
        middle = len(peers) // 2
        median = peers[middle] if len(peers) % 2 else (peers[middle - 1] + peers[middle]) / 2
        if median > 0 and seconds >= SLOW_FACTOR * median:
            slow.append(SlowNode(node, seconds, median))
    return slow


def hostlist(names: Sequence[str]) -> str:
    """Node names as Slurm writes them: node1,node2,node3,gpu07 -> node[1-3],gpu07."""
    import re

    runs: dict[tuple[str, int], list[int]] = {}
    plain: list[str] = []
    for name in names:
        match = re.fullmatch(r"(.*?)(\d+)", name)
        if match is None:
            plain.append(name)
            continue
        runs.setdefault((match.group(1), len(match.group(2))), []).append(int(match.group(2)))
    parts = list(plain)
    for (prefix, width), numbers in runs.items():
        numbers = sorted(set(numbers))
        spans: list[str] = []
        start = prev = numbers[0]
        for number in [*numbers[1:], None]:
            if number is not None and number == prev + 1:
                prev = number
                continue
            spans.append(f"{start:0{width}d}" + (f"-{prev:0{width}d}" if prev != start else ""))
            if number is not None:
                start = prev = number
        single = len(spans) == 1 and "-" not in spans[0]
        parts.append(f"{prefix}{spans[0]}" if single else f"{prefix}[{','.join(spans)}]")
    return ",".join(parts)
