"""Scalable risk propagation: time-respecting, value-weighted (haircut) taint, hop by hop, in vectorised numpy.

Everything here is pure: arrays in, arrays out, no I/O, no clock. All money is in integer micro-USD (int64), so
every sum is exact and independent of the order of the input rows; the only floating-point step is the per-edge
haircut ``floor(w * A / B + 0.5)``, whose inputs are exact integers, so results are bit-for-bit reproducible.

Definitions (one direction; the other direction is the same on the time-reversed, edge-reversed graph):

* A transfer ``e = u -> v`` has an amount ``w_e`` (micro-USD) and a time rank ``r_e`` (rank of
  ``(block_number, log_index)``; equal keys are simultaneous, neither is *before* the other).
* Only *carrying* transfers move taint: ``w_e >= dust``, ``w_e > 0``, neither end inert (null/burn address,
  precompile, token contract).
* Hop 1 of category ``c``: every carrying transfer out of a source of ``c`` carries ``T1(e) = w_e``.
* Hop k >= 2: a carrying transfer out of ``u`` (``u`` not a stop node and not itself a source of ``c``) carries

      Tk(e) = floor(w_e * A / B + 0.5),  A = sum of T(k-1) over transfers into u before r_e,
                                          B = sum of w over *all* transfers into u before r_e

  i.e. the share of what ``u`` had received before ``e`` that reached it at hop k-1 (money paid out before
  the dirty money arrived is clean). Since ``Tk(e) <= w_e`` the hop layers of one category never sum to more than
  the volume.
* Exposure of ``v`` to ``c`` at hop k = sum of Tk over transfers into ``v``.

For the outgoing direction (destination of funds) the same rules run on reversed edges with reversed time: a
payment ``u -> v`` carries back to ``u`` the share of what ``v`` paid *afterwards* to ``c`` (at hop k-1).

Forwarding (judged per inflow, incoming direction, the source keys asked for): the *illicit taint* of a transfer
``e = u -> v`` is the sum of its taint over those keys and every hop (capped at ``w_e``; a key's taint is left out
when ``v`` is itself one of that key's sources), so money mixed from several categories or arriving over several
path lengths is judged whole. ``e`` is a *forwarding event* when ``v`` relays (not a stop node), the taint ``t`` is
at least ``min_usd`` and at least half of ``w_e``, ``t`` is at least half of everything ``v`` received within
``window_s`` before or after ``e``, and ``v``'s carrying outflow after ``e`` and within ``window_s`` is at least
``out_share`` of ``t``. The event names the key and hop of its largest part (ties: the earlier key, then the
lower hop). Times are the running maximum of the transfers' times in rank order (unknown: -1; events with an
unknown time are not judged).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B1 = npt.NDArray[np.bool_]

_SHIFT = np.int64(32)
MAX_RANK = 2**32 - 1
MAX_NODE = 2**31 - 1


@dataclass(frozen=True)
class HopExposure:
    """Exposure reached at one hop: addresses (sorted, unique) and the micro-USD that reached them."""

    category: str
    direction: str  # 'in' | 'out'
    hop: int
    addr: I64
    usd: I64


@dataclass(frozen=True)
class ForwardingEvents:
    """Forwarding events (one per tainted inflow judged): receiver, edge index, illicit taint, forwarded
    micro-USD, and the source key and hop of the taint's largest part."""

    addr: I64
    edge: I64
    taint: I64
    out: I64
    key: list[str]
    hop: I64


@dataclass(frozen=True)
class ForwardingParams:
    categories: tuple[str, ...] = ()   # propagation keys whose incoming taint is judged
    window_s: int = 86_400             # the tainted inflow leaves again within a day
    min_usd: float = 1_000.0           # a substantial inflow: at least this much taint ...
    out_share: float = 0.8             # ... of which at least 80% leaves within the window


def _key(node: I64, rank: I64) -> I64:
    return (node << _SHIFT) | rank


