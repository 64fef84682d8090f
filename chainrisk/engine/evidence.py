"""Evidence paths: the real transfers behind an address's exposure, hop by hop, reproducible from the store.

    >>> from chainrisk.engine.evidence import evidence_paths, describe_path
    >>> for p in evidence_paths(st, "0xabc...", category="mixer", direction="in"):
    ...     print(describe_path(p))
    received 12,400 USDT from Tornado Cash: USDT pool via 2 intermediaries, 2024-03-02

The semantics are the risk engine's (:mod:`chainrisk.engine.propagate`, :mod:`chainrisk.engine.score`), for the scoring run
asked (default: the latest complete run), with its parameters:

* only *carrying* transfers: with a USD value (token with a peg), at least the profile's ``dust_usd``, no inert end
  (null/burn address, precompile, token contract), no self-transfer, up to the run's as-of block;
* time-respecting: along the money's direction each hop's transfer comes strictly after the previous hop's, in
  (block_number, log_index) order (for ``in``: source -> ... -> address; for ``out``: address -> ... -> destination);
* no interior service: an intermediary is never a stop node (labelled with a stop category, an exchange deposit
  address the run inferred, or an unlabelled hub with more than ``hub_degree`` counterparties) nor itself a
  source of the category; the endpoints may be anything;
* at most the run's ``max_hops`` hops (or fewer when asked), simple paths only (no address twice), except that a
  labelled address's own money may come back to it (a round trip source -> ... -> the same address), as in the
  engine.

How: a bounded breadth-first search in DuckDB over helper tables (``evidence_in`` sorted by receiver and
``evidence_out`` by sender, each with an ART index, built by :func:`refresh_evidence_index`), backwards from the
address for ``in`` and forwards for ``out``. It never expands a stop node, and expands an intermediary only if the
run recorded an exposure of it to the category within the hops left (``evidence_reach``, from ``exposures``; the
run drops exposures below ``min_share``, so routes through an intermediary where the category is under 0.1% of
its volume are not shown). Per hop level it expands at most ``MAX_FRONTIER`` intermediaries (those with the largest
usable transfer) and keeps at most ``MAX_LEVEL_EDGES`` transfers; then, in a networkx multigraph of that subgraph, a
branch-and-bound search for the routes with the largest bottleneck (the smallest hop amount, in USD), one path per
distinct transfer at the address and number of hops (the best route of each: two upstream routes into the same
transfer at the same distance are one piece of evidence, not two), ranked by bottleneck, then recency of the hop at the address, then fewer hops, then transfer keys.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import numpy.typing as npt

from ..address import parse_address
from ..errors import InputError, UsageError
from ..store.runs import resolve_run
from ..taxonomy import inert_keys

if TYPE_CHECKING:
    from ..store import Store

MAX_LEVEL_EDGES = 2_000      # subgraph transfers kept per hop level (largest USD first)
MAX_FRONTIER = 50            # intermediaries expanded per hop level (those with the largest transfer first)
MAX_STATES = 200_000         # search states per category and direction
MAX_TRANSFER_USD = 1e11      # the engine clamps a transfer's USD value here
_INDEXES = (("evidence_in_dst_idx", "evidence_in", "dst"), ("evidence_out_src_idx", "evidence_out", "src"),
            ("evidence_stops_idx", "evidence_stops", "address_id"),
            ("evidence_labels_idx", "evidence_labels", "address_id"),
            ("evidence_reach_idx", "evidence_reach", "address_id"))
_LOG_BITS = 24               # key = block_number << 24 | log_index
_INF = float("inf")
_BIG = 2**62
_IN_CHUNK = 100              # ids per IN-list (DuckDB answers short literal IN-lists from the ART index)
_INDEX_SCAN_MAX = 50_000
_PREV_SETTING: dict[int, int] = {}


@dataclass(frozen=True)
class LabelRef:
    category: str
    name: str | None
    source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Hop:
    """One real transfer of a path."""

    tx_hash: str
    log_index: int
    block_number: int
    time: datetime | None
    token: str
    token_address: str
    amount: float
    value: str                   # exact amount in the token's base units
    usd: float
    from_address: str
    to_address: str
    from_labels: tuple[LabelRef, ...] = ()
    to_labels: tuple[LabelRef, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["time"] = self.time.strftime("%Y-%m-%dT%H:%M:%SZ") if self.time else None
        d["usd"] = round(self.usd, 2)
        d["from_labels"] = [x.to_dict() for x in self.from_labels]
        d["to_labels"] = [x.to_dict() for x in self.to_labels]
        return d


@dataclass(frozen=True)
class EvidencePath:
    """A chain of transfers linking ``address`` to an address labelled ``category`` (``counterparty``)."""

    address: str
    direction: str               # 'in': counterparty -> ... -> address; 'out': address -> ... -> counterparty
    category: str
    counterparty: str
    counterparty_label: LabelRef | None
    bottleneck_usd: float        # the smallest hop, in USD
    hops: tuple[Hop, ...]
    run_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    share: float | None = None   # of the transfer at the address, the part this route carries (bottleneck / USD)
    nearest: bool = False        # the route at the exposure's claimed nearest hop (min_hop)

    @property
    def n_hops(self) -> int:
        return len(self.hops)

    @property
    def intermediaries(self) -> int:
        return len(self.hops) - 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address, "direction": self.direction, "category": self.category,
            "counterparty": self.counterparty,
            "counterparty_label": self.counterparty_label.to_dict() if self.counterparty_label else None,
            "hops": self.n_hops, "bottleneck_usd": round(self.bottleneck_usd, 2), "run_id": self.run_id,
            "share": None if self.share is None else round(self.share, 4), "nearest": self.nearest,
            "sentence": describe_path(self), "transfers": [h.to_dict() for h in self.hops],
        }


def _amount(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}"


def describe_path(path: EvidencePath) -> str:
    """The sentence an investigator reads, e.g. 'received 12,400 USDT from Tornado Cash: USDT pool via
    2 intermediaries, 2024-03-02'."""
    lab = path.counterparty_label
    who = lab.name if lab and lab.name else f"{path.category} address {path.counterparty}"
    via = "directly" if path.n_hops == 1 else \
        f"via {path.intermediaries} intermediar{'y' if path.intermediaries == 1 else 'ies'}"
    hop = path.hops[-1] if path.direction == "in" else path.hops[0]
    when = f", {hop.time:%Y-%m-%d}" if hop.time else ""
    verb, prep = ("received", "from") if path.direction == "in" else ("sent", "to")
    return f"{verb} {_amount(hop.amount)} {hop.token} {prep} {who} {via}{when}"


