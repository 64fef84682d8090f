"""Behavioural indicators: FATF red flags computed in bulk SQL over the transfer graph, each with its evidence.

``compute_indicators(store, run_id, profile)`` writes rows into ``indicators`` (one per address and indicator)
for a scoring run. The risk engine calls it during a run and folds the severities into the score.

Indicators (FATF, "Virtual Assets Red Flag Indicators", 2020):

``collector``
    A funnel (FATF 2020, red flags on transaction patterns: "incoming transactions from many unrelated wallets in
    relatively small amounts (accumulation of funds) with subsequent transfer to another wallet"): the collector
    of a scam, a phishing drainer or a mule network. Fires when
    * at least ``collector_min_senders`` distinct non-service senders paid in, and their inflow is at least
      ``collector_min_small_share`` of the address's inflow (accumulation from wallets, not exchange withdrawals);
    * the amounts are *relatively* small: the effective number of senders (the inverse Herfindahl index of the
      senders' shares of that inflow) is at least ``collector_min_effective_senders``, i.e. no few senders
      dominate. "Small" is relative to the address's own inflow, not an absolute USD cap: a pig-butchering
      victim's payments grow to tens of thousands and are still one of many;
    * it is a funnel: the inflow goes on to few wallets, at least ``collector_min_fan_in`` distinct senders per
      distinct recipient;
    * the money moves on: between ``collector_min_forward_share`` and ``1 + pass_through_max_residual_share`` of
      the inflow left again, and the mean holding time (Little's law: the time-weighted balance divided by the
      inflow, over the address's active period) is at most ``collector_window_h`` hours. A merchant with steady
      customer payments and irregular payouts keeps a balance for days or weeks; a collector for hours.
``pass_through``
    A layering hop: at least ``pass_through_min_usd`` came in, at least ``pass_through_min_forward_share`` of it
    left within ``pass_through_window_h`` hours of arriving, and at most ``pass_through_max_residual_share`` stayed.
    A collector is also a pass-through by construction; it gets only the more specific ``collector`` flag.
``short_lived``
    A throwaway wallet (FATF 2020 red flags: funds moved through a newly created wallet that is then emptied and
    abandoned; the typical phishing or drainer payout address): its whole activity lasted at most
    ``short_lived_max_days`` days, at least ``pass_through_min_usd`` came in, between
    ``pass_through_min_forward_share`` and ``1 + pass_through_max_residual_share`` of it left, and the store's data
    cover at least ``short_lived_max_days`` days on both sides of that activity (so the data window, not the
    wallet, is not what is short: an address first seen in the store's first month, or still active in its last
    month, never fires).
``mixer_funded_fresh``
    A fresh address funded by a mixer: an inflow from an address labelled ``mixer`` within ``fresh_window_h`` hours
    of the address's first activity in the store (severity higher when it is the very first inflow).
``structuring``
    Repeated transfers just under a reporting threshold: at least ``structuring_min_count`` transfers (sent, or
    received) in ``[T·(1 − structuring_margin), T)`` within ``structuring_window_days`` days, where those make at least
    ``structuring_min_share`` of the address's transfers between 0.5·T and 1.5·T (ordinary amounts are spread out;
    structured ones bunch under T). Default thresholds (USD equivalents): 10,000 (US currency transaction report,
    FATF/EU cash and cross-border declaration thresholds; the usual "just under 10k") and 50,000 (China's large-value
    cash transaction report threshold, RMB 50,000, and the annual USD 50,000 personal FX quota of mainland China).

What never fires: the null and burn addresses; addresses labelled with one of the profile's stop categories
(exchanges, DEX pools, bridges, ...); unlabelled hubs with more than ``hub_degree`` distinct counterparties; and
exchange deposit-like addresses, which send at least ``deposit_sweep_share`` of their outflow to services (they
belong to the exchange). Transfers below the profile's ``dust_usd`` and tokens without a USD peg are ignored, so
address-poisoning dust is not an inflow. "First activity" means first in the store's data, which the evidence says.
All work is set-based DuckDB SQL; nothing loops over addresses in Python.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..taxonomy import inert_keys

if TYPE_CHECKING:
    from ..profiles import Profile
    from ..store import Store

INDICATORS = ("collector", "pass_through", "short_lived", "mixer_funded_fresh", "structuring")


@dataclass(frozen=True)
class IndicatorParams:
    """Thresholds of the indicators; defaults documented in the module docstring."""

    collector_min_senders: int = 10
    collector_min_effective_senders: float = 5.0
    collector_min_fan_in: float = 3.0
    collector_min_small_share: float = 0.5
    collector_fast_hold_h: float = 24.0
    collector_min_forward_share: float = 0.8
    collector_window_h: float = 72.0
    pass_through_min_usd: float = 1_000.0
    pass_through_min_forward_share: float = 0.9
    pass_through_max_residual_share: float = 0.1
    pass_through_window_h: float = 24.0
    fresh_window_h: float = 24.0
    short_lived_max_days: float = 30.0
    structuring_thresholds_usd: tuple[float, ...] = (10_000.0, 50_000.0)
    structuring_margin: float = 0.1
    structuring_min_count: int = 3
    structuring_window_days: float = 7.0
    structuring_min_share: float = 0.5
    deposit_sweep_share: float = 0.9
    examples: int = 3

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["structuring_thresholds_usd"] = list(self.structuring_thresholds_usd)
        return d


DEFAULT_PARAMS = IndicatorParams()

# Severities (0..100): base when the indicator fires, plus bonuses for a stronger pattern, capped.
SEVERITY = {
    "collector": (60, 80),
    "pass_through": (35, 55),
    "mixer_funded_fresh": (65, 80),
    "structuring": (45, 65),
    "short_lived": (40, 60),
}


def compute_indicators(
    store: Store, run_id: str, profile: Profile, as_of: datetime | None = None,
    params: IndicatorParams = DEFAULT_PARAMS,
) -> int:
    """Compute every indicator for ``run_id`` over transfers up to ``as_of`` (all when None) and insert them
    into ``indicators``. Returns the number of rows inserted. Deterministic for the same store and inputs."""
    prop = profile.propagation
    p: dict[str, Any] = {"dust": float(prop.dust_usd), "as_of": as_of}
    # Inert addresses (as in the engine): null/burn, precompiles, the tokens' own contracts.
    store.execute(
        """CREATE OR REPLACE TEMP TABLE _ind_burn AS SELECT a.id FROM addresses a
        WHERE list_contains($sys, a.chain || ':' || a.address)
           OR (a.chain, a.address) IN (SELECT (chain, contract) FROM tokens)""", {"sys": inert_keys()}
    )
    # Usable transfers: priced, timed, not dust, not to/from an inert address, not self-transfers.
    store.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ind_t AS
        SELECT t.from_id, t.to_id, t.block_time AS ts, t.block_number, t.log_index, t.amount * k.usd_peg AS usd
        FROM transfers t JOIN tokens k ON k.id = t.token_id
        WHERE k.usd_peg IS NOT NULL AND t.block_time IS NOT NULL AND t.amount * k.usd_peg >= $dust
          AND ($as_of::TIMESTAMP IS NULL OR t.block_time <= $as_of::TIMESTAMP)
          AND t.from_id <> t.to_id
          AND t.from_id NOT IN (SELECT id FROM _ind_burn) AND t.to_id NOT IN (SELECT id FROM _ind_burn)
        """, p,
    )
    # Services: stop-category labels, and hubs by distinct counterparties.
    store.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ind_svc AS
        WITH p AS (SELECT DISTINCT least(from_id, to_id) AS lo, greatest(from_id, to_id) AS hi FROM _ind_t)
        SELECT a.id AS address_id FROM active_labels l JOIN addresses a ON a.chain = l.chain AND a.address = l.address
        WHERE l.category IN (SELECT unnest($stops::VARCHAR[]))
        UNION
        SELECT x FROM (
            SELECT lo AS x FROM p UNION ALL SELECT hi FROM p)
        GROUP BY x HAVING count(*) > $hub
        """, {"stops": list(prop.stop_categories), "hub": int(prop.hub_degree)},
    )
    store.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ind_mixer AS
        SELECT DISTINCT a.id AS address_id, first(l.name ORDER BY l.source, l.name) OVER (PARTITION BY a.id) AS name
        FROM active_labels l JOIN addresses a ON a.chain = l.chain AND a.address = l.address
        WHERE l.category = 'mixer'
        """
    )
    _flows(store, params)
    store.execute(
        "CREATE OR REPLACE TEMP TABLE _ind_hits (address_id BIGINT, indicator VARCHAR, severity INTEGER,"
        " evidence JSON)"
    )
    store.execute(
        "CREATE OR REPLACE TEMP TABLE _ind_ex (address_id BIGINT, indicator VARCHAR, block_number BIGINT,"
        " log_index INTEGER, from_id BIGINT, to_id BIGINT, ts TIMESTAMP, usd DOUBLE)"
    )
    _collector(store, params)
    _pass_through(store, params)
    _short_lived(store, params)
    _mixer_funded_fresh(store, params)
    _structuring(store, params)
    # Attach up to `examples` tx hashes per hit, largest first then earliest (deterministic).
    row = store.execute(
        """
        INSERT INTO indicators
        WITH tx AS (
            SELECT e.address_id, e.indicator, t.tx_hash, max(e.usd) AS usd, min(e.ts) AS ts
            FROM _ind_ex e JOIN transfers t
              ON t.block_number = e.block_number AND t.log_index = e.log_index
             AND t.from_id = e.from_id AND t.to_id = e.to_id
            GROUP BY ALL),
        ex AS (
            SELECT address_id, indicator, list(tx_hash ORDER BY usd DESC, ts, tx_hash) AS hashes
            FROM tx GROUP BY ALL)
        SELECT $run_id, h.address_id, h.indicator, h.severity,
               CAST(json_merge_patch(h.evidence, json_object('example_tx_hashes',
                    coalesce(ex.hashes[1:$n], []))) AS VARCHAR)
        FROM _ind_hits h LEFT JOIN ex USING (address_id, indicator)
        ORDER BY h.address_id, h.indicator
        """, {"run_id": run_id, "n": params.examples},
    ).fetchone()
    for t in ("_ind_burn", "_ind_t", "_ind_svc", "_ind_mixer", "_ind_outd", "_ind_in", "_ind_out", "_ind_out0",
              "_ind_cand",
              "_ind_ccand", "_ind_hold", "_ind_hits", "_ind_ex"):
        store.execute(f"DROP TABLE IF EXISTS {t}")
    return int(row[0]) if row else 0


