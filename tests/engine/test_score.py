"""The risk engine on small hand-built graphs with hand-computed answers: one test per trap, and the run's
bookkeeping (provenance, atomicity, determinism). Real DuckDB stores; labels inserted straight into `labels`.

Amounts are USDT (peg 1.0); block b has time 2024-01-01 + 12 s * b; log_index = position in the list.
Hand-computed scores use the documented formula: exposure = 0.9 * severity * sqrt(traced share) (the bundled
profiles' hop_decay is 1: the score follows the traced share, hops lower only the confidence shown),
own label = severity * min(1, 0.5 + confidence/100). cn severities: mixer 85, scam 80, sanctions 100,
blacklist 90, exchange 70.
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from support.scoring import add_label, add_transfers, addr, exposures_of, latest, score_of

import chainrisk
from chainrisk.engine.score import score
from chainrisk.errors import InputError
from chainrisk.profiles import load_profile
from chainrisk.taxonomy import NULL_ADDRESS


def expo(sev: float, share: float) -> float:
    return math.floor(0.9 * sev * math.sqrt(share) * 100 + 0.5) / 100


ENGINE = {"name": "array"}


@pytest.fixture(autouse=True, params=["array", pytest.param("sql", marks=pytest.mark.slow)])
def engine(request):
    """Every hand-computed answer below holds for the array engine and the SQL engine alike (``run``; the SQL
    engine's pass is marked slow: the edit loop has tests/engine/test_engines.py for it)."""
    ENGINE["name"] = request.param
    yield request.param
    ENGINE["name"] = "array"


def run(store, profile="cn", max_hops=None, **kw):
    return score(store, profile=profile, max_hops=max_hops, indicators=False, engine=ENGINE["name"], **kw)


def test_temporal_order_money_paid_out_before_dirty_money_arrived_is_clean(store):
    add_transfers(store, [("a", "early", 100, 5), ("mixer", "a", 100, 10), ("a", "late", 100, 20)])
    add_label(store, "mixer", "mixer")
    run(store)
    assert score_of(store, "early")["score"] == 0.0
    assert exposures_of(store, "early") == {}
    assert exposures_of(store, "late") == {("mixer", "in", "indirect"): (100.0, 1.0, 2)}
    # a: all it received came from the mixer; outgoing: it paid nobody risky
    assert exposures_of(store, "a") == {("mixer", "in", "direct"): (100.0, 1.0, 1)}
    late = score_of(store, "late")
    assert late["score"] == expo(85, 1.0)  # hop 2, all of it traced to the mixer: purity, not hop count
    assert late["reason"] == "100.0% of incoming funds from mixer, nearest at 2 hops"   # the percentage scored
    assert late["illicit_confidence"] == "medium" and score_of(store, "a")["illicit_confidence"] == "high"


def test_value_weighting_one_percent_from_a_mixer_is_not_a_mule(store):
    add_transfers(store, [("mixer", "a", 1, 1), ("x", "a", 99, 2), ("a", "b", 100, 3)])
    add_label(store, "mixer", "mixer")
    run(store)
    a = score_of(store, "a")
    assert a["score"] == expo(85, 0.01) and a["band"] == "low"
    assert exposures_of(store, "b") == {("mixer", "in", "indirect"): (1.0, 0.01, 2)}
    assert score_of(store, "b")["score"] == expo(85, 0.01)


def test_services_and_hubs_receive_exposure_but_never_pass_it_on(store):
    rows = [("scam", "ex", 100, 1), ("ex", "u", 100, 2), ("scam", "hub", 100, 3)]
    rows += [("hub", f"h{i}", 10, 4 + i) for i in range(4)]
    add_transfers(store, rows)
    add_label(store, "scam", "scam")
    add_label(store, "ex", "exchange", name="SomeExchange")
    cn = load_profile("cn")
    small_hubs = dataclasses.replace(cn, propagation=dataclasses.replace(cn.propagation, hub_degree=3))
    run(store, small_hubs)
    # the exchange is exposed to the scam; its customer is exposed to the exchange (cn), not to the scam
    assert ("scam", "in", "direct") in exposures_of(store, "ex")
    assert exposures_of(store, "u") == {("exchange", "in", "direct"): (100.0, 1.0, 1)}
    # the unlabelled hub (5 counterparties > 3) is exposed but stops propagation
    assert ("scam", "in", "direct") in exposures_of(store, "hub")
    assert all(score_of(store, f"h{i}")["score"] == 0.0 for i in range(4))
    # with a higher hub threshold the same address relays
    run(store, cn)
    assert exposures_of(store, "h0") == {("scam", "in", "indirect"): (10.0, 1.0, 2)}


def test_exchange_deposit_address_that_sweeps_to_a_hot_wallet_belongs_to_the_exchange(store):
    add_transfers(store, [
        ("scam", "dep", 100, 1), ("dep", "hot", 95, 2), ("dep", "r", 5, 3),       # sweeps 95% within 12 s
        ("scam", "slow", 100, 1), ("slow", "hot", 100, 1 + 8 * 3600),             # a day later: not a deposit
        ("user", "dep", 50, 4),
    ])
    add_label(store, "scam", "scam")
    add_label(store, "hot", "exchange", name="BigEx hot wallet", confidence=50)
    run(store)
    inferred = store.execute(
        "SELECT a.address, i.category, i.name, i.confidence FROM inferred_labels i JOIN addresses a"
        " ON a.id = i.address_id WHERE run_id = ?", [latest(store)]).fetchall()
    assert inferred == [(addr("dep"), "exchange", "BigEx hot wallet", 10)]
    dep = score_of(store, "dep")
    assert dep["own_categories"] == "exchange" and dep["min_hops"] == 0
    # own (inferred, confidence 10): 70 * 0.6 = 42; it paid 95% of its outflow to the exchange: higher
    assert dep["score"] == max(70 * 0.6, expo(70, 0.95), expo(80, 100 / 150))
    # the deposit address stops propagation: r is exposed to the exchange, not to the scam
    assert exposures_of(store, "r") == {("exchange", "in", "direct"): (5.0, 1.0, 1)}
    # a customer paying into the deposit address pays the exchange
    assert exposures_of(store, "user") == {("exchange", "out", "direct"): (50.0, 1.0, 1)}
    assert score_of(store, "slow")["own_categories"] is None


def test_null_address_never_carries_or_receives_risk(store):
    null = NULL_ADDRESS
    add_transfers(store, [(null, addr("a"), 1000, 1), (addr("a"), addr("b"), 100, 2),
                          (addr("b"), null, 50, 3), (addr("scam"), addr("b"), 10, 4)], raw=True)
    add_label(store, null, "blacklist", raw=True, confidence=100)   # as on Tether's list in real data
    add_label(store, "scam", "scam")
    run(store)
    n = score_of(store, null, raw=True)
    assert n["score"] == 0.0 and n["band"] == "none" and "not a counterparty" in n["reason"]
    a = score_of(store, "a")
    assert a["illicit_score"] == 0.0 and exposures_of(store, "a") == {}
    # a received a mint without paying for it: the ledger makes it an issuer operations address (heuristic)
    assert a["own_categories"] == "stablecoin_issuer" and a["vc_score"] == 70 * 0.6
    # b: scam exposure (and the issuer's money) only; the burn to the null address is volume but no exposure
    assert exposures_of(store, "b") == {("scam", "in", "direct"): (10.0, 10 / 110, 1),
                                        ("stablecoin_issuer", "in", "direct"): (100.0, 100 / 110, 1)}
    assert score_of(store, "b")["volume_out_usd"] == 50.0


def test_dust_and_zero_value_transfers_do_not_convict(store):
    add_transfers(store, [("scam", "v", 0.5, 1), ("scam", "v", 0, 2), ("v", "w", 0.99, 3),
                          ("x", "v", 100, 4), ("v", "w", 100, 5), ("scam", "edge", 1.0, 6)])
    add_label(store, "scam", "scam")
    run(store)
    assert score_of(store, "v")["score"] == 0.0 and exposures_of(store, "v") == {}
    assert exposures_of(store, "w") == {}
    # exactly the dust threshold (1 USD) carries
    assert exposures_of(store, "edge") == {("scam", "in", "direct"): (1.0, 1.0, 1)}


def test_cycles_terminate_and_never_exceed_the_volume(store):
    add_transfers(store, [("mixer", "a", 100, 1), ("a", "b", 100, 2), ("b", "a", 100, 3), ("a", "c", 100, 4)])
    add_label(store, "mixer", "mixer")
    run(store)
    # a: 100 direct, and the same money back from b at hop 3
    assert exposures_of(store, "a") == {("mixer", "in", "direct"): (100.0, 0.5, 1),
                                        ("mixer", "in", "indirect"): (100.0, 0.5, 3)}
    # c: a had received 200, 100 at hop 1 and 100 at hop 3 -> 50 at hop 2 + 50 at hop 4
    assert exposures_of(store, "c") == {("mixer", "in", "indirect"): (100.0, 1.0, 2)}
    assert score_of(store, "c")["score"] == expo(85, 1.0)


def test_five_hop_layering_chain_is_reached_with_the_default_k_not_k4(store):
    chain = ["scam", "h1", "h2", "h3", "h4", "h5"]
    add_transfers(store, [(chain[i], chain[i + 1], 100, i + 1) for i in range(5)])
    add_label(store, "scam", "scam")
    run(store, max_hops=4)
    assert score_of(store, "h5")["score"] == 0.0 and exposures_of(store, "h5") == {}
    assert exposures_of(store, "h4") == {("scam", "in", "indirect"): (100.0, 1.0, 4)}
    assert score_of(store, "h4")["score"] == expo(80, 1.0)
    run(store)   # the bundled profiles' K is 6
    assert exposures_of(store, "h5") == {("scam", "in", "indirect"): (100.0, 1.0, 5)}
    h5 = score_of(store, "h5")
    assert h5["score"] == expo(80, 1.0) == 72.0 and h5["illicit_confidence"] == "low"
    # the first hop of the chain is also exposed on the outgoing side? no: it paid nobody labelled
    assert ("scam", "out", "direct") not in exposures_of(store, "h1")


def test_sanctions_are_not_transitive_payer_vs_label(store):
    add_transfers(store, [("sdn", "p", 100, 1), ("sdn", "q", 10, 2), ("x", "q", 90, 3)])
    add_label(store, "sdn", "sanctions", source="ofac-sdn", confidence=60)
    run(store)
    sdn, p, q = score_of(store, "sdn"), score_of(store, "p"), score_of(store, "q")
    assert (sdn["score"], sdn["band"], sdn["own_categories"], sdn["min_hops"]) == (100.0, "severe", "sanctions", 0)
    # all of p's money came from the SDN address: exposed (overwhelmingly), not sanctioned
    assert p["own_categories"] is None and p["top_category"] == "sanctions" and p["min_hops"] == 1
    assert p["score"] == 90.0 < sdn["score"]
    # 10% from the SDN address: medium, far below the sanctioned address itself
    assert q["score"] == expo(100, 0.1) and q["band"] == "medium"


def test_mule_account_is_clean_before_it_received_dirty_money(store):
    add_transfers(store, [("x", "m", 100, 1), ("m", "y", 100, 2), ("scam", "m", 100, 3), ("m", "z", 100, 4)])
    add_label(store, "scam", "scam")
    run(store)
    assert score_of(store, "y")["score"] == 0.0
    # the haircut is on everything m had received before paying z: 100 of 200 was dirty
    assert exposures_of(store, "z") == {("scam", "in", "indirect"): (50.0, 0.5, 2)}
    assert exposures_of(store, "m") == {("scam", "in", "direct"): (100.0, 0.5, 1)}


def test_outgoing_direction_destination_of_funds(store):
    add_transfers(store, [("v", "s", 30, 1), ("v", "s2", 70, 2), ("u", "v", 100, 0), ("u", "v", 100, 3)])
    add_label(store, "s", "scam")
    run(store)
    assert exposures_of(store, "v") == {("scam", "out", "direct"): (30.0, 0.3, 1)}
    # u paid v 100 before v paid the scam (carries v's later outflow share 30/100), and 100 afterwards (clean)
    assert exposures_of(store, "u") == {("scam", "out", "indirect"): (30.0, 0.15, 2)}


def test_tokens_without_a_usd_peg_carry_no_value_but_the_address_is_scored(store):
    store.ensure_token("ethereum", "0x" + "ab" * 20, "NOPEG", 18)
    add_transfers(store, [("scam", "a", 100, 1)], token="NOPEG")
    add_label(store, "scam", "scam")
    run(store)
    a = score_of(store, "a")
    assert a is not None and a["score"] == 0.0 and a["volume_in_usd"] == 0.0


def test_unknown_addresses_have_no_score_row(store):
    add_transfers(store, [("a", "b", 10, 1)])
    add_label(store, "nowhere", "scam")
    run(store)
    assert score_of(store, "nowhere") is None
    assert score_of(store, "a")["band"] == "none"


def test_run_records_profile_params_as_of_and_label_sources(store):
    add_transfers(store, [("scam", "a", 10, 7)])
    add_label(store, "scam", "scam", source="test-list")
    store.execute("INSERT INTO label_sources (source, format, version, origin, sha256, rows, imported_at)"
                  " VALUES ('test-list', 'csv', '2026-11-01', 'list.csv', NULL, 1, now()::TIMESTAMP)")
    s = run(store, "fatf", max_hops=3)
    row = store.execute("SELECT status, profile, profile_json, params_json, as_of_block, as_of_time,"
                        " label_sources_json, n_addresses, finished_at FROM scoring_runs WHERE run_id = ?",
                        [s.run_id]).fetchone()
    status, prof, pj, params, blk, tm, srcs, n, fin = row
    assert (status, prof, blk, n) == ("complete", "fatf", 7, 2) and fin is not None
    assert tm.isoformat() == "2024-01-01T00:01:24"
    assert json.loads(pj)["severity"]["scam"] == 75
    assert json.loads(params)["max_hops"] == 3
    assert [(x["source"], x["version"]) for x in json.loads(srcs)] == [("test-list", "2026-11-01")]
    assert s.bands["high"] + s.bands["severe"] + s.bands["medium"] + s.bands["low"] + s.bands["none"] == 2


def test_same_store_and_parameters_give_byte_identical_results(store):
    rows = [(f"n{i % 7}", f"n{(i * 3 + 1) % 7}", 10 + i * 1.37, i + 1) for i in range(40)]
    add_transfers(store, [("mixer", "n0", 55.5, 0), *rows])
    add_label(store, "mixer", "mixer")
    a = run(store).run_id
    b = run(store).run_id
    assert a != b
    for table, order in (("scores", "address_id"), ("exposures", "address_id, category, direction, hop_class")):
        q = f"SELECT * EXCLUDE (run_id) FROM {table} WHERE run_id = ? ORDER BY {order}"
        ra, rb = store.execute(q, [a]).fetchall(), store.execute(q, [b]).fetchall()
        assert ra and repr(ra) == repr(rb)


def test_a_failed_run_is_marked_failed_and_earlier_runs_stay_intact(store):
    add_transfers(store, [("mixer", "a", 100, 1)])
    add_label(store, "mixer", "mixer")
    good = run(store).run_id

    def interrupt(msg: str) -> None:
        if msg.startswith("writing"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score(store, "cn", on_progress=interrupt)
    runs = dict(store.execute("SELECT run_id, status FROM scoring_runs").fetchall())
    failed = [r for r, s in runs.items() if s == "failed"]
    assert runs[good] == "complete" and len(failed) == 1
    assert store.execute("SELECT error FROM scoring_runs WHERE run_id = ?", failed).fetchone()[0]
    for table in ("scores", "exposures", "indicators"):
        assert store.execute(f"SELECT count(*) FROM {table} WHERE run_id = ?", failed).fetchone() == (0,)
    assert store.execute("SELECT count(*) FROM scores WHERE run_id = ?", [good]).fetchone() == (2,)
    assert latest(store) == good


def test_bad_hop_count_and_profile_are_input_errors(store):
    with pytest.raises(InputError, match="max hops"):
        run(store, max_hops=0)
    with pytest.raises(InputError, match="unknown profile"):
        run(store, "nope")


def test_indicators_are_folded_into_the_score(store):
    # a collector-like pattern; whatever indicators fire, the score is at least 0.6 x their severity
    rows = [(f"v{i}", "col", 50 + i, i + 1) for i in range(12)] + [("col", "out", 600, 20)]
    add_transfers(store, rows)
    s = score(store, "cn")
    ind = store.execute("SELECT address_id, max(severity) FROM indicators WHERE run_id = ? GROUP BY 1",
                        [s.run_id]).fetchall()
    for aid, sev in ind:
        (sc,) = store.execute("SELECT score FROM scores WHERE run_id = ? AND address_id = ?",
                              [s.run_id, aid]).fetchone()
        assert sc >= math.floor(0.6 * sev * 100 + 0.5) / 100 - 1e-9
    assert s.n_indicators == len(store.execute("SELECT * FROM indicators WHERE run_id = ?", [s.run_id]).fetchall())


def test_python_api_is_exported(store):
    add_transfers(store, [("a", "b", 10, 1)])
    assert chainrisk.score(store, "cn", indicators=False).status == "complete"
    import chainrisk.engine.score as mod  # importing the module keeps chainrisk.engine.score callable

    assert chainrisk.score(store, "fatf", indicators=False).profile == "fatf"
    assert mod.runs(store)[0]["profile"] == "fatf" and mod.runs(store) == store.runs()   # the store owns the registry


def test_cli_score_and_runs(tmp_path):
    from click.testing import CliRunner

    from chainrisk.cli import cli

    db = str(tmp_path / "cli.duckdb")
    with chainrisk.open(db) as st:
        add_transfers(st, [("mixer", "a", 100, 1), ("a", "b", 50, 2)])
        add_label(st, "mixer", "mixer")
    r = CliRunner().invoke(cli, ["--db", db, "score", "--profile", "fatf", "--max-hops", "2", "--format", "json",
                                 "--no-indicators"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["status"], out["profile"], out["max_hops"], out["n_addresses"]) == ("complete", "fatf", 2, 3)
    r = CliRunner().invoke(cli, ["--db", db, "runs", "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)[0]["run_id"] == out["run_id"]
    r = CliRunner().invoke(cli, ["--db", db, "score"])
    assert r.exit_code == 0 and "run_id" in r.stdout
    r = CliRunner().invoke(cli, ["--db", db, "score", "--max-hops", "0"])
    assert r.exit_code == 2


def test_empty_store_scores_nothing_and_completes(store):
    add_label(store, "scam", "scam")
    s = run(store)
    assert (s.status, s.n_addresses, s.n_exposures, s.as_of_block) == ("complete", 0, 0, None)
    assert store.execute("SELECT status FROM scoring_runs WHERE run_id = ?", [s.run_id]).fetchone() == ("complete",)


def test_tron_null_address_is_inert_on_tron(store):
    from chainrisk.address import tron_from_hex
    from chainrisk.taxonomy import TRON_NULL_ADDRESS

    assert tron_from_hex("41" + "00" * 20) == TRON_NULL_ADDRESS
    a, b = tron_from_hex("41" + "aa" * 20), tron_from_hex("41" + "bb" * 20)
    add_transfers(store, [(TRON_NULL_ADDRESS, a, 1000, 1), (a, b, 100, 2)], chain="tron", raw=True)
    # the TRON null address is on Tether's TRON blacklist in real data: its label must not spread
    add_label(store, TRON_NULL_ADDRESS, "blacklist", raw=True, chain="tron", confidence=100)
    run(store)
    n = score_of(store, TRON_NULL_ADDRESS, raw=True)
    assert n["score"] == 0.0 and "not a counterparty" in n["reason"]
    for x in (a, b):   # (a received the mint unpaid: the ledger calls it an issuer operations address)
        s = score_of(store, x, raw=True)
        assert s["illicit_score"] == 0.0 and "blacklist" not in (s["categories"] or "")
    assert store.execute("SELECT count(*) FROM exposures WHERE run_id = ? AND category = 'blacklist'",
                         [latest(store)]).fetchone()[0] == 0
