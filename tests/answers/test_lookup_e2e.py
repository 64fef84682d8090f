"""End to end: score a small hand-built graph with the real engine, then look up, screen and report on it."""

from __future__ import annotations

import pytest
from support import scored_store as S

import chainrisk.engine.score as score_mod
from chainrisk.answers.lookup import BANDS, lookup
from chainrisk.answers.screen import screen


@pytest.fixture
def engine_scored(store):
    S.build(store, runs=False)
    summary = score_mod.score(store, "cn")
    return store, summary


def test_lookup_after_a_real_scoring_run(engine_scored):
    st, summary = engine_scored
    mule, subject, late = lookup(st, [S.MULE, S.SUBJECT, S.LATE])
    assert {r.provenance.run_id for r in (mule, subject, late)} == {summary.run_id}
    assert mule.status == subject.status == "ok"
    assert ("mixer", "in", "direct", 1) in [(e.category, e.direction, e.hop_class, e.min_hop) for e in mule.exposures]
    assert ("mixer", "in", "indirect", 2) in [
        (e.category, e.direction, e.hop_class, e.min_hop) for e in subject.exposures]
    # one more hop from the mixer is never worse
    assert BANDS.index(mule.risk_band) >= BANDS.index(subject.risk_band) >= BANDS.index("medium")
    assert mule.risk_score >= subject.risk_score > 0
    assert late.status == "ok" and late.risk_band == "none"
    assert mule.provenance.profile == "cn" and mule.provenance.as_of_block == 200


def test_screen_agrees_with_lookup(engine_scored, tmp_path):
    st, summary = engine_scored
    addrs = [S.MIXER, S.MULE, S.SUBJECT, S.CLEAN, S.EXCH, S.LATE, S.TRON, "junk"]
    rows = screen(st, addrs).arrow().to_pylist()
    found = lookup(st, addrs)
    assert [r["status"] for r in rows] == [r.status for r in found]
    assert [r["risk_band"] for r in rows] == [r.risk_band for r in found]
    assert [r["risk_score"] for r in rows] == [r.risk_score for r in found]
    assert [r["top_category"] for r in rows] == [r.top_category for r in found]
    assert [r["categories"] for r in rows][:6] == [";".join(r.categories) or None for r in found][:6]
    # the two verdicts and the action, as the engine wrote them, in both answers
    assert [r["illicit_band"] for r in rows] == [r.illicit.band for r in found]
    assert [r["vc_business_band"] for r in rows] == [r.vc_business.band for r in found]
    assert [r["action"] for r in rows] == [r.action for r in found]
    assert [r["illicit_score"] for r in rows] == [r.illicit.score for r in found]
    assert [r["vc_business_score"] for r in rows] == [r.vc_business.score for r in found]
    assert {r["run_id"] for r in rows} == {summary.run_id}


def test_explain_and_report_after_a_real_scoring_run(engine_scored, tmp_path):
    from chainrisk.answers.report import report

    st, _ = engine_scored
    [r] = lookup(st, S.SUBJECT, explain=True)
    mixer = [p for p in r.evidence or [] if p["category"] == "mixer"]
    assert mixer and [t["tx_hash"] for t in mixer[0]["transfers"]] == [S.TRANSFERS[0][0], S.TRANSFERS[1][0]]
    assert any("Tornado Cash: USDT pool" in p["sentence"] for p in mixer)   # evidence: the named paths
    # "Why" is the short summary by category, not the evidence list again
    assert not set(r.reasons()) & {p["sentence"] for p in r.evidence or []}
    assert r.reasons()[0].startswith("received") and "mixer" in r.reasons()[0]
    html = report(st, S.SUBJECT, tmp_path / "r.html").read_text(encoding="utf-8")
    assert S.TRANSFERS[0][0] in html and "Evidence subgraph" in html