def _flows(store: Store, q: IndicatorParams) -> None:
    """Per-address inflow and outflow aggregates; then, only for addresses whose totals could satisfy the collector
    or pass-through conditions, each outflow's delay since the latest inflow before it (an ASOF join), and for the
    collector candidates the mean holding time."""
    store.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ind_in AS
        WITH ps AS (  -- per (receiver, sender)
            SELECT t.to_id, t.from_id, s.address_id IS NOT NULL AS svc, count(*) AS n, sum(t.usd) AS usd,
                   min(t.ts) AS first_in, max(t.ts) AS last_in
            FROM _ind_t t LEFT JOIN _ind_svc s ON s.address_id = t.from_id
            WHERE t.to_id NOT IN (SELECT address_id FROM _ind_svc)
            GROUP BY ALL)
        SELECT to_id AS address_id, sum(n) AS n_in, sum(usd) AS in_usd,
               count(*) FILTER (WHERE NOT svc) AS n_senders,
               coalesce(sum(n) FILTER (WHERE NOT svc), 0) AS n_sender_in,
               coalesce(sum(usd) FILTER (WHERE NOT svc), 0) AS sender_usd,
               coalesce(sum(usd * usd) FILTER (WHERE NOT svc), 0) AS sender_usd_sq,
               min(first_in) AS first_in, max(last_in) AS last_in
        FROM ps GROUP BY 1
        """
    )
    store.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ind_out0 AS
        SELECT t.from_id AS address_id, count(*) AS n_out, sum(t.usd) AS out_usd,
               count(DISTINCT t.to_id) AS n_recipients,
               coalesce(sum(t.usd) FILTER (WHERE s.address_id IS NOT NULL), 0) AS to_service_usd,
               min(t.ts) AS first_out, max(t.ts) AS last_out
        FROM _ind_t t LEFT JOIN _ind_svc s ON s.address_id = t.to_id
        WHERE t.from_id NOT IN (SELECT address_id FROM _ind_svc)
        GROUP BY 1
        """
    )
    # Collector candidates by their totals (the holding time is computed for these only).
    store.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ind_ccand AS
        SELECT address_id FROM _ind_in i JOIN _ind_out0 o USING (address_id)
        WHERE o.to_service_usd < $sweep * o.out_usd
          AND i.n_senders >= $min_senders AND i.sender_usd >= $small_share * i.in_usd
          AND i.sender_usd * i.sender_usd >= $eff * i.sender_usd_sq
          AND i.n_senders >= $fan_in * o.n_recipients
          AND o.out_usd >= $fwd_c * i.in_usd AND o.out_usd <= (1 + $resid) * i.in_usd
        """,
        {"sweep": q.deposit_sweep_share, "min_senders": q.collector_min_senders,
         "small_share": q.collector_min_small_share, "eff": q.collector_min_effective_senders,
         "fan_in": q.collector_min_fan_in, "fwd_c": q.collector_min_forward_share,
         "resid": q.pass_through_max_residual_share},
    )
    # Mean holding time (Little's law): the time-weighted positive balance over the active period / the inflow.
    # Events at the same instant are netted first, so the result does not depend on their order.
    store.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ind_hold AS
        WITH ev AS (
            SELECT address_id, ts, sum(d) AS d FROM (
                SELECT to_id AS address_id, ts, usd AS d FROM _ind_t WHERE to_id IN (SELECT address_id FROM _ind_ccand)
                UNION ALL
                SELECT from_id, ts, -usd FROM _ind_t WHERE from_id IN (SELECT address_id FROM _ind_ccand))
            GROUP BY 1, 2),
        b AS (
            SELECT address_id, ts,
                   sum(d) OVER (PARTITION BY address_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS bal,
                   lead(ts) OVER (PARTITION BY address_id ORDER BY ts) AS next_ts
            FROM ev)
        SELECT address_id,
               -- exact integer sum (micro-USD seconds), so the order of summation cannot change the result
               sum(CAST(round(greatest(bal, 0) * 1e6) AS HUGEINT)
                   * CAST(coalesce(epoch(next_ts) - epoch(ts), 0) AS HUGEINT)) / 1e6 AS bal_usd_s
        FROM b GROUP BY 1
        """
    )
    store.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ind_cand AS
        SELECT address_id FROM _ind_ccand
        UNION
        SELECT address_id FROM _ind_in i JOIN _ind_out0 o USING (address_id)
        WHERE o.to_service_usd < $sweep * o.out_usd
          AND i.in_usd >= $min_usd AND o.out_usd >= $fwd_p * i.in_usd
          AND greatest(i.in_usd - o.out_usd, 0) <= $resid * i.in_usd AND o.out_usd <= (1 + $resid) * i.in_usd
        """,
        {"sweep": q.deposit_sweep_share, "min_usd": q.pass_through_min_usd, "fwd_p": q.pass_through_min_forward_share,
         "resid": q.pass_through_max_residual_share},
    )
    store.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ind_outd AS
        SELECT o.from_id AS address_id, o.to_id, o.ts, o.usd, o.block_number, o.log_index,
               epoch(o.ts) - epoch(i.ts) AS delay_s
        FROM (SELECT * FROM _ind_t WHERE from_id IN (SELECT address_id FROM _ind_cand)) o
        ASOF LEFT JOIN (SELECT to_id, ts FROM _ind_t WHERE to_id IN (SELECT address_id FROM _ind_cand)) i
          ON o.from_id = i.to_id AND o.ts >= i.ts
        """
    )
    store.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ind_out AS
        SELECT o.*, f.fast_p_usd
        FROM _ind_out0 o JOIN (
            SELECT address_id, coalesce(sum(usd) FILTER (WHERE delay_s <= $pw), 0) AS fast_p_usd
            FROM _ind_outd GROUP BY 1) f USING (address_id)
        """, {"pw": q.pass_through_window_h * 3600},
    )


_TS = "strftime({}, '%Y-%m-%dT%H:%M:%SZ')"


def _ts(col: str) -> str:
    return _TS.format(col)


def _collector(store: Store, q: IndicatorParams) -> None:
    lo, hi = SEVERITY["collector"]
    store.execute(
        f"""
        INSERT INTO _ind_hits
        WITH c AS (
            SELECT i.*, o.* EXCLUDE (address_id), h.bal_usd_s / i.in_usd / 3600 AS hold_h
            FROM _ind_in i JOIN _ind_out0 o USING (address_id) JOIN _ind_hold h USING (address_id)
            WHERE h.bal_usd_s <= $cw_h * 3600 * i.in_usd)
        SELECT address_id, 'collector',
               least({hi}, {lo} + CASE WHEN n_senders >= 3 * $min_senders THEN 10 ELSE 0 END
                               + CASE WHEN hold_h <= $fast_h THEN 10 ELSE 0 END),
               json_object(
                 'distinct_senders', n_senders, 'sender_inflows', n_sender_in,
                 'sender_inflow_usd', round(sender_usd, 2),
                 'effective_senders', round(sender_usd * sender_usd / sender_usd_sq, 1),
                 'recipients', n_recipients,
                 'inflow_usd', round(in_usd, 2), 'inflows', n_in,
                 'outflow_usd', round(out_usd, 2), 'outflows', n_out,
                 'forwarded_share', round(out_usd / in_usd, 4),
                 'mean_holding_hours', round(hold_h, 1), 'max_holding_hours', $cw_h,
                 'first_inflow', {_ts('first_in')}, 'last_inflow', {_ts('last_in')},
                 'last_outflow', {_ts('last_out')})
        FROM c
        """,
        {"min_senders": q.collector_min_senders, "cw_h": q.collector_window_h, "fast_h": q.collector_fast_hold_h},
    )
    # Examples: the largest inflows from non-service senders.
    store.execute(
        """
        INSERT INTO _ind_ex
        SELECT t.to_id, 'collector', t.block_number, t.log_index, t.from_id, t.to_id, t.ts, t.usd
        FROM _ind_t t
        WHERE t.to_id IN (SELECT address_id FROM _ind_hits WHERE indicator = 'collector')
          AND t.from_id NOT IN (SELECT address_id FROM _ind_svc)
        QUALIFY row_number() OVER (PARTITION BY t.to_id ORDER BY t.usd DESC, t.ts, t.block_number, t.log_index) <= $n
        """, {"n": q.examples},
    )


def _pass_through(store: Store, q: IndicatorParams) -> None:
    lo, hi = SEVERITY["pass_through"]
    store.execute(
        f"""
        INSERT INTO _ind_hits
        WITH hits AS (
            SELECT i.*, o.* EXCLUDE (address_id)
            FROM _ind_in i JOIN _ind_out o USING (address_id)
            WHERE i.in_usd >= $min_usd
              AND o.fast_p_usd >= $fwd * i.in_usd
              AND greatest(i.in_usd - o.out_usd, 0) <= $resid * i.in_usd
              AND o.out_usd <= (1 + $resid) * i.in_usd
              AND o.to_service_usd < $sweep * o.out_usd
              AND address_id NOT IN (SELECT address_id FROM _ind_hits WHERE indicator = 'collector')),
        hold AS (
            SELECT address_id, median(delay_s) AS median_hold_s
            FROM _ind_outd WHERE address_id IN (SELECT address_id FROM hits) AND delay_s IS NOT NULL
            GROUP BY 1),
        snd AS (
            SELECT to_id AS address_id, count(DISTINCT from_id) AS n_senders
            FROM _ind_t WHERE to_id IN (SELECT address_id FROM hits) GROUP BY 1)
        SELECT h.address_id, 'pass_through',
               least({hi}, {lo} + CASE WHEN h.fast_p_usd >= 0.98 * h.in_usd THEN 10 ELSE 0 END
                               + CASE WHEN h.in_usd >= 100 * $min_usd THEN 10 ELSE 0 END),
               json_object(
                 'inflow_usd', round(h.in_usd, 2), 'inflows', h.n_in, 'senders', snd.n_senders,
                 'outflow_usd', round(h.out_usd, 2), 'outflows', h.n_out,
                 'forwarded_within_window_usd', round(h.fast_p_usd, 2), 'window_hours', $pw_h,
                 'forwarded_share', round(h.fast_p_usd / h.in_usd, 4),
                 'residual_usd', round(greatest(h.in_usd - h.out_usd, 0), 2),
                 'median_hold_minutes', round(d.median_hold_s / 60, 1),
                 'first_inflow', {_ts('h.first_in')}, 'last_outflow', {_ts('h.last_out')})
        FROM hits h LEFT JOIN hold d USING (address_id) LEFT JOIN snd USING (address_id)
        """,
        {"min_usd": q.pass_through_min_usd, "fwd": q.pass_through_min_forward_share,
         "resid": q.pass_through_max_residual_share, "sweep": q.deposit_sweep_share,
         "pw_h": q.pass_through_window_h},
    )
    # Examples: the largest fast outflows.
    store.execute(
        """
        INSERT INTO _ind_ex
        SELECT o.address_id, 'pass_through', o.block_number, o.log_index, o.address_id, o.to_id, o.ts, o.usd
        FROM _ind_outd o
        WHERE o.address_id IN (SELECT address_id FROM _ind_hits WHERE indicator = 'pass_through')
          AND o.delay_s <= $pw
        QUALIFY row_number() OVER (PARTITION BY o.address_id ORDER BY o.usd DESC, o.ts, o.block_number, o.log_index)
                <= $n
        """, {"pw": q.pass_through_window_h * 3600, "n": q.examples},
    )


def _short_lived(store: Store, q: IndicatorParams) -> None:
    lo, hi = SEVERITY["short_lived"]
    store.execute(
        f"""
        INSERT INTO _ind_hits
        WITH span AS (SELECT min(ts) AS d0, max(ts) AS d1 FROM _ind_t),
        a AS (
            SELECT i.*, o.* EXCLUDE (address_id), least(i.first_in, o.first_out) AS first_ts,
                   greatest(i.last_in, o.last_out) AS last_ts
            FROM _ind_in i JOIN _ind_out0 o USING (address_id)
            WHERE o.to_service_usd < $sweep * o.out_usd
              AND i.in_usd >= $min_usd AND o.out_usd >= $fwd * i.in_usd AND o.out_usd <= (1 + $resid) * i.in_usd),
        h AS (
            SELECT a.*, (epoch(last_ts) - epoch(first_ts)) / 86400 AS days FROM a, span
            WHERE last_ts <= first_ts + to_seconds($max_s)
              AND first_ts >= span.d0 + to_seconds($max_s) AND last_ts + to_seconds($max_s) <= span.d1)
        SELECT address_id, 'short_lived',
               least({hi}, {lo} + CASE WHEN days <= 7 THEN 10 ELSE 0 END
                               + CASE WHEN in_usd >= 100 * $min_usd THEN 10 ELSE 0 END),
               json_object('first_activity', {_ts('first_ts')}, 'last_activity', {_ts('last_ts')},
                           'active_days', round(days, 2), 'max_days', $max_d,
                           'inflow_usd', round(in_usd, 2), 'inflows', n_in,
                           'outflow_usd', round(out_usd, 2), 'outflows', n_out,
                           'forwarded_share', round(out_usd / in_usd, 4),
                           'activity_means', 'activity in the store''s data (dust and unpriced tokens ignored)')
        FROM h
        """,
        {"sweep": q.deposit_sweep_share, "min_usd": q.pass_through_min_usd, "fwd": q.pass_through_min_forward_share,
         "resid": q.pass_through_max_residual_share, "max_s": q.short_lived_max_days * 86400,
         "max_d": q.short_lived_max_days},
    )
    # Examples: the largest outflows.
    store.execute(
        """
        INSERT INTO _ind_ex
        SELECT t.from_id, 'short_lived', t.block_number, t.log_index, t.from_id, t.to_id, t.ts, t.usd
        FROM _ind_t t
        WHERE t.from_id IN (SELECT address_id FROM _ind_hits WHERE indicator = 'short_lived')
        QUALIFY row_number() OVER (PARTITION BY t.from_id ORDER BY t.usd DESC, t.ts, t.block_number, t.log_index)
                <= $n
        """, {"n": q.examples},
    )


def _mixer_funded_fresh(store: Store, q: IndicatorParams) -> None:
    lo, hi = SEVERITY["mixer_funded_fresh"]
    store.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ind_mx AS
        WITH r AS (  -- only receivers of mixer money can fire
            SELECT DISTINCT to_id AS id FROM _ind_t WHERE from_id IN (SELECT address_id FROM _ind_mixer)),
        first_seen AS (
            SELECT a AS address_id, min(ts) AS first_ts FROM (
                SELECT from_id AS a, ts FROM _ind_t WHERE from_id IN (SELECT id FROM r)
                UNION ALL SELECT to_id, ts FROM _ind_t WHERE to_id IN (SELECT id FROM r)) GROUP BY 1),
        first_in AS (
            SELECT to_id AS address_id, from_id AS first_sender FROM _ind_t WHERE to_id IN (SELECT id FROM r)
            QUALIFY row_number() OVER (PARTITION BY to_id ORDER BY ts, block_number, log_index, from_id) = 1),
        mx AS (
            SELECT t.*, m.name FROM _ind_t t JOIN _ind_mixer m ON m.address_id = t.from_id
            JOIN first_seen f ON f.address_id = t.to_id
            WHERE t.ts <= f.first_ts + to_seconds($fw_s)
              AND t.to_id NOT IN (SELECT address_id FROM _ind_svc)
              AND t.to_id NOT IN (SELECT address_id FROM _ind_mixer))
        SELECT mx.to_id AS address_id, count(*) AS n, sum(mx.usd) AS usd, min(mx.ts) AS first_mixer_ts,
               list(DISTINCT mx.name ORDER BY mx.name) FILTER (WHERE mx.name IS NOT NULL) AS names,
               any_value(f.first_ts) AS first_ts,
               bool_or(fi.first_sender IN (SELECT address_id FROM _ind_mixer)) AS first_is_mixer
        FROM mx JOIN first_seen f ON f.address_id = mx.to_id JOIN first_in fi ON fi.address_id = mx.to_id
        GROUP BY 1
        """, {"fw_s": q.fresh_window_h * 3600},
    )
    store.execute(
        f"""
        INSERT INTO _ind_hits
        SELECT address_id, 'mixer_funded_fresh', CASE WHEN first_is_mixer THEN {hi} ELSE {lo} END,
               json_object('first_seen', {_ts('first_ts')}, 'first_inflow_from_mixer', first_is_mixer,
                           'mixer_inflows', n, 'mixer_inflow_usd', round(usd, 2),
                           'first_mixer_inflow', {_ts('first_mixer_ts')}, 'fresh_window_hours', $fw_h,
                           'mixers', coalesce(names, []), 'first_seen_means', 'first activity in the store''s data')
        FROM _ind_mx
        """, {"fw_h": q.fresh_window_h},
    )
    store.execute(
        """
        INSERT INTO _ind_ex
        SELECT t.to_id, 'mixer_funded_fresh', t.block_number, t.log_index, t.from_id, t.to_id, t.ts, t.usd
        FROM _ind_t t JOIN _ind_mx x ON x.address_id = t.to_id
        WHERE t.from_id IN (SELECT address_id FROM _ind_mixer) AND t.ts <= x.first_ts + to_seconds($fw_s)
        QUALIFY row_number() OVER (PARTITION BY t.to_id ORDER BY t.usd DESC, t.ts, t.block_number, t.log_index) <= $n
        """, {"fw_s": q.fresh_window_h * 3600, "n": q.examples},
    )
    store.execute("DROP TABLE IF EXISTS _ind_mx")


