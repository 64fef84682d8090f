"""The monitoring commands end to end on a real store file: score --as-of, watch add (addresses and a screened
file), alerts (list, read view, ack, export)."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner
from support.scoring import add_transfers, addr

import chainrisk
from chainrisk.cli import cli
from chainrisk.errors import UsageError


def _cli(db, *args):
    r = CliRunner().invoke(cli, ["--db", str(db), "-q", *args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


def _store(db):
    with chainrisk.open(db) as st:
        add_transfers(st, [("mixer", "cust", 5000, 10), ("cust", "shop", 100, 20)])
        st.execute("INSERT INTO labels (chain, address, category, name, source, source_version, confidence,"
                   " imported_at) VALUES ('ethereum', ?, 'mixer', 'Case Falcon', 'internal-cases', 'v1', 90,"
                   " TIMESTAMP '2020-01-01')", [addr("mixer")])


def test_watch_score_alerts_ack_export(tmp_path):
    db = tmp_path / "m.duckdb"
    _store(db)
    out = json.loads(_cli(db, "watch", "add", addr("cust"), "--reference", "CUST-1", "--format", "json"))
    assert out["added"] == 1
    # a screened file becomes a watchlist in one step
    (tmp_path / "in.csv").write_text(f"address,reference\n{addr('shop')},SHOP-9\n{addr('cust')},CUST-1\n")
    _cli(db, "score", "--no-indicators")
    _cli(db, "screen", str(tmp_path / "in.csv"), "-o", str(tmp_path / "screened.csv"))
    out = json.loads(_cli(db, "watch", "add", "--file", str(tmp_path / "screened.csv"), "--list", "onboarding",
                          "--format", "json"))
    assert out["added"] == 2 and out["invalid"] == 0
    listed = json.loads(_cli(db, "watch", "list", "--list", "onboarding", "--format", "json"))
    assert {e["reference"] for e in listed} == {"SHOP-9", "CUST-1"}
    # point in time: before block 20 the shop had no activity
    pit = json.loads(_cli(db, "score", "--no-indicators", "--as-of", "2024-01-01T00:03:00Z", "--format", "json"))
    assert pit["as_of_block"] == 10
    alerts = json.loads(_cli(db, "alerts", "--format", "json"))
    # the first run has no previous one: the watched customer's activity and its verdict are news (the
    # onboarding list was added after that run, so it is compared from the next run on)
    assert {(a["rule"], a["reference"]) for a in alerts} == {
        ("first_activity", "CUST-1"), ("verdict_change", "CUST-1"), ("direct_exposure", "CUST-1")}
    assert all(a["run_id"] != pit["run_id"] for a in alerts)     # point-in-time runs raise no alerts
    read = _cli(db, "alerts", "--view", "read", "--format", "json")
    assert "internal-cases" not in read and "Case Falcon" not in read
    ids = [a["alert_id"] for a in alerts]
    assert json.loads(_cli(db, "alerts", "ack", *ids, "--by", "officer", "--format", "json"))["acknowledged"] == 3
    assert json.loads(_cli(db, "alerts", "--state", "open", "--format", "json")) == []
    rows = list(csv.DictReader(io.StringIO(_cli(db, "alerts", "export"))))
    assert [r["alert_id"] for r in rows] == ids and {r["state"] for r in rows} == {"acknowledged"}


def test_bad_as_of_is_one_sentence(tmp_path):
    db = tmp_path / "m.duckdb"
    _store(db)
    r = CliRunner().invoke(cli, ["--db", str(db), "score", "--as-of", "yesterday"])
    assert isinstance(r.exception, UsageError) and "ISO 8601" in str(r.exception) and r.exception.exit_code == 2
