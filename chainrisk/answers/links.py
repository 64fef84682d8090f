"""Block-explorer links per chain, for the report and the graph explorer.

The URL templates come from the chain registry (:data:`chainrisk.chains.CHAINS`: Etherscan, BscScan, PolygonScan,
Arbiscan, Optimistic Etherscan, BaseScan, Tronscan). A chain without an entry (a label's ``avalanche_c``, or
``evm`` of an answer over several chains) gets no link. Links are only ever followed by the person reading
(nothing is loaded from them).
"""

from __future__ import annotations

from urllib.parse import quote

from ..chains import CHAINS

# chain -> (transaction URL template, address URL template)
EXPLORERS: dict[str, tuple[str, str]] = {
    c.name: (c.explorer_tx.replace("{tx}", "{}"), c.explorer_address.replace("{address}", "{}"))
    for c in CHAINS.values()
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
