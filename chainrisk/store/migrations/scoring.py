"""Scoring schema: one row per scoring run, per-address scores, exposures and behavioural indicators.

This is the contract between the risk engine (which writes it) and lookup/screen/report (which read it).
Columns may be added by later migrations; none of these is removed or renamed.
"""

MIGRATIONS = [
    # v1
    """
    CREATE TABLE scoring_runs (
        run_id         VARCHAR NOT NULL PRIMARY KEY,  -- e.g. 'r20261125-131500-3f2a'
        created_at     TIMESTAMP NOT NULL,
        finished_at    TIMESTAMP,
        status         VARCHAR NOT NULL CHECK (status IN ('running', 'complete', 'failed')),
        profile        VARCHAR NOT NULL,               -- profile name
        profile_json   VARCHAR NOT NULL,               -- the full profile used (severities, bands, propagation)
        params_json    VARCHAR NOT NULL,               -- engine parameters (max_hops, ...)
        as_of_block    BIGINT,                         -- highest block in the data scored
        as_of_time     TIMESTAMP,                      -- its time
        label_sources_json VARCHAR NOT NULL,           -- [{source, version, rows, imported_at}]
        n_addresses    BIGINT,
        duration_s     DOUBLE
    );

    -- One row per address with activity (or a label) in the run.
    CREATE TABLE scores (
        run_id         VARCHAR NOT NULL,
        address_id     BIGINT  NOT NULL,               -- addresses.id
        score          DOUBLE  NOT NULL,               -- 0..100
        band           VARCHAR NOT NULL,               -- none|low|medium|high|severe
        top_category   VARCHAR,                        -- category contributing most to the score
        categories     VARCHAR,                        -- ';'-separated categories reached (own labels and exposure)
        own_categories VARCHAR,                        -- ';'-separated categories of the address's own labels
        min_hops       INTEGER,                        -- 0 = own label, 1 = direct, 2.. indirect; NULL none
        direct_usd     DOUBLE  NOT NULL,               -- USD exposure at hop 1 to risky categories (both directions)
        indirect_usd   DOUBLE  NOT NULL,               -- USD exposure at hops 2..K
        volume_in_usd  DOUBLE  NOT NULL,
        volume_out_usd DOUBLE  NOT NULL,
        reason         VARCHAR                         -- one plain sentence
    );

    -- Exposure per category x direction x hop class. direction: 'in' = source of funds, 'out' = destination.
    CREATE TABLE exposures (
        run_id     VARCHAR NOT NULL,
        address_id BIGINT  NOT NULL,
        category   VARCHAR NOT NULL,
        direction  VARCHAR NOT NULL CHECK (direction IN ('in', 'out')),
        hop_class  VARCHAR NOT NULL CHECK (hop_class IN ('direct', 'indirect')),
        usd        DOUBLE  NOT NULL,
        share      DOUBLE  NOT NULL,   -- of the address's volume in that direction, 0..1
        min_hop    INTEGER NOT NULL
    );

    -- Behavioural indicators (FATF red flags), each with its evidence as JSON.
    CREATE TABLE indicators (
        run_id     VARCHAR NOT NULL,
        address_id BIGINT  NOT NULL,
        indicator  VARCHAR NOT NULL,   -- collector | pass_through | mixer_funded_fresh | structuring
        severity   INTEGER NOT NULL,   -- 0..100
        evidence   VARCHAR NOT NULL    -- JSON
    );
    """,
]
