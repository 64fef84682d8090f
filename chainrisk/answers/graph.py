"""The transfer graph around an address, for the investigator's graph explorer (``/ui``) and its API.

    >>> from chainrisk.answers import graph
    >>> g = graph.neighbourhood(st, "0xabc...", limit=25, min_usd=100)
    >>> g["nodes"][0]["address"], len(g["edges"]), g["folded"]

* :func:`neighbourhood`: the address's counterparties, aggregated per direction (sources of funds: ``in``;
  destinations: ``out``), the largest ``limit`` per direction by USD, the rest folded into one summary per
  direction; filtered by time window, token and minimum transfer amount (USD). Each node carries what the scoring
  run knows of it (bands of both verdicts, the action, the top category, its active labels). It counts the run's
  carrying transfers (priced, at least the profile's dust, no null/burn/token-contract end: what the engine
  propagates, so address-poisoning dust does not clutter the view), read from the run's ART-indexed evidence
  tables; with a token filter, or before those tables exist, it scans all transfers instead.
* :func:`edge_transfers`: the transfers behind one edge (tx hash, time, token, amount, USD, explorer link).
* :func:`find_path`: a shortest chain of counterparties from A to B within ``max_hops`` hops, following the
  money (A sends, B receives), by a bidirectional breadth-first search over the run's carrying transfers (the
  evidence tables, :mod:`chainrisk.engine.evidence`: dust and inert addresses left out), expanding at most
  ``frontier`` addresses per level (those with the largest USD), hubs (more than ``hub_degree`` counterparties)
  never crossed.

Everything here is the admin's view (label names and sources included); :func:`chainrisk.answers.redact.redact_graph`
makes the read view. Limits are enforced here, not only by the HTTP layer.
"""

from __future__ import annotations

import re
from datetime import datetime
from itertools import pairwise
from typing import Any

from ..address import Address, try_parse
from ..errors import InputError, InvalidAddress, UsageError
from ..store import Store, resolve_run
from .links import address_url, tx_url
from .lookup import verdict_select

_SAFE = re.compile(r"[0-9A-Za-z]{20,64}")   # a normalised address: hex or base58, safe as an SQL literal
MAX_LIMIT = 100            # counterparties per direction
MAX_TRANSFERS = 500        # transfers behind one edge
MAX_PATH_HOPS = 6
PATH_FRONTIER = 200


def _parse(address: str) -> Address:
    parsed = try_parse(address)
    if not isinstance(parsed, Address):
        raise InvalidAddress(address, parsed.reason)
    return parsed


def _address_id(store: Store, a: Address) -> int | None:
    """The address's id on its chain; an EVM address the store has only on other EVM chains is drawn on the first
    of them in registry order (bsc before polygon; the graph of one chain: money does not move between chains in
    the store's transfers)."""
    rows = store.execute("SELECT chain, id FROM addresses WHERE address = ?", [a.address]).fetchall()
    if not rows:
        return None
    by_chain = {c: int(i) for c, i in rows}
    if a.chain in by_chain:
        return by_chain[a.chain]
    from .lookup import chain_order

    return by_chain[min(by_chain, key=chain_order)] if a.chain != "tron" else None


def _filters(since: datetime | None, until: datetime | None, token: str | None, min_usd: float | None,
             params: dict[str, Any]) -> str:
    where = []
    if since is not None:
        where.append("t.block_time >= $since")
        params["since"] = since.replace(tzinfo=None)
    if until is not None:
        where.append("t.block_time < $until")
        params["until"] = until.replace(tzinfo=None)
    if token:
        where.append("(upper(k.symbol) = upper($token) OR lower(k.contract) = lower($token))")
        params["token"] = token
    if min_usd:
        where.append("coalesce(t.amount * k.usd_peg, 0) >= $min_usd")
        params["min_usd"] = float(min_usd)
    return "".join(f" AND {w}" for w in where)


