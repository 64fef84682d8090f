"""TRON file imports (`ingest file --chain tron`): tronetl, TRON logs exports and TronGrid JSON, on files in the real
shapes built at test time from the shared fixture (one real USDT transfer in block 78,861,100, as a log and
decoded) plus transfers made up around it in the same shape. The all-or-nothing / --skip-bad / idempotent
contract is the Ethereum one."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import pytest

import chainrisk
from chainrisk.address import tron_from_hex
from chainrisk.errors import InputError, UsageError
from chainrisk.ingest.file import ingest_file
from chainrisk.store import Store

USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
USDT_HEX = "0xa614f803b6fd780986a42c78ec9c7f77e6ded13c"
TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


@pytest.fixture(scope="module")
def real(shared: Path) -> dict[str, Any]:
    d = shared / "tron_usdt_fixtures"
    ev = json.loads((d / "bitquery_tron_events_sample_block_78861100.json").read_text())
    tr = json.loads((d / "bitquery_tron_transfers_sample_block_78861100.json").read_text())
    topics = json.loads(ev["Topics_Hash"])
    return {"tx": ev["Transaction_Hash"], "block": ev["Block_Number"], "time": ev["Block_Time"],
            "log_index": ev["Log_Index"], "from": tr["Transfer_Sender"], "to": tr["Transfer_Receiver"],
            "value": int(ev["LogHeader_Data"], 16), "topics": topics, "data": ev["LogHeader_Data"],
            "contract": ev["LogHeader_Address"]}


def rows(real: dict[str, Any], n: int = 50, seed: int = 3) -> list[dict[str, Any]]:
    """The real transfer, then n made-up ones in the following blocks (hex -> base58 like the chain does)."""
    rng = random.Random(seed)
    out = [{"tx": real["tx"], "log_index": real["log_index"], "block": real["block"], "time": real["time"],
            "from": real["from"], "to": real["to"], "value": real["value"]}]
    for i in range(n):
        a, b = (tron_from_hex("41" + "".join(rng.choice("0123456789abcdef") for _ in range(40))) for _ in range(2))
        out.append({"tx": f"{rng.getrandbits(256):064x}", "log_index": i % 3, "block": real["block"] + 1 + i // 5,
                    "time": real["time"] + 3 * (1 + i // 5), "from": a, "to": b,
                    "value": 0 if i % 7 == 0 else rng.randrange(1, 10**12)})
    return out


def write_tronetl(path: Path, rs: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["token_address", "from_address", "to_address", "value", "transaction_hash", "log_index",
                    "block_number"])
        for r in rs:
            w.writerow([USDT, r["from"], r["to"], r["value"], r["tx"], r["log_index"], r["block"]])


def write_blocks(path: Path, rs: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["number", "hash", "parent_hash", "timestamp", "transaction_count"])
        for b, t in sorted({(r["block"], r["time"]) for r in rs}):
            w.writerow([b, f"{b:064x}", "%064x" % (b - 1), t, 1])


def tron_hex(b58: str) -> str:
    from chainrisk.address import tron_to_hex

    return tron_to_hex(b58)[2:]


def write_logs(path: Path, rs: list[dict[str, Any]], extra_event: bool = True) -> None:
    """A TRON logs export as Google's public dataset gives it (JSON lines: hex topics, data, block timestamp)."""
    with path.open("w") as f:
        for r in rs:
            f.write(json.dumps({
                "block_number": r["block"], "block_timestamp": f"{_utc(r['time'])} UTC",
                "transaction_hash": r["tx"], "log_index": r["log_index"], "address": USDT_HEX,
                "topics": [TRANSFER, "0x" + "0" * 24 + tron_hex(r["from"]), "0x" + "0" * 24 + tron_hex(r["to"])],
                "data": "0x{:064x}".format(r["value"])}) + "\n")
        if extra_event:  # an Approval log: not a transfer, counted apart
            f.write(json.dumps({"block_number": rs[0]["block"], "block_timestamp": f"{_utc(rs[0]['time'])} UTC",
                                "transaction_hash": "ab" * 32, "log_index": 9, "address": USDT_HEX,
                                "topics": ["0x8c5be1e5ebec7d5bd14f71427e1e84f3dd0314c0f7b2291e5b200ac8c7c3b925",
                                           "0x" + "0" * 64, "0x" + "0" * 64], "data": "0x" + "0" * 64}) + "\n")


