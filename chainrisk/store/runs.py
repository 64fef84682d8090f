"""The run registry: which scoring runs a store holds, and THE definition of "the latest complete run".

A scoring run (:func:`chainrisk.engine.score.score`) is a row of ``scoring_runs``: ``running`` while it works, then
``complete`` (or ``failed``). Answers (lookup, screen, report, the HTTP service), evidence paths and the demo all
read runs through :func:`resolve_run`: a named complete run, or the latest one, which is the complete run that
finished last (ties: created last, then the larger run id).
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb

from ..errors import NoScoringRun

if TYPE_CHECKING:
    from .core import Store

#: ORDER BY of "latest" among complete runs
LATEST = "finished_at DESC NULLS LAST, created_at DESC, run_id DESC"


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


def resolve_run(store: Store, run_id: str | None = None) -> Provenance:
    """The provenance of ``run_id``, or of the latest complete scoring run; :class:`NoScoringRun` when none.

    A named complete run is immutable, so its provenance is remembered per store (a warm process passing
    ``run_id`` saves a query per lookup); the latest run is looked up on every call."""
    if run_id is not None:
        cached = _RUNS.get(store, {}).get(run_id)
        if cached is not None:     # a complete run never changes
            return cached
    q = ("SELECT run_id, profile, created_at, finished_at, as_of_block, as_of_time, label_sources_json, params_json,"
         " profile_json FROM scoring_runs WHERE status = 'complete'")
    try:
        # fetchall, not fetchone: a half-read result blocks the next relation on this connection (DuckDB 2)
        if run_id is None:
            rows = store.execute(q + f" ORDER BY {LATEST} LIMIT 1", []).fetchall()
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
    return prov


def list_runs(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    """The latest scoring runs (any status), newest first."""
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


def loads(text: str | None, default: Any) -> Any:
    """JSON text from a run's bookkeeping column, or ``default`` when empty or not JSON."""
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default
