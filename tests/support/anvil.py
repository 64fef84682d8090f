"""The anvil test node for tests and benchmarks: pytest fixtures and the test workload.

The launcher itself is :mod:`chainrisk.demo.anvil` (anvil 1.7.1 from ``npm ci``; ``chainrisk demo --via-node``
uses it too); this module adds what only tests need. The test tokens (``tests/contracts/*.sol``, compiled to
``chainrisk/demo/contracts/*.json``) are deployed with :func:`deploy_tokens`.

Fixtures (import them in a test module: ``from support.anvil import anvil, chain  # noqa: F401``):

- ``anvil``: one node per test session (skips when anvil is not installed; fails under CI=true);
- ``chain``: the session node with both test tokens deployed and a workload of transfers, blacklist events,
  Issue/Redeem and odd logs, plus what the test sent (:class:`Workload`), for exact round-trip checks.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from chainrisk.demo.anvil import INSTALL_HINT, TRANSFER_TOPIC, Anvil, artifact, available
from support.env import need

__all__ = ["TRANSFER_TOPIC", "Anvil", "Workload", "artifact", "available", "deploy_tokens", "make_workload",
           "node_transfers", "random_address", "stored_transfers"]


@dataclass
class Workload:
    """What the tests sent to the node, for exact round-trip checks."""

    usdt: str
    usdc: str
    owner: str
    # (token contract, from, to, value) of every Transfer the contracts emitted
    transfers: list[tuple[str, str, str, int]] = field(default_factory=list)
    # (token contract, action, address, event)
    blacklist: list[tuple[str, str, str, str]] = field(default_factory=list)
    huge: int = 0
    tip: int = 0


def random_address(rng: random.Random) -> str:
    return "0x" + "".join(rng.choice("0123456789abcdef") for _ in range(40))


def deploy_tokens(node: Anvil) -> tuple[str, str]:
    """Deploy the USDT-like (initial supply 10^15 to the owner) and USDC-like tokens; returns their addresses."""
    usdt = node.deploy("TetherLike", ["uint256"], [10**15])
    usdc = node.deploy("CircleLike")
    return usdt, usdc


def make_workload(node: Anvil, n_batches: int = 40, per_batch: int = 100, seed: int = 7) -> Workload:
    """Exercise both test tokens: mints (including amounts above 2^64, 2^127 and 2^128), many batch transfers
    across many blocks, blacklist add/remove in both styles, Issue/Redeem, and logs an ingester must skip."""
    rng = random.Random(seed)
    usdt, usdc = deploy_tokens(node)
    owner = node.accounts[0]
    w = Workload(usdt=usdt, usdc=usdc, owner=owner)
    zero = "0x" + "0" * 40
    sends: list[tuple[str, str, Sequence[Any], str | None]] = []

    # USDC-like mints: ordinary, > 2^64, > 2^127 and > 2^128 (the "huge" amount).
    w.huge = 2**200 + 12345
    big = [(owner, 10**13), (rng.choice(node.accounts[1:]), 2**64 + 7), (owner, 2**127 + 3), (owner, w.huge)]
    for to, amount in big:
        sends.append((usdc, "mint(address,uint256)", [to, amount], owner))
        w.transfers.append((usdc, zero, to, amount))
    # Blacklist events of both styles, with removals.
    bl = [random_address(rng) for _ in range(3)]
    for a in bl:
        sends.append((usdt, "addBlackList(address)", [a], owner))
        w.blacklist.append((usdt, "added", a, "AddedBlackList"))
        sends.append((usdc, "blacklist(address)", [a], owner))
        w.blacklist.append((usdc, "added", a, "Blacklisted"))
    sends.append((usdt, "removeBlackList(address)", [bl[0]], owner))
    w.blacklist.append((usdt, "removed", bl[0], "RemovedBlackList"))
    sends.append((usdc, "unBlacklist(address)", [bl[1]], owner))
    w.blacklist.append((usdc, "removed", bl[1], "UnBlacklisted"))
    # Tether Issue/Redeem: balance changes with no Transfer event.
    sends.append((usdt, "issue(uint256)", [5 * 10**12], owner))
    sends.append((usdt, "redeem(uint256)", [10**12], owner))
    # Logs to skip: an ERC-721-style Transfer (4 topics) and a Transfer without data.
    sends.append((usdc, "emitOddLogs(address,address,uint256)", [owner, bl[2], 42], owner))
    node.batch(sends, per_block=5)

    # Many transfers: each batch transaction moves per_batch transfers of one token to random recipients.
    recipients = [random_address(rng) for _ in range(500)]
    sends = []
    for i in range(n_batches):
        token = usdt if i % 2 == 0 else usdc
        to = [rng.choice(recipients) for _ in range(per_batch)]
        values = [rng.choice([0, 1, rng.randrange(1, 10**9), rng.randrange(10**9, 10**12)]) for _ in to]
        sends.append((token, "batchTransfer(address[],uint256[])", [to, values], owner))
        w.transfers.extend((token, owner, t, v) for t, v in zip(to, values, strict=True))
    node.batch(sends, per_block=3)
    w.tip = node.block_number()
    return w


def node_transfers(node: Anvil, tokens: Sequence[str], to_block: int | None = None) -> set[tuple[Any, ...]]:
    """The node's own set of ERC-20 transfers as (tx_hash, log_index, block_number, token, from, to, value),
    decoded in plain Python (an independent check of the ingester)."""
    logs = node.rpc("eth_getLogs", [{"fromBlock": "0x0", "toBlock": hex(to_block) if to_block is not None else
                                     "latest", "address": list(tokens), "topics": [TRANSFER_TOPIC]}])
    out = set()
    for lg in logs:
        if len(lg["topics"]) != 3 or len(lg["data"]) != 66:
            continue
        out.add((lg["transactionHash"], int(lg["logIndex"], 16), int(lg["blockNumber"], 16),
                 lg["address"].lower(), "0x" + lg["topics"][1][26:], "0x" + lg["topics"][2][26:],
                 int(lg["data"], 16)))
    return out


def stored_transfers(store: Any) -> set[tuple[Any, ...]]:
    rows = store.execute(
        "SELECT tx_hash, log_index, block_number, token_address, from_address, to_address, value_exact"
        " FROM transfers_view"
    ).fetchall()
    return {(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6])) for r in rows}


# -- fixtures ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    need(available(), f"anvil is not installed; {INSTALL_HINT}")
    node = Anvil.start("--gas-limit", "100000000")
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def chain(anvil: Anvil) -> Workload:
    """The session node with the test tokens and their workload (a few thousand transfers over ~20 blocks)."""
    return make_workload(anvil)


@pytest.fixture
def fresh_anvil() -> Iterator[Anvil]:
    """A node of the test's own, for tests that rewrite history (reorgs, rollbacks)."""
    need(available(), f"anvil is not installed; {INSTALL_HINT}")
    node = Anvil.start("--gas-limit", "100000000", keep_states=64)
    try:
        yield node
    finally:
        node.stop()