def node_facts(store: Store, ids: list[int], run_id: str) -> dict[int, dict[str, Any]]:
    """What the run and the labels say of each address id: address, chain, bands, action, top category,
    labels (admin view: category, name, source)."""
    if not ids:
        return {}
    id_list = ", ".join(str(int(i)) for i in sorted(set(ids)))
    out: dict[int, dict[str, Any]] = {}
    # three point-query statements on literal id lists (answered from the ART indexes and the id-ordered
    # dictionary; a join would scan the run's scores)
    for aid, address, chain in store.execute(
            f"SELECT id, address, chain FROM addresses WHERE id IN ({id_list})").fetchall():
        out[int(aid)] = {"id": int(aid), "address": address, "chain": chain, "status": "unknown",
                         "risk_score": None, "risk_band": None, "top_category": None, "illicit_band": None,
                         "vc_business_band": None, "action": None, "labels": [],
                         "explorer_url": address_url(chain, address)}
    for r in store.execute(
            f"SELECT address_id, score, band, top_category, {verdict_select(store)} FROM scores"
            f" WHERE address_id IN ({id_list}) AND run_id = ?", [run_id]).fetchall():
        f = out.get(int(r[0]))
        if f is not None and r[2] is not None:
            f.update({"status": "ok", "risk_score": round(float(r[1]), 2), "risk_band": r[2], "top_category": r[3],
                      "illicit_band": r[5], "vc_business_band": r[10], "action": r[13]})
    by_addr = {(f["address"], f["chain"]): i for i, f in out.items()}
    # a literal IN-list of the addresses (answered from the labels' ART index; a join would scan the labels)
    safe = sorted({a for a, _c in by_addr if _SAFE.fullmatch(a)})
    if safe:
        lits = ", ".join(f"'{a}'" for a in safe)
        for addr, chain, cat, name, source in store.execute(
                f"""SELECT address, chain, category, name, source FROM labels
                    WHERE address IN ({lits}) AND valid_to IS NULL
                    ORDER BY address, confidence DESC, category, source""").fetchall():
            i = by_addr.get((addr, chain))
            if i is not None:
                out[i]["labels"].append({"category": cat, "name": name, "source": source})
    return out


def neighbourhood(store: Store, address: str, *, run_id: str | None = None, limit: int = 25,
                  since: datetime | None = None, until: datetime | None = None, token: str | None = None,
                  min_usd: float | None = None) -> dict[str, Any]:
    """The counterparties of ``address`` (see the module docstring). Raises :class:`InvalidAddress` for a bad
    address; an address with no transfers gives just its own node."""
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit is 1..{MAX_LIMIT} counterparties per direction")
    if min_usd is not None and min_usd < 0:
        raise UsageError("min_usd must not be negative")
    a = _parse(address)
    run = resolve_run(store, run_id)
    aid = _address_id(store, a)
    result: dict[str, Any] = {"address": a.address, "chain": a.chain, "run_id": run.run_id,
                              "filters": {"since": since.isoformat() if since else None,
                                          "until": until.isoformat() if until else None, "token": token,
                                          "min_usd": min_usd, "limit": limit},
                              "nodes": [], "edges": [], "folded": {"in": None, "out": None}}
    if aid is None:
        result["nodes"] = [{"id": None, "address": a.address, "chain": a.chain, "status": "unknown",
                            "risk_score": None, "risk_band": None, "top_category": None, "illicit_band": None,
                            "vc_business_band": None, "action": None, "labels": [], "role": "subject",
                            "explorer_url": address_url(a.chain, a.address)}]
        return result
    rows = _aggregate(store, aid, run.run_id, limit, since, until, token, min_usd)
    shown = [r for r in rows if r[6]]
    facts = node_facts(store, [aid, *(int(r[0]) for r in shown)], run.run_id)
    subject = {**facts[aid], "role": "subject"}
    nodes: dict[int, dict[str, Any]] = {aid: subject}
    edges = []
    for peer, direction, usd, n, first, last, _ in shown:
        node = nodes.setdefault(int(peer), {**facts[int(peer)], "role": "source" if direction == "in"
                                            else "destination"})
        if node["role"] != ("source" if direction == "in" else "destination") and node["id"] != aid:
            node["role"] = "both"
        src, dst = (node["address"], a.address) if direction == "in" else (a.address, node["address"])
        edges.append({"from": src, "to": dst, "direction": direction, "usd": round(float(usd), 2),
                      "transfers": int(n), "first_block": int(first), "last_block": int(last)})
    for d in ("in", "out"):
        rest = [r for r in rows if r[1] == d and not r[6]]
        if rest:
            result["folded"][d] = {"counterparties": len(rest), "usd": round(sum(float(r[2]) for r in rest), 2),
                                   "transfers": sum(int(r[3]) for r in rest)}
    result["nodes"] = list(nodes.values())
    result["edges"] = edges
    return result


