"""lookup: statuses, provenance, run selection, the JSON contract (golden), the CLI and its exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import scored_store as S

import chainrisk
from chainrisk.address import to_checksum
from chainrisk.answers.lookup import ensure_indexes, lookup
from chainrisk.cli import cli
from chainrisk.errors import NoScoringRun

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


@pytest.fixture
def scored(store):
    S.build(store)
    return store


def golden(name: str, data: str) -> str:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(data, encoding="utf-8")
    return path.read_text(encoding="utf-8")


def test_ok_address_has_score_band_exposures_and_provenance(scored):
    [r] = lookup(scored, [S.SUBJECT.upper().replace("0X", "0x")])
    assert r.status == "ok" and r.chain == "ethereum" and r.address == S.SUBJECT
    assert (r.risk_score, r.risk_band, r.top_category) == (62.5, "high", "mixer")
    assert r.categories == ["mixer", "exchange"] and r.min_hops == 1
    assert [(e.category, e.direction, e.hop_class, e.min_hop) for e in r.exposures] == [
        ("mixer", "in", "indirect", 2), ("exchange", "out", "direct", 1)]
    assert r.provenance.run_id == S.R_NEW and r.provenance.profile == "cn"
    assert r.provenance.as_of_block == 103
    assert r.provenance.label_sources == [{"source": "test-labels", "version": "v2024-05", "rows": 2}]
    # an ended label is shown as history, not as a reason
    assert [(lab.category, lab.active) for lab in r.labels] == [("scam", False)]
    assert r.reasons()[0] == "received 9,000 USD from mixer via 1 intermediary (100.0% of incoming)"


def test_json_contract_golden(scored):
    results = lookup(scored, [S.SUBJECT, S.MULE, S.LABEL_ONLY, "0xnothex"])
    text = json.dumps([r.to_dict() for r in results], indent=2, sort_keys=False) + "\n"
    assert text == golden("lookup.json", text)


def test_statuses_unknown_and_invalid_with_reasons(scored):
    bad_checksum = to_checksum(S.CLEAN)[:-1] + to_checksum(S.CLEAN)[-1].swapcase()
    rs = lookup(scored, [S.LATE, S.LABEL_ONLY, "0x" + "77" * 20, S.TRON, bad_checksum, "hello",
                         S.CLEAN[2:], "0x1234", to_checksum(S.CLEAN)])
    st = [(r.status, r.chain) for r in rs]
    assert st == [("unknown", "ethereum"), ("unknown", "ethereum"), ("unknown", "ethereum"), ("unknown", "tron"),
                  ("invalid", None), ("invalid", None), ("invalid", None), ("invalid", None), ("ok", "ethereum")]
    assert "not in scoring run r-new" in rs[0].reason
    assert "sanctions (test-ofac)" in rs[1].reason and rs[1].labels[0].category == "sanctions"
    assert rs[2].reason == "no ethereum activity of this address is in the store"
    assert rs[3].address == S.TRON
    assert "EIP-55" in rs[4].reason
    assert "missing 0x" in rs[6].reason and "40 hex digits" in rs[7].reason
    assert all(r.risk_band is None and r.risk_score is None for r in rs[:8])
    assert rs[8].risk_band == "none"      # unknown is never reported as none; a scored clean address is
    assert all(r.provenance.run_id == S.R_NEW for r in rs)


def test_latest_complete_run_by_default_and_explicit_run(scored):
    assert lookup(scored, S.SUBJECT)[0].risk_band == "high"               # r-new, not the running r-running
    old = lookup(scored, S.SUBJECT, run_id=S.R_OLD)[0]
    assert (old.risk_band, old.provenance.run_id) == ("low", S.R_OLD)
    with pytest.raises(NoScoringRun, match="r-running"):
        lookup(scored, S.SUBJECT, run_id=S.R_RUNNING)                     # not complete
    with pytest.raises(NoScoringRun, match="complete runs: r-new, r-old"):
        lookup(scored, S.SUBJECT, run_id="r-missing")


def test_no_scoring_run(store):
    S.build(store, runs=False)
    with pytest.raises(NoScoringRun, match="run 'chainrisk score' first"):
        lookup(store, S.SUBJECT)


def test_indexes_are_idempotent_and_do_not_change_answers(tmp_path):
    path = tmp_path / "ix.duckdb"
    with chainrisk.open(path) as st:
        S.build(st)
    with chainrisk.open(path, read_only=True) as st:      # read-only: answers without indexes
        before = [r.to_dict() for r in lookup(st, [S.SUBJECT, S.LATE, S.LABEL_ONLY])]
    with chainrisk.open(path) as st:
        assert len(ensure_indexes(st)) == 5 and ensure_indexes(st) == []
        assert [r.to_dict() for r in lookup(st, [S.SUBJECT, S.LATE, S.LABEL_ONLY])] == before


def test_lookup_on_a_writable_store_creates_its_indexes_once(scored):
    lookup(scored, S.SUBJECT)
    names = {r[0] for r in scored.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}
    assert "chainrisk_addresses_address_idx" in names and ensure_indexes(scored) == []


def test_read_only_store_and_python_api(tmp_path):
    path = tmp_path / "ro.duckdb"
    with chainrisk.open(path) as st:
        S.build(st)
    with chainrisk.open(path, read_only=True) as st:
        [r] = chainrisk.lookup(st, S.MULE)
    assert r.status == "ok" and r.indicators[0].indicator == "pass_through"
    assert r.indicators[0].evidence == {"in_usd": 10000, "out_usd": 9000, "hours": 23}


# -- CLI -------------------------------------------------------------------------------------------------------


def run_cli(db: Path, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["--db", str(db), *args], input=input, catch_exceptions=False)


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "cli.duckdb"
    with chainrisk.open(path) as st:
        S.build(st)
    return path


def test_cli_table_puts_verdict_first_then_reasons(db):
    r = run_cli(db, "lookup", S.SUBJECT)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith(S.SUBJECT) and "HIGH RISK" in lines[0] and "62.5/100" in lines[0]
    assert "received 9,000 USD from mixer via 1 intermediary (100.0% of incoming)" in r.output
    assert "Source: run r-new (profile cn); data as of block 103" in r.output


def test_cli_json_matches_library_and_stdin(db):
    r = run_cli(db, "lookup", "--format", "json", "-", S.TRON, input=f"{S.SUBJECT}\n\n{S.MULE}\n")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    with chainrisk.open(db, read_only=True) as st:
        expect = [x.to_dict() for x in lookup(st, [S.SUBJECT, S.MULE, S.TRON])]
    assert data == json.loads(json.dumps(expect))
    r = run_cli(db, "lookup", "--format", "jsonl", S.SUBJECT, S.MULE)
    assert [json.loads(x)["risk_band"] for x in r.output.splitlines()] == ["high", "severe"]


@pytest.mark.parametrize(("args", "code"), [
    ((S.SUBJECT,), 0),
    ((S.SUBJECT, "--fail-on", "high"), 1),
    ((S.SUBJECT, "--fail-on", "severe"), 0),
    ((S.MULE, "--fail-on", "severe"), 1),
    ((S.SUBJECT, "not-an-address"), 4),
    ((S.SUBJECT, "--run", "r-missing"), 7),
    ((S.SUBJECT, "--format", "xml"), 2),
])
def test_cli_exit_codes(db, args, code):
    from chainrisk.cli import main

    with pytest.raises(SystemExit) as e:
        rv = main(["--db", str(db), "-q", "lookup", *args])
        raise SystemExit(rv or 0)
    assert e.value.code == code


def test_cli_no_scoring_run_exit_7(tmp_path, capsys):
    from chainrisk.cli import main

    path = tmp_path / "empty.duckdb"
    chainrisk.open(path).close()
    with pytest.raises(SystemExit) as e:
        main(["--db", str(path), "lookup", S.SUBJECT])
    assert e.value.code == 7
    assert "no complete scoring run" in capsys.readouterr().err


def test_cli_explain_prints_hops_with_tx_hashes(db):
    r = run_cli(db, "lookup", "--explain", S.SUBJECT)
    assert r.exit_code == 0, r.output
    assert "Evidence paths:" in r.output
    assert "received 9,000 USDT from Tornado Cash: USDT pool via 1 intermediary, 2024-03-02" in r.output
    assert S.TRANSFERS[0][0] in r.output and S.TRANSFERS[1][0] in r.output
    data = json.loads(run_cli(db, "lookup", "--explain", "--format", "json", S.SUBJECT).output)
    paths = data[0]["evidence"]
    assert {p["category"] for p in paths} == {"mixer", "exchange"}
    mixer = next(p for p in paths if p["category"] == "mixer")
    assert [t["tx_hash"] for t in mixer["transfers"]] == [S.TRANSFERS[0][0], S.TRANSFERS[1][0]]
