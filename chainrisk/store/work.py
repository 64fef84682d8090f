"""A scratch DuckDB for set-at-a-time computations (the SQL engine): tables in, tables out, spilling to disk.

A :class:`Workspace` is an in-memory DuckDB database of its own (never the store's file), with a memory limit and
a private temporary directory, so that intermediate tables and operators larger than the limit spill to disk
instead of failing. It holds no chainrisk schema; callers create and drop their own tables.

    >>> with Workspace(memory_limit="4GB") as ws:
    ...     ws.load("e", arrow_table)
    ...     ws.create("t", "SELECT d, sum(w) AS w FROM e GROUP BY d")
    ...     cols = ws.fetch("SELECT * FROM t ORDER BY d")     # dict of numpy arrays
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

import duckdb
import numpy as np

from ..errors import InputError


class Workspace:
    """An in-memory DuckDB with ``memory_limit`` (DuckDB's syntax, e.g. ``'8GB'``; None: DuckDB's default, 80%
    of RAM), ``threads`` (None: all cores) and a private ``temp_directory`` (None: a new one under the system's
    temporary folder, removed on :meth:`close`)."""

    dialect = "duckdb"

    def __init__(self, memory_limit: str | None = None, threads: int | None = None,
                 temp_directory: str | None = None) -> None:
        self._own_tmp = temp_directory is None
        self.temp_directory = temp_directory or tempfile.mkdtemp(prefix="chainrisk-work-")
        config: dict[str, Any] = {"temp_directory": self.temp_directory, "preserve_insertion_order": False}
        if memory_limit is not None:
            config["memory_limit"] = memory_limit.strip()
        if threads is not None:
            config["threads"] = int(threads)
        try:
            self.con = duckdb.connect(":memory:", config=config)
        except duckdb.Error as e:
            self._cleanup()
            raise InputError(f"cannot set up the SQL engine's workspace ({e}); check --memory-limit") from None

    def load(self, name: str, table: Any) -> None:
        """Copy an Arrow table into the table ``name``."""
        self.con.register("_cr_load", table)
        try:
            self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _cr_load")
        finally:
            self.con.unregister("_cr_load")

    def create(self, name: str, query: str) -> None:
        """Materialise ``query`` as the table ``name`` (replacing it)."""
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS {query}")

    def fetch(self, query: str) -> dict[str, np.ndarray]:
        """The result of ``query`` as numpy columns."""
        return {k: np.asarray(v) for k, v in self.con.execute(query).fetchnumpy().items()}

    def count(self, name: str) -> int:
        row = self.con.execute(f"SELECT count(*) FROM {name}").fetchone()
        return int(row[0]) if row else 0

    def drop(self, *names: str) -> None:
        for name in names:
            self.con.execute(f"DROP TABLE IF EXISTS {name}")

    def close(self) -> None:
        self.con.close()
        self._cleanup()

    def _cleanup(self) -> None:
        if self._own_tmp:
            shutil.rmtree(self.temp_directory, ignore_errors=True)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