def _aggregate(store: Store, aid: int, run_id: str, limit: int, since: datetime | None, until: datetime | None,
               token: str | None, min_usd: float | None) -> list[tuple[Any, ...]]:
    """Per (counterparty, direction): USD, transfers, first and last block, and whether it is among the ``limit``
    largest of its direction. From the run's carrying-transfer index (``evidence_in`` by receiver and
    ``evidence_out`` by sender, ART-indexed: point lookups) when it is built for the run and no token is asked;
    otherwise from a scan of ``transfers``."""
    built = store.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'evidence_meta'").fetchall()
    fast = not token and built[0][0] and store.execute(
        "SELECT count(*) FROM evidence_meta WHERE run_id = ?", [run_id]).fetchall()[0][0]
    params: dict[str, Any] = {"id": aid, "n": limit}
    rank = """r AS (SELECT *, row_number() OVER (PARTITION BY direction ORDER BY usd DESC, peer) AS rk FROM g)
        SELECT peer, direction, usd, n, first, last, rk <= $n AS shown FROM r ORDER BY direction, rk"""
    if fast:
        where = ""
        if since is not None:   # the time window as a block range (transfers are stored in block order)
            params["b0"] = _block_at(store, since, first=True)
            where += " AND block_number >= $b0"
        if until is not None:
            params["b1"] = _block_at(store, until, first=False)
            where += " AND block_number <= $b1"
        if min_usd:
            params["min_usd"] = float(min_usd)
            where += " AND usd >= $min_usd"
        return store.execute(
            f"""
            WITH t AS (SELECT src AS peer, 'in' AS direction, usd, block_number FROM evidence_in
                       WHERE dst = $id {where}
                       UNION ALL
                       SELECT dst, 'out', usd, block_number FROM evidence_out WHERE src = $id {where}),
            g AS (SELECT peer, direction, sum(usd) AS usd, count(*) AS n, min(block_number) AS first,
                         max(block_number) AS last FROM t GROUP BY ALL),
            {rank}
            """, params).fetchall()
    where = _filters(since, until, token, min_usd, params)
    return store.execute(
        f"""
        WITH t AS (
            SELECT CASE WHEN t.from_id = $id THEN t.to_id ELSE t.from_id END AS peer,
                   CASE WHEN t.to_id = $id THEN 'in' ELSE 'out' END AS direction,
                   coalesce(t.amount * k.usd_peg, 0) AS usd, t.block_number
            FROM transfers t JOIN tokens k ON k.id = t.token_id
            WHERE (t.from_id = $id OR t.to_id = $id) AND t.from_id <> t.to_id {where}),
        g AS (SELECT peer, direction, sum(usd) AS usd, count(*) AS n, min(block_number) AS first,
                     max(block_number) AS last FROM t GROUP BY ALL),
        {rank}
        """, params).fetchall()


def _block_at(store: Store, when: datetime, *, first: bool) -> int:
    """The first block at or after ``when`` (``first``), or the last block before it."""
    w = when.replace(tzinfo=None)
    if first:
        row = store.execute("SELECT min(block_number) FROM transfers WHERE block_time >= ?", [w]).fetchall()
        return int(row[0][0]) if row and row[0][0] is not None else 2**62
    row = store.execute("SELECT max(block_number) FROM transfers WHERE block_time < ?", [w]).fetchall()
    return int(row[0][0]) if row and row[0][0] is not None else -1


def edge_transfers(store: Store, from_address: str, to_address: str, *, since: datetime | None = None,
                   until: datetime | None = None, token: str | None = None, min_usd: float | None = None,
                   limit: int = 100) -> dict[str, Any]:
    """The transfers from ``from_address`` to ``to_address``, newest first (at most ``limit``), with the total."""
    if not 1 <= limit <= MAX_TRANSFERS:
        raise UsageError(f"limit is 1..{MAX_TRANSFERS} transfers")
    a, b = _parse(from_address), _parse(to_address)
    ia, ib = _address_id(store, a), _address_id(store, b)
    out: dict[str, Any] = {"from": a.address, "to": b.address, "total": 0, "usd": 0.0, "transfers": []}
    if ia is None or ib is None:
        return out
    params: dict[str, Any] = {"a": ia, "b": ib, "n": limit}
    where = _filters(since, until, token, min_usd, params)
    rows = store.execute(
        f"""SELECT t.tx_hash, t.log_index, t.block_number, strftime(t.block_time, '%Y-%m-%dT%H:%M:%SZ'), k.symbol,
                   t.amount, t.amount * k.usd_peg, count(*) OVER (), sum(coalesce(t.amount * k.usd_peg, 0)) OVER ()
            FROM transfers t JOIN tokens k ON k.id = t.token_id
            WHERE t.from_id = $a AND t.to_id = $b {where}
            ORDER BY t.block_number DESC, t.log_index DESC LIMIT $n""", params).fetchall()
    if rows:
        out["total"], out["usd"] = int(rows[0][7]), round(float(rows[0][8] or 0), 2)
    out["transfers"] = [{"tx_hash": r[0], "log_index": int(r[1]), "block_number": int(r[2]), "time": r[3],
                         "token": r[4], "amount": r[5], "usd": None if r[6] is None else round(float(r[6]), 2),
                         "explorer_url": tx_url(a.chain, r[0])} for r in rows]
    return out


