"""Reading an ``eth_getLogs`` answer of ERC-20 ``Transfer`` logs straight into columns (numpy on the raw bytes).

The hot path of node ingestion. An answer is JSON, but a node writes every log of a ``Transfer`` answer in the
same compact shape; geth, its forks (bsc, bor, op-geth, nitro), reth and anvil all begin a log with the same
346 bytes::

    {"address":"0x<40>","topics":["0x<64>","0x<64>","0x<64>"],"data":"0x<64>"

(address first, then three topics, then 32 bytes of data), followed by ``blockHash``, ``blockNumber``,
``blockTimestamp`` (some nodes), ``transactionHash``, ``logIndex``, ... in a node-specific order. So instead of
parsing JSON (Arrow's reader took ~0.5 CPU-s per 200,000 logs, and the string columns it built another ~0.3 s to
decode), this module finds the log objects (``{``), checks the fixed prefix byte by byte, finds the other keys by
their capital letters (``H`` of blockHash/transactionHash, ``N`` of blockNumber, ``T`` of blockTimestamp, ``I`` of
logIndex: hex never contains them) and checks each key's bytes too, then slices the values out as fixed-width
byte matrices: no JSON parser, no Python object per log.

Anything it does not recognise with certainty - another event among the logs (a blacklist event, an ERC-721
``Transfer``), whitespace, a key missing or repeated, a ``removed`` log, a contract not asked for, a block seen
with two hashes, a topic that is not a padded address - makes :func:`transfer_columns` return None, and the
caller parses the answer with Arrow's JSON reader instead (the general path, :mod:`chainrisk.ingest.node`). Both
paths give the same rows (a test compares them on real node answers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .rpc_store import TRANSFER

# the fixed shape, with the variable hex digits marked by bytes 1-5 (address, topic 0, 1, 2, data)
_PREFIX = ('{"address":"0x' + "\x01" * 40 + '","topics":["0x' + "\x02" * 64 + '","0x' + "\x03" * 64 + '","0x'
           + "\x04" * 64 + '"],"data":"0x' + "\x05" * 64 + '"')
PREFIX_LEN = len(_PREFIX)  # 346
_P = np.frombuffer(_PREFIX.encode(), np.uint8)
_CONST = np.flatnonzero(_P > 5)
_CONST_VAL = _P[_CONST]
_ADDR, _T0, _T1, _T2, _DATA = (_PREFIX.index(chr(m)) - 2 for m in range(1, 6))  # each at its "0x"
_TRANSFER = np.frombuffer(TRANSFER.encode(), np.uint8)

_HEX = np.full(256, 255, np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX[_c] = 10 + _i
_QUOTE = ord('"')


@dataclass(frozen=True)
class _Key:
    pattern: bytes  # '"name":"0x'
    capital: int  # index of the anchoring capital letter in pattern


_KEYS = {name: _Key(f'"{name}":"0x'.encode(), 1 + next(i for i, ch in enumerate(name) if ch.isupper()))
         for name in ("blockHash", "blockNumber", "blockTimestamp", "transactionHash", "logIndex")}


@dataclass
class TransferColumns:
    """The Transfer logs of one answer as columns. ``block_time`` is filled by the caller from ``blocks``."""

    n: int
    counts: dict[str, int]  # logs per contract (node form)
    tx_hash: pa.Array  # string, lower-case
    log_index: np.ndarray  # int64
    block_number: np.ndarray  # int64
    token_id: np.ndarray  # int32
    from_address: pa.Array  # string, "0x" + 40, lower-case
    to_address: pa.Array
    data: np.ndarray  # (n, 66) uint8: the value word as sent
    blocks: dict[int, tuple[str, int | None]]  # number -> (hash, timestamp or None when the logs lack it)


def _rows(arr: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """``arr[s:s+width]`` for every start, as an (n, width) matrix (one row copy each, no index matrix)."""
    view = np.lib.stride_tricks.as_strided(arr, shape=(len(arr) - width + 1, width), strides=(1, 1),
                                           writeable=False)
    return view[starts]


def _lower(m: np.ndarray) -> np.ndarray:
    """Hex text in lower case: setting bit 0x20 maps A-F to a-f and leaves 0-9, a-f and x alone; it would map
    only control characters (which JSON forbids in strings) into the hex digits, so checking the digits after it
    is still exact."""
    return m | np.uint8(0x20)


def _strings(m: np.ndarray) -> pa.Array:
    """An Arrow string array of the fixed-width ASCII rows of ``m``."""
    n, w = m.shape
    offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * w).tobytes())
    return pa.StringArray.from_buffers(n, offsets, pa.py_buffer(np.ascontiguousarray(m).tobytes()))


def _quantities(arr: np.ndarray, starts: np.ndarray) -> np.ndarray | None:
    """The hex quantities ("0x1a") whose digits begin at ``starts``, or None when one is malformed (Horner's rule
    over the digit columns, as many as the longest one: block numbers and log indexes are short)."""
    if int(starts.max()) > len(arr) - 17:
        return None
    w = _rows(arr, starts, 17)
    quote = w == _QUOTE
    length = quote.argmax(axis=1)
    if not (length >= 1).all() or not quote[np.arange(len(w)), length].all():
        return None
    longest = int(length.max())
    if longest > 15:
        return None
    digits = _HEX[w[:, :longest]]
    value = np.zeros(len(w), np.int64)
    for col in range(longest):
        inside = col < length
        d = digits[:, col]
        if (d[inside] >= 16).any():
            return None
        value = np.where(inside, value * 16 + d, value)
    return value


def _key_values(arr: np.ndarray, capitals: np.ndarray, at_cap: np.ndarray, before_cap: np.ndarray, key: _Key,
                starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """Where each log's value of ``key`` begins (at its digits, after "0x"); None unless every log has exactly one,
    inside its own object. ``at_cap``/``before_cap``: the bytes at and before each capital."""
    c = key.capital
    cand = capitals[(at_cap == key.pattern[c]) & (before_cap == key.pattern[c - 1])]
    cand = cand[(cand - c >= 0) & (cand - c + len(key.pattern) + 17 <= len(arr))]
    if len(cand) != len(starts):
        return None
    pat = np.frombuffer(key.pattern, np.uint8)
    if not (_rows(arr, cand - c, len(pat)) == pat).all():
        return None
    if not ((cand > starts) & (cand < ends)).all():
        return None
    return cand - c + len(pat)


def _hex_ok(m: np.ndarray) -> bool:
    """Every byte of ``m`` (already through :func:`_lower`) is a hex digit."""
    return bool((((m - np.uint8(48)) < 10) | ((m - np.uint8(97)) < 6)).all())


def transfer_columns(content: bytes, token_ids: dict[str, int]) -> TransferColumns | None:
    """The Transfer logs of an ``eth_getLogs`` answer as columns, or None when the answer is not the plain shape
    this reader knows (see the module docstring: the caller then parses it with Arrow)."""
    if b"true" in content:  # a removed log ("removed":true, however spaced); hex and the known keys never hold it
        return None
    arr = np.frombuffer(content, np.uint8)
    braces = np.flatnonzero(arr == ord("{"))
    if len(braces) < 2:
        return None
    starts = braces[1:]  # the response object is the first
    n = len(starts)
    if int(starts[-1]) + PREFIX_LEN >= len(arr):
        return None
    pre = _rows(arr, starts, PREFIX_LEN)
    if not (pre[:, _CONST] == _CONST_VAL).all():
        return None
    if not (_lower(pre[:, _T0 : _T0 + 66]) == _TRANSFER).all():
        return None
    t1, t2 = pre[:, _T1 : _T1 + 66], pre[:, _T2 : _T2 + 66]
    if not ((t1[:, 2:26] == ord("0")).all() and (t2[:, 2:26] == ord("0")).all()):
        return None
    ends = np.append(starts[1:], len(arr))
    # the other keys are after the prefix: look for their capitals only there (one row per log, as wide as the
    # longest rest of a log; the part of a row past its own log is masked out)
    rest = (ends - starts - PREFIX_LEN).astype(np.int64)
    width = int(rest.max())
    if width < 1 or int(starts[-1]) + PREFIX_LEN + width > len(arr):
        return None
    tails = _rows(arr, starts + PREFIX_LEN, width)
    row, col = np.divmod(np.flatnonzero((tails - np.uint8(72)) <= 12), width)  # H..T: the anchors' range
    inside = col < rest[row]
    capitals = (starts + PREFIX_LEN)[row[inside]] + col[inside]
    at_cap, before_cap = arr[capitals], arr[capitals - 1]
    at: dict[str, np.ndarray] = {}
    ts_at: np.ndarray | None = None
    for name, key in _KEYS.items():
        pos = _key_values(arr, capitals, at_cap, before_cap, key, starts, ends)
        if name == "blockTimestamp":
            ts_at = pos
        elif pos is None:
            return None
        else:
            at[name] = pos
    if max(int(at["transactionHash"].max()), int(at["blockHash"].max())) + 65 > len(arr):
        return None
    tx = _rows(arr, at["transactionHash"] - 2, 67)
    bh = _rows(arr, at["blockHash"] - 2, 67)
    if not ((tx[:, 66] == _QUOTE).all() and (bh[:, 66] == _QUOTE).all()):
        return None
    tx, bh = _lower(tx[:, :66]), _lower(bh[:, :66])
    if not (_hex_ok(tx[:, 2:]) and _hex_ok(bh[:, 2:])):
        return None
    numbers = _quantities(arr, at["blockNumber"])
    log_index = _quantities(arr, at["logIndex"])
    times = _quantities(arr, ts_at) if ts_at is not None else None
    if numbers is None or log_index is None or (ts_at is not None and times is None):
        return None
    if (log_index >= 2**31).any():
        return None
    # the token of each log (the caller asked for these contracts only)
    addr = _lower(pre[:, _ADDR : _ADDR + 42])
    token_id = np.full(n, -1, np.int32)
    counts: dict[str, int] = {}
    for contract, tid in token_ids.items():
        hit = (addr == np.frombuffer(contract.lower().encode(), np.uint8)).all(axis=1)
        token_id[hit] = tid
        if hit.any():
            counts[contract] = int(hit.sum())
    if (token_id < 0).any():
        return None
    # one hash per block number (else the chain changed while it was read: the general path reads it again)
    uniq, first, inverse = np.unique(numbers, return_index=True, return_inverse=True)
    if not (bh == bh[first][inverse]).all():
        return None
    if times is not None and not (times == times[first][inverse]).all():
        return None
    hashes = _strings(bh[first]).to_pylist()
    blocks: dict[int, tuple[str, int | None]] = {
        int(b): (h, None if times is None else int(times[i])) for b, h, i in zip(uniq.tolist(), hashes,
                                                                                   first.tolist(), strict=True)}

    def address(t: np.ndarray) -> pa.Array:
        m = np.empty((n, 42), np.uint8)
        m[:, :2] = (ord("0"), ord("x"))
        m[:, 2:] = _lower(t[:, 26:66])
        return _strings(m)

    return TransferColumns(n=n, counts=counts, tx_hash=_strings(tx), log_index=log_index, block_number=numbers,
                           token_id=token_id, from_address=address(t1), to_address=address(t2),
                           data=np.ascontiguousarray(pre[:, _DATA : _DATA + 66]), blocks=blocks)
