"""The JSON-RPC client against a real anvil node, through the provider-limits proxy for faults."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from support.anvil import Anvil, Workload, anvil, chain, fresh_anvil  # noqa: F401
from support.rpc_proxy import RpcProxy

from chainrisk.errors import RpcError, SourceUnavailable, UsageError
from chainrisk.ingest.node import RangeTooLarge, RpcClient, mask_url
from chainrisk.ingest.rpc import TOPICS

pytestmark = pytest.mark.anvil


@pytest.fixture
def proxy(anvil: Anvil) -> Iterator[RpcProxy]:  # noqa: F811
    with RpcProxy(anvil.url) as p:
        yield p


def test_mask_url_hides_keys() -> None:
    assert mask_url("https://mainnet.infura.io/v3/0123abcd") == "https://mainnet.infura.io/***"
    assert mask_url("https://user:pw@node.example:8545/?apikey=x") == "https://node.example:8545/***"
    assert mask_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"
    assert "secret" not in mask_url("wss://secret@host/secret")


def test_rejects_non_http_url() -> None:
    with pytest.raises(UsageError):
        RpcClient("ws://localhost:8546")


def test_basic_calls_and_batched_headers(anvil: Anvil, chain: Workload) -> None:  # noqa: F811
    c = RpcClient(anvil.url)
    assert c.chain_id() == 31337
    assert c.block_number() == anvil.block_number()
    heads = c.block_headers(list(range(0, chain.tip + 1)), batch_size=7)
    assert sorted(heads) == list(range(chain.tip + 1))
    blk = anvil.rpc("eth_getBlockByNumber", [hex(chain.tip), False])
    assert heads[chain.tip] == (blk["hash"], int(blk["timestamp"], 16))
    assert c.erc20_decimals(chain.usdc) == 6
    assert c.erc20_symbol(chain.usdt) == "USDT"
    assert c.erc20_symbol("0x" + "5" * 40) is None          # no contract there
    with pytest.raises(RpcError, match="has no decimals"):
        c.erc20_decimals("0x" + "5" * 40)


def test_finalized_block_through_web3(fresh_anvil: Anvil) -> None:  # noqa: F811
    c = RpcClient(fresh_anvil.url)
    fresh_anvil.mine(100)
    fin = c.finalized_block()
    # anvil finalizes all but its most recent blocks; the finalized block exists and is at most the tip
    assert fin is not None and 0 <= fin < c.block_number() == 100
    assert fresh_anvil.rpc("eth_getBlockByNumber", ["finalized", False])["number"] == hex(fin)


def test_event_topics_of_the_raw_hot_path_are_the_abi_definitions() -> None:
    """The eth_getLogs decoding matches hard-coded topics (no web3 per log); they must be the ABI's events."""
    from web3 import Web3

    from chainrisk.ingest import rpc_store
    from chainrisk.ingest.node import ERC20_ABI, ISSUER_ABI

    ev = Web3().eth.contract(abi=[*ERC20_ABI, *ISSUER_ABI]).events
    from_abi = [ev.Transfer.topic, ev.AddedBlackList.topic, ev.RemovedBlackList.topic, ev.Blacklisted.topic,
                ev.UnBlacklisted.topic]
    assert from_abi == [rpc_store.TRANSFER, rpc_store.ADDED_BLACK_LIST, rpc_store.REMOVED_BLACK_LIST,
                        rpc_store.BLACKLISTED, rpc_store.UN_BLACKLISTED]


def test_429_and_5xx_and_dropped_connections_are_retried(proxy: RpcProxy, chain: Workload) -> None:  # noqa: F811
    proxy.retry_after = "1"
    proxy.faults = ["429", "503", "drop", "500"]
    c = RpcClient(proxy.url, backoff=0.01)
    t0 = time.monotonic()
    logs = c.get_logs([chain.usdt, chain.usdc], TOPICS, 0, chain.tip)
    assert time.monotonic() - t0 >= 0.9  # honoured Retry-After: 1
    assert c.stats.retries == 4
    assert len(logs) == len(chain.transfers) + len(chain.blacklist) + 2  # + the two odd logs


def test_node_down_gives_one_clear_error_with_masked_url(proxy: RpcProxy) -> None:
    proxy.down = True
    c = RpcClient(proxy.url + "/v3/SECRETKEY123", max_retries=2, backoff=0.01)
    with pytest.raises(SourceUnavailable) as e:
        c.block_number()
    msg = str(e.value)
    assert "SECRETKEY123" not in msg and "/***" in msg
    assert "after 3 attempts" in msg and "rerun" in msg
    assert proxy.calls["eth_blockNumber"] == 3


def test_too_many_results_and_range_limits_raise_split(proxy: RpcProxy, chain: Workload) -> None:  # noqa: F811
    c = RpcClient(proxy.url, backoff=0.01)
    proxy.max_results = 10
    with pytest.raises(RangeTooLarge):
        c.get_logs([chain.usdt], TOPICS, 0, chain.tip)
    proxy.max_results = None
    proxy.max_block_range = 2
    with pytest.raises(RangeTooLarge):
        c.get_logs([chain.usdt], TOPICS, 0, 5)
    assert isinstance(c.get_logs([chain.usdt], TOPICS, 0, 1), list)


def test_single_block_limit_errors_retry_then_fail(proxy: RpcProxy, chain: Workload) -> None:  # noqa: F811
    c = RpcClient(proxy.url, max_retries=2, backoff=0.01)
    busy = max(range(chain.tip + 1), key=lambda b: len(c.call("eth_getLogs", [{
        "fromBlock": hex(b), "toBlock": hex(b), "address": [chain.usdt]}])))
    proxy.max_results = 0  # even one block has too many logs: nothing to split, so retry and give up
    with pytest.raises(RpcError) as e:
        c.get_logs([chain.usdt], TOPICS, busy, busy)
    assert e.value.code == -32005
    assert c.stats.retries == 2


def test_timeout_splits_multi_block_ranges_and_retries_single_blocks(proxy: RpcProxy, chain: Workload) -> None:  # noqa: F811
    proxy.slow_seconds = 1.0
    c = RpcClient(proxy.url, timeout=0.3, backoff=0.01)
    proxy.faults = ["timeout"]
    with pytest.raises(RangeTooLarge):
        c.get_logs([chain.usdt], TOPICS, 0, chain.tip)
    proxy.faults = ["timeout"]
    assert isinstance(c.get_logs([chain.usdt], TOPICS, 3, 3), list)
    assert c.stats.retries == 1