def find_path(store: Store, from_address: str, to_address: str, *, run_id: str | None = None,
              max_hops: int = 4, frontier: int = PATH_FRONTIER) -> dict[str, Any]:
    """A shortest money path from ``from_address`` to ``to_address`` within ``max_hops`` (see the module
    docstring): ``{"found", "hops", "nodes", "edges", "explored"}``. Needs the run's evidence tables (built by
    the scoring run)."""
    if not 1 <= max_hops <= MAX_PATH_HOPS:
        raise UsageError(f"max_hops is 1..{MAX_PATH_HOPS}")
    a, b = _parse(from_address), _parse(to_address)
    run = resolve_run(store, run_id)
    ia, ib = _address_id(store, a), _address_id(store, b)
    out: dict[str, Any] = {"from": a.address, "to": b.address, "max_hops": max_hops, "found": False, "hops": None,
                           "nodes": [], "edges": [], "explored": 0}
    if ia is None or ib is None:
        return out
    if not store.read_only:
        from ..engine.evidence import refresh_evidence_index

        refresh_evidence_index(store, run.run_id)   # a no-op when they are built for this run
    elif not store.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'evidence_out'").fetchall()[0][0]:
        raise InputError("the evidence tables are not built; open the store writable once (e.g. run "
                         "'chainrisk lookup --explain ADDRESS') or rerun 'chainrisk score'")
    stops = {int(x) for (x,) in store.execute(
        "SELECT address_id FROM evidence_stops").fetchall()}
    fwd: dict[int, int | None] = {ia: None}     # node -> parent (towards A)
    bwd: dict[int, int | None] = {ib: None}     # node -> child (towards B)
    f_front, b_front = [ia], [ib]
    f_depth = b_depth = 0
    meet = ia if ia == ib else None
    explored = 0
    while meet is None and f_depth + b_depth < max_hops and f_front and b_front:
        forward = len(f_front) <= len(b_front)
        front = f_front if forward else b_front
        ids = ", ".join(str(int(x)) for x in front)
        col, peer, table = ("src", "dst", "evidence_out") if forward else ("dst", "src", "evidence_in")
        rows = store.execute(
            f"SELECT {col}, {peer}, sum(usd) AS usd FROM {table} WHERE {col} IN ({ids}) GROUP BY ALL"
            " ORDER BY usd DESC").fetchall()
        explored += len(front)
        seen, other = (fwd, bwd) if forward else (bwd, fwd)
        nxt: list[int] = []
        for node, p, _usd in rows:
            p = int(p)
            if p in seen:
                continue
            seen[p] = int(node)
            if p in other:
                meet = p
                break
            if p not in stops and len(nxt) < frontier:
                nxt.append(p)
        if forward:
            f_front, f_depth = nxt, f_depth + 1
        else:
            b_front, b_depth = nxt, b_depth + 1
    out["explored"] = explored
    if meet is None:
        return out
    chain: list[int] = []
    x: int | None = meet
    while x is not None:
        chain.insert(0, x)
        x = fwd.get(x)
    x = bwd.get(meet)
    while x is not None:
        chain.append(x)
        x = bwd.get(x)
    facts = node_facts(store, chain, run.run_id)
    out["found"], out["hops"] = True, len(chain) - 1
    out["nodes"] = [{**facts[i], "role": "subject" if i in (ia, ib) else "path"} for i in chain]
    for s, d in pairwise(chain):
        usd, n, first, last = store.execute(
            "SELECT sum(usd), count(*), min(block_number), max(block_number) FROM evidence_out WHERE src = ? AND dst = ?",
            [s, d]).fetchone() or (0, 0, None, None)
        out["edges"].append({"from": facts[s]["address"], "to": facts[d]["address"], "direction": "path",
                             "usd": round(float(usd or 0), 2), "transfers": int(n or 0), "first_block": first,
                             "last_block": last})
    return out
