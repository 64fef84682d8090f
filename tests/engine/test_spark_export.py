"""Spark from an export: `chainrisk export` writes the store's data as Parquet, Spark computes the roles and hops
from it (the driver never holds the transfers), and loading its results gives the array engine's run, bit for bit.
Spark runs in local mode (the shared session of conftest.py)."""

from __future__ import annotations

import json
import os
import random

import pytest
from click.testing import CliRunner
from support.scoring import add_label, add_transfers

import chainrisk
from chainrisk.cli import cli
from chainrisk.engine.score import score
from chainrisk.errors import InputError
from chainrisk.store.export import MANIFEST, export

TABLES = {
    "scores": "address_id",
    "exposures": "address_id, category, direction, hop_class, inferred",
    "inferred_labels": "address_id, category, method",
    "indicators": "address_id, indicator, evidence",
}


def run_rows(store, run_id: str) -> dict[str, list[tuple]]:
    return {t: store.execute(f"SELECT * EXCLUDE (run_id) FROM {t} WHERE run_id = ? ORDER BY {order}",
                             [run_id]).fetchall() for t, order in TABLES.items()}


def build(store, seed: int, n: int = 24, n_rows: int = 260) -> None:
    """A random graph with a mixer, a scam, a sanctioned address, an exchange with deposit addresses that sweep
    to it (so Spark's deposit detection has work), and a busy address past a small hub degree."""
    rnd = random.Random(seed)
    names = [f"a{i}" for i in range(n)]
    rows = []
    for i in range(n_rows):
        u, v = rnd.sample(names, 2)
        rows.append((u, v, rnd.choice([0.5, 3, 10, 250.25, 1000, 4000, 25_000]), i // 3 + rnd.randint(0, 2)))
    for j, dep in enumerate(("d1", "d2", "d3")):   # deposit addresses: paid, then sweep to the exchange
        blk = 50 + 10 * j
        rows += [(names[5 + j], dep, 1000.0 + j, blk), (dep, "a1", 990.0 + j, blk + 1)]
    add_transfers(store, rows)
    add_label(store, "a0", "mixer")
    add_label(store, "a1", "exchange")
    add_label(store, "a2", "sanctions")
    add_label(store, "a3", "scam", confidence=20)


PROFILE = "cn"


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_spark_from_an_export_equals_the_array_engine_run(store, spark_session, tmp_path, seed):
    build(store, seed)
    a = score(store, PROFILE, indicators=False)
    exp = chainrisk.export(store, tmp_path / "export")
    from chainrisk.engine.spark_engine import SparkResults, propagate_export

    doc = propagate_export(spark_session, exp.path, str(tmp_path / "results"), PROFILE, forwarding=False)
    assert doc["counts"]["export_transfers"] == exp.transfers
    assert doc["counts"]["stop_nodes"] >= 3, "the deposit addresses are stop nodes"
    b = score(store, PROFILE, indicators=False, engine="spark", spark=SparkResults(str(tmp_path / "results")))
    ra, rb = run_rows(store, a.run_id), run_rows(store, b.run_id)
    assert ra["exposures"] and ra == rb
    assert any(r[1] == "exchange" for r in ra["inferred_labels"]), "no deposit address found: the test is weak"


@pytest.mark.spark
@pytest.mark.slow
def test_spark_from_an_export_with_forwarding_events_equals_the_array_engine(store, spark_session, tmp_path):
    """Forwarding (indicators on): events found on Spark name the store's transfer rows."""
    rows = [("m", "x", 5000, 10), ("x", "y", 4900, 11), ("y", "z", 4800, 12), ("q", "x", 20, 9),
            ("z", "w", 4700, 13), ("w", "k", 4600, 14)]
    add_transfers(store, rows)
    add_label(store, "m", "mixer")
    a = score(store, PROFILE, indicators=True, behaviour=False)
    assert any(r[1] == "forwarding" for r in run_rows(store, a.run_id)["indicators"])
    chainrisk.export(store, tmp_path / "export")
    from chainrisk.engine.spark_engine import SparkResults, propagate_export

    propagate_export(spark_session, str(tmp_path / "export"), str(tmp_path / "res"), PROFILE, forwarding=True)
    b = score(store, PROFILE, indicators=True, behaviour=False, engine="spark",
              spark=SparkResults(str(tmp_path / "res")))
    assert run_rows(store, a.run_id) == run_rows(store, b.run_id)


@pytest.mark.spark
@pytest.mark.slow
def test_results_of_other_data_are_refused_with_one_sentence(store, spark_session, tmp_path):
    build(store, 3)
    chainrisk.export(store, tmp_path / "export")
    from chainrisk.engine.spark_engine import SparkResults, propagate_export

    propagate_export(spark_session, str(tmp_path / "export"), str(tmp_path / "res"), PROFILE, forwarding=False)
    add_transfers(store, [("a5", "a6", 100.0, 999)])   # the store moved on after the export
    with pytest.raises(InputError, match="export the store again"):
        score(store, PROFILE, indicators=False, engine="spark", spark=SparkResults(str(tmp_path / "res")))
    (failed,) = store.execute("SELECT count(*) FROM scoring_runs WHERE status = 'failed'").fetchone()
    assert failed == 1   # recorded as a failed run; no partial rows
    with pytest.raises(InputError, match="holds no Spark results"):
        score(store, PROFILE, indicators=False, engine="spark", spark=SparkResults(str(tmp_path)))


@pytest.mark.spark
@pytest.mark.slow
def test_score_engine_spark_input_on_the_command_line(tmp_path, spark_session):
    db = tmp_path / "c.duckdb"
    with chainrisk.open(db) as st:
        build(st, 4)
    r = CliRunner().invoke(cli, ["--db", str(db), "-q", "export", str(tmp_path / "exp"), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["transfers"] == 266
    # the session of this test run stands in for the one the command would start (same JVM, getOrCreate)
    r = CliRunner().invoke(cli, ["--db", str(db), "-q", "score", "--engine", "spark", "--no-indicators",
                                 "--input", str(tmp_path / "exp"), "--output", str(tmp_path / "res"),
                                 "--spark-conf", "spark.sql.shuffle.partitions=2", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert os.path.isfile(tmp_path / "res" / "_chainrisk_results.json")
    with chainrisk.open(db) as st:
        (spark_run,) = st.execute("SELECT run_id FROM scoring_runs WHERE status = 'complete'").fetchone()
        base = score(st, PROFILE, indicators=False)
        assert run_rows(st, spark_run) == run_rows(st, base.run_id)


# -- the export itself (no Spark) -----------------------------------------------------------------------------

def test_export_accounts_for_every_transfer_and_is_atomic(store, tmp_path):
    build(store, 5)
    tok = store.resolve_token("USDT", chain="ethereum")
    # a transfer of a token without a USD peg: exported, counted, without a USD value
    store.execute("UPDATE tokens SET usd_peg = NULL WHERE id = ?", [tok.id])
    add_transfers(store, [("a1", "a2", 5.0, 3000)], token="USDT")
    store.execute("UPDATE tokens SET usd_peg = 1.0 WHERE id = ?", [tok.id])
    (n,) = store.execute("SELECT count(*) FROM transfers").fetchone()
    target = tmp_path / "exp"
    rep = export(store, target)
    assert rep.transfers == n == sum(p["transfers"] for p in rep.partitions)
    assert rep.transfers_with_usd + rep.transfers_without_usd == n
    doc = json.loads((target / MANIFEST).read_text())
    assert doc["counts"]["transfers"] == n and "usd_micro" in doc["columns"]["transfers"]
    # an existing export is not overwritten without --replace, nor a folder that is not an export
    with pytest.raises(InputError, match="--replace"):
        export(store, target)
    (tmp_path / "other").mkdir()
    with pytest.raises(InputError, match="not a chainrisk export"):
        export(store, tmp_path / "other", replace=True)
    # a killed export (its partial folder, its process gone) is cleared by the next one
    dead = tmp_path / "exp2.partial-999999999"
    (dead / "transfers").mkdir(parents=True)
    rep2 = export(store, tmp_path / "exp2")
    assert rep2.removed_partial == [str(dead)] and not dead.exists()
    # a failure mid-way leaves nothing under the final name
    with pytest.raises(ValueError):
        export(store, tmp_path / "exp3", usd_cap="not a number")  # type: ignore[arg-type]
    assert not (tmp_path / "exp3").exists() and not list(tmp_path.glob("exp3.partial-*"))


def test_export_on_the_command_line_refuses_an_existing_export_in_one_sentence(tmp_path):
    db = tmp_path / "c.duckdb"
    with chainrisk.open(db) as st:
        build(st, 6)
    args = ["--db", str(db), "-q", "export", str(tmp_path / "exp"), "--format", "json"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    first = json.loads(r.output)
    assert first["transfers"] == sum(p["transfers"] for p in first["partitions"]) == 266
    r = CliRunner().invoke(cli, args)
    assert isinstance(r.exception, InputError) and "--replace" in str(r.exception)
    r = CliRunner().invoke(cli, [*args, "--replace"])
    assert r.exit_code == 0, r.output
    assert not list(tmp_path.glob("exp.*")), "no partial or old folder left beside the export"
