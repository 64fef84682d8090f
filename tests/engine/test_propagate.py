"""Property tests of the risk engine on small random graphs, and exact agreement with the networkx reference.

The engine (chainrisk.engine.score.compute over chainrisk.engine.propagate) and the reference (the reference in tests/support/reference.py) share only
the constants; they must give identical exposure and score rows (integer micro-USD, identical float operations).
"""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.engines import propagator
from support.graphs_random import ILLICIT, SETTINGS, graphs, profile
from support.reference import reference_compute
from support.scoring import add_label, add_transfers, addr

from chainrisk.engine import model
from chainrisk.engine.behaviour import behaviour_part, load_model, logit
from chainrisk.engine.model import roles
from chainrisk.engine.propagate import _Direction
from chainrisk.engine.score import Label, compute, inputs_from_rows, load_inputs, score
from chainrisk.profiles import load_profile

CN = load_profile("cn")


@pytest.mark.parametrize(("engine", "sparse"), [("array", 0), ("array", 10**9), ("sql", 0)])
@SETTINGS
@given(g=graphs(), k=st.integers(1, 7), hub=st.sampled_from([2, 3, 500]), decay=st.sampled_from([0.5, 0.3, 1.0]),
       ind=st.dictionaries(st.integers(0, 9), st.lists(st.tuples(
           st.sampled_from(["collector", "pass_through", "structuring"]), st.sampled_from([35, 60, 80])),
           min_size=1, max_size=2), max_size=4),
       fwd_min=st.sampled_from([1.0, 50.0, 1000.0]))
def test_engine_agrees_exactly_with_the_networkx_reference(engine, sparse, g, k, hub, decay, ind, fwd_min):
    """Collectors become inferred sources, pass_through corroborates a payer, forwarding fires per inflow; the
    array engine (both prefix-sum paths) and the SQL engine alike."""
    rows, labels, inert = g
    indicators = dict(ind)
    old = _Direction.SPARSE
    _Direction.SPARSE = sparse   # exercise both prefix-sum paths
    old_fwd = model.FORWARDING
    model.FORWARDING = dataclasses.replace(old_fwd, min_usd=fwd_min)
    try:
        inp = inputs_from_rows(rows, labels, inert)
        prof = profile(hub, decay)
        a = compute(inp, prof, k, indicators, propagator=propagator(engine))
        b = reference_compute(inp, prof, k, indicators)
    finally:
        _Direction.SPARSE = old
        model.FORWARDING = old_fwd
    assert a.exposure_rows() == b.exposure_rows()
    assert a.score_rows() == b.score_rows()
    assert a.inferred == b.inferred and a.indicators == b.indicators


@SETTINGS
@given(g=graphs(), k=st.integers(1, 5))
def test_scores_are_within_bounds_and_banded_by_the_profile(g, k):
    res = compute(inputs_from_rows(*g), CN, k)
    for sc, band in zip(res.scores["score"].tolist(), res.scores["band"].tolist(), strict=True):
        assert 0.0 <= sc <= 100.0 and band == CN.band(sc)
    assert all(0.0 < s <= 1.0 for s in res.exposures["share"].tolist())


