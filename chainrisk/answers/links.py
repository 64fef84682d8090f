"""Block-explorer links per chain, for the report and the graph explorer.

A small local table until the chains registry (``chainrisk.chains``, with explorer URL templates per chain)
lands; then :func:`tx_url` and :func:`address_url` read it instead. A chain without an entry gets no link.
Links are only ever followed by the person reading (nothing is loaded from them).
"""

from __future__ import annotations

from urllib.parse import quote

# chain -> (transaction URL template, address URL template)
EXPLORERS: dict[str, tuple[str, str]] = {
    "ethereum": ("https://etherscan.io/tx/{}", "https://etherscan.io/address/{}"),
    "tron": ("https://tronscan.org/#/transaction/{}", "https://tronscan.org/#/address/{}"),
}


def tx_url(chain: str | None, tx_hash: str | None) -> str | None:
    tpl = EXPLORERS.get(chain or "")
    return tpl[0].format(quote(tx_hash.removeprefix("0x") if chain == "tron" else tx_hash, safe="")) \
        if tpl and tx_hash else None


def address_url(chain: str | None, address: str | None) -> str | None:
    tpl = EXPLORERS.get(chain or "")
    return tpl[1].format(quote(address, safe="")) if tpl and address else None


def explorer_name(chain: str | None) -> str | None:
    tpl = EXPLORERS.get(chain or "")
    return tpl[0].split("/")[2] if tpl else None