def _utc(ts: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def trongrid_page(rs: list[dict[str, Any]], approval: bool = True) -> dict[str, Any]:
    data = [{"transaction_id": r["tx"], "token_info": {"symbol": "USDT", "address": USDT, "decimals": 6,
                                                        "name": "Tether USD"},
             "block_timestamp": r["time"] * 1000, "from": r["from"], "to": r["to"], "type": "Transfer",
             "value": str(r["value"])} for r in rs]
    if approval:
        data.append({**data[0], "type": "Approval", "transaction_id": "cd" * 32})
    return {"data": data, "success": True, "meta": {"at": 1767246300000, "page_size": len(data)}}


def stored(st: Store) -> set[tuple[Any, ...]]:
    return {(r[0], r[1], r[2], int(r[3]), r[4]) for r in st.execute(
        "SELECT tx_hash, from_address, to_address, value_exact, epoch(block_time)::BIGINT FROM transfers_view"
        " WHERE chain = 'tron'").fetchall()}


def expected(rs: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {("0x" + r["tx"], r["from"], r["to"], r["value"], r["time"]) for r in rs}


def test_tronetl_csv_with_blocks(store: Store, tmp_path: Path, real: dict[str, Any]) -> None:
    rs = rows(real)
    write_tronetl(tmp_path / "token_transfers.csv", rs)
    write_blocks(tmp_path / "blocks.csv", rs)
    rep = ingest_file(store, tmp_path / "token_transfers.csv", "tronetl", chain="tron",
                      blocks_file=tmp_path / "blocks.csv")
    assert rep.files[0].rows_added == len(rs) and rep.files[0].rows_without_time == 0
    assert stored(store) == expected(rs)
    # the real transfer, exactly as the decoded fixture states it: 30.401259 USDT
    (amount,) = store.execute("SELECT amount FROM transfers_view WHERE tx_hash = ?", ["0x" + real["tx"]]).fetchone()
    assert amount == pytest.approx(30.401259)
    # idempotent: the same file again adds nothing; the same transfers from a logs export add nothing either
    assert ingest_file(store, tmp_path / "token_transfers.csv", "tronetl", chain="tron").files[0].status == \
        "already imported"
    write_logs(tmp_path / "logs.jsonl", rs)
    rep = ingest_file(store, tmp_path / "logs.jsonl", "tron-logs", chain="tron")
    assert rep.files[0].rows_added == 0 and rep.files[0].rows_duplicate == len(rs)


def test_tron_logs_export(store: Store, tmp_path: Path, real: dict[str, Any]) -> None:
    rs = rows(real, 20)
    write_logs(tmp_path / "logs.jsonl", rs)
    rep = ingest_file(store, tmp_path / "logs.jsonl", "tron-logs", chain="tron").files[0]
    assert rep.rows_other_events == 1 and rep.rows_read == len(rs) + 1 and rep.rows_added == len(rs)
    assert stored(store) == expected(rs)
    (contract,) = store.execute("SELECT DISTINCT token_address FROM transfers_view").fetchone()
    assert contract == USDT


def test_trongrid_pages_sender_and_receiver_side_are_one_transfer(store: Store, tmp_path: Path,
                                                                   real: dict[str, Any]) -> None:
    rs = rows(real, 10)
    (tmp_path / "a.json").write_text(json.dumps(trongrid_page(rs)))
    # the receiver's page of the first transfers: same records, so the content key makes them one row each
    (tmp_path / "b.json").write_text(json.dumps([trongrid_page(rs[:3], approval=False)]))
    rep = ingest_file(store, [tmp_path / "a.json", tmp_path / "b.json"], "trongrid", chain="tron")
    a, b = rep.files
    assert a.rows_added == len(rs) and a.rows_other_events == 1
    assert b.rows_added == 0 and b.rows_duplicate == 3
    assert stored(store) == expected(rs)


def test_bad_row_fails_the_file_or_is_skipped(store: Store, tmp_path: Path, real: dict[str, Any]) -> None:
    rs = rows(real, 10)
    rs[4]["to"] = rs[4]["to"][:-1] + ("a" if rs[4]["to"][-1] != "a" else "b")  # a typo: checksum fails
    write_tronetl(tmp_path / "t.csv", rs)
    with pytest.raises(InputError, match=r"t\.csv, line 6: to_address is not a TRON address"):
        ingest_file(store, tmp_path / "t.csv", "tronetl", chain="tron")
    (n,) = store.execute("SELECT count(*) FROM transfers").fetchone()
    assert n == 0
    rep = ingest_file(store, tmp_path / "t.csv", "tronetl", chain="tron", skip_bad=True,
                      reject_path=tmp_path / "rej.csv").files[0]
    assert rep.rows_rejected == 1 and rep.rows_added == len(rs) - 1
    assert "line" in (tmp_path / "rej.csv").read_text() and rs[4]["to"] in (tmp_path / "rej.csv").read_text()


def test_chain_and_format_must_agree(store: Store, tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(UsageError, match="pass --chain tron"):
        ingest_file(store, tmp_path / "x.csv", "tronetl")
    with pytest.raises(UsageError, match="is an EVM export"):
        ingest_file(store, tmp_path / "x.csv", "ethereum-etl", chain="tron")


def test_trongrid_error_answer_is_one_sentence(store: Store, tmp_path: Path) -> None:
    (tmp_path / "e.json").write_text(json.dumps({"success": False, "error": "rate limited", "data": []}))
    with pytest.raises(InputError, match="TronGrid error answer"):
        ingest_file(store, tmp_path / "e.json", "trongrid", chain="tron")


def test_cli_tronetl(tmp_path: Path, real: dict[str, Any]) -> None:
    import subprocess
    import sys

    rs = rows(real, 5)
    write_tronetl(tmp_path / "t.csv", rs)
    db = tmp_path / "cli.duckdb"
    r = subprocess.run([sys.executable, "-c", "from chainrisk.cli import main; main()", "--db", str(db), "ingest",
                        "file", "--chain", "tron", "--input-format", "tronetl", str(tmp_path / "t.csv"),
                        "--format", "json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    with chainrisk.open(db) as s:
        assert {x[1] for x in stored(s)} == {x["from"] for x in rs}


def test_columnwise_base58_equals_the_scalar_functions() -> None:
    from chainrisk.address import parse_address
    from chainrisk.errors import InvalidAddress
    from chainrisk.ingest.tron_b58 import b58_valid, hex_to_b58

    rng = random.Random(5)
    hexes = [f"0x{rng.getrandbits(160):040x}" for _ in range(2000)] + ["0x" + "0" * 40, "0x" + "f" * 40]
    b58s = [tron_from_hex("41" + h[2:]) for h in hexes]
    assert hex_to_b58(hexes) == b58s
    assert hex_to_b58(["41" + h[2:] for h in hexes[:50]]) == b58s[:50]
    assert hex_to_b58(["0x12", "0xzz" + "0" * 38, ""]) == [None, None, None]
    # typos in every position: the column-wise check agrees with parse_address on each
    cands = list(b58s[:200])
    for i, t in enumerate(b58s[:400]):
        p = i % 34
        cands.append(t[:p] + rng.choice("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0OIl") + t[p + 1:])
    cands += ["", "T", "T" * 34, "0x" + "0" * 40, "41" + "0" * 40]

    def scalar(t: str) -> bool:
        try:
            return len(t) == 34 and parse_address(t).chain == "tron"
        except InvalidAddress:
            return False

    assert b58_valid(cands).tolist() == [scalar(t) for t in cands]