# -- run and helper tables ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Run:
    run_id: str | None
    max_hops: int
    dust_usd: float
    hub_degree: int
    stop_categories: tuple[str, ...]
    severity: dict[str, int]
    as_of_block: int | None

    def fingerprint(self) -> str:
        return json.dumps({"run_id": self.run_id, "dust_usd": self.dust_usd, "hub_degree": self.hub_degree,
                           "stop_categories": sorted(self.stop_categories), "as_of_block": self.as_of_block},
                          sort_keys=True)


def _load_run(store: Store, run_id: str | None) -> _Run:
    """The run's search parameters (the run registry, :mod:`chainrisk.store.runs`, says which run that is)."""
    prov = resolve_run(store, run_id)
    prof, params = prov.profile_settings, prov.params
    prop = {**prof.get("propagation", {}), **{k: v for k, v in params.items() if k in (
        "max_hops", "dust_usd", "hub_degree", "stop_categories")}}
    return _Run(prov.run_id, int(prop.get("max_hops", 4)), float(prop.get("dust_usd", 1.0)),
                int(prop.get("hub_degree", 500)), tuple(prop.get("stop_categories", ())),
                dict(prof.get("severity", {})), prov.as_of_block)


def refresh_evidence_index(store: Store, run_id: str | None = None, *, force: bool = False) -> bool:
    """Build the evidence helper tables for ``run_id`` (default: the latest complete run) unless they are
    already built for it. Returns True when it (re)built them. The scoring run may call this at its end."""
    run = _load_run(store, run_id)
    return _ensure(store, run, force=force)


