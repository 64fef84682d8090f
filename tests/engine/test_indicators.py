"""Behavioural indicators on small hand-built graphs: each fires on its pattern, not on an ordinary look-alike."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from support.graphs import T0, add, addr, label

from chainrisk.engine.indicators import IndicatorParams, compute_indicators
from chainrisk.profiles import load_profile


def run(store, profile=None, **params):
    profile = profile or load_profile("fatf")
    compute_indicators(store, "r1", profile, params=IndicatorParams(**params))
    rows = store.execute(
        "SELECT a.address, i.indicator, i.severity, i.evidence FROM indicators i JOIN addresses a ON a.id = i.address_id"
        " WHERE run_id = 'r1' ORDER BY 1, 2"
    ).fetchall()
    return {(r[0], r[1]): (r[2], json.loads(r[3])) for r in rows}


def names(hits):
    inv = {addr(n): n for n in [f"s{i}" for i in range(40)] + list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
           + ["collector", "saver", "deposit", "ex", "hub", "pt", "keep", "slow", "fresh", "late", "near", "dust",
              "mix", "struct", "trader", "spread"]}
    return {(inv.get(a, a), ind) for a, ind in hits}


def test_collector_fires_on_funnel_not_on_saver_or_deposit_address(store):
    label(store, "ex", "exchange", "Binance 14")
    rows = []
    for i in range(12):  # 12 unrelated senders, 500 USDT each over two days
        rows.append((i * 4, f"s{i}", "collector", 500))
        rows.append((i * 4, f"s{i}", "saver", 500))
        rows.append((i * 4, f"s{i}", "deposit", 500))
    txs = add(store, rows)
    add(store, [
        (44 + 10, "collector", "X", 5_800),   # 10 h after the last inflow: fast
        (44 + 24 * 30, "saver", "Y", 1_000),  # a month later, most kept
        (44 + 1, "deposit", "ex", 6_000),     # sweeps to an exchange hot wallet
    ])
    hits = run(store)
    assert names(hits) == {("collector", "collector")}
    sev, ev = hits[(addr("collector"), "collector")]
    assert ev["distinct_senders"] == 12 and ev["sender_inflows"] == 12 and ev["recipients"] == 1
    assert ev["effective_senders"] == 12.0
    assert ev["inflow_usd"] == 6000 and ev["outflow_usd"] == 5800
    assert ev["forwarded_share"] == pytest.approx(5800 / 6000, abs=1e-4)
    # Little's law by hand: 500 more every 4 h for 44 h, then 6,000 held 10 h: (2000 * 66 + 60000) / 6000 = 32 h
    assert ev["mean_holding_hours"] == 32.0
    assert sev == 60  # base 60; no bonus: < 30 senders, mean holding above 24 h
    # Examples: the largest inflows, ties broken by time: the first three collector inflows.
    assert ev["example_tx_hashes"] == [txs[0], txs[3], txs[6]]
    assert ev["first_inflow"] == "2024-03-01T12:00:00Z"


def test_pass_through_fires_on_layering_hop_not_on_holder_or_slow_spender(store):
    add(store, [
        (0, "A", "pt", 20_000), (2, "pt", "B", 19_900),            # forwarded in 2 h, 100 left
        (0, "A", "keep", 20_000), (72, "keep", "B", 5_000),        # keeps most
        (0, "A", "slow", 20_000), (240, "slow", "B", 19_900),      # forwards after 10 days
    ])
    hits = run(store)
    assert names(hits) == {("pt", "pass_through")}
    sev, ev = hits[(addr("pt"), "pass_through")]
    assert (ev["inflow_usd"], ev["outflow_usd"], ev["residual_usd"]) == (20000, 19900, 100)
    assert ev["median_hold_minutes"] == 120.0
    assert sev == 45


def test_mixer_funded_fresh(store):
    label(store, "mix", "mixer", "Tornado Cash: USDT pool")
    add(store, [
        (0, "mix", "fresh", 1_000),                   # first-ever inflow from the mixer
        (0, "A", "near", 50), (2, "mix", "near", 900),  # mixer within 24 h of first activity
        (0, "A", "late", 50), (24 * 5, "mix", "late", 900),  # mixer five days later: not fresh
        (0, "mix", "dust", 0.5), (3, "A", "dust", 100),  # dust from the mixer does not count
    ])
    hits = run(store)
    assert names(hits) == {("fresh", "mixer_funded_fresh"), ("near", "mixer_funded_fresh")}
    sev, ev = hits[(addr("fresh"), "mixer_funded_fresh")]
    assert sev == 80 and ev["first_inflow_from_mixer"] is True
    assert ev["mixers"] == ["Tornado Cash: USDT pool"] and ev["mixer_inflow_usd"] == 1000
    sev2, ev2 = hits[(addr("near"), "mixer_funded_fresh")]
    assert sev2 == 65 and ev2["first_inflow_from_mixer"] is False


def test_structuring_fires_on_bunching_under_threshold_only(store):
    add(store, [
        (0, "struct", "A", 9_900), (30, "struct", "B", 9_800), (60, "struct", "C", 9_950),
        # a trader with three 9,500s among ordinary amounts around 10k: no bunching
        (0, "trader", "A", 9_500), (10, "trader", "B", 9_500), (20, "trader", "C", 9_500),
        (30, "trader", "D", 11_000), (40, "trader", "E", 12_000), (50, "trader", "F", 6_000),
        (60, "trader", "G", 14_000), (70, "trader", "H", 7_000),
        # three just-under payments spread over three months: not repeated within a week
        (0, "spread", "J", 9_900), (24 * 40, "spread", "K", 9_900), (24 * 80, "spread", "L", 9_900),
    ])
    hits = run(store)
    # Receivers A, B, C each got two just-under transfers (from struct and trader): below the count of 3.
    assert names(hits) == {("struct", "structuring")}
    sev, ev = hits[(addr("struct"), "structuring")]
    assert ev["direction"] == "out" and ev["threshold_usd"] == 10000
    assert ev["transfers_just_under"] == 3 and ev["max_in_window"] == 3 and ev["counterparties"] == 3
    assert sev == 45
    # A custom threshold list is honoured: with only 50,000 nothing is just under.
    store.execute("DELETE FROM indicators")
    assert run(store, structuring_thresholds_usd=(50_000.0,)) == {}


def test_hubs_and_stop_labelled_services_never_fire(store):
    rows = [(i * 4, f"s{i}", "hub", 500) for i in range(12)] + [(50, "hub", "X", 5_900)]
    rows += [(i * 4, f"s{i}", "ex", 500) for i in range(12)] + [(50, "ex", "Y", 5_900)]
    label(store, "ex", "exchange", "Some exchange")
    add(store, rows)
    prof = load_profile("fatf")
    small_hub = dataclasses.replace(prof, propagation=dataclasses.replace(prof.propagation, hub_degree=12))
    hits = run(store, small_hub)
    assert not any(n in ("hub", "ex") for n, _ in names(hits))
    # With the default hub degree the unlabelled collector is flagged; the exchange never is.
    store.execute("DELETE FROM indicators")
    assert ("hub", "collector") in names(run(store))
    assert not any(n == "ex" for n, _ in names(run(store)))


def test_deterministic_and_as_of(store):
    add(store, [(0, "A", "pt", 20_000), (2, "pt", "B", 19_900)])
    prof = load_profile("fatf")
    compute_indicators(store, "x", prof)
    compute_indicators(store, "y", prof)
    x = store.execute("SELECT address_id, indicator, severity, evidence FROM indicators WHERE run_id='x'").fetchall()
    y = store.execute("SELECT address_id, indicator, severity, evidence FROM indicators WHERE run_id='y'").fetchall()
    assert x == y and len(x) == 1
    # Before the outflow happened there is no pass-through.
    assert compute_indicators(store, "z", prof, as_of=T0 + timedelta(hours=1)) == 0


def test_collector_amounts_are_relative_and_holding_time_separates_merchant(store):
    """Victims whose payments grow to 20,000 USD are still 'relatively small' inflows of a collector (12 similar
    senders); a merchant with as many customers that pays out irregularly over weeks holds a balance and is not a
    collector; an address fed mostly by one sender, or spreading the money to as many wallets, is no funnel."""
    rows = []
    for i in range(12):
        rows.append((i * 2, f"s{i}", "collector", 5_000 + 1_000 * i))      # 5k .. 16k each
        rows.append((i * 2 + 1, f"s{i}", "collector", 8_000))
        rows.append((i * 24, f"s{i}", "M", 300))                          # merchant: one payment a day
        rows.append((i * 2, f"s{i}", "D", 100))                            # dominated: small dust-free inflows
        rows.append((i * 2, f"s{i}", "F", 1_000))                          # spreads to 12 wallets
    rows.append((1, "A", "D", 50_000))                                     # ... and one big sender
    total = sum(5_000 + 1_000 * i + 8_000 for i in range(12))
    add(store, rows)
    add(store, [
        (26, "collector", "X", total * 0.97),                           # forwarded 2 h after the last inflow
        (24 * 12 + 24 * 10, "M", "Y", 1_800), (24 * 40, "M", "Z", 1_700),  # payouts weeks later
        (30, "D", "X", 51_000),
    ] + [(26 + i, "F", f"s{(i + 1) % 12}", 950) for i in range(12)])
    hits = run(store)
    assert {n for n, ind in names(hits) if ind == "collector"} == {"collector"}
    sev, ev = hits[(addr("collector"), "collector")]
    assert ev["distinct_senders"] == 12 and ev["recipients"] == 1
    assert ev["mean_holding_hours"] < 24 and sev == 70  # fast: +10
    # The old absolute rule (each inflow at most 3,000 USD) would not have seen it.
    assert min(5_000 + 1_000 * i for i in range(12)) > 3_000
    # Each look-alike is stopped by its own condition: relaxing that one lets it through.
    for relaxed, who in (({"collector_window_h": 24 * 60}, "M"), ({"collector_min_effective_senders": 1.0}, "D"),
                         ({"collector_min_fan_in": 1.0}, "F")):
        store.execute("DELETE FROM indicators")
        assert (who, "collector") in names(run(store, **relaxed))


def test_short_lived_fires_on_an_emptied_throwaway_wallet_inside_the_data_window(store):
    d = 24  # hours per day
    add(store, [
        (0, "A", "B", 100), (120 * d, "B", "A", 100),                         # the data cover 120 days
        (50 * d, "C", "burner", 30_000), (53 * d, "burner", "D", 29_500),      # 3 days, emptied
        (50 * d, "C", "keep", 30_000), (53 * d, "keep", "D", 10_000),          # keeps most
        (40 * d, "C", "slow", 30_000), (85 * d, "slow", "D", 29_500),          # 45 days: not short-lived
        (2 * d, "C", "early", 30_000), (4 * d, "early", "D", 29_500),          # in the data's first month
        (110 * d, "C", "late", 30_000), (111 * d, "late", "D", 29_500),        # still in the last month
    ])
    hits = run(store)
    assert {a for a, ind in hits if ind == "short_lived"} == {addr("burner")}
    sev, ev = hits[(addr("burner"), "short_lived")]
    assert sev == 50 and ev["active_days"] == 3.0 and ev["forwarded_share"] == pytest.approx(29_500 / 30_000, abs=1e-4)
    assert ev["first_activity"] == "2024-04-20T12:00:00Z"
