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

import dataclasses
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..profiles import Profile
from ..taxonomy import BANDS, CATEGORIES, ILLICIT, OWN_ONLY, VICTIM_CATEGORIES
from .aggregate import INFERRED_SUFFIX, ExposureFold, aggregate, split_key
from .propagate import (
    B1,
    I64,
    ForwardingEvents,
    ForwardingParams,
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
INFERRED_CATEGORY = "scam"       # an unlabelled collector flagged by the `collector` indicator: a heuristic source
INFERRED_CONFIDENCE = 10
# indicators that make an outgoing payment to fraud/phishing a perpetrator's, not a victim's
VICTIM_CORROBORATORS = frozenset({"collector", "pass_through", "forwarding"})
VICTIM_IX = np.array(sorted(CATEGORIES.index(c) for c in VICTIM_CATEGORIES), np.int64)
CONF_NAMES = (None, "low", "medium", "high")
FORWARDING = ForwardingParams()  # the forwarding indicator's window and thresholds (its categories set per run)



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


@dataclass
class TableInputs:
    """Inputs whose transfers stay in a SQL engine's table (``graph``: a
    :class:`~chainrisk.engine.sql_engine.TableGraph`): only the per-address parts are in memory. ``n_transfers``
    is known once the roles have built the table."""

    n: int
    active: I64
    inert: I64
    graph: Any
    labels: list[Label] = field(default_factory=list)

    @property
    def n_transfers(self) -> int:
        return int(self.graph.m)


@dataclass(frozen=True)
class _EdgeFields:
    """The transfer fields :func:`forwarding_indicators` reads, for the event edges only."""

    src: I64
    rank: I64
    time: I64
    usd: I64


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
    sources: dict[str, B1]  # propagation key (a category, or category + INFERRED_SUFFIX) -> source mask
    inferred_sources: I64 = field(default_factory=lambda: np.empty(0, np.int64))  # inferred collectors (sorted)


def roles(inp: Inputs | TableInputs, profile: Profile, in_order: I64 | None = None, collectors: I64 | None = None,
          out_order: I64 | None = None, graph: Any = None) -> Roles:
    """Inert addresses, carrying transfers, hubs, deposit addresses, stop nodes and sources of each category.

    ``collectors``: addresses the ``collector`` indicator flagged; the unlabelled ones that are not stop nodes
    become inferred sources of :data:`INFERRED_CATEGORY` (propagated under their own key). ``graph``: the
    transfers are a SQL engine's table (:class:`~chainrisk.engine.sql_engine.TableGraph`): the carrying flags,
    degrees and sweeps are computed there (``Roles.carry`` is then empty), the rest here, the same way."""
    p = profile.propagation
    n = inp.n
    inert = np.zeros(n, bool)
    inert[inp.inert] = True
    dust = _micro(p.dust_usd)
    arr = inp if isinstance(inp, Inputs) and graph is None else None
    carry = (arr.usd >= dust) & (arr.usd > 0) & ~inert[arr.src] & ~inert[arr.dst] if arr is not None else \
        np.empty(0, bool)
    labelled = np.zeros(n, bool)
    by_cat: dict[str, list[int]] = {}
    for lab in inp.labels:
        if inert[lab.address_id]:
            continue
        labelled[lab.address_id] = True
        by_cat.setdefault(lab.category, []).append(lab.address_id)
    exchange = np.zeros(n, bool)
    exchange[by_cat.get(DEPOSIT_CATEGORY, [])] = True
    if arr is None:
        graph.edges(inp.inert, dust)
        hub = ~labelled & ~inert & (graph.degrees(n) > p.hub_degree)
        dep, dep_ex = graph.deposit_addresses(~labelled & ~inert, exchange, SWEEP_WINDOW_S, SWEEP_SHARE)
    else:
        # hubs and deposit sweeps are independent (a hub is never a deposit address): two threads
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=2) as pool:
            fdeg = pool.submit(degrees, arr.src, arr.dst, carry, n)
            fdep = pool.submit(deposit_addresses, arr.src, arr.dst, arr.rank, arr.usd, arr.time, carry,
                               ~labelled & ~inert, exchange, SWEEP_WINDOW_S, SWEEP_SHARE, in_order, out_order)
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
        if profile.severity[c] > 0 and ids and c not in OWN_ONLY:
            m = np.zeros(n, bool)
            m[ids] = True
            sources[c] = m
    inferred = np.empty(0, np.int64)
    if collectors is not None and collectors.size and profile.severity[INFERRED_CATEGORY] > 0:
        col = collectors[(collectors >= 0) & (collectors < n)]
        inferred = _unique_ids(col[~labelled[col] & ~inert[col] & ~stop[col]])
        if inferred.size:
            m = np.zeros(n, bool)
            m[inferred] = True
            sources[INFERRED_CATEGORY + INFERRED_SUFFIX] = m
    return Roles(inert, labelled, hub, stop, carry, dep, dep_ex, sources, inferred)