def _ensure(store: Store, run: _Run, force: bool = False) -> bool:
    row = store.execute(
        "SELECT (SELECT count(*) FROM transfers), (SELECT count(*) FROM active_labels), m.transfers, m.labels,"
        " m.params_json FROM (SELECT 1) LEFT JOIN evidence_meta m ON true").fetchone()
    assert row is not None
    nt, nl = int(row[0]), int(row[1])
    stored = _stored_meta(row[4])
    if not force and row[2:4] == (nt, nl) and stored.get("run") == json.loads(run.fingerprint()):
        return False
    if store.read_only:
        raise UsageError(
            f"the evidence tables of {store.path} are not built for run {run.run_id}; open the store writable "
            "once (e.g. run 'chainrisk evidence' without read-only) or rerun 'chainrisk score'")
    system = inert_keys()
    with store.transaction():
        for ix in _INDEXES[2:]:
            store.execute(f"DROP INDEX IF EXISTS {ix[0]}")
        store.execute(
            """
            CREATE OR REPLACE TEMP TABLE _ev_inert AS SELECT a.id FROM addresses a
            WHERE list_contains($sys, a.chain || ':' || a.address)
               OR EXISTS (SELECT 1 FROM tokens k WHERE k.chain = a.chain AND k.contract = a.address)
               OR EXISTS (SELECT 1 FROM active_labels l WHERE l.chain = a.chain AND l.address = a.address
                          AND l.category = 'token_contract')
            """, {"sys": system})
        # The transfer tables depend only on the data, the dust threshold, the as-of block and the inert set: a
        # run after a label import (same transfers) reuses them and rebuilds just the small per-run tables.
        row2 = store.execute(
            "SELECT (SELECT count(*) FROM _ev_inert), (SELECT coalesce(sum(id), 0) FROM _ev_inert),"
            " (SELECT coalesce(bit_xor(hash(block_number, log_index, token_id, from_id, to_id, amount)), 0)"
            "  FROM transfers)").fetchone()
        assert row2 is not None
        data = {"transfers": nt, "checksum": str(row2[2]), "dust_usd": run.dust_usd, "as_of_block": run.as_of_block,
                "cap": MAX_TRANSFER_USD, "inert": [int(row2[0]), int(row2[1])]}
        reuse = not force and stored.get("data") == data
        if not reuse:
            _build_transfer_tables(store, run)
        store.execute(
            """
            CREATE OR REPLACE TABLE evidence_labels AS
            SELECT * FROM (
                SELECT a.id AS address_id, l.category, l.name, l.source, l.confidence
                FROM active_labels l JOIN addresses a ON a.chain = l.chain AND a.address = l.address
                WHERE a.id NOT IN (SELECT id FROM _ev_inert)
                UNION
                SELECT address_id, category, name, 'chainrisk:' || method, confidence
                FROM inferred_labels WHERE run_id = $run)
            ORDER BY address_id, category, confidence DESC, source, name
            """, {"run": run.run_id})
        store.execute(
            """
            CREATE OR REPLACE TABLE evidence_stops AS
            WITH pairs AS (SELECT DISTINCT least(src, dst) AS lo, greatest(src, dst) AS hi FROM evidence_in),
            deg AS (SELECT x, count(*) AS degree FROM (SELECT lo AS x FROM pairs UNION ALL SELECT hi FROM pairs)
                    GROUP BY x)
            SELECT address_id, min(reason) AS reason, max(degree) AS degree FROM (
                SELECT l.address_id, 'label:' || l.category AS reason, NULL::BIGINT AS degree
                FROM evidence_labels l
                WHERE list_contains($stops, l.category) AND NOT starts_with(l.source, 'chainrisk:')
                UNION ALL
                SELECT address_id, 'deposit_address', NULL FROM inferred_labels
                WHERE run_id = $run AND method = 'deposit_sweep'
                UNION ALL
                SELECT address_id, 'derived:' || category, NULL FROM inferred_labels
                WHERE run_id = $run AND method NOT IN ('deposit_sweep', 'collector')
                  AND list_contains($stops, category)
                UNION ALL
                SELECT x, 'hub', degree FROM deg
                WHERE degree > $hub
                  AND x NOT IN (SELECT address_id FROM evidence_labels
                                WHERE source NOT IN ('chainrisk:deposit_sweep', 'chainrisk:collector')))
            GROUP BY address_id ORDER BY address_id
            """, {"stops": list(run.stop_categories), "run": run.run_id, "hub": run.hub_degree})
        store.execute(
            """
            CREATE OR REPLACE TABLE evidence_reach AS
            SELECT address_id, category, direction, min(min_hop) AS min_hop FROM exposures WHERE run_id = $run
            GROUP BY ALL ORDER BY address_id, category, direction
            """, {"run": run.run_id})
        for name, table, col in _INDEXES[2:]:
            store.execute(f"CREATE INDEX {name} ON {table} ({col})")
        store.execute("DROP TABLE IF EXISTS _ev_inert")
        store.execute("DELETE FROM evidence_meta")
        store.execute("INSERT INTO evidence_meta VALUES (?, now()::TIMESTAMP, ?, ?, ?)",
                    [run.run_id, nt, nl, json.dumps({"run": json.loads(run.fingerprint()), "data": data},
                                                    sort_keys=True)])
    return True


