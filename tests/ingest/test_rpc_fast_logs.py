"""The direct reader of eth_getLogs answers (:mod:`chainrisk.ingest.logs_fast`) against Arrow's JSON reader plus
the column-wise decoder, on real anvil answers and on answers in geth's key order, edited the ways a node could
differ: both paths must give the same table, or the direct reader must decline (None)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
from support.anvil import Anvil, Workload, anvil, chain, node_transfers, stored_transfers  # noqa: F401
from support.rpc_proxy import RpcProxy

import chainrisk
from chainrisk.chains import get_chain
from chainrisk.ingest.logs_fast import transfer_columns
from chainrisk.ingest.node import RpcClient, _parse_logs
from chainrisk.ingest.rpc import TOPICS, _blocks_fast, _blocks_of, ingest_rpc
from chainrisk.ingest.rpc_store import TRANSFER, decode_transfers, transfers_of_columns

pytestmark = pytest.mark.anvil


def general(client: RpcClient, content: bytes, last: int, ids: dict[str, int], name: str = "ethereum") -> pa.Table:
    tbl, err = _parse_logs(content)
    assert tbl is not None and err is None
    blocks = _blocks_of(client, tbl, last)
    assert blocks is not None
    transfers, others = decode_transfers(tbl, blocks, ids, get_chain(name))
    assert others.num_rows == 0
    return transfers


def direct(client: RpcClient, content: bytes, last: int, ids: dict[str, int], name: str = "ethereum"
           ) -> pa.Table | None:
    cols = transfer_columns(content, ids)
    if cols is None:
        return None
    blocks = _blocks_fast(client, cols.blocks, last)
    assert blocks is not None
    return transfers_of_columns(cols, blocks, get_chain(name))


@pytest.fixture
def answers(anvil: Anvil, chain: Workload) -> Iterator[tuple[RpcClient, dict[str, int], list[tuple[int, bytes]]]]:  # noqa: F811
    """Answers of the batch-transfer blocks (plain Transfer logs), one block each, as the node sent them."""
    client = RpcClient(anvil.url)
    ids = {chain.usdt: 1, chain.usdc: 2}
    out = []
    for b in range(chain.tip + 1):
        content, n = client.get_logs_raw(sorted(ids), TOPICS, b, b)
        if n >= 100:
            out.append((b, content))
    assert len(out) >= 10
    yield client, ids, out
    client.close()


def test_same_table_as_the_general_path_on_real_answers(answers: Any) -> None:
    client, ids, out = answers
    rows = 0
    for b, content in out:
        fast = direct(client, content, b, ids)
        assert fast is not None, f"block {b}: a plain Transfer answer was declined"
        assert fast.equals(general(client, content, b, ids))
        rows += fast.num_rows
    # TRON: the same columns, addresses converted to base58 by both paths
    b, content = out[0]
    tron = direct(client, content, b, ids, "tron")
    assert tron is not None and tron.equals(general(client, content, b, ids, "tron"))
    assert tron["from_address"][0].as_py().startswith("T")
    assert rows >= 1000


def test_mixed_or_unexpected_answers_are_declined(answers: Any, anvil: Anvil, chain: Workload) -> None:  # noqa: F811
    client, ids, out = answers
    content = out[0][1]
    # the whole workload range holds blacklist events and ERC-721-style Transfers: the general path's job
    mixed, _ = client.get_logs_raw(sorted(ids), TOPICS, 0, chain.tip)
    assert transfer_columns(mixed, ids) is None
    edits = {
        "whitespace": content.replace(b'"data":"', b'"data": "', 1),
        "removed": content.replace(b'"removed":false', b'"removed":true', 1),
        "removed, spaced": content.replace(b'"removed":false', b'"removed": true', 1),
        "other event": content.replace(TRANSFER[2:].encode(), b"1" * 64, 1),
        "not an address topic": content.replace(b'"0x000000000000000000000000', b'"0x100000000000000000000000', 1),
        "missing key": content.replace(b'"logIndex":', b'"logIndeks":', 1),
        "bad quantity": content.replace(b'"logIndex":"0x', b'"logIndex":"0xg', 1),
        "two hashes for a block": two_hashes(content),
        "bad tx hash": content.replace(b'"transactionHash":"0x', b'"transactionHash":"0xz', 1),
        "truncated": content[: len(content) // 2],
    }
    for what, edited in edits.items():
        assert edited != content, what
        assert transfer_columns(edited, ids) is None, what
    assert transfer_columns(content, {"0x" + "9" * 40: 1}) is None  # logs of a contract not asked for


def two_hashes(content: bytes) -> bytes:
    """The answer with the first log's block hash changed (another digit), the others left."""
    at = content.index(b'"blockHash":"0x') + len(b'"blockHash":"0x')
    digit = b"1" if content[at : at + 1] != b"1" else b"2"
    return content[:at] + digit + content[at + 1 :]


def test_geth_key_order_and_no_timestamps(answers: Any, anvil: Anvil) -> None:  # noqa: F811
    """geth orders a log's keys address, topics, data, blockNumber, transactionHash, transactionIndex, blockHash,
    logIndex, removed, and sends no blockTimestamp (times then come from headers)."""
    client, ids, out = answers
    b, content = out[1]
    resp = json.loads(content)
    order = ["address", "topics", "data", "blockNumber", "transactionHash", "transactionIndex", "blockHash",
             "logIndex", "removed"]
    resp["result"] = [{k: lg[k] for k in order} for lg in resp["result"]]
    geth = json.dumps(resp, separators=(",", ":")).encode()
    cols = transfer_columns(geth, ids)
    assert cols is not None and all(ts is None for _, ts in cols.blocks.values())
    fast = direct(client, geth, b, ids)
    assert fast is not None and fast.equals(general(client, geth, b, ids))
    assert fast.equals(general(client, content, b, ids))


def test_ingestion_through_a_proxy_without_timestamps_is_exact(tmp_path: Any, anvil: Anvil,  # noqa: F811
                                                                chain: Workload) -> None:  # noqa: F811
    with RpcProxy(anvil.url) as proxy, chainrisk.open(tmp_path / "f.duckdb") as st:
        proxy.strip_timestamps = True
        ingest_rpc(st, proxy.url, tokens=[chain.usdt, chain.usdc], confirmations=0, to_block=chain.tip,
                   initial_range=1, max_range=1, backoff=0.01)
        assert stored_transfers(st) == node_transfers(anvil, [chain.usdt, chain.usdc], chain.tip)
        assert st.execute("SELECT count(*) FROM transfers WHERE block_time IS NULL").fetchone() == (0,)