@SETTINGS
@given(g=graphs(), k=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_order_of_input_rows_is_irrelevant(g, k, seed):
    rows, labels, inert = g
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    a = compute(inputs_from_rows(rows, labels, inert), CN, k)
    b = compute(inputs_from_rows(shuffled, list(reversed(labels)), inert), CN, k)
    assert a.exposure_rows() == b.exposure_rows()
    assert a.score_rows() == b.score_rows()


@SETTINGS
@given(g=graphs(categories=ILLICIT), k=st.integers(1, 5), new=st.integers(0, 9), cat=st.sampled_from(ILLICIT),
       conf=st.sampled_from([20, 60]))
def test_adding_a_risky_source_never_lowers_a_score(g, k, new, cat, conf):
    rows, labels, inert = g
    n = max(max(r[0], r[1]) for r in rows) + 1
    before = compute(inputs_from_rows(rows, labels, inert), CN, k)
    more = [*labels, Label(new % n, cat, None, conf, "t2")]
    after = compute(inputs_from_rows(rows, more, inert), CN, k)
    b = dict(zip(before.scores["addr"].tolist(), before.scores["score"].tolist(), strict=True))
    a = dict(zip(after.scores["addr"].tolist(), after.scores["score"].tolist(), strict=True))
    assert a.keys() == b.keys()
    assert all(a[x] >= b[x] for x in b), [(x, b[x], a[x]) for x in b if a[x] < b[x]]


@SETTINGS
@given(g1=graphs(), g2=graphs(categories=ILLICIT), k=st.integers(1, 5))
def test_addresses_disconnected_from_every_source_score_zero(g1, g2, k):
    rows1, labels, inert = g1
    off = 100   # the second component: disjoint address ids, no labels
    rows2 = [(u + off, v + off, b, li + 1000, t, amt) for u, v, b, li, t, amt in g2[0]]
    res = compute(inputs_from_rows(rows1 + rows2, labels, inert), CN, k)
    alone = {x for r in rows2 for x in r[:2]}
    scores = dict(zip(res.scores["addr"].tolist(), res.scores["score"].tolist(), strict=True))
    assert all(scores[x] == 0.0 for x in alone)
    assert not alone & set(res.exposures["addr"].tolist())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stored_run_agrees_with_the_reference(store, seed):
    rnd = random.Random(seed)
    names = [f"a{i}" for i in range(12)]
    rows = [(rnd.choice(names), rnd.choice(names), rnd.choice([0.5, 3, 10, 250.25, 1000]), rnd.randint(1, 30))
            for _ in range(60)]
    add_transfers(store, [r for r in rows if r[0] != r[1]])
    add_label(store, "a0", "mixer")
    add_label(store, "a1", "exchange")
    add_label(store, "a2", "sanctions")
    run = score(store, "cn", indicators=False)
    ref = reference_compute(load_inputs(store), CN, CN.propagation.max_hops, forwarding=False)
    got = {r[0]: r[1:] for r in store.execute(
        "SELECT address_id, score, band, top_category, categories, min_hops, direct_usd, indirect_usd"
        " FROM scores WHERE run_id = ?", [run.run_id]).fetchall()}
    s = ref.scores
    want = {a: (sc, b, tc, c, mh, d / 1e6, i / 1e6) for a, sc, b, tc, c, mh, d, i in zip(
        s["addr"], s["score"], s["band"], s["top_category"], s["categories"], s["min_hops"], s["direct_usd"],
        s["indirect_usd"], strict=True)}
    assert got == want
    (n,) = store.execute("SELECT count(*) FROM exposures WHERE run_id = ?", [run.run_id]).fetchone()
    assert n == len(ref.exposure_rows())
    assert store.execute("SELECT count(*) FROM addresses WHERE address = ?", [addr("a0")]).fetchone() == (1,)


@SETTINGS
@given(g=graphs(categories=ILLICIT), k=st.integers(1, 5), prior=st.sampled_from([0.05, 0.3, 0.7, 0.95]),
       corro=st.sampled_from([0.0, 20.0, 60.0]), alone=st.sampled_from(["low", "medium", "severe"]),
       ind=st.dictionaries(st.integers(0, 9), st.tuples(st.sampled_from(["pass_through", "structuring"]),
                                                         st.sampled_from([35, 80])), max_size=3))
def test_the_behaviour_part_combines_exactly_as_the_reference_says(g, k, prior, corro, alone, ind):
    """The behaviour part joins the illicit axis as in the reference: alone up to the profile's band, as a
    noisy-OR with an illicit exposure or indicator from corroborate_at, never with an own label or a victim."""
    rows, labels, inert = g
    inp = inputs_from_rows(rows, labels, inert)
    base = load_model()
    mdl = dataclasses.replace(base, prior_shift=logit(prior) - logit(base.doc["model"]["train_prior"]))
    prof = dataclasses.replace(CN, behaviour=dataclasses.replace(CN.behaviour, corroborate_at=corro,
                                                                 alone_at_most=alone))
    part = behaviour_part(inp, roles(inp, prof), prof, mdl).part
    a = compute(inp, prof, k, dict(ind), behaviour=mdl)
    b = reference_compute(inp, prof, k, dict(ind), behaviour=dict(enumerate(part.tolist())))
    assert a.score_rows() == b.score_rows()
    off = compute(inp, prof, k, dict(ind))
    on = dict(zip(a.scores["addr"].tolist(), a.scores["illicit_score"].tolist(), strict=True))
    # the part only adds evidence: no illicit score is lower with it
    assert all(on[x] >= s for x, s in zip(off.scores["addr"].tolist(), off.scores["illicit_score"].tolist(),
                                          strict=True))
