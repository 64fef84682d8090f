"""The Store: one DuckDB connection over one file, its schema, and the few ways other layers talk to it.

Other packages never hold the connection: they call :meth:`Store.execute` / :meth:`Store.sql` (parameterised
SQL), :meth:`Store.transaction`, :meth:`Store.registered` (an Arrow table visible to SQL for a moment), and catch
:data:`QueryError` instead of importing duckdb. The shared concepts have their own modules: tokens
(:mod:`.tokens`), the transfers insert (:mod:`.transfers`), the run registry (:mod:`.runs`) and the read indexes
(:mod:`.indexes`); the :class:`Store` methods of the same names call them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import duckdb

from ..errors import StoreError
from . import indexes as _indexes
from . import migrations
from . import runs as _runs
from . import tokens as _tokens
from . import transfers as _transfers

if TYPE_CHECKING:
    import pyarrow as pa

    from .runs import Provenance
    from .tokens import Token

DEFAULT_PATH = "chainrisk.duckdb"

#: What DuckDB raises for a statement it cannot run (bad SQL, a file it cannot read, a missing table). Layers
#: above the store catch this name, so only the store imports duckdb.
QueryError = duckdb.Error

#: The errors of a file DuckDB could not read the way it was asked (another CSV dialect, bad encoding, an
#: unreadable file): a reader may then fall back to a slower, more forgiving one.
FileReadErrors: tuple[type[Exception], ...] = (
    duckdb.InvalidInputException, duckdb.ConversionException, duckdb.IOException)

#: DuckDB ran out of its memory limit: not the input's fault; say so, with the setting that helps.
MemoryErrors: tuple[type[Exception], ...] = (duckdb.OutOfMemoryException,)

Params = Sequence[Any] | dict[str, Any] | None


def default_path() -> str:
    return os.environ.get("CHAINRISK_DB") or DEFAULT_PATH


def first_line(e: BaseException) -> str:
    """The first line of an error's text (DuckDB appends hints and context on further lines)."""
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _is_lock_conflict(e: duckdb.IOException) -> bool:
    # The one place chainrisk reads an error's text. DuckDB (checked on 2.0.1) reports a file locked by another
    # process as a plain IOException, the same class as a missing folder or a permission problem, with no code or
    # attribute to tell them apart (its lock-message improvement, duckdb/duckdb#9988, kept the class). The
    # wording "Could not set lock on file" has been stable since 0.5; if it changes, the user still gets a
    # StoreError ("cannot open the store ..."), only with DuckDB's wording instead of ours.
    return "could not set lock" in str(e).lower()


