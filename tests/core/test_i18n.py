"""The message catalogue: every key in both languages with the same placeholders; the vocabulary of the
taxonomy, bands, actions and dispositions complete; the language chosen by argument, then CHAINRISK_LANG."""

from __future__ import annotations

import string

import pytest

from chainrisk import i18n
from chainrisk.answers.lookup import ACTIONS
from chainrisk.answers.report import DISPOSITIONS
from chainrisk.errors import UsageError
from chainrisk.taxonomy import BANDS, CATEGORIES


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_every_key_has_both_languages_with_the_same_placeholders():
    cat = i18n.catalogue()
    assert len(cat) > 150
    for key, entry in cat.items():
        assert set(entry) == set(i18n.LANGS), key
        assert all(v.strip() for v in entry.values()), key
        assert _fields(entry["en"]) == _fields(entry["zh-CN"]), key


def test_chinese_is_chinese():
    # a zh-CN text that is the English one left untranslated is a gap (figures-only templates excepted)
    same = [k for k, v in i18n.catalogue().items() if v["en"] == v["zh-CN"] and any(c.isalpha() for c in
                                                                                    v["en"].replace("{", "").replace("}", ""))
            and not v["en"].strip("{}").isidentifier()]
    assert same == []
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in v["zh-CN"]) for k, v in i18n.catalogue().items()
               if k.startswith(("category.", "band.", "action.", "disposition.", "axis.")))


def test_the_vocabulary_is_complete():
    for c in CATEGORIES:
        assert i18n.has(f"category.{c}"), c
    for b in BANDS:
        assert i18n.has(f"band.{b}"), b
    for a in ACTIONS:
        assert i18n.has(f"action.{a}"), a
    for d in DISPOSITIONS:
        assert i18n.has(f"disposition.{d}"), d
    # the terms Chinese AML practice uses
    assert i18n.category("sanctions", "zh-CN") == "制裁"
    assert i18n.category("scam", "zh-CN") == "诈骗"
    assert i18n.category("mixer", "zh-CN") == "混币器"
    assert i18n.category("exchange", "zh-CN") == "交易所"
    assert i18n.category("p2p_otc", "zh-CN").startswith("场外交易")
    assert [i18n.band(b, "zh-CN") for b in ("high", "medium", "low")] == ["高风险", "中风险", "低风险"]
    assert i18n.action("sever", "zh-CN").startswith("断开服务")
    assert "上报可疑交易" in i18n.action("report", "zh-CN")
    assert i18n.category("no_such_category", "zh-CN") == "no such category"


def test_language_resolution(monkeypatch):
    monkeypatch.delenv(i18n.ENV, raising=False)
    assert i18n.resolve() == "en"
    for alias in ("zh", "zh_CN", "zh-cn", "zh-Hans", "ZH-CN"):
        assert i18n.resolve(alias) == "zh-CN"
    monkeypatch.setenv(i18n.ENV, "zh-CN")
    assert i18n.resolve() == "zh-CN" and i18n.resolve("en") == "en"
    monkeypatch.setenv(i18n.ENV, "fr")
    with pytest.raises(UsageError, match=r"CHAINRISK_LANG='fr'.*en, zh-CN"):
        i18n.resolve()
    with pytest.raises(UsageError, match=r"unknown language 'xx'"):
        i18n.resolve("xx")
    assert i18n.t("cli.error", "zh-CN", message="x") == "错误：x"
