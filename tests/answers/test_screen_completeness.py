"""screen's completeness control: every physical line of a bank file is a row of the output, a header, a blank
line or the continuation of a quoted multi-line field, and the report says how many of each (issue 13, items 1-2).
A bad quote or a byte in another encoding marks its own row; it never swallows or refuses the rows around it."""

from __future__ import annotations

import pytest
from support import scored_store as S

from chainrisk.answers.screen import screen


@pytest.fixture
def scored(store):
    S.build(store)
    return store


def _lines_accounted(lines: dict[str, int]) -> bool:
    return lines["read"] == lines["header"] + lines["blank"] + lines["continuation"] + lines["rows"]


def test_unterminated_quote_marks_its_row_and_keeps_the_rest(scored, tmp_path):
    # the file: a note opened with a quote that is never closed, and a ragged row that sends the file to
    # the tolerant reader; the two high-risk customers after the bad quote (C3 mixer, C6 subject) must be screened
    text = (f"customer,address,note\nC1,{S.SUBJECT},x\nC2,{S.MULE},\"unterminated note\nC3,{S.MIXER},y\n"
            f"C4,{S.CLEAN},z,extra\nC5,{S.EXCH},\"w\"\nC6,{S.SUBJECT},v\n")
    (tmp_path / "bank.csv").write_text(text, encoding="utf-8")
    res = screen(scored, tmp_path / "bank.csv", output=tmp_path / "out.csv")
    t = res.arrow()
    assert t.column("customer").to_pylist() == ["C1", "C2", "C3", "C4", "C5", "C6"]
    assert t.column("status").to_pylist() == ["ok", "invalid", "ok", "ok", "ok", "ok"]
    assert t.column("risk_band").to_pylist()[2] == "severe" and t.column("risk_band").to_pylist()[5] == "high"
    reason = t.column("reason").to_pylist()[1]
    assert "line 3" in reason and "quote" in reason
    assert t.column("address").to_pylist()[1] == S.MULE          # the bank sees which customer it is
    lines = res.report["input"]["lines"]
    assert lines == {"read": 7, "header": 1, "blank": 0, "continuation": 0, "rows": 6, "unparseable": 1}
    assert res.report["counts"]["output_rows"] == 6 and res.report["counts"]["status"]["invalid"] == 1


def test_quoted_multiline_field_is_one_row_and_counted(scored, tmp_path):
    text = (f"customer,address,note\nC1,{S.SUBJECT},\"line one\nline two, with a comma\nend\"\n\n"
            f"C2,{S.MULE},\"closing\"\n")
    (tmp_path / "bank.csv").write_text(text, encoding="utf-8")
    res = screen(scored, tmp_path / "bank.csv")
    t = res.arrow()
    assert t.column("note").to_pylist() == ["line one\nline two, with a comma\nend", "closing"]
    assert t.column("status").to_pylist() == ["ok", "ok"]
    lines = res.report["input"]["lines"]
    assert lines == {"read": 6, "header": 1, "blank": 1, "continuation": 2, "rows": 2, "unparseable": 0}
    assert _lines_accounted(lines)


def test_clean_file_through_duckdb_is_counted_too(scored, tmp_path):
    (tmp_path / "bank.csv").write_text(f"customer,address\nC1,{S.SUBJECT}\nC2,{S.MULE}\n", encoding="utf-8")
    res = screen(scored, tmp_path / "bank.csv")
    assert res.report["input"]["reader"] == "duckdb"
    assert res.report["input"]["lines"] == {"read": 3, "header": 1, "blank": 0, "continuation": 0, "rows": 2,
                                            "unparseable": 0}


@pytest.mark.slow
def test_big_file_with_eight_bad_quotes_loses_no_row(scored, tmp_path):
    # the 1M-row file with 8 bad quotes, at 50k rows: it failed with "field larger than field limit"
    n = 50_000
    bad = {n * k // 9 for k in range(1, 9)}
    addrs = [S.SUBJECT, S.MULE, S.MIXER, S.CLEAN]
    with (tmp_path / "big.csv").open("w", encoding="utf-8") as f:
        f.write("customer,address,note\n")
        for i in range(n):
            note = '"bad quote' if i in bad else f"note {i}"
            f.write(f"C{i},{addrs[i % 4]},{note}\n")
            if i == 10:
                f.write(f"C{i}b,{addrs[0]},x,ragged\n")     # one ragged row: the tolerant reader is used
    res = screen(scored, tmp_path / "big.csv")
    t = res.arrow()
    assert t.num_rows == n + 1
    status = t.column("status").to_pylist()
    assert status.count("invalid") == 8
    lines = res.report["input"]["lines"]
    assert lines["read"] == n + 2 and lines["rows"] == n + 1 and lines["unparseable"] == 8
    assert _lines_accounted(lines)


def test_one_latin1_byte_marks_its_row_and_keeps_the_batch(scored, tmp_path):
    # a UTF-8 file whose note column holds one Latin-1 byte ('Jos\xe9'): the batch used to be refused (exit 4)
    data = (f"customer,address,note\nC1,{S.SUBJECT},".encode() + b"Jos\xe9\n"
            + f"C2,{S.MULE},".encode() + "客户\n".encode())
    (tmp_path / "bank.csv").write_bytes(data)
    res = screen(scored, tmp_path / "bank.csv")
    t = res.arrow()
    assert t.column("status").to_pylist() == ["ok", "ok"]
    assert t.column("note").to_pylist() == ["José", "客户"]        # the bad row decoded by the stated fallback
    dec = res.report["input"]["decoding"]
    assert dec["encoding"] == "utf-8" and dec["fallback"] == "cp1252"
    assert dec["fallback_rows"] == 1 and dec["first_fallback_rows"] == [1]