def _stored_meta(params_json: str | None) -> dict[str, Any]:
    try:
        out = json.loads(params_json) if params_json else {}
    except ValueError:
        return {}
    return out if isinstance(out, dict) else {}


def _build_transfer_tables(store: Store, run: _Run) -> None:
    """evidence_in (by receiver) and evidence_out (by sender), the run's carrying transfers, with their indexes."""
    for ix in _INDEXES[:2]:
        store.execute(f"DROP INDEX IF EXISTS {ix[0]}")
    store.execute(
        """
        CREATE OR REPLACE TABLE evidence_in AS
        WITH c AS (
            SELECT t.from_id AS src, t.to_id AS dst, t.block_number, t.log_index,
                   floor(least(t.amount * k.usd_peg, $cap) * 1e6 + 0.5) AS micro
            FROM transfers t JOIN tokens k ON k.id = t.token_id
            WHERE k.usd_peg IS NOT NULL AND t.amount IS NOT NULL AND t.from_id <> t.to_id
              AND ($asof::BIGINT IS NULL OR t.block_number <= $asof::BIGINT))
        SELECT src, dst, block_number, log_index, micro / 1e6 AS usd FROM c
        WHERE micro >= floor($dust * 1e6 + 0.5) AND micro > 0
          AND src NOT IN (SELECT id FROM _ev_inert) AND dst NOT IN (SELECT id FROM _ev_inert)
        ORDER BY dst, block_number, log_index, src
        """, {"cap": MAX_TRANSFER_USD, "dust": run.dust_usd, "asof": run.as_of_block})
    store.execute("CREATE OR REPLACE TABLE evidence_out AS SELECT * FROM evidence_in"
                " ORDER BY src, block_number, log_index, dst")
    for name, table, col in _INDEXES[:2]:
        store.execute(f"CREATE INDEX {name} ON {table} ({col})")


# -- search ---------------------------------------------------------------------------------------------------

def _ids(xs: Any) -> str:
    """An IN-list of integer ids (formatted from ints only, so it is safe SQL; literal lists use the ART index)."""
    return ", ".join(str(int(x)) for x in sorted(set(xs))) or "NULL"


def _address_id(store: Store, address: str | int) -> tuple[int, str]:
    if isinstance(address, int):
        row = store.execute("SELECT id, address FROM addresses WHERE id = ?", [address]).fetchone()
    else:
        a = parse_address(address)
        row = store.execute("SELECT id, address FROM addresses WHERE chain = ? AND address = ?",
                            [a.chain, a.address]).fetchone()
    if row is None:
        raise InputError(f"address {address} is not in {store.path}: it has no transfers in the data (unknown)")
    return int(row[0]), str(row[1])


@dataclass
class _Local:
    """The local subgraph around one address in one direction: edges oriented against the search (peer -> node,
    keyed by (block, log_index)), and what the run knows of its nodes."""

    g: nx.MultiDiGraph
    stops: set[int]
    labels: dict[int, list[LabelRef]]
    reach: dict[int, dict[str, int]]     # node -> category -> min hops from the category (the run's exposures)


_NODE_CACHE: dict[tuple[str, str], tuple[npt.NDArray[np.int64], dict[str, npt.NDArray[np.int64]]]] = {}


