"""The documentation names every check, so that it cannot silently fall behind the code."""

from __future__ import annotations

import re

from conftest import REPO
from test_classify import IMPORT_ERRORS

from mmdoctor.checks import all_checks
from mmdoctor.checks.nvidia import NVML_FAILURES
from mmdoctor.knowledge import load_knowledge


def test_every_check_is_documented() -> None:
    readme = (REPO / "README.md").read_text()
    page = (REPO / "docs" / "checks.md").read_text()
    for item in all_checks():
        assert f"`{item.id}`" in readme, item.id
        assert f"`{item.id}`" in page, item.id


def test_every_known_failure_a_check_can_name_is_documented() -> None:
    """The ids the checks name in their code (known_failure="...", the ids they test a
    classified failure against, NVML's table) and the ids the import checks are written to
    recognise through the classifier (tests/test_classify.py's IMPORT_ERRORS, what the old
    IMPORT_ERROR_SIGNATURES table named) are each in docs/checks.md. Through the classifier a
    check can name any entry of the knowledge base; the page says so and links the list."""
    page = (REPO / "docs" / "checks.md").read_text()
    source = "".join(p.read_text() for p in (REPO / "src" / "mmdoctor" / "checks").glob("*.py"))
    knowledge = load_knowledge()
    literals = set(re.findall(r'"([a-z0-9]+(?:-[a-z0-9]+)+)"', source))
    ids = {i for i in literals if knowledge.get(i) is not None}
    ids |= {known for _needle, _text, known in IMPORT_ERRORS}
    ids |= {known for _summary, _text, known in NVML_FAILURES.values() if known}
    assert len(ids) >= 20
    missing = sorted(i for i in ids if i not in page)
    assert not missing, missing
    assert "knowledge.classify" in page and "(known-failures.md)" in page


def _synopses(readme: str) -> dict[str, str]:
    """README's synopsis of each command: a `mmdoctor NAME [` line and its indented lines."""
    found: dict[str, str] = {}
    name = None
    for line in readme.splitlines():
        head = re.match(r"mmdoctor ((?:fleet )?\S+) \[", line)
        if head:
            name = head[1]
            found[name] = found.get(name, "") + line
        elif name and line.startswith(" " * 10) and line.strip().startswith("["):
            found[name] += line
        else:
            name = None
    return found


def test_the_readme_synopsis_of_each_command_names_all_its_options(mmdoctor) -> None:
    """issue 13.14: synopses lacked --keep-on-check-failure, --timeout, rollback's --system."""
    import typer

    from mmdoctor.cli import app

    synopses = _synopses((REPO / "README.md").read_text())
    commands = dict(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    for sub, command in commands.pop("fleet").commands.items():  # the group's own commands
        commands[f"fleet {sub}"] = command
    for name, command in commands.items():
        assert name in synopses, f"README has no synopsis of mmdoctor {name}"
        for param in command.params:
            if param.param_type_name == "argument" or "--help" in param.opts:
                continue
            named = [
                o
                for o in param.opts + param.secondary_opts
                if re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", synopses[name])
            ]
            assert named, f"README's synopsis of mmdoctor {name} lacks {param.opts[0]}"
        # and the other way: every option a synopsis names exists
        known = {o for param in command.params for o in param.opts + param.secondary_opts}
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", synopses[name]):
            assert option in known, f"README's synopsis of mmdoctor {name} names {option}"
    usage = mmdoctor("diagnose", "--help").stdout.splitlines()[0]
    assert usage == "Usage: mmdoctor diagnose [OPTIONS] [[FILE|-]]"
    assert "mmdoctor diagnose [FILE | -]" in synopses["diagnose"]
