"""The exposure rows one hop at a time (ExposureFold, the SQL engine's way) equal those of every hop at once
(aggregate, the array engine's), bit for bit, on random hop exposures; hops out of order are refused."""

from __future__ import annotations

import numpy as np
import pytest

from chainrisk.engine.aggregate import ExposureFold, aggregate
from chainrisk.engine.propagate import HopExposure


def _hops(seed: int, n: int) -> list[HopExposure]:
    rng = np.random.default_rng(seed)
    out = []
    for key in ("scam", "mixer", "scam:inferred", "exchange"):
        for direction in ("in", "out"):
            for hop in range(1, int(rng.integers(1, 7)) + 1):
                if rng.random() < 0.15:
                    continue
                addr = np.sort(rng.choice(n, size=int(rng.integers(1, n // 2)), replace=False)).astype(np.int64)
                usd = rng.integers(0, 10**9, size=addr.size).astype(np.int64)
                out.append(HopExposure(key, direction, hop, addr, usd))
    return out


@pytest.mark.parametrize("seed", range(8))
def test_fold_equals_aggregate(seed: int) -> None:
    n = 300
    rng = np.random.default_rng(1000 + seed)
    vin = rng.integers(0, 10**10, size=n).astype(np.int64)
    vout = rng.integers(0, 10**10, size=n).astype(np.int64)
    vin[::7] = 0
    decay, min_share = [(1.0, 0.0), (0.7, 0.01), (0.5, 0.05)][seed % 3]
    hops = _hops(seed, n)
    fold = ExposureFold(decay)
    # as the SQL engine fetches them: per direction, hop by hop, every key of that hop
    for h in sorted(hops, key=lambda h: (h.direction, h.hop)):
        fold.add(h)
    got = fold.rows(vin, vout, min_share)
    want = aggregate(list(hops), vin, vout, decay, min_share, n)
    assert got["addr"].size > 0
    assert set(got) == set(want)
    for k in want:
        assert got[k].dtype == want[k].dtype, k
        assert np.array_equal(got[k], want[k]), k
        if got[k].dtype.kind == "f":
            assert got[k].tobytes() == want[k].tobytes(), k   # the same bits, not only equal values
    key = (((want["addr"] * 64 + want["cat"]) * 2 + want["inf"]) * 2 + want["dir"]) * 2 + want["cls"]
    assert np.all(np.diff(key) > 0)   # sorted, one row per (address, category, inferred, direction, class)
    assert np.all(want["usd"] > 0) and np.all(want["share"] >= min_share)


def test_fold_refuses_hops_out_of_order() -> None:
    fold = ExposureFold(1.0)
    a = np.array([1, 2], np.int64)
    fold.add(HopExposure("scam", "in", 2, a, a))
    with pytest.raises(ValueError, match="hop order"):
        fold.add(HopExposure("scam", "in", 1, a, a))
    fold.add(HopExposure("scam", "out", 1, a, a))   # another direction has its own order


def test_empty() -> None:
    got = ExposureFold(1.0).rows(np.zeros(3, np.int64), np.zeros(3, np.int64), 0.0)
    want = aggregate([], np.zeros(3, np.int64), np.zeros(3, np.int64), 1.0, 0.0, 3)
    assert all(got[k].size == 0 and got[k].dtype == want[k].dtype for k in want)
