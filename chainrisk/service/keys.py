"""API keys: created, listed and revoked in the store; only a SHA-256 of the secret is kept.

A key reads ``crk_<key_id>_<secret>``: ``key_id`` is public (it appears in listings and in the audit log), the
secret is 32 random bytes (URL-safe base64) shown once at creation. Verification looks the key id up in an
in-memory :class:`KeyRing` and compares SHA-256 digests in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:
    from ..store import Store

ROLES = ("read", "admin")
PREFIX = "crk"
_KEY_ID = re.compile(r"^k[0-9a-f]{8}$")
NAME = re.compile(r"[\w .@:/()+,'-]+")  # \w: letters and digits of any script (e.g. 合规部), and _


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    role: str
    name: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    expires_at: datetime | None = None
    rotated_at: datetime | None = None
    rotated_by: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None and not self.expired

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and _now() >= self.expires_at

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("created_at", "revoked_at", "expires_at", "rotated_at"):
            d[k] = d[k].isoformat() if d[k] else None
        d["active"] = self.active
        return d


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


_COLUMNS = "key_id, role, name, created_at, created_by, revoked_at, revoked_by, expires_at, rotated_at, rotated_by"
_N = len(_COLUMNS.split(", "))


def create_key(store: Store, name: str, role: str = "read", *, created_by: str = "cli",
               expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    """A new key: returns its record and the full token (``crk_<id>_<secret>``), which is never shown again.
    ``expires_at`` (UTC, naive) ends it by itself; None: it lasts until revoked."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; use one of: {', '.join(ROLES)}")
    name = name.strip()
    if not name or len(name) > 200:
        raise InputError("a key needs a name of 1 to 200 characters saying who holds it (e.g. 'onboarding')")
    if not NAME.fullmatch(name):
        raise InputError("a key name is printable text: letters, digits, spaces and . _ - @ : / ( ) (no control "
                         "characters such as NUL or terminal escapes)")
    secret = secrets.token_urlsafe(32)
    with store.transaction() as con:
        while True:
            key_id = "k" + secrets.token_hex(4)
            if not con.execute("SELECT 1 FROM api_keys WHERE key_id = ?", [key_id]).fetchone():
                break
        created = _now()
        if expires_at is not None and expires_at <= created:
            raise InputError("a key's expiry must be in the future")
        con.execute(
            "INSERT INTO api_keys (key_id, secret_sha256, role, name, created_at, created_by, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [key_id, _digest(secret), role, name, created, created_by, expires_at],
        )
    return ApiKey(key_id, role, name, created, created_by, expires_at=expires_at), f"{PREFIX}_{key_id}_{secret}"


def rotate_key(store: Store, key_id: str, *, rotated_by: str = "cli") -> tuple[ApiKey, str]:
    """A new secret for the key ``key_id`` (same id, role, name, expiry and audit trail): the old token stops
    working at once, the new one is returned and never shown again. A revoked key cannot be rotated."""
    secret = secrets.token_urlsafe(32)
    with store.transaction() as con:
        row = con.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", [key_id]).fetchone()
        if row is None:
            raise InputError(f"no API key with id {key_id!r}; 'chainrisk keys list' shows them")
        if row[5] is not None:
            raise InputError(f"the API key {key_id} is revoked; create a new key instead")
        con.execute("UPDATE api_keys SET secret_sha256 = ?, rotated_at = ?, rotated_by = ? WHERE key_id = ?",
                    [_digest(secret), _now(), rotated_by, key_id])
        row = con.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", [key_id]).fetchone()
    assert row is not None
    return ApiKey(*row), f"{PREFIX}_{key_id}_{secret}"


def list_keys(store: Store, *, include_revoked: bool = True) -> list[ApiKey]:
    q = f"SELECT {_COLUMNS} FROM api_keys"
    if not include_revoked:
        q += " WHERE revoked_at IS NULL"
    return [ApiKey(*r) for r in store.execute(q + " ORDER BY created_at, key_id").fetchall()]


def revoke_key(store: Store, key_id: str, *, revoked_by: str = "cli") -> ApiKey:
    """Revoke a key by id (revoking twice keeps the first revocation). Unknown ids are an :class:`InputError`."""
    with store.transaction() as con:
        row = con.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", [key_id]).fetchone()
        if row is None:
            raise InputError(f"no API key with id {key_id!r}; 'chainrisk keys list' shows them")
        if row[5] is None:
            con.execute(
                "UPDATE api_keys SET revoked_at = ?, revoked_by = ? WHERE key_id = ?", [_now(), revoked_by, key_id]
            )
        row = con.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", [key_id]).fetchone()
    assert row is not None
    return ApiKey(*row)


def split_token(token: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed token, else None."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not _KEY_ID.match(parts[1]) or not parts[2]:
        return None
    return parts[1], parts[2]


class KeyRing:
    """The keys in memory for per-request verification; :meth:`reload` after any change."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[str, ApiKey]] = {}
        self.reload()

    def reload(self) -> None:
        with self._lock:
            rows = self._store.execute(f"SELECT {_COLUMNS}, secret_sha256 FROM api_keys").fetchall()
            self._keys = {r[0]: (r[_N], ApiKey(*r[:_N])) for r in rows}

    def verify(self, token: str) -> tuple[str, ApiKey | None]:
        """``("ok", key)``, ``("invalid", None)``, ``("revoked", key)`` or ``("expired", key)``. Constant-time
        digest comparison."""
        parsed = split_token(token)
        if parsed is None:
            return "invalid", None
        key_id, secret = parsed
        entry = self._keys.get(key_id)
        expected = entry[0] if entry else _digest("")  # compare anyway, so timing does not reveal key ids
        ok = hmac.compare_digest(_digest(secret), expected)
        if entry is None or not ok:
            return "invalid", None
        key = entry[1]
        if key.revoked_at is not None:
            return "revoked", key
        return ("expired", key) if key.expired else ("ok", key)