class Store:
    """A chainrisk store over one DuckDB file. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, read_only: bool = False,
                 create: bool = True) -> None:
        self.path = str(path if path is not None else default_path())
        self.read_only = read_only
        if not create and self.path != ":memory:" and not os.path.exists(self.path):
            raise StoreError(f"no chainrisk store at {self.path}; check --db (or CHAINRISK_DB), or create one with "
                             "'chainrisk ingest' or 'chainrisk labels import'")
        try:
            self.con = duckdb.connect(self.path, read_only=read_only)   # private to chainrisk.store
        except duckdb.IOException as e:
            if _is_lock_conflict(e):
                raise StoreError(
                    f"the store {self.path} is in use by another chainrisk process; wait for it to finish"
                ) from None
            raise StoreError(f"cannot open the store {self.path}: {e}") from None
        except duckdb.Error as e:
            raise StoreError(f"cannot open the store {self.path}: {e}") from None
        if not read_only:
            self._migrate()
            _tokens.seed(self)
            _runs.fail_stale_runs(self)

    # -- lifecycle -------------------------------------------------------------------------------------------

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<chainrisk.Store {self.path}>"

    # -- SQL -------------------------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """All statements inside commit together or not at all. Yields the store itself."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")

    def sql(self, query: str, params: Params = None) -> duckdb.DuckDBPyRelation:
        """Run SQL against the store (parameterised with ``?`` or ``$name``); returns a DuckDB relation
        (``.df()``, ``.arrow()``, ``.fetchall()``)."""
        if params is None:
            return self.con.sql(query)
        return self.con.execute(query, params)  # type: ignore[return-value]

    def execute(self, query: str, params: Params = None) -> duckdb.DuckDBPyConnection:
        """Run one statement; fetch its result from the returned cursor (``.fetchall()``, ``.fetchone()``,
        ``.fetchnumpy()``, ``.arrow()``, ``.description``)."""
        return self.con.execute(query, params) if params is not None else self.con.execute(query)

    def executemany(self, query: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one parameterised statement once per row."""
        self.con.executemany(query, rows)

    def arrow(self, query: str, params: Params = None) -> pa.Table:
        """The result of a query as a pyarrow Table."""
        # a relation, not a DB-API result: DuckDB 2 copies the rows once more for the latter
        return self.con.sql(query, params=params).to_arrow_table()

    def setting(self, name: str) -> Any:
        """The current value of a DuckDB setting (e.g. ``memory_limit``)."""
        rows = self.con.execute("SELECT current_setting(?)", [name]).fetchall()
        return rows[0][0] if rows else None

    @contextmanager
    def memory_limit(self, limit: str | None) -> Iterator[None]:
        """Run the block under DuckDB's ``memory_limit`` ``limit`` (e.g. ``'1GB'``; None: unchanged), then restore
        the previous limit (RESET when it was DuckDB's default: the setting reads back rounded, so that nothing
        drifts)."""
        if limit is None:
            yield
            return
        previous = str(self.setting("memory_limit") or "")
        self.con.execute(f"SET memory_limit = '{limit.strip()}'")
        try:
            yield
        finally:
            with duckdb.connect() as fresh:
                (default,) = fresh.execute("SELECT current_setting('memory_limit')").fetchone() or ("",)
            if previous == default or not previous:
                self.con.execute("RESET memory_limit")
            else:
                self.con.execute(f"SET memory_limit = '{previous}'")

    def register(self, name: str, table: Any) -> None:
        """Make an Arrow table (or pandas frame) visible to SQL as the view ``name``; :meth:`unregister` it after,
        or use :meth:`registered`."""
        # DuckDB 2 refuses register() while an earlier result is unfetched: finish it first.
        self.con.execute("SELECT 1").fetchall()
        self.con.register(name, table)

    def unregister(self, name: str) -> None:
        self.con.unregister(name)

    @contextmanager
    def registered(self, **tables: Any) -> Iterator[None]:
        """``with store.registered(_x=arrow_table): store.execute("... FROM _x")``: the tables are views for the
        block only."""
        done = []
        try:
            for name, table in tables.items():
                self.register(name, table)
                done.append(name)
            yield
        finally:
            for name in done:
                self.con.unregister(name)

    # -- schema ----------------------------------------------------------------------------------------------

    def _migrate(self) -> None:
        con = self.con
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " component VARCHAR NOT NULL, version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        applied = dict(con.execute("SELECT component, max(version) FROM schema_migrations GROUP BY 1").fetchall())
        known = dict((name, len(steps)) for name, steps in migrations.components())
        for name, version in applied.items():
            if version > known.get(name, 0):
                raise StoreError(
                    f"the store {self.path} has schema {name} v{version}, newer than this chainrisk "
                    f"(v{known.get(name, 0)}); upgrade chainrisk"
                )
        for name, steps in migrations.components():
            for version, ddl in enumerate(steps, start=1):
                if version <= applied.get(name, 0):
                    continue
                with self.transaction():
                    con.execute(ddl)
                    con.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, now()::TIMESTAMP)", [name, version]
                    )

    def schema_versions(self) -> dict[str, int]:
        return dict(self.con.execute("SELECT component, max(version) FROM schema_migrations GROUP BY 1").fetchall())

    # -- tokens (chainrisk.store.tokens) ---------------------------------------------------------------------

    def tokens(self, chain: str | None = None) -> list[Token]:
        return _tokens.tokens(self, chain)

    def resolve_token(self, ref: str, chain: str = "ethereum") -> Token:
        """A registered token by symbol (case-insensitive) or contract address."""
        return _tokens.resolve_token(self, ref, chain)

    def ensure_token(
        self, chain: str, contract: str, symbol: str | None = None, decimals: int | None = None,
        kind: str = "other", source: str = "seen in imported data",
    ) -> Token:
        """The registered token for ``contract``, registering it (kind ``other``) when first seen."""
        return _tokens.ensure_token(self, chain, contract, symbol, decimals, kind, source)

    def register_unknown_tokens(self, chain: str, table: str) -> list[str]:
        """Register the ``(contract, symbol)`` rows of ``table`` missing from the registry as tokens of unknown
        decimals (never priced); see :func:`chainrisk.store.tokens.register_unknown`."""
        return _tokens.register_unknown(self, chain, table)

    def tokens_by_id(self) -> dict[int, Token]:
        return {t.id: t for t in self.tokens()}

    # -- addresses and transfers (chainrisk.store.transfers) ---------------------------------------------------

    def encode_addresses(self, table: str, columns: Sequence[str], chain_column: str = "chain") -> int:
        """Give every (chain, address) in ``table``'s ``columns`` an id in ``addresses``. Returns how many are new."""
        return _transfers.encode_addresses(self, table, columns, chain_column)

    def add_transfers(self, staging: str, *, guard: bool = True, addresses: str | None = None) -> int:
        """Insert transfers from a staging table/view, skipping any already stored. Returns rows added.
        See :func:`chainrisk.store.transfers.add_transfers`."""
        return _transfers.add_transfers(self, staging, guard=guard, addresses=addresses)

    def has_temp_table(self, name: str) -> bool:
        """Whether this connection has a temp table or view ``name``."""
        (n,) = self.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [name]).fetchone() or (0,)
        return bool(n)

    def stats(self) -> dict[str, Any]:
        """Counts for a status line: transfers, addresses, tokens with data, block range."""
        return _transfers.stats(self)

    # -- scoring runs and read indexes -----------------------------------------------------------------------

    def run(self, run_id: str | None = None) -> Provenance:
        """The complete scoring run ``run_id`` (default: the latest); see :func:`chainrisk.store.runs.resolve_run`."""
        return _runs.resolve_run(self, run_id)

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest scoring runs (any status), newest first."""
        return _runs.list_runs(self, limit)

    def fail_stale_runs(self) -> list[str]:
        """Mark failed the runs left ``running`` by a dead process; see :func:`chainrisk.store.runs.fail_stale_runs`."""
        return _runs.fail_stale_runs(self)

    def ensure_indexes(self) -> list[str]:
        """Create the lookup indexes that are missing; see :func:`chainrisk.store.indexes.ensure_indexes`."""
        return _indexes.ensure_indexes(self)


def open(path: str | os.PathLike[str] | None = None, *, read_only: bool = False, create: bool = True) -> Store:
    """Open the chainrisk store at ``path`` (default ``$CHAINRISK_DB`` or ``./chainrisk.duckdb``), creating it
    unless ``create`` is false (then a missing file is a :class:`~chainrisk.errors.StoreError`)."""
    return Store(path, read_only=read_only, create=create)


def read_arrow(query: str) -> pa.Table:
    """A self-contained query (e.g. over ``read_parquet('file')``) on a throwaway in-memory DuckDB, as Arrow.
    For reading files that are not part of any store, such as a screening output written earlier."""
    con = duckdb.connect()
    try:
        return con.sql(query).to_arrow_table()
    finally:
        con.close()