def _unique_ids(x: I64) -> I64:
    return np.unique(x).astype(np.int64)


def hops_for(profile: Profile, category: str, max_hops: int) -> tuple[int, int]:
    """K of a category for ('in', 'out'): ``max_hops``; at most ``propagation.max_hops_vc`` for virtual-currency
    business; at most ``propagation.max_hops_out`` for the destination of funds."""
    k = min(max_hops, profile.propagation.max_hops_vc) if category in profile.axes.vc_business else max_hops
    return k, min(k, profile.propagation.max_hops_out)


def _norm_indicators(indicators: Mapping[int, Any] | None) -> dict[int, list[tuple[str, int]]]:
    """Every indicator of each address: accepts {addr: (name, severity)} or {addr: [(name, severity), ...]}."""
    out: dict[int, list[tuple[str, int]]] = {}
    for a, v in (indicators or {}).items():
        items = [v] if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) else list(v)
        out[int(a)] = sorted((str(nm), int(sv)) for nm, sv in items)
    return out


@dataclass
class Result:
    """The outcome of :func:`compute`, as column arrays.

    ``exposures``: addr, cat (index into CATEGORIES), dir (0 in, 1 out), cls (0 direct, 1 indirect), usd
    (micro-USD), weighted (decayed micro-USD), share, min_hop; sorted by (addr, cat, dir, cls).
    ``scores``: one row per active address: addr, score, band, top_category, categories, own_categories,
    min_hops (-1: none), direct_usd, indirect_usd, volume_in, volume_out (micro-USD), and the reason's fields.
    ``inferred``: (address_id, category, name, confidence, evidence JSON) of the deposit addresses and inferred
    collectors (method = the evidence's ``method``).
    ``indicators``: (address_id, indicator, severity, evidence JSON) the engine computed (``forwarding``).
    """

    exposures: dict[str, Any]
    scores: dict[str, Any]
    inferred: list[tuple[int, str, str | None, int, str]]
    indicators: list[tuple[int, str, int, str]] = field(default_factory=list)

    def exposure_rows(self) -> list[tuple[Any, ...]]:
        e = self.exposures
        return sorted(zip(e["addr"].tolist(), [CATEGORIES[c] for c in e["cat"].tolist()],
                          ["out" if d else "in" for d in e["dir"].tolist()],
                          ["indirect" if c else "direct" for c in e["cls"].tolist()], e["usd"].tolist(),
                          e["weighted"].tolist(), e["share"].tolist(), e["min_hop"].tolist(),
                          [bool(x) for x in e["inf"].tolist()], strict=True))

    def score_rows(self) -> list[tuple[Any, ...]]:
        s = self.scores
        keys = ("addr", "score", "band", "top_category", "categories", "own_categories", "min_hops",
                "direct_usd", "indirect_usd", "volume_in", "volume_out", "illicit_score", "illicit_band",
                "illicit_top_category", "illicit_confidence", "possible_victim", "vc_score", "vc_band",
                "vc_top_category", "action")
        cols = [s[k].tolist() if isinstance(s[k], np.ndarray) else list(s[k]) for k in keys]
        cols[6] = [None if x is None or x < 0 else x for x in cols[6]]
        return sorted(zip(*cols, strict=True))


