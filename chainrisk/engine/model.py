"""The pure scoring core: inputs as arrays, roles (inert, hubs, deposit addresses, stop nodes, sources),
exposure aggregation and the score formula. No I/O, no clock; deterministic (see ``docs/scoring.md``).

:func:`compute` is what :func:`chainrisk.score.score` runs between reading the store and writing the run;
:mod:`the reference in tests/support/reference.py` implements the same definitions in plain networkx and must agree exactly.

Score of an address = max of
  * own label: ``severity(c) * min(1, 0.5 + confidence/100)`` over its active labels;
  * exposure: ``EXPOSURE_CAP * severity(c) * sqrt(min(1, s_c))`` with ``s_c`` the larger of the incoming and
    outgoing decayed shares ``sum_k usd_k * hop_decay^(k-1) / volume`` (exposures below ``min_share`` dropped);
  * indicators: ``INDICATOR_WEIGHT * severity`` of its strongest behavioural indicator;
  * corroboration: when the address has both an indicator part ``i`` and an exposure part ``x`` to an illicit
    category (``taxonomy.ILLICIT``), the two are independent evidence and combine as a noisy-OR,
    ``100 * (1 - (1 - x/100) * (1 - i/100))`` (top category: that illicit category);
rounded half-up to 2 decimals, banded with ``profile.band``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..profiles import Profile
from ..taxonomy import BANDS, CATEGORIES, ILLICIT
from .propagate import (
    B1,
    I64,
    HopExposure,
    degrees,
    dense_sum,
    deposit_addresses,
    inflow_order,
    propagate,
    rank_times,
)

MICRO = 1_000_000
MAX_TRANSFER_USD = 1e11          # a transfer's USD value is clamped here (bogus values of pegged tokens)
EXPOSURE_CAP = 0.9               # exposure to c scores at most 0.9 * severity(c): being exposed < being c
INDICATOR_WEIGHT = 0.75          # a behavioural indicator alone reaches at most 60 (severity 80: band high)
ILLICIT_IX = np.array(sorted(CATEGORIES.index(c) for c in ILLICIT), np.int64)
DEPOSIT_CATEGORY = "exchange"    # deposit addresses sweep to wallets labelled with this category
DEPOSIT_CONFIDENCE = 10          # heuristic
SWEEP_WINDOW_S = 86_400          # a sweep follows the deposit address's latest inflow within a day
SWEEP_SHARE = 0.9                # ... and carries at least 90% of everything it sent



# -- inputs ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Label:
    address_id: int
    category: str
    name: str | None
    confidence: int
    source: str


@dataclass
class Inputs:
    """What a scoring run reads from the store, as arrays (transfers with a USD value, self-transfers removed)."""

    n: int                 # address ids are < n
    src: I64
    dst: I64
    rank: I64              # dense rank of (block_number, log_index)
    usd: I64               # micro-USD
    time: I64              # epoch seconds, -1 unknown
    active: I64            # sorted ids of addresses with any transfer (any token)
    inert: I64             # sorted ids of null/burn addresses, precompiles, token contracts
    labels: list[Label] = field(default_factory=list)


def inputs_from_rows(
    transfers: Iterable[tuple[int, int, int, int, int | None, float | None]],
    labels: Iterable[Label] = (), inert: Iterable[int] = (),
) -> Inputs:
    """Inputs from plain rows (from_id, to_id, block, log_index, epoch_s|None, usd|None): for tests and benches."""
    rows = list(transfers)
    f = np.array([r[0] for r in rows], np.int64)
    t = np.array([r[1] for r in rows], np.int64)
    blk = np.array([r[2] for r in rows], np.int64)
    li = np.array([r[3] for r in rows], np.int64)
    tm = np.array([-1 if r[4] is None else r[4] for r in rows], np.int64)
    usd = np.array([-1 if r[5] is None else _micro(r[5]) for r in rows], np.int64)
    return _build(f, t, blk, li, tm, usd, list(labels), np.array(sorted(set(inert)), np.int64))


def _micro(usd: float) -> int:
    return math.floor(min(usd, MAX_TRANSFER_USD) * MICRO + 0.5)


def _build(f: I64, t: I64, blk: I64, li: I64, tm: I64, usd: I64, labels: list[Label], inert: I64) -> Inputs:
    ids = [f.max() if f.size else -1, t.max() if t.size else -1] + [lab.address_id for lab in labels]
    n = int(max([-1, *ids, *(inert.tolist()[-1:])])) + 1
    seen = np.zeros(n, bool)
    seen[f] = True
    seen[t] = True
    keep = (usd >= 0) & (f != t)
    f, t, blk, li, tm, usd = f[keep], t[keep], blk[keep], li[keep], tm[keep], usd[keep]
    return Inputs(n=n, src=f, dst=t, rank=rank_times(blk, li), usd=usd, time=tm,
                  active=np.flatnonzero(seen).astype(np.int64), inert=inert, labels=labels)


# -- compute --------------------------------------------------------------------------------------------------

@dataclass
class Roles:
    inert: B1
    labelled: B1
    hub: B1
    stop: B1
    carry: B1
    deposits: I64          # deposit address ids (sorted)
    deposit_exchange: I64  # the exchange wallet each swept most to
    sources: dict[str, B1]


def roles(inp: Inputs, profile: Profile, in_order: I64 | None = None) -> Roles:
    """Inert addresses, carrying transfers, hubs, deposit addresses, stop nodes and sources of each category."""
    p = profile.propagation
    n = inp.n
    inert = np.zeros(n, bool)
    inert[inp.inert] = True
    dust = _micro(p.dust_usd)
    carry = (inp.usd >= dust) & (inp.usd > 0) & ~inert[inp.src] & ~inert[inp.dst]
    labelled = np.zeros(n, bool)
    by_cat: dict[str, list[int]] = {}
    for lab in inp.labels:
        if inert[lab.address_id]:
            continue
        labelled[lab.address_id] = True
        by_cat.setdefault(lab.category, []).append(lab.address_id)
    exchange = np.zeros(n, bool)
    exchange[by_cat.get(DEPOSIT_CATEGORY, [])] = True
    # hubs and deposit sweeps are independent (a hub is never a deposit address): two threads
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        fdeg = pool.submit(degrees, inp.src, inp.dst, carry, n)
        fdep = pool.submit(deposit_addresses, inp.src, inp.dst, inp.rank, inp.usd, inp.time, carry,
                           ~labelled & ~inert, exchange, SWEEP_WINDOW_S, SWEEP_SHARE, in_order)
        hub = ~labelled & ~inert & (fdeg.result() > p.hub_degree)
        dep, dep_ex = fdep.result()
    keep = ~hub[dep]
    dep, dep_ex = dep[keep], dep_ex[keep]
    stop = hub.copy()
    stop[dep] = True
    for c in p.stop_categories:
        stop[by_cat.get(c, [])] = True
    sources: dict[str, B1] = {}
    for c in CATEGORIES:
        ids = by_cat.get(c, []) + (dep.tolist() if c == DEPOSIT_CATEGORY else [])
        if profile.severity[c] > 0 and ids:
            m = np.zeros(n, bool)
            m[ids] = True
            sources[c] = m
    return Roles(inert, labelled, hub, stop, carry, dep, dep_ex, sources)


@dataclass
class Result:
    """The outcome of :func:`compute`, as column arrays.

    ``exposures``: addr, cat (index into CATEGORIES), dir (0 in, 1 out), cls (0 direct, 1 indirect), usd
    (micro-USD), weighted (decayed micro-USD), share, min_hop; sorted by (addr, cat, dir, cls).
    ``scores``: one row per active address: addr, score, band, top_category, categories, own_categories,
    min_hops (-1: none), direct_usd, indirect_usd, volume_in, volume_out (micro-USD), and the reason's fields.
    ``inferred``: (address_id, category, name, confidence, evidence JSON) of the deposit addresses.
    """

    exposures: dict[str, Any]
    scores: dict[str, Any]
    inferred: list[tuple[int, str, str | None, int, str]]

    def exposure_rows(self) -> list[tuple[Any, ...]]:
        e = self.exposures
        return sorted(zip(e["addr"].tolist(), [CATEGORIES[c] for c in e["cat"].tolist()],
                          ["out" if d else "in" for d in e["dir"].tolist()],
                          ["indirect" if c else "direct" for c in e["cls"].tolist()], e["usd"].tolist(),
                          e["weighted"].tolist(), e["share"].tolist(), e["min_hop"].tolist(), strict=True))

    def score_rows(self) -> list[tuple[Any, ...]]:
        s = self.scores
        keys = ("addr", "score", "band", "top_category", "categories", "own_categories", "min_hops",
                "direct_usd", "indirect_usd", "volume_in", "volume_out")
        cols = [s[k].tolist() if isinstance(s[k], np.ndarray) else list(s[k]) for k in keys]
        cols[6] = [None if x is None or x < 0 else x for x in cols[6]]
        return sorted(zip(*cols, strict=True))


def own_factor(confidence: int) -> float:
    return min(1.0, 0.5 + confidence / 100.0)


def corroborate(exposure: Any, indicator: Any) -> Any:
    """Noisy-OR of an illicit exposure part and an indicator part (0..100 each; scalars or arrays)."""
    return 100.0 * (1.0 - (1.0 - exposure / 100.0) * (1.0 - indicator / 100.0))


def compute(inp: Inputs, profile: Profile, max_hops: int,
            indicators: Mapping[int, tuple[str, int]] | None = None) -> Result:
    """Exposures and scores for every active address. Pure and deterministic."""
    p = profile.propagation
    in_order = inflow_order(inp.dst, inp.rank)
    r = roles(inp, profile, in_order)
    hops = propagate(inp.src, inp.dst, inp.rank, inp.usd, r.carry, r.stop, r.sources, max_hops, in_order)
    del in_order
    n = inp.n
    vin = dense_sum(inp.dst, inp.usd, n)
    vout = dense_sum(inp.src, inp.usd, n)
    ex = _aggregate(hops, vin, vout, p.hop_decay, p.min_share, n)
    del hops
    names = {lab.address_id: lab.name for lab in inp.labels if lab.category == DEPOSIT_CATEGORY}
    inferred = [
        (int(d), DEPOSIT_CATEGORY, names.get(int(x)), DEPOSIT_CONFIDENCE,
         json.dumps({"method": "deposit_sweep", "sweeps_to": int(x), "min_share": SWEEP_SHARE,
                     "window_s": SWEEP_WINDOW_S}, sort_keys=True))
        for d, x in zip(r.deposits.tolist(), r.deposit_exchange.tolist(), strict=True)]
    scores = _score(inp, profile, r, ex, vin, vout, inferred, indicators or {})
    return Result(ex, scores, inferred)


def _aggregate(hops: list[HopExposure], vin: I64, vout: I64, decay: float, min_share: float,
               n: int) -> dict[str, Any]:
    """Exposure rows per (address, category, direction, hop class), min_share applied, sorted."""
    parts: list[dict[str, Any]] = []
    groups: dict[tuple[str, str], list[HopExposure]] = {}
    for h in hops:
        groups.setdefault((h.category, h.direction), []).append(h)
    for (cat, direction), hs in groups.items():
        vol = vin if direction == "in" else vout
        allh = sorted(hs, key=lambda h: h.hop)
        cat_ix = CATEGORIES.index(cat)
        seen = np.zeros(n, bool)
        for h in allh:
            seen[h.addr] = True
        addr = np.flatnonzero(seen).astype(np.int64)
        del seen
        m = addr.size
        usd = np.zeros((2, m), np.int64)
        wsum = np.zeros((2, m), np.float64)
        minhop = np.full((2, m), 1 << 30, np.int64)
        for h in allh:
            pos = np.searchsorted(addr, h.addr)
            c = 0 if h.hop == 1 else 1
            usd[c, pos] += h.usd
            wsum[c, pos] += h.usd.astype(np.float64) * (decay ** (h.hop - 1))
            minhop[c, pos] = np.minimum(minhop[c, pos], h.hop)
        v = vol[addr].astype(np.float64)
        for c in (0, 1):
            share = usd[c].astype(np.float64) / np.where(v > 0, v, 1.0)
            keep = (usd[c] > 0) & (share >= min_share)
            k = int(keep.sum())
            parts.append({"addr": addr[keep], "cat": np.full(k, cat_ix, np.int64),
                          "dir": np.full(k, 0 if direction == "in" else 1, np.int64), "cls": np.full(k, c, np.int64),
                          "usd": usd[c][keep], "weighted": wsum[c][keep], "share": share[keep],
                          "min_hop": minhop[c][keep]})
    keys = ("addr", "cat", "dir", "cls", "usd", "weighted", "share", "min_hop")
    if not parts:
        return {k: np.empty(0, np.float64 if k in ("weighted", "share") else np.int64) for k in keys}
    out = {k: np.concatenate([q[k] for q in parts]) for k in keys}
    o = np.argsort(((out["addr"] * 64 + out["cat"]) * 2 + out["dir"]) * 2 + out["cls"], kind="stable")
    return {k: v[o] for k, v in out.items()}


def _mask_strings(masks: I64) -> Any:
    """';'-joined sorted category names of each bitmask (None for 0)."""
    u, inv = np.unique(masks, return_inverse=True)
    names = np.array([";".join(sorted(c for i, c in enumerate(CATEGORIES) if int(x) >> i & 1)) or None
                      for x in u.tolist()], dtype=object)
    return names[inv]


def _firsts(keys: I64) -> I64:
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if keys.size else np.empty(0, np.int64)


def _score(inp: Inputs, profile: Profile, r: Roles, ex: dict[str, Any], vin: I64, vout: I64,
           inferred: list[tuple[int, str, str | None, int, str]],
           indicators: Mapping[int, tuple[str, int]]) -> dict[str, Any]:
    sev = np.array([profile.severity[c] for c in CATEGORIES], np.float64)
    n = inp.n
    # own labels (not on inert addresses) and inferred ones: the best per address
    labels = [lab for lab in inp.labels if not r.inert[lab.address_id]]
    labels += [Label(a, c, nm, conf, "chainrisk:deposit_sweep") for a, c, nm, conf, _ in inferred]
    la = np.array([lab.address_id for lab in labels], np.int64)
    lc = np.array([CATEGORIES.index(lab.category) for lab in labels], np.int64)
    lv = np.array([profile.severity[lab.category] * own_factor(lab.confidence) for lab in labels], np.float64)
    own_mask = np.zeros(n, np.int64)
    np.bitwise_or.at(own_mask, la, np.left_shift(np.int64(1), lc))
    o = np.lexsort((np.arange(la.size), lc, -lv, la))
    f = o[_firsts(la[o])]
    own_addr, own_val, own_cat, own_lab = la[f], lv[f], lc[f], f
    # exposure: per (address, category, direction) the decayed share, per (address, category) the larger one
    ea, ec, ed = ex["addr"], ex["cat"], ex["dir"]
    g0 = _firsts((ea * 64 + ec) * 2 + ed)
    gid = np.zeros(ea.size, np.int64)
    gid[g0] = 1
    gid = np.cumsum(gid) - 1
    num = np.zeros(g0.size, np.float64)
    direct = ex["cls"] == 0
    num[gid[direct]] = ex["weighted"][direct]
    num[gid[~direct]] += ex["weighted"][~direct]
    ga, gc, gd = ea[g0], ec[g0], ed[g0]
    s = num / np.where(gd == 0, vin[ga], vout[ga]).astype(np.float64)
    raw = np.add.reduceat(ex["share"], g0) if g0.size else np.empty(0)
    gmh = np.minimum.reduceat(ex["min_hop"], g0) if g0.size else np.empty(0, np.int64)
    a0 = _firsts(ga * 64 + gc)
    smax = np.maximum.reduceat(s, a0) if a0.size else np.empty(0)
    xval = EXPOSURE_CAP * sev[gc[a0]] * np.sqrt(np.minimum(1.0, smax))
    # the top contribution of each address: highest value, own label before exposure, then category order
    ca = np.concatenate([own_addr, ga[a0]])
    cv = np.concatenate([own_val, xval])
    ck = np.concatenate([np.zeros(own_addr.size, np.int64), np.ones(a0.size, np.int64)])
    cc = np.concatenate([own_cat, gc[a0]])
    o = np.lexsort((cc, ck, -cv, ca))
    f = o[_firsts(ca[o])]
    f = f[cv[f] > 0]
    best_val = np.zeros(n)
    best_val[ca[f]] = cv[f]
    best_kind = np.full(n, -1, np.int64)
    best_kind[ca[f]] = ck[f]
    best_cat = np.full(n, -1, np.int64)
    best_cat[ca[f]] = cc[f]
    ind_val = np.zeros(n)
    ind_name = np.full(n, None, dtype=object)
    ind_sev = np.zeros(n, np.int64)
    for addr, (iname, isev) in indicators.items():
        if 0 <= addr < n:
            ind_val[addr] = INDICATOR_WEIGHT * float(isev)
            ind_name[addr], ind_sev[addr] = iname, isev
    # corroboration: the best illicit exposure part and the indicator part, combined as a noisy-OR
    ill = np.flatnonzero(np.isin(gc[a0], ILLICIT_IX))
    xi = np.zeros(n)
    xi_cat = np.full(n, -1, np.int64)
    if ill.size:
        ia, iv, ic = ga[a0][ill], xval[ill], gc[a0][ill]
        o = np.lexsort((ic, -iv, ia))
        f = o[_firsts(ia[o])]
        xi[ia[f]], xi_cat[ia[f]] = iv[f], ic[f]
    both = (xi > 0) & (ind_val > 0)
    comb = np.where(both, corroborate(xi, ind_val), 0.0)
    corro = both & (comb > np.maximum(best_val, ind_val))
    best_val[corro] = comb[corro]
    best_cat[corro] = xi_cat[corro]
    best_kind[corro] = 1
    raw_score = np.minimum(100.0, np.maximum(best_val, ind_val))
    score = np.floor(raw_score * 100.0 + 0.5) / 100.0
    # per-address exposure aggregates
    ex_mask = np.zeros(n, np.int64)
    min_hop = np.full(n, 1 << 30, np.int64)
    dsum = np.zeros(n, np.int64)
    isum = np.zeros(n, np.int64)
    af = _firsts(ea)
    if af.size:
        ua = ea[af]
        ex_mask[ua] = np.bitwise_or.reduceat(np.left_shift(np.int64(1), ec), af)
        min_hop[ua] = np.minimum.reduceat(ex["min_hop"], af)
        dsum[ua] = np.add.reduceat(np.where(direct, ex["usd"], 0), af)
        isum[ua] = np.add.reduceat(np.where(direct, 0, ex["usd"]), af)
    min_hop[own_addr[own_val > 0]] = 0
    # the reason's fields: for an exposure, the direction of the top category with the larger share
    r_dir = np.zeros(n, np.int64)
    r_share = np.zeros(n)
    r_hop = np.zeros(n, np.int64)
    sel = np.flatnonzero((best_kind[ga] == 1) & (best_cat[ga] == gc))
    if sel.size:
        o = sel[np.lexsort((gd[sel], -s[sel], ga[sel]))]
        o = o[_firsts(ga[o])]
        r_dir[ga[o]], r_share[ga[o]], r_hop[ga[o]] = gd[o], raw[o], gmh[o]
    r_lab = np.full(n, -1, np.int64)
    r_lab[own_addr] = own_lab
    kind = best_kind.copy()
    kind[ind_val > best_val] = 2
    kind[corro] = 4
    kind[r.inert] = 3
    act = inp.active
    sc = score[act]
    bidx = np.zeros(act.size, np.int64)
    for i, b in enumerate(BANDS[1:], start=1):
        bidx[sc >= profile.bands[b]] = i
    cat_names = np.array([*CATEGORIES, None], dtype=object)
    rl = r_lab[act]
    lab_field = [(lab.name, lab.source, lab.confidence) for lab in labels]
    return {
        "addr": act, "score": sc, "band": np.array(BANDS, dtype=object)[bidx],
        "top_category": cat_names[best_cat[act]], "categories": _mask_strings((own_mask | ex_mask)[act]),
        "own_categories": _mask_strings(own_mask[act]),
        "min_hops": np.where(min_hop[act] >= 1 << 30, -1, min_hop[act]),
        "direct_usd": dsum[act], "indirect_usd": isum[act], "volume_in": vin[act], "volume_out": vout[act],
        "r_kind": kind[act], "r_dir": r_dir[act], "r_share": r_share[act], "r_hop": r_hop[act],
        "r_ind": ind_name[act], "r_ind_sev": ind_sev[act],
        "r_label": [lab_field[i] if i >= 0 else (None, None, None) for i in rl[rl >= 0].tolist()],
        "r_label_at": np.flatnonzero(rl >= 0),
    }
