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

from chainrisk.engine.model import (
    DEPOSIT_CATEGORY,
    DEPOSIT_CONFIDENCE,
    EXPOSURE_CAP,
    INDICATOR_WEIGHT,
    SWEEP_SHARE,
    SWEEP_WINDOW_S,
    Inputs,
    Label,
    Result,
    _micro,
    corroborate,
    own_factor,
)
from chainrisk.profiles import Profile
from chainrisk.taxonomy import CATEGORIES, ILLICIT


def build_graph(inp: Inputs) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    g.add_nodes_from(inp.active.tolist())
    for i, (u, v, w, r, t) in enumerate(zip(inp.src.tolist(), inp.dst.tolist(), inp.usd.tolist(),
                                            inp.rank.tolist(), inp.time.tolist(), strict=True)):
        g.add_edge(u, v, key=i, w=w, r=r, t=t)
    return g


def reference_compute(inp: Inputs, profile: Profile, max_hops: int,
                      indicators: Mapping[int, tuple[str, int]] | None = None) -> Result:
    p = profile.propagation
    sev = profile.severity
    indicators = indicators or {}
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
    sources = {c: cats.get(c, set()) | (set(deposits) if c == DEPOSIT_CATEGORY else set())
               for c in CATEGORIES if sev[c] > 0}
    sources = {c: s for c, s in sources.items() if s}

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
    for c, srcs in sources.items():
        for direction, h in (("in", g), ("out", rev)):
            taint = {}
            for s in srcs:
                if s not in h:
                    continue
                for _, v, k, d in h.out_edges(s, keys=True, data=True):
                    if carries(s, v, d) if direction == "in" else carries(v, s, d):
                        taint[k] = d["w"]
            layers: dict[int, dict[int, int]] = {}
            for hop in range(1, max_hops + 1):
                got: dict[int, int] = defaultdict(int)
                for _u, v, k in h.edges(keys=True):
                    if k in taint:
                        got[v] += taint[k]
                if not got:
                    break
                layers[hop] = dict(got)
                if hop == max_hops:
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
            hop_usd[(c, direction)] = layers

    # exposure rows
    rows: list[tuple[int, str, str, str, int, float, float, int]] = []
    for (c, direction), layers in hop_usd.items():
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
                    rows.append((x, c, direction, cls, rec[base], rec[base + 1], share, rec[base + 2]))
    rows.sort(key=lambda q: (q[0], CATEGORIES.index(q[1]), q[2] == "out", q[3] == "indirect"))

    # scores
    inferred = [(x, DEPOSIT_CATEGORY, next((lab.name for lab in labels if lab.address_id == y
                                            and lab.category == DEPOSIT_CATEGORY), None), DEPOSIT_CONFIDENCE,
                 json.dumps({"method": "deposit_sweep", "sweeps_to": y, "min_share": SWEEP_SHARE,
                             "window_s": SWEEP_WINDOW_S}, sort_keys=True))
                for x, y in sorted(deposits.items())]
    all_labels = labels + [Label(x, c, nm, conf, "chainrisk:deposit_sweep") for x, c, nm, conf, _ in inferred]
    by_addr_rows: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        by_addr_rows[row[0]].append(row)
    out: dict[str, list[Any]] = {k: [] for k in (
        "addr", "score", "band", "top_category", "categories", "own_categories", "min_hops", "direct_usd",
        "indirect_usd", "volume_in", "volume_out")}
    for x in inp.active.tolist():
        own = [lab for lab in all_labels if lab.address_id == x]
        best_own: tuple[float, int, Label] | None = None
        for lab in own:
            val = sev[lab.category] * own_factor(lab.confidence)
            ci = CATEGORIES.index(lab.category)
            if best_own is None or (val, -ci) > (best_own[0], -best_own[1]):
                best_own = (val, ci, lab)
        cands: list[tuple[float, int, int]] = []  # (value, -kind, -category index)
        if best_own is not None:
            cands.append((best_own[0], 0, -best_own[1]))
        xr = by_addr_rows.get(x, [])
        for c in sorted({r[1] for r in xr}, key=CATEGORIES.index):
            s_best = -1.0
            for direction in ("in", "out"):
                dr = [r for r in xr if r[1] == c and r[2] == direction]
                if not dr:
                    continue
                num = 0.0
                for r in sorted(dr, key=lambda q: q[3] == "indirect"):
                    num += r[5]
                vol = vin if direction == "in" else vout
                share_w = num / float(vol[x])
                s_best = max(s_best, share_w)
            cands.append((EXPOSURE_CAP * sev[c] * math.sqrt(min(1.0, s_best)), -1, -CATEGORIES.index(c)))
        best = max(cands) if cands else (0.0, 0, 0)
        has = best[0] > 0
        ind = indicators.get(x)
        ind_val = INDICATOR_WEIGHT * float(ind[1]) if ind else 0.0
        ill = [c for c in cands if c[1] == -1 and CATEGORIES[-c[2]] in ILLICIT]
        if ill and ind_val > 0 and max(ill)[0] > 0:
            xi = max(ill)
            comb = corroborate(xi[0], ind_val)
            if comb > max(best[0], ind_val):
                best, has = (comb, -1, xi[2]), True
        raw = min(100.0, max(best[0] if cands else 0.0, ind_val))
        sc = math.floor(raw * 100.0 + 0.5) / 100.0
        own_c = {lab.category for lab in own}
        all_c = own_c | {r[1] for r in xr}
        mh: int | None = 0 if best_own is not None and best_own[0] > 0 else (
            min((r[7] for r in xr), default=None))
        out["addr"].append(x)
        out["score"].append(sc)
        out["band"].append(profile.band(sc))
        out["top_category"].append(CATEGORIES[-best[2]] if has else None)
        out["categories"].append(";".join(sorted(all_c)) if all_c else None)
        out["own_categories"].append(";".join(sorted(own_c)) if own_c else None)
        out["min_hops"].append(mh)
        out["direct_usd"].append(sum(r[4] for r in xr if r[3] == "direct"))
        out["indirect_usd"].append(sum(r[4] for r in xr if r[3] == "indirect"))
        out["volume_in"].append(vin[x])
        out["volume_out"].append(vout[x])
    exposures = {
        "addr": np.array([r[0] for r in rows], np.int64),
        "cat": np.array([CATEGORIES.index(r[1]) for r in rows], np.int64),
        "dir": np.array([r[2] == "out" for r in rows], np.int64),
        "cls": np.array([r[3] == "indirect" for r in rows], np.int64),
        "usd": np.array([r[4] for r in rows], np.int64),
        "weighted": np.array([r[5] for r in rows], np.float64),
        "share": np.array([r[6] for r in rows], np.float64),
        "min_hop": np.array([r[7] for r in rows], np.int64),
    }
    return Result(exposures, out, inferred)
