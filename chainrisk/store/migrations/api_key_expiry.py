"""API keys: an optional expiry, and when the key's secret was last rotated (a new token for the same key id)."""

MIGRATIONS = [
    # v1
    """
    ALTER TABLE api_keys ADD COLUMN expires_at TIMESTAMP;   -- UTC; NULL: never expires
    ALTER TABLE api_keys ADD COLUMN rotated_at TIMESTAMP;   -- UTC; when the secret was last replaced
    ALTER TABLE api_keys ADD COLUMN rotated_by VARCHAR;     -- the admin key id, or cli:<OS user>
    """,
]
