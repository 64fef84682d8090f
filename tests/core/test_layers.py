"""The house's import rules, checked on the source: every import of every module (also inside functions and under
``TYPE_CHECKING``) is parsed with ``ast`` and must keep the layers.

The layers, lowest first (a module may import its own package and the layers below it, never one above)::

    ground     address, chains, errors, taxonomy, data, version, i18n  (may use one another: no cycle)
    store      the only owner of DuckDB connections and SQL bookkeeping
    ingest     sources: the node client, RPC and file ingestion (write through the store)
    labels  profiles                                  (labels read the node through ingest; neither imports the other)
    engine     scoring run, model, propagation, indicators, evidence
    answers    lookup, screen, bank files, report
    demo  monitoring                                  the economy generator and the demo run; watchlists and alerts
    cli  service                                      interfaces; only the ``chainrisk serve`` command imports service

The package root (``chainrisk/__init__.py``) is the public facade: it imports ground and the store eagerly and
everything else lazily (only type-checking imports of the upper layers); no module of the package imports the
root (``__version__`` lives in the ground module ``chainrisk.version``). Third-party owners: click only in ``chainrisk.cli``; fastapi, uvicorn and
starlette only in ``chainrisk.service``; duckdb only in ``chainrisk.store``; requests only in the HTTP sources
(``chainrisk.ingest.node``, ``chainrisk.ingest.trongrid``, ``chainrisk.labels.update``). The package never imports the tests (``tests``,
``support``, ``conftest``, pytest). No import cycle between packages, and nothing outside the store touches
``Store.con``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

import chainrisk

PKG = Path(chainrisk.__file__).resolve().parent
ROOT = "<root>"

GROUND = ("address", "chains", "errors", "taxonomy", "data", "version", "i18n")
RANK: dict[str, int] = {
    **dict.fromkeys(GROUND, 0), "store": 1, "ingest": 2, "labels": 3, "profiles": 3, "engine": 4, "answers": 5,
    "demo": 6, "monitoring": 6, "cli": 7, "service": 7,
}
OWNERS: dict[str, tuple[str, ...]] = {
    "click": ("chainrisk.cli",),
    "fastapi": ("chainrisk.service",),
    "uvicorn": ("chainrisk.service",),
    "starlette": ("chainrisk.service",),
    "duckdb": ("chainrisk.store",),
    "requests": ("chainrisk.ingest.node", "chainrisk.ingest.trongrid", "chainrisk.labels.update"),
}
TEST_CODE = ("tests", "support", "conftest", "pytest", "_pytest")
# (importing module, imported package) edges that are allowed although they go sideways: the serve command.
ENTRY_POINTS = {("chainrisk.cli.serve", "service")}

# Breaks of a rule that remain in files of other owners, each with what fixes it. The test fails when an entry
# is no longer needed, so this list can only shrink.
KNOWN: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    importer: str            # dotted module name
    target: str              # dotted name of the imported module (a package when the name is an attribute)
    line: int
    type_only: bool = False  # under `if TYPE_CHECKING:`


@dataclass(frozen=True)
class ConUse:
    module: str
    line: int


# -- parsing --------------------------------------------------------------------------------------------------

def _module_name(path: Path) -> tuple[str, bool]:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    is_pkg = parts[-1] == "__init__"
    if is_pkg:
        parts.pop()
    return ".".join(parts), is_pkg


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def parse(module: str, source: str, *, is_pkg: bool = False,
          modules: frozenset[str] = frozenset()) -> tuple[list[Import], list[ConUse]]:
    """Every import in ``source`` (module-level, in functions, under TYPE_CHECKING), resolved to absolute names;
    ``modules`` (all module names of the package) tells ``from pkg import submodule`` from an attribute."""
    package = module if is_pkg else module.rpartition(".")[0]
    out: list[Import] = []
    cons: list[ConUse] = []

    def visit(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_only)
            return
        if isinstance(node, ast.Import):
            out.extend(Import(module, a.name, node.lineno, type_only) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.append(Import(module, sub if sub in modules else base, node.lineno, type_only))
        elif isinstance(node, ast.Attribute) and node.attr == "con":
            cons.append(ConUse(module, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child, type_only)

    visit(ast.parse(source), False)
    return out, cons


def scan() -> tuple[list[Import], list[ConUse]]:
    files = sorted(PKG.rglob("*.py"))
    names = {p: _module_name(p) for p in files}
    modules = frozenset(n for n, _ in names.values())
    imports: list[Import] = []
    cons: list[ConUse] = []
    for path, (name, is_pkg) in names.items():
        i, c = parse(name, path.read_text(encoding="utf-8"), is_pkg=is_pkg, modules=modules)
        imports += i
        cons += c
    return imports, cons


# -- the rules ------------------------------------------------------------------------------------------------

def area(name: str) -> str | None:
    """The package of chainrisk a module belongs to (``<root>`` for the facade), None outside chainrisk."""
    parts = name.split(".")
    if parts[0] != "chainrisk":
        return None
    return parts[1] if len(parts) > 1 else ROOT


def _inside(module: str, owners: tuple[str, ...]) -> bool:
    return any(module == o or module.startswith(o + ".") for o in owners)


def violations(imports: Sequence[Import], cons: Sequence[ConUse] = ()) -> dict[tuple[str, str], str]:
    """Each broken rule as {(importer, what): sentence}."""
    bad: dict[tuple[str, str], str] = {}
    for imp in imports:
        top = imp.target.split(".")[0]
        a, b = area(imp.importer), area(imp.target)
        where = f"{imp.importer}:{imp.line}"
        if top in OWNERS and not _inside(imp.importer, OWNERS[top]):
            bad[(imp.importer, top)] = f"{where} imports {top}, which only {' and '.join(OWNERS[top])} may import"
        elif top in TEST_CODE:
            bad[(imp.importer, top)] = f"{where} imports test code ({imp.target})"
        elif a is None or b is None or a == b:
            continue
        elif a == ROOT:
            if not imp.type_only and RANK[b] > RANK["store"]:
                bad[(imp.importer, b)] = (f"{where}: the package root imports {imp.target} eagerly; import layers "
                                          "above the store lazily (_LAZY)")
        elif b == ROOT:
            if not imp.type_only:
                bad[(imp.importer, b)] = (f"{where}: {a} imports the package root, the public facade that imports "
                                          "the layers: import the module you need (chainrisk.version for "
                                          "__version__)")
        elif (imp.importer, b) in ENTRY_POINTS:
            continue
        elif RANK[b] > RANK[a] or (RANK[b] == RANK[a] and RANK[a] != 0):
            bad[(imp.importer, b)] = (f"{where}: {a} imports {imp.target}, a layer "
                                      f"{'above' if RANK[b] > RANK[a] else 'beside'} it")
    for use in cons:
        if area(use.module) != "store":
            bad[(use.module, ".con")] = (f"{use.module}:{use.line} touches .con: only chainrisk.store holds the "
                                         "connection; use the Store's methods")
    for cycle in package_cycles(imports):
        bad[(cycle[0], "cycle")] = "import cycle between packages: " + " -> ".join([*cycle, cycle[0]])
    return bad


def package_cycles(imports: Sequence[Import]) -> list[list[str]]:
    """Cycles in the graph of packages (runtime imports only), each as its packages in order."""
    return _cycles(imports, area)


def module_cycles(imports: Sequence[Import]) -> list[list[str]]:
    """Cycles in the graph of modules (runtime imports, at module level or inside functions): a package's
    ``__init__`` that imports its submodules must not be imported back by them (shared names go in a module of
    their own)."""
    return _cycles(imports, lambda name: name if name.split(".")[0] == "chainrisk" else None)


def _cycles(imports: Sequence[Import], node_of: Callable[[str], str | None]) -> list[list[str]]:
    graph: dict[str, set[str]] = {}
    for imp in imports:
        a, b = node_of(imp.importer), node_of(imp.target)
        if a and b and a != b and not imp.type_only:
            graph.setdefault(a, set()).add(b)
    cycles: list[list[str]] = []
    done: set[str] = set()

    def walk(node: str, path: list[str]) -> None:
        if node in path:
            cycles.append(path[path.index(node):])
            return
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            walk(nxt, [*path, node])
        done.add(node)

    for start in sorted(graph):
        walk(start, [])
    return cycles


# -- the package ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def package() -> tuple[list[Import], list[ConUse]]:
    return scan()


def test_the_package_keeps_its_layers(package):
    imports, cons = package
    bad = violations(imports, cons)
    new = {k: v for k, v in bad.items() if k not in KNOWN}
    assert not new, "\n".join(sorted(new.values()))
    stale = sorted(set(KNOWN) - set(bad))
    assert not stale, f"fixed, remove from KNOWN: {stale}"


def test_no_import_cycle_between_packages(package):
    assert package_cycles(package[0]) == []


def test_no_import_cycle_between_modules(package):
    assert module_cycles(package[0]) == []


def test_a_cycle_between_modules_is_rejected():
    edges = [Import("chainrisk.labels.importers", "chainrisk.labels.importers.ofac", 1),
             Import("chainrisk.labels.importers.ofac", "chainrisk.labels.importers", 2)]
    assert module_cycles(edges) == [["chainrisk.labels.importers", "chainrisk.labels.importers.ofac"]]
    assert module_cycles(edges[:1]) == []
    assert module_cycles([edges[0], Import("chainrisk.labels.importers.ofac", "chainrisk.labels.importers", 2,
                                           type_only=True)]) == []


def test_every_package_has_a_layer(package):
    areas = {area(i.importer) for i in package[0]} - {ROOT}
    assert areas and areas <= set(RANK), sorted(areas - set(RANK))


def test_the_scan_sees_imports_inside_functions_and_type_checking(package):
    imports = {(i.importer, i.target): i for i in package[0]}
    # `from ..engine import evidence` inside explain_paths: resolved to the module, found in the function body
    assert ("chainrisk.answers.lookup", "chainrisk.engine.evidence") in imports
    # `if TYPE_CHECKING: from ..store import Store`
    assert imports[("chainrisk.engine.indicators", "chainrisk.store")].type_only


# -- each rule can fail ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("importer", "target", "type_only"), [
    ("chainrisk.address", "chainrisk.store", False),             # ground -> store
    ("chainrisk.taxonomy", "chainrisk.engine.model", False),     # ground -> engine
    ("chainrisk.data", "chainrisk.labels", True),                # ground -> labels, even for types
    ("chainrisk.store.core", "chainrisk.labels.store", False),   # store -> labels
    ("chainrisk.store.runs", "chainrisk.answers.lookup", True),  # store -> answers
    ("chainrisk.ingest.rpc", "chainrisk.labels", False),         # ingest -> labels
    ("chainrisk.labels.store", "chainrisk.profiles", False),     # beside: labels -> profiles
    ("chainrisk.profiles", "chainrisk.engine.score", False),     # profiles -> engine
    ("chainrisk.engine.score", "chainrisk.answers.lookup", False),   # engine -> answers (the old ensure_indexes)
    ("chainrisk.engine.evidence", "chainrisk.demo.run", False),  # engine -> demo
    ("chainrisk.answers.screen", "chainrisk.demo.economy", False),   # answers -> demo
    ("chainrisk.answers.lookup", "chainrisk.cli", False),        # anything -> cli
    ("chainrisk.demo.run", "chainrisk.service.app", False),      # anything -> service
    ("chainrisk.cli.lookup", "chainrisk.service", False),        # only the serve command may
    ("chainrisk.service.app", "chainrisk.cli", False),           # service -> cli
    ("chainrisk.store.core", "chainrisk", False),                # the root imports the store
    ("chainrisk.answers.screen", "chainrisk", False),            # nothing imports the facade
    ("chainrisk", "chainrisk.engine.score", False),              # the root imports upper layers lazily
])
def test_a_forbidden_layer_edge_is_rejected(importer, target, type_only):
    bad = violations([Import(importer, target, 1, type_only)])
    assert len(bad) == 1, bad
    assert importer in next(iter(bad.values()))


@pytest.mark.parametrize(("importer", "target"), [
    ("chainrisk.answers.screen", "click"),
    ("chainrisk.cli.serve", "uvicorn"),
    ("chainrisk.cli.serve", "fastapi"),
    ("chainrisk.engine.score", "starlette.responses"),
    ("chainrisk.answers.bank_file", "duckdb"),
    ("chainrisk.ingest.file", "duckdb"),
    ("chainrisk.ingest.rpc", "requests"),
    ("chainrisk.labels.importers.ofac", "requests.adapters"),
    ("chainrisk.engine.model", "tests.support.reference"),
    ("chainrisk.demo.run", "support.scored_store"),
    ("chainrisk.demo.node", "pytest"),
])
def test_a_third_party_or_test_import_outside_its_owner_is_rejected(importer, target):
    for type_only in (False, True):
        bad = violations([Import(importer, target, 1, type_only)])
        assert list(bad) == [(importer, target.split(".")[0])], bad


@pytest.mark.parametrize(("importer", "target"), [
    ("chainrisk.cli.lookup", "click"), ("chainrisk.service.app", "fastapi"), ("chainrisk.store.core", "duckdb"),
    ("chainrisk.ingest.node", "requests"), ("chainrisk.labels.update", "requests"),
    ("chainrisk.cli.serve", "chainrisk.service"), ("chainrisk.answers.lookup", "chainrisk.engine.evidence"),
    ("chainrisk.labels.update", "chainrisk.ingest.node"), ("chainrisk.answers.screen", "chainrisk.version"),
    ("chainrisk", "chainrisk.store"), ("chainrisk.address", "chainrisk.errors"),
])
def test_allowed_edges_pass(importer, target):
    assert violations([Import(importer, target, 1)]) == {}
    assert violations([Import("chainrisk", "chainrisk.answers.lookup", 1, type_only=True)]) == {}


def test_a_cycle_between_packages_is_rejected():
    edges = [Import("chainrisk.ingest.rpc", "chainrisk.labels", 1), Import("chainrisk.labels.update",
                                                                          "chainrisk.ingest.node", 2)]
    assert package_cycles(edges) == [["ingest", "labels"]]
    assert ("chainrisk.ingest.rpc", "cycle") not in violations(edges[1:])
    assert any("cycle" in v for v in violations(edges).values())
    # a cycle through type-only imports is no runtime cycle
    assert package_cycles([edges[0], Import("chainrisk.labels.x", "chainrisk.ingest", 3, True)]) == []


def test_touching_the_connection_outside_the_store_is_rejected():
    src = "def f(store):\n    store.con.register('x', 1)\n"
    _, cons = parse("chainrisk.engine.fake", src)
    assert [c.line for c in cons] == [2]
    assert list(violations([], cons)) == [("chainrisk.engine.fake", ".con")]
    _, cons = parse("chainrisk.store.fake", src)
    assert violations([], cons) == {}


def test_parse_resolves_relative_function_level_and_type_only_imports():
    src = (
        "from typing import TYPE_CHECKING\n"
        "from . import tokens\n"
        "from ..errors import StoreError\n"
        "if TYPE_CHECKING:\n    from ..answers.lookup import LookupResult\n"
        "def f():\n    import duckdb\n    from ..engine import evidence\n"
    )
    mods = frozenset({"chainrisk.store.tokens", "chainrisk.engine.evidence", "chainrisk.errors"})
    imports, _ = parse("chainrisk.store.core", src, modules=mods)
    got = {(i.target, i.type_only) for i in imports}
    assert got == {("typing", False), ("chainrisk.store.tokens", False), ("chainrisk.errors", False),
                   ("chainrisk.answers.lookup", True), ("duckdb", False), ("chainrisk.engine.evidence", False)}
    # in a package's __init__ one dot is the package itself
    imports, _ = parse("chainrisk.store", "from .core import Store\n", is_pkg=True)
    assert [i.target for i in imports] == ["chainrisk.store.core"]
    assert set(violations(parse("chainrisk.store.core", src, modules=mods)[0])) == {
        ("chainrisk.store.core", "answers"), ("chainrisk.store.core", "engine")}
