"""The layers of docs/design.md, enforced on the import graph of src/mmdoctor: every import,
at the top of a module or inside a function, one direction only."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from conftest import REPO

SRC = REPO / "src" / "mmdoctor"
# These do the work; they hand data up and never draw it.
BELOW_RENDER = ("install", "smoke", "probe", "checks", "planning", "wheel_cache.py")
BELOW_RENDER += ("knowledge.py", "diagnose.py", "fix.py", "report.py", "shell.py")
BELOW_RENDER += ("redact.py", "paths.py", "errors.py", "environment.py", "commands", "drift.py")
BELOW_RENDER += ("fleet", "target.py", "options.py", "flags.py", "result.py", "versions.py")


def _module_name(path: Path) -> str:
    parts = ["mmdoctor", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _imports(path: Path) -> set[str]:
    """Every module a file imports, top-level or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            # `from mmdoctor.commands import install`: the submodule is what is imported
            names |= {f"{node.module}.{a.name}" for a in node.names} & MODULES.keys()
    return names


def _own(path: Path) -> set[str]:
    return {name for name in _imports(path) if name in MODULES and name != _module_name(path)}


GRAPH = {name: _own(path) for name, path in MODULES.items()}


def _folder(module: str) -> str:
    """The layer a module is in: its folder under mmdoctor/, or the module at the top."""
    return module.split(".")[1] if module.count(".") else module


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """A cycle of the graph, as the nodes around it; [] when there is none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def _folder_graph() -> dict[str, set[str]]:
    folders: dict[str, set[str]] = {}
    for module, imported in GRAPH.items():
        here = _folder(module)
        folders.setdefault(here, set()).update(_folder(i) for i in imported if _folder(i) != here)
    return folders


def _files(*parts: str) -> list[Path]:
    out: list[Path] = []
    for part in parts:
        path = SRC / part
        out += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return out


def _offenders(importers: Iterable[Path], *prefixes: str) -> dict[str, list[str]]:
    found = {
        str(path.relative_to(SRC)): sorted(
            i for i in _imports(path) if any(i.startswith(p) for p in prefixes)
        )
        for path in importers
    }
    return {k: v for k, v in found.items() if v}


def test_no_module_imports_itself_round_a_circle() -> None:
    assert _cycle(GRAPH) == []


def test_no_folder_imports_itself_round_a_circle() -> None:
    assert _cycle(_folder_graph()) == []


def test_the_cycle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_nothing_below_render_imports_it() -> None:
    assert not _offenders(_files(*BELOW_RENDER), "mmdoctor.render")


def test_render_imports_no_command() -> None:
    assert not _offenders(_files("render"), "mmdoctor.commands")


def test_planning_imports_nothing_of_install_or_what_sits_above() -> None:
    above = ("mmdoctor.install", "mmdoctor.report", "mmdoctor.commands", "mmdoctor.probe")
    assert not _offenders(_files("planning"), *above, "mmdoctor.fleet", "mmdoctor.fix")


def test_install_imports_nothing_of_report_or_commands() -> None:
    assert not _offenders(_files("install"), "mmdoctor.report", "mmdoctor.commands")


def test_the_probes_know_no_plan() -> None:
    assert not _offenders(_files("probe"), "mmdoctor.planning", "mmdoctor.checks")


def test_own_imports_inside_functions_only_in_the_cli() -> None:
    """Start-up time is the one reason to import inside a function (`mmdoctor --help`)."""
    inside: dict[str, list[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mmdoctor"):
                    inside.setdefault(name, []).append(str(node.module))
    assert set(inside) <= {"mmdoctor.cli", "mmdoctor.cli_fleet", "mmdoctor.cli_support"}, inside


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
    # every command, fleet's group included, goes through the one serve (guard, format, exit)
    source = "\n".join(lines) + (SRC / "cli_fleet.py").read_text(encoding="utf-8")
    commands = source.count("@app.command(") + source.count("@fleet_app.command(")
    assert source.count('serve("') == commands, (source.count('serve("'), commands)
