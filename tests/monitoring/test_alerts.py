"""Watchlists and alerts on hand-built stores scored by the real engine: each rule, idempotency, the
knowable-at-previous flag, acknowledgement, and the read view (no label names or sources)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from support.scoring import add_transfers, addr

from chainrisk.engine.score import score
from chainrisk.monitoring import alerts as al
from chainrisk.monitoring import watch


def _label(store, who, category, name="Operation Nightjar suspect (case 2024-118)", source="bank-internal-cases",
           imported_at=None, retired_at=None):
    store.execute(
        "INSERT INTO labels (chain, address, category, name, source, source_version, confidence, valid_from,"
        " valid_to, imported_at, retired_at) VALUES ('ethereum', ?, ?, ?, ?, 'v1', 80, NULL, ?, ?, ?)",
        [addr(who), category, name, source, retired_at, imported_at or datetime.now(), retired_at])


def _run(store):
    s = score(store, "cn", indicators=False, prepare_reads=False)
    return s.run_id, al.evaluate_pending(store)


def _alerts(store, role="admin"):
    out, _ = al.list_alerts(store, role=role, limit=1000)
    return out


def test_watch_add_remove_list_and_replace(store):
    rep = watch.add(store, [(addr("cust1"), "C-1"), (addr("cust2"), None), ("nonsense", "x")])
    assert (rep.added, rep.invalid) == (2, 1)
    again = watch.add(store, [(addr("cust1"), "C-1"), (addr("cust2"), "C-2")])
    assert (again.added, again.unchanged, again.replaced) == (0, 1, 1)
    assert {(e["address"], e["reference"]) for e in watch.entries(store)} == {(addr("cust1"), "C-1"),
                                                                               (addr("cust2"), "C-2")}
    gone = watch.remove(store, [addr("cust1"), addr("never")])
    assert (gone.removed, gone.not_watched) == (1, 1)
    assert [e["address"] for e in watch.entries(store)] == [addr("cust2")]
    assert len(watch.entries(store, include_removed=True)) == 3      # history is kept


def test_rules_fire_once_with_evidence_and_runs(store):
    add_transfers(store, [("payer", "cust", 100, 1)])
    watch.add(store, [(addr("cust"), "C-7")])
    _r1, _ = _run(store)
    first = _alerts(store)
    assert [a["rule"] for a in first] == ["first_activity"]
    assert first[0]["reference"] == "C-7" and first[0]["evidence"][0]["block_number"] == 1
    # nothing new: a rescore raises nothing, and re-evaluating a run adds nothing (idempotency keys)
    r2, evs = _run(store)
    assert evs[0].alerts == 0 and len(_alerts(store)) == 1
    assert al.evaluate_run(store, r2).alerts == 0
    # tainted funds arrive directly from a mixer: verdict change and direct exposure, with the new transfer
    _label(store, "mixer", "mixer", imported_at=datetime.now() - timedelta(days=1))
    r2b, _ = _run(store)   # the mixer label alone changes nothing for cust yet
    assert len(_alerts(store)) == 1
    add_transfers(store, [("mixer", "cust", 5000, 50)])
    r3, _ = _run(store)
    new = {a["rule"]: a for a in _alerts(store)[1:]}
    assert set(new) == {"verdict_change", "direct_exposure"}
    vc = new["verdict_change"]
    assert vc["previous_run_id"] == r2b and vc["run_id"] == r3
    assert vc["old_verdict"]["illicit"]["band"] == "none" and vc["new_verdict"]["illicit"]["band"] != "none"
    assert vc["evidence"][0]["from"] == addr("mixer") and vc["evidence"][0]["usd"] == 5000.0
    assert vc["knowable_at_previous"] is False
    de = new["direct_exposure"]
    assert de["details"]["category"] == "mixer" and de["details"]["usd"] == 5000.0
    assert al.evaluate_run(store, r3).alerts == 0 and len(_alerts(store)) == 3


def test_label_change_counterparty_labelled_and_read_view(store):
    add_transfers(store, [("shop", "cust", 2000, 1), ("cust", "other", 10, 2)])
    watch.add(store, [(addr("cust"), "C-9")])
    _run(store)
    _label(store, "shop", "scam")      # the counterparty is now known as a scam, after the first run
    _r2, _ = _run(store)
    rules = {a["rule"]: a for a in _alerts(store)}
    assert {"first_activity", "label_change", "counterparty_labelled"} <= set(rules)
    lc = rules["label_change"]
    assert lc["details"]["label_changes"][0]["category"] == "scam"
    assert lc["details"]["label_changes"][0]["relation"] == "direct counterparty"
    assert lc["knowable_at_previous"] is False
    cp = rules["counterparty_labelled"]
    assert cp["details"]["counterparty"] == addr("shop") and cp["details"]["label"]["source"] == "bank-internal-cases"
    # the read view: categories only, never the label's name, source or case text
    text = json.dumps(_alerts(store, role="read"))
    assert "Nightjar" not in text and "bank-internal-cases" not in text and "2024-118" not in text
    assert "scam" in text
    # acknowledge: an appended event; twice adds nothing
    assert al.acknowledge(store, [lc["alert_id"]], actor="officer-1") == {"acknowledged": 1, "already": 0}
    assert al.acknowledge(store, [lc["alert_id"]], actor="officer-1") == {"acknowledged": 0, "already": 1}
    got = {a["alert_id"]: a for a in _alerts(store)}[lc["alert_id"]]
    assert got["state"] == "acknowledged" and got["acknowledged_by"] == "officer-1"
    assert [a["alert_id"] for a in al.list_alerts(store, state="open")[0]] == [
        a["alert_id"] for a in _alerts(store) if a["alert_id"] != lc["alert_id"]]


def test_cursor_paging(store):
    add_transfers(store, [("p", f"c{i}", 10, 1 + i) for i in range(5)])
    watch.add(store, [(addr(f"c{i}"), f"R{i}") for i in range(5)])
    _run(store)
    seen, cursor = [], None
    while True:
        page, cursor = al.list_alerts(store, cursor=cursor, limit=2)
        seen += [a["reference"] for a in page]
        if cursor is None:
            break
    assert sorted(seen) == [f"R{i}" for i in range(5)] and len(seen) == 5
