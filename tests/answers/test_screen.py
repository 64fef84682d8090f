"""screen: one row per input row in order, pass-through columns, every input and output format, the audit report,
--since, --fail-on and the exit codes; the CSV output is a golden contract."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import scored_store as S

import chainrisk
from chainrisk.address import to_checksum
from chainrisk.answers.screen import RESULT_COLUMNS, screen
from chainrisk.cli import cli, main
from chainrisk.errors import InputError, NoScoringRun, UsageError

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
BAD_CHECKSUM = to_checksum(S.CLEAN)[:-1] + to_checksum(S.CLEAN)[-1].swapcase()

ROWS = [  # customer_id, address, status (a bank column named like a result column), note
    ("c1", S.SUBJECT.upper().replace("0X", "0x"), "open", "all caps"),
    ("c2", to_checksum(S.CLEAN), "open", "checksummed"),
    ("c3", BAD_CHECKSUM, "closed", "typo in checksum"),
    ("c4", "", "open", "empty"),
    ("c5", S.TRON, "open", "tron, no data"),
    ("c6", S.SUBJECT, "open", "duplicate of c1 (lower case)"),
    ("c7", "hello, world", "open", "junk with a comma"),
    ("c8", f"  {S.MIXER}\t", "open", "spaces around"),
    ("c9", S.LATE, "open", "after the run"),
    ("c10", S.MULE, "open", "客户 (UTF-8 text passes through)"),
]


def write_csv(path: Path, rows=ROWS, header=("customer_id", "address", "status", "note"), encoding="utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def scored(store):
    S.build(store)
    return store


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def golden(name: str, data: str) -> str:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(data, encoding="utf-8")
    return path.read_text(encoding="utf-8")


def test_csv_golden_one_row_per_input_row_in_order(scored, tmp_path):
    src = write_csv(tmp_path / "declared.csv")
    out = tmp_path / "screened.csv"
    res = screen(scored, src, output=out, fail_on="high")
    text = out.read_text(encoding="utf-8")
    assert text == golden("screen.csv", text)
    rows = read_csv(out)
    assert [r["customer_id"] for r in rows] == [r[0] for r in ROWS]
    assert list(rows[0])[:4] == ["customer_id", "address", "input_status", "note"]   # clash renamed, kept
    assert [r["input_status"] for r in rows] == [r[2] for r in ROWS]
    assert rows[9]["note"] == ROWS[9][3] and rows[6]["address"] == "hello, world"
    assert list(rows[0])[4:] == list(RESULT_COLUMNS)
    assert [r["status"] for r in rows] == ["ok", "ok", "invalid", "invalid", "unknown", "ok", "invalid", "ok",
                                           "unknown", "ok"]
    assert rows[5]["duplicate_of_row"] == "1" and rows[0]["duplicate_of_row"] == ""
    assert rows[0]["risk_band"] == rows[5]["risk_band"] == "high"
    assert rows[4]["chain"] == "tron" and rows[7]["address_normalized"] == S.MIXER
    assert "EIP-55" in rows[2]["reason"] and rows[3]["reason"] == "empty address"
    assert rows[0]["categories"] == "mixer;exchange" and rows[0]["min_hops"] == "1"
    assert res.hits("high") == 4 and res.report["hits"] == 4


def test_report_is_the_audit_trail(scored, tmp_path):
    src = write_csv(tmp_path / "declared.csv")
    out = tmp_path / "screened.csv"
    res = screen(scored, src, output=out, fail_on="severe")
    rep = json.loads((tmp_path / "screened.report.json").read_text())
    assert res.report["report_path"] == str(tmp_path / "screened.report.json")
    assert rep == json.loads(json.dumps({k: v for k, v in res.report.items() if k != "report_path"}, default=str))
    assert rep["input"]["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert rep["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert rep["input"]["rows"] == 10 and rep["output"]["rows"] == 10
    assert rep["counts"]["status"] == {"ok": 5, "unknown": 2, "invalid": 3}
    assert rep["counts"]["band"] == {"none": 1, "low": 0, "medium": 0, "high": 2, "severe": 2}
    assert rep["counts"]["duplicate_rows"] == 1 and rep["counts"]["distinct_addresses"] == 6
    assert rep["run"]["run_id"] == S.R_NEW and rep["run"]["profile"] == "cn"
    assert rep["fail_on"] == "severe" and rep["hits"] == 2
    assert set(rep["timings"]) == {"read_s", "normalise_s", "score_s", "write_s", "total_s"}
    assert rep["chainrisk_version"]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "parquet"])
def test_output_formats_carry_the_same_rows(scored, tmp_path, fmt):
    src = write_csv(tmp_path / "declared.csv")
    base = screen(scored, src, output=tmp_path / "base.csv")
    res = screen(scored, src, output=tmp_path / f"out.{fmt}")
    assert res.format == fmt
    if fmt == "jsonl":
        rows = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    elif fmt == "json":
        rows = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    else:
        import pyarrow.parquet as pq

        rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    expect = read_csv(tmp_path / "base.csv")
    assert [r["customer_id"] for r in rows] == [r["customer_id"] for r in expect]
    assert [r["status"] for r in rows] == [r["status"] for r in expect]
    assert [r["risk_score"] for r in rows][:2] == [62.5, 0.0]
    assert base.arrow().num_rows == res.arrow().num_rows == 10


def test_in_memory_inputs_and_dataframe(scored):
    import pandas as pd

    res = screen(scored, [S.SUBJECT, "junk", S.SUBJECT, None])
    df = res.df()
    assert list(df["status"]) == ["ok", "invalid", "ok", "invalid"]
    assert list(df["duplicate_of_row"].fillna(0).astype(int)) == [0, 0, 1, 0]
    frame = pd.DataFrame({"ref": [1, 2], "wallet": [S.MULE, S.TRON]})
    t = screen(scored, frame, address_column="wallet").arrow()
    assert t.column("ref").to_pylist() == ["1", "2"] and t.column("risk_band").to_pylist() == ["severe", None]


def test_xlsx_jsonl_and_list_inputs(scored, tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["客户编号", "钱包地址", "amount"])
    ws.append([1001, S.SUBJECT, 12.5])
    ws.append([1002, "bad", 3.0])
    wb.save(tmp_path / "declared.xlsx")
    t = screen(scored, tmp_path / "declared.xlsx", address_column="钱包地址").arrow()
    assert t.column("客户编号").to_pylist() == ["1001", "1002"] and t.column("amount").to_pylist() == ["12.5", "3"]
    assert t.column("status").to_pylist() == ["ok", "invalid"]

    (tmp_path / "d.jsonl").write_text(
        json.dumps({"id": 7, "address": S.MULE}) + "\n" + json.dumps({"id": "x", "address": "nope"}) + "\n",
        encoding="utf-8")
    t = screen(scored, tmp_path / "d.jsonl").arrow()
    assert t.column("id").to_pylist() == ["7", "x"] and t.column("status").to_pylist() == ["ok", "invalid"]

    (tmp_path / "list.txt").write_text(f"{S.SUBJECT}\n{S.TRON}\nnot one\n", encoding="utf-8")
    t = screen(scored, tmp_path / "list.txt").arrow()
    assert t.column("status").to_pylist() == ["ok", "unknown", "invalid"]
    # a one-column CSV without a header is a list: the first line is an address, not a header
    (tmp_path / "noheader.csv").write_text(f"{S.MULE}\n{S.SUBJECT}\n", encoding="utf-8")
    t = screen(scored, tmp_path / "noheader.csv").arrow()
    assert t.column("address_normalized").to_pylist() == [S.MULE, S.SUBJECT]


def test_malformed_rows_never_stop_the_batch(scored, tmp_path):
    # ragged rows, a quoted new line, and a GB18030 export (common from Chinese bank systems)
    text = f'id,address,note\n1,{S.SUBJECT},ok\n2,{S.MULE},"two\nlines"\n3\n4,{S.TRON},x,extra\n'
    (tmp_path / "ragged.csv").write_bytes(text.encode("gb18030"))
    res = screen(scored, tmp_path / "ragged.csv")
    t = res.arrow()
    assert t.column("id").to_pylist() == ["1", "2", "3", "4"]
    assert t.column("status").to_pylist() == ["ok", "ok", "invalid", "unknown"]
    assert t.column("note").to_pylist()[1] == "two\nlines"
    assert t.column("extra_fields").to_pylist() == [None, None, None, "extra"]
    assert res.report["input"]["reader"] == "python"
    write_csv(tmp_path / "gbk.csv", rows=[("c1", S.MULE, "开户", "中文备注")], encoding="gb18030")
    t = screen(scored, tmp_path / "gbk.csv").arrow()
    assert t.column("note").to_pylist() == ["中文备注"] and t.column("status").to_pylist() == ["ok"]


@pytest.mark.parametrize(("content", "name", "match"), [
    (None, "missing.csv", "cannot read"),
    (b"", "empty.csv", "is empty"),
    (b"\x00\x01\x02\x03binary\x00", "blob.csv", "not a text file"),
    (b"PK\x03\x04 not really a zip", "book.xlsx", "cannot read .* as XLSX"),
])
def test_unreadable_input_is_one_clear_error(scored, tmp_path, content, name, match):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=match):
        screen(scored, path)


def test_address_column_matches_ignoring_case(scored, tmp_path):
    src = write_csv(tmp_path / "d.csv", rows=[("c1", S.MULE, "", "")], header=("id", " Address ", "status", "note"))
    res = screen(scored, src)
    assert res.arrow().column("status").to_pylist() == ["ok"]
    assert res.report["input"]["address_column"].strip() == "Address"


def test_missing_address_column_names_the_columns(scored, tmp_path):
    src = write_csv(tmp_path / "d.csv")
    with pytest.raises(UsageError, match=r"no column 'wallet' .*customer_id, address, status, note"):
        screen(scored, src, address_column="wallet")


def test_since_shows_only_band_changes(scored, tmp_path):
    src = write_csv(tmp_path / "declared.csv")
    res = screen(scored, src, since=S.R_OLD, output=tmp_path / "changed.csv")
    rows = read_csv(tmp_path / "changed.csv")
    # SUBJECT went low -> high (rows c1, c6); MIXER, MULE and CLEAN kept their band; invalid/unknown rows drop
    assert [r["customer_id"] for r in rows] == ["c1", "c6"]
    assert {(r["previous_risk_band"], r["risk_band"], r["previous_run_id"]) for r in rows} == {
        ("low", "high", S.R_OLD)}
    assert res.report["since"] == {"run_id": S.R_OLD, "profile": "cn", "changed_rows": 2}
    assert res.report["counts"]["input_rows"] == 10
    with pytest.raises(NoScoringRun):
        screen(scored, src, since="r-nope")


def test_no_scoring_run(store, tmp_path):
    S.build(store, runs=False)
    with pytest.raises(NoScoringRun):
        screen(store, write_csv(tmp_path / "d.csv"))


# -- CLI -------------------------------------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "cli.duckdb"
    with chainrisk.open(path) as st:
        S.build(st)
    return path


def code_of(argv: list[str]) -> int:
    try:
        rv = main(argv)
    except SystemExit as e:
        return int(e.code or 0)
    return int(rv or 0)


def test_cli_stdout_csv_and_summary(db, tmp_path):
    src = write_csv(tmp_path / "declared.csv")
    r = CliRunner().invoke(cli, ["--db", str(db), "screen", str(src)], catch_exceptions=False)
    assert r.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 10 and rows[0]["risk_band"] == "high"
    assert "screened 10 rows (6 distinct addresses; 1 duplicate rows) against run r-new" in r.stderr


def test_cli_stdin_list(db):
    r = CliRunner().invoke(cli, ["--db", str(db), "screen", "-", "--format", "jsonl"],
                           input=f"{S.MULE}\n{S.SUBJECT}\n", catch_exceptions=False)
    assert [json.loads(x)["status"] for x in r.stdout.splitlines()] == ["ok", "ok"]


@pytest.mark.parametrize(("extra", "code"), [
    ([], 0),
    (["--fail-on", "high"], 1),
    (["--fail-on", "severe"], 1),
    (["--since", S.R_OLD, "--fail-on", "severe"], 1),
    (["--address-column", "wallet"], 2),
    (["--format", "xls"], 2),
    (["--run", "r-missing"], 7),
])
def test_cli_exit_codes(db, tmp_path, extra, code):
    src = write_csv(tmp_path / "declared.csv")
    assert code_of(["--db", str(db), "-q", "screen", str(src), "-o", str(tmp_path / "o.csv"), *extra]) == code


def test_cli_exit_codes_clean_file_unreadable_and_no_run(db, tmp_path):
    clean = write_csv(tmp_path / "clean.csv", rows=[("c1", S.CLEAN, "", "")])
    assert code_of(["--db", str(db), "-q", "screen", str(clean), "-o", str(tmp_path / "o.csv"),
                    "--fail-on", "low"]) == 0
    assert code_of(["--db", str(db), "-q", "screen", str(tmp_path / "nope.csv")]) == 4
    empty = tmp_path / "empty.duckdb"
    chainrisk.open(empty).close()
    assert code_of(["--db", str(empty), "-q", "screen", str(clean)]) == 7
    assert code_of(["--db", str(db), "-q", "screen", str(clean), "--format", "parquet"]) == 2


def test_bulk_eip55_agrees_with_parse_address(scored):
    import random

    from chainrisk.address import try_parse
    from chainrisk.answers.screen import _keccak_many

    rng = random.Random(5)
    values = []
    for _ in range(300):
        c = to_checksum("0x" + "".join(rng.choice("0123456789abcdef") for _ in range(40)))
        letters = [i for i in range(2, 42) if c[i].isalpha()]
        if rng.random() < 0.5 and letters:   # one letter with the wrong case: always a checksum error
            i = rng.choice(letters)
            c = c[:i] + c[i].swapcase() + c[i + 1:]
        values.append(c)
    rows = screen(scored, values).arrow().to_pylist()
    expect = ["invalid" if isinstance(try_parse(v), Exception) else "unknown" for v in values]
    assert [r["status"] for r in rows] == expect and 100 < expect.count("invalid") < 200
    from eth_hash.auto import keccak

    bodies = [v[2:].lower() for v in values[:50]]
    digests = _keccak_many("".join(bodies).encode(), 40)
    assert [digests[32 * i:32 * i + 32] for i in range(50)] == [keccak(b.encode()) for b in bodies]


def test_xlsx_out_is_a_real_workbook_and_reads_back(scored, tmp_path):
    """`screen x.xlsx -o out.xlsx` writes an Excel workbook (not CSV text in a .xlsx file), both ways."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["客户编号", "客户名称", "钱包地址"])
    ws.append(["C-1", "张三贸易有限公司", S.SUBJECT])
    ws.append(["C-2", "=HYPERLINK(\"http://x\")", "bad"])
    ws.append(["C-3", "李四", S.SUBJECT])
    ws["B3"].data_type = "s"        # a customer's text that looks like a formula
    wb.save(tmp_path / "declared.xlsx")
    out = tmp_path / "screened.xlsx"
    res = screen(scored, tmp_path / "declared.xlsx", address_column="钱包地址", output=out)
    assert out.read_bytes()[:2] == b"PK" and res.report["output"]["format"] == "xlsx"
    back = openpyxl.load_workbook(out, read_only=True)
    rows = list(back.worksheets[0].iter_rows(values_only=True))
    back.close()
    head = list(rows[0])
    assert head[:3] == ["客户编号", "客户名称", "钱包地址"] and head[3:3 + len(RESULT_COLUMNS)] == list(RESULT_COLUMNS)
    assert len(rows) == 4                                         # one row per input row, in input order
    body = [dict(zip(head, [*r, *[None] * (len(head) - len(r))], strict=True)) for r in rows[1:]]
    assert [b["客户名称"] for b in body] == ["张三贸易有限公司", "=HYPERLINK(\"http://x\")", "李四"]   # text, not a formula
    assert [b["status"] for b in body] == ["ok", "invalid", "ok"]
    assert body[0]["risk_score"] == 62.5 and isinstance(body[0]["risk_score"], float)   # numbers stay numbers
    assert body[2]["duplicate_of_row"] == 1
    assert res.arrow().num_rows == 3
    # and the workbook it wrote screens again (bank files both ways)
    again = screen(scored, out, address_column="钱包地址").arrow()
    assert again.column("input_status").to_pylist() == ["ok", "invalid", "ok"]
    with pytest.raises(UsageError, match=r"\.xlsx"):
        screen(scored, tmp_path / "declared.xlsx", address_column="钱包地址", output=tmp_path / "old.xls")


