"""Evidence paths on small hand-built graphs: time order, service stop, dust, null address, hubs, hops,
determinism and the investigator's sentence."""

from __future__ import annotations

import dataclasses

import pytest
from support.graphs import add, addr, label

from chainrisk.engine.evidence import describe_path, evidence_paths, refresh_evidence_index
from chainrisk.engine.score import score
from chainrisk.errors import NoScoringRun, UsageError
from chainrisk.profiles import load_profile
from chainrisk.store import INDEXES as LOOKUP_INDEXES

MIXER = "Tornado Cash: USDT pool"


def scored(store, **propagation):
    """A real scoring run (fatf, indicators off) with ``propagation`` overrides; returns its id."""
    prof = load_profile("fatf")
    prof = dataclasses.replace(prof, propagation=dataclasses.replace(prof.propagation, **propagation))
    return score(store, profile=prof, indicators=False).run_id


@pytest.fixture
def graph(store):
    label(store, "M", "mixer", MIXER)
    label(store, "E", "exchange", "Binance 14")
    hashes = add(store, [
        (1, "M", "A", 10_000), (2, "A", "X", 9_000),       # 0,1: valid 2-hop path, bottleneck 9,000
        (5, "M", "B", 5_000), (3, "B", "X", 5_000),        # 2,3: B paid X before the mixer money arrived
        (1, "M", "E", 20_000), (2, "E", "X", 20_000),      # 4,5: through an exchange: stops
        (1, "M", "D", 0.5), (2, "D", "X", 100),            # 6,7: dust first hop
        (0, "M", "X", 0.3),                                # 8: dust direct
        (1, "M", "NULL", 7_000), (2, "NULL", "X", 7_000),  # 9,10: through the null address
        (10, "M", "X", 300),                               # 11: direct
        (0.5, "X", "A", 50),                               # 12: a cycle X -> A (earlier)
        (1, "M", "H", 8_000), (2, "H", "X", 8_000),        # 13,14: H is a hub (below)
    ] + [(3 + i, "H", f"h{i}", 10) for i in range(6)])
    scored(store, hub_degree=5)
    return hashes


def test_in_paths_respect_time_services_dust_null_and_hubs(store, graph):
    paths = evidence_paths(store, addr("X"), category="mixer", direction="in")
    # the nearest route (the exposure's min_hop, 1) leads, then the others by bottleneck
    assert [(p.n_hops, p.bottleneck_usd, p.nearest) for p in paths] == [(1, 300, True), (2, 9_000, False)]
    direct, via_a = paths
    assert via_a.share == 1.0 and direct.share == 1.0
    assert [h.tx_hash for h in via_a.hops] == [graph[0], graph[1]]
    assert [(h.from_address, h.to_address) for h in via_a.hops] == [(addr("M"), addr("A")), (addr("A"), addr("X"))]
    assert via_a.hops[0].from_labels[0].name == MIXER and via_a.hops[0].token == "USDT"
    assert via_a.counterparty == addr("M") and via_a.counterparty_label.category == "mixer"
    assert direct.hops[0].tx_hash == graph[11] and direct.hops[0].amount == 300
    assert describe_path(via_a) == f"received 9,000 USDT from {MIXER} via 1 intermediary, 2024-03-01"
    assert describe_path(direct) == f"received 300 USDT from {MIXER} directly, 2024-03-01"


def test_max_hops_and_top(store, graph):
    assert [p.n_hops for p in evidence_paths(store, addr("X"), category="mixer", direction="in", max_hops=1)] == [1]
    assert len(evidence_paths(store, addr("X"), category="mixer", direction="in", top=1)) == 1
    with pytest.raises(UsageError):
        evidence_paths(store, addr("X"), max_hops=9)


def test_five_hop_chain_is_beyond_four_hops(store):
    label(store, "M", "mixer", MIXER)
    add(store, [(1, "M", "c1", 1_000), (2, "c1", "c2", 990), (3, "c2", "c3", 980), (4, "c3", "c4", 970),
                (5, "c4", "Y", 960), (6, "c3", "Z", 500)])
    scored(store, max_hops=4)
    assert evidence_paths(store, addr("Y"), category="mixer", direction="in") == []
    [p] = evidence_paths(store, addr("Z"), category="mixer", direction="in")
    assert p.n_hops == 4 and p.bottleneck_usd == 500
    assert [h.to_address for h in p.hops] == [addr("c1"), addr("c2"), addr("c3"), addr("Z")]
    assert describe_path(p) == f"received 500 USDT from {MIXER} via 3 intermediaries, 2024-03-01"


