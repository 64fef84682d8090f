"""The message catalogue: every human-facing sentence of the report, the explorer and the CLI, in English and in
Simplified Chinese (``zh-CN``), in the terms Chinese AML practice uses (制裁, 诈骗, 混币器, 交易所, 场外交易; 高/中/低风险;
断开服务, 上报可疑交易).

    >>> from chainrisk import i18n
    >>> i18n.t("band.high", "zh-CN")
    '高风险'
    >>> i18n.category("p2p_otc", "zh-CN")
    '场外交易（OTC/P2P）'

The catalogue is package data (``chainrisk/data/messages.toml``): one table per key, one string per language,
``{name}`` placeholders filled by :func:`t`. A test checks that every key has both languages and the same
placeholders in both. Machine contracts never go through here: JSON keys, CSV columns and enum values
(``high``, ``sever_and_report``, ``mixer``) stay English; only what a person reads is translated.

The language is chosen per call (``lang=``), else by the environment variable ``CHAINRISK_LANG``, else English
(:func:`resolve`). ``zh``, ``zh_CN``, ``zh-cn`` and ``zh-Hans`` all mean ``zh-CN``.
"""

from __future__ import annotations

import os
import tomllib
from functools import cache
from typing import Any

from .data import DATA_DIR
from .errors import UsageError

LANGS: tuple[str, ...] = ("en", "zh-CN")
ENV = "CHAINRISK_LANG"
_ALIASES = {"en": "en", "en-us": "en", "en-gb": "en", "english": "en", "zh": "zh-CN", "zh-cn": "zh-CN",
            "zh_cn": "zh-CN", "zh-hans": "zh-CN", "zh-hans-cn": "zh-CN", "cn": "zh-CN", "chinese": "zh-CN"}


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """Every message: key -> {lang -> text} (read once from the package data)."""
    with (DATA_DIR / "messages.toml").open("rb") as f:
        raw = tomllib.load(f)
    out: dict[str, dict[str, str]] = {}

    def walk(prefix: str, node: dict[str, Any]) -> None:
        if any(k in LANGS for k in node):
            out[prefix] = {k: str(v) for k, v in node.items()}
            return
        for k, v in node.items():
            walk(f"{prefix}.{k}" if prefix else k, v)

    walk("", raw)
    return out


def resolve(lang: str | None = None) -> str:
    """The language to use: ``lang`` if given, else ``$CHAINRISK_LANG``, else ``en``. An unknown name is a
    :class:`~chainrisk.errors.UsageError` naming the languages there are."""
    value = lang if lang else os.environ.get(ENV, "")
    if not value.strip():
        return "en"
    found = _ALIASES.get(value.strip().lower().replace(" ", ""))
    if found is None:
        where = f"{ENV}={value!r}" if not lang else repr(value)
        raise UsageError(f"unknown language {where}; languages: {', '.join(LANGS)}")
    return found


def t(key: str, lang: str = "en", /, **fields: Any) -> str:
    """The message ``key`` in ``lang`` (English when the language lacks it), with ``fields`` filled in."""
    entry = catalogue()[key]
    text = entry.get(lang) or entry["en"]
    return text.format(**fields) if fields else text


def has(key: str) -> bool:
    return key in catalogue()


def category(name: str | None, lang: str = "en") -> str:
    """A label category as a person reads it (``p2p_otc`` -> ``OTC / P2P trading`` / ``场外交易（OTC/P2P）``); a
    category the catalogue does not know is shown as it is."""
    if not name:
        return "-"
    key = f"category.{name}"
    return t(key, lang) if has(key) else name.replace("_", " ")


def band(name: str | None, lang: str = "en") -> str:
    """A risk band in words (``high`` -> ``high risk`` / ``高风险``)."""
    return t(f"band.{name}", lang) if name and has(f"band.{name}") else (name or "-")


def action(name: str | None, lang: str = "en") -> str:
    """The action a verdict asks for (``sever_and_report`` -> ``断开服务并上报可疑交易``)."""
    return t(f"action.{name}", lang) if name and has(f"action.{name}") else (name or "-")


def number(x: float | int | None, lang: str = "en", digits: int = 0) -> str:
    """A figure with thousands separators (the same in both languages: bank documents use 1,234.56)."""
    if x is None:
        return "-"
    return f"{float(x):,.{digits}f}"
