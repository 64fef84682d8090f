"""The audit log: one row per request, committed before the response is sent (group commit).

A request's row is handed to :meth:`AuditLog.record` with a callback; a writer thread inserts every row waiting
(one INSERT from an Arrow table: rows that arrive while a batch is written form the next batch) and calls the
callbacks once the batch is committed, so the gate answers only after its row is durable: a crash loses no row of
an answered request. :meth:`AuditLog.close` flushes what is left (the service calls it on shutdown). If the store
refuses a batch, the rows stay buffered and the next flush retries.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import astuple, dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger(__name__)


@dataclass(slots=True)
class AuditEntry:
    request_id: str
    requested_at: datetime
    key_id: str | None
    role: str | None
    client: str | None
    method: str
    endpoint: str
    subject: str | None
    n_addresses: int
    run_id: str | None
    status: int
    error_code: str | None
    duration_ms: float


_FIELDS = [f.name for f in fields(AuditEntry)]
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}


def clean(text: str | None, limit: int = 200) -> str | None:
    """Audit text made safe for logs and terminals: control characters (NUL, ANSI escapes, line ends) written as
    ``\\xNN``, then cut to ``limit`` characters."""
    if text is None:
        return None
    return text.translate(_CONTROL)[:limit]
_SCHEMA = pa.schema([
    ("request_id", pa.string()), ("requested_at", pa.timestamp("us")), ("key_id", pa.string()), ("role", pa.string()),
    ("client", pa.string()), ("method", pa.string()), ("endpoint", pa.string()), ("subject", pa.string()),
    ("n_addresses", pa.int32()), ("run_id", pa.string()), ("status", pa.int32()), ("error_code", pa.string()),
    ("duration_ms", pa.float64()),
])


class AuditLog:
    def __init__(self, store: Store, *, interval: float = 0.5, max_buffer: int = 5000) -> None:
        self._store = store
        self._interval = interval
        self._max = max_buffer
        self._buf: list[AuditEntry] = []
        self._done: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self.written = 0
        self._thread = threading.Thread(target=self._run, name="chainrisk-audit", daemon=True)
        self._thread.start()

    def record(self, entry: AuditEntry, done: Callable[[], None] | None = None) -> None:
        """Buffer ``entry``; ``done`` is called (from the writer thread) once it is committed to the store."""
        with self._lock:
            self._buf.append(entry)
            if done is not None:
                self._done.append(done)
            n = len(self._buf)
        if done is not None or n >= self._max:
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # keep the rows and retry; never take the service down
                log.exception("audit flush failed; will retry")

    def flush(self) -> int:
        with self._write_lock:
            with self._lock:
                batch, self._buf = self._buf, []
                done, self._done = self._done, []
            if not batch:
                return 0
            try:
                if len(batch) <= 64:  # a small batch (the usual one, answered requests waiting): one VALUES list,
                    # several times faster than registering an Arrow table
                    row = "(" + ", ".join("?" * len(_FIELDS)) + ")"
                    self._store.execute(f"INSERT INTO audit_log ({', '.join(_FIELDS)}) VALUES "
                                        + ", ".join([row] * len(batch)),
                                        [v for e in batch for v in astuple(e)])
                else:
                    cols: dict[str, list[Any]] = {name: [] for name in _FIELDS}
                    for e in batch:
                        for name, value in zip(_FIELDS, astuple(e), strict=True):
                            cols[name].append(value)
                    table = pa.table(cols, schema=_SCHEMA)
                    with self._store.registered(_audit_batch=table):
                        self._store.execute(f"INSERT INTO audit_log ({', '.join(_FIELDS)}) SELECT * FROM _audit_batch")
            except BaseException:
                with self._lock:
                    self._buf[:0] = batch
                    self._done[:0] = done
                raise
            self.written += len(batch)
        for callback in done:
            try:
                callback()
            except Exception:  # a request that went away
                log.debug("audit callback failed", exc_info=True)
        return len(batch)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.flush()


def query_audit(
    store: Store, *, key_id: str | None = None, since: datetime | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Recent audit rows, newest first, optionally for one key and/or since a time."""
    where: list[str] = []
    params: list[Any] = []
    if key_id:
        where.append("key_id = ?")
        params.append(key_id)
    if since:
        where.append("requested_at >= ?")
        params.append(since)
    q = "SELECT " + ", ".join(_FIELDS) + " FROM audit_log"
    if where:
        q += " WHERE " + " AND ".join(where)
    q += " ORDER BY requested_at DESC, request_id DESC LIMIT ?"
    params.append(limit)
    rows = store.execute(q, params).fetchall()
    out = []
    for r in rows:
        d = dict(zip(_FIELDS, r, strict=True))
        d["requested_at"] = d["requested_at"].isoformat()
        out.append(d)
    return out
