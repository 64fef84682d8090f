"""`chainrisk ingest file`: the CLI shell over ingest_file (report on stdout, exit codes, reject file)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import chainrisk
from chainrisk.cli import main

USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
A1 = "0x1111111111111111111111111111111111111111"
A2 = "0x2222222222222222222222222222222222222222"
HEADER = ["token_address", "from_address", "to_address", "value", "transaction_hash", "log_index", "block_number"]


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def etl_file(path: Path, values: list[str]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADER)
        for i, v in enumerate(values):
            w.writerow([USDT, A1, A2, v, "0x" + f"{i:064x}", 0, 100 + i])
    return path


def test_import_prints_report_and_reimport_adds_nothing(tmp_path, capsys):
    db = str(tmp_path / "s.duckdb")
    p = etl_file(tmp_path / "t.csv", ["1", "2", str(2**130)])
    assert run(["--db", db, "ingest", "file", str(p), "--input-format", "ethereum-etl", "--format", "json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert (rep["rows_read"], rep["rows_added"]) == (3, 3)
    assert run(["--db", db, "ingest", "file", str(p), "--input-format", "ethereum-etl", "--format", "json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["files"][0]["status"] == "already imported" and rep["rows_added"] == 0
    assert run(["--db", db, "ingest", "file", str(p), "--input-format", "ethereum-etl"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:4] == ["file", "status", "read", "added"]
    with chainrisk.open(db) as st:
        assert st.execute("SELECT max(value_raw) FROM transfers").fetchone() == (str(2**130),)


def test_bad_row_exits_4_and_skip_bad_exits_3_with_reject_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "s.duckdb")
    p = etl_file(tmp_path / "t.csv", ["1", "x2", "3"])
    assert run(["--db", db, "ingest", "file", str(p), "--input-format", "ethereum-etl"]) == 4
    err = capsys.readouterr().err
    assert f"Error: {p}, line 3: value is not a non-negative integer: x2" in err
    code = run(["--db", db, "ingest", "file", str(p), "--input-format", "ethereum-etl", "--skip-bad", "--format", "csv"])
    assert code == 3
    captured = capsys.readouterr()
    row = next(csv.DictReader(captured.out.splitlines()))
    assert (row["added"], row["rejected"]) == ("2", "1")
    assert "written to rejects.csv" in captured.err
    with (tmp_path / "rejects.csv").open() as f:
        assert [(r["line"], r["reason"]) for r in csv.DictReader(f)] == [
            ("3", "value is not a non-negative integer: x2")]


def test_csv_map_options_and_usage_errors(tmp_path, capsys):
    db = str(tmp_path / "s.duckdb")
    p = tmp_path / "m.csv"
    p.write_text(f"h;blk;tok;a;b;amt\n0x{'ab' * 32};7;{USDT};{A1};{A2};1.25\n")
    mapping = tmp_path / "map.toml"
    mapping.write_text('[mapping]\ntx_hash = "h"\nblock_number = "blk"\ntoken_address = "tok"\n')
    args = ["--db", db, "ingest", "file", str(p), "--input-format", "csv", "--mapping", str(mapping),
            "--map", "from_address=a", "--map", "to_address=b", "--map", "amount=amt", "--format", "json"]
    assert run(args) == 0
    assert json.loads(capsys.readouterr().out)["rows_added"] == 1
    with chainrisk.open(db) as st:
        assert st.execute("SELECT value FROM transfers").fetchone() == (1250000,)
    assert run(["--db", db, "ingest", "file", str(p), "--input-format", "bigquery", "--map", "value=amt"]) == 2
    assert "--input-format csv only" in capsys.readouterr().err
    assert run(["--db", db, "ingest", "file", str(p), "--input-format", "csv", "--map", "oops"]) == 2
    assert "FIELD=COLUMN" in capsys.readouterr().err
    assert run(["--db", db, "ingest", "file", str(tmp_path / "missing.csv"), "--input-format", "csv"]) == 4
    assert "no such file" in capsys.readouterr().err


def test_help_lists_every_format(capsys):
    assert run(["ingest", "file", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(f in out for f in ("bigquery", "ethereum-etl", "etherscan", "csv", "--skip-bad", "--reject-file"))