def own_factor(confidence: int) -> float:
    return min(1.0, 0.5 + confidence / 100.0)


def corroborate(exposure: Any, indicator: Any) -> Any:
    """Noisy-OR of an illicit exposure part and an indicator part (0..100 each; scalars or arrays)."""
    return 100.0 * (1.0 - (1.0 - exposure / 100.0) * (1.0 - indicator / 100.0))


def compute(inp: Inputs | TableInputs, profile: Profile, max_hops: int,
            indicators: Mapping[int, Any] | None = None, *, forwarding: bool = True,
            behaviour: Any = None, propagator: Callable[..., Any] = propagate) -> Result:
    """Exposures and scores for every active address. Pure and deterministic.

    ``propagator``: what computes the hop exposures (:func:`~chainrisk.engine.propagate.propagate`, the array
    engine; or :func:`chainrisk.engine.sql_engine.sql_propagate`'s, the same on a SQL engine); everything else is
    this one code path whichever runs the hops.

    ``indicators``: the behavioural indicators of each address, ``{addr: (name, severity)}`` or
    ``{addr: [(name, severity), ...]}``; collectors among them become inferred sources. ``forwarding`` adds the
    engine's per-inflow ``forwarding`` indicator (``Result.indicators``). ``behaviour``: a
    :class:`~chainrisk.engine.behaviour.BehaviourModel` whose part joins the illicit axis (None: off)."""
    p = profile.propagation
    ind = _norm_indicators(indicators)
    collectors = np.array(sorted(a for a, v in ind.items() if any(nm == "collector" for nm, _ in v)), np.int64)
    graph: Any = inp.graph if isinstance(inp, TableInputs) else None
    arr = inp if isinstance(inp, Inputs) else None
    n = inp.n
    if arr is not None:
        # every transfer by (receiver, rank) and by (sender, rank): sorted once, for the roles and both directions
        in_order = inflow_order(arr.dst, arr.rank)
        out_order = inflow_order(arr.src, arr.rank)
        r = roles(arr, profile, in_order, collectors, out_order)
    else:   # the transfers live in a SQL engine's workspace: roles and hops there, per-address arrays here
        r = roles(inp, profile, collectors=collectors, graph=graph)
    # forwarding is judged on the taint of every illicit source, labelled or inferred: a receiver that passes on
    # a substantial inflow from an inferred collector within hours is a second, independent signal (its own
    # behaviour), which is what lets exposure to an inferred source reach high
    fwd_cats = [k for k in r.sources if forwarding and split_key(k)[0] in profile.axes.illicit]
    fwd = dataclasses.replace(FORWARDING, categories=tuple(fwd_cats))
    k_of = {k: hops_for(profile, split_key(k)[0], max_hops) for k in r.sources}
    if arr is not None:
        hops, events = propagator(arr.src, arr.dst, arr.rank, arr.usd, r.carry, r.stop, r.sources, k_of,
                                  in_order, time=arr.time, forwarding=fwd, out_order=out_order)
        del in_order, out_order
        fired = forwarding_indicators(events, arr, fwd)
        vin = dense_sum(arr.dst, arr.usd, n)
        vout = dense_sum(arr.src, arr.usd, n)
    else:
        # each hop is folded into the exposure sums as it is fetched: the run never holds every hop's rows
        fold = ExposureFold(p.hop_decay)
        hops, events = graph.propagate(r.stop, r.sources, k_of, fwd, sink=fold.add)
        fired = []
        if events is not None and events.addr.size:   # the few transfers the events name, fetched by id
            f = graph.edge_fields(events.edge)
            sub = _EdgeFields(f["s"], f["r"], f["time"], f["w"])
            fired = forwarding_indicators(dataclasses.replace(events, edge=np.arange(events.addr.size,
                                                                                     dtype=np.int64)), sub, fwd)
        vin, vout = graph.volumes(n)
    for a, _name, sev, _ev in fired:
        ind.setdefault(a, []).append(("forwarding", sev))
        ind[a].sort()
    say = graph.on_hop if graph is not None and graph.on_hop else (lambda _msg: None)
    bp = None
    if graph is not None:
        if behaviour is not None:   # the features read every transfer: materialised (not bounded by the workspace)
            from .behaviour import behaviour_part

            t = graph.arrays()
            full = Inputs(n=inp.n, src=t["src"], dst=t["dst"], rank=t["rank"], usd=t["usd"], time=t["time"],
                          active=inp.active, inert=inp.inert, labels=inp.labels)
            bp = behaviour_part(full, dataclasses.replace(r, carry=t["carry"]), profile, behaviour)
            del t, full
        graph.release()   # the workspace is done with: its memory goes back before the aggregation and scoring
    say("aggregating exposures")
    if arr is not None:
        ex = aggregate(hops, vin, vout, p.hop_decay, p.min_share, n)
    else:
        ex = fold.rows(vin, vout, p.min_share)
        del fold
    del hops
    names = {lab.address_id: lab.name for lab in inp.labels if lab.category == DEPOSIT_CATEGORY}
    inferred = [
        (int(d), DEPOSIT_CATEGORY, names.get(int(x)), DEPOSIT_CONFIDENCE,
         json.dumps({"method": "deposit_sweep", "sweeps_to": int(x), "min_share": SWEEP_SHARE,
                     "window_s": SWEEP_WINDOW_S}, sort_keys=True))
        for d, x in zip(r.deposits.tolist(), r.deposit_exchange.tolist(), strict=True)]
    inferred += [
        (int(a), INFERRED_CATEGORY, None, INFERRED_CONFIDENCE,
         json.dumps({"method": "collector", "indicator": "collector",
                     "severity": max(sv for nm, sv in ind[int(a)] if nm == "collector")}, sort_keys=True))
        for a in r.inferred_sources.tolist()]
    if behaviour is not None and arr is not None:
        from .behaviour import behaviour_part

        bp = behaviour_part(arr, r, profile, behaviour)
    say(f"scoring {inp.active.size:,} addresses")
    scores = _score(inp, profile, r, ex, vin, vout, inferred, ind, max_hops, bp)
    return Result(ex, scores, inferred, fired)


