"""What each role may see (no tipping-off): the one redaction step lives in :mod:`chainrisk.answers.redact`,
shared by the library and every service answer; this module names it for the service."""

from __future__ import annotations

from ..answers.redact import READ_PROVENANCE, redact

__all__ = ["READ_PROVENANCE", "redact"]
