"""Times given on the command line and in queries: ISO 8601, UTC unless an offset is given."""

from __future__ import annotations

from datetime import UTC, datetime

from ..errors import UsageError


def parse_time(text: str, what: str = "time") -> datetime:
    """``2024-05-01``, ``2024-05-01T12:00``, ``2024-05-01 12:00:00Z`` or with an offset -> naive UTC."""
    t = text.strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    try:
        v = datetime.fromisoformat(t)
    except ValueError:
        raise UsageError(f"{what} {text!r} is not an ISO 8601 time; e.g. 2024-05-01 or 2024-05-01T12:00:00Z") from None
    return v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo is not None else v
