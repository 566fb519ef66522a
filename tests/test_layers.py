"""The layers of docs/design.md, enforced: each module imports only what sits below it."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

SRC = REPO / "src" / "mmdoctor"
# These do the work; they hand data up and never draw it.
BELOW_RENDER = ("install", "smoke", "probe", "checks", "planning", "wheel_cache.py")
BELOW_RENDER += ("knowledge.py", "diagnose.py", "fix.py", "report.py", "shell.py")
BELOW_RENDER += ("redact.py", "paths.py", "errors.py", "environment.py", "commands", "drift.py")
BELOW_RENDER += ("fleet",)


def _imports(path: Path) -> set[str]:
    """Every module a file imports, top-level or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _files(*parts: str) -> list[Path]:
    out: list[Path] = []
    for part in parts:
        path = SRC / part
        out += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return out


def test_nothing_below_render_imports_it() -> None:
    offenders = {
        str(path.relative_to(SRC)): sorted(
            i for i in _imports(path) if i.startswith("mmdoctor.render")
        )
        for path in _files(*BELOW_RENDER)
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_commands_know_neither_typer_nor_rich() -> None:
    for path in _files("commands"):
        ui = sorted(i for i in _imports(path) if i.split(".")[0] in ("typer", "rich", "click"))
        assert not ui, (path.name, ui)


def test_the_cli_only_declares() -> None:
    lines = (SRC / "cli.py").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 400, len(lines)
    modules = {p.stem for p in (SRC / "commands").glob("*.py")} - {"__init__", "interaction"}
    assert modules == {
        *("check", "install", "fix", "rollback", "smoke_test", "diagnose", "matrix", "fleet")
    }
    # every command, fleet's group included, goes through the one _serve (guard, format, exit)
    source = "\n".join(lines) + (SRC / "cli_fleet.py").read_text(encoding="utf-8")
    commands = source.count("@app.command(") + source.count("@fleet_app.command(")
    assert source.count('_serve("') == commands, (source.count('_serve("'), commands)
