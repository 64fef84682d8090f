"""Core schema: addresses, tokens, transfers, blocks, issuer blacklist events, ingestion bookkeeping."""

MIGRATIONS = [
    # v1
    """
    -- Dictionary of every address seen, per chain. Graph work joins on the integer id.
    -- (chain, address) is unique; the store's encoder guarantees it (an index would slow bulk loads ~6x).
    CREATE TABLE addresses (
        id       BIGINT  NOT NULL,
        chain    VARCHAR NOT NULL,
        address  VARCHAR NOT NULL
    );

    CREATE TABLE tokens (
        id        INTEGER NOT NULL PRIMARY KEY,
        chain     VARCHAR NOT NULL,
        contract  VARCHAR NOT NULL,
        symbol    VARCHAR NOT NULL,
        name      VARCHAR,
        decimals  INTEGER NOT NULL,
        kind      VARCHAR NOT NULL CHECK (kind IN ('stablecoin', 'rwa', 'other')),
        usd_peg   DOUBLE,          -- USD value of one token where it is pegged (1.0 for USD stablecoins)
        issuer    VARCHAR,
        source    VARCHAR,         -- where the facts come from
        UNIQUE (chain, contract)
    );

    -- One row per ERC-20/TRC-20 Transfer log. Key: (chain, tx_hash, log_index), enforced at insert.
    -- value is exact when it fits a signed 128-bit integer; otherwise value is NULL and value_raw holds the
    -- exact decimal text. amount is value / 10^decimals as a DOUBLE for analytics.
    CREATE TABLE transfers (
        chain         VARCHAR   NOT NULL,
        tx_hash       VARCHAR   NOT NULL,
        log_index     INTEGER   NOT NULL,
        block_number  BIGINT    NOT NULL,
        block_time    TIMESTAMP,            -- UTC; NULL when the source has none
        token_id      INTEGER   NOT NULL,
        from_id       BIGINT    NOT NULL,
        to_id         BIGINT    NOT NULL,
        value         HUGEINT,
        value_raw     VARCHAR,
        amount        DOUBLE,
        source        VARCHAR   NOT NULL    -- 'rpc' or 'file:<format>'
    );

    -- Blocks whose logs were ingested from a node: their hash (for reorg detection) and time.
    CREATE TABLE blocks (
        chain         VARCHAR   NOT NULL,
        number        BIGINT    NOT NULL,
        hash          VARCHAR,
        time          TIMESTAMP,
        PRIMARY KEY (chain, number)
    );

    -- Stablecoin issuer freezes: USDT AddedBlackList/RemovedBlackList, USDC Blacklisted/UnBlacklisted.
    CREATE TABLE blacklist_events (
        chain         VARCHAR   NOT NULL,
        token_id      INTEGER   NOT NULL,
        tx_hash       VARCHAR   NOT NULL,
        log_index     INTEGER   NOT NULL,
        block_number  BIGINT    NOT NULL,
        block_time    TIMESTAMP,
        action        VARCHAR   NOT NULL CHECK (action IN ('added', 'removed')),
        address       VARCHAR   NOT NULL,
        event         VARCHAR   NOT NULL,   -- the event's name on chain
        source        VARCHAR   NOT NULL,
        PRIMARY KEY (chain, tx_hash, log_index)
    );

    -- Node ingestion: block ranges whose logs are stored, per (chain, contract, stream).
    -- A range and its logs commit in one transaction, so a rerun plans exactly the missing ranges.
    CREATE TABLE ingest_ranges (
        chain       VARCHAR NOT NULL,
        contract    VARCHAR NOT NULL,
        stream      VARCHAR NOT NULL,   -- 'transfer' (Transfer and blacklist events)
        from_block  BIGINT  NOT NULL,
        to_block    BIGINT  NOT NULL,
        logs        BIGINT  NOT NULL,
        done_at     TIMESTAMP NOT NULL
    );

    -- File imports, by content hash, so re-importing a file adds nothing.
    CREATE TABLE file_imports (
        sha256      VARCHAR NOT NULL,
        format      VARCHAR NOT NULL,
        path        VARCHAR NOT NULL,
        rows_read   BIGINT  NOT NULL,
        rows_added  BIGINT  NOT NULL,
        rows_rejected BIGINT NOT NULL,
        imported_at TIMESTAMP NOT NULL
    );

    CREATE VIEW transfers_view AS
    SELECT t.chain, t.tx_hash, t.log_index, t.block_number, t.block_time,
           k.symbol AS token, k.contract AS token_address,
           fa.address AS from_address, ta.address AS to_address,
           coalesce(CAST(t.value AS VARCHAR), t.value_raw) AS value_exact,
           t.amount, t.amount * k.usd_peg AS amount_usd, t.source
    FROM transfers t
    JOIN tokens k ON k.id = t.token_id
    JOIN addresses fa ON fa.id = t.from_id
    JOIN addresses ta ON ta.id = t.to_id;
    """,
]
