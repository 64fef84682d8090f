"""The simulated economy: deterministic, structurally faithful, honest about what is public."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from chainrisk.address import try_parse
from chainrisk.demo.economy import (
    BLOCK_SECONDS,
    ILLICIT_ROLES,
    ROLES,
    START_BLOCK,
    START_TIME,
    generate_economy,
    load_sim_tokens,
)
from chainrisk.errors import InvalidAddress
from chainrisk.taxonomy import CATEGORIES, NULL_ADDRESS

SCALE = 0.02


@pytest.fixture(scope="module")
def eco():
    return generate_economy(SCALE, seed=11)


@pytest.fixture(scope="module")
def con(eco):
    c = duckdb.connect()
    c.register("t", eco.transfers)
    c.register("truth", eco.truth)
    c.register("labels", eco.labels)
    yield c
    c.close()


def test_same_seed_same_economy_other_seed_other_economy(eco):
    again = generate_economy(SCALE, seed=11)
    assert again.transfers.equals(eco.transfers)
    assert again.labels.equals(eco.labels)
    assert again.truth.equals(eco.truth)
    assert again.declared.equals(eco.declared)
    other = generate_economy(SCALE, seed=12)
    assert not other.transfers.equals(eco.transfers)


def test_size_grows_linearly_with_scale(eco):
    double = generate_economy(2 * SCALE, seed=11)
    ratio = double.n_transfers / eco.n_transfers
    assert 1.8 < ratio < 2.2, ratio
    assert 0.9 * 1_000_000 * SCALE < eco.n_transfers < 1.2 * 1_000_000 * SCALE


def test_batches_concatenate_to_the_whole(eco):
    parts = list(eco.transfer_batches(chunk_rows=5_000))
    assert len(parts) > 1
    assert pa.Table.from_batches(parts).equals(eco.transfers)


def test_transfer_keys_unique_times_follow_blocks_values_exact(eco, con):
    n, keys = con.execute("SELECT count(*), count(DISTINCT (tx_hash, log_index)) FROM t").fetchall()[0]
    assert n == keys == eco.n_transfers
    bad_time = con.execute(
        "SELECT count(*) FROM t WHERE epoch(block_time) != $s + (block_number - $b) * $k",
        {"s": START_TIME.timestamp(), "b": START_BLOCK, "k": BLOCK_SECONDS},
    ).fetchall()[0][0]
    assert bad_time == 0
    decimals = {tk.contract: tk.decimals for tk in load_sim_tokens()}
    rows = con.execute("SELECT token_address, value FROM t USING SAMPLE 2000 ROWS (reservoir, 1)").fetchall()
    for token, value in rows:
        assert value.isdigit()
        if decimals[token] == 18 and value != "0":
            assert value.endswith("0" * 12)
    # chain order: block numbers never decrease, log index restarts per block
    blocks = np.array(eco.transfers["block_number"])
    assert (np.diff(blocks) >= 0).all()
    assert set(eco.transfers["token_address"].to_pylist()) <= set(decimals)


def test_every_deposit_address_sweeps_to_its_exchanges_hot_wallet_within_minutes(con):
    # each deposit is followed by a sweep of the same amount to a hot wallet of the same exchange within 30 min
    rows = con.execute(
        """
        WITH dep AS (SELECT t.*, r.entity FROM t JOIN truth r ON r.address = t.to_address
                     WHERE r.role = 'exchange_deposit'),
             sw AS (SELECT t.*, h.entity AS hot_entity FROM t JOIN truth h ON h.address = t.to_address
                    WHERE h.role = 'exchange_hot')
        SELECT count(*) AS deposits,
               count(*) FILTER (WHERE EXISTS (
                   SELECT 1 FROM sw WHERE sw.from_address = dep.to_address AND sw.value = dep.value
                     AND sw.hot_entity = dep.entity AND sw.block_time > dep.block_time
                     AND sw.block_time <= dep.block_time + INTERVAL 31 MINUTE)) AS swept
        FROM dep
        """
    ).fetchall()[0]
    deposits, swept = rows
    assert deposits > 1000
    assert swept == deposits
    # and a deposit address sends nowhere else
    elsewhere = con.execute(
        """SELECT count(*) FROM t JOIN truth f ON f.address = t.from_address
           JOIN truth d ON d.address = t.to_address
           WHERE f.role = 'exchange_deposit' AND d.role != 'exchange_hot'"""
    ).fetchall()[0][0]
    assert elsewhere == 0


def test_mints_and_burns_go_through_the_null_address(con):
    kinds = dict(con.execute(
        """SELECT r.role, count(*) FROM t JOIN truth r ON r.address = t.to_address
           WHERE t.from_address = $n GROUP BY 1""", {"n": NULL_ADDRESS}).fetchall())
    assert set(kinds) == {"stablecoin_issuer", "rwa_investor"}
    # an RWA mint follows the investor's stablecoin payment to the fund
    unpaid = con.execute(
        """SELECT count(*) FROM t m WHERE m.from_address = $n
             AND m.to_address IN (SELECT address FROM truth WHERE role = 'rwa_investor')
             AND NOT EXISTS (SELECT 1 FROM t p JOIN truth i ON i.address = p.to_address
                             WHERE p.from_address = m.to_address AND i.role = 'rwa_issuer'
                               AND p.block_number <= m.block_number)""", {"n": NULL_ADDRESS}).fetchall()[0][0]
    assert unpaid == 0
    burns = con.execute("SELECT count(*) FROM t WHERE to_address = $n", {"n": NULL_ADDRESS}).fetchall()[0][0]
    assert burns > 0


def test_stablecoin_mints_go_to_the_tokens_issuer(eco):
    symbols = {tk.contract: tk.symbol for tk in load_sim_tokens()}
    truth = dict(zip(eco.truth["address"].to_pylist(), eco.truth["entity"].to_pylist(), strict=True))
    tab = eco.transfers.filter(pa.compute.equal(eco.transfers["from_address"], NULL_ADDRESS))
    n = 0
    for token, to in zip(tab["token_address"].to_pylist(), tab["to_address"].to_pylist(), strict=True):
        ent = truth[to]
        if ent.startswith("issuer:"):
            assert ent == f"issuer:{symbols[token]}"
            n += 1
    assert n > 0


def test_labels_are_only_public_knowledge(eco, con):
    roles = dict(con.execute(
        "SELECT r.role, count(*) FROM labels l JOIN truth r USING (address) GROUP BY 1").fetchall())
    for hidden in ("exchange_deposit", "mule", "layering_hop", "victim", "p2p_user", "merchant",
                   "mixer_recipient", "rwa_investor"):
        assert hidden not in roles, hidden
    assert roles["exchange_hot"] == con.execute(
        "SELECT count(*) FROM truth WHERE role = 'exchange_hot'").fetchall()[0][0]
    n_coll = con.execute("SELECT count(*) FROM truth WHERE role = 'collector'").fetchall()[0][0]
    assert 0 < con.execute(
        "SELECT count(DISTINCT address) FROM labels JOIN truth USING (address) WHERE role = 'collector'"
    ).fetchall()[0][0] < n_coll
    assert set(eco.labels["category"].to_pylist()) <= set(CATEGORIES)
    assert set(eco.truth["role"].to_pylist()) <= set(ROLES)
    assert set(ROLES) >= ILLICIT_ROLES
    # the truth marks exactly the labelled addresses as labelled
    assert set(eco.labels["address"].to_pylist()) == set(
        eco.truth.filter(eco.truth["labelled"])["address"].to_pylist())


def test_scam_money_flows_from_victims_to_exchange_deposits(con):
    # a mule cashes out at an exchange deposit address after receiving from its operation's layering hops
    cashed = con.execute(
        """SELECT count(DISTINCT m.address) FROM truth m JOIN t ON t.from_address = m.address
           JOIN truth d ON d.address = t.to_address
           WHERE m.role = 'mule' AND d.role = 'exchange_deposit'""").fetchall()[0][0]
    mules = con.execute(
        """SELECT count(DISTINCT m.address) FROM truth m JOIN t ON t.to_address = m.address
           JOIN truth h ON h.address = t.from_address
           WHERE m.role = 'mule' AND h.role IN ('layering_hop', 'mixer_recipient') AND h.entity = m.entity"""
    ).fetchall()[0][0]
    assert mules > 0 and cashed >= mules * 0.9
    victims_paid = con.execute(
        """SELECT count(*) FROM t JOIN truth v ON v.address = t.from_address
           JOIN truth c ON c.address = t.to_address
           WHERE v.role = 'victim' AND c.role = 'collector' AND c.entity = v.entity""").fetchall()[0][0]
    assert victims_paid > 0


def test_poisoning_dust_comes_from_look_alikes(con):
    rows = con.execute(
        """SELECT t.from_address, t.value FROM t JOIN truth p ON p.address = t.from_address
           WHERE p.role = 'poisoner' LIMIT 500""").fetchall()
    assert rows
    addrs = {a for (a,) in con.execute("SELECT address FROM truth WHERE role != 'poisoner'").fetchall()}
    keys = {(a[:6], a[-4:]) for a in addrs}
    look = [a for a, v in rows if int(v) <= 10**5]        # zero or dust (USDT/USDC: 6 decimals)
    assert look
    assert sum((a[:6], a[-4:]) in keys for a in look) == len(look)


def test_declared_sample_looks_like_a_bank_export(eco):
    d = eco.declared
    assert d.column_names == ["customer_id", "name", "declared_at", "address"]
    assert len(set(d["customer_id"].to_pylist())) == d.num_rows
    parsed = [try_parse(a) for a in d["address"].to_pylist()]
    invalid = sum(isinstance(p, InvalidAddress) for p in parsed)
    assert invalid >= 1
    assert invalid <= max(2, 0.03 * d.num_rows)
