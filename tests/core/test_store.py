import subprocess
import sys

import duckdb
import pytest

import chainrisk
from chainrisk.errors import InputError, StoreError
from chainrisk.store import INDEXES, QueryError, ensure_indexes_once


def test_new_store_has_schema_and_bundled_tokens(store):
    assert store.schema_versions()["core"] >= 1
    usdt = store.resolve_token("usdt")
    assert (usdt.contract, usdt.decimals, usdt.kind) == ("0xdac17f958d2ee523a2206206994597c13d831ec7", 6, "stablecoin")
    assert store.resolve_token("0x7712C34205737192402172409A8F7CCEF8AA2AEC").kind == "rwa"
    assert store.resolve_token("USDT", chain="tron").contract == "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    with pytest.raises(InputError, match="registered: USDT"):
        store.resolve_token("NOPE")


def test_reopen_keeps_data_and_does_not_reseed(tmp_path):
    p = tmp_path / "s.duckdb"
    with chainrisk.open(p) as st:
        n = len(st.tokens())
        st.ensure_token("ethereum", "0x" + "ab" * 20, "XYZ", 9)
    with chainrisk.open(p) as st:
        assert len(st.tokens()) == n + 1


def test_newer_schema_is_refused(tmp_path):
    p = tmp_path / "s.duckdb"
    chainrisk.open(p).close()
    con = duckdb.connect(str(p))
    con.execute("INSERT INTO schema_migrations VALUES ('core', 99, now()::TIMESTAMP)")
    con.close()
    with pytest.raises(StoreError, match="newer than this chainrisk"):
        chainrisk.open(p)


def test_add_transfers_is_idempotent_and_exact(store):
    usdt = store.resolve_token("USDT")
    big = 2**200 + 7
    store.execute(
        """CREATE TEMP TABLE stage AS SELECT * FROM (VALUES
        ('ethereum', '0xaa', 0, 10, TIMESTAMP '2024-01-01 00:00:00', ?, '0x01', '0x02', 1500000::HUGEINT, NULL, 't'),
        ('ethereum', '0xaa', 1, 10, TIMESTAMP '2024-01-01 00:00:00', ?, '0x02', '0x03', NULL, ?, 't'),
        ('ethereum', '0xaa', 1, 10, TIMESTAMP '2024-01-01 00:00:00', ?, '0x02', '0x03', NULL, ?, 't'))
        AS v(chain, tx_hash, log_index, block_number, block_time, token_id, from_address, to_address,
             value, value_raw, source)""",
        [usdt.id, usdt.id, str(big), usdt.id, str(big)],
    )
    with store.transaction():
        assert store.add_transfers("stage") == 2
    with store.transaction():
        assert store.add_transfers("stage") == 0
    rows = store.sql("SELECT log_index, value_exact, amount FROM transfers_view ORDER BY log_index").fetchall()
    assert rows[0] == (0, "1500000", 1.5)
    assert rows[1][1] == str(big)
    assert store.execute("SELECT count(*) FROM addresses").fetchone() == (3,)


def _stage(store, rows):
    usdt = store.resolve_token("USDT")
    store.execute(
        "CREATE OR REPLACE TEMP TABLE stage (chain VARCHAR, tx_hash VARCHAR, log_index INTEGER, block_number BIGINT,"
        " block_time TIMESTAMP, token_id INTEGER, from_address VARCHAR, to_address VARCHAR, value HUGEINT,"
        " value_raw VARCHAR, source VARCHAR)")
    store.executemany("INSERT INTO stage VALUES ('ethereum', ?, ?, ?, NULL, ?, ?, ?, ?, NULL, 't')",
                      [(tx, li, blk, usdt.id, f, t, v) for tx, li, blk, f, t, v in rows])


def test_the_one_transfers_insert_guarded_and_unguarded(store):
    _stage(store, [("0xa1", 0, 5, "0x01", "0x02", 2_000_000), ("0xa1", 1, 5, "0x02", "0x03", 1_000_000)])
    with store.transaction():
        assert store.add_transfers("stage", guard=False) == 2   # node ingestion: new blocks, no repeated key
    with store.transaction():
        assert store.add_transfers("stage") == 0                # the guard skips keys already stored
    assert store.execute("SELECT sum(amount) FROM transfers").fetchall() == [(3.0,)]
    assert store.stats()["transfers"] == 2 and store.stats()["addresses"] == 3


