"""A real local Ethereum node for tests and benchmarks: anvil 1.7.1 from ``npm ci``, plus the test tokens.

``Anvil.start()`` runs ``node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil`` on a free port (read from its
``Listening on`` line), with ``--hardfork cancun --prune-history`` and its own ``HOME`` in a temp dir (so it
writes nothing under the user's ``~/.foundry``). Tests talk to it with plain JSON-RPC (anvil's accounts are
unlocked, so ``eth_sendTransaction`` needs no signing). The test tokens (``tests/contracts``) are deployed with
:meth:`Anvil.deploy`; :meth:`Anvil.batch` mines many transactions per block (automine off + ``evm_mine``).

Fixtures (import them in a test module: ``from support.anvil import anvil, chain  # noqa: F401``):

- ``anvil``: one node per test session (skips when anvil is not installed);
- ``chain``: the session node with both test tokens deployed and a workload of transfers, blacklist events,
  Issue/Redeem and odd logs, plus what the test sent (:class:`Workload`), for exact round-trip checks.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

ROOT = Path(__file__).resolve().parents[2]
ANVIL_BIN = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
CONTRACTS = ROOT / "tests" / "contracts"

TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def available() -> bool:
    return ANVIL_BIN.is_file() and os.access(ANVIL_BIN, os.X_OK)


def artifact(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CONTRACTS / f"{name}.json").read_text())
    return data


def _selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


def _types(signature: str) -> list[str]:
    inner = signature[signature.index("(") + 1 : signature.rindex(")")]
    return [t for t in inner.split(",") if t]


class Anvil:
    """A running anvil process. Use :meth:`start`; :meth:`stop` (or the context manager) ends it."""

    def __init__(self, proc: subprocess.Popen[str], home: str, port: int) -> None:
        self.proc = proc
        self.home = home
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.session = requests.Session()
        self._id = 0
        self._lines: list[str] = []
        self._drain = threading.Thread(target=self._read_rest, daemon=True)
        self._drain.start()

    @classmethod
    def start(cls, *extra: str, keep_states: int | None = None) -> Anvil:
        """Start anvil; ``keep_states`` keeps that many recent states in memory (``anvil_rollback`` and
        ``anvil_reorg`` need them), otherwise history is pruned entirely."""
        if not available():
            raise RuntimeError(f"anvil is not installed at {ANVIL_BIN}; run `npm ci` in the repository root")
        home = tempfile.mkdtemp(prefix="chainrisk-anvil-")
        cmd = [str(ANVIL_BIN), "--port", "0", "--hardfork", "cancun", "--prune-history",
               *([str(keep_states)] if keep_states else []), *extra]
        env = dict(os.environ, HOME=home)
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=home
        )
        assert proc.stdout is not None
        port = None
        seen = []
        for line in proc.stdout:
            seen.append(line)
            m = re.search(r"Listening on [\d.]+:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        if port is None:
            proc.kill()
            shutil.rmtree(home, ignore_errors=True)
            raise RuntimeError("anvil did not start:\n" + "".join(seen[-20:]))
        return cls(proc, home, port)

    def _read_rest(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # keep the pipe drained so anvil never blocks on stdout
            if len(self._lines) < 200:
                self._lines.append(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> Anvil:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- JSON-RPC ----------------------------------------------------------------------------------------------

    def rpc(self, method: str, params: Sequence[Any] = ()) -> Any:
        self._id += 1
        r = self.session.post(self.url, json={"jsonrpc": "2.0", "id": self._id, "method": method,
                                              "params": list(params)}, timeout=120)
        r.raise_for_status()
        body = r.json()
        if "error" in body:
            raise RuntimeError(f"{method}: {body['error']}")
        return body["result"]

    @property
    def accounts(self) -> list[str]:
        return [a.lower() for a in self.rpc("eth_accounts")]

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def automine(self, on: bool) -> None:
        self.rpc("evm_setAutomine", [on])

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", [hex(blocks)]) if blocks > 1 else self.rpc("evm_mine")

    def receipt(self, tx: str) -> dict[str, Any]:
        deadline = time.monotonic() + 10
        rcpt: dict[str, Any] | None = self.rpc("eth_getTransactionReceipt", [tx])
        while rcpt is None and time.monotonic() < deadline:  # automine can lag the send by a few ms
            time.sleep(0.01)
            rcpt = self.rpc("eth_getTransactionReceipt", [tx])
        if rcpt is None:
            raise RuntimeError(f"no receipt for {tx}")
        if rcpt["status"] != "0x1":
            raise RuntimeError(f"transaction {tx} reverted")
        return rcpt

    def deploy(self, name: str, ctor_types: Sequence[str] = (), ctor_args: Sequence[Any] = (),
               sender: str | None = None) -> str:
        art = artifact(name)
        data = art["bytecode"] + (encode(list(ctor_types), list(ctor_args)).hex() if ctor_types else "")
        sender = sender or self.accounts[0]
        tx = self.rpc("eth_sendTransaction", [{"from": sender, "data": data, "gas": hex(8_000_000)}])
        self.mine_if_manual()
        return str(self.receipt(tx)["contractAddress"]).lower()

    def mine_if_manual(self) -> None:
        if not self.rpc("anvil_getAutomine"):
            self.mine()

    def send(self, to: str, signature: str, args: Sequence[Any] = (), sender: str | None = None,
             gas: int = 25_000_000) -> str:
        """Send a contract call from an unlocked account; returns the tx hash (mined only if automine is on)."""
        data = "0x" + (_selector(signature) + encode(_types(signature), list(args))).hex()
        tx: str = self.rpc("eth_sendTransaction", [{"from": sender or self.accounts[0], "to": to, "data": data,
                                                   "gas": hex(gas)}])
        return tx

    def call(self, to: str, signature: str, args: Sequence[Any] = ()) -> str:
        data = "0x" + (_selector(signature) + encode(_types(signature), list(args))).hex()
        out: str = self.rpc("eth_call", [{"to": to, "data": data}, "latest"])
        return out

    def batch(self, sends: Sequence[tuple[str, str, Sequence[Any], str | None]], per_block: int = 50) -> list[str]:
        """Send many transactions with automine off, mining ``per_block`` of them per block; returns tx hashes
        after checking every receipt."""
        self.automine(False)
        hashes = []
        try:
            for i, (to, sig, args, sender) in enumerate(sends, start=1):
                hashes.append(self.send(to, sig, args, sender))
                if i % per_block == 0:
                    self.mine()
            if len(sends) % per_block:
                self.mine()
        finally:
            self.automine(True)
        for h in hashes:
            self.receipt(h)
        return hashes

    # -- state ---------------------------------------------------------------------------------------------

    def snapshot(self) -> str:
        snap: str = self.rpc("evm_snapshot")
        return snap

    def revert(self, snap: str) -> None:
        if not self.rpc("evm_revert", [snap]):
            raise RuntimeError(f"evm_revert {snap} failed")


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
    if not available():
        pytest.skip("anvil is not installed; run `npm ci` in the repository root")
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
    if not available():
        pytest.skip("anvil is not installed; run `npm ci` in the repository root")
    node = Anvil.start("--gas-limit", "100000000", keep_states=64)
    try:
        yield node
    finally:
        node.stop()
