"""Evidence helper tables (owned by :mod:`chainrisk.engine.evidence`): the carrying-transfer adjacency of one scoring run.

They are derived data, rebuilt by :func:`chainrisk.engine.evidence.refresh_evidence_index` (after a scoring run, or on
the first evidence query for a run) with ``CREATE OR REPLACE`` and the same columns as here, sorted by the lookup
key and with an ART index created after the bulk load, so a per-address lookup is a point query.
"""

MIGRATIONS = [
    # v1
    """
    -- Carrying transfers (priced, >= dust, no inert end, no self-transfer), twice: by receiver and by sender.
    CREATE TABLE evidence_in (
        src BIGINT NOT NULL, dst BIGINT NOT NULL, block_number BIGINT NOT NULL, log_index INTEGER NOT NULL,
        usd DOUBLE NOT NULL
    );
    CREATE TABLE evidence_out (
        src BIGINT NOT NULL, dst BIGINT NOT NULL, block_number BIGINT NOT NULL, log_index INTEGER NOT NULL,
        usd DOUBLE NOT NULL
    );
    -- Nodes that stop propagation in the run: stop-category labels, inferred deposit addresses, unlabelled hubs.
    CREATE TABLE evidence_stops (address_id BIGINT NOT NULL, reason VARCHAR NOT NULL, degree BIGINT);
    -- Labels as the run saw them (active labels plus the run's inferred labels), by address id.
    CREATE TABLE evidence_labels (
        address_id BIGINT NOT NULL, category VARCHAR NOT NULL, name VARCHAR, source VARCHAR NOT NULL,
        confidence INTEGER NOT NULL
    );
    -- What the tables were built for; one row.
    CREATE TABLE evidence_meta (
        run_id VARCHAR, built_at TIMESTAMP NOT NULL, transfers BIGINT NOT NULL, labels BIGINT NOT NULL,
        params_json VARCHAR NOT NULL
    );
    """,
    # v2
    """
    -- Which addresses the run found exposed to which category, and from how many hops: a search only expands an
    -- intermediary that can still reach the category within the remaining hops.
    CREATE TABLE evidence_reach (
        address_id BIGINT NOT NULL, category VARCHAR NOT NULL, direction VARCHAR NOT NULL, min_hop INTEGER NOT NULL
    );
    """,
]
