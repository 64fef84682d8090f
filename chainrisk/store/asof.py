"""Point in time: the store as it stood at a moment, for ``chainrisk score --as-of TIME``.

:func:`point_in_time` shadows, on one connection only and for the duration of a block, the tables a scoring run
reads with TEMP views of the same names (DuckDB resolves the temp schema first):

* ``transfers``: the transfers whose ``block_time`` is at or before TIME (a transfer without a block time is left
  out: nothing says when it happened);
* ``labels`` / ``active_labels``: the labels *imported* by TIME, each with the end it had then: ``valid_to`` and
  ``retired_at`` after TIME read as NULL (the label was still in force, and the store did not yet know it would
  end); a label imported after TIME is invisible, even when its ``valid_from`` is earlier (the store could not
  have known it);
* ``label_sources``: each source's last import at or before TIME (from ``label_imports``).

Other connections of the process (the service's lookups) keep seeing the whole store. A label updated in place
by a later import (a freeze lifted: ``valid_to`` set) reads with that end if it lies at or before TIME; the store
keeps no earlier copy of the row, so that one case is as the source says, not as the store knew it then.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import Store

SHADOWED = ("transfers", "labels", "active_labels", "label_sources")


def naive_utc(t: datetime) -> datetime:
    """``t`` as a naive UTC timestamp (the store's convention)."""
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo is not None else t


@contextmanager
def point_in_time(store: Store, at: datetime | None) -> Iterator[None]:
    """Inside the block, ``store`` (this connection only) reads transfers and labels as of ``at`` (UTC; naive
    values are taken as UTC). ``at=None``: nothing changes. The lookup indexes are ensured first (an index
    cannot be created on a view)."""
    if at is None:
        yield
        return
    t = naive_utc(at)
    store.ensure_indexes()
    (db,) = store.execute("SELECT current_database()").fetchone() or ("memory",)
    main = f'"{str(db).replace(chr(34), chr(34) * 2)}".main'
    ts = f"TIMESTAMP '{t.isoformat(sep=' ')}'"
    views = {
        "transfers": f"SELECT * FROM {main}.transfers WHERE block_time <= {ts}",
        "labels": (f"SELECT * REPLACE (CASE WHEN valid_to <= {ts} THEN valid_to END AS valid_to,"
                   f" CASE WHEN retired_at <= {ts} THEN retired_at END AS retired_at)"
                   f" FROM {main}.labels WHERE imported_at <= {ts}"),
        "active_labels": "SELECT * FROM temp.main.labels WHERE valid_to IS NULL",
        "label_sources": (f"SELECT * FROM (SELECT source, format, version, origin, sha256, labels AS rows,"
                          f" imported_at FROM {main}.label_imports WHERE imported_at <= {ts}"
                          " QUALIFY row_number() OVER (PARTITION BY source ORDER BY imported_at DESC) = 1)"
                          " WHERE format <> 'retired'"),
    }
    made: list[str] = []
    try:
        for name, sql in views.items():
            store.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")
            made.append(name)
        yield
    finally:
        for name in reversed(made):
            store.execute(f"DROP VIEW IF EXISTS temp.main.{name}")
