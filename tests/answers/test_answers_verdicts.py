"""The two verdicts and the action in every answer: lookup (JSON, table), screen CSV, report, the service's read
role; runs of an older engine (no axes) answered with null verdicts; the short "Why" summary."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from click.testing import CliRunner
from support import scored_store as S

import chainrisk
from chainrisk.answers.lookup import Exposure, Indicator, Label, lookup, why
from chainrisk.answers.screen import RESULT_COLUMNS, screen
from chainrisk.cli import cli

OLD_COLUMNS = ("input_row", "status", "address_normalized", "chain", "risk_score", "risk_band", "top_category",
               "categories", "min_hops", "direct_usd", "indirect_usd", "reason", "run_id", "duplicate_of_row")


@pytest.fixture
def scored(store):
    S.build(store)
    return store


def test_lookup_carries_both_verdicts_and_the_action(scored):
    subject, exch, mule = lookup(scored, [S.SUBJECT, S.EXCH, S.MULE])
    assert (subject.illicit.band, subject.vc_business.band, subject.action) == ("high", "medium", "sever_and_report")
    assert subject.illicit.confidence == "medium" and subject.illicit.top_category == "mixer"
    assert (exch.illicit.band, exch.vc_business.band, exch.action) == ("none", "high", "sever")
    assert (subject.risk_band, subject.risk_score) == ("high", 62.5)          # the combined view is unchanged
    d = subject.to_dict()
    assert list(d)[4:12] == ["risk_score", "risk_band", "reason", "top_category", "illicit", "vc_business",
                             "action", "categories"]
    assert set(d["illicit"]) == {"score", "band", "reason", "top_category", "confidence"}
    assert set(d["vc_business"]) == {"score", "band", "reason", "top_category"}
    inferred = [e for e in mule.exposures if e.inferred]
    assert [(e.category, e.min_hop) for e in inferred] == [("scam", 3)]
    assert "scam (inferred source)" in " ".join(mule.reasons())


def test_a_run_without_the_axes_has_null_verdicts_with_every_key(scored):
    [old] = lookup(scored, S.SUBJECT, run_id=S.R_OLD)
    assert old.status == "ok" and old.risk_band == "low" and old.action is None
    d = old.to_dict()
    assert d["illicit"] == {"score": None, "band": None, "reason": None, "top_category": None, "confidence": None}
    assert d["vc_business"] == {"score": None, "band": None, "reason": None, "top_category": None}
    [unknown, invalid] = lookup(scored, [S.LATE, "nope"])
    for r in (unknown, invalid):
        assert r.to_dict()["illicit"]["band"] is None and r.to_dict()["action"] is None


def test_screen_columns_come_after_the_old_ones(scored, tmp_path):
    assert RESULT_COLUMNS[: len(OLD_COLUMNS)] == OLD_COLUMNS
    assert RESULT_COLUMNS[len(OLD_COLUMNS):] == ("illicit_score", "illicit_band", "vc_business_score",
                                                   "vc_business_band", "action", "behaviour_score", "behaves_like",
                                                   "behaviour_features", "chains")
    res = screen(scored, [S.SUBJECT, S.EXCH, S.CLEAN, "junk"])
    rows = res.arrow().to_pylist()
    assert [(r["illicit_band"], r["vc_business_band"], r["action"]) for r in rows] == [
        ("high", "medium", "sever_and_report"), ("none", "high", "sever"), ("none", "none", "none"),
        (None, None, None)]
    assert [r["vc_business_score"] for r in rows] == [31.3, 70.0, 0.0, None]
    assert res.report["counts"]["action"] == {"none": 1, "review": 0, "sever": 1, "report": 0,
                                              "sever_and_report": 1}
    assert res.report["counts"]["illicit_band"]["high"] == 1
    old = screen(scored, [S.SUBJECT], run_id=S.R_OLD).arrow().to_pylist()[0]
    assert old["risk_band"] == "low" and old["illicit_band"] is None and old["action"] is None


def test_why_is_a_short_summary_with_small_categories_folded():
    exps = [Exposure("scam", "in", "direct", 6_000.0, 0.6, 1), Exposure("scam", "in", "indirect", 1_000.0, 0.1, 3),
            Exposure("mixer", "in", "indirect", 2_000.0, 0.2, 2), Exposure("exchange", "out", "direct", 900.0, 0.09, 1),
            Exposure("hack", "in", "indirect", 300.0, 0.03, 4), Exposure("gambling", "out", "direct", 200.0, 0.02, 1),
            Exposure("defi", "out", "indirect", 100.0, 0.01, 2), Exposure("mixer", "out", "direct", 10.0, 0.001, 1)]
    labels = [Label("sanctions", "SDN", "ofac", "v1", 60, None, None),
              Label("scam", "old", "crawl", "v0", 20, None, datetime(2022, 1, 1))]
    lines = why(labels, exps, [Indicator("pass_through", 40, {})])
    assert lines[0] == "labelled sanctions (SDN) by ofac v1, confidence 60"       # ended labels are history
    # scam's two hop classes are one line: 70% of incoming, nearest hop 1
    assert lines[1] == "received 7,000 USD from scam directly (70.0% of incoming)"
    assert lines[2].startswith("received 2,000 USD from mixer") and lines[3].startswith("sent 900 USD to exchange")
    # folded: a category also shown above (mixer, incoming) is named with its direction
    assert lines[4] == "and 4 smaller exposures (defi, gambling, hack, mixer (outgoing); 610 USD in all)"
    assert lines[5] == "behaviour: pass through (severity 40)" and len(lines) == 6
    assert why(labels, exps, [], sources=False)[0] == "labelled sanctions, confidence 60"


def test_table_view_and_report_show_the_action_and_both_verdicts(tmp_path):
    db = tmp_path / "v.duckdb"
    with chainrisk.open(db) as st:
        S.build(st)
    out = CliRunner().invoke(cli, ["--db", str(db), "lookup", S.SUBJECT], catch_exceptions=False).output
    lines = out.splitlines()
    assert "HIGH RISK" in lines[0] and "(combined)" in lines[0]
    assert lines[1] == "  action: SEVER AND REPORT"
    assert lines[2].split()[:5] == ["illicit", "activity:", "HIGH", "62.5", "mixer,"]
    assert "virtual-currency business: MEDIUM" in lines[4] and "exchange" in lines[4]
    old = CliRunner().invoke(cli, ["--db", str(db), "lookup", "--run", S.R_OLD, S.SUBJECT]).output
    assert "action:" not in old and "  sent to exchange" in old        # an older run: the combined reason
    with chainrisk.open(db) as st:
        html = chainrisk.report(st, S.SUBJECT, tmp_path / "r.html").read_text(encoding="utf-8")
        md = chainrisk.report(st, S.SUBJECT, tmp_path / "r.md").read_text(encoding="utf-8")
    assert "sever service and report a suspicious transaction" in html and "Virtual-currency business" in html
    assert "<h2>Why</h2>" in html and "## Why" in md
    assert "| Links to illegal activity | high risk | 62.5 | mixer | medium |" in md


def test_service_read_role_sees_the_verdicts_without_label_sources(tmp_path):
    """With the real engine: the verdicts reach the read role, and no reason names a label source or entity."""
    pytest.importorskip("fastapi")
    from support.service import Server

    from chainrisk.engine.score import score

    db = tmp_path / "svc.duckdb"
    with chainrisk.open(db) as st:
        S.build(st, runs=False)
        score(st, "cn")
    srv = Server(db, rate_limit=0)
    try:
        admin, read = srv.key("admin", "a"), srv.key("read", "r")
        for addr in (S.MIXER, S.MULE, S.SUBJECT, S.EXCH):
            full = srv.get(f"/v1/addresses/{addr}", admin).json()
            red = srv.get(f"/v1/addresses/{addr}", read).json()
            for axis in ("illicit", "vc_business"):   # the same verdict; an own-label reason without its confidence
                said_full = full[axis]["reason"] or ""
                assert red[axis] | {"reason": None} == full[axis] | {"reason": None}
                assert red[axis]["reason"] == (f"labelled {full[axis]['top_category']}"
                                               if said_full.startswith("labelled ") else full[axis]["reason"])
                assert "confidence" not in (red[axis]["reason"] or "")
            assert red["action"] == full["action"] and full["action"] is not None
            said = json.dumps([red["illicit"]["reason"], red["vc_business"]["reason"]])
            for secret in ("test-labels", "Tornado", "Example Exchange"):
                assert secret not in said, (addr, said)
        batch = srv.post("/v1/screen", read, json=[{"address": S.SUBJECT}]).json()["results"][0]
        single = srv.get(f"/v1/addresses/{S.SUBJECT}", read).json()
        assert batch["illicit"] == single["illicit"] and batch["action"] == single["action"]
    finally:
        srv.stop()
