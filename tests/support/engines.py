"""The engines that must agree: the array engine (numpy, the default) and the SQL engine (DuckDB), and Spark when
a test asks for it. ``propagator(engine)`` is what :func:`chainrisk.engine.model.compute` runs the hops with."""

from __future__ import annotations

import atexit
from collections.abc import Callable
from typing import Any

from chainrisk.engine.propagate import propagate
from chainrisk.engine.sql_engine import sql_propagate
from chainrisk.store.work import Workspace

ENGINES = ("array", "sql")
_WS: list[Workspace] = []


def workspace() -> Workspace:
    """One DuckDB workspace per test run (small limits: the test graphs are tiny)."""
    if not _WS:
        _WS.append(Workspace(memory_limit="512MB", threads=1))
        atexit.register(_WS[0].close)
    return _WS[0]


def propagator(engine: str) -> Callable[..., Any]:
    if engine == "array":
        return propagate
    if engine == "sql":
        return sql_propagate(workspace())
    raise ValueError(engine)
