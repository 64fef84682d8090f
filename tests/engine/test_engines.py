"""The SQL engine (DuckDB) and Spark give the array engine's results, bit for bit, through the whole run.

The property test of the propagation itself against the networkx reference runs every engine
(tests/engine/test_propagate.py); here whole stored runs are compared: scores, both verdicts, bands, actions,
reasons, exposures, inferred labels and the engine's forwarding indicators. The comparison is against whatever
the array engine computes, so a later change of the semantics shows up here as a failure, not as drift.
"""

from __future__ import annotations

import random

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.graphs_random import graphs, profile
from support.scoring import add_label, add_transfers

from chainrisk.cli import cli
from chainrisk.engine.model import Label, compute, inputs_from_rows
from chainrisk.engine.score import score
from chainrisk.engine.sql_engine import sql_propagate
from chainrisk.errors import InputError, UsageError
from chainrisk.profiles import load_profile

CN = load_profile("cn")
TABLES = {
    "scores": "address_id",
    "exposures": "address_id, category, direction, hop_class, inferred",
    "inferred_labels": "address_id, category, method",
    "indicators": "address_id, indicator, evidence",
}


def build(store, seed: int, n_rows: int = 120) -> None:
    """A random store: a mixer, a scam, a sanctioned address and an exchange among 16 addresses, amounts from
    dust to large, so that hubs, forwarding and the behaviour indicators all have something to find."""
    rnd = random.Random(seed)
    names = [f"a{i}" for i in range(16)]
    rows = []
    for i in range(n_rows):
        u, v = rnd.sample(names, 2)
        rows.append((u, v, rnd.choice([0.5, 3, 10, 250.25, 1000, 4000, 25_000]), i // 3 + rnd.randint(0, 2)))
    add_transfers(store, rows)
    add_label(store, "a0", "mixer")
    add_label(store, "a1", "exchange")
    add_label(store, "a2", "sanctions")
    add_label(store, "a3", "scam", confidence=20)


def run_rows(store, run_id: str) -> dict[str, list[tuple]]:
    return {t: store.execute(f"SELECT * EXCLUDE (run_id) FROM {t} WHERE run_id = ? ORDER BY {order}",
                             [run_id]).fetchall() for t, order in TABLES.items()}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_sql_engine_run_equals_the_array_engine_run(store, seed):
    build(store, seed)
    a = score(store, "cn")
    b = score(store, "cn", engine="sql", memory_limit="256MB")
    ra, rb = run_rows(store, a.run_id), run_rows(store, b.run_id)
    assert ra["exposures"], "the graph reaches no one: the comparison would be empty"
    assert ra == rb
    assert (a.bands, a.n_exposures, a.n_indicators, a.n_inferred) == (b.bands, b.n_exposures, b.n_indicators,
                                                                      b.n_inferred)
    (params,) = store.execute("SELECT params_json FROM scoring_runs WHERE run_id = ?", [b.run_id]).fetchone()
    assert '"engine": "sql"' in params


def test_score_engine_sql_on_the_command_line(tmp_path):
    import chainrisk

    db = tmp_path / "c.duckdb"
    with chainrisk.open(db) as st:
        build(st, 4)
    r = CliRunner().invoke(cli, ["--db", str(db), "-q", "score", "--engine", "sql", "--memory-limit", "256MB",
                                 "--format", "json"])
    assert r.exit_code == 0, r.output
    with chainrisk.open(db) as st:
        (runs,) = st.execute("SELECT count(*) FROM scoring_runs WHERE status = 'complete'").fetchone()
        assert runs == 1
        base = score(st, "cn")
        rows = run_rows(st, base.run_id)
        (other,) = st.execute("SELECT run_id FROM scoring_runs WHERE run_id <> ?", [base.run_id]).fetchone()
        assert run_rows(st, other) == rows


def test_an_unknown_engine_or_memory_limit_is_one_clear_error(store):
    build(store, 5, 20)
    with pytest.raises(InputError, match="unknown engine 'gpu'"):
        score(store, "cn", engine="gpu")
    with pytest.raises(InputError, match="memory-limit"):
        score(store, "cn", engine="sql", memory_limit="lots")


def test_engine_spark_without_java_says_what_to_install(tmp_path, monkeypatch):
    import chainrisk

    db = tmp_path / "c.duckdb"
    with chainrisk.open(db) as st:
        build(st, 6, 20)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))   # a Java home without bin/java
    r = CliRunner().invoke(cli, ["--db", str(db), "score", "--engine", "spark"])
    assert isinstance(r.exception, UsageError) and r.exception.exit_code == 2, r.output
    assert "Java 17" in str(r.exception) and "default-jre-headless" in str(r.exception)
    with chainrisk.open(db) as st:   # refused before a run was recorded
        assert st.execute("SELECT count(*) FROM scoring_runs").fetchone() == (0,)


