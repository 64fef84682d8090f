"""Random small transfer graphs for the property tests (hypothesis strategies) and the profile they run under."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from chainrisk.engine.score import Label
from chainrisk.profiles import load_profile

CN = load_profile("cn")
AMOUNTS = [0, 0.3, 1, 2.5, 10, 99.99, 100, 1234.56, None]   # None: a token without a USD peg
ILLICIT = ["mixer", "scam", "sanctions", "hack", "phishing"]
ANY = [*ILLICIT, "exchange", "defi", "gambling", "token_contract", "other"]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def graphs(draw, categories=ANY, n_min=2, n_max=10):
    n = draw(st.integers(n_min, n_max))
    m = draw(st.integers(1, 30))
    rows = []
    for i in range(m):
        u, v = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        blk = draw(st.integers(1, 12))
        gap = draw(st.sampled_from([12, 40_000]))
        rows.append((u, v, blk, i, 1_700_000_000 + blk * gap, draw(st.sampled_from(AMOUNTS))))
    labelled = draw(st.lists(st.integers(0, n - 1), max_size=3, unique=True))
    labels = [Label(a, draw(st.sampled_from(categories)), f"n{a}", draw(st.sampled_from([10, 20, 60, 100])), "t")
              for a in labelled]
    inert = draw(st.lists(st.integers(0, n - 1), max_size=1))
    return rows, labels, inert


def profile(hub_degree=3, decay=0.5, min_share=0.001):
    p = dataclasses.replace(CN.propagation, hub_degree=hub_degree, hop_decay=decay, min_share=min_share)
    return dataclasses.replace(CN, propagation=p)
