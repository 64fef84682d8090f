"""lookup reads every chain of an address in three statements (its keys, then the scores and the exposure and
indicator rows of all its chain ids in one IN list each). These tests hold it to the per-chain reading it replaced:
one point query per table per chain, each filtered on the run in SQL, labels ordered in SQL. Every answer (each
chain's, the combined one, each chain narrowed with ``chain=``) must be exactly the same JSON, on the multi-chain
store (real imports and a real scoring run) and on the hand-built store (two runs, indicators, a behaviour part,
an inferred source, a label-only and a late address)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import multichain as M
from support import scored_store as S

import chainrisk
from chainrisk.address import Address, try_parse
from chainrisk.answers.lookup import (
    _SCORE_COLUMNS,
    Label,
    LookupResult,
    _assemble,
    behaviour_of,
    chain_order,
    combine,
    ensure_indexes,
    exposure_inferred,
    lookup,
    verdict_select,
)
from chainrisk.store.runs import resolve_run


def _per_chain_reference(st: Any, value: str, addr: Address, run: Any) -> LookupResult:
    """One chain's answer read the way lookup read it before the batching: labels, id, scores row, exposures and
    indicators, behaviour, each its own point query with the run filtered in SQL."""
    labels = [Label(*r, chain=addr.chain) for r in st.execute(
        "SELECT category, name, source, source_version, confidence, valid_from, valid_to FROM labels"
        " WHERE address = ? AND chain = ?"
        " ORDER BY valid_to IS NOT NULL, confidence DESC, category, source, valid_from NULLS FIRST",
        [addr.address, addr.chain]).fetchall()]
    ids = st.execute("SELECT id FROM addresses WHERE address = ? AND chain = ?",
                     [addr.address, addr.chain]).fetchall()
    aid = ids[0][0] if ids else None
    row, parts = None, []
    if aid is not None:
        found = st.execute(f"SELECT address_id, {_SCORE_COLUMNS}, {verdict_select(st)}"
                           " FROM scores WHERE address_id = ? AND run_id = ?", [aid, run.run_id]).fetchall()
        row = found[0] if found else None
        if row is not None:
            parts = st.execute(
                "SELECT 0 AS k, category, direction, hop_class, usd, share, min_hop, NULL AS evidence,"
                f" {exposure_inferred(st)} AS inferred FROM exposures WHERE address_id = $id AND run_id = $run"
                " UNION ALL SELECT 1, indicator, NULL, NULL, NULL, NULL, severity, evidence, false FROM indicators"
                " WHERE address_id = $id AND run_id = $run", {"id": aid, "run": run.run_id}).fetchall()
    res = _assemble(st, value, addr, run, labels, aid, row, parts, False)
    if res.status == "ok":
        assert row is not None
        res.behaviour = behaviour_of(st, int(row[0]), run.run_id)
    return res


def _reference(st: Any, value: str, run: Any, chain: str | None = None) -> LookupResult:
    parsed = try_parse(value)
    assert isinstance(parsed, Address)
    chains = sorted({r[0] for r in st.execute(
        "SELECT chain FROM addresses WHERE address = $a UNION SELECT chain FROM labels WHERE address = $a",
        {"a": parsed.address}).fetchall()}, key=chain_order)
    if chain is not None:
        chains = [c for c in chains if c == chain]
    if not chains:
        chains = [chain or parsed.chain]
    answers = [_per_chain_reference(st, value, Address(c, parsed.address), run) for c in chains]  # type: ignore[arg-type]
    return answers[0] if len(answers) == 1 else combine(value, parsed.address, run, answers)


def _same(st: Any, values: list[str], run_id: str | None = None) -> int:
    """Asserts lookup == the per-chain reference for every value, unnarrowed and narrowed to each of its chains;
    returns how many answers were compared."""
    run = resolve_run(st, run_id)
    n = 0
    for v in values:
        [got] = lookup(st, v, run_id=run_id)
        want = _reference(st, v, run)
        assert json.dumps(got.to_dict(), default=str) == json.dumps(want.to_dict(), default=str), v
        assert got.reasons() == want.reasons()
        n += 1
        for c in got.chains:
            [narrow] = lookup(st, v, run_id=run_id, chain=c)
            assert narrow.to_dict() == _reference(st, v, run, chain=c).to_dict(), (v, c)
            n += 1
    return n


def _more_labels(st: Any, address: str, chains: list[str]) -> None:
    """Labels whose order is at stake: active before expired, most confident first, then category, source, chain
    and the earliest ``valid_from`` (unknown first), on each of ``chains``."""
    rows = []
    for c in chains:
        for cat, src, conf, vf, vt in (("scam", "src-b", 40, "2024-02-01", None), ("scam", "src-b", 40, None, None),
                                       ("scam", "src-b", 40, "2023-01-01", None), ("exchange", "src-a", 90, None,
                                       "2024-06-01"), ("mixer", "src-a", 40, None, None),
                                       ("mixer", "src-c", 70, "2022-01-01", None)):
            rows.append([c, address, cat, f"{cat} by {src}", src, "v1", conf, vf, vt])
    st.executemany("INSERT INTO labels (chain, address, category, name, source, source_version, confidence,"
                   " valid_from, valid_to, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)", rows)


def _all_addresses(st: Any) -> list[str]:
    return sorted({r[0] for r in st.execute("SELECT address FROM addresses UNION SELECT address FROM labels")
                   .fetchall()})


@pytest.mark.parametrize("indexed", [True, False])
def test_batched_lookup_equals_the_per_chain_reads_on_the_multichain_store(tmp_path: Path, indexed: bool) -> None:
    path = tmp_path / "mc.duckdb"
    with chainrisk.open(path) as st:
        M.build(st, tmp_path)
        _more_labels(st, M.SUBJECT, ["polygon", "ethereum", "bsc"])
        if indexed:
            ensure_indexes(st)
    with chainrisk.open(path, read_only=True) as st:
        values = _all_addresses(st)
        [subject] = lookup(st, M.SUBJECT)
        assert len(subject.per_chain) == 4 and any(p.exposures for p in subject.per_chain)   # the case at stake
        assert _same(st, values) > len(values)


def test_batched_lookup_equals_the_per_chain_reads_in_each_run(store: Any) -> None:
    S.build(store)
    _more_labels(store, S.MULE, ["ethereum"])
    _more_labels(store, S.LABEL_ONLY, ["ethereum", "bsc"])
    values = [*_all_addresses(store), S.TRON]
    # what the hand-built store covers: indicators, a behaviour part, an inferred source, two runs
    [mule] = lookup(store, S.MULE)
    assert mule.indicators and mule.behaviour and any(e.inferred for e in mule.exposures)
    for run_id in (None, S.R_OLD, S.R_NEW):
        assert _same(store, values, run_id) >= len(values)


def test_batched_lookup_ignores_the_rows_of_other_runs_of_the_same_ids(store: Any) -> None:
    """The IN list reads every run's rows of the ids (the run is checked in Python): the answers of two runs of
    the same address differ as the runs do."""
    S.build(store)
    [new] = lookup(store, S.SUBJECT, run_id=S.R_NEW)
    [old] = lookup(store, S.SUBJECT, run_id=S.R_OLD)
    assert (new.risk_score, old.risk_score) == (62.5, 20.0)
    assert {e.category for e in new.exposures} != {e.category for e in old.exposures} or \
        [e.usd for e in new.exposures] != [e.usd for e in old.exposures]


def test_latest_run_is_remembered_on_a_read_only_store_only(tmp_path: Path) -> None:
    """A writable store sees a run that completes after its first lookup; a read-only one cannot change while it
    is open (DuckDB's lock keeps writers out), so it resolves its latest run once."""
    path = tmp_path / "runs.duckdb"
    with chainrisk.open(path) as st:
        S.build(st)
        assert lookup(st, S.SUBJECT)[0].provenance.run_id == S.R_NEW
        st.execute("UPDATE scoring_runs SET status = 'complete', finished_at = created_at WHERE run_id = ?",
                   [S.R_RUNNING])
        assert lookup(st, S.SUBJECT)[0].provenance.run_id == S.R_RUNNING   # not a stale memo
    with chainrisk.open(path, read_only=True) as ro:
        first = resolve_run(ro)
        assert first.run_id == S.R_RUNNING and resolve_run(ro) is first
        assert lookup(ro, S.SUBJECT)[0].provenance is first
        assert resolve_run(ro, S.R_OLD).run_id == S.R_OLD                   # a named run is still its own
