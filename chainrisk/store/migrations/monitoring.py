"""Monitoring schema (owned by :mod:`chainrisk.monitoring`): watchlists, alerts and their delivery.

Append-only where it matters for an audit: a watchlist entry is never deleted (removing it sets ``removed_at``;
adding it again makes a new row); an alert is never updated or deleted (acknowledging or retracting it appends an
``alert_events`` row). Delivery bookkeeping (``webhooks``' cursor, ``deliveries``' attempts) is state and is
updated. Secrets of webhooks are kept in the store (they sign each request, so they cannot be hashed): the store
file is as confidential as the labels in it.
"""

MIGRATIONS = [
    # v1
    """
    CREATE TABLE watchlist (
        watch_id    VARCHAR   NOT NULL PRIMARY KEY,   -- 'w' + 12 hex
        watchlist   VARCHAR   NOT NULL,               -- the list's name ('default' unless given)
        chain       VARCHAR   NOT NULL,
        address     VARCHAR   NOT NULL,               -- canonical form (lower-case hex, TRON base58)
        reference   VARCHAR,                          -- the bank's own reference, e.g. a customer number
        added_at    TIMESTAMP NOT NULL,
        added_by    VARCHAR   NOT NULL,               -- 'cli', 'file:<name>' or the admin key id
        removed_at  TIMESTAMP,
        removed_by  VARCHAR
    );

    -- Which complete runs were compared for alerts, with which earlier run: a run without a row here is
    -- evaluated at the next chance (after a crash between the run and its alerts).
    CREATE TABLE alert_evaluations (
        run_id          VARCHAR   NOT NULL PRIMARY KEY,
        previous_run_id VARCHAR,
        evaluated_at    TIMESTAMP NOT NULL,
        watched         BIGINT    NOT NULL,
        alerts          BIGINT    NOT NULL
    );

    CREATE TABLE alerts (
        seq             BIGINT    NOT NULL PRIMARY KEY,   -- the order alerts were raised in; the paging cursor
        alert_id        VARCHAR   NOT NULL UNIQUE,        -- 'al' + 16 hex of the idempotency key's SHA-256
        idempotency_key VARCHAR   NOT NULL UNIQUE,        -- rule | watch entry | what | runs: a rerun adds nothing
        created_at      TIMESTAMP NOT NULL,
        rule            VARCHAR   NOT NULL,   -- first_activity | verdict_change | label_change | direct_exposure
                                              -- | counterparty_labelled
        watch_id        VARCHAR   NOT NULL,
        watchlist       VARCHAR   NOT NULL,
        reference       VARCHAR,
        chain           VARCHAR   NOT NULL,
        address         VARCHAR   NOT NULL,
        run_id          VARCHAR   NOT NULL,   -- the new run
        previous_run_id VARCHAR,              -- the run it was compared with (NULL: none before)
        old_verdict     VARCHAR,              -- JSON: both verdicts and the action in the previous run
        new_verdict     VARCHAR,              -- JSON: the same in the new run
        summary         VARCHAR   NOT NULL,   -- one sentence, categories and figures only
        details         VARCHAR   NOT NULL,   -- JSON: the rule's facts (changes, category, counterparty, labels)
        evidence        VARCHAR   NOT NULL,   -- JSON: the transfers behind it
        knowable_since  TIMESTAMP,            -- when the last fact behind it reached the store's view
        knowable_at_previous BOOLEAN          -- could the previous screening have known it?
    );

    CREATE TABLE alert_events (
        alert_id   VARCHAR   NOT NULL,
        event_at   TIMESTAMP NOT NULL,
        kind       VARCHAR   NOT NULL CHECK (kind IN ('acknowledged', 'retracted')),
        actor      VARCHAR   NOT NULL,
        note       VARCHAR
    );

    CREATE TABLE webhooks (
        webhook_id   VARCHAR   NOT NULL PRIMARY KEY,   -- 'wh' + 10 hex
        url          VARCHAR   NOT NULL,
        secret       VARCHAR   NOT NULL,               -- HMAC-SHA256 key of the signature
        view         VARCHAR   NOT NULL CHECK (view IN ('read', 'admin')),   -- what the receiver may see
        batch_size   INTEGER   NOT NULL,
        max_attempts INTEGER   NOT NULL,
        cursor_seq   BIGINT    NOT NULL,               -- alerts up to this seq are in a delivery already
        created_at   TIMESTAMP NOT NULL,
        created_by   VARCHAR   NOT NULL,
        removed_at   TIMESTAMP
    );

    CREATE TABLE deliveries (
        delivery_id     VARCHAR   NOT NULL PRIMARY KEY,   -- 'd' + 16 hex; sent as X-Chainrisk-Delivery
        webhook_id      VARCHAR   NOT NULL,
        created_at      TIMESTAMP NOT NULL,
        first_seq       BIGINT    NOT NULL,
        last_seq        BIGINT    NOT NULL,
        alert_ids       VARCHAR   NOT NULL,               -- JSON list
        status          VARCHAR   NOT NULL,               -- pending | delivered | dead
        attempts        INTEGER   NOT NULL,
        next_attempt_at TIMESTAMP,
        last_attempt_at TIMESTAMP,
        last_status     INTEGER,                          -- the receiver's HTTP status (NULL: no answer)
        last_error      VARCHAR,
        delivered_at    TIMESTAMP
    );

    -- Reorgs met while following a node, and what was done about the alerts they touched.
    CREATE TABLE reorgs (
        chain              VARCHAR   NOT NULL,
        detected_at        TIMESTAMP NOT NULL,
        fork_block         BIGINT    NOT NULL,
        deleted_transfers  BIGINT    NOT NULL,
        retracted_alerts   BIGINT    NOT NULL
    );
    """,
]
