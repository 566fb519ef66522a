"""Log text as people paste it, made into text the known-failure patterns can read.

People paste issue bodies, chat messages and notebook output, not logs: ANSI colours, Windows
line endings, `>` quote markers, Markdown code fences glued to the first line, Jupyter's
`---->` arrows and line-number gutters, HTML entities (`&#39;` for a quote), and long error
lines a chat client broke in two. Each step runs only when one search finds its mark in the text
(a single character first where that rules it out: a search for one character is several times
faster), so a 100 MB log pays about a second; line-level steps keep the number of lines, so
evidence line numbers stay those of the log as pasted. `normalise` says which steps changed the
text (`diagnose -v` shows them).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

# Joining re-wrapped lines splits the text into lines: done for pastes, which are small. A log
# bigger than this is a program's own output, never re-wrapped by a chat client.
REWRAP_MAX_CHARS = 2 * 2**20

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
_ENTITY = re.compile(r"&(?:[A-Za-z]{2,8}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")
# `> ` (one or more, as e-mail and Markdown nest them) at the start of a line
_QUOTE = re.compile(r"(?m)^[ \t]{0,3}(?:>[ \t]?)+")
_QUOTE_MARK = re.compile(r"\n[ \t]{0,3}>")  # (a literal first: the regex engine skips ahead)
# ``` or ~~~ fences with a language tag, alone or glued to the first line of the log
_FENCE = re.compile(r"(?m)^[ \t]{0,3}(?:```|~~~)[\w+-]*[ \t]*")
# IPython: "----> 3 from x import y" and "      2 import os" under "Cell In[3], line 3"
_GUTTER = re.compile(r"(?m)^(?:-+>|[ \t]+)[ \t]*\d+(?:[ \t]|$)")
_GUTTER_MARK = re.compile(r"---->|Cell In\[|<ipython-input-")
# IPython 8's frame line, "File ~/x/y.py:26, in f(a)" -> Python's own form
_IPY_FRAME = re.compile(
    r"(?m)^([ \t]*)File ((?:[A-Za-z]:)?[^\s,:]+):(\d+)(?:, in ([^\s(]+)(?:\(.*)?)?$"
)

# An error message at its start: an exception name, pip's ERROR, a logger's ERROR, "error:"
_ERROR_HEAD = re.compile(
    r"\b[A-Z]\w*(?:Error|Exception)\b|\bERROR\b|\berror:|\bError \d+\b|\bfailed\b"
)
# A line that starts a new record, never the rest of the line before it
_NEW_RECORD = re.compile(
    r"[ \t]*(?:File \"|Traceback|During handling|The above exception|[A-Z]\w*(?:Error|Exception"
    r"|Warning)\b|ERROR|WARNING|INFO|DEBUG|[a-z]+:(?:\s|$)|\d{2,4}[-/:]\d|[\[$#|>*`~]|[-=_]{3}"
    r"|\S*:\d+[:\s]|at |from |import |raise |return |def |class |self\.)"
)
# what a compiler, a shell or code prints on a line of its own, in lower case
_NOT_PROSE = re.compile(r"\d+ *\||compilation terminated|[\w.]+\(|\S*[@$=/\\]")
_LINE_END = (".", ":", "!", "?", ")", "]", "}", ";", '"', "'")
_MIN_WRAPPED = 50  # a line someone's client wrapped is long
_MAX_JOINED = 4  # continuation lines joined to one error line


@dataclass(frozen=True)
class Normalised:
    text: str
    applied: tuple[str, ...]  # the steps that changed the text, in order


@dataclass(frozen=True)
class _Step:
    name: str
    present: Callable[[str], bool]  # cheap: is there anything to do?
    apply: Callable[[str], str]


def normalise(text: str) -> Normalised:
    applied = []
    for step in _STEPS:
        if step.present(text):
            changed = step.apply(text)
            if changed != text:
                applied.append(step.name)
                text = changed
    return Normalised(text, tuple(applied))


def clean(text: str) -> str:
    return normalise(text).text


def _line_endings(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _entities(text: str) -> str:
    """&#39; -> '; an entity for a line break becomes a space (the line count stays)."""

    def one(found: re.Match[str]) -> str:
        value = html.unescape(found.group(0))
        return " " if "\n" in value or "\r" in value else value

    return _ENTITY.sub(one, text)


def _gutters(text: str) -> str:
    text = _IPY_FRAME.sub(_python_frame, text)
    return _GUTTER.sub("", text)


def _python_frame(found: re.Match[str]) -> str:
    indent, path, line, function = found.groups()
    return f'{indent}File "{path}", line {line}, in {function or "<module>"}'


def _rewrap(text: str) -> str:
    """Join an error line that a chat client, an issue form or a terminal broke in two with the
    lines that continue it; the continuation lines are left empty, so line numbers stay."""
    lines = text.split("\n")
    for at, line in enumerate(lines):
        if len(line.strip()) < _MIN_WRAPPED or not _ERROR_HEAD.search(line):
            continue
        joined, end = line, at + 1
        while end < len(lines) and end - at <= _MAX_JOINED and _continues(joined, lines[end]):
            joined = joined.rstrip() + " " + lines[end].strip()
            lines[end] = ""
            end += 1
        lines[at] = joined
    return "\n".join(lines)


def _continues(line: str, following: str) -> bool:
    """Whether `following` is the rest of `line`: it goes on with a word in lower case (or a
    number), it starts no record of its own, and the break shows a client's wrapping: after a
    space, or into a hanging indent. (A terminal's cut mid-word is left alone: nothing tells
    it from two records.)"""
    rest = following.strip()
    if not rest or line.rstrip().endswith(_LINE_END) or _NEW_RECORD.match(following):
        return False
    if not (rest[0].islower() or rest[0].isdigit()) or _NOT_PROSE.match(rest):
        return False
    if following.split(None, 1)[0] == line.split(None, 1)[0]:
        return False  # the same prefix (a host, a logger): the next record
    return line.endswith(" ") or _indent(following) > _indent(line)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _quoted(text: str) -> bool:
    return text.lstrip(" \t").startswith(">") or bool(_QUOTE_MARK.search(text))


def _fenced(text: str) -> bool:
    # a one-character search first: str.find of one character is several times faster
    return ("`" in text and "```" in text) or ("~" in text and "~~~" in text)


_STEPS = (
    _Step("ANSI colours", lambda t: "\x1b" in t, lambda t: _ANSI.sub("", t)),
    _Step("carriage returns", lambda t: "\r" in t, _line_endings),
    _Step("HTML entities", lambda t: "&" in t and bool(_ENTITY.search(t)), _entities),
    _Step("quote markers", _quoted, lambda t: _QUOTE.sub("", t)),
    _Step("Markdown code fences", _fenced, lambda t: _FENCE.sub("", t)),
    _Step("Jupyter gutters", lambda t: bool(_GUTTER_MARK.search(t)), _gutters),
    _Step("re-wrapped lines", lambda t: len(t) <= REWRAP_MAX_CHARS, _rewrap),
)
