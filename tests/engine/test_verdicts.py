"""Verdicts a bank can act on (issue 11), each situation on a small hand-built graph in a real store:
victim vs consolidator, purity over hop count (4- and 6-hop pure layering), a wrongly flagged busy merchant, a mule
with a clean past, and the two axes with their action. Times are hours after T0 (one block a minute).

Hand-computed values use the documented formula (docs/scoring.md): exposure = 0.9 * severity * sqrt(share),
indicator = 0.75 * severity, corroboration = noisy-OR; "at most medium" = 49.99 with the bundled bands.
cn severities: phishing 80, scam 80, mixer 85, exchange 70; fatf: phishing 75, scam 75, exchange 0.
"""

from __future__ import annotations

import json
import math

from support.graphs import add, addr, label

from chainrisk.engine.score import score
from chainrisk.profiles import load_profile


def expo(sev: float, share: float) -> float:
    return math.floor(0.9 * sev * math.sqrt(share) * 100 + 0.5) / 100


def verdict(store, name: str) -> dict:
    cur = store.execute(
        "SELECT s.* FROM scores s JOIN addresses a ON a.id = s.address_id WHERE a.address = ? AND s.run_id ="
        " (SELECT run_id FROM scoring_runs WHERE status = 'complete' ORDER BY created_at DESC, run_id DESC LIMIT 1)",
        [addr(name)])
    row = cur.fetchone()
    assert row is not None, name
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def indicators_of(store, name: str) -> dict[str, tuple[int, dict]]:
    rows = store.execute(
        "SELECT i.indicator, i.severity, i.evidence FROM indicators i JOIN addresses a ON a.id = i.address_id"
        " WHERE a.address = ? AND i.run_id = (SELECT max(run_id) FROM scoring_runs WHERE status = 'complete')",
        [addr(name)]).fetchall()
    return {r[0]: (r[1], json.loads(r[2])) for r in rows}


# -- victim vs consolidator ---------------------------------------------------------------------------------

def test_a_payer_of_phishing_is_a_possible_victim_a_consolidator_is_not(store):
    label(store, "P", "phishing", "Fake airdrop drainer")
    label(store, "MX", "mixer", "Tornado")
    add(store, [
        # the victim: earned 1,000 over weeks, paid 800 of it to the phishing address once
        (0, "employer", "victim", 1_000), (200, "victim", "P", 800), (300, "victim", "shop", 200),
        # the consolidator: collects victims' payments and passes them on to the phishing address within the hour
        (10, "v1", "cons", 600), (10.2, "v2", "cons", 700), (10.4, "v3", "cons", 500), (11, "cons", "P", 1_800),
        # paying a mixer is never a victim's act: full weight
        (0, "employer", "payer", 1_000), (100, "payer", "MX", 800), (106, "payer", "shop", 200),
    ])
    score(store, profile="cn")
    v = verdict(store, "victim")
    assert v["possible_victim"] is True
    assert v["illicit_band"] == "medium" and v["illicit_score"] == 49.99 < expo(80, 0.8)   # capped, not 64.4
    assert v["illicit_reason"].startswith("possible victim: 80.0% of outgoing funds to phishing, nearest directly")
    assert v["action"] == "review"                              # not reported
    c = verdict(store, "cons")
    assert "pass_through" in indicators_of(store, "cons")       # behaviour corroborates the payment
    assert c["possible_victim"] is False and c["illicit_band"] in ("high", "severe")
    assert c["illicit_score"] > expo(80, 1.0) and c["action"] == "report"
    assert "with behavioural indicator pass_through" in c["illicit_reason"]
    p = verdict(store, "payer")
    assert p["possible_victim"] is False and p["illicit_score"] == expo(85, 0.8) and p["illicit_band"] == "high"


# -- purity, not hop count ----------------------------------------------------------------------------------

def test_pure_layering_keeps_its_score_at_4_and_6_hops_and_only_confidence_drops(store):
    label(store, "S", "scam", "Investment fraud")
    chain = ["S", "h1", "h2", "h3", "h4", "h5", "h6"]
    add(store, [(i, chain[i], chain[i + 1], 10_000 - i) for i in range(6)])
    score(store, profile="fatf", indicators=False)
    want = expo(75, 1.0)                                        # 67.5: all of the money is the fraud's
    for name, conf in (("h1", "high"), ("h2", "medium"), ("h3", "medium"), ("h4", "low"), ("h6", "low")):
        v = verdict(store, name)
        assert (v["illicit_score"], v["illicit_band"], v["illicit_confidence"]) == (want, "high", conf), name
        assert v["action"] == "report"
    assert verdict(store, "h4")["illicit_reason"] == "100.0% of incoming funds from scam, nearest at 4 hops"
    assert verdict(store, "h6")["illicit_reason"] == "100.0% of incoming funds from scam, nearest at 6 hops"


