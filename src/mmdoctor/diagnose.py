"""`mmdoctor diagnose`: read a log and name the known failure behind it, root cause first.

Matching: each entry's signatures are regexes with weights; an entry's confidence is the
noisy-or of the weights of the patterns that match (1 - prod(1 - w)). Failures chain (no
prebuilt wheel -> source build -> missing pkg_resources -> mmcv._ext missing at run time): a
matched entry whose cause is also matched is shown under that cause, and the answer is the most
upstream link, the one the user must fix first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from mmdoctor.errors import UsageError
from mmdoctor.knowledge import Failure, Knowledge

CONFIDENT = 0.5  # below this a match is only "possible"
MIN_REPORTED = 0.2
EVIDENCE_LINES = 6
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


@dataclass(frozen=True)
class Match:
    failure: Failure
    confidence: float
    evidence: tuple[tuple[int, str], ...]  # (line number, line)
    chain: tuple[str, ...] = ()  # the matched failures this one leads to, downstream
    notes: tuple[str, ...] = field(default=())


def decode_log(data: bytes, name: str) -> str:
    """The text of a log; binary data is bad input (exit 2)."""
    if b"\x00" in data[:8192]:
        raise UsageError(f"{name}: binary data, not a log")
    text = data.decode("utf-8", errors="replace")
    if text and text.count("\ufffd") > max(10, len(text) // 20):
        raise UsageError(f"{name}: not text (mostly undecodable bytes)")
    return clean(text)


def clean(text: str) -> str:
    """ANSI colours and Windows line endings out; everything else as pasted."""
    return _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


def match_log(text: str, knowledge: Knowledge) -> list[Match]:
    lines = text.splitlines()
    found: dict[str, Match] = {}
    for failure in knowledge.failures:
        if failure.requires_any and not any(p.search(text) for p in failure.requires_any):
            continue
        miss = 1.0
        hits: list[tuple[int, str]] = []
        for signature in failure.signatures:
            if not signature.pattern.search(text):
                continue
            miss *= 1.0 - signature.weight
            for number, line in enumerate(lines, start=1):
                if signature.pattern.search(line) and (number, line) not in hits:
                    hits.append((number, line.strip()[:300]))
                    break
        confidence = round(1.0 - miss, 3)
        if confidence >= MIN_REPORTED:
            found[failure.id] = Match(failure, confidence, tuple(sorted(hits)[:EVIDENCE_LINES]))
    return order_by_chain(found)


def order_by_chain(found: Mapping[str, Match]) -> list[Match]:
    """Roots first: a match whose cause is also matched goes into that cause's chain."""

    def root_of(failure_id: str, seen: frozenset[str] = frozenset()) -> str:
        match = found[failure_id]
        for cause in match.failure.causes:
            # Only a confident cause takes the lead: a weak hint must not hide a clear error.
            if cause in found and cause not in seen and found[cause].confidence >= CONFIDENT:
                return root_of(cause, seen | {failure_id})
        return failure_id

    chains: dict[str, list[str]] = {}
    for failure_id in found:
        root = root_of(failure_id)
        if root != failure_id:
            chains.setdefault(root, []).append(failure_id)
    roots = [
        Match(m.failure, m.confidence, m.evidence, tuple(chains.get(i, ())), m.notes)
        for i, m in found.items()
        if root_of(i) == i
    ]
    # A root that explains a chain is more certain than its own lines alone say.
    roots.sort(key=lambda m: (-(m.confidence + 0.1 * len(m.chain)), m.failure.id))
    return roots


def confirm_with_environment(matches: list[Match], failing: Mapping[str, str]) -> list[Match]:
    """Use `check` on the target: a failing check naming the same known failure confirms a
    match; otherwise the environment does not show it now (fixed since, or another env?)."""
    out = []
    for match in matches:
        notes = list(match.notes)
        confidence = match.confidence
        if match.failure.id in failing:
            confidence = max(confidence, 0.95)
            notes.append(f"confirmed in this environment: {failing[match.failure.id]}")
        else:
            notes.append(
                "`mmdoctor check` does not see this in the environment now: already fixed, or "
                "was the log from another environment?"
            )
        out.append(Match(match.failure, confidence, match.evidence, match.chain, tuple(notes)))
    return out


def bug_report_hint() -> str:
    return (
        "Nothing known matched. For a bug report, include: the whole log from the first "
        "command on (not only the last lines), `mmdoctor check --format markdown` from the "
        "same environment, and the exact command you ran."
    )
