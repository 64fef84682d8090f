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
    # v2: which labels belong to a source's current version, and one audit row per import run.
    """
    -- retired_at: when a re-import of the source no longer contained this label (valid_to is set then too).
    -- A source's current version is its labels with retired_at IS NULL; retired rows are history.
    ALTER TABLE labels ADD COLUMN retired_at TIMESTAMP;

    CREATE TABLE label_imports (
        source       VARCHAR NOT NULL,
        format       VARCHAR NOT NULL,
        version      VARCHAR,
        origin       VARCHAR,
        sha256       VARCHAR,
        rows_read    BIGINT  NOT NULL,
        labels       BIGINT  NOT NULL,   -- labels in the new version
        added        BIGINT  NOT NULL,
        removed      BIGINT  NOT NULL,   -- labels of the previous version ended by this import
        unchanged    BIGINT  NOT NULL,
        updated      BIGINT  NOT NULL,   -- same label, new validity/confidence/details
        skipped      BIGINT  NOT NULL,   -- input rows rejected (invalid address, ...)
        imported_at  TIMESTAMP NOT NULL
    );
    """,
]
