"""The store: one DuckDB file holding transfers, labels, scoring runs and their bookkeeping.

Only this package opens DuckDB connections. Other modules get a :class:`Store` and use its methods (or, for
analysts, :meth:`Store.sql`). The schema is versioned per component (see :mod:`chainrisk.store.migrations`).
"""

from __future__ import annotations

import builtins
import csv
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from ..data import TOKENS_CSV
from ..errors import InputError, StoreError
from . import migrations

DEFAULT_PATH = "chainrisk.duckdb"


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    chain: str
    contract: str
    symbol: str
    name: str | None
    decimals: int
    kind: str
    usd_peg: float | None
    issuer: str | None


def canonical_contract(chain: str, contract: str) -> str:
    """Lower-case hex for EVM contracts; TRON contracts keep their base58 form."""
    return contract.strip() if chain == "tron" else contract.strip().lower()


def default_path() -> str:
    return os.environ.get("CHAINRISK_DB") or DEFAULT_PATH


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
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as e:
            if "lock" in str(e).lower():
                raise StoreError(
                    f"the store {self.path} is in use by another chainrisk process; wait for it to finish"
                ) from None
            raise StoreError(f"cannot open the store {self.path}: {e}") from None
        except duckdb.Error as e:
            raise StoreError(f"cannot open the store {self.path}: {e}") from None
        if not read_only:
            self._migrate()
            self._seed_tokens()
            self.fail_stale_runs()

    # -- lifecycle -------------------------------------------------------------------------------------------

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<chainrisk.Store {self.path}>"

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All statements inside commit together or not at all."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> duckdb.DuckDBPyRelation:
        """Run SQL against the store (parameterised with ``?`` or ``$name``); returns a DuckDB relation
        (``.df()``, ``.arrow()``, ``.fetchall()``)."""
        if params is None:
            return self.con.sql(query)
        return self.con.execute(query, params)  # type: ignore[return-value]

    def execute(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        return self.con.execute(query, params) if params is not None else self.con.execute(query)

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

    def fail_stale_runs(self) -> list[str]:
        """Mark ``failed`` the scoring runs left ``running`` by a process that is gone: on this host, a process
        (not this one) that no longer runs; anywhere, a run whose lease expired. Returns their ids. Runs written
        before runs recorded their process (no pid) are left as they are."""
        if self.read_only:
            return []
        try:
            rows = self.con.execute(
                "SELECT run_id, pid, host, lease_until FROM scoring_runs WHERE status = 'running' AND pid IS NOT NULL"
            ).fetchall()
        except duckdb.CatalogException:   # a store without the scoring schema
            return []
        me, now = socket.gethostname(), datetime.now(UTC).replace(tzinfo=None)
        stale: list[tuple[str, str]] = []
        for run_id, pid, host, lease in rows:
            if host == me and pid != os.getpid() and not _alive(pid):
                stale.append((run_id, f"the scoring process (pid {pid} on {host}) is no longer running"))
            elif lease is not None and lease < now and not (host == me and pid == os.getpid()):
                stale.append((run_id, f"the scoring process (pid {pid} on {host}) let its lease expire at "
                                      f"{lease:%Y-%m-%d %H:%M:%S} UTC"))
        for run_id, why in stale:
            self.con.execute(
                "UPDATE scoring_runs SET status = 'failed', finished_at = ?, error = ? WHERE run_id = ?"
                " AND status = 'running'", [now, f"stale run: {why}; run 'chainrisk score' again", run_id])
        return [r for r, _ in stale]

    def schema_versions(self) -> dict[str, int]:
        return dict(self.con.execute("SELECT component, max(version) FROM schema_migrations GROUP BY 1").fetchall())

    # -- tokens ----------------------------------------------------------------------------------------------

    def _seed_tokens(self) -> None:
        # fetchall, not fetchone: DuckDB 2.0 keeps a half-read result open and then refuses Store.sql()
        (n,) = self.con.execute("SELECT count(*) FROM tokens").fetchall()[0]
        if n:
            return
        path = TOKENS_CSV
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        with self.transaction():
            for row in rows:
                self._insert_token(
                    row["chain"], canonical_contract(row["chain"], row["contract"]), row["symbol"], row["name"] or None, int(row["decimals"]),
                    row["kind"], float(row["usd_peg"]) if row["usd_peg"] else None, row["issuer"] or None,
                    row["source"] or None,
                )

    def _insert_token(
        self, chain: str, contract: str, symbol: str, name: str | None, decimals: int, kind: str,
        usd_peg: float | None, issuer: str | None, source: str | None,
    ) -> int:
        (next_id,) = self.con.execute("SELECT coalesce(max(id), 0) + 1 FROM tokens").fetchone() or (1,)
        self.con.execute(
            "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [next_id, chain, contract, symbol, name, decimals, kind, usd_peg, issuer, source],
        )
        return int(next_id)

    def tokens(self, chain: str | None = None) -> list[Token]:
        q = "SELECT id, chain, contract, symbol, name, decimals, kind, usd_peg, issuer FROM tokens"
        rows = self.con.execute(q + " WHERE chain = ? ORDER BY id", [chain]).fetchall() if chain else \
            self.con.execute(q + " ORDER BY id").fetchall()
        return [Token(*r) for r in rows]

    def resolve_token(self, ref: str, chain: str = "ethereum") -> Token:
        """A registered token by symbol (case-insensitive) or contract address."""
        ref_l = ref.strip().lower()
        for t in self.tokens(chain):
            if t.contract.lower() == ref_l or t.symbol.lower() == ref_l:
                return t
        known = ", ".join(t.symbol for t in self.tokens(chain))
        raise InputError(f"unknown token {ref!r} on {chain}; registered: {known}")

    def ensure_token(
        self, chain: str, contract: str, symbol: str | None = None, decimals: int | None = None,
        kind: str = "other", source: str = "seen in imported data",
    ) -> Token:
        """The registered token for ``contract``, registering it (kind ``other``) when first seen."""
        contract = canonical_contract(chain, contract)
        row = self.con.execute(
            "SELECT id, chain, contract, symbol, name, decimals, kind, usd_peg, issuer FROM tokens"
            " WHERE chain = ? AND contract = ?", [chain, contract]
        ).fetchone()
        if row:
            return Token(*row)
        if decimals is None:
            raise InputError(
                f"token {contract} on {chain} is not registered and the input gives no decimals; "
                "add it to the token registry first"
            )
        tid = self._insert_token(chain, contract, symbol or contract[:10], None, decimals, kind, None, None, source)
        return self.tokens_by_id()[tid]

    def tokens_by_id(self) -> dict[int, Token]:
        return {t.id: t for t in self.tokens()}

    # -- addresses and transfers -----------------------------------------------------------------------------

    def encode_addresses(self, table: str, columns: Sequence[str], chain_column: str = "chain") -> int:
        """Give every (chain, address) in ``table``'s ``columns`` an id in ``addresses``. Returns how many are new.

        ``table`` is a table or view name in this connection (usually a temp staging table). New ids are dense,
        assigned in (chain, address) order, so the same inputs give the same ids.
        """
        union = " UNION ".join(f"SELECT {chain_column} AS chain, {c} AS address FROM {table}" for c in columns)
        n = self.con.execute(
            f"""
            INSERT INTO addresses
            SELECT (SELECT coalesce(max(id), 0) FROM addresses) + row_number() OVER (ORDER BY chain, address),
                   chain, address
            FROM ({union}) AS s
            WHERE address IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM addresses a WHERE a.chain = s.chain AND a.address = s.address)
            """
        ).fetchone()
        return int(n[0]) if n else 0

    def add_transfers(self, staging: str) -> int:
        """Insert transfers from a staging table/view, skipping any already stored. Returns rows added.

        The staging relation has columns: chain, tx_hash, log_index, block_number, block_time, token_id,
        from_address, to_address, value (HUGEINT, NULL when too large), value_raw (exact text or NULL), source.
        Call inside :meth:`transaction` to make it atomic with your bookkeeping.
        """
        self.encode_addresses(staging, ["from_address", "to_address"])
        # Keys repeated inside the batch are rare; deduplicating costs ~10x a distinct count, so only then.
        (dups,) = self.con.execute(
            f"SELECT count(*) - count(DISTINCT (chain, tx_hash, log_index)) FROM {staging}"
        ).fetchone() or (0,)
        source = staging if not dups else (
            f"(SELECT * FROM {staging}"
            " QUALIFY row_number() OVER (PARTITION BY chain, tx_hash, log_index ORDER BY block_number) = 1)"
        )
        row = self.con.execute(
            f"""
            INSERT INTO transfers
            SELECT s.chain, s.tx_hash, s.log_index, s.block_number, s.block_time, s.token_id,
                   s._from_id, s._to_id, s.value, CASE WHEN s.value IS NULL THEN s.value_raw END,
                   coalesce(CAST(s.value AS DOUBLE), CAST(s.value_raw AS DOUBLE)) / pow(10, k.decimals),
                   s.source
            FROM (
                -- Resolve the two ids one join at a time: left to the optimizer, DuckDB 2.0 can join
                -- addresses to addresses on chain first (|addresses|^2 rows: 50 s and 10 GB for 10k rows).
                WITH f AS MATERIALIZED (
                    SELECT s.*, fa.id AS _from_id FROM {source} s
                    JOIN addresses fa ON fa.chain = s.chain AND fa.address = s.from_address)
                SELECT f.*, ta.id AS _to_id FROM f
                JOIN addresses ta ON ta.chain = f.chain AND ta.address = f.to_address
            ) s
            JOIN tokens k ON k.id = s.token_id
            WHERE NOT EXISTS (
                SELECT 1 FROM transfers t
                WHERE t.chain = s.chain AND t.tx_hash = s.tx_hash AND t.log_index = s.log_index
                  AND t.block_number BETWEEN (SELECT min(block_number) FROM {staging})
                                         AND (SELECT max(block_number) FROM {staging}))
            """
        ).fetchone()
        return int(row[0]) if row else 0

    def stats(self) -> dict[str, Any]:
        """Counts for a status line: transfers, addresses, tokens with data, block range."""
        row = self.con.execute(
            "SELECT count(*), min(block_number), max(block_number), min(block_time), max(block_time)"
            " FROM transfers"
        ).fetchone()
        assert row is not None
        (addresses,) = self.con.execute("SELECT count(*) FROM addresses").fetchone() or (0,)
        return {
            "transfers": row[0], "addresses": addresses, "first_block": row[1], "last_block": row[2],
            "first_time": row[3], "last_time": row[4], "schema": self.schema_versions(),
        }


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with builtins.open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def open(path: str | os.PathLike[str] | None = None, *, read_only: bool = False, create: bool = True) -> Store:
    """Open the chainrisk store at ``path`` (default ``$CHAINRISK_DB`` or ``./chainrisk.duckdb``), creating it
    unless ``create`` is false (then a missing file is a :class:`~chainrisk.errors.StoreError`)."""
    return Store(path, read_only=read_only, create=create)
