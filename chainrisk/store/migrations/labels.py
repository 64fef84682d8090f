"""Label schema: every label with its source, version, confidence and validity; one row per source version."""

MIGRATIONS = [
    # v1
    """
    CREATE TABLE label_sources (
        source       VARCHAR NOT NULL PRIMARY KEY,  -- stable name, e.g. 'ofac-sdn', 'tether-blacklist'
        format       VARCHAR NOT NULL,              -- importer used
        version      VARCHAR,                       -- the source's own version or date
        origin       VARCHAR,                       -- file name or URL it was read from (no local paths)
        sha256       VARCHAR,
        rows         BIGINT  NOT NULL,
        imported_at  TIMESTAMP NOT NULL
    );

    -- Conflicting labels on one address are all kept. A label ends (valid_to set) when its source removes or
    -- delists it; history is never deleted.
    CREATE TABLE labels (
        chain           VARCHAR NOT NULL,
        address         VARCHAR NOT NULL,
        category        VARCHAR NOT NULL,
        name            VARCHAR,
        source          VARCHAR NOT NULL,
        source_version  VARCHAR,
        confidence      INTEGER NOT NULL CHECK (confidence BETWEEN 0 AND 100),
        valid_from      TIMESTAMP,            -- when the fact became true (NULL: unknown / always)
        valid_to        TIMESTAMP,            -- when it stopped (NULL: still valid)
        asset           VARCHAR,              -- e.g. OFAC's 'XBT' for addresses of other chains
        details         VARCHAR,              -- free text: program, url, reference
        imported_at     TIMESTAMP NOT NULL
    );
    CREATE VIEW active_labels AS SELECT * FROM labels WHERE valid_to IS NULL;
    """,
]
