"""`mmdoctor diagnose`: read a log and name the known failure behind it, root cause first.

The matching itself (weighted signatures, noisy-or confidence, chains ordered root first) lives
in knowledge.py, the one classifier that check, smoke-test and install use too; this module
reads the log and weighs the matches against the environment.
"""

from __future__ import annotations

from collections.abc import Mapping

from mmdoctor.errors import UsageError
from mmdoctor.knowledge import (
    CONFIDENT,
    EVIDENCE_LINES,
    MIN_REPORTED,
    Match,
    clean,
    match_log,
    order_by_chain,
)

__all__ = [
    "CONFIDENT",
    "EVIDENCE_LINES",
    "MIN_REPORTED",
    "Match",
    "bug_report_hint",
    "clean",
    "confirm_with_environment",
    "decode_log",
    "match_log",
    "order_by_chain",
]


def decode_log(data: bytes, name: str) -> str:
    """The text of a log; binary data is bad input (exit 2)."""
    if b"\x00" in data[:8192]:
        raise UsageError(f"{name}: binary data, not a log")
    text = data.decode("utf-8", errors="replace")
    if text and text.count("\ufffd") > max(10, len(text) // 20):
        raise UsageError(f"{name}: not text (mostly undecodable bytes)")
    return clean(text)


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
