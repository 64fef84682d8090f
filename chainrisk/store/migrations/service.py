"""Service schema: API keys (hashed), the audit log of every request, and CSV screening jobs.

Owned by :mod:`chainrisk.service`. Secrets are never stored: ``api_keys.secret_sha256`` is the SHA-256 of the
random part of the key, and the audit log records the key id only.
"""

MIGRATIONS = [
    # v1
    """
    CREATE TABLE api_keys (
        key_id        VARCHAR   NOT NULL PRIMARY KEY,   -- public prefix id, e.g. 'k3f9a1c2d'
        secret_sha256 VARCHAR   NOT NULL,               -- hex SHA-256 of the secret part
        role          VARCHAR   NOT NULL CHECK (role IN ('read', 'admin')),
        name          VARCHAR   NOT NULL,               -- who or what holds it, e.g. 'onboarding-system'
        created_at    TIMESTAMP NOT NULL,
        created_by    VARCHAR   NOT NULL,               -- 'cli' or the admin key id that created it
        revoked_at    TIMESTAMP,
        revoked_by    VARCHAR
    );

    -- One row per HTTP request. Written in batches by the service; never updated or deleted by it.
    CREATE TABLE audit_log (
        request_id    VARCHAR   NOT NULL,
        requested_at  TIMESTAMP NOT NULL,               -- UTC, when the request arrived
        key_id        VARCHAR,                          -- NULL when no valid key was presented
        role          VARCHAR,
        client        VARCHAR,                          -- peer address
        method        VARCHAR   NOT NULL,
        endpoint      VARCHAR   NOT NULL,               -- the route template, e.g. /v1/addresses/{address}
        subject       VARCHAR,                          -- the address looked up, or the job id
        n_addresses   INTEGER   NOT NULL,               -- addresses answered (0 when none)
        run_id        VARCHAR,                          -- the scoring run that answered
        status        INTEGER   NOT NULL,               -- HTTP status code
        error_code    VARCHAR,                          -- the structured error code, when status >= 400
        duration_ms   DOUBLE    NOT NULL
    );

    -- CSV screening jobs submitted over HTTP. The result file lives in the service's jobs folder.
    CREATE TABLE screen_jobs (
        job_id        VARCHAR   NOT NULL PRIMARY KEY,
        key_id        VARCHAR   NOT NULL,               -- owner: only this key (or an admin key) may read it
        created_at    TIMESTAMP NOT NULL,
        finished_at   TIMESTAMP,
        status        VARCHAR   NOT NULL CHECK (status IN ('queued', 'running', 'complete', 'failed')),
        filename      VARCHAR,
        rows_in       BIGINT,
        rows_out      BIGINT,
        run_id        VARCHAR,
        error         VARCHAR
    );
    """,
]
