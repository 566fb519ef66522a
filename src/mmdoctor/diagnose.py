"""`mmdoctor diagnose`: read a log and name the known failure behind it, root cause first.

The matching itself (weighted signatures, noisy-or confidence, chains ordered root first) lives
in knowledge.py, the one classifier that check, smoke-test and install use too; this module
reads the log and weighs the matches against the environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from mmdoctor.checks.torch import PlannedStack
from mmdoctor.decisive import Decisive
from mmdoctor.errors import UsageError
from mmdoctor.knowledge import (
    CONFIDENT,
    EVIDENCE_LINES,
    MIN_REPORTED,
    Match,
    match_log,
    order_by_chain,
)
from mmdoctor.logtext import Normalised, clean, normalise
from mmdoctor.redact import redact_credentials

__all__ = [
    "CONFIDENT",
    "EVIDENCE_LINES",
    "MIN_REPORTED",
    "Match",
    "bug_report_hint",
    "clean",
    "confirm_with_environment",
    "decode_log",
    "decode_normalised",
    "fit_stack_commands",
    "match_log",
    "order_by_chain",
]


def decode_log(data: bytes | bytearray, name: str) -> str:
    """The text of a log, normalised for matching; binary data is bad input (exit 2)."""
    return decode_normalised(data, name).text


def decode_normalised(data: bytes | bytearray, name: str) -> Normalised:
    """The text of a log and the normalisations that applied (logtext.py)."""
    if b"\x00" in data[:8192]:
        raise UsageError(f"{name}: binary data, not a log")
    text = data.decode("utf-8", errors="replace")
    if text and text.count("\ufffd") > max(10, len(text) // 20):
        raise UsageError(f"{name}: not text (mostly undecodable bytes)")
    return normalise(text)


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
        out.append(replace(match, confidence=confidence, notes=tuple(notes)))
    return out


# A known fix's commands that install torch or mmcv: their pins are the entry's example (torch
# 2.1.2 + mmcv 2.1.0, with no wheel for Python 3.12), or templates.
_INSTALLS_TORCH = re.compile(r"\bpip install\b.*\btorch==")
_INSTALLS_MMCV = re.compile(r"\b(?:pip|mim) install\b.*\bmmcv(?:-full)?==")


def fit_stack_commands(matches: list[Match], planned: PlannedStack | None) -> list[Match]:
    """Put the steps `mmdoctor install` would plan for the environment in place of the fixes'
    own torch and mmcv installs; without an environment, say that their pins are examples."""
    out = []
    for match in matches:
        fix = match.failure.fix_commands
        if not any(_INSTALLS_TORCH.search(c) for c in fix):
            out.append(match)
        elif planned is None:
            note = (
                "the torch (and mmcv) versions above are examples; `mmdoctor diagnose --python "
                "PATH` (or `mmdoctor install --dry-run --python PATH`) gives the torch and mmcv "
                "that fit that environment's Python, driver and GPUs"
            )
            out.append(replace(match, notes=(*match.notes, note)))
        else:
            fitted: list[str] = []
            for command in fix:
                if _INSTALLS_TORCH.search(command):
                    fitted += [planned.torch] if planned.torch else []  # a kept torch: none
                elif _INSTALLS_MMCV.search(command):
                    fitted += planned.mmcv
                else:
                    fitted.append(command)
            fitted += [planned.pins] if planned.pins else []  # what install pins for that torch
            note = f"the install steps are those `mmdoctor install` plans here ({planned.stack})"
            out.append(replace(match, notes=(*match.notes, note), fitted_commands=tuple(fitted)))
    return out


PLACEHOLDER = re.compile(r"<[A-Za-z_]+>")  # a fix command's part to fill in: <mmcv_version>


@dataclass(frozen=True)
class Diagnosis:
    source: str  # the file name, or "standard input"
    matches: tuple[Match, ...]
    found: bool  # a known cause matched confidently
    # where nothing known matched: the decisive lines and their area (decisive.py), if any
    decisive: Decisive | None = None
    normalised: tuple[str, ...] = ()  # what was normalised before matching (logtext.py)

    def to_dict(self, verbose: bool = False) -> dict[str, Any]:
        return {
            "source": self.source,
            "matches": [match_dict(m) for m in self.matches],
            "hint": None if self.found else bug_report_hint(),
            "decisive": None if self.decisive is None else self.decisive.to_dict(),
            "normalised": list(self.normalised),
        }


def match_dict(match: Match) -> dict[str, Any]:
    failure = match.failure
    return {
        "id": failure.id,
        "title": failure.title,
        "confidence": match.confidence,
        "evidence_lines": [
            {"line": number, "text": redact_credentials(text)} for number, text in match.evidence
        ],
        "chain": list(match.chain),
        "root_cause": failure.root_cause,
        "fix": {
            "text": failure.fix_text,
            "commands": list(match.commands),
            # the commands with a <placeholder> to fill in first: templates, not to be run as is
            "templates": [c for c in match.commands if PLACEHOLDER.search(c)],
        },
        "versions": failure.versions,
        "sources": list(failure.sources),
        "notes": list(match.notes),
    }


def bug_report_hint() -> str:
    return (
        "Nothing known matched. For a bug report, include: the whole log from the first "
        "command on (not only the last lines), `mmdoctor check --format markdown` from the "
        "same environment, and the exact command you ran."
    )