FORWARDING_SEVERITY = 45          # +10 from 10,000 USD of taint, +5 when >= 98% of it left again (max 60)


def forwarding_severity(taint: Any, out: Any) -> Any:
    """Severity of a forwarding event (taint and forwarded amount in micro-USD)."""
    return (FORWARDING_SEVERITY + np.where(taint >= 10_000 * MICRO, 10, 0)
            + np.where(out.astype(np.float64) >= 0.98 * taint.astype(np.float64), 5, 0))


def forwarding_indicators(ev: ForwardingEvents | None, inp: Inputs | _EdgeFields,
                          fwd: ForwardingParams) -> list[tuple[int, str, int, str]]:
    """One ``forwarding`` indicator per address with a forwarding event: the strongest event (severity, taint,
    then the earliest transfer, then the lowest sender id) as evidence, and the number of events. The evidence
    names the category and hop of the taint's largest part, and whether that part came from a source the engine inferred."""
    if ev is None or not ev.addr.size:
        return []
    split = [split_key(k) for k in ev.key]
    cat = np.array([CATEGORIES.index(c) for c, _ in split], np.int64)
    inf = np.array([int(i) for _, i in split], np.int64)
    addr, edge, taint, out, hop = ev.addr, ev.edge, ev.taint, ev.out, ev.hop
    sev = forwarding_severity(taint, out)
    o = np.lexsort((inp.src[edge], inp.rank[edge], -taint, -sev, addr))
    f = o[_firsts(addr[o])]
    count = np.bincount(np.searchsorted(addr[f], addr), minlength=f.size)
    res = []
    for i, k in zip(f.tolist(), count.tolist(), strict=True):
        e = int(edge[i])
        res.append((int(addr[i]), "forwarding", int(sev[i]), json.dumps({
            "method": "forwarding", "category": CATEGORIES[int(cat[i])], "inferred": bool(inf[i]),
            "hop": int(hop[i]), "from_id": int(inp.src[e]), "rank": int(inp.rank[e]), "time": int(inp.time[e]),
            "taint_usd": int(taint[i]) / MICRO, "usd": int(inp.usd[e]) / MICRO,
            "forwarded_usd": int(out[i]) / MICRO, "window_s": fwd.window_s, "events": int(k)}, sort_keys=True)))
    return res


