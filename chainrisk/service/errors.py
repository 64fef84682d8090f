"""Structured API errors: ``{"error": {"code": "...", "message": "..."}}`` with stable codes.

The codes are a contract with the bank systems that call the service: they are only ever added, never renamed.
``CODES`` maps each to its HTTP status and the sentence documented in ``docs/service.md``.
"""

from __future__ import annotations

import re
from typing import Any

# CLI advice in library messages, said the service's way
_HINTS = (
    (re.compile(r"run 'chainrisk score'( first)?"), "start one with POST /v1/runs (admin)"),
    (re.compile(r"--address-column"), "the address_column parameter"),
    (re.compile(r"'chainrisk [^']*'"), "an administrator"),
    (re.compile(r"--[a-z][a-z-]+"), "a setting"),
)
_PATH = re.compile(r"(?<![\w.:/])(?:[A-Za-z]:)?(?:/[^\s,;:'\"()]+)+")


def public_message(message: str) -> str:
    """A library message fit for an API caller: no server path (``<path>``), no CLI command or option."""
    message = _PATH.sub("<path>", message)
    for pattern, said in _HINTS:
        message = pattern.sub(said, message)
    return message

CODES: dict[str, tuple[int, str]] = {
    "malformed_json": (400, "the request body is not valid JSON"),
    "invalid_request": (422, "the request does not match the documented schema (parameter, field or type)"),
    "invalid_address": (422, "the address in the path is not a valid EVM or TRON address"),
    "missing_api_key": (401, "no API key in 'Authorization: Bearer ...' or 'X-API-Key'"),
    "invalid_api_key": (401, "the API key is not known (mistyped, truncated or never issued)"),
    "revoked_api_key": (401, "the API key was revoked"),
    "expired_api_key": (401, "the API key passed its expiry"),
    "forbidden": (403, "the key's role does not allow this endpoint or option"),
    "not_found": (404, "no such endpoint"),
    "job_not_found": (404, "no screening job with this id for this key"),
    "key_not_found": (404, "no API key with this id"),
    "case_not_found": (404, "no case with this id"),
    "method_not_allowed": (405, "the endpoint does not accept this HTTP method"),
    "request_timeout": (408, "the request body did not arrive in time"),
    "job_not_ready": (409, "the screening job has not finished; poll its status"),
    "job_failed": (409, "the screening job failed; its status says why"),
    "scoring_in_progress": (409, "a scoring run started by this service is still running"),
    "payload_too_large": (413, "the request body is larger than the service accepts"),
    "too_many_items": (413, "more items than one request accepts; use POST /v1/screen/jobs"),
    "unsupported_media_type": (415, "the Content-Type is not one this endpoint accepts"),
    "rate_limited": (429, "too many requests for this key; retry after the Retry-After seconds"),
    "internal_error": (500, "an unexpected error; the request id is in the audit log"),
    "no_scoring_run": (503, "the store has no complete scoring run yet"),
    "store_unavailable": (503, "the store cannot be read right now"),
    "unavailable": (503, "this feature is not available in this installation"),
}


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message"}}`` with the code's HTTP status."""

    def __init__(self, code: str, message: str | None = None, headers: dict[str, str] | None = None) -> None:
        status, default = CODES[code]
        self.code = code
        self.status = status
        self.message = message or default
        self.headers = headers or {}
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "enum": sorted(CODES)},
                "message": {"type": "string"},
            },
        }
    },
}