def test_a_store_locked_by_another_process_is_one_sentence(tmp_path):
    p = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, chainrisk; st = chainrisk.open(sys.argv[1]); print('open', flush=True);"
         " sys.stdin.read()", str(p)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(StoreError, match=r"^the store .* is in use by another chainrisk process; wait"):
            chainrisk.open(p)
    finally:
        holder.communicate("")
    chainrisk.open(p).close()   # free again once the other process has finished


def test_other_open_errors_are_store_errors_with_duckdbs_reason(tmp_path):
    with pytest.raises(StoreError, match="cannot open the store"):
        chainrisk.open(tmp_path / "no-such-folder" / "s.duckdb")


def test_run_registry_latest_named_and_listing(store):
    from chainrisk.errors import NoScoringRun

    with pytest.raises(NoScoringRun, match="no complete scoring run in"):
        store.run()
    for rid, created, finished, status in (("r-a", "2024-01-01", "2024-01-05", "complete"),
                                           ("r-b", "2024-01-02", "2024-01-03", "complete"),
                                           ("r-c", "2024-01-04", None, "running")):
        store.execute(
            "INSERT INTO scoring_runs (run_id, created_at, finished_at, status, profile, profile_json, params_json,"
            " label_sources_json) VALUES (?, ?, ?, ?, 'cn', '{\"severity\": {\"mixer\": 90}}',"
            " '{\"max_hops\": 3}', '[]')", [rid, created, finished, status])
    latest = store.run()
    assert latest.run_id == "r-a"   # the complete run that finished last, not the one created last
    assert latest.params == {"max_hops": 3} and latest.profile_settings == {"severity": {"mixer": 90}}
    assert "profile_settings" not in latest.to_dict()   # not part of the JSON contract
    assert store.run("r-b").run_id == "r-b"
    with pytest.raises(NoScoringRun, match="complete runs: r-b, r-a"):
        store.run("r-c")            # running, not complete
    assert [r["run_id"] for r in store.runs()] == ["r-c", "r-b", "r-a"]
    assert store.runs(1)[0]["max_hops"] == 3


def test_evidence_and_lookup_read_the_same_latest_run(store):
    from chainrisk.answers.lookup import resolve_run as lookup_run
    from chainrisk.engine.evidence import _load_run

    store.execute(
        "INSERT INTO scoring_runs (run_id, created_at, finished_at, status, profile, profile_json, params_json,"
        " label_sources_json) VALUES ('r-x', '2024-01-02', '2024-01-02', 'complete', 'cn', '{}', '{}', '[]'),"
        " ('r-y', '2024-01-01', '2024-01-09', 'complete', 'cn', '{}', '{}', '[]')")
    assert _load_run(store, None).run_id == lookup_run(store).run_id == "r-y"


def test_registered_tables_are_gone_after_the_block_even_on_error(store):
    import pyarrow as pa

    with pytest.raises(QueryError), store.registered(_t=pa.table({"x": [1, 2]})):
        assert store.execute("SELECT sum(x) FROM _t").fetchall() == [(3,)]
        store.execute("SELECT nope FROM _t")
    with pytest.raises(QueryError, match="_t"):
        store.execute("SELECT * FROM _t")
    assert store.arrow("SELECT ? AS a", [7]).to_pylist() == [{"a": 7}]


def test_memory_limit_is_restored(store):
    before = store.setting("memory_limit")
    with store.memory_limit("256MB"):
        assert store.setting("memory_limit") in ("244.1 MiB", "256.0 MB", "256MB")
    assert store.setting("memory_limit") == before
    store.execute("SET memory_limit = '700MB'")
    with store.memory_limit("256MB"):
        pass
    assert store.setting("memory_limit") == "667.5 MiB"


def test_lookup_indexes_once_per_store(store):
    assert ensure_indexes_once(store) == [name for name, _, _ in INDEXES]
    assert ensure_indexes_once(store) == [] and store.ensure_indexes() == []
