"""Labels the ledger itself implies: RWA investors and issuer operations addresses (issue 11, item 8).

No public list of "RWA issuer wallets" exists, so a scoring run derives them from the transfers of registered
tokens (``tokens.kind`` = ``rwa`` or ``stablecoin``). A mint is a transfer from the chain's null address, a burn
a transfer to the null or burn address.

* ``rwa_investor`` (``chainrisk:ledger``, confidence 100, ledger-immanent): every address that received a
  registered RWA token (a mint or a transfer). Evidence: the first such transfer.
* ``rwa_issuer`` (``chainrisk:inferred``, confidence 10, heuristic), method ``subscription``: the payee of
  stablecoin payments made by at least ``MIN_SUBSCRIBERS`` distinct addresses, each within ``SUBSCRIBE_WINDOW_S``
  before an RWA token was minted to the payer (the subscription; the issuer's operations address collects the
  money, the fund token is minted to the investor); likewise ``redemption``: the payer of stablecoins to at least
  ``MIN_SUBSCRIBERS`` distinct addresses, each within ``REDEEM_WINDOW_S`` after that address burned an RWA token.
* ``stablecoin_issuer`` / ``rwa_issuer`` (heuristic, confidence 10), methods ``issuer_mint`` / ``issuer_burn``:
  recipients of a token's mints that had not just paid for them (no stablecoin payment within
  ``SUBSCRIBE_WINDOW_S`` before: a treasury, not a subscriber), and senders of its burns that are not paid back
  afterwards (no stablecoin receipt within ``REDEEM_WINDOW_S``: an issuer retiring supply, not a redeemer).

Addresses with any active label, token contracts and the null/burn addresses are never given a derived label;
an address derived as an issuer is not also called an investor. Evidence is JSON naming the transfer(s)
(tx_hash, block_number, log_index, token). Under ``cn`` all of these are virtual-currency business.
"""

from __future__ import annotations

import json
from typing import Any

from ..taxonomy import CONFIDENCE, inert_keys

SUBSCRIBE_WINDOW_S = 2 * 86_400    # a subscription payment precedes the mint by at most two days
REDEEM_WINDOW_S = 3 * 86_400       # a redemption payment follows the burn within three days
MIN_SUBSCRIBERS = 2                # distinct payers before a payee is called an issuer's operations address
LEDGER_SOURCE = "chainrisk:ledger"
INFERRED_SOURCE = "chainrisk:inferred"

_SETUP = """
CREATE OR REPLACE TEMP TABLE _lg_nul AS
    SELECT id FROM addresses WHERE list_contains($nul, chain || ':' || address);
CREATE OR REPLACE TEMP TABLE _lg_excluded AS
    SELECT a.id FROM addresses a
    WHERE list_contains($sys, a.chain || ':' || a.address)
       OR EXISTS (SELECT 1 FROM tokens k WHERE k.chain = a.chain AND k.contract = a.address)
    UNION
    SELECT a.id FROM active_labels l JOIN addresses a ON a.chain = l.chain AND a.address = l.address;
CREATE OR REPLACE TEMP TABLE _lg_tok AS
    SELECT id, kind, symbol FROM tokens WHERE kind IN ('rwa', 'stablecoin');
-- mints (from the null address) and burns (to a null/burn address) of registered tokens
CREATE OR REPLACE TEMP TABLE _lg_mb AS
    SELECT t.from_id, t.to_id, t.block_number, t.log_index, t.block_time, t.tx_hash, k.kind, k.symbol,
           t.from_id IN (SELECT id FROM _lg_nul) AS is_mint
    FROM transfers t JOIN _lg_tok k ON k.id = t.token_id
    WHERE t.from_id IN (SELECT id FROM _lg_nul) OR t.to_id IN (SELECT id FROM _lg_nul);
-- the stablecoin payments that matter: made by a mint recipient, or received by a burner
CREATE OR REPLACE TEMP TABLE _lg_pay AS
    SELECT t.from_id, t.to_id, t.block_number, t.log_index, t.block_time, t.tx_hash, k.symbol
    FROM transfers t JOIN _lg_tok k ON k.id = t.token_id AND k.kind = 'stablecoin'
    WHERE (t.from_id IN (SELECT to_id FROM _lg_mb WHERE is_mint)
           OR t.to_id IN (SELECT from_id FROM _lg_mb WHERE NOT is_mint))
      AND t.from_id NOT IN (SELECT id FROM _lg_nul) AND t.to_id NOT IN (SELECT id FROM _lg_nul);
"""
_BASE = """
WITH mints AS (SELECT * FROM _lg_mb WHERE is_mint),
burns AS (SELECT * FROM _lg_mb WHERE NOT is_mint),
pays AS (SELECT * FROM _lg_pay)
"""


