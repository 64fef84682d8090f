"""One --format option (one set of values per kind of output), --input-format for what is read, one writer."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from chainrisk.cli import cli
from chainrisk.cli._common import DOCUMENTS, FILES, RECORDS, SUMMARY, write
from chainrisk.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
KINDS = {RECORDS: "records", DOCUMENTS: "documents", SUMMARY: "summary", FILES: "files"}


def _commands() -> list[tuple[click.Command, click.Context]]:
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "scripts" / "cli_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.all_commands()


def test_every_output_option_is_format_with_the_values_of_one_kind() -> None:
    seen = {}
    for cmd, ctx in _commands():
        for p in cmd.get_params(ctx):
            names = [*p.opts, *getattr(p, "secondary_opts", [])]
            assert not {"--output-format", "--report-format"} & set(names), ctx.command_path
            if p.name == "fmt":
                assert names == ["--format"], ctx.command_path
                assert isinstance(p.type, click.Choice)
                seen[ctx.command_path] = KINDS[tuple(p.type.choices)]
            elif "--format" in names:
                pytest.fail(f"{ctx.command_path}: --format must be the output format")
    assert seen == {
        "chainrisk case add": "documents", "chainrisk case decide": "documents", "chainrisk case list": "records",
        "chainrisk case note": "documents", "chainrisk case open": "documents", "chainrisk case ref": "documents",
        "chainrisk case remove": "documents", "chainrisk case show": "documents",
        "chainrisk demo": "summary", "chainrisk fetch": "summary", "chainrisk evaluate": "summary",
        "chainrisk export": "summary",
        "chainrisk model show": "summary", "chainrisk model train": "summary", "chainrisk ingest file": "records", "chainrisk ingest rpc": "summary",
        "chainrisk keys create": "records", "chainrisk keys list": "records", "chainrisk keys revoke": "records",
        "chainrisk keys rotate": "records",
        "chainrisk labels categories": "records", "chainrisk labels import": "records",
        "chainrisk labels list": "records", "chainrisk labels retire": "records", "chainrisk labels show": "records",
        "chainrisk labels sources": "records", "chainrisk labels update": "records", "chainrisk lookup": "documents",
        "chainrisk runs": "records", "chainrisk score": "summary", "chainrisk screen": "files",
        "chainrisk status": "records",
        "chainrisk watch add": "records", "chainrisk watch remove": "records", "chainrisk watch list": "records",
        "chainrisk alerts": "records", "chainrisk alerts ack": "records", "chainrisk alerts export": "records",
        "chainrisk alerts deliver": "records", "chainrisk alerts webhook-add": "records",
        "chainrisk alerts webhooks": "records", "chainrisk alerts webhook-remove": "records",
        "chainrisk alerts deliveries": "records", "chainrisk alerts resend": "records",
    }


def test_the_kinds_match_what_the_library_reads_and_writes() -> None:
    from chainrisk.answers.screen import FORMATS as SCREEN_FORMATS
    from chainrisk.ingest.formats import FORMATS as FILE_FORMATS
    from chainrisk.labels.importers import FORMAT_NAMES, formats

    assert FILES == SCREEN_FORMATS
    assert set(FORMAT_NAMES) == set(formats())
    for cmd, ctx in _commands():
        for p in cmd.get_params(ctx):
            if p.name == "input_format":
                assert isinstance(p.type, click.Choice)
                expected = FILE_FORMATS if ctx.command_path.endswith("ingest file") else FORMAT_NAMES
                assert tuple(p.type.choices) == tuple(expected)


def run(tmp_path: Path, *args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, ["--db", str(tmp_path / "s.duckdb"), *args])
    err = r.output if r.exception is None or isinstance(r.exception, SystemExit) else str(r.exception)
    code = r.exit_code if not isinstance(r.exception, UsageError) else r.exception.exit_code
    return code, err


@pytest.mark.parametrize(("args", "sentence"), [
    (("ingest", "file", "t.parquet", "--format", "bigquery"),
     "'bigquery' is an input format, and --format names the output format (table|json|jsonl|csv); "
     "use --input-format bigquery"),
    (("labels", "import", "sdn.xml", "--format", "ofac-xml"),
     "'ofac-xml' is an input format, and --format names the output format (table|json|jsonl|csv); "
     "use --input-format ofac-xml"),
    (("ingest", "file", "t.csv", "--format", "csv"),
     "--format csv sets the output format; give the input format as --input-format csv"),
    (("labels", "import", "l.csv", "--format", "csv"),
     "--format csv sets the output format; give the input format as --input-format csv"),
    (("ingest", "file", "t.csv"), "missing option --input-format (bigquery|ethereum-etl|etherscan|csv|tronetl|tron-logs|trongrid)"),
    (("labels", "import", "--format", "json"), "missing option --input-format (csv|list|ofac-xml"),
    (("demo", "--format", "text"), "'text' is named 'table' (the summary for a person): use --format table"),
    (("lookup", "0x52908400098527886e0f7030069857d2e4169ee7", "--format", "csv"),
     "lookup answers are nested documents; for CSV rows, one per address, use 'chainrisk screen FILE --format csv'"),
    (("status", "--format", "xml"), "'xml' is not one of 'table', 'json', 'jsonl', 'csv'"),
])
def test_a_wrong_format_is_one_sentence_naming_the_right_option(tmp_path: Path, args: tuple[str, ...],
                                                                  sentence: str) -> None:
    code, err = run(tmp_path, *args)
    assert code == UsageError.exit_code == 2
    assert sentence in err.replace("\n", " ").replace("  ", " ") or sentence in err
    assert not (tmp_path / "s.duckdb").exists()


ROWS = [
    {"name": "Zoë", "n": 1234, "x": 0.5, "when": dt.datetime(2024, 3, 4, 12, 0), "none": None, "d": {"a": 1}},
    {"name": "b", "n": 2, "x": 1234.5, "when": dt.date(2024, 1, 2), "none": None, "d": {}},
]


@pytest.mark.parametrize(("fmt", "expected"), [
    ("table", "name  n      x         when                 none  d\n"
              "Zoë   1,234  0.50      2024-03-04 12:00:00        a=1\n"
              "b     2      1,234.50  2024-01-02\n"),
    ("jsonl", '{"name": "Zo\\u00eb", "n": 1234, "x": 0.5, "when": "2024-03-04T12:00:00", "none": null, "d": {"a": 1}}\n'
              '{"name": "b", "n": 2, "x": 1234.5, "when": "2024-01-02", "none": null, "d": {}}\n'),
    ("csv", "name,n,x,when,none,d\r\nZoë,1234,0.5,2024-03-04 12:00:00,,{'a': 1}\r\nb,2,1234.5,2024-01-02,,{}\r\n"),
])
def test_the_writer(fmt: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    write(fmt, ROWS)
    assert capsys.readouterr().out == expected


def test_the_writer_json_views_and_unicode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write("json", {"name": "Zoë", "when": dt.datetime(2024, 3, 4)})
    assert capsys.readouterr().out == '{\n  "name": "Zo\\u00eb",\n  "when": "2024-03-04T00:00:00"\n}\n'
    write("json", [{"name": "Zoë"}], unicode=("json",))
    assert capsys.readouterr().out == '[\n  {\n    "name": "Zoë"\n  }\n]\n'
    # a format's own view: the whole report as json, one row per file elsewhere
    report, rows = {"files": 2, "rows": 10}, [{"file": "a"}, {"file": "b"}]
    write("json", report, jsonl=rows, table=rows)
    assert capsys.readouterr().out == '{\n  "files": 2,\n  "rows": 10\n}\n'
    write("jsonl", report, jsonl=rows, table=rows)
    assert capsys.readouterr().out == '{"file": "a"}\n{"file": "b"}\n'
    write("table", report, table="finished text\n")
    assert capsys.readouterr().out == "finished text\n"
    write("table", [])
    assert capsys.readouterr().out == "(nothing)\n"
    written = tmp_path / "rows.csv"  # a file a library writer wrote (screen): copied byte for byte
    written.write_bytes(b"address,status\r\n0xab,invalid\r\n")
    write("csv", written)
    assert capsys.readouterr().out == "address,status\r\n0xab,invalid\r\n"