def _ranges(lo: I64, hi: I64) -> I64:
    """Concatenation of arange(lo[i], hi[i]) for all i."""
    counts = hi - lo
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, np.int64)
    starts = np.cumsum(counts) - counts
    return np.repeat(lo - starts, counts) + np.arange(total, dtype=np.int64)


def _group_sum(keys: I64, vals: I64) -> tuple[I64, I64]:
    """Unique keys (sorted) and the exact int64 sum of vals per key."""
    if keys.size == 0:
        return keys, vals
    o = np.argsort(keys, kind="stable")
    k = keys[o]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    return k[starts], np.add.reduceat(vals[o], starts)


def rank_times(block: I64, log_index: I64) -> I64:
    """Dense rank of (block_number, log_index): equal keys share a rank."""
    if block.size == 0:
        return np.empty(0, np.int64)
    lo_b, hi_b, lo_l, hi_l = int(block.min()), int(block.max()), int(log_index.min()), int(log_index.max())
    bits = max(1, hi_l.bit_length())
    if lo_b >= 0 and lo_l >= 0 and hi_b.bit_length() + bits <= 62:
        # one sort on a packed key (block << bits | log_index: order-preserving and one-to-one), not two
        key = (block << np.int64(bits)) | log_index
        o = np.argsort(key)
        k = key[o]
        new = np.r_[True, k[1:] != k[:-1]]
    else:
        o = np.lexsort((log_index, block))
        b, li = block[o], log_index[o]
        new = np.r_[True, (b[1:] != b[:-1]) | (li[1:] != li[:-1])]
    r = np.empty(block.size, np.int64)
    r[o] = np.cumsum(new) - 1
    return r


def dense_sum(keys: I64, vals: I64, n: int) -> I64:
    """Exact int64 sums of vals per key as a dense array of length n (two exact float64 bincounts)."""
    lo = np.bincount(keys, weights=(vals & np.int64((1 << 26) - 1)).astype(np.float64), minlength=n)
    hi = np.bincount(keys, weights=(vals >> np.int64(26)).astype(np.float64), minlength=n)
    return (hi.astype(np.int64) << np.int64(26)) + lo.astype(np.int64)


def inflow_order(d: I64, r: I64) -> I64:
    """Edge indices in (receiver, rank) order."""
    return np.argsort(_key(d, r)).astype(np.int64)


def _reverse_blocks(order: I64, node: I64) -> I64:
    """``order`` (edges sorted by (node, rank)) with each node's block reversed: sorted by (node, -rank)."""
    m = order.size
    if m == 0:
        return order
    ns = node[order]
    starts = np.flatnonzero(np.r_[True, ns[1:] != ns[:-1]]).astype(np.int64)
    counts = np.diff(np.r_[starts, m])
    return order[np.repeat(2 * starts + counts - 1, counts) - np.arange(m, dtype=np.int64)]


def _unique(x: I64) -> I64:
    """Sorted unique values (sort-based: faster than numpy's hash-based unique on large int64 arrays)."""
    if x.size == 0:
        return x
    s = np.sort(x)
    return s[np.r_[True, s[1:] != s[:-1]]]


def _sum_by(keys: I64, vals: I64, n: int, positive: bool = False) -> tuple[I64, I64]:
    """Unique keys (sorted, all < n) and the exact int64 sum of vals per key.

    Large inputs use two float64 bincounts over the low and high 26 bits (each partial sum stays below 2^53, so
    it is exact); small ones sort."""
    if keys.size < n // 16:
        return _group_sum(keys, vals)
    lo = np.bincount(keys, weights=(vals & np.int64((1 << 26) - 1)).astype(np.float64), minlength=n)
    hi = np.bincount(keys, weights=(vals >> np.int64(26)).astype(np.float64), minlength=n)
    if positive:
        k = np.flatnonzero(lo + hi).astype(np.int64)   # every value > 0: a key is present iff its sum is
    else:
        k = np.flatnonzero(np.bincount(keys, minlength=n)).astype(np.int64)
    return k, (hi[k].astype(np.int64) << np.int64(26)) + lo[k].astype(np.int64)


