"""Issuer freezes as labels: from the store's blacklist_events (as node ingestion writes them) and end to end
through a real anvil node with the USDT-/USDC-like test tokens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from support.anvil import Anvil, Workload, anvil, chain, deploy_tokens, fresh_anvil  # noqa: F401

import chainrisk
from chainrisk.errors import InputError
from chainrisk.labels import import_labels, labels_for, list_labels
from chainrisk.labels.update import update_labels
from chainrisk.store import Store

X, Y, Z, W = ("0x" + c * 40 for c in "1234")


def t(block: int) -> datetime:
    return datetime(2024, 1, 1, 0, 0, block)


def add_events(store: Store, events: list[tuple[str, str, int]]) -> None:
    usdt = store.resolve_token("USDT")
    for i, (action, address, block) in enumerate(events):
        store.execute(
            "INSERT INTO blacklist_events VALUES ('ethereum', ?, ?, 0, ?, ?, ?, ?, ?, 'rpc')",
            [usdt.id, f"0x{block:064x}{i}", block, t(block), action, address,
             "AddedBlackList" if action == "added" else "RemovedBlackList"],
        )


def test_freeze_periods_with_history(store: Store) -> None:
    with pytest.raises(InputError, match="no issuer blacklist events"):
        import_labels(store, [], "blacklist-events")
    add_events(store, [("added", X, 10), ("removed", X, 20), ("added", X, 30), ("added", Y, 15),
                       ("removed", Z, 12), ("added", W, 5), ("added", W, 7)])
    [r] = import_labels(store, [], "blacklist-events")
    assert (r.source, r.rows_read, r.labels, r.active, r.version) == ("onchain-blacklist", 7, 5, 3, "ethereum@30")
    periods = [(x["valid_from"], x["valid_to"]) for x in labels_for(store, X)]
    assert sorted(periods, key=str) == sorted([(t(10), t(20)), (t(30), None)], key=str)
    assert [(x["valid_from"], x["valid_to"]) for x in labels_for(store, Z)] == [(None, t(12))]
    assert [(x["valid_from"], x["status"]) for x in labels_for(store, W)] == [(t(5), "active")]
    lab = labels_for(store, Y)[0]
    assert (lab["category"], lab["confidence"], lab["name"]) == ("blacklist", 100, "USDT frozen by Tether")

    # Tether releases Y: the re-import ends Y's label in place (history kept), nothing else moves
    add_events(store, [("removed", Y, 40)])
    [r] = import_labels(store, [], "blacklist-events")
    assert (r.added, r.removed, r.unchanged, r.updated, r.active) == (0, 0, 4, 1, 2)
    [y] = labels_for(store, Y)
    assert (y["status"], y["valid_from"], y["valid_to"]) == ("ended", t(15), t(40))
    assert labels_for(store, Y, include_history=False) == []


@pytest.fixture
def st(tmp_path: Path, chain: Workload) -> Iterator[Store]:  # noqa: F811
    s = chainrisk.open(tmp_path / "bl.duckdb")
    s.ensure_token("ethereum", chain.usdt, "USDT-T", 6, "stablecoin", source="test")
    s.ensure_token("ethereum", chain.usdc, "USDC-T", 6, "stablecoin", source="test")
    yield s
    s.close()


@pytest.mark.anvil
def test_update_fetches_freezes_from_the_node(st: Store, anvil: Anvil, chain: Workload) -> None:  # noqa: F811
    rep = update_labels(st, bundled=False, ofac=False, rpc_url=anvil.url, tokens=[chain.usdt, chain.usdc],
                        to_block=chain.tip, confirmations=0)
    assert rep.ingest is not None and rep.ingest["blacklist_events_added"] == len(chain.blacklist)
    [r] = rep.results
    assert r.source == "onchain-blacklist"
    # expected from what the test sent: per (token, address) the sequence of freezes and releases
    state: dict[tuple[str, str], list[str]] = {}
    for contract, action, address, _event in chain.blacklist:
        state.setdefault((contract, address.lower()), []).append(action)
    symbol = {chain.usdt.lower(): "USDT-T", chain.usdc.lower(): "USDC-T"}
    active = {(symbol[c.lower()], a) for (c, a), acts in state.items() if acts[-1] == "added"}
    got = {(x["asset"], x["address"]) for x in list_labels(st, source="onchain-blacklist")}
    assert got == active
    ended = sum(1 for acts in state.values() for a in acts if a == "removed")
    assert r.labels - r.active == ended
    # rerun: nothing new on the node, nothing changes
    [r2] = update_labels(st, bundled=False, ofac=False, rpc_url=anvil.url, tokens=[chain.usdt, chain.usdc],
                         to_block=chain.tip, confirmations=0).results
    assert (r2.added, r2.removed, r2.updated, r2.unchanged) == (0, 0, 0, r.labels)


@pytest.mark.anvil
def test_cli_update_through_the_node(tmp_path: Path, anvil: Anvil, chain: Workload,  # noqa: F811
                                     capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from chainrisk.cli import main

    db = tmp_path / "cli.duckdb"
    with chainrisk.open(db) as s:
        s.ensure_token("ethereum", chain.usdt, "USDT-T", 6, "stablecoin", source="test")
        s.ensure_token("ethereum", chain.usdc, "USDC-T", 6, "stablecoin", source="test")
    with pytest.raises(SystemExit) as e:
        main(["--db", str(db), "-q", "labels", "update", "--no-ofac", "--no-bundled", "--rpc-url", anvil.url,
              "--token", chain.usdt, "--token", chain.usdc, "--to-block", str(chain.tip), "--confirmations", "0",
              "--format", "json"])
        raise SystemExit(0)
    assert e.value.code == 0
    out = capsys.readouterr()
    [res] = json.loads(out.out)
    assert res["source"] == "onchain-blacklist" and res["added"] == res["labels"] > 0
    assert f"{len(chain.blacklist):,} freeze events" in out.err


@pytest.mark.anvil
def test_update_confirms_open_freezes_with_the_issuers_contract_reads(tmp_path: Path,
                                                                      fresh_anvil: Anvil) -> None:  # noqa: F811
    """isBlackListed (Tether) / isBlacklisted (Circle) read at the last ingested block: a freeze whose state was
    changed without an event (as a proxy upgrade can) is named in the notes; the labels stay as the events say."""
    from chainrisk.address import keccak

    node = fresh_anvil
    usdt, usdc = deploy_tokens(node)
    a, b, c = ("0x" + ch * 40 for ch in "abc")
    node.batch([(usdt, "addBlackList(address)", [a], None), (usdt, "addBlackList(address)", [b], None),
                (usdt, "removeBlackList(address)", [b], None), (usdc, "blacklist(address)", [c], None)],
               per_block=2)
    assert node.call(usdt, "isBlackListed(address)", [a]) == "0x" + "0" * 63 + "1"
    # TetherLike's isBlackListed mapping is storage slot 7: clear a's entry without an event
    slot = "0x" + keccak(bytes.fromhex(a[2:]).rjust(32, b"\0") + (7).to_bytes(32, "big")).hex()
    node.rpc("anvil_setStorageAt", [usdt, slot, "0x" + "0" * 64])
    node.mine()
    s = chainrisk.open(tmp_path / "confirm.duckdb")
    try:
        s.ensure_token("ethereum", usdt, "USDT-T", 6, "stablecoin", source="test")
        s.ensure_token("ethereum", usdc, "USDC-T", 6, "stablecoin", source="test")
        rep = update_labels(s, bundled=False, ofac=False, rpc_url=node.url, tokens=[usdt, usdc], confirmations=0)
        tip = node.block_number()
        assert rep.freezes == {"block": tip, "checked": 2, "confirmed": 1, "not_confirmed": 1, "unanswered": 0}
        [note] = [n for n in rep.notes if "not confirmed" in n]
        assert "1 of 1 USDT-T freezes" in note and "isBlackListed" in note and a in note
        assert rep.to_dict()["freezes"] == rep.freezes
        active = {x["address"] for x in list_labels(s, source="onchain-blacklist")}
        assert active == {a, c}
    finally:
        s.close()


@pytest.mark.anvil
def test_issuer_freeze_reads(anvil: Anvil, chain: Workload) -> None:  # noqa: F811
    from chainrisk.ingest.node import RpcClient

    c = RpcClient(anvil.url)
    frozen_now: dict[tuple[str, str], bool] = {}
    for contract, action, address, _event in chain.blacklist:
        frozen_now[(contract, address.lower())] = action == "added"
    for contract, function in ((chain.usdt, "isBlackListed"), (chain.usdc, "isBlacklisted")):
        addrs = [*sorted(a for k, a in frozen_now if k == contract), "0x" + "9" * 40]
        expect = [frozen_now.get((contract, a), False) for a in addrs]
        assert c.frozen(contract, function, addrs, batch_size=2) == expect
        assert any(expect) and not all(expect)
    assert c.frozen("0x" + "5" * 40, "isBlacklisted", ["0x" + "9" * 40]) == [None]  # no contract there
