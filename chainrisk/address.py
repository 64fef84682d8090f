"""Parse addresses at the edge: strings in, canonical :class:`Address` out.

EVM addresses are kept as lower-case ``0x`` hex; a mixed-case input must carry a valid EIP-55 checksum.
TRON addresses are kept in their base58check form (``T...``); the 21-byte hex form (``41...``) is converted.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

from eth_hash.auto import keccak

from .errors import InvalidAddress

Chain = Literal["ethereum", "tron"]

NULL_ADDRESS = "0x0000000000000000000000000000000000000000"

_HEX40 = re.compile(r"^0x[0-9a-fA-F]{40}$")
_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}


@dataclass(frozen=True, slots=True)
class Address:
    chain: Chain
    address: str

    def __str__(self) -> str:
        return self.address


def to_checksum(address: str) -> str:
    """EIP-55 checksum form of a lower-case ``0x`` address."""
    body = address[2:].lower()
    digest = keccak(body.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(body))


def _b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        try:
            n = n * 58 + _B58_INDEX[ch]
        except KeyError:
            raise ValueError(f"character {ch!r} is not base58") from None
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    pad = len(text) - len(text.lstrip("1"))
    return b"\x00" * pad + raw


def _b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_B58_ALPHABET[r])
    pad = len(data) - len(data.lstrip(b"\x00"))
    return "1" * pad + "".join(reversed(out))


def _sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def tron_from_hex(hex21: str) -> str:
    """TRON base58check address from its 21-byte hex form (``41`` + 20 bytes, with or without ``0x``)."""
    h = hex21[2:] if hex21.startswith(("0x", "0X")) else hex21
    raw = bytes.fromhex(h)
    if len(raw) == 20:
        raw = b"\x41" + raw
    if len(raw) != 21 or raw[0] != 0x41:
        raise InvalidAddress(hex21, "a TRON hex address is 21 bytes starting with 0x41")
    return _b58encode(raw + _sha256d(raw)[:4])


def tron_to_hex(b58: str) -> str:
    """The 21-byte hex form (``41...``, lower case, no ``0x``) of a TRON base58check address."""
    return _tron_payload(b58.strip()).hex()


def _tron_payload(text: str) -> bytes:
    try:
        raw = _b58decode(text)
    except ValueError as e:
        raise InvalidAddress(text, str(e)) from None
    if len(raw) != 25:
        raise InvalidAddress(text, "a TRON address decodes to 25 bytes")
    payload, check = raw[:21], raw[21:]
    if payload[0] != 0x41:
        raise InvalidAddress(text, "a TRON address starts with version byte 0x41")
    if _sha256d(payload)[:4] != check:
        raise InvalidAddress(text, "TRON base58check checksum does not match (a typo?)")
    return payload


def parse_address(value: str) -> Address:
    """Canonical address, or :class:`InvalidAddress` with the reason.

    >>> parse_address("0xdAC17F958D2ee523a2206206994597C13D831ec7").address
    '0xdac17f958d2ee523a2206206994597c13d831ec7'
    """
    if not isinstance(value, str):
        raise InvalidAddress(repr(value), "not a string")
    text = value.strip()
    if not text:
        raise InvalidAddress(value, "empty")
    if text[:2] in ("0x", "0X"):
        if not _HEX40.match("0x" + text[2:]):
            if re.fullmatch(r"0[xX][0-9a-fA-F]*", text):
                raise InvalidAddress(value, f"an EVM address has 40 hex digits, this has {len(text) - 2}")
            raise InvalidAddress(value, "an EVM address is 0x followed by 40 hex digits")
        body = text[2:]
        lower = "0x" + body.lower()
        if body != body.lower() and body != body.upper() and to_checksum(lower) != "0x" + body:
            raise InvalidAddress(value, "mixed-case address fails its EIP-55 checksum (a typo?)")
        return Address("ethereum", lower)
    if text[0] == "T" and len(text) == 34:
        _tron_payload(text)
        return Address("tron", text)
    if re.fullmatch(r"41[0-9a-fA-F]{40}", text):
        return Address("tron", tron_from_hex(text))
    if re.fullmatch(r"[0-9a-fA-F]{40}", text):
        raise InvalidAddress(value, "missing 0x prefix")
    raise InvalidAddress(value, "not an EVM (0x...) or TRON (T...) address")


def try_parse(value: str) -> Address | InvalidAddress:
    """Like :func:`parse_address` but returns the error instead of raising (for batch paths)."""
    try:
        return parse_address(value)
    except InvalidAddress as e:
        return e
