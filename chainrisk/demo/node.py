"""``chainrisk demo --via-node``: replay a simulated economy as real ERC-20 transactions on a local anvil node,
then ingest it back with :func:`chainrisk.ingest_rpc`, so the demo exercises the real node path.

The node runs the USDC-like test token (``chainrisk/demo/contracts/CircleLike.json``, compiled from
``tests/contracts/CircleLike.sol``: ``transfer``, ``mint`` emitting
``Transfer(0x0, to, value)``) placed at the real token addresses (``anvil_setCode``), every sender gets a balance
by ``anvil_setStorageAt`` (no extra Transfer events), and transactions are sent from the simulated addresses
themselves (``anvil_autoImpersonateAccount``, zero base fee). Transfers go out in the economy's order, a few
hundred per block, with block timestamps taken from the economy. This needs the anvil binary (see
:func:`chainrisk.demo.anvil.find_anvil`); when it is missing, one sentence says how to install it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import RpcError, SourceUnavailable
from ..taxonomy import NULL_ADDRESS
from .anvil import TRANSFER_TOPIC, Anvil, require_anvil
from .economy import START_TIME

if TYPE_CHECKING:
    from ..store import Store
    from .economy import Economy

log = logging.getLogger(__name__)

NODE_SCALE_FACTOR = 0.01          # --via-node runs scale/100: about 10,000 transfers at --scale 1
PER_BLOCK = 250
# storage layout of tests/contracts/CircleLike.sol
SLOT_DECIMALS, SLOT_OWNER, SLOT_BALANCES = 2, 4, 5


def node_economy_scale(scale: float) -> float:
    return scale * NODE_SCALE_FACTOR


def _word(x: int | str) -> str:
    if isinstance(x, str):
        return "0x" + bytes.fromhex(x[2:]).rjust(32, b"\0").hex()
    return "0x" + x.to_bytes(32, "big").hex()


def _balance_slot(holder: str) -> str:
    from ..address import keccak

    return "0x" + keccak(bytes.fromhex(holder[2:]).rjust(32, b"\0") + SLOT_BALANCES.to_bytes(32, "big")).hex()


def _batch(node: Anvil, calls: list[tuple[str, list[Any]]]) -> list[Any]:
    """One JSON-RPC batch; a refused call is a SourceUnavailable."""
    try:
        return node.rpc_batch(calls)
    except RpcError as e:
        raise SourceUnavailable(f"the anvil node refused a call of a batch of {len(calls)} ({e})") from None


def ingest_via_node(store: Store, eco: Economy, say: Callable[[str], None]) -> str:
    """Replay ``eco`` on a fresh anvil node and ingest it with ``ingest_rpc``; returns a one-line detail."""
    from ..ingest.rpc import ingest_rpc

    require_anvil()
    tab = eco.transfers
    n = tab.num_rows
    tokens = sorted(set(tab["token_address"].to_pylist()))
    decimals = {t.contract: t.decimals for t in eco.tokens}
    node = Anvil.start("--gas-limit", "2000000000", "--block-base-fee-per-gas", "0", "--chain-id", "1",
                       "--timestamp", str(int(START_TIME.timestamp()) - 60))
    try:
        owner = node.accounts[0]
        code = node.rpc("eth_getCode", [node.deploy("CircleLike"), "latest"])
        setup: list[tuple[str, list[Any]]] = []
        for t in tokens:
            setup += [("anvil_setCode", [t, code]),
                      ("anvil_setStorageAt", [t, _word(SLOT_OWNER), _word(owner)]),
                      ("anvil_setStorageAt", [t, _word(SLOT_DECIMALS), _word(decimals.get(t, 18))])]
        senders = {(t, f) for t, f in zip(tab["token_address"].to_pylist(), tab["from_address"].to_pylist(),
                                          strict=True) if f != NULL_ADDRESS}
        setup += [("anvil_setStorageAt", [t, _balance_slot(f), _word(2**200)]) for t, f in sorted(senders)]
        setup.append(("anvil_autoImpersonateAccount", [True]))
        for i in range(0, len(setup), 2000):
            _batch(node, setup[i:i + 2000])
        say(f"  node: {len(tokens)} token contracts at their real addresses, {len(senders):,} funded senders")
        node.automine(False)
        sel_transfer = node.selector("transfer(address,uint256)")
        sel_mint = node.selector("mint(address,uint256)")
        nonces: dict[str, int] = {owner: int(node.rpc("eth_getTransactionCount", [owner, "pending"]), 16)}
        cols = [tab[c].to_pylist() for c in ("token_address", "from_address", "to_address", "value")]
        times = tab["block_time"].to_pylist()
        last_ts = int(START_TIME.timestamp()) - 60
        for lo in range(0, n, PER_BLOCK):
            calls: list[tuple[str, list[Any]]] = []
            for i in range(lo, min(lo + PER_BLOCK, n)):
                token, frm, to, value = cols[0][i], cols[1][i], cols[2][i], int(cols[3][i])
                if frm == NULL_ADDRESS:
                    sender, data = owner, sel_mint + node.encode(["address", "uint256"], [to, value])
                else:
                    sender, data = frm, sel_transfer + node.encode(["address", "uint256"], [to, value])
                nonce = nonces.get(sender, 0)     # simulated addresses have never sent a transaction
                nonces[sender] = nonce + 1
                calls.append(("eth_sendTransaction", [{"from": sender, "to": token, "data": "0x" + data.hex(),
                                                        "gas": hex(120_000), "gasPrice": "0x0",
                                                        "nonce": hex(nonce)}]))
            _batch(node, calls)
            last_ts = max(last_ts + 1, int(times[lo].timestamp()))
            _batch(node, [("evm_setNextBlockTimestamp", [last_ts]), ("evm_mine", [])])
            if (lo // PER_BLOCK) % 20 == 0:
                say(f"  node: {min(lo + PER_BLOCK, n):,} of {n:,} transfers sent")
        tip = node.block_number()
        node.automine(True)
        logs = node.rpc("eth_getLogs", [{"fromBlock": "0x0", "toBlock": hex(tip), "address": tokens,
                                         "topics": [TRANSFER_TOPIC]}])
        if len(logs) != n:
            raise SourceUnavailable(f"the node holds {len(logs):,} Transfer logs, expected {n:,}; "
                                    "some transactions failed")
        say(f"  node: {n:,} transfers in {tip:,} blocks; ingesting with ingest_rpc")
        rep = ingest_rpc(store, node.url, tokens=tokens, from_block=0, to_block=tip, confirmations=0)
        added = getattr(rep, "transfers_added", None) or getattr(rep, "logs_added", None)
    finally:
        node.stop()
    stored = store.execute("SELECT count(*) FROM transfers").fetchall()[0][0]
    return (f"{stored:,} transfers sent as real transactions to anvil ({tip:,} blocks) and read back by ingest_rpc"
            + (f" ({added:,} added)" if isinstance(added, int) else ""))