def test_a_diluted_hop_scores_by_its_traced_share(store):
    label(store, "S", "scam", "Investment fraud")
    add(store, [(0, "S", "a", 1_000), (0, "x", "a", 3_000), (1, "a", "b", 4_000), (2, "b", "c", 4_000)])
    score(store, profile="fatf", indicators=False)
    c = verdict(store, "c")   # a passed on 25% fraud money; b passed it on whole: c is 25% at hop 3
    assert c["illicit_score"] == expo(75, 0.25) and c["illicit_reason"].startswith("25.0% of incoming funds")


# -- inferred sources: a wrongly flagged busy merchant ------------------------------------------------------

def busy_merchant(store) -> None:
    """An unlabelled shop paid by 14 customers within a day that pays it all on to two wallets within hours:
    the collector indicator flags it (wrongly, for the sake of the test)."""
    rows = [(i * 1.5, f"cust{i}", "shop", 300 + 10 * i) for i in range(14)]
    rows += [(22, "shop", "supplier", 2_500), (22.5, "shop", "mule", 2_000)]
    rows += [(23, "mule", "cashout", 1_990)]       # the mule passes its receipt through within the hour
    rows += [(30, "employer", "supplier", 2_500)]  # the supplier has other income
    add(store, rows)


def test_a_wrongly_flagged_merchant_cannot_taint_customers_and_suppliers_beyond_medium(store):
    busy_merchant(store)
    score(store, profile="cn")
    inferred = store.execute(
        "SELECT a.address, l.category, l.confidence, l.method, l.source, l.evidence FROM inferred_labels l"
        " JOIN addresses a ON a.id = l.address_id WHERE l.method = 'collector'").fetchall()
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in inferred] == [
        (addr("shop"), "scam", 10, "collector", "chainrisk:inferred")]
    assert json.loads(inferred[0][5])["indicator"] == "collector"
    shop = verdict(store, "shop")
    assert "scam" in shop["own_categories"]
    sup = verdict(store, "supplier")   # half of its income came from the flagged shop
    assert sup["illicit_band"] == "medium" and sup["illicit_confidence"] == "low"
    assert sup["illicit_reason"].endswith("(an unlabelled collector the engine inferred; heuristic)")
    assert sup["illicit_score"] == 49.99 < expo(80, 0.5)   # 50.91 uncapped would be high
    for i in range(14):
        cust = verdict(store, f"cust{i}")   # paid the shop: outgoing to an inferred source, a possible victim
        assert cust["illicit_band"] in ("low", "medium") and cust["action"] in ("none", "review")
    rows = store.execute(
        "SELECT e.inferred, e.category, e.direction FROM exposures e JOIN addresses a ON a.id = e.address_id"
        " WHERE a.address = ? AND e.run_id = ?", [addr("supplier"), sup["run_id"]]).fetchall()
    assert rows == [(True, "scam", "in")]


def test_exposure_to_an_inferred_source_with_a_corroborating_indicator_reaches_high(store):
    busy_merchant(store)
    score(store, profile="cn")
    mule = verdict(store, "mule")
    assert "pass_through" in indicators_of(store, "mule")
    assert mule["illicit_band"] in ("high", "severe") and mule["illicit_top_category"] == "scam"
    assert mule["illicit_score"] > 49.99


# -- forwarding judged per inflow: a mule with a clean past -------------------------------------------------

