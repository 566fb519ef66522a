"""known_failures.yaml: the failures mmdoctor knows, as data (schema: known_failures.schema.json).

Each entry: the signatures that identify it in a log, the failures that usually cause it (the
chain `diagnose` walks back to the root), its root cause, its fix, versions and sources.

This is also the one classifier of failure text: `diagnose` (a whole log), `check` (a failed
import's summary, traceback and stderr), `smoke-test` (a failed stage) and `install` (a failed
command's output) all ask `match_log`, through `classify` / `classify_all` where they need ids.

The text is normalised first (logtext.py: ANSI, line endings, quote markers, code fences,
Jupyter gutters, HTML entities, re-wrapped lines), so `clean` is that module's.

Matching: each entry's signatures are regexes with weights; an entry's confidence is the
noisy-or of the weights of the patterns that match (1 - prod(1 - w)). A pattern runs only where
one of its needles (literal text every match contains, read from the parsed regex) is in the
log: every needle is sought once, in one pass over the log's UTF-8 bytes (present_needles), far
faster than a regex scan, and most patterns' needles are absent from any one log, so a 100 MB
log takes seconds (benchmarks/diagnose_large_log.py).

Failures chain (no prebuilt wheel -> source build -> missing pkg_resources -> mmcv._ext missing
at run time): a matched entry whose cause is also matched is shown under that cause, and the
answer is the most upstream link, the one the user must fix first.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmdoctor import paths
from mmdoctor.errors import UsageError
from mmdoctor.logtext import clean as clean  # (re-exported: the one cleaning step)

try:  # the regex parser, for needles_of: re._parser from 3.11, sre_parse before
    from re import _constants as _parser_constants  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _parser_constants
    import sre_parse as _parser

CONFIDENT = 0.5  # below this a match is only "possible"
MIN_REPORTED = 0.2
EVIDENCE_LINES = 6


@dataclass(frozen=True)
class Pattern:
    """A compiled regex and the needles that let a log skip it (none: it always runs)."""

    regex: re.Pattern[str]
    needles: tuple[str, ...] = ()

    @classmethod
    def compile(cls, source: str) -> Pattern:
        regex = re.compile(source)
        return cls(regex, needles_of(regex))

    def search(
        self, text: str, pos: int = 0, present: AbstractSet[str] | None = None
    ) -> re.Match[str] | None:
        """`present`: the needles known to be in `text` (found for every pattern at once)."""
        held = present.__contains__ if present is not None else text.__contains__
        if self.needles and not any(map(held, self.needles)):
            return None
        return self.regex.search(text, pos)


@dataclass(frozen=True)
class Signature:
    pattern: Pattern
    weight: float


@dataclass(frozen=True)
class Failure:
    id: str
    title: str
    category: str
    signatures: tuple[Signature, ...]
    requires_any: tuple[Pattern, ...]
    causes: tuple[str, ...]
    root_cause: str
    fix_text: str
    fix_commands: tuple[str, ...]
    versions: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Knowledge:
    path: str
    failures: tuple[Failure, ...]

    def get(self, failure_id: str) -> Failure | None:
        return next((f for f in self.failures if f.id == failure_id), None)

    @functools.cached_property
    def needles(self) -> frozenset[str]:
        """Every needle of every pattern."""
        patterns = [p for f in self.failures for p in (*(s.pattern for s in f.signatures),
                                                        *f.requires_any)]  # fmt: skip
        return frozenset(n for p in patterns for n in p.needles)


def default_path() -> Path:
    return paths.data_file(paths.KNOWLEDGE_FILE)


@functools.cache
def load_knowledge(path: str | None = None) -> Knowledge:
    source = Path(path) if path else default_path()
    import yaml

    try:
        raw = yaml.load(
            source.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )
        return Knowledge(str(source), tuple(_failure(row) for row in raw["failures"]))
    except OSError as exc:
        raise UsageError(f"{source}: cannot read the knowledge base ({exc.strerror})") from None
    except (yaml.YAMLError, KeyError, TypeError, re.error) as exc:
        raise UsageError(f"{source}: not a valid knowledge base: {exc}") from None


def _failure(row: Any) -> Failure:
    fix = row["fix"]
    return Failure(
        id=str(row["id"]),
        title=str(row["title"]),
        category=str(row["category"]),
        signatures=tuple(
            Signature(Pattern.compile(str(s["pattern"])), float(s["weight"]))
            for s in row["signatures"]
        ),
        requires_any=tuple(Pattern.compile(str(p)) for p in row.get("requires_any") or ()),
        causes=tuple(str(c) for c in row.get("causes") or ()),
        root_cause=str(row["root_cause"]),
        fix_text=str(fix["text"]),
        fix_commands=tuple(str(c) for c in fix.get("commands") or ()),
        versions=str(row["versions"]),
        sources=tuple(str(s) for s in row["sources"]),
    )


@dataclass(frozen=True)
class Match:
    failure: Failure
    confidence: float
    evidence: tuple[tuple[int, str], ...]  # (line number, line)
    chain: tuple[str, ...] = ()  # the matched failures this one leads to, downstream
    notes: tuple[str, ...] = field(default=())
    # the fix's commands as they apply to the environment at hand (diagnose --python), if set
    fitted_commands: tuple[str, ...] | None = None

    @property
    def commands(self) -> tuple[str, ...]:
        return self.failure.fix_commands if self.fitted_commands is None else self.fitted_commands


def match_log(text: str, knowledge: Knowledge) -> list[Match]:
    """The entries the text shows (confidence >= MIN_REPORTED), roots of chains first."""
    found: dict[str, Match] = {}
    present = present_needles(text, knowledge.needles)
    for failure in knowledge.failures:
        match = _match_one(failure, text, present)
        if match is not None:
            found[failure.id] = match
    return order_by_chain(found)


# Characters per chunk: a chunk's bytes stay in the CPU's cache while every needle is sought.
_CHUNK = 1 << 20


def present_needles(text: str, needles: Iterable[str], chunk: int = _CHUNK) -> frozenset[str]:
    """The needles in `text`, sought in one pass over it: chunk by chunk (each overlapping the
    last by the longest needle), in its UTF-8 bytes. A log with one character outside Latin-1
    (a progress bar) is stored at 2 bytes per character and more; its UTF-8 at about 1, and a
    UTF-8 needle matches only where the text holds it."""
    left = {needle: needle.encode("utf-8", "surrogatepass") for needle in needles}
    overlap = max(map(len, left), default=1) - 1
    found: set[str] = set()
    for start in range(0, len(text), chunk):
        if not left:
            break
        part = text[max(0, start - overlap) : start + chunk].encode("utf-8", "surrogatepass")
        for needle in [n for n, encoded in left.items() if encoded in part]:
            del left[needle]
            found.add(needle)
    return frozenset(found)


def _match_one(
    failure: Failure, text: str, present: AbstractSet[str] | None = None
) -> Match | None:
    """The entry's match, or None below MIN_REPORTED. Each search costs a scan of the log, so
    the entry stops as soon as the weights it has left cannot lift it to MIN_REPORTED, and its
    requires_any is asked only of an entry that would be reported."""
    miss = 1.0
    hits: list[tuple[int, str]] = []
    left = _misses_left(failure)
    for at, signature in enumerate(failure.signatures):
        if round(1.0 - miss * left[at], 3) < MIN_REPORTED:  # (rounded, as the result is)
            return None  # even every pattern still to come would leave it unreported
        found = signature.pattern.search(text, present=present)
        if found:
            miss *= 1.0 - signature.weight
            hits += _evidence(signature.pattern, found, text, hits)
    confidence = round(1.0 - miss, 3)
    if confidence < MIN_REPORTED:
        return None
    if failure.requires_any and not any(
        p.search(text, present=present) for p in failure.requires_any
    ):
        return None
    return Match(failure, confidence, tuple(sorted(hits)[:EVIDENCE_LINES]))


def _misses_left(failure: Failure) -> list[float]:
    """For each signature, the product of (1 - weight) of it and those after it: how much of
    the miss the rest of the entry can still take away."""
    left = [1.0]
    for signature in reversed(failure.signatures):
        left.append(left[-1] * (1.0 - signature.weight))
    return left[:0:-1]


def _evidence(
    pattern: Pattern, found: re.Match[str], text: str, seen: list[tuple[int, str]]
) -> list[tuple[int, str]]:
    """The first line where the pattern's match starts that is not shown yet: evidence. Found
    by position, so a big log is never split into a list of lines."""
    match: re.Match[str] | None = found
    while match is not None:
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.start())
        end = len(text) if end < 0 else end
        line = (text.count("\n", 0, start) + 1, text[start:end].strip()[:300])
        if line not in seen:
            return [line]
        match = pattern.search(text, end + 1) if end < len(text) else None
    return []


def needles_of(regex: re.Pattern[str]) -> tuple[str, ...]:
    """Literal strings one of which every match of `regex` contains (empty: none is known).

    Read from the parsed pattern: a run of literals in sequence is required; so is one of a
    group's or an alternation's (when every branch has one); the longest shortest needle wins.
    """
    if regex.flags & re.IGNORECASE:
        return ()
    try:
        parsed = _parser.parse(regex.pattern, regex.flags)
    except Exception:  # a private module: never let its changes break matching
        return ()
    return tuple(sorted(_required(list(parsed)) or ()))


def _required(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    constants = _parser_constants
    candidates: list[frozenset[str]] = []
    run: list[str] = []

    def end_run() -> None:
        if run:
            candidates.append(frozenset({"".join(run)}))
            run.clear()

    for op, av in items:
        if op is constants.LITERAL:
            run.append(chr(av))
            continue
        end_run()
        found: frozenset[str] | None = None
        if op is constants.SUBPATTERN and not av[1] & re.IGNORECASE:
            found = _required(list(av[3]))
        elif op is constants.BRANCH:
            branches = [_required(list(branch)) for branch in av[1]]
            if all(branches):
                found = frozenset().union(*(b for b in branches if b))
        elif op in (constants.MAX_REPEAT, constants.MIN_REPEAT) and av[0] >= 1:
            found = _required(list(av[2]))
        if found:
            candidates.append(found)
    end_run()
    return max(candidates, key=lambda needles: min(map(len, needles)), default=None)


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


def classify_all(text: str, knowledge: Knowledge | None = None) -> tuple[str, ...]:
    """The ids of every known failure the text shows confidently, the root of each chain first
    (a failure explained by a matched cause is folded into that cause, as `diagnose` shows it)."""
    if not text.strip():
        return ()
    matches = match_log(clean(text), knowledge or load_knowledge())
    return tuple(m.failure.id for m in matches if m.confidence >= CONFIDENT)


def classify(text: str, knowledge: Knowledge | None = None) -> str | None:
    """The known failure a text (an error line, a traceback, a log) points at first, if any."""
    return next(iter(classify_all(text, knowledge)), None)


def render_markdown(knowledge: Knowledge) -> str:
    """docs/known-failures.md, generated from the data so that it cannot drift."""
    out = [
        "# Known failures",
        "",
        "Generated from `known_failures.yaml` by `python -m mmdoctor.knowledge > "
        "docs/known-failures.md`; `tests/test_diagnose.py` fails when this page and the data "
        "differ. `mmdoctor diagnose LOG` matches these in a log; `mmdoctor check` names them as "
        "`known_failure`.",
        "",
    ]
    for failure in knowledge.failures:
        out += [f"## `{failure.id}`: {failure.title}", ""]
        out += [f"- **Root cause:** {failure.root_cause}", f"- **Fix:** {failure.fix_text}"]
        if failure.fix_commands:
            out += ["", "  ```bash", *[f"  {c}" for c in failure.fix_commands], "  ```", ""]
        out += [f"- **Versions:** {failure.versions}"]
        if failure.causes:
            out += [f"- **Usually caused by:** {', '.join(f'`{c}`' for c in failure.causes)}"]
        out += [f"- **Sources:** {'; '.join(failure.sources)}", ""]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(render_markdown(load_knowledge()), end="")
