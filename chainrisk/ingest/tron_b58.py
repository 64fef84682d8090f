"""TRON base58check, column-wise: checking and encoding many addresses at once with numpy.

A file or a node answer holds hundreds of thousands of distinct TRON addresses; :func:`chainrisk.address.tron_from_hex`
and :func:`~chainrisk.address.parse_address` take ~10 µs each in Python, numpy's big-number arithmetic on 32-bit
limbs (34 base58 digits x 7 limbs) plus one ``hashlib`` double SHA-256 per address takes ~1-2 µs. The results are
the same as the scalar functions' (a test compares them on random addresses).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

_ALPHABET = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_LUT = np.full(256, 255, np.uint8)
for _i, _c in enumerate(_ALPHABET):
    _LUT[_c] = _i
_ALPHA = np.frombuffer(_ALPHABET, np.uint8)
_HEXLUT = np.full(256, 255, np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEXLUT[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEXLUT[_c] = 10 + _i
_MASK = np.uint64(0xFFFFFFFF)
_LIMBS = 7  # 7 x 32 bits hold the 200-bit number of 25 bytes


def _fixed(values: Sequence[str], width: int) -> np.ndarray:
    arr = pa.array(values, pa.string()).cast(pa.binary(width))
    n = len(values)
    return np.frombuffer(arr.buffers()[1], np.uint8)[: n * width].reshape(n, width)


def _checksums(payload: np.ndarray) -> np.ndarray:
    """(n, 4) first bytes of sha256(sha256(row)) of each 21-byte row."""
    data = payload.tobytes()
    w = payload.shape[1]
    sha = hashlib.sha256
    out = b"".join(sha(sha(data[i : i + w]).digest()).digest()[:4] for i in range(0, len(data), w))
    return np.frombuffer(out, np.uint8).reshape(-1, 4)


def b58_valid(values: Sequence[str]) -> np.ndarray:
    """Boolean mask: which ``values`` are TRON base58check addresses (34 characters, version byte 0x41, checksum
    right). Values of any other length are False."""
    n = len(values)
    ok = np.array([len(v) == 34 and v.isascii() for v in values], bool) if n else np.zeros(0, bool)
    if not ok.any():
        return ok
    idx = np.flatnonzero(ok)
    raw = _fixed([values[i] for i in idx.tolist()], 34)
    digits = _LUT[raw]
    good = (digits < 58).all(axis=1)
    d = np.where(digits < 58, digits, 0).astype(np.uint64)
    limbs = np.zeros((_LIMBS, len(idx)), np.uint64)
    # four digits at a time (58^4 < 2^24, so limb * 58^4 + carry stays below 2^64): 9 x 7 limb steps
    for j in range(0, 34, 4):
        group = d[:, j:j + 4]
        width = group.shape[1]
        carry = np.zeros(len(idx), np.uint64)
        for c in range(width):
            carry = carry * np.uint64(58) + group[:, c]
        base = np.uint64(58**width)
        for k in range(_LIMBS):
            v = limbs[k] * base + carry
            limbs[k] = v & _MASK
            carry = v >> np.uint64(32)
        good &= carry == 0
    be = np.ascontiguousarray(limbs[::-1].T).astype(">u4").view(np.uint8).reshape(len(idx), 28)
    good &= (be[:, :3] == 0).all(axis=1) & (be[:, 3] == 0x41)
    if good.any():
        g = np.flatnonzero(good)
        sums = _checksums(np.ascontiguousarray(be[g, 3:24]))
        good[g] = (sums == be[g, 24:28]).all(axis=1)
    ok[idx] = good
    return ok


def hex_to_b58(values: Sequence[str]) -> list[str | None]:
    """``0x`` + 40 hex digits (a node's or a logs export's address) or ``41`` + 40 hex digits -> base58check
    ``T...``; None for anything else."""
    n = len(values)
    out: list[str | None] = [None] * n
    sel = [i for i, v in enumerate(values) if len(v) == 42 and (v[:2] in ("0x", "0X", "41"))]
    if not sel:
        return out
    raw = _fixed([values[i] for i in sel], 42)[:, 2:]
    nib = _HEXLUT[raw]
    good = (nib < 16).all(axis=1)
    by = (nib[:, 0::2].astype(np.uint16) << 4 | nib[:, 1::2]).astype(np.uint8)  # (m, 20)
    m = len(sel)
    payload = np.empty((m, 21), np.uint8)
    payload[:, 0] = 0x41
    payload[:, 1:] = by
    full = np.zeros((m, 28), np.uint8)
    full[:, 3:24] = payload
    full[:, 24:28] = _checksums(payload)
    limbs = full.view(">u4").reshape(m, 7).astype(np.uint64).T[::-1].copy()  # limbs[0] = least significant
    chars = np.empty((m, 34), np.uint8)
    # 34 digits (0x41... numbers always have 34), four at a time: divide by 58^4, then split the remainder
    end = 34
    while end > 0:
        width = min(4, end)
        base = np.uint64(58**width)
        rem = np.zeros(m, np.uint64)
        for k in range(_LIMBS - 1, -1, -1):
            cur = (rem << np.uint64(32)) | limbs[k]
            limbs[k] = cur // base
            rem = cur - limbs[k] * base
        for c in range(width):
            chars[:, end - 1 - c] = _ALPHA[(rem % np.uint64(58)).astype(np.intp)]
            rem //= np.uint64(58)
        end -= width
    texts = pa.Array.from_buffers(pa.binary(34), m, [None, pa.py_buffer(chars.tobytes())]).cast(pa.string())
    for pos, i in enumerate(sel):
        if good[pos]:
            out[i] = texts[pos].as_py()
    return out
