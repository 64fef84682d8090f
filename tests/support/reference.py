"""A straightforward networkx implementation of the scoring semantics: the baseline the engine is checked against.

Same inputs and outputs as :func:`chainrisk.score.compute`, written for clarity, edge by edge on a
``networkx.MultiDiGraph``: hop by hop, for every relaying address and every transfer it sent, sum the taint and
the volume it had received before that transfer. It shares only the constants and the input loader with the
engine; tests require the two to agree exactly on random graphs, and ``bench/bench_score.py`` times both.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import networkx as nx
import numpy as np

from chainrisk.engine import model
from chainrisk.engine.model import (
    CONF_NAMES,
    DEPOSIT_CATEGORY,
    DEPOSIT_CONFIDENCE,
    EXPOSURE_CAP,
    INDICATOR_WEIGHT,
    INFERRED_CATEGORY,
    INFERRED_CONFIDENCE,
    MICRO,
    SWEEP_SHARE,
    SWEEP_WINDOW_S,
    VICTIM_CORROBORATORS,
    Inputs,
    Label,
    Result,
    _micro,
    corroborate,
    forwarding_severity,
    medium_cap,
    own_factor,
)
from chainrisk.profiles import BANDS, Profile
from chainrisk.taxonomy import CATEGORIES, OWN_ONLY, VICTIM_CATEGORIES


def build_graph(inp: Inputs) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    g.add_nodes_from(inp.active.tolist())
    for i, (u, v, w, r, t) in enumerate(zip(inp.src.tolist(), inp.dst.tolist(), inp.usd.tolist(),
                                            inp.rank.tolist(), inp.time.tolist(), strict=True)):
        g.add_edge(u, v, key=i, w=w, r=r, t=t)
    return g


def reference_compute(inp: Inputs, profile: Profile, max_hops: int,
                      indicators: Mapping[int, Any] | None = None, *, forwarding: bool = True,
                      behaviour: Mapping[int, float] | None = None) -> Result:
    """The engine's definitions in plain Python and networkx. ``behaviour``: the behaviour part of each address
    (the model's output, 0 for inert addresses and stop nodes; None: the model is off), combined as the engine's
    ``chainrisk.engine.behaviour.combine`` documents."""
    p = profile.propagation
    sev = profile.severity
    ind: dict[int, list[tuple[str, int]]] = {}
    for a, v in (indicators or {}).items():
        items = [v] if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) else list(v)
        ind[int(a)] = sorted((str(nm), int(sv)) for nm, sv in items)
    g = build_graph(inp)
    inert = set(inp.inert.tolist())
    dust = _micro(p.dust_usd)

    def carries(u: int, v: int, d: Mapping[str, int]) -> bool:
        return d["w"] >= dust and d["w"] > 0 and u not in inert and v not in inert

    labels = [lab for lab in inp.labels if lab.address_id not in inert]
    labelled = {lab.address_id for lab in labels}
    cats: dict[str, set[int]] = defaultdict(set)
    for lab in labels:
        cats[lab.category].add(lab.address_id)

    # hubs: distinct counterparties over carrying transfers
    partners: dict[int, set[int]] = defaultdict(set)
    for u, v, d in g.edges(data=True):
        if carries(u, v, d):
            partners[u].add(v)
            partners[v].add(u)
    hubs = {x for x, ps in partners.items() if x not in labelled and x not in inert and len(ps) > p.hub_degree}

    # exchange deposit addresses
    exchange = cats.get(DEPOSIT_CATEGORY, set())
    deposits: dict[int, int] = {}
    for x in sorted(g.nodes):
        if x in labelled or x in inert or x in hubs:
            continue
        ins = [d for _, _, d in g.in_edges(x, data=True)]
        total_out = 0
        swept: dict[int, int] = defaultdict(int)
        for _, y, d in g.out_edges(x, data=True):
            total_out += d["w"]
            if y not in exchange or not carries(x, y, d):
                continue
            before = [e for e in ins if e["r"] < d["r"]]
            if not before:
                continue
            last = max(before, key=lambda e: e["r"])
            if last["t"] < 0 or d["t"] < 0 or d["t"] - last["t"] <= SWEEP_WINDOW_S:
                swept[y] += d["w"]
        s = sum(swept.values())
        if s > 0 and float(s) >= SWEEP_SHARE * float(total_out):
            deposits[x] = max(swept, key=lambda y: (swept[y], -y))

    stop = set(hubs) | set(deposits)
    for c in p.stop_categories:
        stop |= cats.get(c, set())
    # sources, keyed (category, inferred): labelled ones (not own-only categories) and inferred collectors
    sources: dict[tuple[str, bool], set[int]] = {
        (c, False): cats.get(c, set()) | (set(deposits) if c == DEPOSIT_CATEGORY else set())
        for c in CATEGORIES if sev[c] > 0 and c not in OWN_ONLY}
    collectors = sorted(a for a, v in ind.items() if any(nm == "collector" for nm, _ in v)
                        and a < inp.n and a not in labelled and a not in inert and a not in stop)
    if sev[INFERRED_CATEGORY] > 0:
        sources[(INFERRED_CATEGORY, True)] = set(collectors)
    else:
        collectors = []
    sources = {c: s for c, s in sources.items() if s}
    fwdp = model.FORWARDING
    fwd_cats = {c for (c, inf) in sources if forwarding and c in profile.axes.illicit}
    # running maximum of time by rank (forwarding windows)
    nr = max(inp.rank.tolist(), default=-1) + 1
    tr = [-1] * nr
    for r_, t_ in zip(inp.rank.tolist(), inp.time.tolist(), strict=True):
        tr[r_] = max(tr[r_], t_)
    mono = list(tr)
    for i in range(1, nr):
        mono[i] = max(mono[i - 1], mono[i])
    # forwarding: per transfer the illicit taint summed over the judged keys and hops, and its largest part
    tau: dict[int, int] = defaultdict(int)
    part: dict[int, tuple[int, int, int]] = {}   # edge -> (taint of the part, order of the part, hop)
    part_of: list[tuple[str, bool, int]] = []
    edge_at = {k: (u, v, d) for u, v, k, d in g.edges(keys=True, data=True)}

    def accumulate(c: str, is_inf: bool, hop: int, taint: Mapping[int, int], srcs: set[int]) -> None:
        part_of.append((c, is_inf, hop))
        for k, t in taint.items():
            if edge_at[k][1] in srcs:
                continue
            tau[k] += t
            if k not in part or t > part[k][0]:
                part[k] = (t, len(part_of) - 1, hop)

    events: list[tuple[int, int, int, int, str, bool, int]] = []   # (addr, edge, taint, out, cat, inferred, hop)

    def judge() -> None:
        min_t = math.floor(fwdp.min_usd * 1_000_000 + 0.5)
        for k, total in tau.items():
            _u, v, d = edge_at[k]
            t = min(total, d["w"])
            te = mono[d["r"]]
            if t == 0 or t < min_t or 2 * t < d["w"] or te < 0 or v in stop:
                continue
            win_in = sum(d2["w"] for _, _, d2 in g.in_edges(v, data=True)
                         if te - fwdp.window_s <= mono[d2["r"]] <= te + fwdp.window_s)
            out = sum(d2["w"] for _, y, d2 in g.out_edges(v, data=True)
                      if carries(v, y, d2) and d2["r"] > d["r"] and mono[d2["r"]] <= te + fwdp.window_s)
            if 2 * t >= win_in and float(out) >= fwdp.out_share * float(t):
                c, is_inf, hop = part_of[part[k][1]]
                events.append((v, k, t, out, c, is_inf, hop))

    vin: dict[int, int] = defaultdict(int)
    vout: dict[int, int] = defaultdict(int)
    for u, v, d in g.edges(data=True):
        vout[u] += d["w"]
        vin[v] += d["w"]

    # propagation: hop_usd[(cat, direction)][hop][address] = micro-USD
    top_rank = max(inp.rank.tolist(), default=0)
    rev = nx.MultiDiGraph()
    rev.add_nodes_from(g.nodes)
    for u, v, k, d in g.edges(keys=True, data=True):
        rev.add_edge(v, u, key=k, w=d["w"], r=top_rank - d["r"])
    hop_usd: dict[tuple[str, str], dict[int, dict[int, int]]] = {}
    for (c, is_inf), srcs in sources.items():
        for direction, h in (("in", g), ("out", rev)):
            taint = {}
            for s in srcs:
                if s not in h:
                    continue
                for _, v, k, d in h.out_edges(s, keys=True, data=True):
                    if carries(s, v, d) if direction == "in" else carries(v, s, d):
                        taint[k] = d["w"]
            layers: dict[int, dict[int, int]] = {}
            k_c = min(max_hops, p.max_hops_vc) if c in profile.axes.vc_business else max_hops
            if direction == "out":
                k_c = min(k_c, p.max_hops_out)
            for hop in range(1, k_c + 1):
                got: dict[int, int] = defaultdict(int)
                for _u, v, k in h.edges(keys=True):
                    if k in taint:
                        got[v] += taint[k]
                if not got:
                    break
                layers[hop] = dict(got)
                if direction == "in" and c in fwd_cats:
                    accumulate(c, is_inf, hop, taint, srcs)
                if hop == k_c:
                    break
                nxt = {}
                for u in h.nodes:
                    if u in stop or u in srcs:
                        continue
                    ins = list(h.in_edges(u, keys=True, data=True))
                    for _, v, k, d in h.out_edges(u, keys=True, data=True):
                        if not (carries(u, v, d) if direction == "in" else carries(v, u, d)):
                            continue
                        a = sum(taint.get(k2, 0) for _, _, k2, d2 in ins if d2["r"] < d["r"])
                        if a <= 0:
                            continue
                        b = sum(d2["w"] for _, _, _, d2 in ins if d2["r"] < d["r"])
                        t = math.floor(float(d["w"]) * float(a) / float(b) + 0.5)
                        if t > 0:
                            nxt[k] = t
                taint = nxt
            hop_usd[(c, is_inf, direction)] = layers

    # forwarding indicators: the strongest event per address
    judge()
    fired: list[tuple[int, str, int, str]] = []
    best_ev: dict[int, tuple[Any, ...]] = {}
    n_ev: dict[int, int] = defaultdict(int)
    for v, k, t, out_, c, is_inf, hop in events:
        sv = int(forwarding_severity(np.int64(t), np.int64(out_)))
        key = (-sv, -t, edge_at[k][2]["r"], edge_at[k][0])
        n_ev[v] += 1
        if v not in best_ev or key < best_ev[v][0]:
            best_ev[v] = (key, k, t, out_, c, is_inf, hop, sv)
    for v in sorted(best_ev):
        _, k, t, out_, c, is_inf, hop, sv = best_ev[v]
        u, _v, d = edge_at[k]
        fired.append((v, "forwarding", sv, json.dumps({
            "method": "forwarding", "category": c, "inferred": is_inf, "hop": hop, "from_id": u, "rank": d["r"],
            "time": d["t"], "taint_usd": t / MICRO, "usd": d["w"] / MICRO, "forwarded_usd": out_ / MICRO,
            "window_s": fwdp.window_s, "events": n_ev[v]}, sort_keys=True)))
        ind.setdefault(v, []).append(("forwarding", sv))
        ind[v].sort()

    # exposure rows
    rows: list[tuple[int, str, str, str, int, float, float, int, bool]] = []
    for (c, is_inf, direction), layers in hop_usd.items():
        vol = vin if direction == "in" else vout
        acc: dict[int, list[Any]] = {}
        for hop in sorted(layers):
            for x, u in layers[hop].items():
                rec = acc.setdefault(x, [0, 0.0, 1 << 30, 0, 0.0, 1 << 30])
                base = 0 if hop == 1 else 3
                rec[base] += u
                rec[base + 1] += float(u) * (p.hop_decay ** (hop - 1))
                rec[base + 2] = min(rec[base + 2], hop)
        for x, rec in acc.items():
            v = float(vol[x]) if vol[x] > 0 else 1.0
            for base, cls in ((0, "direct"), (3, "indirect")):
                share = float(rec[base]) / v
                if rec[base] > 0 and share >= p.min_share:
                    rows.append((x, c, direction, cls, rec[base], rec[base + 1], share, rec[base + 2], is_inf))
    rows.sort(key=lambda q: (q[0], CATEGORIES.index(q[1]), q[8], q[2] == "out", q[3] == "indirect"))

    # scores
    inferred = [(x, DEPOSIT_CATEGORY, next((lab.name for lab in labels if lab.address_id == y
                                            and lab.category == DEPOSIT_CATEGORY), None), DEPOSIT_CONFIDENCE,
                 json.dumps({"method": "deposit_sweep", "sweeps_to": y, "min_share": SWEEP_SHARE,
                             "window_s": SWEEP_WINDOW_S}, sort_keys=True))
                for x, y in sorted(deposits.items())]
    inferred += [(x, INFERRED_CATEGORY, None, INFERRED_CONFIDENCE,
                  json.dumps({"method": "collector", "indicator": "collector",
                              "severity": max(sv for nm, sv in ind[x] if nm == "collector")}, sort_keys=True))
                 for x in collectors]
    all_labels = labels + [Label(x, c, nm, conf, "chainrisk:inferred") for x, c, nm, conf, _ in inferred]
    cap = medium_cap(profile)
    ill_axis, vc_axis = set(profile.axes.illicit), set(profile.axes.vc_business)
    by_addr_rows: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        by_addr_rows[row[0]].append(row)
    keys = ("addr", "score", "band", "top_category", "categories", "own_categories", "min_hops", "direct_usd",
            "indirect_usd", "volume_in", "volume_out", "illicit_score", "illicit_band", "illicit_top_category",
            "illicit_confidence", "possible_victim", "vc_score", "vc_band", "vc_top_category", "action")
    out: dict[str, list[Any]] = {k: [] for k in keys}

    def level(conf: int) -> int:
        return 3 if conf >= 50 else 2 if conf >= 20 else 1

    def rounded(v: float) -> float:
        return math.floor(min(100.0, v) * 100.0 + 0.5) / 100.0

    for x in inp.active.tolist():
        own = [lab for lab in all_labels if lab.address_id == x]
        lst = ind.get(x, [])
        sv_nm = max(((sv, nm) for nm, sv in lst), default=None)
        ind_val = INDICATOR_WEIGHT * float(sv_nm[0]) if sv_nm else 0.0
        vcorr = any(nm in VICTIM_CORROBORATORS for nm, _ in lst)
        # candidates: dicts with val, kind, cat, inf, dir, conf and a tie-break key
        cands: list[dict[str, Any]] = []
        for i, lab in enumerate(own):
            cands.append({"val": sev[lab.category] * own_factor(lab.confidence), "kind": 0,
                          "cat": CATEGORIES.index(lab.category), "inf": 0, "dir": 0, "conf": level(lab.confidence),
                          "order": i})
        xr = by_addr_rows.get(x, [])
        for c, is_inf, direction in sorted({(r[1], r[8], r[2]) for r in xr}):
            dr = sorted((r for r in xr if (r[1], r[8], r[2]) == (c, is_inf, direction)),
                        key=lambda q: q[3] == "indirect")
            num, raw = 0.0, 0.0
            for r in dr:
                num += r[5]
                raw += r[6]
            vol = vin if direction == "in" else vout
            sw = num / float(vol[x])
            val = EXPOSURE_CAP * sev[c] * math.sqrt(min(1.0, sw))
            victim = direction == "out" and c in VICTIM_CATEGORIES and not vcorr
            if victim or (is_inf and not lst):
                val = min(val, cap)
            mh = min(r[7] for r in dr)
            cands.append({"val": val, "kind": 5 if victim else 1, "cat": CATEGORIES.index(c), "inf": int(is_inf),
                          "dir": int(direction == "out"), "conf": 1 if is_inf else 3 if mh <= 1 else 2 if mh <= 3 else 1,
                          "order": 0})

        def best(pred: Any, pool: list[dict[str, Any]] = cands) -> dict[str, Any]:
            cs = [c for c in pool if c["val"] > 0 and pred(c)]
            if not cs:
                return {"val": 0.0, "kind": -1, "cat": -1, "conf": 0}
            return dict(min(cs, key=lambda c: (-c["val"], min(c["kind"], 1), c["cat"], c["inf"], c["dir"],
                                               c["order"])))

        ill = best(lambda c: CATEGORIES[c["cat"]] in ill_axis)
        xi = best(lambda c: CATEGORIES[c["cat"]] in ill_axis and c["kind"] == 1)
        if xi["val"] > 0 and ind_val > 0 and corroborate(xi["val"], ind_val) > max(ill["val"], ind_val):
            ill = dict(xi, val=corroborate(xi["val"], ind_val), kind=4, conf=max(xi["conf"], 2))
        elif ind_val > ill["val"]:
            ill = dict(ill, val=ind_val, kind=2, conf=1)
        part = (behaviour or {}).get(x, 0.0)
        b = part if part >= profile.behaviour.min_part else 0.0
        bi = BANDS.index(profile.behaviour.alone_at_most)
        alone_cap = 100.0 if bi + 1 >= len(BANDS) else profile.bands[BANDS[bi + 1]] - 0.01
        if b > 0 and b >= profile.behaviour.corroborate_at and ill["val"] > 0 and ill["kind"] in (1, 2, 4):
            ill = dict(ill, val=corroborate(ill["val"], b))
        elif b > 0 and min(b, alone_cap) > ill["val"]:
            ill = {"val": min(b, alone_cap), "kind": 6, "cat": -1, "conf": 1}
        vc = best(lambda c: CATEGORIES[c["cat"]] in vc_axis)
        oth = best(lambda c: CATEGORIES[c["cat"]] not in ill_axis and CATEGORIES[c["cat"]] not in vc_axis)
        comb = ill
        for other in (vc, oth):
            if other["val"] > comb["val"]:
                comb = other
        if x in inert:
            ill, vc, comb = dict(ill, kind=3), dict(vc, kind=3), dict(comb, kind=3)
        own_c = {lab.category for lab in own}
        all_c = own_c | {r[1] for r in xr}
        mh0: int | None = 0 if any(sev[lab.category] * own_factor(lab.confidence) > 0 for lab in own) else (
            min((r[7] for r in xr), default=None))
        sc, isc, vsc = rounded(comb["val"]), rounded(ill["val"]), rounded(vc["val"])
        ib, vb = profile.band(isc), profile.band(vsc)
        out["addr"].append(x)
        out["score"].append(sc)
        out["band"].append(profile.band(sc))
        out["top_category"].append(CATEGORIES[comb["cat"]] if comb["cat"] >= 0 else None)
        out["categories"].append(";".join(sorted(all_c)) if all_c else None)
        out["own_categories"].append(";".join(sorted(own_c)) if own_c else None)
        out["min_hops"].append(mh0)
        out["direct_usd"].append(sum(r[4] for r in xr if r[3] == "direct"))
        out["indirect_usd"].append(sum(r[4] for r in xr if r[3] == "indirect"))
        out["volume_in"].append(vin[x])
        out["volume_out"].append(vout[x])
        out["illicit_score"].append(isc)
        out["illicit_band"].append(ib)
        out["illicit_top_category"].append(CATEGORIES[ill["cat"]] if ill["cat"] >= 0 else None)
        out["illicit_confidence"].append(CONF_NAMES[ill["conf"]] if isc > 0 else None)
        out["possible_victim"].append(ill["kind"] == 5)
        out["vc_score"].append(vsc)
        out["vc_band"].append(vb)
        out["vc_top_category"].append(CATEGORIES[vc["cat"]] if vc["cat"] >= 0 else None)
        a = profile.action

        def at(band: str, threshold: str) -> bool:
            return threshold != "never" and BANDS.index(band) >= BANDS.index(threshold)

        report, sever = at(ib, a.report_illicit_at), at(vb, a.sever_vc_at)
        out["action"].append("sever_and_report" if report and sever else "report" if report else "sever" if sever
                             else "review" if at(ib, a.review_illicit_at) or at(vb, a.review_vc_at) else "none")
    exposures = {
        "addr": np.array([r[0] for r in rows], np.int64),
        "cat": np.array([CATEGORIES.index(r[1]) for r in rows], np.int64),
        "dir": np.array([r[2] == "out" for r in rows], np.int64),
        "cls": np.array([r[3] == "indirect" for r in rows], np.int64),
        "usd": np.array([r[4] for r in rows], np.int64),
        "weighted": np.array([r[5] for r in rows], np.float64),
        "share": np.array([r[6] for r in rows], np.float64),
        "min_hop": np.array([r[7] for r in rows], np.int64),
        "inf": np.array([int(r[8]) for r in rows], np.int64),
    }
    return Result(exposures, out, inferred, fired)
