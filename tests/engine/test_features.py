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
