"""``score --as-of``: a point-in-time run sees only the transfers up to TIME and the labels the store knew then
(imported by TIME, not yet ended), says so in its provenance, and never answers as the latest run."""

from __future__ import annotations

import json
from datetime import timedelta

from support.scoring import T0, add_transfers, addr

from chainrisk.engine.score import score
from chainrisk.store import resolve_run


def _label(store, who, category, imported_at, retired_at=None, valid_to=None, source="test"):
    store.execute(
        "INSERT INTO labels (chain, address, category, name, source, source_version, confidence, valid_from,"
        " valid_to, imported_at, retired_at) VALUES ('ethereum', ?, ?, ?, ?, 'v1', 60, NULL, ?, ?, ?)",
        [addr(who), category, who, source, valid_to if valid_to is not None else retired_at, imported_at,
         retired_at])


def _row(store, run_id, who):
    cur = store.execute("SELECT s.* FROM scores s JOIN addresses a ON a.id = s.address_id"
                        " WHERE a.address = ? AND s.run_id = ?", [addr(who), run_id])
    row = cur.fetchone()
    return None if row is None else dict(zip([d[0] for d in cur.description], row, strict=True))


def test_point_in_time_run_uses_transfers_and_labels_as_known_then(store):
    # block b has time T0 + 12 s * b
    add_transfers(store, [("mixer", "early", 100, 10), ("mixer", "late", 100, 1000), ("sanct", "s1", 50, 20),
                          ("scammer", "v", 80, 30)])
    _label(store, "mixer", "mixer", T0 + timedelta(seconds=600))
    _label(store, "scammer", "scam", T0 + timedelta(days=30))            # imported after TIME: unknown then
    _label(store, "sanct", "sanctions", T0 + timedelta(seconds=300),      # ended after TIME: still in force then
           retired_at=T0 + timedelta(hours=5))
    store.execute("INSERT INTO label_imports VALUES ('test', 'generic', 'v1', 'x.csv', NULL, 3, 3, 3, 0, 0, 0, 0, ?)",
                  [T0 + timedelta(seconds=300)])
    full = score(store, "cn", indicators=False)
    at = T0 + timedelta(seconds=1000)          # after blocks 10, 20, 30; before block 1000
    pit = score(store, "cn", indicators=False, as_of=at)
    assert pit.as_of_block == 30 and pit.as_of_time == T0 + timedelta(seconds=360)
    assert pit.label_sources and pit.label_sources[0]["source"] == "test"
    # transfers: 'late' had no activity by then
    assert _row(store, pit.run_id, "late") is None
    assert _row(store, full.run_id, "late") is not None
    assert _row(store, pit.run_id, "early")["illicit_top_category"] == "mixer"
    # labels: the scam label was imported later, so v is clean then and exposed now
    assert _row(store, pit.run_id, "v")["illicit_band"] == "none"
    assert _row(store, full.run_id, "v")["illicit_top_category"] == "scam"
    # the sanctions label has ended by now, but was in force at TIME
    assert _row(store, pit.run_id, "s1")["illicit_top_category"] == "sanctions"
    assert _row(store, full.run_id, "s1")["illicit_band"] == "none"
    # provenance: the run says it is a point-in-time run; it never becomes the latest
    prov = resolve_run(store, pit.run_id)
    assert prov.params["point_in_time"]["as_of"] == at.isoformat()
    assert resolve_run(store).run_id == full.run_id
    params = json.loads(store.execute("SELECT params_json FROM scoring_runs WHERE run_id = ?",
                                      [full.run_id]).fetchone()[0])
    assert "point_in_time" not in params
    # the shadowing views are gone afterwards
    assert store.execute("SELECT count(*) FROM transfers").fetchone()[0] == 4
