"""Dune Spellbook static label tables, recognised by their columns (one source per file).

==============================  ===========================================================================
table                           labels
==============================  ===========================================================================
cex EVM addresses               ``exchange`` on ``ethereum`` (Spellbook applies them to every EVM chain; the
                                file names none: ``chainrisk labels link`` offers them on the other chains
                                where the address is known to be externally owned)
cex TRON addresses              ``exchange`` on ``tron``
label models (``category``)     ofac_sanction -> ``sanctions`` (+ ``mixer`` for Tornado Cash), bridge ->
                                ``bridge``, cex -> ``exchange``, dex -> ``defi``, stablecoins ->
                                ``token_contract`` (named by the token), anything else -> ``other``
RWA tokens (Ethereum, Arbitrum) ``token_contract`` named with symbol, backing and issuer
==============================  ===========================================================================

Contracts keep their own chain (a BNB-chain stablecoin contract is not an Ethereum address); Spellbook's chain
names go through :func:`chainrisk.labels.chains.canonical_chain` (``bnb`` -> ``bsc``; ``avalanche_c``, ``fantom``,
``gnosis``, which chainrisk cannot ingest, are kept under their own names). Confidence 50.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import InputError
from ..model import ParsedSource
from .common import Options, conf, finish, one_source

CONFIDENCE = 50
_MODEL_CATEGORY = {"ofac_sanction": "sanctions", "bridge": "bridge", "cex": "exchange", "dex": "defi",
                   "mixer": "mixer", "gambling": "gambling", "hack": "hack", "scam": "scam", "phishing": "phishing"}


def _shape(header: list[str]) -> str | None:
    h = set(header)
    if {"address", "cex_name", "distinct_name"} <= h:
        return "cex_tron" if "blockchain" in h else "cex_evm"
    if {"blockchain", "address", "name", "category", "model_name"} <= h:
        return "label_model"
    if {"contract_address", "backing", "symbol", "name"} <= h:
        return "rwa_ethereum"
    if {"token_address", "symbol", "project", "type"} <= h:
        return "rwa_arbitrum"
    return None


def import_spellbook(paths: list[Path], opts: Options, store: Any = None) -> list[ParsedSource]:
    from .generic import read_csv

    out = []
    for path in paths:
        header, rows = read_csv(path, "Spellbook label")
        shape = _shape(header)
        if shape is None:
            raise InputError(f"{path.name} is not a known Dune Spellbook label table (cex addresses, label model, "
                             "RWA tokens); check --input-format")
        ps = one_source([path], opts, "spellbook", f"spellbook:{path.stem}", None)
        c = conf(opts, CONFIDENCE)
        for row in rows:
            ps.rows_read += 1
            g = {k: (v or "").strip() for k, v in row.items() if k}
            if shape in ("cex_evm", "cex_tron"):
                chain = "tron" if shape == "cex_tron" else "ethereum"
                ps.add(g["address"], opts.category or "exchange", g["distinct_name"] or g["cex_name"], c,
                       chain=chain, details=f"cex={g['cex_name']}; added {g.get('added_date', '')}".strip())
            elif shape == "label_model":
                if g["model_name"] == "stablecoins" or g.get("section_comment"):
                    cats = ["token_contract"]
                    name = f"{g.get('section_comment') or 'stablecoin'} contract ({g['name']})"
                else:
                    cats = [_MODEL_CATEGORY.get(g["category"].lower(), "other")]
                    name = g["name"]
                    if cats[0] == "sanctions" and name.lower().startswith("tornado cash"):
                        cats.append("mixer")
                for cat in [opts.category] if opts.category else cats:
                    ps.add(g["address"], cat, name, c, chain=g["blockchain"] or None,
                           details=f"model={g['model_name']}; created {g.get('created_at', '')}".strip())
            elif shape == "rwa_ethereum":
                ps.add(g["contract_address"], opts.category or "token_contract",
                       f"{g['symbol']} RWA token ({g['backing']}), issuer {g['name']}", c,
                       chain=g["blockchain"] or "ethereum", details=f"issuer={g['name']}; backing={g['backing']}")
            else:
                ps.add(g["token_address"], opts.category or "token_contract",
                       f"{g['symbol']} RWA token ({g['category']}), issuer {g['project']}", c, chain="arbitrum",
                       details=f"issuer={g['project']}; type={g['type']}")
        out.append(finish(ps, "Spellbook label"))
    return out
