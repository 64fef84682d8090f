"""`ingest_file`: real export files in, exact transfers out; bad rows, broken files, re-imports."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

import chainrisk
from chainrisk.errors import InputError, UsageError

ETL = "ethereum_etl_fixtures"
JSONL = f"{ETL}/expected_token_transfers_blocks_17173049_17173050.jsonl"
ETL_CSV = f"{ETL}/expected_token_transfers_block_483920.csv"
PHISH = "stablecoin_transfers_phishing_dev/stablecoin_transfers.csv"
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
DAI = "0x6b175474e89094c44da98b954eedeac495271d0f"
A1 = "0x1111111111111111111111111111111111111111"
A2 = "0x2222222222222222222222222222222222222222"
TX1 = "0x" + "ab" * 32
TX2 = "0x" + "cd" * 32


def stored(st: chainrisk.Store) -> set[tuple]:
    """Every stored transfer as (tx, log_index, token contract, from, to, exact value text, block, time)."""
    return set(st.execute(
        "SELECT tx_hash, log_index, token_address, from_address, to_address, value_exact, block_number, block_time"
        " FROM transfers_view"
    ).fetchall())


def counts(st: chainrisk.Store) -> tuple[int, int, int, int]:
    row = st.execute(
        "SELECT (SELECT count(*) FROM transfers), (SELECT count(*) FROM addresses), (SELECT count(*) FROM tokens),"
        " (SELECT count(*) FROM file_imports)"
    ).fetchone()
    assert row is not None
    return row


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


ETL_HEADER = ["token_address", "from_address", "to_address", "value", "transaction_hash", "log_index", "block_number"]


def etl_row(log_index: int, value: object = 1000, *, token: str = USDT, frm: str = A1, to: str = A2,
            tx: str = TX1, block: object = 100) -> list[object]:
    return [token, frm, to, value, tx, log_index, block]


# -- ethereum-etl ---------------------------------------------------------------------------------------------


def test_ethereum_etl_jsonl_round_trips_every_transfer_exactly(shared, store):
    lines = [json.loads(x) for x in (shared / JSONL).read_text().splitlines() if x.strip()]
    registered = {t.contract for t in store.tokens("ethereum")}
    want = {
        (r["transaction_hash"], r["log_index"], r["token_address"], r["from_address"], r["to_address"],
         str(r["value"]), r["block_number"], datetime.fromtimestamp(r["block_timestamp"], UTC).replace(tzinfo=None))
        for r in lines
    }
    rep = chainrisk.ingest_file(store, [shared / JSONL], "ethereum-etl")
    got = stored(store)
    assert got == want  # exact value text (json ints, some > 2^64), times from block_timestamp
    by_token = dict(store.execute("SELECT token, count(*) FROM transfers_view WHERE amount IS NOT NULL"
                                  " GROUP BY 1").fetchall())
    assert by_token == {"USDT": 41, "USDC": 9, "DAI": 2}
    assert rep.rows_read == len(lines) == 291
    assert rep.rows_added == 291 and rep.rows_unregistered_token == 0
    # other ERC-20s and the ERC-721s: the file gives no decimals, so they are kept as activity, never priced
    others = {r["token_address"] for r in lines} - registered
    assert rep.rows_unknown_decimals == 291 - 52
    assert sorted(rep.files[0].tokens_unknown_decimals) == sorted(others) == rep.to_dict()["tokens_unknown_decimals"]
    assert store.execute(
        "SELECT count(*), count(amount), count(amount_usd) FROM transfers_view t"
        " JOIN tokens k ON k.contract = t.token_address AND k.decimals IS NULL").fetchone() == (239, 0, 0)
    assert all(t.decimals is None and t.usd_peg is None and t.kind == "other"
               for t in store.tokens("ethereum") if t.contract in others)


def test_ethereum_etl_registered_only_leaves_other_tokens_out_and_says_which(shared, store):
    lines = [json.loads(x) for x in (shared / JSONL).read_text().splitlines() if x.strip()]
    n_tokens = len(store.tokens())
    rep = chainrisk.ingest_file(store, [shared / JSONL], "ethereum-etl", registered_only=True)
    assert rep.rows_added == 52 and rep.rows_unregistered_token == 291 - 52 and rep.rows_unknown_decimals == 0
    want: dict[str, int] = {}
    registered = {t.contract for t in store.tokens("ethereum")}
    for r in lines:
        if r["token_address"] not in registered:
            want[r["token_address"]] = want.get(r["token_address"], 0) + 1
    assert rep.files[0].unregistered_by_token == want == rep.unregistered_by_token
    assert rep.to_dict()["token_policy"] == "registered-only" and len(store.tokens()) == n_tokens


def test_ethereum_etl_json_value_above_2_64_is_not_rounded(tmp_path, store):
    big = 2**64 * 12345 + 7  # a float would round this
    p = tmp_path / "tt.jsonl"
    p.write_text(json.dumps({"token_address": DAI, "from_address": A1, "to_address": A2, "value": big,
                             "transaction_hash": TX1, "log_index": 3, "block_number": 5}) + "\n")
    chainrisk.ingest_file(store, [p], "ethereum-etl")
    (text,) = store.execute("SELECT value_exact FROM transfers_view").fetchone()
    assert text == str(big)


def test_ethereum_etl_csv_unknown_token_and_times_from_blocks_file(shared, tmp_path):
    rows = list(csv.DictReader((shared / ETL_CSV).open()))
    with chainrisk.open(tmp_path / "a.duckdb") as st:
        rep = chainrisk.ingest_file(st, [shared / ETL_CSV], "ethereum-etl", registered_only=True)
        assert (rep.rows_read, rep.rows_added, rep.rows_unregistered_token) == (2, 0, 2)
    with chainrisk.open(tmp_path / "a2.duckdb") as st:  # kept as activity; decimals filled in later
        rep = chainrisk.ingest_file(st, [shared / ETL_CSV], "ethereum-etl")
        assert (rep.rows_added, rep.rows_unknown_decimals, rep.rows_unregistered_token) == (2, 2, 0)
        assert st.execute("SELECT count(*), count(amount) FROM transfers").fetchone() == (2, 0)
        tok = st.ensure_token("ethereum", rows[0]["token_address"], "OLD", 0)
        assert tok.decimals == 0 and tok.symbol == "OLD"
        assert st.execute("SELECT count(amount) FROM transfers").fetchone() == (2,)
    blocks = write_csv(tmp_path / "blocks.csv", ["number", "hash", "timestamp"],
                       [[483920, "0x" + "11" * 32, 1446561432], [483921, "0x" + "22" * 32, 1446561440]])
    with chainrisk.open(tmp_path / "b.duckdb") as st:
        st.ensure_token("ethereum", rows[0]["token_address"], "OLD", 0)
        rep = chainrisk.ingest_file(st, [shared / ETL_CSV], "ethereum-etl", blocks_file=blocks)
        assert rep.rows_added == 2 and rep.rows_without_time == 0
        want = {(r["transaction_hash"], int(r["log_index"]), r["token_address"], r["from_address"], r["to_address"],
                 r["value"], int(r["block_number"]), datetime(2015, 11, 3, 14, 37, 12)) for r in rows}
        assert stored(st) == want
    with chainrisk.open(tmp_path / "c.duckdb") as st:
        st.ensure_token("ethereum", rows[0]["token_address"], "OLD", 0)
        rep = chainrisk.ingest_file(st, [shared / ETL_CSV], "ethereum-etl")
        assert rep.rows_without_time == 2
        assert st.execute("SELECT count(*) FROM transfers WHERE block_time IS NULL").fetchone() == (2,)


# -- mapped csv: the phishing dev set --------------------------------------------------------------------------


def test_phishing_dev_csv_loads_every_row_exactly(shared, store):
    path = shared / PHISH
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    rep = chainrisk.ingest_file(store, [path], "csv")  # columns found by name: value_raw, block_time_utc
    assert rep.rows_read == rep.rows_added == len(rows) == 11347
    assert rep.rows_rejected == rep.rows_duplicate == rep.rows_unregistered_token == 0
    got = {(tx, tok, fa, ta, v, b, t) for (tx, _, tok, fa, ta, v, b, t) in stored(store)}
    want = {(r["tx_hash"], r["token_address"], r["from_address"], r["to_address"], r["value_raw"],
             int(r["block_number"]), datetime.fromisoformat(r["block_time_utc"]).replace(tzinfo=None)) for r in rows}
    assert got == want
    per_token: dict[str, int] = {}
    for r in rows:
        per_token[r["token_address"]] = per_token.get(r["token_address"], 0) + 1
    assert dict(store.execute("SELECT token_address, count(*) FROM transfers_view GROUP BY 1").fetchall()) == per_token
    # every token of the file is in the bundled registry (sUSD and the old TUSD contract included)
    sym = {t.contract: (t.symbol, t.decimals, t.kind) for t in store.tokens("ethereum")}
    assert sym["0x8dd5fbce2f6a956c3022ba3663759011dd51e73e"] == ("TUSD_OLD", 18, "stablecoin")
    assert rep.files[0].tokens_registered == [] and rep.rows_unknown_decimals == 0
    # amount agrees with value_raw / 10^decimals
    bad = store.execute(
        "SELECT count(*) FROM transfers_view v JOIN tokens k ON k.contract = v.token_address"
        " WHERE abs(v.amount - CAST(v.value_exact AS DOUBLE) / pow(10, k.decimals)) > 1e-9 * v.amount"
    ).fetchone()
    assert bad == (0,)
    # content keys: negative, unique per transfer
    assert store.execute("SELECT max(log_index) < 0, count(DISTINCT (tx_hash, log_index)) FROM transfers").fetchone() \
        == (True, 11347)


def test_csv_mapping_with_decimal_amounts(tmp_path, store):
    p = write_csv(tmp_path / "bank.csv", ["txid", "blk", "when", "coin", "payer", "payee", "qty"], [
        [TX1, 10, "2024-01-02T03:04:05+08:00", USDT, A1, A2, "1234.5"],
        [TX2, 11, "2024-01-02 03:04:06", DAI, A2, A1, "0.000000000000000001"],
        [TX2, 11, "2024-01-02 03:04:06", USDC, A2, A1, "7"],
    ])
    mapping = {"tx_hash": "txid", "block_number": "blk", "block_time": "when", "token_address": "coin",
               "from_address": "payer", "to_address": "payee", "amount": "qty"}
    rep = chainrisk.ingest_file(store, [p], "csv", mapping=mapping)
    assert rep.rows_added == 3
    got = {(tok, v, t) for (_, _, tok, _, _, v, _, t) in stored(store)}
    assert got == {(USDT, "1234500000", datetime(2024, 1, 1, 19, 4, 5)), (DAI, "1", datetime(2024, 1, 2, 3, 4, 6)),
                   (USDC, "7000000", datetime(2024, 1, 2, 3, 4, 6))}


def test_csv_amount_finer_than_token_decimals_is_a_bad_row(tmp_path, store):
    p = write_csv(tmp_path / "x.csv", ["tx_hash", "block_number", "token_address", "from", "to", "amount"],
                  [[TX1, 1, USDT, A1, A2, "1.5"], [TX2, 1, USDT, A1, A2, "0.0000001"]])
    with pytest.raises(InputError, match=r"x\.csv, line 3: amount 0\.0000001 has more decimal places"):
        chainrisk.ingest_file(store, [p], "csv")
    assert counts(store)[0] == 0


def test_csv_without_needed_columns_names_them(tmp_path, store):
    p = write_csv(tmp_path / "x.csv", ["hash", "from", "to", "contract"], [[TX1, A1, A2, USDT]])
    with pytest.raises(InputError, match=r"no column for block_number, value \(or amount\).*--map"):
        chainrisk.ingest_file(store, [p], "csv")
    with pytest.raises(InputError, match=r"no column 'blk'"):
        chainrisk.ingest_file(store, [p], "csv", mapping={"block_number": "blk"})
    with pytest.raises(UsageError, match="unknown canonical field"):
        chainrisk.ingest_file(store, [p], "csv", mapping={"blocknum": "blk"})


# -- bigquery -------------------------------------------------------------------------------------------------


def _bigquery_files(shared: Path, tmp_path: Path) -> tuple[Path, Path, int]:
    """BigQuery-schema CSV and Parquet built from the real ethereum-etl transfers, plus one USDT transfer
    whose value is 2^200 (above HUGEINT)."""
    con = duckdb.connect()
    con.execute(
        """CREATE TABLE t AS SELECT token_address, from_address, to_address, value, transaction_hash,
                  CAST(log_index AS BIGINT) AS log_index,
                  make_timestamptz(CAST(block_timestamp AS BIGINT) * 1000000) AS block_timestamp,
                  CAST(block_number AS BIGINT) AS block_number, block_hash
           FROM read_json(?, format = 'newline_delimited',
                columns = {'token_address': 'VARCHAR', 'from_address': 'VARCHAR', 'to_address': 'VARCHAR',
                           'value': 'VARCHAR', 'transaction_hash': 'VARCHAR', 'log_index': 'VARCHAR',
                           'block_timestamp': 'VARCHAR', 'block_number': 'VARCHAR', 'block_hash': 'VARCHAR'})""",
        [str(shared / JSONL)],
    )
    con.execute(f"""INSERT INTO t VALUES ('{USDT}', '{A1}', '{A2}', '{2**200}', '{TX1}', 0,
                   TIMESTAMPTZ '2023-05-02 12:20:11+00', 17173050, '{TX2}')""")
    pq, cs = tmp_path / "bq.parquet", tmp_path / "bq.csv"
    con.execute(f"COPY t TO '{pq}' (FORMAT parquet)")
    con.execute(f"""COPY (SELECT token_address, from_address, to_address, value, transaction_hash, log_index,
                          strftime(block_timestamp AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S') || ' UTC' AS block_timestamp,
                          block_number, block_hash FROM t) TO '{cs}' (HEADER)""")
    (n,) = con.execute("SELECT count(*) FROM t").fetchone() or (0,)
    con.close()
    return pq, cs, n


def test_bigquery_parquet_and_csv_give_the_same_exact_transfers(shared, tmp_path):
    pq, cs, n = _bigquery_files(shared, tmp_path)
    results = []
    for name, path in (("p", pq), ("c", cs)):
        with chainrisk.open(tmp_path / f"{name}.duckdb") as st:
            rep = chainrisk.ingest_file(st, [path], "bigquery")
            assert rep.rows_read == n and rep.rows_added == n == 292  # other tokens: activity, unknown decimals
            assert st.execute("SELECT count(amount) FROM transfers").fetchone() == (53,)
            results.append(stored(st))
            big = st.execute("SELECT value, value_raw FROM transfers WHERE tx_hash = ?", [TX1]).fetchone()
            assert big == (None, str(2**200))
    assert results[0] == results[1]
    lines = [json.loads(x) for x in (shared / JSONL).read_text().splitlines()]
    usdt = {(r["transaction_hash"], r["log_index"], str(r["value"])) for r in lines if r["token_address"] == USDT}
    assert usdt | {(TX1, 0, str(2**200))} == {(tx, li, v) for (tx, li, tok, _, _, v, _, _) in results[0] if tok == USDT}


def test_batch_addresses_found_once_give_the_same_ids_and_rows(shared, tmp_path, monkeypatch):
    """The address check's distinct set, handed to add_transfers when every row is good, gives exactly the ids
    and rows of add_transfers finding the addresses itself (into a store that already holds some of them)."""
    pq, _, n = _bigquery_files(shared, tmp_path)
    first = write_csv(tmp_path / "first.csv", ETL_HEADER, [etl_row(7, frm=A2, to=A1, tx=TX2)])
    calls: list[str | None] = []
    real = chainrisk.Store.add_transfers

    def spy(self, staging, *, guard=True, addresses=None):
        calls.append(addresses)
        return real(self, staging, guard=guard, addresses=addresses)

    monkeypatch.setattr(chainrisk.Store, "add_transfers", spy)
    results = []
    for name, shared_set in (("fast", True), ("slow", False)):
        if not shared_set:  # the file path without the check's set: add_transfers finds the addresses itself
            monkeypatch.setattr(chainrisk.Store, "has_temp_table", lambda self, name: False)
        with chainrisk.open(tmp_path / f"{name}.duckdb") as st:
            chainrisk.ingest_file(st, [first], "ethereum-etl")
            assert chainrisk.ingest_file(st, [pq], "bigquery").rows_added == n
            results.append((st.execute("SELECT * FROM addresses ORDER BY id").fetchall(),
                            st.execute("SELECT * FROM transfers ORDER BY tx_hash, log_index").fetchall()))
    assert calls == ["_cr_file_parties", "_cr_file_parties", None, None]
    assert results[0] == results[1] and len(results[0][0]) > 100 and len(results[0][1]) == n + 1


def test_bigquery_wrong_header_and_float_value_column(shared, tmp_path, store):
    with pytest.raises(InputError, match=r"does not look like a bigquery export: missing column\(s\) block_timestamp"):
        chainrisk.ingest_file(store, [shared / ETL_CSV], "bigquery")
    p = tmp_path / "f.parquet"
    duckdb.connect().execute(
        f"COPY (SELECT '{USDT}' AS token_address, '{A1}' AS from_address, '{A2}' AS to_address, 1e20 AS value,"
        f" '{TX1}' AS transaction_hash, 0 AS log_index, TIMESTAMPTZ '2020-01-01 00:00:00+00' AS block_timestamp,"
        f" 1 AS block_number) TO '{p}' (FORMAT parquet)")
    with pytest.raises(InputError, match="cannot hold exact token amounts"):
        chainrisk.ingest_file(store, [p], "bigquery")
    assert counts(store)[0] == 0


# -- bad rows -------------------------------------------------------------------------------------------------


def _bad_file(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "tt.csv", ETL_HEADER, [
        etl_row(0),                                   # line 2: good
        etl_row(1, frm="0x1234"),                     # line 3: short address
        etl_row(2, value="12.5"),                     # line 4: not an integer
        etl_row(3, value=""),                         # line 5: missing value
        etl_row(4, value=str(2**256)),                # line 6: above uint256
        etl_row(5, value=str(2**256 - 1)),            # line 7: good, the largest uint256
        etl_row(6, tx="0x1234"),                      # line 8: bad tx hash
        etl_row(7, block="-3"),                       # line 9: negative block
        etl_row(8, frm=A1.upper().replace("0X", "0x")),  # line 10: good (upper-case hex is lower-cased)
    ])


def test_bad_row_fails_the_whole_file_with_its_line(tmp_path, store):
    p = _bad_file(tmp_path)
    before = counts(store)
    with pytest.raises(InputError) as e:
        chainrisk.ingest_file(store, [p], "ethereum-etl")
    msg = str(e.value)
    assert "tt.csv, line 3: from_address is not an address" in msg and "0x1234" in msg
    assert "and 5 more bad rows" in msg and "--skip-bad" in msg
    assert counts(store) == before  # nothing stored, not even addresses or the file record


def test_skip_bad_keeps_good_rows_and_writes_rejects(tmp_path, store):
    p = _bad_file(tmp_path)
    rej = tmp_path / "out" / "rejects.csv"
    rep = chainrisk.ingest_file(store, [p], "ethereum-etl", skip_bad=True, reject_path=rej)
    assert (rep.rows_read, rep.rows_added, rep.rows_rejected) == (9, 3, 6)
    assert {li for (_, li, *_rest) in stored(store)} == {0, 5, 8}
    assert store.execute("SELECT value_raw FROM transfers WHERE log_index = 5").fetchone() == (str(2**256 - 1),)
    with rej.open() as f:
        rejects = list(csv.DictReader(f))
    assert [int(r["line"]) for r in rejects] == [3, 4, 5, 6, 8, 9]
    assert all(r["file"] == str(p) for r in rejects)
    reasons = [r["reason"] for r in rejects]
    assert reasons[0].startswith("from_address is not an address")
    assert reasons[1] == "value is not a non-negative integer: 12.5"
    assert reasons[2] == "missing value"
    assert reasons[3].startswith("value exceeds 2^256 - 1")
    assert reasons[4].startswith("tx_hash is not 0x + 64 hex digits")
    assert reasons[5] == "block_number is not a non-negative integer: -3"
    assert json.loads(rejects[1]["row_text"])["log_index"] == "2"


@pytest.mark.slow
def test_lines_stay_right_past_unsplittable_rows_in_a_big_file(tmp_path, store):
    p = tmp_path / "big.csv"
    bad_at = {5, 70_001, 149_999}  # lines with a bad value
    short_at = {3, 100_000}  # lines with a missing column
    with p.open("w") as f:
        f.write(",".join(ETL_HEADER) + "\n")
        for line in range(2, 150_002):
            if line in short_at:
                f.write(f"{USDT},{A1},{A2},1,{TX1}\n")
            else:
                v = "x" if line in bad_at else str(line)
                f.write(f"{USDT},{A1},{A2},{v},0x{line:064x},0,{line}\n")
    rej = tmp_path / "r.csv"
    rep = chainrisk.ingest_file(store, [p], "ethereum-etl", skip_bad=True, reject_path=rej)
    assert rep.rows_read == 150_000 and rep.rows_rejected == 5 and rep.rows_added == 150_000 - 5
    with rej.open() as f:
        assert sorted(int(r["line"]) for r in csv.DictReader(f)) == sorted(bad_at | short_at)
    # value = line number for every stored row, so rows kept their lines
    assert store.execute("SELECT count(*) FROM transfers WHERE CAST(value AS BIGINT) <> block_number").fetchone() == (0,)


# -- broken files ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["missing", "binary", "truncated_parquet", "empty", "header_only_garbage"])
def test_unreadable_file_is_one_clear_error_and_changes_nothing(shared, tmp_path, store, case):
    if case == "missing":
        p = tmp_path / "nope.csv"
    elif case == "binary":
        p = tmp_path / "b.csv"
        p.write_bytes(bytes(range(256)) * 8)
    elif case == "truncated_parquet":
        pq, _, _ = _bigquery_files(shared, tmp_path)
        data = pq.read_bytes()
        p = tmp_path / "cut.parquet"
        p.write_bytes(data[: len(data) // 2])
    elif case == "empty":
        p = tmp_path / "e.csv"
        p.write_text("")
    else:
        p = tmp_path / "g.csv"
        p.write_text("hello world\n")
    before = counts(store)
    with pytest.raises(InputError) as e:
        chainrisk.ingest_file(store, [p], "bigquery")
    msg = str(e.value)
    assert str(p) in msg and "\n" not in msg and ";" in msg  # what went wrong; what to do
    assert counts(store) == before


def test_earlier_files_stay_imported_when_a_later_one_fails(tmp_path, store):
    good = write_csv(tmp_path / "good.csv", ETL_HEADER, [etl_row(0)])
    bad = write_csv(tmp_path / "bad.csv", ETL_HEADER, [etl_row(1, value="nope")])
    with pytest.raises(InputError, match=r"bad\.csv, line 2"):
        chainrisk.ingest_file(store, [good, bad], "ethereum-etl")
    assert counts(store)[0] == 1 and counts(store)[3] == 1


# -- idempotence ----------------------------------------------------------------------------------------------


def test_reimport_adds_nothing(shared, tmp_path, store):
    path = shared / PHISH
    first = chainrisk.ingest_file(store, [path], "csv")
    state = (counts(store), stored(store))
    again = chainrisk.ingest_file(store, [path], "csv")
    assert again.files[0].status == "already imported" and again.rows_added == 0
    forced = chainrisk.ingest_file(store, [path], "csv", force=True)
    assert forced.rows_added == 0 and forced.rows_duplicate == first.rows_added
    # the same rows in another order (another file hash) add nothing either
    lines = path.read_text().splitlines()
    shuffled = tmp_path / "shuffled.csv"
    shuffled.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    other = chainrisk.ingest_file(store, [shuffled], "csv")
    assert other.files[0].status == "imported" and other.rows_added == 0
    assert (counts(store)[:3], stored(store)) == (state[0][:3], state[1])


def test_repeated_key_inside_a_file_is_stored_once(tmp_path, store):
    p = write_csv(tmp_path / "d.csv", ETL_HEADER, [etl_row(0, 5), etl_row(0, 5), etl_row(1, 6)])
    rep = chainrisk.ingest_file(store, [p], "ethereum-etl")
    assert (rep.rows_added, rep.rows_duplicate) == (2, 1)


# -- etherscan ------------------------------------------------------------------------------------------------

# Recorded shape of an Etherscan `module=account&action=tokentx` response (field names and string-typed values
# as documented at docs.etherscan.io); the values are made up.
def _tokentx(hash_: str, frm: str, to: str, value: str, *, contract: str = USDT, symbol: str = "USDT",
             decimals: str = "6", block: str = "16000000", ts: str = "1668470400") -> dict[str, str]:
    return {
        "blockNumber": block, "timeStamp": ts, "hash": hash_, "nonce": "12",
        "blockHash": "0x" + "ee" * 32, "from": frm, "contractAddress": contract, "to": to, "value": value,
        "tokenName": symbol + " token", "tokenSymbol": symbol, "tokenDecimal": decimals, "transactionIndex": "81",
        "gas": "940000", "gasPrice": "32010000000", "gasUsed": "77759", "cumulativeGasUsed": "2523379",
        "input": "deprecated", "confirmations": "7968350",
    }


NEW_TOKEN = "0x9f8f72aa9304c8b593d555f12ef6589cc3a579a2"
SENDER_EXPORT = [
    _tokentx(TX1, A1, A2, "5000000"),
    _tokentx(TX1, A1, A2, "5000000"),  # two identical Transfer logs in one transaction
    _tokentx(TX2, A1, A2, "5901522149285533025181", contract=NEW_TOKEN, symbol="MKR", decimals="18"),
]


def test_etherscan_json_keeps_identical_transfers_apart_and_overlapping_exports_dedupe(tmp_path, store):
    p = tmp_path / "sender.json"
    p.write_text(json.dumps({"status": "1", "message": "OK", "result": SENDER_EXPORT}))
    rep = chainrisk.ingest_file(store, [p], "etherscan")
    assert rep.rows_added == 3 and rep.files[0].tokens_registered == [NEW_TOKEN]
    keys = store.execute("SELECT log_index FROM transfers WHERE tx_hash = ? ORDER BY 1", [TX1]).fetchall()
    assert len(keys) == 2 and all(k < 0 for (k,) in keys)
    mkr = store.resolve_token(NEW_TOKEN)
    assert (mkr.symbol, mkr.decimals, mkr.kind) == ("MKR", 18, "other")
    assert store.execute("SELECT block_time FROM transfers LIMIT 1").fetchone() == (datetime(2022, 11, 15),)
    # the receiver's export (CSV this time) holds one of the two identical transfers and the MKR one
    other = tmp_path / "receiver.csv"
    write_csv(other, list(SENDER_EXPORT[0]), [list(r.values()) for r in SENDER_EXPORT[1:]])
    rep2 = chainrisk.ingest_file(store, [other], "etherscan")
    assert (rep2.rows_read, rep2.rows_added, rep2.rows_duplicate) == (2, 0, 2)
    assert counts(store)[0] == 3


def test_etherscan_error_response_is_an_input_error(tmp_path, store):
    p = tmp_path / "err.json"
    p.write_text(json.dumps({"status": "0", "message": "NOTOK", "result": "Max rate limit reached"}))
    with pytest.raises(InputError, match=r"Etherscan error response.*Max rate limit reached"):
        chainrisk.ingest_file(store, [p], "etherscan")
    p.write_text(json.dumps({"status": "0", "message": "No transactions found", "result": []}))
    assert chainrisk.ingest_file(store, [p], "etherscan").rows_read == 0


def test_register_tokens_off_keeps_only_the_registry(tmp_path, store):
    p = tmp_path / "s.json"
    p.write_text(json.dumps({"status": "1", "message": "OK", "result": SENDER_EXPORT}))
    rep = chainrisk.ingest_file(store, [p], "etherscan", register_tokens=False)
    assert (rep.rows_added, rep.rows_unregistered_token) == (2, 1)
    with pytest.raises(InputError):
        store.resolve_token(NEW_TOKEN)


def test_usage_errors(tmp_path, store):
    p = write_csv(tmp_path / "x.csv", ETL_HEADER, [etl_row(0)])
    with pytest.raises(UsageError, match="unknown file format"):
        chainrisk.ingest_file(store, [p], "cryo")
    with pytest.raises(UsageError, match="--input-format csv only"):
        chainrisk.ingest_file(store, [p], "bigquery", mapping={"value": "v"})
    with pytest.raises(UsageError, match="needs skip_bad"):
        chainrisk.ingest_file(store, [p], "ethereum-etl", reject_path=tmp_path / "r.csv")
    with pytest.raises(UsageError, match="is an EVM export; TRON files are read with"):
        chainrisk.ingest_file(store, [p], "ethereum-etl", chain="tron")


def test_positions_are_rows_in_parquet_and_records_in_etherscan_json(tmp_path, store):
    p = tmp_path / "bq.parquet"
    duckdb.connect().execute(
        f"COPY (SELECT '{USDT}' AS token_address, '{A1}' AS from_address, '{A2}' AS to_address,"
        f" CASE WHEN i = 3 THEN '-5' ELSE CAST(i AS VARCHAR) END AS value, '{TX1}' AS transaction_hash,"
        f" i AS log_index, TIMESTAMPTZ '2020-01-01 00:00:00+00' AS block_timestamp, CAST(1 AS BIGINT) AS block_number"
        f" FROM range(5) r(i)) TO '{p}' (FORMAT parquet)")
    with pytest.raises(InputError, match=r"bq\.parquet, row 4: value is not a non-negative integer: -5"):
        chainrisk.ingest_file(store, [p], "bigquery")
    j = tmp_path / "tokentx.json"
    rows = [_tokentx(TX1, A1, A2, "1"), _tokentx(TX2, A1, "0xnope", "2")]
    j.write_text(json.dumps({"status": "1", "message": "OK", "result": rows}))
    with pytest.raises(InputError, match=r"tokentx\.json, record 2: to_address is not an address"):
        chainrisk.ingest_file(store, [j], "etherscan")
    assert counts(store)[0] == 0


def test_memory_limit_applies_during_the_import_only(tmp_path, store):
    before = store.execute("SELECT current_setting('memory_limit')").fetchone()
    p = write_csv(tmp_path / "t.csv", ETL_HEADER, [etl_row(0)])
    seen = []
    chainrisk.ingest_file(store, [p], "ethereum-etl", memory_limit="256MB",
                          progress=lambda rep: seen.append(store.execute(
                              "SELECT current_setting('memory_limit')").fetchone()))
    assert seen and seen[0] != before and seen[0][0].endswith("MiB")
    assert store.execute("SELECT current_setting('memory_limit')").fetchone() == before
    with pytest.raises(UsageError, match="bad memory limit"):
        chainrisk.ingest_file(store, [p], "ethereum-etl", memory_limit="lots")


def test_blocks_file_as_json_lines(tmp_path, store):
    p = write_csv(tmp_path / "t.csv", ETL_HEADER, [etl_row(0, block=7), etl_row(1, block=8)])
    blocks = tmp_path / "blocks.json"
    blocks.write_text(json.dumps({"number": 7, "hash": TX2, "timestamp": 1700000000}) + "\n")
    rep = chainrisk.ingest_file(store, [p], "ethereum-etl", blocks_file=blocks)
    assert rep.rows_without_time == 1
    assert store.execute("SELECT block_number, block_time FROM transfers ORDER BY 1").fetchall() == [
        (7, datetime(2023, 11, 14, 22, 13, 20)), (8, None)]
    with pytest.raises(InputError, match="no number and timestamp columns"):
        chainrisk.ingest_file(store, [p], "ethereum-etl", blocks_file=p, force=True)


def test_etherscan_result_list_alone_and_json_lines(tmp_path, store):
    bare = tmp_path / "list.json"
    bare.write_text(json.dumps(SENDER_EXPORT))
    lines = tmp_path / "tokentx.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in SENDER_EXPORT) + "\n")
    assert chainrisk.ingest_file(store, [bare], "etherscan").rows_added == 3
    rep = chainrisk.ingest_file(store, [lines], "etherscan")
    assert (rep.rows_read, rep.rows_added, rep.rows_duplicate) == (3, 0, 3)
