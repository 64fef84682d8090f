"""Case work: a case in the store (addresses, notes, disposition, who and when), append-only, exported with the
evidence as one report; the CLI over it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from support import scored_store as S

import chainrisk
from chainrisk.answers import cases
from chainrisk.cli import cli, main
from chainrisk.errors import InputError, InvalidAddress, UsageError


@pytest.fixture
def scored(store):
    S.build(store)
    return store


def _rows(store):
    return (store.execute("SELECT * FROM cases ORDER BY case_id").fetchall(),
            store.execute("SELECT * FROM case_events ORDER BY event_id").fetchall())


def test_a_case_is_append_only(scored):
    c = cases.open_case(scored, "Mule ring", actor="li.wei", customer_ref="C-1", addresses=[S.SUBJECT.upper()
                        .replace("0X", "0x"), S.MULE, S.MULE], note="opened after alert 17")
    assert cases.valid_case_id(c.case_id)
    assert [a["address"] for a in c.addresses] == [S.SUBJECT, S.MULE]        # normalised, no duplicate
    assert c.customer_ref == "C-1" and c.disposition is None and c.created_by == "li.wei"
    before_cases, before_events = _rows(scored)
    cases.decide(scored, c.case_id, "monitor", actor="li.wei", text="wait for more data")
    cases.add_note(scored, c.case_id, "customer called", actor="zhang.min")
    cases.remove_address(scored, c.case_id, S.MULE, actor="zhang.min", text="a mule, not the customer")
    cases.set_customer_ref(scored, c.case_id, "C-1b", actor="zhang.min")
    c = cases.decide(scored, c.case_id, "reported", actor="zhang.min", text="STR filed")
    after_cases, after_events = _rows(scored)
    # nothing written before was changed: the old rows are a prefix of the new ones
    assert after_cases == before_cases and after_events[:len(before_events)] == before_events
    assert len(after_events) == len(before_events) + 5
    # the case as it stands, derived from the history
    assert c.disposition == "reported" and c.customer_ref == "C-1b"
    assert [a["address"] for a in c.addresses] == [S.SUBJECT]
    assert [n["text"] for n in c.notes] == ["opened after alert 17", "customer called"]
    kinds = [h["kind"] for h in c.history]
    assert kinds == ["opened", "customer_ref", "address_added", "address_added", "note", "disposition", "note",
                     "address_removed", "customer_ref", "disposition"]
    assert [h["disposition"] for h in c.history if h["kind"] == "disposition"] == ["monitor", "reported"]
    assert {h["actor"] for h in c.history} == {"li.wei", "zhang.min"}
    assert cases.list_cases(scored)[0] | {"created_at": None} == {
        "case_id": c.case_id, "title": "Mule ring", "customer_ref": "C-1b", "disposition": "reported",
        "addresses": 1, "events": 10, "created_at": None, "created_by": "li.wei"}


def test_bad_input(scored):
    with pytest.raises(InvalidAddress):
        cases.open_case(scored, "x", actor="a", addresses=["0xnope"])
    with pytest.raises(UsageError, match="title is empty"):
        cases.open_case(scored, "  ", actor="a")
    with pytest.raises(UsageError, match="who does this"):
        cases.open_case(scored, "x", actor=" ")
    assert cases.list_cases(scored) == []                                   # nothing half-written
    c = cases.open_case(scored, "x", actor="a")
    with pytest.raises(UsageError, match="disposition"):
        cases.decide(scored, c.case_id, "closed", actor="a")
    with pytest.raises(InputError, match="no case 'case-00000000'"):
        cases.add_note(scored, "case-00000000", "n", actor="a")
    with pytest.raises(InputError, match="not in case"):
        cases.remove_address(scored, c.case_id, S.MULE, actor="a")
    with pytest.raises(UsageError, match="at most"):
        cases.add_note(scored, c.case_id, "x" * (cases.MAX_TEXT + 1), actor="a")


def test_export_is_one_report_with_the_evidence(scored, tmp_path):
    c = cases.open_case(scored, "洗钱团伙", actor="li.wei", customer_ref="客户-9", addresses=[S.SUBJECT, S.TRON])
    cases.decide(scored, c.case_id, "reported", actor="zhang.min", text="已提交可疑交易报告")
    html = cases.export_case(scored, c.case_id, tmp_path / "case.html", lang="zh-CN").read_text(encoding="utf-8")
    assert html.count("<!DOCTYPE html>") == 1 and html.count('<section class="address">') == 2
    cover = html[:html.index('<section class="address">')]
    for word in ("案件报告", "洗钱团伙", "客户-9", "已上报可疑交易", "已提交可疑交易报告", "zhang.min", "立案", "审核人签字",
                 S.SUBJECT, "断开服务并上报可疑交易"):
        assert word in cover, word
    body = html[html.index('<section class="address">'):]
    assert "混币器" in body and S.TRANSFERS[1][0] in body                  # the evidence of the subject
    assert "未知：没有关于该地址的任何数据" in body                                # the unknown TRON address, plainly
    with pytest.raises(UsageError, match=r"\.html or \.pdf"):
        cases.export_case(scored, c.case_id, tmp_path / "case.md")


def test_cli(tmp_path, monkeypatch):
    db = tmp_path / "cli.duckdb"
    with chainrisk.open(db) as st:
        S.build(st)
    monkeypatch.setenv("CHAINRISK_ANALYST", "li.wei")
    run = CliRunner().invoke
    r = run(cli, ["--db", str(db), "case", "open", "--title", "Mule ring", "--customer-ref", "C-7", S.SUBJECT,
                  "--format", "json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    case_id = json.loads(r.stdout)["case_id"]
    assert run(cli, ["--db", str(db), "case", "add", case_id, S.MULE]).exit_code == 0
    assert run(cli, ["--db", str(db), "case", "note", case_id, "funds from a mixer", "--by", "zhang.min"]).exit_code == 0
    r = run(cli, ["--db", str(db), "--lang", "zh-CN", "case", "decide", case_id, "sever"])
    assert r.exit_code == 0 and "断开服务" in r.stdout and "处理记录" in r.stdout
    assert run(cli, ["--db", str(db), "case", "decide", case_id, "closed"]).exit_code == 2
    r = run(cli, ["--db", str(db), "case", "show", case_id, "--format", "json"])
    shown = json.loads(r.stdout)
    shown = shown[0] if isinstance(shown, list) else shown
    assert shown["disposition"] == "sever" and len(shown["addresses"]) == 2
    assert [h["actor"] for h in shown["history"]][-2:] == ["zhang.min", "li.wei"]
    r = run(cli, ["--db", str(db), "case", "list", "--format", "csv"])
    assert r.exit_code == 0 and case_id in r.stdout and "sever" in r.stdout
    r = run(cli, ["--db", str(db), "case", "export", case_id, "-o", str(tmp_path / "case.html")])
    assert r.exit_code == 0 and "Mule ring" in (tmp_path / "case.html").read_text()
    try:
        main(["--db", str(db), "-q", "case", "show", "case-ffffffff"])
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    assert code == 4
