"""The house's layering (docs/architecture.md): imports run only downwards, and the domain's
modules import one another without circles (a `TYPE_CHECKING` import counts: it is the same
dependency, only hidden from the interpreter)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "chalicelib"
ABOVE_DOMAIN = ("chalicelib.channels", "chalicelib.adapters", "chalicelib.api", "chalicelib.deps")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("chalicelib")}


def _graph(package: str) -> dict[str, set[str]]:
    modules = {_module(p): p for p in (PACKAGE / package.split(".")[-1]).glob("*.py")}
    return {name: _imports(path) & set(modules) for name, path in modules.items()}


def test_the_domain_imports_nothing_above_it():
    upward = {
        _module(path): sorted(i for i in _imports(path) if i.startswith(ABOVE_DOMAIN))
        for path in (PACKAGE / "domain").glob("*.py")
    }
    assert {m: found for m, found in upward.items() if found} == {}


def test_the_channels_import_neither_adapters_nor_handlers():
    above = ("chalicelib.adapters", "chalicelib.api", "chalicelib.deps")
    upward = {
        _module(path): sorted(i for i in _imports(path) if i.startswith(above))
        for path in (PACKAGE / "channels").glob("*.py")
    }
    assert {m: found for m, found in upward.items() if found} == {}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_domain_modules_import_one_another_without_circles():
    assert _cycle(_graph("chalicelib.domain")) is None


def test_the_cycle_finder_finds_a_planted_circle():
    planted = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycle(planted) == ["a", "b", "c", "a"]
