"""Per-address behaviour features in one vectorised pass over the engine's transfer arrays (issue 12).

Pure: arrays in, a float64 matrix out (one row per address id, one column per feature of :data:`FEATURES`), no
I/O, no clock, deterministic. The same function makes the training rows (``chainrisk model train``) and the
scoring rows (every scoring run), so the two cannot drift apart; :data:`FEATURES_VERSION` names the definitions
and a model file trained on other definitions is refused.

What one address's row sees: every transfer with a USD value in which it is sender or receiver (the engine's
inputs: pegged tokens, self-transfers removed). Counterparty kinds: an *exchange* is an address labelled
``exchange`` or a deposit address the engine found (it sweeps to one); a *service* is an exchange, an address
labelled with another service category (:data:`SERVICE_CATEGORIES`) or an unlabelled hub (more distinct
counterparties than the profile's ``hub_degree``). Value statistics use transfers of at least
:data:`VALUE_FLOOR_USD` (address-poisoning dust and zero-value transfers would make minima and means meaningless);
counts, dust and zero-value shares use every transfer. Times are the block times (unknown: left out of the time
features); the ordering within an address is the transfers' order on chain.

Nothing here describes how a data set was assembled (no calendar year, no token mix): only how the address moves
money. ``docs/behaviour.md`` gives each feature's meaning; :func:`describe` returns the same text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B1 = npt.NDArray[np.bool_]

FEATURES_VERSION = "1"
MICRO = 1_000_000
VALUE_FLOOR_USD = 1.0          # value statistics and round amounts: transfers of at least 1 USD
ROUND_USD = 100                # a round amount: a whole multiple of 100 USD
FAST_S = 86_400                # a fast outflow: within a day of the address's latest inflow
BURST_S = 3_600                # a burst: consecutive transfers less than an hour apart
DAY_S = 86_400
SERVICE_CATEGORIES = ("exchange", "p2p_otc", "bridge", "defi", "stablecoin_issuer", "rwa_issuer", "mining",
                      "gambling", "mixer")


@dataclass(frozen=True)
class Feature:
    name: str
    meaning: str
    transform: str   # how the raw quantity is scaled: "log1p" (counts, USD, hours, days) or "share" (0..1) etc.


FEATURES: tuple[Feature, ...] = (
    # activity
    Feature("span_days", "days from the first to the last transfer", "log1p"),
    Feature("active_days", "distinct UTC days with a transfer", "log1p"),
    Feature("active_day_share", "active days / calendar days spanned (1: active every day of its life)", "share"),
    Feature("n_in", "incoming transfers", "log1p"),
    Feature("n_out", "outgoing transfers", "log1p"),
    Feature("out_count_share", "outgoing transfers / all transfers", "share"),
    Feature("senders", "distinct senders", "log1p"),
    Feature("recipients", "distinct recipients", "log1p"),
    Feature("transfers_per_counterparty", "transfers / (distinct senders + distinct recipients)", "log1p"),
    # value, in and out (transfers >= 1 USD)
    Feature("in_usd", "USD received", "log1p"),
    Feature("out_usd", "USD sent", "log1p"),
    Feature("in_mean_usd", "mean USD of an incoming transfer", "log1p"),
    Feature("in_max_usd", "largest incoming transfer, USD", "log1p"),
    Feature("in_min_usd", "smallest incoming transfer, USD", "log1p"),
    Feature("out_mean_usd", "mean USD of an outgoing transfer", "log1p"),
    Feature("out_max_usd", "largest outgoing transfer, USD", "log1p"),
    Feature("out_min_usd", "smallest outgoing transfer, USD", "log1p"),
    # balance and holding
    Feature("leftover_share", "(USD in - USD out) / the larger of the two: 1 keeps all, 0 passes all on, "
            "-1 only sends (its funding is outside the data)", "signed share"),
    Feature("hold_hours", "mean holding time of a received dollar (Little's law: time-integrated balance / USD "
            "received, balance floored at 0), hours", "log1p"),
    Feature("fast_out_share", "share of USD sent within a day of the address's latest inflow", "share"),
    # timing
    Feature("max_gap_share", "longest pause between consecutive transfers / the span", "share"),
    Feature("burst_share", "share of consecutive transfer pairs less than an hour apart", "share"),
    # amounts
    Feature("round_share", "share of transfers (>= 1 USD) that are whole multiples of 100 USD", "share"),
    # concentration
    Feature("top_recipient_share", "largest recipient's share of USD sent (consolidation)", "share"),
    Feature("top_sender_share", "largest sender's share of USD received", "share"),
    Feature("eff_senders", "effective number of senders: 1 / Herfindahl index of the senders' USD shares", "log1p"),
    Feature("eff_recipients", "effective number of recipients (as for senders)", "log1p"),
    # counterparties that are services
    Feature("in_exchange_share", "share of USD received from exchanges (labelled, or deposit addresses)", "share"),
    Feature("out_exchange_share", "share of USD sent to exchanges", "share"),
    Feature("in_service_share", "share of USD received from services (exchanges, OTC, bridges, DeFi, issuers, "
            "mining, gambling, mixers, hubs)", "share"),
    Feature("out_service_share", "share of USD sent to services", "share"),
    Feature("exchange_counterparty", "1 when any transfer (any amount) is with an exchange, else 0", "0/1"),
    # dust
    Feature("zero_share", "share of transfers with zero value", "share"),
    Feature("dust_share", "share of transfers above zero and below 1 USD", "share"),
)
NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
INDEX: dict[str, int] = {n: i for i, n in enumerate(NAMES)}


def describe() -> str:
    """The feature definitions as a markdown table (docs/behaviour.md carries the same)."""
    rows = [f"| `{f.name}` | {f.meaning} | {f.transform} |" for f in FEATURES]
    return "\n".join(["| feature | meaning | scale |", "|---|---|---|", *rows])


def service_masks(n: int, labels: list[tuple[int, str]], deposits: I64, hub: B1) -> tuple[B1, B1]:
    """(exchange, service) masks of length ``n`` from (address id, category) labels, the deposit addresses the
    engine found and its hub mask."""
    exchange = np.zeros(n, bool)
    service = hub[:n].copy() if hub.size >= n else np.r_[hub, np.zeros(n - hub.size, bool)]
    svc = set(SERVICE_CATEGORIES)
    for a, c in labels:
        if 0 <= a < n:
            if c == "exchange":
                exchange[a] = True
            if c in svc:
                service[a] = True
    d = deposits[(deposits >= 0) & (deposits < n)]
    exchange[d] = True
    service |= exchange
    return exchange, service


def _firsts(keys: I64) -> I64:
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if keys.size else np.empty(0, np.int64)


def _bits(x: int) -> int:
    return max(1, int(x).bit_length())


def _sort_pairs(hi: I64, lo: I64, lo_bound: int) -> tuple[I64, I64]:
    """(hi, lo) pairs sorted (hi, then lo), as two arrays; ``0 <= lo < lo_bound``, ``hi >= 0``. Packed into one
    int64 key and sorted with ``np.sort`` when the bits fit (several times faster than argsort), else lexsort."""
    lb = _bits(lo_bound)
    hmax = int(hi.max()) if hi.size else 0
    if _bits(hmax) + lb <= 63:
        s = np.sort((hi << np.int64(lb)) | lo)
        return s >> np.int64(lb), s & np.int64((1 << lb) - 1)
    o = np.lexsort((lo, hi))
    return hi[o], lo[o]


def _pair_order(src: I64, dst: I64, n: int) -> I64:
    """Transfer indices sorted by (src, dst), ties by index."""
    m = src.size
    nb, ib = _bits(n), _bits(m)
    if 2 * nb + ib <= 64:
        key = ((src.astype(np.uint64) << np.uint64(nb)) | dst.astype(np.uint64)) << np.uint64(ib)
        key |= np.arange(m, dtype=np.uint64)
        return (np.sort(key) & np.uint64((1 << ib) - 1)).astype(np.int64)
    return np.lexsort((np.arange(m), dst, src)).astype(np.int64)


def _share(num: F64, den: F64) -> F64:
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def compute_features(src: I64, dst: I64, rank: I64, usd: I64, time: I64, n: int,
                     exchange: B1, service: B1) -> F64:
    """The (n, len(FEATURES)) feature matrix; rows of addresses without transfers are all zero.

    ``rank`` orders the transfers on chain (equal ranks keep their input order); ``usd`` in micro-USD (>= 0);
    ``time`` epoch seconds (-1 unknown)."""
    k = len(FEATURES)
    out = np.zeros((k, n), np.float64)            # one contiguous row per feature; returned transposed
    m = src.size
    if m == 0:
        return out.T
    col = {name: out[i] for i, name in enumerate(NAMES)}
    floor = int(VALUE_FLOOR_USD * MICRO)
    usd_f = usd.astype(np.float64) / MICRO
    valued = usd >= floor

    # -- counts and sums: no sort needed ------------------------------------------------------------------------
    def cnt(keys: I64, w: F64 | None = None) -> F64:
        return np.bincount(keys, weights=w, minlength=n).astype(np.float64)

    n_in, n_out = cnt(dst), cnt(src)
    allc = n_in + n_out
    # sums of whole micro-USD (exact in float64 below 2^53 micro-USD, so the same in any transfer order; sums of
    # fractional USD were not, and leftover_share's sign at in == out then depended on the order rows were read)
    v_in_w = np.where(valued, usd, 0).astype(np.float64)
    in_usd, out_usd = cnt(dst, v_in_w) / MICRO, cnt(src, v_in_w) / MICRO
    nv_in, nv_out = cnt(dst, valued.astype(np.float64)), cnt(src, valued.astype(np.float64))
    zero = (usd == 0).astype(np.float64)
    dust = ((usd > 0) & ~valued).astype(np.float64)
    col["n_in"][:] = np.log1p(n_in)
    col["n_out"][:] = np.log1p(n_out)
    col["out_count_share"][:] = _share(n_out, allc)
    col["in_usd"][:] = np.log1p(in_usd)
    col["out_usd"][:] = np.log1p(out_usd)
    col["in_mean_usd"][:] = np.log1p(_share(in_usd, nv_in))
    col["out_mean_usd"][:] = np.log1p(_share(out_usd, nv_out))
    col["leftover_share"][:] = _share(in_usd - out_usd, np.maximum(in_usd, out_usd))
    rnd = (valued & (usd % (ROUND_USD * MICRO) == 0)).astype(np.float64)
    col["round_share"][:] = _share(cnt(dst, rnd) + cnt(src, rnd), nv_in + nv_out)
    col["zero_share"][:] = _share(cnt(dst, zero) + cnt(src, zero), allc)
    col["dust_share"][:] = _share(cnt(dst, dust) + cnt(src, dust), allc)
    col["in_exchange_share"][:] = _share(cnt(dst, np.where(exchange[src], v_in_w, 0.0)) / MICRO, in_usd)
    col["out_exchange_share"][:] = _share(cnt(src, np.where(exchange[dst], v_in_w, 0.0)) / MICRO, out_usd)
    col["in_service_share"][:] = _share(cnt(dst, np.where(service[src], v_in_w, 0.0)) / MICRO, in_usd)
    col["out_service_share"][:] = _share(cnt(src, np.where(service[dst], v_in_w, 0.0)) / MICRO, out_usd)
    exc_any = cnt(dst, exchange[src].astype(np.float64)) + cnt(src, exchange[dst].astype(np.float64))
    col["exchange_counterparty"][:] = (exc_any > 0).astype(np.float64)

    # -- the events of each address in chain order: one sort ----------------------------------------------------
    _, pos = _sort_pairs(rank, np.arange(m, dtype=np.int64), m)      # transfers in chain order
    # event j = 2 * (position in chain order) + (0 in, 1 out): sorting (address, j) keeps each address's
    # events in chain order, an inflow before an outflow of the same transfer rank
    j = np.empty(m, np.int64)
    j[pos] = np.arange(m, dtype=np.int64)
    j2 = 2 * j
    ev_addr = np.concatenate([dst, src])
    ev_j = np.concatenate([j2, j2 + 1])
    del j, j2
    a, jj = _sort_pairs(ev_addr, ev_j, 2 * m)
    del ev_addr, ev_j
    inn = (jj & 1) == 0
    e = pos[jj >> 1]
    del jj
    t = time[e]
    w = usd_f[e]
    vl = valued[e]
    g = _firsts(a)
    ga = a[g]
    big = np.float64(np.inf)
    # minima and maxima of valued transfers
    for name, sel, red, fill in (("in_max_usd", inn, np.maximum, 0.0), ("out_max_usd", ~inn, np.maximum, 0.0),
                                 ("in_min_usd", inn, np.minimum, big), ("out_min_usd", ~inn, np.minimum, big)):
        v = red.reduceat(np.where(sel & vl, w, fill), g)
        col[name][ga] = np.log1p(np.where(np.isfinite(v), v, 0.0))
    # time: first/last known time, active days, gaps, bursts
    known = t >= 0
    first = np.minimum.reduceat(np.where(known, t, np.iinfo(np.int64).max), g)
    last = np.maximum.reduceat(np.where(known, t, -1), g)
    has_t = last >= 0
    span = np.where(has_t, (last - first) / DAY_S, 0.0)
    col["span_days"][ga] = np.log1p(span)
    # consecutive known-time events of the same address (unknown times are skipped: previous known time);
    # arrays are dropped as soon as they are used (each is one value per event: 2 per transfer)
    idx = np.where(known, np.arange(a.size), -1)
    prev = np.r_[-1, np.maximum.accumulate(idx)[:-1]]
    del idx
    pk = np.maximum(prev, 0)
    pair = known & (prev >= 0) & (a[pk] == a)
    del prev
    dt = np.where(pair, np.maximum(t - t[pk], 0), 0).astype(np.float64)   # block times never go back; if a
    # source's do, the pause counts as zero
    day = t // DAY_S
    new_day = known & ~(pair & (day == day[pk]))
    del day, pk
    days = np.add.reduceat(new_day.astype(np.float64), g)
    del new_day
    col["active_days"][ga] = np.log1p(days)
    col["active_day_share"][ga] = _share(days, np.floor(span) + 1.0) * has_t
    npairs = np.add.reduceat(pair.astype(np.float64), g)
    col["burst_share"][ga] = _share(np.add.reduceat((pair & (dt < BURST_S)).astype(np.float64), g), npairs)
    col["max_gap_share"][ga] = _share(np.maximum.reduceat(dt, g) / DAY_S, span)
    # holding: the balance after each event (received minus sent, in chain order, floored at 0), integrated
    # over time: the balance just before an event (after the previous event of the same address) was held for dt
    cs = np.cumsum(np.where(inn, w, -w))
    starts = np.r_[0.0, cs[:-1]][g]
    cs -= np.repeat(starts, np.diff(np.r_[g, a.size]))
    np.maximum(cs, 0.0, out=cs)
    dt *= np.r_[0.0, cs[:-1]]
    del cs
    dt[~pair] = 0.0
    del pair
    in_all = np.add.reduceat(np.where(inn, w, 0.0), g)
    hold_h = _share(np.add.reduceat(dt, g), in_all) / 3600.0
    del dt
    col["hold_hours"][ga] = np.log1p(hold_h)
    # fast outflows: time since the address's latest inflow with a known time
    last_in = np.maximum.accumulate(np.where(inn & known, np.arange(a.size), -1))
    li = np.maximum(last_in, 0)
    ok = ~inn & known & vl & (last_in >= 0) & (a[li] == a)
    del last_in
    fast = ok & (t - t[li] <= FAST_S)
    del ok, li
    col["fast_out_share"][ga] = _share(np.add.reduceat(np.where(fast, w, 0.0), g),
                                       np.add.reduceat(np.where(~inn & vl, w, 0.0), g))
    del t, w, vl, fast, e, known, inn, a

    # -- counterparties: one sort of (address, direction, counterparty) ------------------------------------------
    srt = _pair_order(src, dst, n)
    ps, pd = src[srt], dst[srt]
    f = _firsts((ps << np.int64(32)) | pd)
    pv = np.add.reduceat(usd[srt] * valued[srt], f).astype(np.float64) / MICRO   # exact micro-USD sums
    ps, pd = ps[f], pd[f]
    del srt, f
    for a_, cname, top, eff, tot in ((pd, "senders", "top_sender_share", "eff_senders", in_usd),
                                     (ps, "recipients", "top_recipient_share", "eff_recipients", out_usd)):
        col[cname][:] = np.log1p(cnt(a_))
        mx = np.zeros(n)
        np.maximum.at(mx, a_, pv)
        col[top][:] = _share(mx, tot)
        col[eff][:] = np.log1p(_share(tot * tot, cnt(a_, pv * pv)))
    ncp = np.expm1(col["senders"]) + np.expm1(col["recipients"])
    col["transfers_per_counterparty"][:] = np.log1p(_share(allc, ncp))
    np.nan_to_num(out, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return out.T
