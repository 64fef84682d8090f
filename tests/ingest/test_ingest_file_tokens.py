"""Unregistered tokens are kept, not silently dropped: a real stablecoin export without decimals (BigQuery
``token_transfers`` shape, built at test time from the phishing dev set) is stored row for row; with
``--registered-only`` the rows left out are reported by token. Tokens of unknown decimals are never priced."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest

import chainrisk
from chainrisk.cli import main

PHISH = "stablecoin_transfers_phishing_dev/stablecoin_transfers.csv"
# tokens of the export an older registry lacked: to test unregistered tokens, the test's store forgets them
FORGET = {"sUSD": "0x57ab1ec28d129707052df4df418d58a2d46d5f51", "TUSD_OLD": "0x8dd5fbce2f6a956c3022ba3663759011dd51e73e",
          "SAI": "0x89d24a6b4ccb1b6faa2625fe562bdd9a23260359", "PAXG": "0x45804880de22913dafe09f4980848ece6ecbaf78"}


def bigquery_export(shared: Path, out: Path, fmt: str) -> tuple[Path, dict[str, int]]:
    """The phishing dev transfers as a BigQuery ``token_transfers`` export: no symbol, no decimals. The
    source has no log index (Etherscan tokentx); the export numbers each transaction's rows from 0."""
    src = shared / PHISH
    con = duckdb.connect()
    path = out / f"bq.{fmt}"
    opts = "(FORMAT parquet)" if fmt == "parquet" else "(HEADER)"
    # BigQuery: a TIMESTAMP column in Parquet, 'YYYY-MM-DD HH:MM:SS UTC' text in CSV
    ts = ("CAST(block_time_utc AS TIMESTAMPTZ)" if fmt == "parquet"
          else "rtrim(replace(block_time_utc, 'T', ' '), 'Z') || ' UTC'")
    con.execute(f"""COPY (SELECT token_address, from_address, to_address, value_raw AS value, tx_hash AS transaction_hash,
                                 CAST(row_number() OVER (PARTITION BY tx_hash ORDER BY token_address, from_address,
                                      to_address, value_raw) - 1 AS BIGINT) AS log_index,
                                 {ts} AS block_timestamp, CAST(block_number AS BIGINT) AS block_number,
                                 '0x' || repeat('0', 64) AS block_hash
                          FROM read_csv('{src}', all_varchar = true)) TO '{path}' {opts}""")
    con.close()
    with src.open(newline="") as f:
        by_symbol: dict[str, int] = {}
        for r in csv.DictReader(f):
            by_symbol[r["token_symbol"]] = by_symbol.get(r["token_symbol"], 0) + 1
    return path, by_symbol


def forget(st: chainrisk.Store) -> None:
    st.execute("DELETE FROM tokens WHERE chain = 'ethereum' AND contract IN (SELECT unnest(?))", [list(FORGET.values())])


def by_contract(st: chainrisk.Store) -> dict[str, int]:
    return dict(st.execute("SELECT token_address, count(*) FROM transfers_view GROUP BY 1").fetchall())


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_every_row_of_a_real_export_without_decimals_is_stored(shared, tmp_path, fmt):
    path, by_symbol = bigquery_export(shared, tmp_path, fmt)
    n = sum(by_symbol.values())
    assert n == 11347 and all(by_symbol[s] > 0 for s in FORGET)
    with chainrisk.open(tmp_path / "s.duckdb") as st:
        forget(st)
        rep = chainrisk.ingest_file(st, [path], "bigquery")
        assert (rep.rows_read, rep.rows_added, rep.rows_unregistered_token, rep.rows_rejected) == (n, n, 0, 0)
        assert rep.rows_unknown_decimals == sum(by_symbol[s] for s in FORGET)
        assert sorted(rep.files[0].tokens_unknown_decimals) == sorted(FORGET.values())
        got = by_contract(st)
        for sym, contract in FORGET.items():
            assert got[contract] == by_symbol[sym], sym
        assert sum(got.values()) == n
        # unknown decimals: activity for the graph (addresses, counterparties), never priced
        row = st.execute(
            "SELECT count(*), count(amount), count(amount_usd), count(DISTINCT from_address)"
            " FROM transfers_view WHERE token_address IN (SELECT unnest(?))", [list(FORGET.values())]).fetchone()
        assert row is not None and row[0] == rep.rows_unknown_decimals and row[1:3] == (0, 0) and row[3] > 0
        for contract in FORGET.values():
            tok = st.resolve_token(contract)
            assert (tok.decimals, tok.usd_peg, tok.kind) == (None, None, "other")
        # the scoring input gives them no USD value: the engine's usd_peg/amount IS NULL path (activity only)
        (priced,) = st.execute(
            "SELECT count(*) FROM transfers t JOIN tokens k ON k.id = t.token_id"
            " WHERE k.contract IN (SELECT unnest(?)) AND t.amount * k.usd_peg IS NOT NULL",
            [list(FORGET.values())]).fetchone() or (1,)
        assert priced == 0
        # a newer registry (reopening the store) fills the decimals in and prices the stablecoins
    with chainrisk.open(tmp_path / "s.duckdb") as st:
        susd = st.resolve_token(FORGET["sUSD"])
        assert (susd.decimals, susd.usd_peg, susd.kind) == (18, 1.0, "stablecoin")
        assert st.execute("SELECT count(amount_usd) FROM transfers_view WHERE token_address = ?",
                          [FORGET["sUSD"]]).fetchone() == (by_symbol["sUSD"],)