def _mask_strings(masks: I64) -> Any:
    """';'-joined sorted category names of each bitmask (None for 0)."""
    u, inv = np.unique(masks, return_inverse=True)
    names = np.array([";".join(sorted(c for i, c in enumerate(CATEGORIES) if int(x) >> i & 1)) or None
                      for x in u.tolist()], dtype=object)
    return names[inv]


def _firsts(keys: I64) -> I64:
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if keys.size else np.empty(0, np.int64)


def _conf_level(confidence: int) -> int:
    """A label's confidence as a level: 3 high (>= 50), 2 medium (>= 20), 1 low."""
    return 3 if confidence >= 50 else 2 if confidence >= 20 else 1


def hop_level(min_hop: Any, inferred: Any) -> Any:
    """Confidence level of an exposure: hop 1 high, hops 2-3 medium, farther or to an inferred source low."""
    return np.where(inferred, 1, np.where(min_hop <= 1, 3, np.where(min_hop <= 3, 2, 1)))


def medium_cap(profile: Profile) -> float:
    """The largest score still in the band below ``high`` ("at most medium")."""
    return float(profile.bands["high"]) - 0.01


AXIS_FIELDS = ("val", "kind", "cat", "dir", "share", "hop", "inf", "conf", "lab", "beh")
BEST_SLICE = 1 << 21   # candidates per slice of _score's best-per-address choice


