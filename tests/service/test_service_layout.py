"""The service package's own shape: its modules import each other as a tree (state <- gate, routes <- app), with
no cycle, and no function grows past ~80 lines (create_app once held every endpoint in 312)."""

from __future__ import annotations

import ast
from pathlib import Path

import chainrisk.service

PACKAGE = Path(chainrisk.service.__file__).parent
LONGEST = 80


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Every import between the service's modules (module level, function level and TYPE_CHECKING alike)."""
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {_module(p) for p in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        mod = _module(path)
        pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        edges = graph.setdefault(mod, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1] if node.level else []
                target = ".".join([*base, node.module] if node.module else base)
                for name in (target, *(f"{target}.{a.name}" for a in node.names)):
                    if name in modules and name != mod:
                        edges.add(name)
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in modules and a.name != mod)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(mod: str, path: list[str]) -> list[str] | None:
        if mod in path:
            return [*path[path.index(mod):], mod]
        if mod in done:
            return None
        for nxt in sorted(graph.get(mod, ())):
            found = visit(nxt, [*path, mod])
            if found:
                return found
        done.add(mod)
        return None

    for mod in sorted(graph):
        found = visit(mod, [])
        if found:
            return found
    return None


def test_the_service_imports_form_a_tree() -> None:
    graph = _imports()
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])
    svc = "chainrisk.service"
    routes = {m for m in graph if m.startswith(f"{svc}.routes")}
    assert routes >= {f"{svc}.routes.{g}" for g in ("health", "addresses", "screen", "runs", "admin")}
    above_state = {f"{svc}.gate", f"{svc}.http", f"{svc}.app", *routes}
    assert not graph[f"{svc}.state"] & above_state
    assert not graph[f"{svc}.gate"] & {f"{svc}.app", f"{svc}.http", *routes}
    for r in routes:
        assert not graph[r] & {f"{svc}.app", f"{svc}.gate"}, r


def test_the_cycle_check_sees_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_function_is_longer_than_80_lines() -> None:
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > LONGEST:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({n} lines)")
    assert long == []
