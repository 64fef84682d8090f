import duckdb
import pytest

import chainrisk
from chainrisk.errors import InputError, StoreError


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
