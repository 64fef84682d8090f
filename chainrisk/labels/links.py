"""Linked labels: a label on an externally owned address, offered on the address's other EVM chains.

An EVM address is one key on every EVM chain: whoever holds the private key of an externally owned account (EOA)
controls the same address on ethereum, bsc, polygon, arbitrum, optimism and base. A contract is different: the
same address on another chain may be nobody's, or someone else's contract (deployed by a different party, or a
counterfactual wallet not yet deployed there). So a label is linked to another chain only when the address is
*known* to be externally owned, and never when it is, or may be, a contract.

How chainrisk knows (in this order; the first that answers decides):

1. **contract** from the store: the address is a token contract of the registry (any chain), or carries a label
   whose category names a contract (``token_contract``, ``bridge``, ``defi``: Spellbook's stablecoin, bridge and
   DEX models, Etherscan's token labels, the bundled registry);
2. **contract** from a node (``rpc_url``): ``eth_getCode`` is not empty (EIP-7702 delegated accounts included:
   their code is a delegation, and chainrisk does not link them);
3. **externally owned** from a node: ``eth_getCode`` is empty *and* ``eth_getTransactionCount`` is above zero
   (the address signed transactions itself: only a key holder can). Empty code with nonce 0 is not enough: a
   contract may be deployed there later, or already be on another chain (a counterfactual Safe);
4. otherwise **unknown**: not linked (the report counts these).

Without a node nothing is known to be externally owned, so nothing is linked; the report says so.

A linked label (source :data:`LINK_SOURCE`) is put on each chain where the store has activity of the address and
the address has no label of that category yet: same category, ``name`` saying where it came from, confidence
halved (at least 10), and ``details`` with the original chain, source and the evidence of ownership. The whole
source is rebuilt on every run (:func:`link_labels`), so a label that ended at its source stops being linked.
Scoring runs after the link see linked labels like any other; lookups show them on the chain they were linked to.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..chains import check_chain_id, get_chain
from ..errors import UsageError
from ..store import Store
from .chains import EVM_LABEL_CHAINS
from .model import ParsedSource
from .store import SourceResult, replace_sources

log = logging.getLogger(__name__)

LINK_SOURCE = "linked-evm"
#: label categories that name a contract: an address carrying one is never linked
CONTRACT_CATEGORIES = frozenset({"token_contract", "bridge", "defi"})
BATCH = 200


@dataclass
class LinkReport:
    """What a link run did: labels offered, and why the others were not."""

    checked_addresses: int = 0
    eoa: int = 0
    contract: int = 0
    unknown: int = 0
    linked: int = 0
    node: str | None = None
    node_chain: str | None = None
    block: int | None = None
    notes: list[str] = field(default_factory=list)
    result: SourceResult | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"checked_addresses": self.checked_addresses, "eoa": self.eoa, "contract": self.contract,
                "unknown": self.unknown, "linked": self.linked, "node": self.node, "node_chain": self.node_chain,
                "block": self.block, "notes": list(self.notes),
                "result": self.result.to_dict() if self.result is not None else None}


def _candidates(store: Store) -> list[tuple[Any, ...]]:
    """Active labels on EVM chains (not themselves linked) of addresses the store has on another chain."""
    evm = sorted(EVM_LABEL_CHAINS)
    return store.execute(
        """
        SELECT l.chain, l.address, l.category, l.name, l.source, l.source_version, l.confidence, a.chain AS target
        FROM active_labels l
        JOIN addresses a ON a.address = l.address AND a.chain <> l.chain
        WHERE l.source <> $src AND list_contains($evm, l.chain) AND list_contains($evm, a.chain)
          AND NOT EXISTS (SELECT 1 FROM active_labels o WHERE o.address = l.address AND o.chain = a.chain
                          AND o.category = l.category AND o.source <> $src)
        ORDER BY l.address, a.chain, l.category, l.source, l.chain
        """, {"src": LINK_SOURCE, "evm": evm}).fetchall()


def _store_contracts(store: Store, addresses: list[str]) -> set[str]:
    if not addresses:
        return set()
    rows = store.execute(
        "SELECT contract FROM tokens WHERE contract IN (SELECT unnest($a))"
        " UNION SELECT address FROM active_labels WHERE address IN (SELECT unnest($a))"
        " AND list_contains($cats, category)",
        {"a": addresses, "cats": sorted(CONTRACT_CATEGORIES)}).fetchall()
    return {r[0] for r in rows}


def account_kinds(addresses: list[str], rpc_url: str | None, chain: str = "ethereum", *,
                  timeout: float = 30.0) -> tuple[dict[str, tuple[str, str]], int | None]:
    """``address -> (kind, evidence)`` with kind ``eoa`` or ``contract`` from a node (``eth_getCode`` and
    ``eth_getTransactionCount`` at one block), and that block; addresses the node leaves open are absent."""
    if rpc_url is None or not addresses:
        return {}, None
    from ..ingest.node import RpcClient

    spec = get_chain(chain)
    if spec.address_form != "evm":
        raise UsageError(f"linking reads an EVM node; {chain} is not an EVM chain")
    client = RpcClient(rpc_url, timeout=timeout)
    try:
        note = check_chain_id(spec, client.chain_id(), client.masked)
        if note:
            log.info("%s", note)
        block = client.block_number()
        tag = hex(block)
        out: dict[str, tuple[str, str]] = {}
        for i in range(0, len(addresses), BATCH):
            part = addresses[i:i + BATCH]
            calls: list[tuple[str, list[Any]]] = []
            for a in part:
                calls.append(("eth_getCode", [a, tag]))
                calls.append(("eth_getTransactionCount", [a, tag]))
            res = client.batch(calls)
            for j, a in enumerate(part):
                code, nonce = res[2 * j], res[2 * j + 1]
                n = int(nonce, 16) if isinstance(nonce, str) else 0
                if isinstance(code, str) and code not in ("0x", "0x0", ""):
                    out[a] = ("contract", f"code on {chain} at block {block}")
                elif n > 0:
                    out[a] = ("eoa", f"no code and {n} transactions sent on {chain} at block {block}")
        return out, block
    finally:
        client.close()


def link_labels(store: Store, *, rpc_url: str | None = None, chain: str = "ethereum", timeout: float = 30.0,
                progress: Callable[[str], None] | None = None) -> LinkReport:
    """Rebuild the :data:`LINK_SOURCE` labels: each active label of an address known to be externally owned is
    offered on the other EVM chains where the store has activity of that address (see the module docstring).
    ``rpc_url`` is a node of ``chain`` (its chain id is checked) used to tell EOAs from contracts; without it
    no address is known to be externally owned and nothing is linked."""
    say = progress or (lambda _m: None)
    rep = LinkReport(node_chain=chain if rpc_url else None)
    cands = _candidates(store)
    addrs = sorted({c[1] for c in cands})
    rep.checked_addresses = len(addrs)
    contracts = _store_contracts(store, addrs)
    open_ = [a for a in addrs if a not in contracts]
    say(f"{len(addrs)} labelled addresses are active on another chain; {len(contracts)} are contracts by the "
        "store's evidence")
    kinds, block = account_kinds(open_, rpc_url, chain, timeout=timeout)
    if rpc_url:
        from ..ingest.node import mask_url

        rep.node, rep.block = mask_url(rpc_url), block
    kind: dict[str, tuple[str, str]] = {a: ("contract", "a token contract or a contract's label in the store")
                                        for a in contracts}
    kind.update(kinds)
    rep.contract = sum(1 for a in addrs if kind.get(a, ("",))[0] == "contract")
    rep.eoa = sum(1 for a in addrs if kind.get(a, ("",))[0] == "eoa")
    rep.unknown = len(addrs) - rep.contract - rep.eoa
    if rep.unknown:
        rep.notes.append(f"{rep.unknown} addresses not linked: not known to be externally owned"
                         + ("" if rpc_url else " (give a node with --rpc-url to check their code and nonce)"))
    version = f"{chain}@{block}" if block is not None else "store-evidence"
    ps = ParsedSource(LINK_SOURCE, "linked", version, f"labels linked across EVM chains ({version})")
    seen: set[tuple[str, str, str, str | None]] = set()
    for lab_chain, address, category, name, source, source_version, confidence, target in cands:
        k = kind.get(address)
        if k is None or k[0] != "eoa":
            continue
        key = (target, address, category, name)
        if key in seen:
            continue
        seen.add(key)
        details = {"linked_from": lab_chain, "source": source, "source_version": source_version,
                   "confidence_at_source": int(confidence), "externally_owned": k[1]}
        ps.add(address, category, f"{name or category} (linked from {lab_chain})", max(10, int(confidence) // 2),
               chain=target, details=json.dumps(details, sort_keys=True))
        ps.rows_read += 1
    rep.linked = len(ps.records)
    # the source is rebuilt in full each time: labels no longer linkable end (a shrink is expected, not a
    # truncated download, so the mass-removal guard does not apply)
    [rep.result] = replace_sources(store, [ps], allow_mass_removal=True)
    return rep
