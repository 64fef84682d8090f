"""Community scam and phishing lists: MyEtherWallet darklist, ScamSniffer, CryptoScamDB (web-crawl confidence 20).

Entries are reports, not proof; a hit reads "reported by <source>", and the label keeps the report's own words
(comment, phishing domain, scam site) as its name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...errors import InputError
from ..model import ParsedSource, parse_time, read_text
from .common import Options, conf, finish, one_source

CONFIDENCE = 20


def _json(path: Path, what: str) -> Any:
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path.name} is not valid JSON ({e.msg} at line {e.lineno}), so it is not a {what} file; "
                         "check --input-format; the store is unchanged") from None


def _phishing_or_scam(text: str) -> str:
    t = text.lower()
    return "phishing" if ("phish" in t or "drainer" in t or ("fake" in t and "site" in t)) else "scam"


def import_mew(paths: list[Path], opts: Options, store: Any = None) -> list[ParsedSource]:
    """MEW ``addresses-darklist.json``: ``[{address, comment, date}]``. The lightlist (an allow-list) is refused."""
    ps = one_source(paths, opts, "mew-darklist", "mew-darklist", None)
    confidence = conf(opts, CONFIDENCE)
    dates = []
    for path in paths:
        if "lightlist" in path.name.lower():
            raise InputError(f"{path.name} is MEW's allow-list (lightlist), not a darklist; it would mislabel "
                             "legitimate projects as scams, so nothing was imported")
        data = _json(path, "MEW darklist")
        if not isinstance(data, list) or not all(isinstance(e, dict) and "address" in e for e in data):
            raise InputError(f"{path.name} is not a MEW darklist (a JSON array of {{address, comment, date}}); "
                             "check --input-format")
        for e in data:
            ps.rows_read += 1
            comment = str(e.get("comment") or "").strip()
            try:
                when = parse_time(e.get("date"))
            except ValueError:
                when = None  # the report stands without its date
            if when:
                dates.append(when)
            category = opts.category or _phishing_or_scam(comment)
            ps.add(str(e["address"]), category, comment or "reported on the MyEtherWallet darklist", confidence,
                   valid_from=when)
    if ps.version is None and dates:
        ps.version = max(dates).date().isoformat()
    return [finish(ps, "MEW darklist")]


def import_scamsniffer(paths: list[Path], opts: Options, store: Any = None) -> list[ParsedSource]:
    """ScamSniffer ``address.json`` (array of addresses) and/or ``combined.json`` ({domain: [addresses]}),
    both as ``phishing`` (wallet drainers and the addresses receiving drained funds)."""
    ps = one_source(paths, opts, "scamsniffer", "scamsniffer", None)
    confidence = conf(opts, CONFIDENCE)
    category = opts.category or "phishing"
    for path in paths:
        data = _json(path, "ScamSniffer")
        if isinstance(data, list) and all(isinstance(a, str) for a in data):
            for a in data:
                ps.rows_read += 1
                ps.add(a, category, "ScamSniffer: phishing / wallet drainer", confidence)
        elif isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
            for domain, addresses in data.items():
                for a in addresses:
                    ps.rows_read += 1
                    name = f"ScamSniffer: phishing site {domain}" if domain else "ScamSniffer: phishing site"
                    ps.add(str(a), category, name, confidence, details=domain or None)
        else:
            raise InputError(f"{path.name} is neither ScamSniffer address.json (an array of addresses) nor "
                             "combined.json ({domain: [addresses]}); check --input-format")
    return [finish(ps, "ScamSniffer")]


_CSDB_CATEGORY = {"scamming": "scam", "phishing": "phishing", "scam": "scam", "hacking": "hack", "hack": "hack"}
_CSDB_COLUMNS = ("address", "coin", "scam_name", "category")


def import_cryptoscamdb(paths: list[Path], opts: Options, store: Any = None) -> list[ParsedSource]:
    """CryptoScamDB addresses (``address,coin,scam_name,url,category,subcategory,reporter``), every coin:
    EVM/TRON addresses canonical, others on their coin's chain."""
    from .generic import read_csv

    ps = one_source(paths, opts, "cryptoscamdb", "cryptoscamdb", None)
    confidence = conf(opts, CONFIDENCE)
    for path in paths:
        header, rows = read_csv(path, "CryptoScamDB")
        missing = [c for c in _CSDB_COLUMNS if c not in header]
        if missing:
            raise InputError(f"{path.name} is not a CryptoScamDB export: missing column(s) {', '.join(missing)}; "
                             "check --input-format")
        for row in rows:
            ps.rows_read += 1
            raw_cat = (row.get("category") or "").strip().lower()
            category = opts.category or _CSDB_CATEGORY.get(raw_cat)
            if category is None:
                ps.skip("unknown CryptoScamDB category", raw_cat)
                continue
            coin = (row.get("coin") or "").strip().upper()
            details = " ".join(x for x in ((row.get("url") or "").strip(),
                                           f"({row['subcategory'].strip()})" if (row.get("subcategory") or "").strip()
                                           else "") if x)
            ps.add(row.get("address") or "", category, (row.get("scam_name") or "").strip() or "CryptoScamDB report",
                   confidence, asset=None if coin in ("", "UNKNOWN") else coin, details=details or None)
    return [finish(ps, "CryptoScamDB")]
