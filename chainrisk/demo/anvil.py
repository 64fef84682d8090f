"""A local Ethereum node for ``chainrisk demo --via-node``, the tests and the benchmarks: anvil 1.7.1 from npm.

:meth:`Anvil.start` runs the anvil binary (see :func:`find_anvil`) on a free port (read from its ``Listening on``
line), with ``--hardfork cancun --prune-history`` and its own ``HOME`` in a temp dir (so it writes nothing under
the user's ``~/.foundry``). JSON-RPC goes through :class:`chainrisk.ingest.node.RpcClient` (anvil's accounts are
unlocked, so ``eth_sendTransaction`` needs no signing); calls are ABI-encoded with web3's codec. The test tokens
(``chainrisk/demo/contracts/*.json``, compiled from ``tests/contracts/*.sol``) are deployed with
:meth:`Anvil.deploy`; :meth:`Anvil.batch` mines many transactions per block (automine off + ``evm_mine``).

The binary is looked for at ``$CHAINRISK_ANVIL``, then in ``node_modules`` of the current directory, then in
``node_modules`` of the source checkout this package runs from; when none is there, :class:`SourceUnavailable`
says how to install it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import SourceUnavailable
from ..ingest.node import RpcClient

ANVIL_PACKAGE = "@foundry-rs/anvil-linux-amd64"
ANVIL_VERSION = "1.7.1"
ANVIL_IN_NODE_MODULES = Path("node_modules") / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
SOURCE_ROOT = Path(__file__).resolve().parents[2]   # the checkout, when chainrisk runs from one
CONTRACTS = Path(__file__).resolve().with_name("contracts")
INSTALL_HINT = (f"install it with `npm install {ANVIL_PACKAGE}@{ANVIL_VERSION}` in the current directory (or "
                "`npm ci` in a source checkout), or set CHAINRISK_ANVIL to the anvil binary")

TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def _executable(p: Path) -> bool:
    return p.is_file() and os.access(p, os.X_OK)


def find_anvil() -> Path | None:
    """The anvil binary: ``$CHAINRISK_ANVIL``, else ``./node_modules/...``, else the checkout's; None if absent."""
    env = os.environ.get("CHAINRISK_ANVIL")
    if env:
        return Path(env) if _executable(Path(env)) else None
    for base in (Path.cwd(), SOURCE_ROOT):
        if _executable(base / ANVIL_IN_NODE_MODULES):
            return base / ANVIL_IN_NODE_MODULES
    return None


def require_anvil() -> Path:
    """The anvil binary, or :class:`SourceUnavailable` saying how to install it."""
    found = find_anvil()
    if found is None:
        env = os.environ.get("CHAINRISK_ANVIL")
        where = f"CHAINRISK_ANVIL={env} is not an executable file" if env else "anvil (the local Ethereum node) " \
            "is not installed"
        raise SourceUnavailable(f"{where}; {INSTALL_HINT}")
    return found


def available() -> bool:
    return find_anvil() is not None


def artifact(name: str) -> dict[str, Any]:
    """The compiled test contract ``name`` (``TetherLike``, ``CircleLike``): ``abi`` and ``bytecode``."""
    data: dict[str, Any] = json.loads((CONTRACTS / f"{name}.json").read_text())
    return data


class Anvil:
    """A running anvil process. Use :meth:`start`; :meth:`stop` (or the context manager) ends it."""

    def __init__(self, proc: subprocess.Popen[str], home: str, port: int) -> None:
        self.proc = proc
        self.home = home
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.client = RpcClient(self.url, timeout=300, max_retries=2, backoff=0.05)
        self._w3 = self.client.web3()
        self._lines: list[str] = []
        self._drain = threading.Thread(target=self._read_rest, daemon=True)
        self._drain.start()

    @classmethod
    def start(cls, *extra: str, keep_states: int | None = None) -> Anvil:
        """Start anvil; ``keep_states`` keeps that many recent states in memory (``anvil_rollback`` and
        ``anvil_reorg`` need them), otherwise history is pruned entirely."""
        binary = require_anvil()
        home = tempfile.mkdtemp(prefix="chainrisk-anvil-")
        cmd = [str(binary), "--port", "0", "--hardfork", "cancun", "--prune-history",
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
            proc.wait()
            shutil.rmtree(home, ignore_errors=True)
            raise SourceUnavailable("anvil did not start: " + " | ".join(s.strip() for s in seen[-5:]))
        return cls(proc, home, port)

    def _read_rest(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # keep the pipe drained so anvil never blocks on stdout
            if len(self._lines) < 200:
                self._lines.append(line)

    def stop(self) -> None:
        self.client.close()
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
        return self.client.call(method, list(params))

    def rpc_batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        return self.client.batch(calls)

    @property
    def accounts(self) -> list[str]:
        return [a.lower() for a in self.rpc("eth_accounts")]

    def block_number(self) -> int:
        return self.client.block_number()

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
            raise SourceUnavailable(f"the anvil node has no receipt for {tx}")
        if rcpt["status"] != "0x1":
            raise SourceUnavailable(f"transaction {tx} reverted on the anvil node")
        return rcpt

    # -- ABI ---------------------------------------------------------------------------------------------------

    def encode(self, types: Sequence[str], args: Sequence[Any]) -> bytes:
        """ABI-encoded ``args`` (web3's codec)."""
        return bytes(self._w3.codec.encode(list(types), list(args)))

    def selector(self, signature: str) -> bytes:
        """The 4-byte function selector of ``signature``, e.g. ``transfer(address,uint256)``."""
        return bytes(self._w3.keccak(text=signature))[:4]

    def calldata(self, signature: str, args: Sequence[Any] = ()) -> str:
        """``0x`` + the selector of ``signature`` + its ABI-encoded arguments."""
        return "0x" + (self.selector(signature) + self.encode(_types(signature), args)).hex()

    # -- contracts ---------------------------------------------------------------------------------------------

    def deploy(self, name: str, ctor_types: Sequence[str] = (), ctor_args: Sequence[Any] = (),
               sender: str | None = None) -> str:
        art = artifact(name)
        data = art["bytecode"] + (self.encode(ctor_types, ctor_args).hex() if ctor_types else "")
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
        tx: str = self.rpc("eth_sendTransaction", [{"from": sender or self.accounts[0], "to": to,
                                                   "data": self.calldata(signature, args), "gas": hex(gas)}])
        return tx

    def call(self, to: str, signature: str, args: Sequence[Any] = ()) -> str:
        out: str = self.rpc("eth_call", [{"to": to, "data": self.calldata(signature, args)}, "latest"])
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
            raise SourceUnavailable(f"evm_revert {snap} failed on the anvil node")


def _types(signature: str) -> list[str]:
    inner = signature[signature.index("(") + 1 : signature.rindex(")")]
    return [t for t in inner.split(",") if t]
