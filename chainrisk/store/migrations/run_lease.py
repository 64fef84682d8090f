"""Who is scoring a run: the process (pid, host) and its lease, so that a run whose process died is found and
marked ``failed`` instead of staying ``running`` forever (see :meth:`chainrisk.store.Store.fail_stale_runs`)."""

MIGRATIONS = [
    # v1
    """
    ALTER TABLE scoring_runs ADD COLUMN pid INTEGER;            -- the scoring process
    ALTER TABLE scoring_runs ADD COLUMN host VARCHAR;           -- the host it runs on
    ALTER TABLE scoring_runs ADD COLUMN lease_until TIMESTAMP;  -- renewed at each stage; past it, the run is stale
    """,
]