class _Direction:
    """The graph as seen by one direction: s -> d edges in time rank r (reversed for 'out')."""

    # below 1/SPARSE of the edges, a hop's tainted edges are sorted; above, prefix sums run over a dense array
    SPARSE = 32

    def __init__(self, s: I64, d: I64, r: I64, w: I64, carry: B1, stop: B1, n: int,
                 in_order: I64 | None = None, time: I64 | None = None, out_order: I64 | None = None) -> None:
        """``in_order``/``out_order``: every edge in (d, r) / (s, r) order, when the caller has them."""
        self.s, self.d, self.r, self.w, self.n = s, d, r, w, n
        self.m = s.size
        # Carrying edges in (sender, rank) order, as CSR over senders; relaying edges: sender not a stop node.
        # (Sorting need not be stable: ties have equal keys and every result is an exact sum over a tie block.)
        if out_order is not None:
            ce = out_order[carry[out_order]]
        else:
            ce = np.flatnonzero(carry)
            ce = ce[np.argsort(_key(s[ce], r[ce]))]
        nodes = np.arange(n + 1, dtype=np.int64)
        self.carry_by_s = ce
        self.carry_off = np.searchsorted(s[ce], nodes, "left").astype(np.int64)
        re_ = ce[~stop[s[ce]]]
        del ce
        self.relay = re_
        self.relay_s = s[re_]
        self.relay_wf = w[re_].astype(np.float64)   # the haircut's operands, converted once
        self.relay_off = np.searchsorted(self.relay_s, nodes, "left").astype(np.int64)
        # Inflow events in (receiver, rank) order; for each relaying edge the range of its sender's earlier inflows
        o = in_order if in_order is not None else inflow_order(d, r)
        kin_sorted = _key(d[o], r[o])
        self.in_pos = np.empty(self.m, np.int64)
        self.in_pos[o] = np.arange(self.m, dtype=np.int64)
        self.relay_pos = np.searchsorted(kin_sorted, _key(self.relay_s, r[re_]), "left").astype(np.int64)
        del kin_sorted
        # relay_pos is non-decreasing (relaying edges are in (sender, rank) order, inflows in (receiver, rank))
        self.in_off = np.searchsorted(d[o], nodes, "left").astype(np.int64)
        self.buf: I64 | None = None          # the dense prefix-sum buffer, reused across hops and keys
        cum = np.concatenate(([0], np.cumsum(w[o]))).astype(np.int64)  # wraps harmlessly: only differences used
        # B: everything the sender had received before each relaying edge.
        self.relay_bf = (cum[self.relay_pos] - cum[self.in_off[self.relay_s]]).astype(np.float64)
        # in relay order (read sequentially per hop): each relaying edge's receiver and inflow position; and for
        # every inflow position p the first relaying edge whose sender had received p before it
        self.relay_d = d[re_]
        self.relay_inpos = self.in_pos[re_]
        self.relay_after = np.searchsorted(self.relay_pos, np.arange(self.m + 1, dtype=np.int64), "right")
        self.stop = stop
        self.fwd_ready = False
        self.tau: I64 | None = None          # forwarding: illicit taint per transfer, and its largest part
        self.part_t: I64 = np.empty(0, np.int64)
        self.part: I64 = np.empty(0, np.int64)
        self.parts: list[tuple[str, int]] = []
        if time is not None:
            # for forwarding: inflows by (receiver, rank) with prefix sums, carrying outflows likewise, and the
            # running maximum of time by rank (the window's rank bounds)
            self.kin_sorted = _key(d[o], r[o])
            self.cum_in = cum
            ce = self.carry_by_s
            self.kout_sorted = _key(s[ce], r[ce])
            self.cum_out = np.concatenate(([0], np.cumsum(w[ce]))).astype(np.int64)
            nr = int(r.max()) + 1 if r.size else 0
            tr = np.full(nr, -1, np.int64)
            np.maximum.at(tr, r, time)
            self.mono = np.maximum.accumulate(tr) if nr else tr
            self.fwd_ready = True

    def run(self, category: str, direction: str, sources: B1, max_hops: int,
            fwd: ForwardingParams | None = None) -> Iterator[HopExposure]:
        src_nodes = np.flatnonzero(sources).astype(np.int64)
        e = self.carry_by_s[_ranges(self.carry_off[src_nodes], self.carry_off[src_nodes + 1])]
        t = self.w[e]
        de, ipe = self.d[e], self.in_pos[e]    # each tainted edge's receiver and inflow position
        judge = fwd is not None and self.fwd_ready and category in fwd.categories
        for hop in range(1, max_hops + 1):
            if e.size == 0:
                return
            addr, usd = _sum_by(de, t, self.n, positive=True)   # taints are > 0
            if judge:
                self._accumulate(category, hop, e, t, de, sources)
            yield HopExposure(category, direction, hop, addr, usd)
            if hop == max_hops:
                return
            e, t, de, ipe = self._next(t, ipe, addr, sources)

    def _accumulate(self, key: str, hop: int, e: I64, t: I64, de: I64, sources: B1) -> None:
        """Add one key's taint at one hop to the per-transfer illicit taint (forwarding), keeping its largest part."""
        if self.tau is None:
            self.tau = np.zeros(self.m, np.int64)
            self.part_t = np.zeros(self.m, np.int64)
            self.part = np.full(self.m, -1, np.int64)
        tau = self.tau
        keep = ~sources[de]
        e, t = e[keep], t[keep]
        self.parts.append((key, hop))
        tau[e] += t                     # e holds each transfer once per key and hop
        big = t > self.part_t[e]             # strictly larger: ties keep the earlier key, then the lower hop
        self.part_t[e[big]] = t[big]
        self.part[e[big]] = len(self.parts) - 1

    def forwarding_events(self, fwd: ForwardingParams) -> ForwardingEvents | None:
        """The forwarding events over the illicit taint accumulated by :meth:`run`: see the module docstring."""
        if self.tau is None:
            return None
        e = np.flatnonzero(self.tau).astype(np.int64)
        w = self.w[e]
        t = np.minimum(self.tau[e], w)
        v = self.d[e]
        re_ = self.r[e]
        te = self.mono[re_]
        min_t = int(np.floor(fwd.min_usd * 1_000_000 + 0.5))
        m = (t >= min_t) & (2 * t >= w) & (te >= 0) & ~self.stop[v]
        e, t, v, re_, te = e[m], t[m], v[m], re_[m], te[m]
        win = np.int64(fwd.window_s)
        rhi = np.searchsorted(self.mono, te + win, "right").astype(np.int64) - 1
        rlo = np.searchsorted(self.mono, te - win, "left").astype(np.int64)
        vin_ = self.cum_in[np.searchsorted(self.kin_sorted, _key(v, rhi), "right")] - \
            self.cum_in[np.searchsorted(self.kin_sorted, _key(v, rlo), "left")]
        out = self.cum_out[np.searchsorted(self.kout_sorted, _key(v, rhi), "right")] - \
            self.cum_out[np.searchsorted(self.kout_sorted, _key(v, re_), "right")]
        m = (2 * t >= vin_) & (out.astype(np.float64) >= fwd.out_share * t.astype(np.float64))
        part = self.part[e[m]]
        keys = [k for k, _ in self.parts]
        hops = np.array([h for _, h in self.parts] or [0], np.int64)
        return ForwardingEvents(v[m], e[m], t[m], out[m], [keys[i] for i in part.tolist()], hops[part])

    def _next(self, t: I64, ip: I64, receivers: I64, sources: B1) -> tuple[I64, I64, I64, I64]:
        """The next hop from the tainted edges at inflow positions ``ip`` with taint ``t``: the edges, their
        taint, receivers and inflow positions."""
        relayers = receivers[~sources[receivers]]
        if relayers.size == 0:
            z = np.empty(0, np.int64)
            return z, z, z, z
        # A: the taint each relaying edge's sender had received before it, by prefix sums over the inflow events
        # (cum: non-decreasing prefix sums of the taint in inflow order, addressed by inflow position through
        # pos_of). A relayer's edges up to its first tainted inflow carry nothing: they are never visited.
        wrap = False
        if ip.size * self.SPARSE < self.m:
            o = np.argsort(ip)
            ips = ip[o]
            cum = np.concatenate(([0], np.cumsum(t[o]))).astype(np.int64)
            first = ips[np.searchsorted(ips, self.in_off[relayers], "left")]

            def prefix(pos: I64) -> I64:
                return cum[np.searchsorted(ips, pos, "left")]
        else:
            if self.buf is None:
                self.buf = np.empty(self.m + 1, np.int64)
            cum = self.buf
            cum.fill(0)
            cum[ip + 1] = t
            np.cumsum(cum, out=cum)
            wrap = float(t.sum(dtype=np.float64)) >= 2.0**62
            # the first tainted inflow of each relayer: the first position where the prefix sum grows (unless
            # the prefix sums may wrap: only their differences are exact; then every edge is visited)
            first = np.searchsorted(cum, cum[self.in_off[relayers]], "right") - 1 if not wrap else relayers

            def prefix(pos: I64) -> I64:
                return cum[pos]
        lo = self.relay_off[relayers] if wrap else np.maximum(self.relay_off[relayers], self.relay_after[first])
        hi = self.relay_off[relayers + 1]
        pos_relay = _ranges(lo, hi)
        if pos_relay.size == 0:
            return pos_relay, pos_relay, pos_relay, pos_relay
        # the prefix sum before each relayer's inflows, once per relayer
        base = np.repeat(prefix(self.in_off[relayers]), hi - lo)
        a = prefix(self.relay_pos[pos_relay]) - base
        tk = np.floor(self.relay_wf[pos_relay] * a.astype(np.float64) / self.relay_bf[pos_relay] + 0.5).astype(np.int64)
        sel = pos_relay[tk > 0]
        return self.relay[sel], tk[tk > 0], self.relay_d[sel], self.relay_inpos[sel]


