"""The store: one DuckDB file holding transfers, labels, scoring runs and their bookkeeping.

Only this package opens DuckDB connections and imports duckdb. Other packages get a :class:`Store` and use its
methods (or, for analysts, :meth:`Store.sql`). One module per job:

* :mod:`.core`: :class:`Store`, :func:`open`, SQL and transactions, :data:`QueryError`;
* :mod:`.tokens`: the token registry; :mod:`.transfers`: addresses and THE transfers insert;
* :mod:`.runs`: the run registry (the latest complete run, a named run, listing runs);
* :mod:`.indexes`: the lookup indexes; :mod:`.migrations`: the versioned schema, per component.
"""

from __future__ import annotations

from .core import (
    DEFAULT_PATH,
    FileReadErrors,
    MemoryErrors,
    QueryError,
    Store,
    default_path,
    first_line,
    open,
    read_arrow,
)
from .indexes import INDEXES, ensure_indexes, ensure_indexes_once
from .runs import Provenance, list_runs, resolve_run
from .tokens import Token, canonical_contract

__all__ = [
    "DEFAULT_PATH",
    "INDEXES",
    "FileReadErrors",
    "MemoryErrors",
    "Provenance",
    "QueryError",
    "Store",
    "Token",
    "canonical_contract",
    "default_path",
    "ensure_indexes",
    "ensure_indexes_once",
    "first_line",
    "list_runs",
    "open",
    "read_arrow",
    "resolve_run",
]
