"""GraphSense TagPacks (YAML): a header whose fields are defaults for every entry of ``tags``.

Tag fields used: ``address`` (tags on a transaction or a cluster are skipped and counted), ``label``,
``category`` / ``abuse`` / ``concepts`` (GraphSense taxonomy concepts, mapped below; ``abuse`` wins, since it
says what is illicit), ``currency`` / ``network`` (the chain), ``confidence`` (GraphSense confidence names or a
number), ``source``, ``context``, ``lastmod``. So the public graphsense-tagpacks load as they are.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ...errors import InputError
from ...taxonomy import CATEGORIES
from ..model import ParsedSource, read_text
from .common import Options, finish, one_source

# GraphSense confidence names -> our scale (GraphSense's own levels; unknown names are an error).
CONFIDENCE = {
    "ownership": 100, "ledger_immanent": 100, "override": 100, "forensic": 90, "forensic_investigation": 90,
    "authority_data": 60, "authority": 60, "trusted_provider": 50, "service_data": 50, "trusted": 50,
    "web_crawl": 20, "untrusted_transaction": 10, "heuristic": 10, "unknown": 10,
}

# GraphSense concepts (INTERPOL DW-VA taxonomy and abuse types) -> our categories.
CONCEPTS = {
    "exchange": "exchange", "centralized_exchange": "exchange", "cex": "exchange", "atm": "exchange",
    "payment_processor": "exchange", "otc_broker": "p2p_otc", "otc": "p2p_otc", "p2p_exchange": "p2p_otc",
    "mixing_service": "mixer", "mixer": "mixer", "coinjoin": "mixer", "shielded_pool": "mixer",
    "miner": "mining", "mining_service": "mining", "mining_pool": "mining",
    "market": "darknet", "darknet_market": "darknet", "darkweb": "darknet", "shop": "other",
    "gambling": "gambling", "casino": "gambling",
    "ransomware": "ransomware", "sextortion": "scam", "scam": "scam", "ponzi_scheme": "scam", "fraud": "scam",
    "investment_fraud": "scam", "giveaway_scam": "scam", "phishing": "phishing", "drainer": "phishing",
    "hacker": "hack", "hack": "hack", "theft": "hack", "exploit": "hack", "perpetrator": "hack",
    "terrorism": "terrorism_financing", "terrorist_financing": "terrorism_financing",
    "terrorism_financing": "terrorism_financing", "sanction": "sanctions", "sanctioned": "sanctions",
    "sanctions": "sanctions", "blacklist": "blacklist", "frozen": "blacklist",
    "bridge": "bridge", "defi_bridge": "bridge", "defi": "defi", "defi_dex": "defi", "defi_lending": "defi",
    "dex": "defi", "smart_contract": "other", "token": "token_contract", "stablecoin": "token_contract",
    "wallet_service": "other", "ico_wallet": "other", "organization": "other", "hosting": "other",
    "faucet": "other", "donation": "other", "entity": "other", "user": "other", "vasp": "exchange",
}
# Preference when a tag names several concepts: the most serious first.
_ORDER = ("sanctions", "terrorism_financing", "ransomware", "darknet", "hack", "phishing", "scam", "mixer",
          "blacklist", "gambling", "p2p_otc", "exchange", "mining", "bridge", "defi", "token_contract", "other")
# TagPack currency/network -> chain. EVM networks keep their own chain (a tag on a BSC contract is not about the
# same address on Ethereum); unknown ones fall back to recognising the address (0x -> ethereum, T... -> tron).
_CURRENCY_CHAIN = {
    "ETH": "ethereum", "ETHEREUM": "ethereum", "TRX": "tron", "TRON": "tron", "BSC": "bnb", "BNB": "bnb",
    "POLYGON": "polygon", "MATIC": "polygon", "ARB": "arbitrum", "ARBITRUM": "arbitrum", "OP": "optimism",
    "OPTIMISM": "optimism", "BASE": "base", "AVAX": "avalanche_c", "FTM": "fantom", "GNOSIS": "gnosis",
}
_SKIP_HEADER = {"tags", "title", "creator", "description", "owner", "is_public", "is_cluster_definer"}


def _category(tag: dict[str, Any], where: str) -> str:
    names = []
    for key in ("abuse", "category"):
        v = tag.get(key)
        if v:
            names.append(str(v))
    names += [str(c) for c in tag.get("concepts") or []]
    if not names:
        return "other"
    cats = []
    for n in names:
        k = n.strip().lower().replace(" ", "_").replace("-", "_")
        c = CONCEPTS.get(k) or (k if k in CATEGORIES else None)
        if c is None:
            raise InputError(f"{where}: unknown category {n!r}; accepted: GraphSense concepts "
                             f"{', '.join(sorted(CONCEPTS))} or chainrisk categories {', '.join(CATEGORIES)}")
        cats.append(c)
    return min(cats, key=_ORDER.index)


def _confidence(value: Any, where: str) -> int:
    if value is None:
        return 50
    if isinstance(value, int | float) and not isinstance(value, bool):
        n = int(value)
        if 0 <= n <= 100:
            return n
    key = str(value).strip().lower()
    if key.isdigit() and 0 <= int(key) <= 100:
        return int(key)
    if key not in CONFIDENCE:
        raise InputError(f"{where}: unknown confidence {value!r}; accepted: {', '.join(CONFIDENCE)} or 0..100")
    return CONFIDENCE[key]


def _lastmod(value: Any) -> str | None:
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    return str(value)[:10] if value else None


def import_tagpack(paths: list[Path], opts: Options, store: Any = None) -> list[ParsedSource]:
    import yaml

    out = []
    for path in paths:
        text = read_text(path, "TagPack")
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise InputError(f"{path.name} is not valid YAML ({str(e).splitlines()[0]}); "
                             "check --input-format; the store is unchanged") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("tags"), list):
            raise InputError(f"{path.name} is not a GraphSense TagPack: it needs a header mapping with a 'tags' "
                             "list; check --input-format")
        header = {k: v for k, v in doc.items() if k not in _SKIP_HEADER}
        ps = one_source([path], opts, "tagpack", f"tagpack:{path.stem}", None)
        mods = []
        for i, raw in enumerate(doc["tags"], start=1):
            where = f"{path.name} tag {i}"
            if not isinstance(raw, dict):
                raise InputError(f"{where} is not a mapping; a TagPack's tags are mappings with address and label")
            tag = {**header, **raw}
            ps.rows_read += 1
            address = tag.get("address")
            if isinstance(address, int) and not isinstance(address, bool) and 0 <= address < 2**160:
                address = f"0x{address:040x}"  # YAML 1.1 read an unquoted 0x... address as a hex integer
            if not address:
                ps.skip("tag without an address (transaction or cluster tag)", tag.get("label"))
                continue
            category = opts.category or _category(tag, where)
            confidence = opts.confidence if opts.confidence is not None else _confidence(tag.get("confidence"), where)
            currency = str(tag.get("network") or tag.get("currency") or "").strip().upper()
            chain = opts.chain or _CURRENCY_CHAIN.get(currency)
            lastmod = _lastmod(tag.get("lastmod"))
            if lastmod:
                mods.append(lastmod)
            details = {k: str(tag[k]) for k in ("source", "context", "actor") if tag.get(k)}
            if doc.get("title"):
                details["tagpack"] = str(doc["title"])
            ps.add(str(address), category, str(tag.get("label") or ""), confidence, chain=chain,
                   asset=currency or None, details=json.dumps(details, sort_keys=True) if details else None)
        if ps.version is None:
            ps.version = max(mods) if mods else None
        out.append(finish(ps, "GraphSense TagPack"))
    return out
