"""Scoring engine additions to the scoring schema (owned by the risk engine, applied after ``scoring``).

Adds, without touching the ``scoring`` contract: the decayed USD behind each exposure (so a score can be
re-derived from stored rows), a failed run's error text, and the labels the engine inferred in a run
(exchange deposit addresses).
"""

MIGRATIONS = [
    # v1
    """
    ALTER TABLE exposures ADD COLUMN weighted_usd DOUBLE;   -- sum over hops of usd_k * hop_decay^(k-1)
    ALTER TABLE scoring_runs ADD COLUMN error VARCHAR;      -- why a run failed
    CREATE TABLE inferred_labels (
        run_id      VARCHAR NOT NULL,
        address_id  BIGINT  NOT NULL,
        category    VARCHAR NOT NULL,
        name        VARCHAR,
        confidence  INTEGER NOT NULL,   -- 10: heuristic
        method      VARCHAR NOT NULL,   -- 'deposit_sweep'
        evidence    VARCHAR NOT NULL    -- JSON
    );
    """,
]