def test_excel_csv_has_a_bom_and_chinese_survives(scored, tmp_path):
    src = tmp_path / "declared.csv"
    src.write_text(f"客户名称,address\n张三,{S.SUBJECT}\n", encoding="utf-8")
    plain, marked = tmp_path / "plain.csv", tmp_path / "excel.csv"
    screen(scored, src, output=plain)
    res = screen(scored, src, output=marked, excel=True)
    assert not plain.read_bytes().startswith(b"\xef\xbb\xbf")
    data = marked.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data[3:] == plain.read_bytes()
    assert res.report["output"]["excel_bom"] is True and res.report["output"]["sha256"] == hashlib.sha256(data).hexdigest()
    # the BOM'd file reads back with its header intact (no '\ufeff客户名称' column)
    assert screen(scored, marked, address_column="address").arrow().column("客户名称").to_pylist() == ["张三"]


def test_cli_excel_and_xlsx(db, tmp_path):
    src = tmp_path / "declared.csv"
    src.write_text(f"客户名称,address\n张三,{S.SUBJECT}\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["--db", str(db), "screen", str(src), "-o", str(tmp_path / "c.csv"), "--excel"],
                           catch_exceptions=False)
    assert r.exit_code == 0 and (tmp_path / "c.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert code_of(["--db", str(db), "-q", "screen", str(src), "-o", str(tmp_path / "c.xlsx")]) == 0
    assert (tmp_path / "c.xlsx").read_bytes()[:2] == b"PK"
    assert code_of(["--db", str(db), "-q", "screen", str(src), "--format", "xlsx"]) == 2   # needs -o
    assert code_of(["--db", str(db), "-q", "screen", str(src), "-o", str(tmp_path / "c.xls")]) == 2