def _node_roles(store: Store) -> tuple[npt.NDArray[np.int64], dict[str, npt.NDArray[np.int64]]]:
    """Stop nodes (sorted ids) and labelled ids per category of the built evidence tables, cached per process."""
    (built,) = store.execute("SELECT CAST(built_at AS VARCHAR) || params_json FROM evidence_meta").fetchone() or ("",)
    key = (store.path, str(built))
    if key not in _NODE_CACHE:
        stops = store.execute("SELECT address_id FROM evidence_stops ORDER BY 1").fetchnumpy()["address_id"]
        lab = store.execute("SELECT category, list(DISTINCT address_id ORDER BY address_id) FROM evidence_labels"
                            " GROUP BY 1").fetchall()
        if len(_NODE_CACHE) > 4:
            _NODE_CACHE.clear()
        _NODE_CACHE[key] = (np.asarray(stops, np.int64), {c: np.asarray(ids, np.int64) for c, ids in lab})
    return _NODE_CACHE[key]


def _subgraph(store: Store, x: int, direction: str, k: int, cats: list[str]) -> _Local:
    """Bounded BFS from ``x`` (backwards for 'in', forwards for 'out'). A peer is kept when it is a source of one
    of ``cats`` or can relay: not a stop node, and (per the run's exposures) still able to reach one of ``cats``
    in the hops left. Per level at most ``MAX_FRONTIER`` relays (largest transfer first) are expanded."""
    table, node_col, peer_col = ("evidence_in", "dst", "src") if direction == "in" else ("evidence_out", "src", "dst")
    sign = 1 if direction == "in" else -1
    stops, by_cat = _node_roles(store)
    src_ids = {c: by_cat.get(c, np.empty(0, np.int64)) for c in cats}
    any_src = np.unique(np.concatenate([*src_ids.values(), np.empty(0, np.int64)]))
    loc = _Local(nx.MultiDiGraph(), set(), {}, {})
    loc.g.add_node(x)
    bound: dict[int, int] = {x: _BIG}
    expanded: dict[int, int] = {}
    frontier = [x]
    for depth in range(1, k + 1):
        r = _fetch_edges(store, table, node_col, peer_col, frontier)
        for n in frontier:
            expanded[n] = bound[n]
        peer, node = np.asarray(r["p"], np.int64), np.asarray(r["n"], np.int64)
        blk, li, usd = np.asarray(r["b"], np.int64), np.asarray(r["li"], np.int64), np.asarray(r["usd"], float)
        okey = sign * ((blk << _LOG_BITS) | li)
        fr = np.array(sorted(frontier), np.int64)
        bnd = np.array([bound[int(n)] for n in fr], np.int64)
        keep = (okey < bnd[np.searchsorted(fr, node)]) & (peer != node)
        peer, node, blk, li, usd, okey = peer[keep], node[keep], blk[keep], li[keep], usd[keep], okey[keep]
        is_src = np.isin(peer, any_src)
        left = k - depth
        cand = (~np.isin(peer, stops)) & (peer != x) if left > 0 else np.zeros(peer.size, bool)
        # relay candidates, best transfer first; ask the run's exposures only about the best few
        relays: set[int] = set()
        if cand.any():
            o = np.lexsort((peer[cand], -okey[cand], -usd[cand]))
            order = list(dict.fromkeys(peer[cand][o].tolist()))[: 2 * MAX_FRONTIER]
            reach = _reach(store, order, direction, cats)
            # peers nearer to a source first (the nearest route must survive the frontier cap), then by transfer
            near = {p: min((h for c, h in reach.get(p, {}).items() if not _has(src_ids[c], p)), default=_BIG)
                    for p in order}
            order = sorted(order, key=lambda p: near[p])
            for p in order:
                pr = reach.get(p, {})
                if any(pr.get(c, _BIG) <= left and not _has(src_ids[c], p) for c in cats):
                    relays.add(p)
                    loc.reach[p] = pr
                    if len(relays) >= MAX_FRONTIER:
                        break
        use = is_src | np.isin(peer, np.array(sorted(relays), np.int64))
        o = np.lexsort((peer[use], -okey[use], -usd[use]))[:MAX_LEVEL_EDGES]
        nxt: dict[int, int] = {}
        for p, n, b, i, u, ok in zip(peer[use][o].tolist(), node[use][o].tolist(), blk[use][o].tolist(),
                                     li[use][o].tolist(), usd[use][o].tolist(), okey[use][o].tolist(), strict=True):
            loc.g.add_edge(p, n, key=(b, i), usd=u, okey=ok)
            if p in relays:
                nxt[p] = max(nxt.get(p, -_BIG), ok)
        frontier = []
        for p, b in sorted(nxt.items()):
            bound[p] = max(bound.get(p, -_BIG), b)
            if bound[p] > expanded.get(p, -_BIG):
                frontier.append(p)
        if not frontier:
            break
    nodes = set(loc.g.nodes)
    loc.stops = {n for n in nodes if _has(stops, n)}
    labelled = {n for ids in by_cat.values() for n in nodes if _has(ids, n)}
    _describe_labels(store, labelled | {x}, loc)
    return loc