def test_registered_only_reports_what_it_left_out_by_token(shared, tmp_path):
    path, by_symbol = bigquery_export(shared, tmp_path, "parquet")
    n = sum(by_symbol.values())
    left = sum(by_symbol[s] for s in FORGET)
    with chainrisk.open(tmp_path / "s.duckdb") as st:
        forget(st)
        rep = chainrisk.ingest_file(st, [path], "bigquery", registered_only=True)
        assert (rep.rows_read, rep.rows_added, rep.rows_unregistered_token) == (n, n - left, left)
        assert rep.rows_added + rep.rows_unregistered_token == rep.rows_read  # every row accounted for
        assert rep.unregistered_by_token == {c: by_symbol[s] for s, c in FORGET.items()}
        assert set(by_contract(st)).isdisjoint(FORGET.values())


def test_with_the_bundled_registry_every_stablecoin_of_the_export_is_priced(shared, tmp_path):
    path, by_symbol = bigquery_export(shared, tmp_path, "parquet")
    with chainrisk.open(tmp_path / "s.duckdb") as st:
        rep = chainrisk.ingest_file(st, [path], "bigquery", registered_only=True)
        assert rep.rows_added == sum(by_symbol.values()) and rep.rows_unregistered_token == 0
        rows = {r[0]: r[1:] for r in st.execute(
            "SELECT token, count(*), count(amount_usd) FROM transfers_view GROUP BY 1").fetchall()}
        assert set(rows) == set(by_symbol)
        for sym, n in by_symbol.items():  # PAXG is gold: counted, not priced in USD
            assert rows[sym] == (n, 0 if sym == "PAXG" else n), sym


def test_cli_says_which_rows_were_kept_or_left_out(shared, tmp_path, capsys):
    # the ethereum-etl fixture: real token_transfers (no decimals) of tokens outside the registry (WETH, NFTs)
    path = shared / "ethereum_etl_fixtures" / "expected_token_transfers_blocks_17173049_17173050.jsonl"
    db = tmp_path / "c.duckdb"
    argv = ["--db", str(db), "ingest", "file", str(path), "--input-format", "ethereum-etl", "--format", "json"]
    assert _run([*argv, "--registered-only"]) == 0
    cap = capsys.readouterr()
    rep = json.loads(cap.out)
    assert rep["token_policy"] == "registered-only" and rep["rows_added"] == 52
    weth = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
    assert rep["unregistered_by_token"][weth] > 0 and sum(rep["unregistered_by_token"].values()) == 291 - 52
    assert "left out (--registered-only)" in cap.err and f"{weth} {rep['unregistered_by_token'][weth]:,}" in cap.err
    assert _run([*argv, "--force"]) == 0
    cap = capsys.readouterr()
    rep = json.loads(cap.out)
    assert rep["token_policy"] == "register" and rep["rows_unknown_decimals"] == rep["rows_added"] == 291 - 52
    assert weth in rep["tokens_unknown_decimals"]
    assert "stored as activity" in cap.err and "never priced" in cap.err
    assert _run(["--db", str(db), "ingest", "file", str(path), "--input-format", "ethereum-etl", "--force"]) == 0
    out = capsys.readouterr().out.splitlines()
    header = out[0].split()
    assert "unknown_decimals" in header and "unregistered_token" in header


def _run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def test_unknown_decimals_are_activity_in_a_scoring_run_and_raw_units_in_a_report(shared, tmp_path):
    path, _ = bigquery_export(shared, tmp_path, "parquet")
    with chainrisk.open(tmp_path / "s.duckdb") as st:
        forget(st)
        chainrisk.ingest_file(st, [path], "bigquery")
        # an address whose only transfers are of a token with unknown decimals
        row = st.execute(
            """SELECT a, max(raw) FROM (
                   SELECT from_address AS a, token_address AS tok, value_exact AS raw FROM transfers_view
                   UNION ALL SELECT to_address, token_address, value_exact FROM transfers_view)
               GROUP BY a HAVING bool_and(tok IN (SELECT unnest(?))) ORDER BY a LIMIT 1""",
            [list(FORGET.values())]).fetchone()
        assert row is not None
        addr, raw = row
        chainrisk.score(st, profile="cn")
        [res] = chainrisk.lookup(st, [addr])
        d = res.to_dict()
        assert d["status"] == "ok" and (d["volume_in_usd"] or 0) == 0 and (d["volume_out_usd"] or 0) == 0
        out = chainrisk.report(st, addr, tmp_path / "r.md")
        text = out.read_text(encoding="utf-8")
        assert f"{raw} (raw)" in text
