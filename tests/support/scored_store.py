"""A small hand-built store with transfers, labels and scoring runs written straight into the scoring contract
tables (``chainrisk/store/migrations/scoring.py``), for the lookup/screen/report tests.

The graph (USDT, amounts in USD):

    MIXER --10,000--> MULE --9,000--> SUBJECT --2,000--> CLEAN
                                     SUBJECT --500--> EXCH (labelled exchange)

Runs: R_OLD (complete, older, written by an engine without the two verdict axes: its verdict columns are NULL),
R_NEW (complete, latest, with both axes and an action), R_RUNNING (newer but still running: never the default).
``LATE`` has transfers but is not in any run; ``LABEL_ONLY`` has a sanctions label and no activity. In R_NEW the
MULE also has an exposure to an *inferred* source (a collector the engine flagged, scored as ``scam``).
"""

from __future__ import annotations

import json

from chainrisk.store import Store

MIXER = "0x" + "11" * 20
MULE = "0x" + "22" * 20
SUBJECT = "0x52908400098527886e0f7030069857d2e4169ee7"   # EIP-55 test vector (all-caps/lower forms differ)
CLEAN = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"   # EIP-55: 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed
EXCH = "0x" + "44" * 20
LATE = "0x" + "55" * 20
LABEL_ONLY = "0x" + "66" * 20
TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"   # USDT's TRC-20 contract: valid base58check, no TRON data here

R_OLD, R_NEW, R_RUNNING = "r-old", "r-new", "r-running"

TRANSFERS = [  # tx, block, time, from, to, usd
    ("0x" + "a1" * 32, 100, "2024-03-01 10:00:00", MIXER, MULE, 10_000),
    ("0x" + "a2" * 32, 101, "2024-03-02 09:00:00", MULE, SUBJECT, 9_000),
    ("0x" + "a3" * 32, 102, "2024-03-03 12:00:00", SUBJECT, CLEAN, 2_000),
    ("0x" + "a4" * 32, 103, "2024-03-04 12:00:00", SUBJECT, EXCH, 500),
    ("0x" + "a5" * 32, 200, "2024-04-01 00:00:00", LATE, CLEAN, 50),
]

# address -> (score, band, top, categories, own, min_hops, direct, indirect, vin, vout, reason) per run
SCORES = {
    R_NEW: {
        MIXER: (100.0, "severe", "mixer", "mixer", "mixer", 0, 0.0, 0.0, 0.0, 10_000.0,
                "labelled mixer (Tornado Cash: USDT pool) by test-labels"),
        MULE: (85.0, "severe", "mixer", "mixer;scam", None, 1, 10_000.0, 1_000.0, 10_000.0, 9_000.0,
               "received 10,000 USD directly from mixer"),
        SUBJECT: (62.5, "high", "mixer", "mixer;exchange", None, 1, 500.0, 9_000.0, 9_000.0, 2_500.0,
                  "received 9,000 USD from mixer via 1 intermediary"),
        CLEAN: (0.0, "none", None, None, None, None, 0.0, 0.0, 2_050.0, 0.0, "no exposure to risky categories"),
        EXCH: (70.0, "high", "exchange", "exchange", "exchange", 0, 0.0, 0.0, 500.0, 0.0, "labelled exchange"),
    },
    R_OLD: {
        MIXER: (100.0, "severe", "mixer", "mixer", "mixer", 0, 0.0, 0.0, 0.0, 10_000.0, "labelled mixer"),
        MULE: (85.0, "severe", "mixer", "mixer", None, 1, 10_000.0, 0.0, 10_000.0, 9_000.0, "received from mixer"),
        SUBJECT: (20.0, "low", "exchange", "exchange", None, 1, 500.0, 0.0, 9_000.0, 2_500.0, "sent to exchange"),
        CLEAN: (0.0, "none", None, None, None, None, 0.0, 0.0, 2_000.0, 0.0, "no exposure to risky categories"),
    },
}

# (run, address) -> (illicit_score, illicit_band, illicit_reason, illicit_top_category, illicit_confidence,
#                     vc_score, vc_band, vc_reason, vc_top_category, action); R_OLD has none (an older engine)
VERDICTS = {
    (R_NEW, MIXER): (100.0, "severe", "labelled mixer, confidence 60", "mixer", "high",
                     0.0, "none", "no virtual-currency business", None, "report"),
    (R_NEW, MULE): (85.0, "severe", "received 10,000 USD directly from mixer (100.0% of incoming)", "mixer", "high",
                    0.0, "none", "no virtual-currency business", None, "report"),
    (R_NEW, SUBJECT): (62.5, "high", "received 9,000 USD from mixer via 1 intermediary (100.0% of incoming)",
                       "mixer", "medium", 31.3, "medium", "sent 500 USD to exchange directly (20.0% of outgoing)",
                       "exchange", "sever_and_report"),
    (R_NEW, CLEAN): (0.0, "none", "no link to illegal activity", None, None,
                     0.0, "none", "no virtual-currency business", None, "none"),
    (R_NEW, EXCH): (0.0, "none", "no link to illegal activity", None, None,
                    70.0, "high", "labelled exchange, confidence 50", "exchange", "sever"),
}
VERDICT_COLS = ("illicit_score", "illicit_band", "illicit_reason", "illicit_top_category", "illicit_confidence",
                "vc_score", "vc_band", "vc_reason", "vc_top_category", "action")