def _chunks(ids: list[int] | set[int]) -> list[list[int]]:
    s = sorted(set(ids))
    return [s[i:i + _IN_CHUNK] for i in range(0, len(s), _IN_CHUNK)]


def _fetch_edges(store: Store, table: str, node_col: str, peer_col: str, nodes: list[int]) -> dict[str, Any]:
    """Edges at ``nodes``, as numpy columns p (peer), n (node), b, li, usd. IN-lists stay short enough for
    DuckDB to answer them from the ART index."""
    parts = [store.execute(
        f"SELECT {peer_col} AS p, {node_col} AS n, block_number AS b, log_index AS li, usd FROM {table}"
        f" WHERE {node_col} IN ({_ids(c)})").fetchnumpy() for c in _chunks(nodes)]
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in ("p", "n", "b", "li", "usd")}


def _has(sorted_ids: npt.NDArray[np.int64], n: int) -> bool:
    i = int(np.searchsorted(sorted_ids, n))
    return i < sorted_ids.size and int(sorted_ids[i]) == n


def _reach(store: Store, ids: list[int], direction: str, cats: list[str]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    if not ids:
        return out
    for chunk in _chunks(ids):
        for a, c, h in store.execute(
                f"SELECT address_id, category, min_hop FROM evidence_reach WHERE address_id IN ({_ids(chunk)})"
                " AND direction = ? AND list_contains(?, category)", [direction, cats]).fetchall():
            out.setdefault(int(a), {})[c] = int(h)
    return out


def _describe_labels(store: Store, ids: set[int], loc: _Local) -> None:
    """Labels of ``ids`` (for sources and the hop table), into ``loc``."""
    if not ids:
        return
    loc.labels.clear()
    for a, c, n, src in store.execute(
            f"SELECT address_id, category, name, source FROM evidence_labels WHERE address_id IN ({_ids(ids)})"
            " ORDER BY address_id, category, confidence DESC, source, name").fetchall():
        loc.labels.setdefault(int(a), []).append(LabelRef(c, n, src))


def _search(loc: _Local, x: int, category: str, k: int, top: int
            ) -> list[tuple[float, float, tuple[tuple[int, int, int, int], ...]]]:
    """Best routes from ``x`` against the edge direction to a source of ``category``. Returns (bottleneck,
    recency key, edges) with edges (peer, node, block, log_index) from ``x`` outwards, best first."""
    g = loc.g
    sources = {n for n, ls in loc.labels.items() if any(lab.category == category for lab in ls)}
    reach = {n: r.get(category, _INF) for n, r in loc.reach.items()}
    relay = {n for n in g.nodes if n not in loc.stops and n not in sources and n != x}
    # ub[r][n]: the best bottleneck reachable from n within r hops, ignoring time (for pruning).
    ub: list[dict[int, float]] = [{}]
    for r in range(1, k + 1):
        cur: dict[int, float] = {}
        for p, n, d in g.edges(data=True):
            v = _INF if p in sources else (ub[r - 1].get(p, -_INF) if p in relay else -_INF)
            cur[n] = max(cur.get(n, -_INF), min(d["usd"], v))
        ub.append(cur)
    adj = {n: sorted(((p, key, d["usd"], d["okey"]) for p, _, key, d in g.in_edges(n, keys=True, data=True)),
                     key=lambda e: (-e[2], -e[3], e[0])) for n in g.nodes}
    # One route per (transfer at x, number of hops): alternative upstream routes of the same transfer at the same
    # distance would list that transfer twice (the investigator reads the hop at the address); the best is kept.
    best: dict[tuple[Any, ...], tuple[float, float, int, tuple[Any, ...]]] = {}
    states = 0

    def floor_() -> float:
        if len(best) < top:
            return -_INF
        return sorted((v[0] for v in best.values()), reverse=True)[top - 1]

    def dfs(node: int, bnd: float, bn: float, route: tuple[int, ...], edges: tuple[Any, ...], rec: float) -> None:
        nonlocal states
        depth = len(edges)
        for p, key, usd, okey in adj.get(node, ()):
            if okey >= bnd or (p in route and not (p == x and p in sources)):  # a round trip may end at x
                continue
            nb = min(bn, usd)
            r_left = k - depth - 1
            rec2 = rec if depth else float((key[0] << _LOG_BITS) | key[1])
            if p in sources:
                if nb >= floor_():
                    e2 = (*edges, (p, node, key[0], key[1]))
                    rank = (nb, rec2, -len(e2), e2)
                    r2 = e2[0]
                    if r2 not in best or _better(rank, best[r2]):
                        best[r2] = rank
                continue
            if p not in relay or r_left < 1 or reach.get(p, _INF) > r_left:
                continue
            cap = min(nb, ub[r_left].get(p, -_INF))
            if cap < floor_():
                continue
            # this receipt's best route so far cannot be beaten: not by a smaller bottleneck, nor by a longer
            # route with the same one
            have = best.get(edges[0] if depth else (p, node, key[0], key[1]))
            if have is not None and (have[0] > cap or (have[0] == cap and -have[2] <= depth + 2)):
                continue
            states += 1
            if states > MAX_STATES:
                return
            dfs(p, okey, nb, (*route, p), (*edges, (p, node, key[0], key[1])), rec2)

    dfs(x, _INF, _INF, (x,), (), -_INF)
    ranked = sorted(best.values(), key=_sort_key)
    return [(r[0], r[1], r[3]) for r in ranked[:top]]


def _sort_key(r: tuple[float, float, int, tuple[Any, ...]]) -> tuple[Any, ...]:
    return (-r[0], -r[1], -r[2], r[3])


def _better(a: tuple[float, float, int, tuple[Any, ...]], b: tuple[float, float, int, tuple[Any, ...]]) -> bool:
    return _sort_key(a) < _sort_key(b)


def evidence_paths(
    store: Store, address: str | int, *, run_id: str | None = None, category: str | None = None,
    direction: str | None = None, top: int = 3, max_hops: int | None = None,
) -> list[EvidencePath]:
    """The top ``top`` paths of real transfers behind each exposure of ``address`` in the scoring run.

    ``category``/``direction`` restrict the exposures explained (default: every category the run recorded an
    exposure for, in both directions, largest first). Deterministic for the same store and run."""
    if direction not in (None, "in", "out"):
        raise UsageError(f"direction {direction!r} is not valid; give 'in' (source of funds) or 'out' (destination)")
    if top < 1:
        raise UsageError("top must be at least 1")
    run = _load_run(store, run_id)
    k = run.max_hops if max_hops is None else int(max_hops)
    if not 1 <= k <= run.max_hops:
        raise UsageError(f"max hops {k} is out of range for run {run.run_id}; give 1..{run.max_hops}")
    _ensure(store, run)
    # Let DuckDB answer the IN-lists of a search level from the ART indexes even when they match a few thousand
    # rows (its default switches to a full scan above 2,048); the previous value is restored.
    key = id(store)
    if key not in _PREV_SETTING:
        (_PREV_SETTING[key],) = store.execute("SELECT current_setting('index_scan_max_count')").fetchone() or (2048,)
    prev = _PREV_SETTING[key]
    store.execute(f"SET index_scan_max_count = {_INDEX_SCAN_MAX}")
    try:
        return _paths(store, run, address, category, direction, top, k)
    finally:
        store.execute(f"SET index_scan_max_count = {int(prev)}")


def _paths(store: Store, run: _Run, address: str | int, category: str | None, direction: str | None, top: int,
           k: int) -> list[EvidencePath]:
    x, x_addr = _address_id(store, address)
    wanted: dict[str, list[str]] = {}
    for d in (direction,) if direction else ("in", "out"):
        if category:
            wanted[d] = [category]
        else:
            cs = [c for (c,) in store.execute(
                "SELECT category FROM exposures WHERE run_id = ? AND address_id = ? AND direction = ?"
                " GROUP BY category ORDER BY sum(usd) DESC, category", [run.run_id, x, d]).fetchall()]
            if cs:
                wanted[d] = cs
    found: list[tuple[str, str, float, tuple[Any, ...], bool]] = []
    all_labels: dict[int, list[LabelRef]] = {}
    for d, cats in wanted.items():
        loc = _subgraph(store, x, d, k, cats)
        all_labels.update(loc.labels)
        claimed = dict(store.execute(
            "SELECT category, min_hop FROM evidence_reach WHERE address_id = ? AND direction = ?", [x, d]).fetchall())
        for c in cats:
            routes: list[tuple[float, tuple[Any, ...], bool]] = [
                (bn, edges, False) for bn, _rec, edges in _search(loc, x, c, k, top)]
            h = claimed.get(c)
            if h is not None and h <= k:
                # the nearest route (exactly the claimed hop count) leads; the same receipt is not shown twice
                at_h = [r for r in routes if len(r[1]) == h]
                lead: tuple[float, tuple[Any, ...], bool] | None
                if at_h:
                    lead = at_h[0]
                else:
                    near = _search(loc, x, c, int(h), 1)
                    lead = (near[0][0], near[0][2], True) if near else None
                if lead is not None:
                    rest = [r for r in routes if r[1][0] != lead[1][0]][: top - 1]
                    routes = [(lead[0], lead[1], True), *rest]
            found += [(d, c, bn, edges, nearest) for bn, edges, nearest in routes]
    out: list[EvidencePath] = []
    if not found:
        return out
    details = _details(store, [e for f in found for e in f[3]])
    names = _addresses(store, {n for f in found for e in f[3] for n in e[:2]})
    for d, c, bn, edges, nearest in found:
        # edges run from x outwards; put them in money order.
        money = list(edges) if d == "out" else list(reversed(edges))
        hops = []
        for p, n, b, li in money:
            frm, to = (p, n) if d == "in" else (n, p)
            det = details[(b, li, frm, to)]
            hops.append(Hop(det[0], li, b, det[1], det[2], det[3], det[4], det[5], det[6], names[frm], names[to],
                            tuple(all_labels.get(frm, ())), tuple(all_labels.get(to, ()))))
        cp = edges[-1][0]
        cp_label = next((lab for lab in all_labels.get(cp, []) if lab.category == c), None)
        at_x = hops[-1] if d == "in" else hops[0]
        share = min(1.0, bn / at_x.usd) if at_x.usd > 0 else None
        out.append(EvidencePath(x_addr, d, c, names[cp], cp_label, bn, tuple(hops), run.run_id, share=share,
                                nearest=nearest))
    return out


def _details(store: Store, edges: list[tuple[int, int, int, int]]) -> dict[tuple[int, int, int, int], tuple[Any, ...]]:
    """Transfer details by (block, log_index, from_id, to_id) for path edges given as (peer, node, block, li)."""
    blocks = sorted({int(e[2]) for e in edges})
    ends = {e[0] for e in edges} | {e[1] for e in edges}
    # one equality per block: each is answered from the zone maps of block-ordered transfers
    per_block = " UNION ALL ".join(
        f"SELECT * FROM transfers WHERE block_number = {b} AND from_id IN ({_ids(ends)})" for b in blocks)
    rows = store.execute(
        f"""SELECT t.block_number, t.log_index, t.from_id, t.to_id, t.tx_hash, t.block_time, k.symbol, k.contract,
                   t.amount, coalesce(CAST(t.value AS VARCHAR), t.value_raw), least(t.amount * k.usd_peg, ?)
            FROM ({per_block}) t JOIN tokens k ON k.id = t.token_id
            ORDER BY t.tx_hash""", [MAX_TRANSFER_USD]).fetchall()
    out: dict[tuple[int, int, int, int], tuple[Any, ...]] = {}
    for r in rows:
        out.setdefault((r[0], r[1], r[2], r[3]), r[4:])
    return out


def _addresses(store: Store, ids: set[int]) -> dict[int, str]:
    # one equality per id: answered from the zone maps of the (id-ordered) address dictionary
    q = " UNION ALL ".join(f"SELECT id, address FROM addresses WHERE id = {int(i)}" for i in sorted(ids))
    return {int(i): str(a) for i, a in store.execute(q).fetchall()} if ids else {}


def paths_to_dicts(paths: list[EvidencePath]) -> list[dict[str, Any]]:
    """JSON-ready form of a list of paths."""
    return [p.to_dict() for p in paths]

