"""Token registry schema changes (owned by ingestion): tokens whose decimals are unknown.

v1: ``tokens.decimals`` may be NULL. A token seen in a file that gives no decimals (BigQuery and ethereum-etl
``token_transfers``) is registered with unknown decimals and no USD peg, so its transfers are kept as activity
(``amount`` NULL, never priced) instead of being dropped; the bundled registry or
:meth:`Store.ensure_token` fills the decimals in later, and the stored transfers get their amounts then.
"""

MIGRATIONS = [
    # v1
    "ALTER TABLE tokens ALTER COLUMN decimals DROP NOT NULL;",
]