def propagate(
    src: I64, dst: I64, rank: I64, usd: I64, carry: B1, stop: B1, sources: Mapping[str, B1],
    max_hops: int | Mapping[str, tuple[int, int]],
    in_order: I64 | None = None, threads: int = 2, time: I64 | None = None,
    forwarding: ForwardingParams | None = None, out_order: I64 | None = None,
) -> tuple[list[HopExposure], ForwardingEvents | None]:
    """Exposure per category, direction and hop for every address reached within ``max_hops``.

    ``src``/``dst``/``rank``/``usd`` describe every transfer with a USD value (self-transfers removed);
    ``carry`` marks the transfers that may carry taint; ``stop`` and each ``sources[category]`` are boolean masks
    over address ids; ``max_hops`` is one K for all, or per source key the K of ('in', 'out'). Returns the
    :class:`HopExposure` in (category order given, 'in' then 'out', hop) order, and the forwarding events.
    With ``threads=2`` the two directions run concurrently (numpy releases the GIL in its loops); the result
    does not depend on it. ``in_order``/``out_order``: every transfer in (dst, rank) / (src, rank) order, when the
    caller has them. With ``time`` and ``forwarding``, the incoming direction also judges the forwarding
    events over the taint of the source keys named in ``forwarding.categories`` (else the events are None).
    """
    if src.size and (int(rank.max()) > MAX_RANK or max(int(src.max()), int(dst.max())) > MAX_NODE):
        raise ValueError("graph too large for 32-bit ranks / 31-bit address ids")
    def hops_of(key: str, direction: int) -> int:
        return max_hops if isinstance(max_hops, int) else max_hops[key][direction]

    sources = {k: m for k, m in sources.items() if max(hops_of(k, 0), hops_of(k, 1)) >= 1}
    if not sources:
        return [], None
    n = stop.size
    top = int(rank.max()) if rank.size else 0

    # two sorts serve both directions: every edge by (receiver, rank) and by (sender, rank); the reversed
    # direction's orders are these with each node's block reversed (its ranks run backwards)
    by_dst = in_order if in_order is not None else inflow_order(dst, rank)
    by_src = out_order if out_order is not None else inflow_order(src, rank)

    def forward() -> tuple[list[HopExposure], ForwardingEvents | None]:
        judge = forwarding is not None and bool(forwarding.categories) and time is not None
        fwd = _Direction(src, dst, rank, usd, carry, stop, n, by_dst, time if judge else None, by_src)
        hs = [h for cat, mask in sources.items() for h in fwd.run(cat, "in", mask, hops_of(cat, 0), forwarding)]
        return hs, fwd.forwarding_events(forwarding) if judge and forwarding is not None else None

    def backward() -> list[HopExposure]:
        bwd = _Direction(dst, src, top - rank, usd, carry, stop, n, _reverse_blocks(by_src, src),
                         out_order=_reverse_blocks(by_dst, dst))
        return [h for cat, mask in sources.items() for h in bwd.run(cat, "out", mask, hops_of(cat, 1))]

    if threads < 2:
        hs, ev = forward()
        return hs + backward(), ev
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        f, b = pool.submit(forward), pool.submit(backward)
        hs, ev = f.result()
        return hs + b.result(), ev