def test_out_paths_follow_money_forward_in_time(store):
    label(store, "M", "mixer", MIXER)
    hashes = add(store, [(0, "Q", "M", 500), (1, "S", "Q", 1_000), (2, "Q", "M", 900), (3, "S", "W", 40)])
    scored(store)
    [p] = evidence_paths(store, addr("S"), direction="out", category="mixer")
    # Q's 500 to the mixer happened before S paid Q: only the 900 at hour 2 is downstream of S.
    assert [h.tx_hash for h in p.hops] == [hashes[1], hashes[2]]
    assert p.bottleneck_usd == 900 and p.direction == "out"
    assert describe_path(p) == f"sent 1,000 USDT to {MIXER} via 1 intermediary, 2024-03-01"


def test_deterministic_and_json(store, graph):
    a = [p.to_dict() for p in evidence_paths(store, addr("X"), category="mixer")]
    b = [p.to_dict() for p in evidence_paths(store, addr("X"), category="mixer")]
    assert a == b and a[1]["sentence"].startswith("received 9,000 USDT") and a[0]["nearest"] is True
    assert a[1]["transfers"][0]["time"] == "2024-03-01T13:00:00Z"


def test_categories_default_to_the_runs_exposures(store, graph):
    cats = store.execute(
        "SELECT DISTINCT e.category, e.direction FROM exposures e JOIN addresses a ON a.id = e.address_id"
        " WHERE a.address = ? ORDER BY ALL", [addr("X")]).fetchall()
    assert ("mixer", "in") in cats
    paths = evidence_paths(store, addr("X"))
    assert {(p.category, p.direction) for p in paths} == set(cats)
    # an address the run found no exposure for has no evidence paths
    assert evidence_paths(store, addr("h0")) == []


def test_refresh_is_incremental_and_errors_are_clear(store):
    with pytest.raises(NoScoringRun, match="chainrisk score"):
        evidence_paths(store, addr("X"))
    add(store, [(0, "A", "B", 10)])
    run1 = scored(store)
    # the scoring run built them (and the lookup indexes) at its end
    assert store.execute("SELECT run_id FROM evidence_meta").fetchall() == [(run1,)]
    assert {name for name, _, _ in LOOKUP_INDEXES} <= {r[0] for r in store.execute(
        "SELECT index_name FROM duckdb_indexes()").fetchall()}
    assert refresh_evidence_index(store) is False  # nothing changed
    assert refresh_evidence_index(store, force=True) is True
    add(store, [(1, "B", "C", 10)])
    assert refresh_evidence_index(store) is True
    assert refresh_evidence_index(store) is False

    def oid(table):
        return store.execute("SELECT table_oid FROM duckdb_tables() WHERE table_name = ?", [table]).fetchone()[0]

    # a label import and a new run: the transfer tables are reused, the per-run tables rebuilt
    scored(store)
    before = oid("evidence_in"), oid("evidence_labels")
    label(store, "A", "mixer", MIXER)
    run2 = scored(store)
    assert oid("evidence_in") == before[0] and oid("evidence_labels") != before[1]
    assert [p.counterparty for p in evidence_paths(store, addr("C"), run_id=run2)] == [addr("A")]
    # new transfers: rebuilt
    add(store, [(2, "C", "D", 10)])
    scored(store)
    assert oid("evidence_in") != before[0]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_paths_agree_with_the_engine_on_random_graphs(store, seed):
    """For every exposure the engine records, a path exists within its min_hop and none within min_hop - 1."""
    import random

    rnd = random.Random(seed)
    nodes = [f"n{i}" for i in range(18)]
    rows = [(rnd.randint(0, 200) / 4, rnd.choice(nodes), rnd.choice(nodes), rnd.randint(10, 1_000))
            for _ in range(70)]
    add(store, [r for r in rows if r[1] != r[2]] + [(rnd.randint(0, 200) / 4, "n0", "NULL", 50)])
    label(store, "n1", "mixer", MIXER)
    label(store, "n2", "scam", "Fake exchange")
    label(store, "n3", "exchange", "Binance 14")
    run = score(store, profile="fatf")
    checked = 0
    for a, c, d, h in store.execute(
            "SELECT address_id, category, direction, min(min_hop) FROM exposures WHERE run_id = ?"
            " GROUP BY ALL ORDER BY ALL", [run.run_id]).fetchall():
        paths = evidence_paths(store, a, category=c, direction=d, max_hops=h, top=50)
        assert paths and min(p.n_hops for p in paths) == h, (a, c, d, h)
        for p in paths:
            keys = [(x.block_number, x.log_index) for x in p.hops]
            assert keys == sorted(keys) and len(set(keys)) == len(keys)
        if h > 1:
            assert evidence_paths(store, a, category=c, direction=d, max_hops=h - 1) == []
        checked += 1
    assert checked > 5