def test_a_mule_with_a_clean_past_is_caught_by_its_forwarding_not_hidden_by_its_history(store):
    label(store, "S", "scam", "Investment fraud")
    rows = []
    for k in range(10):   # ten months of ordinary life: salary in, spent over the following week
        rows += [(k * 720, "employer", "mule", 1_000), (k * 720 + 170, "mule", "grocer", 1_000)]
    rows += [(7_300, "S", "mule", 5_000), (7_301, "mule", "next", 4_950)]   # then: fraud money out within the hour
    add(store, rows)
    score(store, profile="cn", behaviour=False)   # the graph's verdict (ten months: the behaviour model would run)
    ind = indicators_of(store, "mule")
    assert "pass_through" not in ind          # judged over its whole history, the account looks ordinary
    sev, ev = ind["forwarding"]
    assert sev == 50 and ev["taint_usd"] == 5_000 and ev["forwarded_usd"] == 4_950 and ev["events"] == 1
    m = verdict(store, "mule")
    x = 0.9 * 80 * math.sqrt(5_000 / 15_000)  # 41.6: medium on exposure alone
    want = math.floor((100 * (1 - (1 - x / 100) * (1 - 0.75 * 50 / 100))) * 100 + 0.5) / 100
    assert m["illicit_score"] == want and m["illicit_band"] == "high" and m["action"] == "report"
    assert m["illicit_reason"].endswith("with behavioural indicator forwarding (severity 50)")
    # the grocer who was paid before the fraud money arrived is untouched
    assert verdict(store, "grocer")["illicit_score"] == 0.0


def test_forwarding_judges_the_illicit_taint_of_an_inflow_whole_across_categories(store):
    """A layering hop pools fraud, phishing and mixer money (a third each) and pays it to a mule with a clean
    past: no single category is half of the inflow, but all of it is illicit, and the mule passes it on."""
    label(store, "S", "scam", "Investment fraud")
    label(store, "P", "phishing", "Drainer")
    label(store, "MX", "mixer", "Tornado")
    rows = []
    for k in range(10):
        rows += [(k * 720, "employer", "mule", 1_000), (k * 720 + 170, "mule", "grocer", 1_000)]
    rows += [(7_300, "S", "hop", 2_000), (7_300.2, "P", "hop", 2_000), (7_300.4, "MX", "hop", 2_000),
             (7_301, "hop", "mule", 6_000), (7_302, "mule", "next", 5_950)]
    add(store, rows)
    score(store, profile="cn")
    sev, ev = indicators_of(store, "mule")["forwarding"]
    assert ev["taint_usd"] == 6_000 and ev["forwarded_usd"] == 5_950 and ev["hop"] == 2
    assert ev["category"] == "mixer" and ev["inferred"] is False   # equal parts: the first in the taxonomy
    assert sev == 50
    m = verdict(store, "mule")
    assert m["illicit_band"] == "high" and "with behavioural indicator forwarding" in m["illicit_reason"]


def test_forwarding_of_an_inferred_collectors_money_corroborates_the_exposure(store):
    """A mule paid by an unlabelled collector (inferred from its behaviour) that passes the money on within the
    hour: exposure to an inferred source alone is at most medium; the mule's own forwarding makes it high."""
    rows = [(i * 1.5, f"v{i}", "coll", 800 + 10 * i) for i in range(14)]   # 14 payers, passed on within hours
    rows += [(22, "coll", "mule", 6_000), (22.2, "coll", "mule2", 5_500)]
    for k in range(10):                                                    # the mule's clean past
        rows += [(k * 720 - 7_300, "employer", "mule", 1_000), (k * 720 - 7_130, "mule", "grocer", 1_000)]
    rows += [(22.5, "mule", "next", 5_950)]
    add(store, rows)
    score(store, profile="cn")
    assert "collector" in indicators_of(store, "coll")
    sev, ev = indicators_of(store, "mule")["forwarding"]
    assert sev >= 45
    assert (ev["category"], ev["inferred"], ev["hop"], ev["taint_usd"]) == ("scam", True, 1, 6_000)
    m = verdict(store, "mule")
    assert m["illicit_band"] in ("high", "severe") and m["illicit_confidence"] != "high"
    assert "forwarding" not in indicators_of(store, "mule2")   # kept the money: exposure alone
    assert verdict(store, "mule2")["illicit_score"] <= 49.99


def test_forwarding_does_not_fire_on_a_small_share_of_a_busy_inflow(store):
    label(store, "S", "scam", "Investment fraud")
    rows = [(i * 0.5, f"c{i}", "shop", 1_000) for i in range(20)]
    rows += [(5, "S", "shop", 1_500), (6, "shop", "supplier", 20_000)]
    add(store, rows)
    score(store, profile="cn")
    assert "forwarding" not in indicators_of(store, "shop")


# -- two axes and an action ---------------------------------------------------------------------------------

