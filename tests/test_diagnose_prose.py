"""Known failures pasted as prose (issue 29): issue bodies with the error quoted in a sentence,
behind quote markers, in a fence glued to the text, wrapped by a chat client. The set is held out:
every file comes from a thread no entry of known_failures.yaml names in its sources
(tests/data/prose/sources.yaml says which), and each must be diagnosed as its own id first."""

from __future__ import annotations

import pytest
import yaml
from conftest import REPO

from mmdoctor.diagnose import CONFIDENT, decode_log, match_log
from mmdoctor.knowledge import load_knowledge

PROSE = REPO / "tests" / "data" / "prose"
MANIFEST = yaml.safe_load((PROSE / "sources.yaml").read_text(encoding="utf-8"))


def test_the_set_is_held_out_and_each_file_says_its_thread() -> None:
    assert {p.name for p in PROSE.glob("*.txt")} == set(MANIFEST)
    used = {source for f in load_knowledge().failures for source in f.sources}
    ids = {f.id for f in load_knowledge().failures}
    for name, row in MANIFEST.items():
        assert row["thread"] not in used, f"{name}: {row['thread']} is an entry's source"
        owner_repo, number = row["thread"].split("#")
        assert row["source"] == f"https://github.com/{owner_repo}/issues/{number}", name
        assert name.split(".")[0] in ids, name
    assert len(MANIFEST) >= 15


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_a_failure_quoted_in_prose_is_named_first(name: str) -> None:
    path = PROSE / name
    matches = match_log(decode_log(path.read_bytes(), name), load_knowledge())
    assert matches, "nothing matched"
    top = matches[0]
    assert top.failure.id == name.split(".")[0], [(m.failure.id, m.confidence) for m in matches]
    assert top.confidence >= CONFIDENT