EXPOSURES = {  # (run, address) -> [(category, direction, hop_class, usd, share, min_hop, inferred)]
    (R_NEW, SUBJECT): [("mixer", "in", "indirect", 9_000.0, 1.0, 2, False),
                       ("exchange", "out", "direct", 500.0, 0.2, 1, False)],
    (R_NEW, MULE): [("mixer", "in", "direct", 10_000.0, 1.0, 1, False),
                    ("scam", "in", "indirect", 1_000.0, 0.1, 3, True)],
}


SCORE_COLS = ("run_id, address_id, score, band, top_category, categories, own_categories, min_hops, direct_usd,"
              " indirect_usd, volume_in_usd, volume_out_usd, reason")


def build(st: Store, *, runs: bool = True) -> None:
    """Fill ``st`` with the graph, the labels and (unless ``runs`` is false) the scoring runs."""
    usdt = st.resolve_token("USDT")
    con = st.con
    con.execute(
        "CREATE TEMP TABLE stage (chain VARCHAR, tx_hash VARCHAR, log_index INTEGER, block_number BIGINT,"
        " block_time TIMESTAMP, token_id INTEGER, from_address VARCHAR, to_address VARCHAR, value HUGEINT,"
        " value_raw VARCHAR, source VARCHAR)"
    )
    for tx, block, time, f, t, usd in TRANSFERS:
        con.execute("INSERT INTO stage VALUES ('ethereum', ?, 0, ?, ?, ?, ?, ?, ?, NULL, 'file:test')",
                    [tx, block, time, usdt.id, f, t, usd * 10**usdt.decimals])
    with st.transaction():
        st.add_transfers("stage")
    con.execute("DROP TABLE stage")
    for addr, cat, name, source, conf, vfrom, vto in [
        (MIXER, "mixer", "Tornado Cash: USDT pool", "test-labels", 60, "2020-01-01", None),
        (EXCH, "exchange", "Example Exchange hot wallet", "test-labels", 50, None, None),
        (LABEL_ONLY, "sanctions", "SDN example", "test-ofac", 60, "2022-08-08", None),
        (SUBJECT, "scam", "old community report", "test-community", 20, "2021-01-01", "2022-01-01"),
    ]:
        con.execute("INSERT INTO labels (chain, address, category, name, source, source_version, confidence,"
                    " valid_from, valid_to, imported_at) VALUES ('ethereum', ?, ?, ?, ?, 'v2024-05', ?, ?, ?, now())",
                    [addr, cat, name, source, conf, vfrom, vto])
    con.execute("INSERT INTO label_sources (source, format, version, origin, sha256, rows, imported_at)"
                " VALUES ('test-labels', 'csv', 'v2024-05', 'labels.csv', NULL, 2, now())")
    if runs:
        add_runs(st)


def add_runs(st: Store) -> None:
    con = st.con
    sources = json.dumps([{"source": "test-labels", "version": "v2024-05", "rows": 2}])
    for rid, created, status in ((R_OLD, "2024-05-01 00:00:00", "complete"),
                                 (R_NEW, "2024-06-01 00:00:00", "complete"),
                                 (R_RUNNING, "2024-07-01 00:00:00", "running")):
        con.execute(
            "INSERT INTO scoring_runs (run_id, created_at, finished_at, status, profile, profile_json, params_json,"
            " as_of_block, as_of_time, label_sources_json, n_addresses, duration_s)"
            " VALUES (?, ?, ?, ?, 'cn', '{}', '{\"max_hops\": 4}', 103, TIMESTAMP '2024-03-04 12:00:00', ?, 5, 0.5)",
            [rid, created, None if status == "running" else created, status, sources],
        )
    ids = dict(con.execute("SELECT address, id FROM addresses").fetchall())
    for rid, rows in SCORES.items():
        for addr, v in rows.items():
            con.execute(f"INSERT INTO scores ({SCORE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [rid, ids[addr], *v])
    for (rid, addr), v in VERDICTS.items():
        con.execute(f"UPDATE scores SET {', '.join(f'{c} = ?' for c in VERDICT_COLS)}"
                    " WHERE run_id = ? AND address_id = ?", [*v, rid, ids[addr]])
    # the behaviour part of the mule in r-new (as a scoring run with the behaviour model writes it)
    con.execute("UPDATE scores SET behaviour_score = 23.4, behaviour_features = ['span_days', 'exchange_counterparty'],"
                " behaviour_values = [2.5, 0.0], behaviour_contributions = [0.91, 0.48]"
                " WHERE run_id = ? AND address_id = ?", [R_NEW, ids[MULE]])
    for (rid, addr), exps in EXPOSURES.items():
        for e in exps:
            con.execute("INSERT INTO exposures (run_id, address_id, category, direction, hop_class, usd, share, min_hop,"
                        " inferred) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [rid, ids[addr], *e])
    con.execute(
        "INSERT INTO indicators (run_id, address_id, indicator, severity, evidence)"
        " VALUES (?, ?, 'pass_through', 40, ?)",
        [R_NEW, ids[MULE], json.dumps({"in_usd": 10000, "out_usd": 9000, "hours": 23})],
    )
