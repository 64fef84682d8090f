"""Count a CSV file's records the way DuckDB's CSV reader splits them, cheaply, to check that every data line of
a file was either read or rejected (DuckDB drops a line longer than its read buffer without a word).

A record ends at a line feed outside quotes (a carriage return when the file has no line feed at all). A quote
opens a quoted field only at the start of a field (after the delimiter, a line end or the start of the file);
DuckDB also opens one after spaces there; inside one, a quote closes it and a doubled quote is a literal quote, as DuckDB reads ``quote = '"'`` with
``escape = '"'``. Records are numbered as DuckDB numbers the lines of its rejects (the header is 1, a blank line
counts, a quoted field spanning lines is one record). The file is read in chunks with numpy; only the quotes of a
chunk whose quotes do not pair up as field delimiters are walked one by one.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    import numpy as np


CHUNK = 16 * 1024 * 1024
MAX_LINE = 2_000_000  # DuckDB's largest CSV line (its max_line_size default): longer ones are rejected or lost
LONG_LINE = MAX_LINE - 2  # records at least this long are remembered (with their line end they exceed MAX_LINE)
MAX_BLANK = 1_000_000  # blank lines remembered (for line numbers); more are counted only
_QUOTE = ord('"')
_SPACE = ord(" ")


@dataclass
class RecordCount:
    """The records of a CSV file (header included)."""

    records: int = 0  # non-blank records, the header included
    blank: int = 0  # blank records (DuckDB skips them)
    blank_lines: list[int] = field(default_factory=list)  # their numbers (1-based), up to MAX_BLANK
    long_lines: list[tuple[int, int, int]] = field(default_factory=list)  # (number, byte offset, bytes) of long ones

    @property
    def data_records(self) -> int:
        return max(0, self.records - 1)


def record_head(path: Path, offset: int, size: int = 200) -> str:
    """The first ``size`` bytes of the record at byte ``offset`` (of the decompressed text), as text."""
    with _open(path) as f:
        f.seek(offset)
        return f.read(size).decode("utf-8", "replace")


def _open(path: Path) -> BinaryIO:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def count_records(path: Path, delimiter: str = ",", *, long_line: int = LONG_LINE) -> RecordCount:
    """The records of the CSV file ``path`` (gzip when its name ends in ``.gz``), split as DuckDB splits them."""
    import numpy as np  # here, not at module level: a Parquet import does not need it

    out = RecordCount()
    delim = delimiter.encode("utf-8")[0]
    with _open(path) as f:
        first = f.read(CHUNK)
        nl = ord("\r") if b"\n" not in first and b"\r" in first else ord("\n")
        in_quote = 0  # 1 inside a quoted field
        prev = -1  # the byte before the chunk (-1: start of file)
        prev_ns = -1  # the last byte before the chunk that is not a space
        last_sig = -2  # global position of the last quote that opened or closed a field
        start = 0  # global position where the current record starts
        n = 0  # records seen so far, blank ones included
        off = 0
        chunk = first
        while chunk:
            arr = np.frombuffer(chunk, dtype=np.uint8)
            ends = np.flatnonzero(arr == nl)
            if _QUOTE in chunk:
                quotes = np.flatnonzero(arr == _QUOTE)
                sig, in_quote_after, last_sig = _significant(arr, quotes, in_quote, prev, prev_ns, delim, nl, off,
                                                             last_sig)
                before = np.searchsorted(sig, ends)
                ends = ends[(before + in_quote) % 2 == 0]
                in_quote = in_quote_after
            elif in_quote:
                ends = ends[:0]
            if len(ends):
                g_ends = ends.astype(np.int64) + off
                starts = np.empty_like(g_ends)
                starts[0] = start
                starts[1:] = g_ends[:-1] + 1
                lengths = g_ends - starts
                blank = lengths == 0
                one = np.flatnonzero(lengths == 1)
                if len(one):
                    at = starts[one] - off
                    firsts = np.where(at >= 0, arr[np.maximum(at, 0)], prev)
                    blank[one] = firsts == ord("\r")
                numbers = np.arange(n + 1, n + 1 + len(g_ends), dtype=np.int64)
                n_blank = int(blank.sum())
                out.blank += n_blank
                out.records += len(g_ends) - n_blank
                if n_blank and len(out.blank_lines) < MAX_BLANK:
                    out.blank_lines.extend(int(x) for x in numbers[blank][: MAX_BLANK - len(out.blank_lines)])
                for i in np.flatnonzero(lengths >= long_line):
                    out.long_lines.append((int(numbers[i]), int(starts[i]), int(lengths[i])))
                n += len(g_ends)
                start = int(g_ends[-1]) + 1
            prev = int(arr[-1])
            k = len(chunk) - 1
            while k >= 0 and chunk[k] == _SPACE:
                k -= 1
            if k >= 0:
                prev_ns = chunk[k]
            off += len(chunk)
            chunk = f.read(CHUNK)
    tail = off - start  # a last record without a line end
    if tail > 0 and not (tail == 1 and prev == ord("\r")):
        out.records += 1
        if tail >= long_line:
            out.long_lines.append((n + 1, start, tail))
    return out


def _significant(arr: np.ndarray, quotes: np.ndarray, in_quote: int, prev: int, prev_ns: int, delim: int, nl: int,
                 off: int, last_sig: int) -> tuple[np.ndarray, int, int]:
    """The positions (in the chunk) of the quotes that open or close a field, the quote state after the chunk,
    and the global position of the last such quote."""
    import numpy as np

    boundary = (delim, nl, ord("\r"), ord("\n"), -1)
    # The common case: every quote opens or closes a field, so a quote is an opener when an even number of quotes
    # precede it (given the state at the chunk start); check that each opener is where a field can start.
    idx = np.flatnonzero((np.arange(len(quotes)) + in_quote) % 2 == 0)
    openers = quotes[idx]
    if len(openers):
        before = np.where(openers > 0, arr[np.maximum(openers - 1, 0)].astype(np.int64), prev)
        # a quote right after a quote re-opens only when that quote closed a field (an escaped quote): in this
        # model the quote before an opener in the chunk is a closer; at the chunk start, ask the last one
        closed = np.where(idx > 0, quotes[np.maximum(idx - 1, 0)] == openers - 1, last_sig == off - 1)
        ok = np.isin(before, boundary) | ((before == _QUOTE) & closed)
        if ok.all():
            state = (in_quote + len(quotes)) % 2
            return quotes, state, int(quotes[-1]) + off
    # A literal quote inside an unquoted field: walk the quotes of this chunk.
    sig: list[int] = []
    state = in_quote
    for q in quotes.tolist():
        g = q + off
        if state:
            sig.append(q)
            state = 0
            last_sig = g
            continue
        j = q - 1
        while j >= 0 and arr[j] == _SPACE:  # DuckDB opens a quote after spaces at a field start
            j -= 1
        b = int(arr[j]) if j >= 0 else (prev_ns if prev == _SPACE else prev)
        # (a quote after a closing quote, spaces between or not, opens again: an escaped quote)
        if b in boundary or (b == _QUOTE and (last_sig == j + off if j >= 0 else last_sig >= off - 1 - q)):
            sig.append(q)
            state = 1
            last_sig = g
    return np.asarray(sig, dtype=np.int64), state, last_sig
