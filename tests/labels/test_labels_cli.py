"""`chainrisk labels ...`: outputs (table/json/csv) and exit codes through the real entry point."""

from __future__ import annotations

import csv
import io
import json
import socket
from pathlib import Path

import pytest

from chainrisk.cli import main

A = "0x" + "a1" * 20
HEADER = "address,category,label,source,confidence,chain\n"


def run(db: Path, *args: str) -> int:
    try:
        rv = main(["--db", str(db), "-q", *args])
    except SystemExit as e:
        return int(e.code or 0)
    return int(rv or 0)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cli.duckdb"


def test_import_show_list_sources(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "mine.csv"
    f.write_text(HEADER + f"{A},scam,Fake ICO,acme,20,\n{A},exchange,Deposit,other-src,50,\n0x12,scam,bad,acme,20,\n")
    assert run(db, "labels", "import", str(f), "--input-format", "csv", "--format", "json") == 0
    out = capsys.readouterr()
    res = {r["source"]: r for r in json.loads(out.out)}
    assert (res["acme"]["added"], res["acme"]["skipped"], res["other-src"]["added"]) == (1, 1, 1)
    assert "warning: acme: skipped 1 row(s): invalid address" in out.err

    assert run(db, "labels", "import", str(f), "--input-format", "csv", "--strict") == 3
    assert "skipped" in capsys.readouterr().err

    assert run(db, "labels", "show", A.upper().replace("0X", "0x"), "--format", "json", "--profile", "cn") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["address"] == A and shown["chain"] == "ethereum"
    assert {(x["category"], x["severity"]) for x in shown["labels"]} == {("scam", 80), ("exchange", 70)}

    assert run(db, "labels", "show", A) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:4] == ["status", "chain", "category", "name"] and "Fake ICO" in table

    assert run(db, "labels", "list", "--format", "csv", "--category", "scam") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["address"], r["source"]) for r in rows] == [(A, "acme")]

    assert run(db, "labels", "sources", "--format", "json") == 0
    srcs = {s["source"]: s for s in json.loads(capsys.readouterr().out)}
    assert srcs["acme"]["active"] == 1 and srcs["acme"]["unchanged"] == 1


@pytest.mark.parametrize(("args", "code", "message"), [
    (("labels", "show", "0x1234"), 4, "40 hex digits"),
    (("labels", "import", "--input-format", "bundled", "--confidence", "101"), 2, "101"),
    (("labels", "import", "nothing.txt", "--input-format", "list", "--category", "scam"), 4, "no such file"),
    (("labels", "import", "--input-format", "list"), 2, "needs at least one file"),
    (("labels", "list", "--category", "teleport"), 4, "accepted: sanctions"),
    (("labels", "categories", "--profile", "mars"), 4, "unknown profile 'mars'"),
])
def test_exit_codes(db: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], code: int,
                    message: str) -> None:
    assert run(db, *args) == code
    assert message in capsys.readouterr().err


def test_bad_category_in_file_exits_4_naming_the_accepted_ones(db: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(HEADER + f"{A},terror,X,s,20,\n")
    assert run(db, "labels", "import", str(f), "--input-format", "csv") == 4
    err = capsys.readouterr().err
    assert err.startswith("Error: bad.csv line 2: unknown label category 'terror'; accepted: sanctions")


def test_update_bundled_only_and_unreachable_ofac(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(db, "labels", "update", "--no-ofac", "--no-onchain", "--format", "json") == 0
    res = {r["source"]: r for r in json.loads(capsys.readouterr().out)}
    assert res["chainrisk:mixers"]["added"] == 15 and res["chainrisk:tokens"]["labels"] > 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert run(db, "labels", "update", "--ofac-url", f"http://127.0.0.1:{port}/x.xml", "--timeout", "2") == 5
    assert "127.0.0.1" in capsys.readouterr().err


def test_categories_under_profiles(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(db, "labels", "categories", "--profile", "fatf", "--format", "json") == 0
    fatf = {r["category"]: r["severity"] for r in json.loads(capsys.readouterr().out)}
    assert run(db, "labels", "categories", "--profile", "cn", "--format", "json") == 0
    cn = {r["category"]: r["severity"] for r in json.loads(capsys.readouterr().out)}
    assert fatf["exchange"] == 0 and cn["exchange"] > 0


def test_every_labels_command_is_documented() -> None:
    from chainrisk.cli.labels import labels

    for name, cmd in labels.commands.items():
        assert cmd.help and len(cmd.help) > 30, name


def test_show_other_chains_and_tron_hex(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from chainrisk.address import tron_to_hex

    f = tmp_path / "x.csv"
    f.write_text("address,category,label,source,asset\n"
                 "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t,other,tron thing,s,\n"
                 "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa,scam,btc thing,s,XBT\n")
    assert run(db, "labels", "import", str(f), "--input-format", "csv") == 0
    capsys.readouterr()
    assert run(db, "labels", "show", tron_to_hex("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"), "--format", "json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["chain"] == "tron" and [x["name"] for x in shown["labels"]] == ["tron thing"]
    assert run(db, "labels", "show", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "--format", "json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert [(x["chain"], x["name"]) for x in shown["labels"]] == [("bitcoin", "btc thing")]