# -- Spark (local mode) ---------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def spark_backend_(spark_session, tmp_path_factory):
    from chainrisk.engine.spark_engine import SparkBackend

    return SparkBackend(spark_session, str(tmp_path_factory.mktemp("spark")))


SPARK_EXAMPLES = 3   # each example is ~20 Spark jobs (a few seconds on an idle machine)


@pytest.mark.spark
@pytest.mark.slow
@settings(max_examples=SPARK_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(g=graphs(n_max=8))
def test_spark_agrees_with_the_array_engine_on_random_graphs(spark_backend_, g):
    rows, labels, inert = g
    inp = inputs_from_rows(rows, labels, inert)
    prof = profile(hub_degree=3, decay=0.5)
    ind = {1: [("collector", 60)], 2: [("pass_through", 80)]}
    a = compute(inp, prof, 3, ind)
    b = compute(inp, prof, 3, ind, propagator=sql_propagate(spark_backend_))
    assert a.exposure_rows() == b.exposure_rows()
    assert a.score_rows() == b.score_rows()
    assert a.inferred == b.inferred and a.indicators == b.indicators


@pytest.mark.spark
@pytest.mark.slow
def test_a_spark_run_equals_the_array_engine_run(store, spark_session):
    build(store, 1)
    a = score(store, "cn", max_hops=3)
    b = score(store, "cn", max_hops=3, engine="spark", spark=spark_session)
    ra, rb = run_rows(store, a.run_id), run_rows(store, b.run_id)
    assert ra["exposures"] and ra == rb


@pytest.mark.slow
def test_the_sql_engine_spills_to_disk_under_its_memory_limit_with_the_same_results():
    """Out of core: a workspace far smaller than the hop tables writes temporary files and still agrees."""
    import contextlib
    import os
    import threading
    import time

    import numpy as np

    from chainrisk.engine.model import Label, _build
    from chainrisk.store.work import Workspace

    rng = np.random.default_rng(7)
    m, n = 400_000, 40_000
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    blk = np.sort(rng.integers(0, m // 100, m))
    usd = (rng.lognormal(5.0, 1.5, m) * 1e6).astype(np.int64)
    labels = [Label(int(a), c, None, 60, "t") for a, c in zip(rng.choice(n, 60, replace=False),
                                                               ["mixer", "scam", "exchange"] * 20, strict=True)]
    inp = _build(src, dst, blk, np.arange(m), blk * 12, usd, labels, np.array([], np.int64))
    want = compute(inp, CN, 4)
    peak = [0]
    with Workspace(memory_limit="24MB", threads=1) as ws:
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                with contextlib.suppress(OSError):
                    peak[0] = max(peak[0], sum(e.stat().st_size for e in os.scandir(ws.temp_directory)))
                time.sleep(0.05)

        t = threading.Thread(target=watch)
        t.start()
        try:
            got = compute(inp, CN, 4, propagator=sql_propagate(ws))
        finally:
            done.set()
            t.join()
    assert peak[0] > 24 * 2**20, f"no spill: temporary files peaked at {peak[0]} bytes"
    assert want.exposure_rows() == got.exposure_rows() and want.score_rows() == got.score_rows()
    assert want.indicators == got.indicators


# -- the SQL engine's whole run out of core (transfers in the workspace, roles as SQL) ------------------------

def _table_inputs(ws, rows, labels, inert):
    import numpy as np
    import pyarrow as pa

    from chainrisk.engine.model import _micro
    from chainrisk.engine.sql_engine import table_inputs

    ws.load("raw0", pa.table({
        "f": np.array([r[0] for r in rows], np.int64), "t": np.array([r[1] for r in rows], np.int64),
        "b": np.array([r[2] for r in rows], np.int64), "li": np.array([r[3] for r in rows], np.int64),
        "tm": np.array([-1 if r[4] is None else r[4] for r in rows], np.int64),
        "usd": np.array([-1 if r[5] is None else _micro(r[5]) for r in rows], np.int64)}))
    return table_inputs(ws, list(labels), np.array(sorted(set(inert)), np.int64))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(g=graphs(n_max=8), seed=st.integers(0, 3))
def test_the_table_path_agrees_with_the_array_engine_on_random_graphs(g, seed):
    """Roles (carrying, hubs, deposit sweeps), volumes, hops and forwarding computed in the workspace from the
    table of transfers give the array engine's exposures, scores, inferred labels and indicators."""
    from chainrisk.store.work import Workspace

    rows, labels, inert = g
    rnd = random.Random(seed)   # some rows without a time or a USD value, some exchange wallets (sweeps)
    rows = [(u, v, b, li, None if rnd.random() < 0.1 else tm, None if rnd.random() < 0.05 else usd)
            for u, v, b, li, tm, usd in rows]
    labels = [*list(labels), Label(rnd.randrange(8), "exchange", None, 60, "t")]
    prof = profile(hub_degree=3, decay=0.5)
    ind = {1: [("collector", 60)], 2: [("pass_through", 80)]}
    a = compute(inputs_from_rows(rows, labels, inert), prof, 3, ind)
    with Workspace(memory_limit="64MB", threads=1) as ws:
        b = compute(_table_inputs(ws, rows, labels, inert), prof, 3, ind)
    assert a.exposure_rows() == b.exposure_rows()
    assert a.score_rows() == b.score_rows()
    assert a.inferred == b.inferred and a.indicators == b.indicators


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(g=graphs(n_max=6), seed=st.integers(0, 3))
def test_the_sql_engine_agrees_on_simultaneous_transfers(g, seed):
    """Transfers of one (block, log index) are simultaneous: an inflow counts only for the outflows after its rank,
    and several tainted inflows can fall between the same two relaying outflows (the hop's positions, ties by
    transfer). The random graphs give every transfer its own log index; here most share one, both paths."""
    from chainrisk.store.work import Workspace

    rows, labels, inert = g
    rnd = random.Random(seed)
    rows = [(u, v, 1 + b % 4, rnd.choice([0, 0, 1]), tm, usd) for u, v, b, _li, tm, usd in rows]
    if len(rows) >= 2:   # at least one pair for certain
        rows[1] = (*rows[1][:2], *rows[0][2:4], *rows[1][4:])
    prof = profile(hub_degree=4, decay=0.5)
    inp = inputs_from_rows(rows, labels, inert)
    a = compute(inp, prof, 4)
    with Workspace(memory_limit="64MB", threads=1) as ws:
        b = compute(inp, prof, 4, propagator=sql_propagate(ws))
        c = compute(_table_inputs(ws, rows, labels, inert), prof, 4)
    assert a.exposure_rows() == b.exposure_rows() == c.exposure_rows()
    assert a.score_rows() == b.score_rows() == c.score_rows()