def _structuring(store: Store, q: IndicatorParams) -> None:
    lo, hi = SEVERITY["structuring"]
    # Directed view: each transfer seen by its sender ('out') and its receiver ('in'), services excluded.
    store.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ind_st AS
        WITH th AS (SELECT unnest($ths::DOUBLE[]) AS thr),
        d AS (
            SELECT from_id AS address_id, 'out' AS direction, to_id AS peer, ts, usd, block_number, log_index
            FROM _ind_t
            UNION ALL
            SELECT to_id, 'in', from_id, ts, usd, block_number, log_index FROM _ind_t),
        near AS (
            SELECT d.*, th.thr, d.usd >= th.thr * (1 - $margin) AND d.usd < th.thr AS under
            FROM d JOIN th ON d.usd >= 0.5 * th.thr AND d.usd < 1.5 * th.thr
            WHERE d.address_id NOT IN (SELECT address_id FROM _ind_svc))
        SELECT *, count(*) FILTER (WHERE under) OVER (
                    PARTITION BY address_id, direction, thr ORDER BY ts
                    RANGE BETWEEN to_seconds($win_s) PRECEDING AND CURRENT ROW) AS in_window
        FROM near
        """, {"ths": list(q.structuring_thresholds_usd), "margin": q.structuring_margin,
              "win_s": q.structuring_window_days * 86400},
    )
    store.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ind_sh AS
        WITH g AS (
            SELECT address_id, direction, thr,
                   count(*) FILTER (WHERE under) AS n_under, count(*) AS n_near,
                   max(in_window) FILTER (WHERE under) AS max_in_window,
                   sum(usd) FILTER (WHERE under) AS under_usd,
                   count(DISTINCT peer) FILTER (WHERE under) AS peers,
                   min(ts) FILTER (WHERE under) AS first_ts, max(ts) FILTER (WHERE under) AS last_ts
            FROM _ind_st GROUP BY ALL
            HAVING max(in_window) FILTER (WHERE under) >= $min_count
               AND count(*) FILTER (WHERE under) >= $share * count(*))
        SELECT * FROM g
        QUALIFY row_number() OVER (PARTITION BY address_id
                                   ORDER BY max_in_window DESC, n_under DESC, thr DESC, direction) = 1
        """, {"min_count": q.structuring_min_count, "share": q.structuring_min_share},
    )
    store.execute(
        f"""
        INSERT INTO _ind_hits
        SELECT address_id, 'structuring', least({hi}, {lo} + 5 * (max_in_window - $min_count)),
               json_object('direction', direction, 'threshold_usd', thr,
                           'band_usd', [round(thr * (1 - $margin), 2), thr],
                           'transfers_just_under', n_under, 'max_in_window', max_in_window,
                           'window_days', $win_d, 'transfers_near_threshold', n_near,
                           'just_under_usd', round(under_usd, 2), 'counterparties', peers,
                           'first', {_ts('first_ts')}, 'last', {_ts('last_ts')})
        FROM _ind_sh
        """, {"min_count": q.structuring_min_count, "margin": q.structuring_margin,
              "win_d": q.structuring_window_days},
    )
    store.execute(
        """
        INSERT INTO _ind_ex
        SELECT s.address_id, 'structuring', s.block_number, s.log_index,
               CASE WHEN s.direction = 'out' THEN s.address_id ELSE s.peer END,
               CASE WHEN s.direction = 'out' THEN s.peer ELSE s.address_id END, s.ts, s.usd
        FROM _ind_st s JOIN _ind_sh h USING (address_id, direction, thr)
        WHERE s.under
        QUALIFY row_number() OVER (PARTITION BY s.address_id ORDER BY s.usd DESC, s.ts, s.block_number, s.log_index)
                <= $n
        """, {"n": q.examples},
    )
    store.execute("DROP TABLE IF EXISTS _ind_st; DROP TABLE IF EXISTS _ind_sh")


def evidence_of(row_evidence: str) -> dict[str, Any]:
    """The evidence JSON of an ``indicators`` row as a dict."""
    out: dict[str, Any] = json.loads(row_evidence)
    return out