def test_exchange_customer_is_severed_under_cn_and_reviewed_at_most_under_fatf(store):
    label(store, "EX", "exchange", "Exchange hot wallet")
    label(store, "MX", "mixer", "Tornado")
    add(store, [(0, "EX", "cust", 1_000), (100, "cust", "shop", 900),
                (0, "MX", "dirty", 1_000), (1, "dirty", "EX", 1_000)])
    score(store, profile="cn")
    c = verdict(store, "cust")
    assert (c["vc_band"], c["vc_top_category"], c["illicit_band"], c["action"]) == ("high", "exchange", "none",
                                                                                  "sever")
    assert c["vc_reason"] == "100.0% of incoming funds from exchange, nearest directly"
    assert c["illicit_reason"] == "no links to illicit categories within 6 hops"
    assert c["score"] == c["vc_score"] and c["band"] == "high"   # the combined view
    d = verdict(store, "dirty")
    assert d["action"] == "sever_and_report" and d["illicit_top_category"] == "mixer"
    score(store, profile="fatf")
    assert verdict(store, "cust")["action"] == "none"
    assert verdict(store, "dirty")["action"] == "report"


def test_profile_axes_and_action_are_validated(tmp_path):
    import pytest

    from chainrisk.errors import InputError

    text = (load_profile.__globals__["_DIR"] / "fatf.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('sever_vc_at = "never"', 'sever_vc_at = "sometimes"'))
    with pytest.raises(InputError, match=r"\[action\] sever_vc_at = 'sometimes'"):
        load_profile(str(bad))
    bad.write_text(text.replace('illicit = ["sanctions"', 'illicit = ["crime", "sanctions"'))
    with pytest.raises(InputError, match=r"\[axes\] illicit: unknown key\(s\) crime"):
        load_profile(str(bad))
    p = load_profile("cn")
    assert p.action.decide("high", "medium") == "sever_and_report" and p.action.decide("medium", "low") == "review"
    assert load_profile("fatf").action.decide("low", "severe") == "review"


# -- RWA and issuers from the ledger ------------------------------------------------------------------------

def test_an_rwa_subscription_names_the_issuer_operations_address_and_its_investors(store):
    subs = [(0, "inv1", "ops", 100_000), (30, "inv2", "ops", 50_000)]           # USDC paid to the fund ...
    add(store, subs, token="USDC")
    add(store, [(2, "NULL", "inv1", 100_000), (31, "NULL", "inv2", 50_000),     # ... BUIDL minted to the payer
                (50, "inv1", "friend", 1_000)], token="BUIDL")
    add(store, [(1, "NULL", "treasury", 1_000_000), (3, "treasury", "shop", 10_000)])   # a USDT mint, unpaid
    add(store, [(0, "payer", "someone", 500)], token="USDC")                            # one payment is no pattern
    run = score(store, profile="cn")
    derived = {(r[0], r[1]): (r[2], r[3], r[4], json.loads(r[5])) for r in store.execute(
        "SELECT a.address, l.category, l.confidence, l.method, l.source, l.evidence FROM inferred_labels l"
        " JOIN addresses a ON a.id = l.address_id WHERE l.run_id = ?", [run.run_id]).fetchall()}
    conf, method, source, ev = derived[(addr("ops"), "rwa_issuer")]
    assert (conf, method, source, ev["subscribers"]) == (10, "subscription", "chainrisk:inferred", 2)
    assert ev["token"] == "USDC" and ev["mint"]["token"] == "BUIDL"
    for who in ("inv1", "inv2", "friend"):                     # holders: a mint or a transfer gave them BUIDL
        conf, method, source, ev = derived[(addr(who), "rwa_investor")]
        assert (conf, method, source, ev["token"]) == (100, "rwa_holder", "chainrisk:ledger", "BUIDL")
    assert derived[(addr("treasury"), "stablecoin_issuer")][:3] == (10, "issuer_mint", "chainrisk:inferred")
    assert not any(a in (addr("someone"), addr("shop")) for a, _ in derived)
    inv = verdict(store, "inv1")
    assert inv["vc_band"] == "high" and inv["illicit_band"] == "none" and inv["action"] == "sever"
    assert "rwa_investor" in inv["own_categories"]
    ops = verdict(store, "ops")
    assert ops["vc_top_category"] == "rwa_issuer" and ops["action"] == "sever"
    score(store, profile="fatf")
    assert verdict(store, "inv1")["action"] == "none"
