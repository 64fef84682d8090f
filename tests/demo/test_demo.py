"""`chainrisk demo` end to end on a tiny economy, through the CLI, into a real DuckDB file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import chainrisk
from chainrisk.cli import main
from chainrisk.demo.economy import generate_economy
from chainrisk.demo.run import auc, files_dir_for

SCALE = 0.02


def _run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_demo_runs_end_to_end_and_prints_a_summary(tmp_path: Path, capsys):
    db = tmp_path / "demo.duckdb"
    code, out, err = _run(capsys, "demo", "--db", str(db), "--scale", str(SCALE), "--seed", "3")
    assert code == 0, err
    assert out.startswith("chainrisk demo: a simulated stablecoin economy")
    eco = generate_economy(SCALE, 3)
    assert f"{eco.n_transfers:,} transfers" in out
    # stages that exist ran, and progress went to stderr, not stdout
    assert "generate ..." in err and "generate ..." not in out
    for stage in ("generate", "ingest", "labels", "score", "screen", "evaluate"):
        assert any(line.startswith(f"{stage} ") and " done " in line for line in out.splitlines()), stage
    files = files_dir_for(db)
    for name in ("token_transfers.parquet", "labels.csv", "declared_addresses.csv", "truth.csv",
                 "screening_results.csv"):
        assert (files / name).is_file(), name
    with chainrisk.open(db, read_only=True) as st:
        assert st.execute("SELECT count(*) FROM transfers WHERE chain = 'ethereum'").fetchall()[0][0] == eco.n_transfers
        assert st.execute("SELECT count(*) FROM active_labels WHERE chain = 'ethereum'").fetchall()[0][0] == \
            eco.labels.num_rows
        # the TRON economy beside it: tronetl files, base58 addresses, labels on tron, the same scoring run
        tron = st.execute("SELECT count(*) FROM transfers WHERE chain = 'tron'").fetchall()[0][0]
        assert tron > 0 and f"TRON economy (USDT-TRC20 dominant): {tron:,} transfers" in out
        assert st.execute("SELECT count(*) FROM addresses WHERE chain = 'tron' AND address NOT LIKE 'T%'"
                          ).fetchall()[0][0] == 0
        assert st.execute("SELECT count(*) FROM file_imports WHERE format = 'tronetl'").fetchall()[0][0] == 1
        runs = st.execute("SELECT status, profile FROM scoring_runs").fetchall()
        assert runs == [("complete", "cn")]
        # the file import path was exercised (not a direct insert)
        assert st.execute("SELECT count(*) FROM file_imports WHERE format = 'bigquery'").fetchall()[0][0] == 1
    assert "how well the scoring recovered the ground truth" in out
    assert "declared customers screened" in out
    assert "lookup: " in out
    assert "lookup: TRON: " in out and "declared TRON addresses screened" in out
    assert (files / "tron_screening_results.csv").is_file()


def test_demo_json_summary_and_rerun_replaces_its_own_store(tmp_path: Path, capsys):
    db = tmp_path / "d.duckdb"
    # the second run replaces the store the first one made; `chainrisk --db X demo` means `demo --db X`
    for args in (["-q", "demo", "--db", str(db)], ["-q", "--db", str(db), "demo"]):
        code, out, err = _run(capsys, *args, "--scale", "0.01", "--format", "json")
        assert code == 0, err
        data = json.loads(out)
        assert [s["name"] for s in data["stages"]][:3] == ["generate", "ingest", "labels"]
        assert data["counts"]["stored_transfers"] == data["counts"]["transfers"]
        assert sum(data["declared_bands"].values()) + data["declared_statuses"].get("unknown", 0) \
            + data["declared_statuses"].get("invalid", 0) == data["counts"]["declared"]
        assert 0 <= data["evaluation"]["illicit"]["recall"] <= 1
        assert data["db_path"] == str(db)
    with chainrisk.open(db, read_only=True) as st:
        assert st.execute("SELECT count(*) FROM scoring_runs").fetchall()[0][0] == 1


def test_demo_refuses_to_overwrite_a_store_it_did_not_make(tmp_path: Path, capsys):
    db = tmp_path / "case.duckdb"
    with chainrisk.open(db) as st:
        st.execute("CREATE TABLE keep_me (x INTEGER)")
    before = db.read_bytes()
    code, _out, err = _run(capsys, "demo", "--db", str(db), "--scale", "0.01")
    assert code == 2
    assert "was not made by 'chainrisk demo'" in err
    assert db.read_bytes() == before


def test_demo_rejects_a_non_positive_scale(tmp_path: Path, capsys):
    code, _out, err = _run(capsys, "demo", "--db", str(tmp_path / "x.duckdb"), "--scale", "0")
    assert code == 2
    assert "--scale must be positive" in err


def test_auc_counts_ties_half():
    assert auc([3.0, 4.0], [1.0, 2.0]) == 1.0
    assert auc([1.0], [2.0]) == 0.0
    assert auc([1.0, 1.0], [1.0]) == 0.5
    assert auc([], [1.0]) is None


@pytest.mark.anvil
@pytest.mark.slow
def test_demo_via_node_round_trips_the_economy_through_a_real_node(tmp_path: Path):
    from support.anvil import INSTALL_HINT, available
    from support.env import need

    need(available(), f"anvil is not installed; {INSTALL_HINT}")
    from chainrisk.demo.node import node_economy_scale
    from chainrisk.demo.run import run_demo

    db = tmp_path / "node.duckdb"
    summary = run_demo(db, scale=0.4, seed=5, via_node=True, lookups=False)
    assert summary.scale == node_economy_scale(0.4)
    eco = generate_economy(summary.scale, 5)
    assert "ingest_rpc" in summary.stage("ingest").detail
    with chainrisk.open(db, read_only=True) as st:
        stored = sorted(st.execute(
            "SELECT token_address, from_address, to_address, value_exact FROM transfers_view").fetchall())
        sources = st.execute("SELECT DISTINCT source FROM transfers").fetchall()
    expected = sorted(zip(*(eco.transfers[c].to_pylist() for c in
                            ("token_address", "from_address", "to_address", "value")), strict=True))
    assert stored == expected
    assert sources == [("rpc",)]


def test_demo_via_node_without_anvil_says_how_to_install_it(tmp_path: Path, monkeypatch):
    from chainrisk.demo.run import run_demo
    from chainrisk.errors import SourceUnavailable

    monkeypatch.setenv("CHAINRISK_ANVIL", str(tmp_path / "no-anvil-here"))
    with pytest.raises(SourceUnavailable) as e:
        run_demo(tmp_path / "n.duckdb", scale=0.01, via_node=True)
    msg = str(e.value)
    assert "CHAINRISK_ANVIL=" in msg and "npm install @foundry-rs/anvil-linux-amd64@1.7.1" in msg
    assert "\n" not in msg
    assert not (tmp_path / "n.duckdb").exists()      # refused before any store was made
