"""The exposure rows of a run from its hop exposures: per (address, propagation key, direction, hop class) the
micro-USD, the decayed sum, the share of the address's volume and the nearest hop, ``min_share`` applied, sorted
by (address, category, inferred, direction, hop class) -- the part of :func:`chainrisk.engine.model.compute` between
the hops and the scores, kept small in memory.

Two ways in, one result, bit for bit:

* :func:`aggregate`: every hop at once (the array engine's and Spark's list of
  :class:`~chainrisk.engine.propagate.HopExposure`), one dense address map per (key, direction);
* :class:`ExposureFold`: one hop at a time as the SQL engine fetches it (``fold.add``; the hops of a key and
  direction arrive in hop order), so that no run holds every hop's rows (at 105M transfers ~150M of them): per
  (key, direction) only the addresses reached so far and their sums, merged as each hop arrives.

Both add a hop's decayed amount ``usd * decay ** (hop - 1)`` to the running float sum of each address in hop
order, starting from 0.0: the same IEEE operations in the same order, so the same bits. The rows are assembled
one column at a time (:func:`assemble`): the category, direction, hop class and inferred flag come back out of the
sort key as ``int8`` columns (the values are unchanged; they are small codes), so that the peak holds one copy of
the rows plus the sort order, not three.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..taxonomy import CATEGORIES
from .propagate import I64, HopExposure

KEYS = ("addr", "cat", "dir", "cls", "usd", "weighted", "share", "min_hop", "inf")
_SMALL = ("cat", "dir", "cls", "inf", "min_hop")   # codes and hop numbers (< 64): int8
_NOT_REACHED = 1 << 30
assert len(CATEGORIES) <= 64   # the sort key's 6 bits of category


INFERRED_SUFFIX = ":inferred"    # propagation key of a category's inferred sources


def split_key(key: str) -> tuple[str, bool]:
    """(category, inferred) of a propagation key."""
    return (key[: -len(INFERRED_SUFFIX)], True) if key.endswith(INFERRED_SUFFIX) else (key, False)


def _empty() -> dict[str, Any]:
    return {k: np.empty(0, np.float64 if k in ("weighted", "share") else np.int8 if k in _SMALL else np.int64)
            for k in KEYS}


@dataclass
class _Group:
    """The running sums of one (key, direction): ``addr`` sorted, unique; rows 0 (hop 1) and 1 (hops 2..K)."""

    addr: I64
    usd: I64          # (2, m) micro-USD
    wsum: np.ndarray  # (2, m) float64, decayed
    minhop: I64       # (2, m), _NOT_REACHED where the class has no hop


def _new_group(addr: I64) -> _Group:
    m = addr.size
    return _Group(addr, np.zeros((2, m), np.int64), np.zeros((2, m), np.float64),
                  np.full((2, m), _NOT_REACHED, np.int64))


def _add_hop(g: _Group, pos: I64, h: HopExposure, decay: float) -> None:
    """Add hop ``h`` (its addresses at ``pos`` of ``g``) to the sums: the one place both ways add a hop."""
    c = 0 if h.hop == 1 else 1
    g.usd[c, pos] += h.usd
    g.wsum[c, pos] += h.usd.astype(np.float64) * (decay ** (h.hop - 1))
    g.minhop[c, pos] = np.minimum(g.minhop[c, pos], h.hop)


def _parts(key: str, direction: str, g: _Group, vol: I64, min_share: float) -> list[dict[str, Any]]:
    """The kept rows of one group's two hop classes (their codes in ``code``: the sort key's low 9 bits)."""
    cat, inf = split_key(key)
    base = (CATEGORIES.index(cat) * 2 + int(inf)) * 2 + (0 if direction == "in" else 1)
    v = vol[g.addr].astype(np.float64)
    out = []
    for c in (0, 1):
        share = g.usd[c].astype(np.float64) / np.where(v > 0, v, 1.0)
        keep = (g.usd[c] > 0) & (share >= min_share)
        out.append({"addr": g.addr[keep], "code": base * 2 + c, "usd": g.usd[c][keep], "weighted": g.wsum[c][keep],
                    "share": share[keep], "min_hop": g.minhop[c][keep].astype(np.int8)})
    return out


def assemble(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows of every group's parts, sorted by (address, category, inferred, direction, hop class); empties
    ``parts`` as it goes (each column is concatenated, reordered and its parts released before the next)."""
    if not parts:
        return _empty()
    key = np.concatenate([p["addr"] * 512 + p["code"] for p in parts])   # (((a*64+cat)*2+inf)*2+dir)*2+cls
    for p in parts:
        p["addr"] = None
    o = np.argsort(key, kind="stable")   # the keys are unique: any sort gives this order
    key = key[o]
    out: dict[str, Any] = {"addr": key >> 9}
    for name, shift, mask in (("cat", 3, 63), ("inf", 2, 1), ("dir", 1, 1), ("cls", 0, 1)):
        out[name] = ((key >> shift) & mask).astype(np.int8)
    del key
    for name in ("usd", "weighted", "share", "min_hop"):
        col = np.concatenate([p[name] for p in parts])
        for p in parts:
            p[name] = None
        out[name] = col[o]
        del col
    parts.clear()
    return {k: out[k] for k in KEYS}


