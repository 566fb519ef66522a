"""known_failures.yaml: the failures mmdoctor knows, as data (schema: known_failures.schema.json).

Each entry: the signatures that identify it in a log, the failures that usually cause it (the
chain `diagnose` walks back to the root), its root cause, its fix, versions and sources.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmdoctor import paths
from mmdoctor.errors import UsageError


@dataclass(frozen=True)
class Signature:
    pattern: re.Pattern[str]
    weight: float


@dataclass(frozen=True)
class Failure:
    id: str
    title: str
    category: str
    signatures: tuple[Signature, ...]
    requires_any: tuple[re.Pattern[str], ...]
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
            Signature(re.compile(str(s["pattern"])), float(s["weight"])) for s in row["signatures"]
        ),
        requires_any=tuple(re.compile(str(p)) for p in row.get("requires_any") or ()),
        causes=tuple(str(c) for c in row.get("causes") or ()),
        root_cause=str(row["root_cause"]),
        fix_text=str(fix["text"]),
        fix_commands=tuple(str(c) for c in fix.get("commands") or ()),
        versions=str(row["versions"]),
        sources=tuple(str(s) for s in row["sources"]),
    )


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