def _q(store: Any, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Run ``sql`` with the named parameters it uses (DuckDB rejects unused ones)."""
    return store.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql}).fetchall()


def _ev(method: str, row: tuple[Any, ...], **extra: Any) -> str:
    tx, blk, li, sym = row
    return json.dumps({"method": method, "tx_hash": tx, "block_number": int(blk), "log_index": int(li),
                       "token": sym, **extra}, sort_keys=True)


def derive_ledger_labels(store: Any) -> list[tuple[int, str, str | None, int, str]]:
    """(address_id, category, name, confidence, evidence JSON) of every derived label, sorted by address."""
    from ..taxonomy import BURN_ADDRESSES, NULL_ADDRESS, TRON_NULL_ADDRESS

    params = {"sys": inert_keys(),
              "nul": sorted({f"ethereum:{a}" for a in BURN_ADDRESSES} | {f"ethereum:{NULL_ADDRESS}",
                                                                        f"tron:{TRON_NULL_ADDRESS}"}),
              "sw": SUBSCRIBE_WINDOW_S, "rw": REDEEM_WINDOW_S, "k": MIN_SUBSCRIBERS}
    excluded = "(SELECT id FROM _lg_excluded)"
    for stmt in _SETUP.split(";"):
        if stmt.strip():
            _q(store, stmt, params)
    out: dict[tuple[int, str], tuple[str | None, int, str]] = {}
    excluded_ids = {int(r[0]) for r in _q(store, "SELECT id FROM _lg_excluded", {})}
    # subscriptions: payee of stablecoin payments shortly before an RWA mint to the payer
    for q, n, blk, tx, li, sym, mtx, mblk, mli, msym in _q(store, _BASE + f"""
        , sub AS (
            SELECT p.to_id AS q, p.from_id AS payer, p.tx_hash, p.block_number, p.log_index, p.symbol,
                   m.tx_hash AS mtx, m.block_number AS mblk, m.log_index AS mli, m.symbol AS msym
            FROM pays p JOIN mints m ON m.to_id = p.from_id AND m.kind = 'rwa'
             AND m.block_time > p.block_time AND m.block_time <= p.block_time + to_seconds($sw)
             AND (m.block_number, m.log_index) > (p.block_number, p.log_index))
        SELECT q, count(DISTINCT payer), arg_min(block_number, (block_number, log_index)),
               arg_min(tx_hash, (block_number, log_index)), arg_min(log_index, (block_number, log_index)),
               arg_min(symbol, (block_number, log_index)), arg_min(mtx, (block_number, log_index)),
               arg_min(mblk, (block_number, log_index)), arg_min(mli, (block_number, log_index)),
               arg_min(msym, (block_number, log_index))
        FROM sub WHERE q NOT IN {excluded} GROUP BY q HAVING count(DISTINCT payer) >= $k ORDER BY q
        """, params):
        out[(int(q), "rwa_issuer")] = (None, CONFIDENCE["heuristic"], _ev(
            "subscription", (tx, blk, li, sym), subscribers=int(n),
            mint={"tx_hash": mtx, "block_number": int(mblk), "log_index": int(mli), "token": msym}))
    # redemptions: payer of stablecoins shortly after the payee burned an RWA token
    for q, n, blk, tx, li, sym in _q(store, _BASE + f"""
        , red AS (
            SELECT p.from_id AS q, p.to_id AS redeemer, b.tx_hash, b.block_number, b.log_index, b.symbol
            FROM burns b JOIN pays p ON p.to_id = b.from_id AND b.kind = 'rwa'
             AND p.block_time > b.block_time AND p.block_time <= b.block_time + to_seconds($rw))
        SELECT q, count(DISTINCT redeemer), arg_min(block_number, (block_number, log_index)),
               arg_min(tx_hash, (block_number, log_index)), arg_min(log_index, (block_number, log_index)),
               arg_min(symbol, (block_number, log_index))
        FROM red WHERE q NOT IN {excluded} GROUP BY q HAVING count(DISTINCT redeemer) >= $k ORDER BY q
        """, params):
        out.setdefault((int(q), "rwa_issuer"), (None, CONFIDENCE["heuristic"], _ev(
            "redemption", (tx, blk, li, sym), redeemers=int(n))))
    # treasuries: mint recipients that had not just paid; burners that are not paid back (numpy: a range
    # condition next to the equality makes DuckDB pick a slow range join here)
    for a, cat, ev in _treasuries(store):
        if a not in excluded_ids:
            out.setdefault((a, cat), (None, CONFIDENCE["heuristic"], ev))
    issuers = {a for a, _ in out}
    # investors: every other address that received an RWA token
    for a, blk, tx, li, sym in _q(store, _BASE + f"""
        , tt AS (SELECT t.* , k.symbol FROM transfers t JOIN _lg_tok k ON k.id = t.token_id AND k.kind = 'rwa')
        SELECT to_id, arg_min(block_number, (block_number, log_index)), arg_min(tx_hash, (block_number, log_index)),
               arg_min(log_index, (block_number, log_index)), arg_min(symbol, (block_number, log_index))
        FROM tt WHERE to_id NOT IN {excluded} AND to_id NOT IN (SELECT id FROM _lg_nul)
        GROUP BY to_id ORDER BY to_id
        """, params):
        if int(a) not in issuers:
            out[(int(a), "rwa_investor")] = (None, CONFIDENCE["ledger"], _ev("rwa_holder", (tx, blk, li, sym)))
    for t in ("_lg_nul", "_lg_excluded", "_lg_tok", "_lg_mb", "_lg_pay"):
        store.execute(f"DROP TABLE IF EXISTS {t}")
    return [(a, c, nm, conf, ev) for (a, c), (nm, conf, ev) in sorted(out.items())]


def _treasuries(store: Any) -> list[tuple[int, str, str]]:
    """(address id, category, evidence) of unpaid mint recipients and unrepaid burners, earliest transfer first."""
    import numpy as np

    def keys(sql: str) -> Any:
        cols = store.execute(sql).fetchnumpy()
        a, t = np.asarray(cols["a"], np.int64), np.asarray(cols["t"], np.int64)
        return np.sort((a << np.int64(32)) | t)

    paid_by = keys("SELECT from_id AS a, CAST(epoch(block_time) AS BIGINT) AS t FROM _lg_pay"
                   " WHERE block_time IS NOT NULL")
    paid_to = keys("SELECT to_id AS a, CAST(epoch(block_time) AS BIGINT) AS t FROM _lg_pay"
                   " WHERE block_time IS NOT NULL")
    rows = store.execute(
        "SELECT CASE WHEN is_mint THEN to_id ELSE from_id END, is_mint, kind,"
        " coalesce(CAST(epoch(block_time) AS BIGINT), -1), block_number, log_index, tx_hash, symbol"
        " FROM _lg_mb ORDER BY block_number, log_index, tx_hash").fetchall()
    out: dict[tuple[int, str], tuple[int, str, str]] = {}
    for a, is_mint, kind, t, blk, li, tx, sym in rows:
        a = int(a)
        if t >= 0:
            # a payment by the recipient within the window before the mint / to the burner within the one after
            lo, hi = (t - SUBSCRIBE_WINDOW_S, t) if is_mint else (t, t + REDEEM_WINDOW_S)
            ks = paid_by if is_mint else paid_to
            base = np.int64(a) << np.int64(32)
            if np.searchsorted(ks, base | np.int64(hi), "right") > np.searchsorted(ks, base | np.int64(lo), "left"):
                continue
        cat = "stablecoin_issuer" if kind == "stablecoin" else "rwa_issuer"
        if (a, cat) not in out:
            out[(a, cat)] = (a, cat, _ev("issuer_mint" if is_mint else "issuer_burn", (tx, blk, li, sym)))
    return [out[k] for k in sorted(out)]
