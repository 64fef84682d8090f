"""The run registry: which scoring runs a store holds, and THE definition of "the latest complete run".

A scoring run (:func:`chainrisk.engine.score.score`) is a row of ``scoring_runs``: ``running`` while it works, then
``complete`` (or ``failed``). Answers (lookup, screen, report, the HTTP service), evidence paths and the demo all
read runs through :func:`resolve_run`: a named complete run, or the latest one, which is the complete run that
finished last (ties: created last, then the larger run id).
"""

from __future__ import annotations

import json
import os
import socket
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb

from ..errors import NoScoringRun

if TYPE_CHECKING:
    from .core import Store

#: ORDER BY of "latest" among complete runs
LATEST = "finished_at DESC NULLS LAST, created_at DESC, run_id DESC"
#: WHERE of the runs that may answer as the latest: complete, and not a point-in-time run (``score --as-of``:
#: a view of the past, kept and nameable, never the current answer)
CURRENT = "status = 'complete' AND json_extract_string(params_json, '$.point_in_time.as_of') IS NULL"


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, datetime) else v


@dataclass(frozen=True, slots=True)
class Provenance:
    """A complete scoring run as answers cite it: run, profile, data as-of, label sources, parameters."""
    run_id: str
    profile: str
    created_at: datetime | None
    finished_at: datetime | None
    as_of_block: int | None
    as_of_time: datetime | None
    label_sources: list[dict[str, Any]]
    params: dict[str, Any]
    #: the run's full profile (severities, bands, propagation), for the evidence search; not in the JSON contract
    profile_settings: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "profile": self.profile, "created_at": _iso(self.created_at),
            "finished_at": _iso(self.finished_at), "as_of_block": self.as_of_block,
            "as_of_time": _iso(self.as_of_time), "label_sources": self.label_sources, "params": self.params,
        }


_RUNS: weakref.WeakKeyDictionary[Store, dict[str, Provenance]] = weakref.WeakKeyDictionary()
_LATEST: weakref.WeakKeyDictionary[Store, Provenance] = weakref.WeakKeyDictionary()   # of read-only stores


def resolve_run(store: Store, run_id: str | None = None) -> Provenance:
    """The provenance of ``run_id``, or of the latest complete scoring run (never a point-in-time run); :class:`NoScoringRun` when none.

    A named complete run is immutable, so its provenance is remembered per store (a warm process passing
    ``run_id`` saves a query per lookup). The latest run is looked up on every call on a writable store; a
    read-only store cannot change while it is open (DuckDB's file lock keeps every writer out, in this process or
    another), so its latest run is remembered too."""
    if run_id is not None:
        cached = _RUNS.get(store, {}).get(run_id)
        if cached is not None:     # a complete run never changes
            return cached
    elif store.read_only:
        latest = _LATEST.get(store)
        if latest is not None:     # nor does a read-only store's latest run
            return latest
    q = ("SELECT run_id, profile, created_at, finished_at, as_of_block, as_of_time, label_sources_json, params_json,"
         " profile_json FROM scoring_runs WHERE status = 'complete'")
    try:
        # fetchall, not fetchone: a half-read result blocks the next relation on this connection (DuckDB 2)
        if run_id is None:
            rows = store.execute(q + f" AND {CURRENT} ORDER BY {LATEST} LIMIT 1", []).fetchall()
        else:
            rows = store.execute(q + " AND run_id = ?", [run_id]).fetchall()
    except duckdb.CatalogException:
        raise NoScoringRun(f"the store {store.path} has no scoring tables; run 'chainrisk score' first") from None
    if not rows:
        if run_id is None:
            raise NoScoringRun(f"no complete scoring run in {store.path}; run 'chainrisk score' first")
        known = [r[0] for r in store.execute(
            "SELECT run_id FROM scoring_runs WHERE status = 'complete' ORDER BY created_at DESC LIMIT 5", []
        ).fetchall()]
        hint = f"complete runs: {', '.join(known)}" if known else "run 'chainrisk score' first"
        raise NoScoringRun(f"no complete scoring run {run_id!r} in {store.path}; {hint}")
    row = rows[0]
    prov = Provenance(
        run_id=row[0], profile=row[1], created_at=row[2], finished_at=row[3], as_of_block=row[4],
        as_of_time=row[5], label_sources=loads(row[6], []), params=loads(row[7], {}),
        profile_settings=loads(row[8], {}),
    )
    _RUNS.setdefault(store, {})[prov.run_id] = prov
    if run_id is None and store.read_only:
        _LATEST[store] = prov
    return prov


def list_runs(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    """The latest scoring runs (any status), newest first; runs left ``running`` by a dead process are marked
    failed first (:func:`fail_stale_runs`)."""
    fail_stale_runs(store)
    cols = ["run_id", "status", "profile", "created_at", "finished_at", "as_of_block", "n_addresses",
            "duration_s", "params_json"]
    rows = store.execute(
        f"SELECT {', '.join(cols)} FROM scoring_runs ORDER BY created_at DESC, run_id DESC LIMIT ?", [limit]
    ).fetchall()
    out = []
    for r in rows:
        d = dict(zip(cols, r, strict=True))
        d["max_hops"] = json.loads(d.pop("params_json")).get("max_hops")
        out.append(d)
    return out


def fail_stale_runs(store: Store) -> list[str]:
    """Mark ``failed`` the scoring runs left ``running`` by a process that is gone: on this host, a process (not
    this one) that no longer runs; anywhere, a run whose lease expired (``lease_until``, renewed by the scoring
    process at each stage). Returns their ids. Runs written before runs recorded their process (no pid) are left
    as they are; a read-only store changes nothing. Called when a store is opened for writing and when runs are
    listed."""
    if store.read_only:
        return []
    try:
        rows = store.execute(
            "SELECT run_id, pid, host, lease_until FROM scoring_runs WHERE status = 'running' AND pid IS NOT NULL"
        ).fetchall()
    except duckdb.CatalogException:   # a store without the scoring schema
        return []
    me, now = socket.gethostname(), datetime.now(UTC).replace(tzinfo=None)
    stale: list[tuple[str, str]] = []
    for run_id, pid, host, lease in rows:
        own = host == me and pid == os.getpid()
        if host == me and not own and not process_alive(pid):
            stale.append((run_id, f"the scoring process (pid {pid} on {host}) is no longer running"))
        elif lease is not None and lease < now and not own:
            stale.append((run_id, f"the scoring process (pid {pid} on {host}) let its lease expire at "
                                  f"{lease:%Y-%m-%d %H:%M:%S} UTC"))
    for run_id, why in stale:
        store.execute("UPDATE scoring_runs SET status = 'failed', finished_at = ?, error = ? WHERE run_id = ?"
                      " AND status = 'running'", [now, f"stale run: {why}; run 'chainrisk score' again", run_id])
    return [r for r, _ in stale]


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def loads(text: str | None, default: Any) -> Any:
    """JSON text from a run's bookkeeping column, or ``default`` when empty or not JSON."""
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default