def degrees(src: I64, dst: I64, carry: B1, n: int) -> I64:
    """Distinct counterparties of each address over carrying transfers (int64 array of length n)."""
    a, b = src[carry], dst[carry]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pairs = _unique(_key(lo, hi))
    deg = np.bincount(pairs >> _SHIFT, minlength=n) + np.bincount(pairs & np.int64(MAX_RANK), minlength=n)
    return deg.astype(np.int64)


def deposit_addresses(
    src: I64, dst: I64, rank: I64, usd: I64, time: I64, carry: B1, candidate: B1, exchange: B1,
    window_s: int, min_share: float, in_order: I64 | None = None, out_order: I64 | None = None,
) -> tuple[I64, I64]:
    """Exchange deposit addresses: candidates that sweep most of their outflow to exchange wallets.

    A *sweep* is a carrying transfer from a candidate to an exchange wallet made at most ``window_s`` seconds
    after the candidate's latest earlier inflow (when either time is unknown (-1) the window is not checked).
    A candidate is a deposit address when its swept USD is at least ``min_share`` of all its outgoing USD.
    Returns (deposit address ids sorted, the exchange wallet each swept most to; ties -> lowest id).
    """
    n = candidate.size
    is_sw = carry & candidate[src] & exchange[dst]
    # in (sender, rank) order when the caller has it: the searches below then run over sorted queries
    sw = out_order[is_sw[out_order]] if out_order is not None else np.flatnonzero(is_sw)
    del is_sw
    if sw.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    o = in_order if in_order is not None else inflow_order(dst, rank)
    kin_sorted = _key(dst[o], rank[o])
    q = _key(src[sw], rank[sw])
    pos = np.searchsorted(kin_sorted, q, "left")
    start = np.searchsorted(kin_sorted, src[sw] << _SHIFT, "left")
    has_prev = pos > start
    prev_time = np.where(has_prev, time[o[np.maximum(pos - 1, 0)]], -1)
    t = time[sw]
    ok = has_prev & ((prev_time < 0) | (t < 0) | (t - prev_time <= window_s))
    sw = sw[ok]
    if sw.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    swept = dense_sum(src[sw], usd[sw], n)
    out = dense_sum(src, usd, n)
    dep = np.flatnonzero((swept > 0) & (swept.astype(np.float64) >= min_share * out.astype(np.float64)))
    # the exchange each deposit address swept most to
    pk, pv = _group_sum(_key(src[sw], dst[sw]), usd[sw])
    ps, pd = pk >> _SHIFT, pk & np.int64(MAX_RANK)
    order = np.lexsort((pd, -pv, ps))
    ps, pd = ps[order], pd[order]
    first = np.r_[True, ps[1:] != ps[:-1]]
    best_s, best_d = ps[first], pd[first]
    sel = np.isin(best_s, dep)
    return best_s[sel].astype(np.int64), best_d[sel].astype(np.int64)
