"""The behaviour features (chainrisk/engine/features.py): hand-computed values on a small graph, independence of
the input row order, and the definitions' documentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chainrisk.engine.features import FEATURES, FEATURES_VERSION, INDEX, compute_features, service_masks

M = 1_000_000


def graph() -> tuple[np.ndarray, ...]:
    # 0 -> 1: 100 USD at t=0; 2 -> 1: 50 at 1 h; 1 -> 3: 150 at 2 h; 1 -> 3: zero value at 25 h; 4 -> 1: 0.5 USD
    src = np.array([0, 2, 1, 1, 4])
    dst = np.array([1, 1, 3, 3, 1])
    rank = np.array([0, 1, 2, 3, 4])
    usd = np.array([100 * M, 50 * M, 150 * M, 0, M // 2])
    tm = np.array([0, 3600, 7200, 90_000, 90_000])
    return src, dst, rank, usd, tm


def feats(order: np.ndarray | None = None) -> np.ndarray:
    src, dst, rank, usd, tm = graph()
    if order is not None:
        src, dst, rank, usd, tm = (x[order] for x in (src, dst, rank, usd, tm))
    exchange, service = service_masks(6, [(3, "exchange")], np.empty(0, np.int64), np.zeros(6, bool))
    return compute_features(src, dst, rank, usd, tm, 6, exchange, service)


def test_hand_computed_values_of_the_middle_address() -> None:
    x = feats()[1]

    def raw(name: str) -> float:
        v = x[INDEX[name]]
        return float(np.expm1(v)) if next(f for f in FEATURES if f.name == name).transform == "log1p" else float(v)

    assert raw("n_in") == pytest.approx(3) and raw("n_out") == pytest.approx(2)
    assert raw("senders") == pytest.approx(3) and raw("recipients") == pytest.approx(1)
    assert raw("in_usd") == pytest.approx(150) and raw("out_usd") == pytest.approx(150)   # dust left out of value
    assert raw("in_min_usd") == pytest.approx(50) and raw("in_max_usd") == pytest.approx(100)
    assert raw("leftover_share") == pytest.approx(0.0)
    # balance 100 USD for 1 h, 150 USD for 1 h, then 0: 250 USD.h / 150.5 USD received (dust included)
    assert raw("hold_hours") == pytest.approx(250 / 150.5)
    assert raw("fast_out_share") == pytest.approx(1.0)
    assert raw("span_days") == pytest.approx(90_000 / 86_400)
    assert raw("active_days") == pytest.approx(2)
    assert raw("round_share") == pytest.approx(1 / 3)               # 100 of (100, 50, 150)
    assert raw("top_sender_share") == pytest.approx(100 / 150)
    assert raw("eff_senders") == pytest.approx(1 / ((2 / 3) ** 2 + (1 / 3) ** 2))
    assert raw("top_recipient_share") == pytest.approx(1.0)
    assert raw("out_exchange_share") == pytest.approx(1.0) and raw("in_exchange_share") == 0.0
    assert raw("exchange_counterparty") == 1.0
    assert raw("zero_share") == pytest.approx(1 / 5) and raw("dust_share") == pytest.approx(1 / 5)
    # gaps 1 h, 1 h, 23 h, 0 h: one of four under an hour; the longest 23 h of a 25 h span
    assert raw("burst_share") == pytest.approx(1 / 4)
    assert raw("max_gap_share") == pytest.approx(23 / 25)


def test_rows_do_not_depend_on_the_input_order_and_silent_addresses_are_zero() -> None:
    a = feats()
    b = feats(np.array([3, 1, 4, 0, 2]))
    assert np.array_equal(a, b)
    assert not a[5].any() and a[1].any()


def test_every_feature_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "behaviour.md").read_text(encoding="utf-8")
    assert f"definitions version {FEATURES_VERSION}" in doc
    for f in FEATURES:
        assert f"`{f.name}`" in doc, f.name
    assert 20 <= len(FEATURES) <= 40


# -- a plain-Python reference of the definitions, on random graphs ----------------------------------------------

from collections import defaultdict  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def reference(rows: list[tuple[int, int, int, int, int]], n: int, exchange: set[int]) -> dict[int, dict[str, float]]:
    """Per address: a few features straight from their definitions (rows: src, dst, rank, micro-USD, time)."""
    out: dict[int, dict[str, float]] = {}
    ev: dict[int, list[tuple[int, int, int, int, int]]] = defaultdict(list)   # (rank, dir, usd, time, cp)
    for s, d, r, u, t in rows:
        ev[d].append((r, 0, u, t, s))
        ev[s].append((r, 1, u, t, d))
    for a, es in ev.items():
        es.sort(key=lambda e: (e[0], e[1]))
        ins = [e for e in es if e[1] == 0]
        outs = [e for e in es if e[1] == 1]
        vin = sum(e[2] for e in ins if e[2] >= M) / M
        vout = sum(e[2] for e in outs if e[2] >= M) / M
        times = [e[3] for e in es]
        by_sender: dict[int, float] = defaultdict(float)
        for e in ins:
            by_sender[e[4]] += e[2] / M if e[2] >= M else 0.0
        by_recipient: dict[int, float] = defaultdict(float)
        for e in outs:
            by_recipient[e[4]] += e[2] / M if e[2] >= M else 0.0
        # holding: balance (floored at 0) held between consecutive events
        bal, integ = 0.0, 0.0
        for i, e in enumerate(es):
            if i:
                integ += max(bal, 0.0) * max(e[3] - es[i - 1][3], 0)
            bal += e[2] / M if e[1] == 0 else -e[2] / M
        in_all = sum(e[2] for e in ins) / M
        out[a] = {
            "n_in": len(ins), "n_out": len(outs), "senders": len(by_sender), "recipients": len(by_recipient),
            "in_usd": vin, "out_usd": vout,
            "leftover_share": (vin - vout) / max(vin, vout) if max(vin, vout) > 0 else 0.0,
            "span_days": (max(times) - min(times)) / 86_400,
            "active_days": len({t // 86_400 for t in times}),
            "top_sender_share": max(by_sender.values()) / vin if vin > 0 else 0.0,
            "eff_recipients": vout**2 / sum(v * v for v in by_recipient.values()) if vout > 0 else 0.0,
            "hold_hours": integ / in_all / 3600 if in_all > 0 else 0.0,
            "exchange_counterparty": float(any(e[4] in exchange for e in es)),
            "zero_share": sum(1 for e in es if e[2] == 0) / len(es),
        }
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7), st.sampled_from([0, 1, M // 2, 5 * M, 100 * M, 1234 * M]),
                          st.integers(0, 200_000)), min_size=1, max_size=40))
def test_the_feature_pass_agrees_with_the_plain_definitions(raw):
    rows = [(s, d, i, u, 1_700_000_000 + dt * (i + 1)) for i, (s, d, u, dt) in enumerate(raw) if s != d]
    if not rows:
        return
    # times in chain order never go back (as block times): cumulative gaps
    acc, fixed = 1_700_000_000, []
    for s, d, r, u, _t in rows:
        acc += raw[r][3]
        fixed.append((s, d, r, u, acc))
    src, dst, rank, usd, tm = (np.array(c, np.int64) for c in zip(*fixed, strict=True))
    exchange_ids = {7}
    ex, svc = service_masks(8, [(7, "exchange")], np.empty(0, np.int64), np.zeros(8, bool))
    x = compute_features(src, dst, rank, usd, tm, 8, ex, svc)
    ref = reference(fixed, 8, exchange_ids)
    for a, want in ref.items():
        for name, v in want.items():
            got = float(x[a, INDEX[name]])
            f = next(f for f in FEATURES if f.name == name)
            got = float(np.expm1(got)) if f.transform == "log1p" else got
            assert got == pytest.approx(v, rel=1e-6, abs=1e-6), (a, name, got, v)   # log1p/expm1, running sums
