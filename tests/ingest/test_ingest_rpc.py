"""Node ingestion against a real anvil node (and the provider-limits proxy for faults)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.anvil import (  # noqa: F401
    Anvil,
    Workload,
    anvil,
    chain,
    deploy_tokens,
    fresh_anvil,
    node_transfers,
    random_address,
    stored_transfers,
)
from support.rpc_proxy import RpcProxy

import chainrisk
from chainrisk.errors import SourceUnavailable
from chainrisk.ingest.rpc import ingest_rpc, plan_ranges
from chainrisk.store import Store

pytestmark = pytest.mark.anvil


@pytest.fixture
def st(tmp_path: Path, chain: Workload) -> Iterator[Store]:  # noqa: F811
    s = chainrisk.open(tmp_path / "rpc.duckdb")
    s.ensure_token("ethereum", chain.usdt, "USDT-T", 6, "stablecoin", source="test")
    s.ensure_token("ethereum", chain.usdc, "USDC-T", 6, "stablecoin", source="test")
    yield s
    s.close()


@pytest.fixture
def proxy(anvil: Anvil) -> Iterator[RpcProxy]:  # noqa: F811
    with RpcProxy(anvil.url) as p:
        yield p


def run(st: Store, url: str, w: Workload, **kw: Any) -> Any:
    kw.setdefault("confirmations", 0)
    kw.setdefault("to_block", w.tip)
    kw.setdefault("backoff", 0.01)
    return ingest_rpc(st, url, tokens=[w.usdt, w.usdc], **kw)


def test_exact_round_trip_of_every_transfer(st: Store, anvil: Anvil, chain: Workload) -> None:  # noqa: F811
    rep = run(st, anvil.url, chain)
    assert stored_transfers(st) == node_transfers(anvil, [chain.usdt, chain.usdc], chain.tip)
    # ... and equal, as a multiset, to what the test sent (Issue/Redeem emitted no Transfer, so none appear)
    got = Counter(
        (r[0], r[1], r[2], int(r[3])) for r in st.execute(
            "SELECT token_address, from_address, to_address, value_exact FROM transfers_view").fetchall())
    assert got == Counter(chain.transfers)
    assert rep.transfers_added == len(chain.transfers)
    assert rep.logs_skipped == 2  # the ERC-721-style Transfer and the Transfer without data
    # huge amounts: exact text above 2^127, HUGEINT below; decimals applied to amount
    rows = dict(st.execute("SELECT value_exact, value IS NULL FROM transfers_view t JOIN transfers USING "
                           "(chain, tx_hash, log_index) WHERE value_exact IN (?, ?, ?)",
                           [str(chain.huge), str(2**127 + 3), str(2**64 + 7)]).fetchall())
    assert rows == {str(chain.huge): True, str(2**127 + 3): True, str(2**64 + 7): False}
    (amount,) = st.execute("SELECT amount FROM transfers_view WHERE value_exact = ?", [str(2**64 + 7)]).fetchone()
    assert amount == pytest.approx((2**64 + 7) / 1e6)
    # block times come from the node, for every transfer
    times = dict(st.execute("SELECT DISTINCT block_number, epoch(block_time)::BIGINT FROM transfers").fetchall())
    for n, ts in times.items():
        assert int(anvil.rpc("eth_getBlockByNumber", [hex(n), False])["timestamp"], 16) == ts


def test_blacklist_events_of_both_token_styles(st: Store, anvil: Anvil, chain: Workload) -> None:  # noqa: F811
    rep = run(st, anvil.url, chain)
    got = st.execute(
        "SELECT k.contract, b.action, b.address, b.event FROM blacklist_events b JOIN tokens k ON k.id = b.token_id"
    ).fetchall()
    assert Counter(got) == Counter(chain.blacklist)
    assert rep.blacklist_events_added == len(chain.blacklist)
    assert st.execute("SELECT count(*) FROM blacklist_events WHERE block_time IS NULL").fetchone() == (0,)


def test_rerun_adds_nothing_and_plans_nothing(st: Store, anvil: Anvil, chain: Workload) -> None:  # noqa: F811
    run(st, anvil.url, chain)
    before = stored_transfers(st)
    rep = run(st, anvil.url, chain)
    assert rep.ranges_planned == 0 and rep.transfers_added == 0 and rep.logs_fetched == 0
    assert stored_transfers(st) == before
    assert st.execute("SELECT count(*), count(DISTINCT (tx_hash, log_index)) FROM transfers").fetchone() == (
        len(before), len(before))


def test_blocks_already_holding_transfers_add_no_duplicates(st: Store, anvil: Anvil, chain: Workload) -> None:  # noqa: F811
    # transfers stored without range records (as after a file import of the same blocks): the plan reads the
    # blocks again, and the insert must then guard against keys already stored (the fast path skips that guard)
    run(st, anvil.url, chain)
    before = stored_transfers(st)
    st.execute("DELETE FROM ingest_ranges")
    rep = run(st, anvil.url, chain)
    assert rep.logs_fetched > 0 and rep.transfers_added == 0
    assert stored_transfers(st) == before
    assert st.execute("SELECT count(*), count(DISTINCT (tx_hash, log_index)) FROM transfers").fetchone() == (
        len(before), len(before))


def test_resume_plans_exactly_the_missing_ranges(st: Store, anvil: Anvil, chain: Workload) -> None:  # noqa: F811
    mid = chain.tip // 2
    run(st, anvil.url, chain, from_block=3, to_block=mid)
    assert plan_ranges(st, "ethereum", sorted([chain.usdt, chain.usdc]), 0, chain.tip) == [
        (tuple(sorted([chain.usdt, chain.usdc])), 0, 2), (tuple(sorted([chain.usdt, chain.usdc])), mid + 1, chain.tip)]
    rep = run(st, anvil.url, chain)
    assert rep.blocks_planned == chain.tip + 1 - (mid - 2)
    assert stored_transfers(st) == node_transfers(anvil, [chain.usdt, chain.usdc], chain.tip)
    # completed ranges are compacted to one row per contract
    assert st.execute("SELECT contract, from_block, to_block FROM ingest_ranges ORDER BY 1").fetchall() == sorted(
        [(chain.usdt, 0, chain.tip), (chain.usdc, 0, chain.tip)])


def test_confirmations_keep_the_tip_out(st: Store, anvil: Anvil, chain: Workload) -> None:  # noqa: F811
    latest = anvil.block_number()
    rep = ingest_rpc(st, anvil.url, tokens=["USDT-T", "usdc-t"], confirmations=5, to_block=latest + 100)
    assert rep.to_block == latest - 5
    assert any("confirmations" in n and str(latest - 5) in n for n in rep.notes)
    (top,) = st.execute("SELECT max(block_number) FROM transfers").fetchone()
    assert top <= latest - 5
    assert stored_transfers(st) == node_transfers(anvil, [chain.usdt, chain.usdc], latest - 5)


def test_too_many_results_are_split(st: Store, proxy: RpcProxy, anvil: Anvil, chain: Workload) -> None:  # noqa: F811
    proxy.max_results = 350  # a busy block of the workload has 300 logs
    rep = run(st, proxy.url, chain, initial_range=64)
    assert rep.splits > 0
    assert stored_transfers(st) == node_transfers(anvil, [chain.usdt, chain.usdc], chain.tip)


def test_block_range_limit(st: Store, proxy: RpcProxy, anvil: Anvil, chain: Workload) -> None:  # noqa: F811
    proxy.max_block_range = 2
    rep = run(st, proxy.url, chain, initial_range=16)
    assert rep.splits > 0
    assert stored_transfers(st) == node_transfers(anvil, [chain.usdt, chain.usdc], chain.tip)
    # after the refusals the ranges stay within the limit (not growing back on every answer)
    refused = sum(1 for a, b in proxy.spans if b - a + 1 > 2)
    assert refused <= 4


def test_retries_on_429_5xx_drops_and_timeouts(st: Store, proxy: RpcProxy, anvil: Anvil, chain: Workload) -> None:  # noqa: F811
    proxy.retry_after = "0"
    proxy.slow_seconds = 1.0
    # the first requests (chain id, block number) meet faults, then the log fetches do
    proxy.faults = ["429", "503", "drop", "500", "502", "timeout"]
    rep = run(st, proxy.url, chain, timeout=0.4, initial_range=4)
    assert rep.retries >= 5
    assert stored_transfers(st) == node_transfers(anvil, [chain.usdt, chain.usdc], chain.tip)


def test_timestamps_by_batched_headers_only_for_blocks_with_logs(
    st: Store, proxy: RpcProxy, anvil: Anvil, chain: Workload,  # noqa: F811
) -> None:
    proxy.strip_timestamps = True  # like most nodes: logs without blockTimestamp
    rep = run(st, proxy.url, chain, initial_range=4, max_range=4)
    with_logs = {r[0] for r in st.execute("SELECT DISTINCT block_number FROM transfers").fetchall()} | {
        r[0] for r in st.execute("SELECT DISTINCT block_number FROM blacklist_events").fetchall()}
    ranges = -(-(chain.tip + 1) // 4)
    assert proxy.calls["eth_getBlockByNumber"] <= len(with_logs) + ranges
    assert st.execute("SELECT count(*) FROM transfers WHERE block_time IS NULL").fetchone() == (0,)
    assert rep.blocks_added >= len(with_logs)
    for n, h in st.execute("SELECT number, hash FROM blocks").fetchall():
        assert anvil.rpc("eth_getBlockByNumber", [hex(n), False])["hash"] == h


def test_node_dying_mid_run_keeps_committed_ranges(
    st: Store, proxy: RpcProxy, anvil: Anvil, chain: Workload,  # noqa: F811
) -> None:
    proxy.max_block_range = 1
    proxy.down_after = 8
    with pytest.raises(SourceUnavailable) as e:
        ingest_rpc(st, proxy.url + "/v3/KEY42", tokens=[chain.usdt, chain.usdc], confirmations=0,
                   to_block=chain.tip, max_retries=1, backoff=0.01, concurrency=1, initial_range=1, commit_seconds=0)
    assert "KEY42" not in str(e.value) and "rerun" in str(e.value)
    ranges = st.execute("SELECT from_block, to_block FROM ingest_ranges").fetchall()
    assert len(ranges) > 0
    node = node_transfers(anvil, [chain.usdt, chain.usdc], chain.tip)
    covered = {n for a, b in ranges for n in range(a, b + 1)}
    assert covered != set(range(chain.tip + 1))
    # exactly the node's transfers of the committed ranges, nothing else
    assert stored_transfers(st) == {t for t in node if t[2] in covered}
    proxy.reset()
    run(st, proxy.url, chain)
    assert stored_transfers(st) == node


def test_unregistered_token_address_reads_decimals(tmp_path: Path, anvil: Anvil, chain: Workload) -> None:  # noqa: F811
    with chainrisk.open(tmp_path / "t.duckdb") as s:
        rep = ingest_rpc(s, anvil.url, tokens=[chain.usdc.upper().replace("0X", "0x")], confirmations=0)
        tok = s.resolve_token(chain.usdc)
        assert (tok.symbol, tok.decimals, tok.kind) == ("USDC", 6, "other")
        assert rep.transfers_added == sum(1 for t in chain.transfers if t[0] == chain.usdc)


def test_reorg_below_the_tip_is_repaired(tmp_path: Path, fresh_anvil: Anvil) -> None:  # noqa: F811
    node = fresh_anvil
    usdt, usdc = deploy_tokens(node)
    owner = node.accounts[0]
    import random

    rng = random.Random(1)
    for _ in range(8):  # one block each (automine can lag the send: wait for each receipt)
        node.receipt(node.send(usdt, "batchTransfer(address[],uint256[])",
                               [[random_address(rng) for _ in range(5)], [1, 2, 3, 4, 5]]))
    tip = node.block_number()
    with chainrisk.open(tmp_path / "reorg.duckdb") as s:
        s.ensure_token("ethereum", usdt, "USDT-T", 6, "stablecoin", source="test")
        s.ensure_token("ethereum", usdc, "USDC-T", 6, "stablecoin", source="test")
        ingest_rpc(s, node.url, tokens=[usdt], confirmations=0)
        before = stored_transfers(s)
        assert len(before) == 40
        # replace the last 3 blocks with a different history: other recipients, and one block fewer
        node.rpc("anvil_rollback", [3])
        for _ in range(2):
            node.receipt(node.send(usdt, "batchTransfer(address[],uint256[])",
                                   [[random_address(rng) for _ in range(3)], [7, 8, 9]]))
        assert node.block_number() == tip - 1
        rep = ingest_rpc(s, node.url, tokens=[usdt], confirmations=0)
        assert rep.reorg_fork_block == tip - 3
        assert rep.reorg_deleted_transfers == 15
        after = stored_transfers(s)
        assert after == node_transfers(node, [usdt])
        assert len(after) == 40 - 15 + 6
        for n, h in s.execute("SELECT number, hash FROM blocks").fetchall():
            assert node.rpc("eth_getBlockByNumber", [hex(n), False])["hash"] == h
        assert owner