def _score(inp: Inputs | TableInputs, profile: Profile, r: Roles, ex: dict[str, Any], vin: I64, vout: I64,
           inferred: list[tuple[int, str, str | None, int, str]],
           indicators: Mapping[int, list[tuple[str, int]]], max_hops: int, bp: Any = None) -> dict[str, Any]:
    sev = np.array([profile.severity[c] for c in CATEGORIES], np.float64)
    n = inp.n
    cap = medium_cap(profile)
    ill_ix = np.array([CATEGORIES.index(c) for c in profile.axes.illicit], np.int64)
    vc_ix = np.array([CATEGORIES.index(c) for c in profile.axes.vc_business], np.int64)
    # indicators: the strongest per address (severity, then name), and whether one corroborates a payer as a perpetrator
    ind_val = np.zeros(n)
    ind_name = np.full(n, None, dtype=object)
    ind_sev = np.zeros(n, np.int64)
    has_ind = np.zeros(n, bool)
    vcorr = np.zeros(n, bool)
    for a, lst in indicators.items():
        if 0 <= a < n and lst:
            sv, nm = max((sv, nm) for nm, sv in lst)
            ind_val[a], ind_name[a], ind_sev[a], has_ind[a] = INDICATOR_WEIGHT * float(sv), nm, sv, True
            vcorr[a] = any(x in VICTIM_CORROBORATORS for x, _ in lst)
    # own labels (not on inert addresses) and inferred ones
    labels = [lab for lab in inp.labels if not r.inert[lab.address_id]]
    labels += [Label(a, c, nm, conf, "chainrisk:inferred") for a, c, nm, conf, _ in inferred]
    la = np.array([lab.address_id for lab in labels], np.int64)
    lc = np.array([CATEGORIES.index(lab.category) for lab in labels], np.int64)
    lv = np.array([profile.severity[lab.category] * own_factor(lab.confidence) for lab in labels], np.float64)
    lconf = np.array([_conf_level(lab.confidence) for lab in labels], np.int64)
    own_mask = np.zeros(n, np.int64)
    np.bitwise_or.at(own_mask, la, np.left_shift(np.int64(1), lc))
    # exposure: per (address, category, inferred, direction) the share over the kept rows of both hop classes
    ea, ec, ed, ei = ex["addr"], ex["cat"], ex["dir"], ex["inf"]
    g0 = _firsts(((ea * 64 + ec) * 2 + ei) * 2 + ed)
    gid = np.zeros(ea.size, np.int64)
    gid[g0] = 1
    gid = np.cumsum(gid) - 1
    num = np.zeros(g0.size, np.float64)
    direct = ex["cls"] == 0
    num[gid[direct]] = ex["weighted"][direct]
    num[gid[~direct]] += ex["weighted"][~direct]
    ga, gc, gd, gi = ea[g0], ec[g0], ed[g0], ei[g0]
    s = num / np.where(gd == 0, vin[ga], vout[ga]).astype(np.float64)
    raw = np.add.reduceat(ex["share"], g0) if g0.size else np.empty(0)
    gmh = np.minimum.reduceat(ex["min_hop"], g0) if g0.size else np.empty(0, np.int64)
    xval = EXPOSURE_CAP * sev[gc] * np.sqrt(np.minimum(1.0, s))
    # a payer of fraud/phishing without a perpetrator's behaviour is a possible victim; exposure to sources the
    # engine inferred is uncorroborated without an indicator: both at most medium
    victim = (gd == 1) & np.isin(gc, VICTIM_IX) & ~vcorr[ga]
    xval = np.where(victim | ((gi == 1) & ~has_ind[ga]), np.minimum(xval, cap), xval)
    # candidates: own labels (kind 0) and exposures (kind 1; 5 = possible victim)
    # (codes, hops and levels are small: int8 columns, one per candidate; label indexes int32)
    ca = np.concatenate([la, ga])
    cv = np.concatenate([lv, xval])
    ck = np.concatenate([np.zeros(la.size, np.int8), np.where(victim, 5, 1).astype(np.int8)])
    cko = np.minimum(ck, 1)
    cc = np.concatenate([lc.astype(np.int8), gc.astype(np.int8)])
    cd = np.concatenate([np.zeros(la.size, np.int8), gd.astype(np.int8)])
    ci = np.concatenate([np.zeros(la.size, np.int8), gi.astype(np.int8)])
    cs = np.concatenate([np.zeros(la.size), raw])
    ch = np.concatenate([np.zeros(la.size, np.int8), gmh.astype(np.int8)])
    cf = np.concatenate([lconf.astype(np.int8), hop_level(gmh, gi == 1).astype(np.int8)])
    cl = np.concatenate([np.arange(la.size, dtype=np.int32), np.full(ga.size, -1, np.int32)])
    del ga, gc, gd, gi, xval, victim, raw, gmh, num, s, g0, gid

    # For every axis, per address the first candidate in the order: highest value, own label first, category
    # order, labelled first, 'in' first, then input order. One stable sort by address (the exposure candidates
    # are already in address order), then per mask two group reductions instead of a sort on three keys.
    tie = ((cko.astype(np.int64) * 64 + cc) * 2 + ci) * 2 + cd
    del cko
    by_a = np.argsort(ca, kind="stable")
    by_a = by_a[cv[by_a] > 0]
    # the candidates in that order (each column permuted once; no copy kept in input order), in a dict that is
    # emptied once the axes are chosen (their memory goes before the per-address columns)
    cand: dict[str, Any] = {}
    for k, col in (("ca", ca), ("val", cv), ("tie", tie), ("kind", ck), ("cat", cc), ("dir", cd), ("share", cs),
                   ("hop", ch), ("inf", ci), ("conf", cf), ("lab", cl)):
        cand[k] = col[by_a]
    del by_a, tie, ca, cv, ck, cc, cd, cs, ch, ci, cf, cl, col

    def best(mask: B1) -> dict[str, Any]:
        """Per address, the best candidate in ``mask`` (a mask over the candidates in address order), a slice of
        whole addresses at a time (:data:`BEST_SLICE` candidates or so: the temporaries stay small)."""
        out: dict[str, Any] = {
            "val": np.zeros(n), "kind": np.full(n, -1, np.int8), "cat": np.full(n, -1, np.int8),
            "dir": np.zeros(n, np.int8), "share": np.zeros(n), "hop": np.zeros(n, np.int8),
            "inf": np.zeros(n, np.int8), "conf": np.zeros(n, np.int8), "lab": np.full(n, -1, np.int32),
            "beh": np.zeros(n, np.int8)}
        addr = cand["ca"]
        lo, m = 0, addr.size
        while lo < m:
            hi = min(m, lo + BEST_SLICE)
            if hi < m:   # up to the end of the last address's candidates
                hi = int(np.searchsorted(addr, addr[hi - 1], side="right"))
            sel = lo + np.flatnonzero(mask[lo:hi])
            a_, v_, k_ = addr[sel], cand["val"][sel], cand["tie"][sel]
            g = _firsts(a_)
            gid = np.repeat(np.arange(g.size), np.diff(np.r_[g, a_.size])) if g.size else g
            top = v_ == (np.maximum.reduceat(v_, g)[gid] if g.size else v_)
            kk = np.where(top, k_, np.iinfo(np.int64).max)
            win = np.flatnonzero(top & (kk == (np.minimum.reduceat(kk, g)[gid] if g.size else kk)))
            f = sel[win[_firsts(a_[win])]]
            del sel, a_, v_, k_, g, gid, top, kk, win
            a = addr[f]
            for k in ("val", "kind", "cat", "dir", "share", "hop", "inf", "conf", "lab"):
                out[k][a] = cand[k][f]
            lo = hi
        return out

    in_ill = np.isin(cand["cat"], ill_ix)
    in_vc = np.isin(cand["cat"], vc_ix)
    ill = best(in_ill)
    # corroboration: the best illicit exposure (not a possible victim's) and the indicator, as a noisy-OR
    xi = best(in_ill & (cand["kind"] == 1))
    both = (xi["val"] > 0) & (ind_val > 0)
    comb = np.where(both, corroborate(xi["val"], ind_val), 0.0)
    corro = both & (comb > np.maximum(ill["val"], ind_val))
    by_ind = (ind_val > ill["val"]) & ~corro
    for k in AXIS_FIELDS:
        ill[k][corro] = xi[k][corro]
    ill["val"] = np.where(corro, comb, np.maximum(ill["val"], ind_val))
    ill["kind"][corro] = 4
    ill["conf"][corro] = np.maximum(xi["conf"][corro], 2)
    ill["kind"][by_ind] = 2
    ill["conf"][by_ind] = 1
    del xi, comb, corro, by_ind, both
    if bp is not None:   # the behaviour part: corroborates illicit evidence, or alone up to the profile's band
        from .behaviour import combine

        combine(ill, bp, profile, corroborate)
    vc = best(in_vc)
    oth = best(~in_ill & ~in_vc)
    # the combined view: the larger axis (illicit, then vc_business, then any other category on ties)
    comb_ax = {k: ill[k].copy() for k in AXIS_FIELDS}
    for other in (vc, oth):
        take = other["val"] > comb_ax["val"]
        for k in AXIS_FIELDS:
            comb_ax[k][take] = other[k][take]
    del oth, take, in_ill, in_vc
    cand.clear()
    for ax in (ill, vc, comb_ax):
        ax["kind"][r.inert] = 3

    def rounded(v: Any) -> Any:
        return np.floor(np.minimum(100.0, v) * 100.0 + 0.5) / 100.0

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
    min_hop[la[lv > 0]] = 0
    act = inp.active
    cat_names = np.array([*CATEGORIES, None], dtype=object)
    band_names = np.array(BANDS, dtype=object)

    def band_ix(sc: Any) -> Any:
        b = np.zeros(sc.size, np.int64)
        for i, name in enumerate(BANDS[1:], start=1):
            b[sc >= profile.bands[name]] = i
        return b

    out: dict[str, Any] = {
        "addr": act, "categories": _mask_strings((own_mask | ex_mask)[act]),
        "own_categories": _mask_strings(own_mask[act]),
        "min_hops": np.where(min_hop[act] >= 1 << 30, -1, min_hop[act]),
        "direct_usd": dsum[act], "indirect_usd": isum[act], "volume_in": vin[act], "volume_out": vout[act],
    }
    lab_name = np.array([lab.name for lab in labels] + [None], dtype=object)
    lab_src = np.array([lab.source for lab in labels] + [None], dtype=object)
    lab_conf = np.array([lab.confidence for lab in labels] + [0], np.int64)
    bix: dict[str, Any] = {}
    for key, ax in (("", comb_ax), ("illicit_", ill), ("vc_", vc)):
        sc = rounded(ax["val"][act])
        bix[key] = band_ix(sc)
        prefix = {"": "r_", "illicit_": "i_", "vc_": "v_"}[key]
        out[f"{key}score"] = sc
        out[f"{key}band"] = band_names[bix[key]]
        out[f"{key}top_category"] = cat_names[ax["cat"][act]]
        li = ax["lab"][act]
        out[f"{prefix}kind"] = ax["kind"][act]
        out[f"{prefix}dir"] = ax["dir"][act]
        out[f"{prefix}share"] = ax["share"][act]
        out[f"{prefix}hop"] = ax["hop"][act]
        out[f"{prefix}inf"] = ax["inf"][act]
        out[f"{prefix}name"] = lab_name[li]
        out[f"{prefix}source"] = lab_src[li]
        out[f"{prefix}conf"] = lab_conf[li]
        ik = ax["kind"][act]
        shown = (ik == 2) | (ik == 4)
        names_ = np.full(act.size, None, dtype=object)
        names_[shown] = ind_name[act][shown]
        out[f"{prefix}ind"] = names_
        out[f"{prefix}ind_sev"] = np.where((ik == 2) | (ik == 4), ind_sev[act], 0)
        out[f"{prefix}beh"] = ax["beh"][act]
    conf_names = np.array(CONF_NAMES, dtype=object)
    iconf = np.full(act.size, None, dtype=object)
    pos_ill = out["illicit_score"] > 0
    iconf[pos_ill] = conf_names[ill["conf"][act]][pos_ill]
    out["illicit_confidence"] = iconf
    out["possible_victim"] = ill["kind"][act] == 5
    rule = profile.action
    never = len(BANDS)

    def th(band: str) -> int:
        return never if band == "never" else BANDS.index(band)

    report = bix["illicit_"] >= th(rule.report_illicit_at)
    sever = bix["vc_"] >= th(rule.sever_vc_at)
    review = (bix["illicit_"] >= th(rule.review_illicit_at)) | (bix["vc_"] >= th(rule.review_vc_at))
    from .behaviour import columns

    out.update(columns(bp, act))
    # the action's name per address: an index into the five names (one string object each, not one an address)
    actions = np.array(["none", "review", "sever", "report", "sever_and_report"], dtype=object)
    out["action"] = actions[np.where(report & sever, 4, np.where(report, 3, np.where(sever, 2, np.where(
        review, 1, 0))))]
    return out
