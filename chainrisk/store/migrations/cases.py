"""Case schema: an investigator's cases, kept append-only (owned by :mod:`chainrisk.answers.cases`).

A case is one row in ``cases`` written when it is opened and never changed; everything that happens to it
(an address added or removed, a note, a disposition, a new customer reference) is one more row in ``case_events``.
Nothing is updated or deleted: the current state is derived from the history, and the history is the audit trail.
"""

MIGRATIONS = [
    # v1
    """
    CREATE SEQUENCE case_event_seq START 1;

    CREATE TABLE cases (
        case_id       VARCHAR   NOT NULL PRIMARY KEY,   -- e.g. 'case-3f9a1c2d'
        title         VARCHAR   NOT NULL,
        created_at    TIMESTAMP NOT NULL,               -- UTC
        created_by    VARCHAR   NOT NULL                -- who opened it (a person, or an admin key's name and id)
    );

    CREATE TABLE case_events (
        event_id      BIGINT    NOT NULL PRIMARY KEY DEFAULT nextval('case_event_seq'),
        case_id       VARCHAR   NOT NULL,
        event_at      TIMESTAMP NOT NULL,               -- UTC
        actor         VARCHAR   NOT NULL,
        kind          VARCHAR   NOT NULL CHECK (kind IN ('opened', 'address_added', 'address_removed', 'note',
                                                         'disposition', 'customer_ref')),
        address       VARCHAR,                          -- normalised, for address_added / address_removed
        chain         VARCHAR,
        disposition   VARCHAR CHECK (disposition IS NULL OR disposition IN ('cleared', 'monitor', 'sever',
                                                                            'reported')),
        text          VARCHAR                           -- the note, the reason of a disposition, the reference
    );
    CREATE INDEX case_events_case_idx ON case_events (case_id);
    """,
]