def test_unknown_address_and_read_only_store_say_what_to_do(tmp_path):
    import chainrisk
    from chainrisk.errors import InputError

    path = tmp_path / "ro.duckdb"
    with chainrisk.open(path) as st:
        label(st, "M", "mixer", MIXER)
        add(st, [(1, "M", "A", 1_000), (2, "A", "X", 900)])
        scored(st)
        add(st, [(3, "X", "B", 50)])  # data newer than the tables the run built
    with chainrisk.open(path, read_only=True) as st, pytest.raises(UsageError, match="writable"):
        evidence_paths(st, addr("X"))
    with chainrisk.open(path) as st:  # writable: builds the tables once, then read-only works
        assert len(evidence_paths(st, addr("X"), category="mixer")) == 1
        with pytest.raises(InputError, match="no transfers"):
            evidence_paths(st, addr("nobody"))
    with chainrisk.open(path, read_only=True) as st:
        assert describe_path(evidence_paths(st, addr("X"), category="mixer")[0]).startswith("received 900 USDT")


def test_one_path_per_transfer_at_the_address(store):
    """Two mixer wallets paying the same intermediary, and a longer route, all end in X's one receipt: one piece
    of evidence per category (its best route), never the same transfer listed twice; another receipt is another
    path, and a route at the claimed nearest hop leads."""
    label(store, "M", "mixer", MIXER)
    label(store, "N", "mixer", "Tornado Cash: second pool")
    hashes = add(store, [
        (1, "M", "A", 5_000), (1.5, "N", "A", 4_000), (2, "A", "X", 8_000),   # 0..2: two routes, one receipt
        (0.5, "M", "B", 6_000), (1.2, "B", "A", 6_000),                      # 3,4: a 3-hop route into it
        (3, "N", "C", 1_000), (4, "C", "X", 900),                            # 5,6: another receipt
    ])
    scored(store)
    paths = evidence_paths(store, addr("X"), category="mixer", direction="in", top=5)
    got = [(p.hops[-1].tx_hash, p.n_hops, p.counterparty) for p in paths]
    # a nearest (2-hop) route leads; X's 8,000 receipt appears once, by its best route (via B: bottleneck 6,000)
    assert got == [(hashes[6], 2, addr("N")), (hashes[2], 3, addr("M"))]
    assert [p.nearest for p in paths] == [True, False]
    assert [round(p.share, 4) for p in paths] == [1.0, 0.75]               # 6,000 of the 8,000 receipt


def test_the_nearest_path_has_exactly_the_claimed_hop_count_even_when_longer_routes_are_bigger(store):
    """The demo's mule: its exposure says min hop 2, but three large 3-hop routes used to fill the top 3 and hide
    the small 2-hop one. The nearest route now leads, time-ordered, with exactly the claimed hops."""
    label(store, "S", "scam", "Investment fraud")
    rows = [(1, "S", "a", 200), (2, "a", "X", 150)]                            # the 2-hop route: small
    for i in range(3):                                                          # three big 3-hop routes
        rows += [(1 + i, "S", f"b{i}", 20_000), (1.5 + i, f"b{i}", f"c{i}", 20_000), (2 + i, f"c{i}", "X", 20_000)]
    add(store, rows)
    run = scored(store)
    (h,) = store.execute(
        "SELECT min(e.min_hop) FROM exposures e JOIN addresses a ON a.id = e.address_id WHERE a.address = ?"
        " AND e.run_id = ? AND e.category = 'scam' AND e.direction = 'in'", [addr("X"), run]).fetchone()
    assert h == 2
    paths = evidence_paths(store, addr("X"), category="scam", direction="in", top=3)
    assert paths[0].nearest and paths[0].n_hops == h and paths[0].bottleneck_usd == 150
    assert [p.n_hops for p in paths] == [2, 3, 3] and not any(p.nearest for p in paths[1:])
    for p in paths:
        keys = [(x.block_number, x.log_index) for x in p.hops]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
    receipts = [p.hops[-1].tx_hash for p in paths]
    assert len(set(receipts)) == len(receipts)


def test_a_run_can_leave_the_fast_reads_to_the_first_lookup(store):
    label(store, "M", "mixer", MIXER)
    add(store, [(1, "M", "A", 1_000), (2, "A", "X", 900)])
    run = score(store, profile="fatf", indicators=False, prepare_reads=False)
    assert store.execute("SELECT count(*) FROM evidence_meta").fetchone()[0] == 0
    assert "fast_reads" not in run.timings_s
    assert len(evidence_paths(store, addr("X"), category="mixer")) == 1  # built lazily
    assert store.execute("SELECT run_id FROM evidence_meta").fetchall() == [(run.run_id,)]