def aggregate(hops: list[HopExposure], vin: I64, vout: I64, decay: float, min_share: float,
              n: int) -> dict[str, Any]:
    """Exposure rows of every hop at once (the list a propagator returns); empties ``hops`` group by group."""
    parts: list[dict[str, Any]] = []
    groups: dict[tuple[str, str], list[HopExposure]] = {}
    for h in hops:
        groups.setdefault((h.category, h.direction), []).append(h)
    hops.clear()
    at = np.zeros(n, np.int64)   # an address's row, by a dense map (not a search per hop)
    for (key, direction), hs in list(groups.items()):
        allh = sorted(hs, key=lambda h: h.hop)
        del groups[(key, direction)], hs
        at[:] = 0
        for h in allh:
            at[h.addr] = 1
        g = _new_group(np.flatnonzero(at).astype(np.int64))
        at[g.addr] = np.arange(g.addr.size, dtype=np.int64)
        for h in allh:
            _add_hop(g, at[h.addr], h, decay)
        del allh
        parts += _parts(key, direction, g, vin if direction == "in" else vout, min_share)
    return assemble(parts)


class ExposureFold:
    """The exposure rows built one hop at a time: :meth:`add` each hop as it is fetched (a key and direction's
    hops in hop order), then :meth:`rows`. Holds per (key, direction) the addresses reached so far and their
    sums, never the hops."""

    def __init__(self, decay: float) -> None:
        self.decay = decay
        self.groups: dict[tuple[str, str], _Group] = {}
        self.last: dict[tuple[str, str], int] = {}

    def add(self, h: HopExposure) -> None:
        gk = (h.category, h.direction)
        if self.last.get(gk, 0) >= h.hop:
            raise ValueError(f"hop {h.hop} of {gk} after hop {self.last[gk]}: the hops must come in hop order")
        self.last[gk] = h.hop
        g = self.groups.get(gk)
        if g is None:
            g = self.groups[gk] = _new_group(np.array(h.addr, np.int64))
        else:   # the hop's new addresses inserted in place (both sorted: a merge, not a sort)
            pos = np.searchsorted(g.addr, h.addr)
            seen = pos < g.addr.size
            seen[seen] = g.addr[pos[seen]] == h.addr[seen]
            if not seen.all():
                at = pos[~seen]
                g.addr = np.insert(g.addr, at, h.addr[~seen])
                g.usd = np.insert(g.usd, at, 0, axis=1)
                g.wsum = np.insert(g.wsum, at, 0.0, axis=1)
                g.minhop = np.insert(g.minhop, at, _NOT_REACHED, axis=1)
        _add_hop(g, np.searchsorted(g.addr, h.addr), h, self.decay)

    def rows(self, vin: I64, vout: I64, min_share: float) -> dict[str, Any]:
        """The exposure rows (as :func:`aggregate`'s); empties the fold."""
        parts: list[dict[str, Any]] = []
        for key, direction in list(self.groups):
            g = self.groups.pop((key, direction))
            parts += _parts(key, direction, g, vin if direction == "in" else vout, min_share)
            del g
        return assemble(parts)
