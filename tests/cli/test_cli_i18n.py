"""The CLI's human-facing text in Chinese (--lang zh-CN or CHAINRISK_LANG), its data unchanged (JSON keys, CSV
columns, enum values stay English)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from support import scored_store as S

import chainrisk
from chainrisk.cli import cli, main


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "i18n.duckdb"
    with chainrisk.open(path) as st:
        S.build(st)
    return path


def test_lookup_table_in_chinese_and_json_unchanged(db, monkeypatch):
    run = CliRunner().invoke
    r = run(cli, ["--db", str(db), "lookup", S.SUBJECT, "--lang", "zh-CN"], catch_exceptions=False)
    assert r.exit_code == 0
    for word in ("高风险", "评分 62.5/100", "断开服务并上报可疑交易", "涉嫌违法犯罪活动", "虚拟货币相关业务", "混币器", "判定依据：",
                 "风险敞口：", "来源：评分批次 r-new"):
        assert word in r.stdout, word
    assert "HIGH RISK" not in r.stdout and "Why:" not in r.stdout
    monkeypatch.setenv("CHAINRISK_LANG", "zh-CN")
    r = run(cli, ["--db", str(db), "lookup", S.TRON])
    assert "未知（未知不等于安全" in r.stdout and "本行数据中没有该地址在 tron 上的交易记录" in r.stdout
    en = run(cli, ["--db", str(db), "--lang", "en", "lookup", S.SUBJECT]).stdout     # an explicit lang wins
    assert "HIGH RISK" in en and "Why:" in en
    zh = json.loads(run(cli, ["--db", str(db), "lookup", S.SUBJECT, "--format", "json"]).stdout)
    en_json = json.loads(run(cli, ["--db", str(db), "--lang", "en", "lookup", S.SUBJECT, "--format", "json"]).stdout)
    assert zh == en_json and zh[0]["risk_band"] == "high" and zh[0]["action"] == "sever_and_report"


def test_screen_summary_in_chinese_csv_unchanged(db, tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text(f"address\n{S.SUBJECT}\nbad\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["--db", str(db), "screen", str(src), "--lang", "zh-CN", "-o", str(tmp_path / "zh.csv")],
                           catch_exceptions=False)
    assert "已筛查 2 行" in r.stderr and "风险等级：高风险 1" in r.stderr
    CliRunner().invoke(cli, ["--db", str(db), "screen", str(src), "-o", str(tmp_path / "en.csv")])
    zh, en = (list(csv.DictReader(io.StringIO((tmp_path / f).read_text()))) for f in ("zh.csv", "en.csv"))
    assert zh == en and zh[0]["risk_band"] == "high" and zh[1]["status"] == "invalid"


def test_errors_in_chinese(db, capsys, monkeypatch):
    monkeypatch.setenv("CHAINRISK_LANG", "zh-CN")
    with pytest.raises(SystemExit) as e:
        main(["--db", str(db), "report", S.SUBJECT, "-o", "x.txt"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("错误：报告输出文件须以 .html、.md 或 .pdf 结尾")
    with pytest.raises(SystemExit) as e:
        main(["--db", str(db), "--lang", "tlh", "lookup", S.SUBJECT])
    assert e.value.code == 2 and "unknown language 'tlh'" in capsys.readouterr().err
