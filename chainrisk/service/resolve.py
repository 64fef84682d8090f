"""Batch resolution for ``POST /v1/screen``: many addresses against one scoring run in a few set-based queries.

The answers are :class:`chainrisk.lookup.LookupResult` objects built exactly as :func:`chainrisk.lookup.lookup_one`
builds them (same fields, ordering, rounding and reasons; a test compares the two on the same store), but with one
query per table for the whole batch instead of four per address. Duplicate addresses are resolved once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..address import Address, try_parse

if TYPE_CHECKING:
    from ..lookup import LookupResult, Provenance
    from ..store import Store


def batch_lookup(store: Store, values: list[str], run: Provenance) -> list[LookupResult]:
    """One result per value, in order, against ``run`` (see :func:`chainrisk.lookup.resolve_run`)."""
    from ..lookup import Exposure, Indicator, Label, LookupResult, _loads, _r, _split

    parsed: list[Address | Any] = []
    index: dict[tuple[str, str], int] = {}
    for v in values:
        p = try_parse(v) if isinstance(v, str) else try_parse(str(v))
        parsed.append(p)
        if isinstance(p, Address):
            index.setdefault((p.chain, p.address), len(index))
    data: dict[tuple[str, str], dict[str, Any]] = {}
    if index:
        keys = list(index)
        con = store.con
        batch = pa.table({"pos": list(range(len(keys))), "chain": [k[0] for k in keys],
                          "address": [k[1] for k in keys]})
        name = f"_svc_batch_{id(batch):x}"
        con.execute("SELECT 1").fetchall()  # DuckDB 2 refuses register() while an earlier result is unfetched
        con.register(name, batch)
        try:
            rows = store.execute(
                "SELECT b.pos, a.id, s.score, s.band, s.top_category, s.categories, s.own_categories, s.min_hops,"
                " s.direct_usd, s.indirect_usd, s.volume_in_usd, s.volume_out_usd, s.reason"
                f" FROM {name} b LEFT JOIN addresses a ON a.address = b.address AND a.chain = b.chain"
                " LEFT JOIN scores s ON s.address_id = a.id AND s.run_id = ?", [run.run_id]).fetchall()
            labels: dict[int, list[Label]] = {}
            for r in store.execute(
                "SELECT b.pos, l.category, l.name, l.source, l.source_version, l.confidence, l.valid_from,"
                f" l.valid_to FROM {name} b JOIN labels l ON l.address = b.address AND l.chain = b.chain"
                " ORDER BY b.pos, l.valid_to IS NOT NULL, l.confidence DESC, l.category, l.source,"
                " l.valid_from NULLS FIRST", []).fetchall():
                labels.setdefault(r[0], []).append(Label(*r[1:]))
            scored = {r[1]: r[0] for r in rows if r[2] is not None}
            exposures: dict[int, list[Exposure]] = {}
            indicators: dict[int, list[Indicator]] = {}
            if scored:
                ids = pa.table({"address_id": pa.array(list(scored), pa.int64())})
                idname = name + "_ids"
                con.register(idname, ids)
                try:
                    for aid, c, d, h, u, s, m in store.execute(
                        "SELECT e.address_id, e.category, e.direction, e.hop_class, e.usd, e.share, e.min_hop"
                        f" FROM exposures e SEMI JOIN {idname} i ON i.address_id = e.address_id"
                        " WHERE e.run_id = ?"
                        " ORDER BY e.address_id, e.usd DESC, e.category, e.direction, e.hop_class",
                        [run.run_id]).fetchall():
                        exposures.setdefault(aid, []).append(
                            Exposure(c, d, h, round(float(u), 2), round(float(s), 4), int(m)))
                    for aid, i, sev, ev in store.execute(
                        "SELECT n.address_id, n.indicator, n.severity, n.evidence"
                        f" FROM indicators n SEMI JOIN {idname} i ON i.address_id = n.address_id"
                        " WHERE n.run_id = ? ORDER BY n.address_id, n.severity DESC, n.indicator",
                        [run.run_id]).fetchall():
                        indicators.setdefault(aid, []).append(Indicator(i, int(sev), _loads(ev, ev)))
                finally:
                    con.unregister(idname)
        finally:
            con.unregister(name)
        for r in rows:
            data[keys[r[0]]] = {"row": r, "labels": labels.get(r[0], []),
                                "exposures": exposures.get(r[1], []), "indicators": indicators.get(r[1], [])}

    out: list[LookupResult] = []
    for v, p in zip(values, parsed, strict=True):
        if not isinstance(p, Address):
            out.append(LookupResult(input=v, status="invalid", address=None, chain=None, reason=p.reason,
                                    provenance=run))
            continue
        d = data[(p.chain, p.address)]
        row, labs = d["row"], d["labels"]
        base: dict[str, Any] = {"input": v, "address": p.address, "chain": p.chain, "provenance": run,
                                "labels": labs}
        if row[1] is None or row[2] is None:
            if row[1] is None:
                why = f"no {p.chain} activity of this address is in the store"
            else:
                why = (f"the address is in the store but not in scoring run {run.run_id} (its data arrived "
                       "later); rerun 'chainrisk score'")
            active = [lab for lab in labs if lab.active]
            if active:
                why += "; it carries labels: " + ", ".join(
                    sorted({f"{lab.category} ({lab.source})" for lab in active}))
            out.append(LookupResult(status="unknown", reason=why, **base))
            continue
        out.append(LookupResult(
            status="ok", reason=row[12] or "", risk_score=_r(row[2]), risk_band=row[3], top_category=row[4],
            categories=_split(row[5]), own_categories=_split(row[6]), min_hops=row[7], direct_usd=_r(row[8]),
            indirect_usd=_r(row[9]), volume_in_usd=_r(row[10]), volume_out_usd=_r(row[11]),
            exposures=list(d["exposures"]), indicators=list(d["indicators"]), **base))
    return out
