"""Column-wise decoding of eth_getLogs answers (no node needed: the logs are built in the node's JSON shape)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa

from chainrisk.ingest.node import logs_table
from chainrisk.ingest.rpc_store import BLACKLISTED, TRANSFER, decode_transfers

TOKEN = "0x" + "ab" * 20
FROM = "0x" + "0" * 24 + "11" * 20
TO = "0x" + "0" * 24 + "2F" * 20  # upper-case hex digits, as some nodes send


def _log(i: int, data: str, *, topics: list[str] | None = None, block: int = 5, address: str = TOKEN) -> dict[str, Any]:
    return {"address": address, "topics": topics or [TRANSFER, FROM, TO], "data": data, "blockNumber": hex(block),
            "blockHash": "0x" + "aa" * 32, "blockTimestamp": "0x10", "transactionHash": "0x" + f"{i:064x}",
            "logIndex": hex(i), "removed": False}


def _word(v: int) -> str:
    return "0x" + f"{v:064x}"


def test_values_addresses_and_malformed_logs_across_chunks() -> None:
    logs = [_log(0, _word(5)), _log(1, _word(2**64 + 7)), _log(2, _word(2**127 + 3)), _log(3, _word(2**200)),
            _log(4, "0x" + "zz" * 32), _log(5, "0x12"), _log(6, _word(9), topics=[BLACKLISTED, FROM]),
            _log(7, "0x" + f"{2**70 + 10:064X}", block=6), _log(8, _word(3), address="0x" + "cd" * 20)]
    table = pa.concat_tables([logs_table(logs[:4]), logs_table(logs[4:])])  # two chunks, as after a filter
    transfers, others = decode_transfers(table, {5: ("0xaa", 16), 6: ("0xbb", 17)}, {TOKEN: 7})
    rows = {r["log_index"]: r for r in transfers.to_pylist()}
    assert sorted(rows) == [0, 1, 2, 3, 7]  # 4, 5: malformed data; 6: not a Transfer; 8: unregistered token

    def value(r: dict[str, Any]) -> int:
        return int(r["value_raw"]) if r["value_raw"] is not None else (r["value_hi"] << 64) + r["value_lo"]

    assert {i: value(r) for i, r in rows.items()} == {0: 5, 1: 2**64 + 7, 2: 2**127 + 3, 3: 2**200, 7: 2**70 + 10}
    assert rows[1]["value_raw"] is None and rows[2]["value_raw"] == str(2**127 + 3)  # text only from 2^127
    assert {r["from_address"] for r in rows.values()} == {"0x" + "11" * 20}
    assert {r["to_address"] for r in rows.values()} == {"0x" + "2f" * 20}
    assert rows[7]["block_number"] == 6 and rows[7]["block_time"] == datetime(1970, 1, 1, 0, 0, 17)
    assert {r["token_id"] for r in rows.values()} == {7}
    assert others["logIndex"].to_pylist() == ["0x6"]


def test_empty_answer() -> None:
    transfers, others = decode_transfers(logs_table([]), {}, {TOKEN: 1})
    assert transfers.num_rows == 0 and others.num_rows == 0
    assert "value_hi" in transfers.column_names
