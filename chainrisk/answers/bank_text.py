"""A bank's text file read line by line, with every physical line accounted for.

A screening must show, for an auditor, that every customer line of the input was screened. So the tolerant CSV
reader works on physical lines: each one is a header line, a blank line, a data row, or the continuation of a
quoted field that spans lines, and :class:`LineCounts` says how many of each (they add up to the lines read).

- **Quotes**: a line with an odd number of ``"`` opens a quoted field that may continue on the next lines. It is
  joined with them only up to the line that closes the quote, and only while none of the lines in between is a
  complete record of its own (the header's width with a valid address in the address column). Otherwise the quote
  is never closed: that line alone becomes a row with a parse error (screened ``invalid`` with the reason), and
  reading goes on with the next line, so one bad quote never swallows the customers after it.
- **Encodings**: UTF-16 with a BOM, UTF-8 (with or without BOM) or GB18030 for the whole file; a file that is none
  of them as a whole is decoded line by line in its main encoding, and a line that is not valid there is decoded
  as :data:`FALLBACK` (Windows-1252, the usual culprit: ``Jos\\xe9``) and reported, instead of refusing the batch.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field

from ..address import Address, try_parse

FALLBACK = "cp1252"
MAX_JOIN_LINES = 200              # a quoted field spanning more lines than this is taken as an unclosed quote
MAX_RECORD_CHARS = 1 << 20        # ... and so is one growing past 1 MiB
_FIELD_LIMIT = 1 << 28


@dataclass
class LineCounts:
    read: int = 0
    header: int = 0
    blank: int = 0
    continuation: int = 0
    rows: int = 0
    unparseable: int = 0

    def accounted(self) -> bool:
        return self.read == self.header + self.blank + self.continuation + self.rows

    def to_dict(self) -> dict[str, int]:
        return {"read": self.read, "header": self.header, "blank": self.blank,
                "continuation": self.continuation, "rows": self.rows, "unparseable": self.unparseable}


@dataclass
class Decoded:
    lines: list[str]
    encoding: str
    fallback_lines: set[int] = field(default_factory=set)   # 0-based physical lines decoded with FALLBACK


@dataclass
class Records:
    header: list[str]
    rows: list[list[str]]
    errors: dict[int, str]          # 0-based row -> why it could not be parsed
    fallback_rows: list[int]        # 0-based rows holding a line decoded with FALLBACK
    counts: LineCounts


def split_lines(text: str) -> list[str]:
    """Physical lines (``\\n``, ``\\r\\n``, or ``\\r`` alone in an old Mac file); no final empty piece."""
    lines = text.split("\r") if "\n" not in text and "\r" in text else text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [s[:-1] if s.endswith("\r") else s for s in lines]


def decode(data: bytes) -> Decoded:
    """Decode a whole text file; per line (with :data:`FALLBACK` for lines that fail) only when it must."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Decoded(split_lines(data.decode("utf-16")), "utf-16")
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return Decoded(split_lines(data.decode(enc)), "utf-8" if enc == "utf-8-sig" else enc)
        except UnicodeDecodeError:
            pass
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    raw = data.split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    wide = [r for r in raw if not r.isascii()]
    votes = {enc: sum(1 for r in wide if _decodes(r, enc)) for enc in ("utf-8", "gb18030")}
    main = "gb18030" if votes["gb18030"] > votes["utf-8"] else "utf-8"
    lines: list[str] = []
    fallback: set[int] = set()
    for i, r in enumerate(raw):
        try:
            s = r.decode(main)
        except UnicodeDecodeError:
            fallback.add(i)
            try:
                s = r.decode(FALLBACK)
            except UnicodeDecodeError:       # the five bytes cp1252 leaves undefined
                s = r.decode("latin-1")
        lines.append(s[:-1] if s.endswith("\r") else s)
    return Decoded(lines, main, fallback)


def _decodes(raw: bytes, enc: str) -> bool:
    try:
        raw.decode(enc)
    except UnicodeDecodeError:
        return False
    return True


def _fields(text: str, delimiter: str) -> list[str]:
    if '"' not in text:
        return text.split(delimiter)
    return next(csv.reader([text], delimiter=delimiter, strict=False), [""])


def _lenient(text: str, delimiter: str) -> list[str]:
    try:
        return _fields(text, delimiter)
    except csv.Error:
        return text.split(delimiter)


def parse_csv(decoded: Decoded, delimiter: str, address_column: str) -> Records:
    """Records of a CSV file, every physical line accounted for (see the module docstring)."""
    if csv.field_size_limit() < _FIELD_LIMIT:
        csv.field_size_limit(_FIELD_LIMIT)
    lines = decoded.lines
    n = len(lines)
    counts = LineCounts(read=n)
    i = 0
    while i < n and not lines[i].strip():
        counts.blank += 1
        i += 1
    if i == n:
        return Records([], [], {}, [], counts)
    end = _record_end(lines, i, delimiter, 0, None)
    header = _lenient("\n".join(lines[i:end]), delimiter)
    counts.header += 1
    counts.continuation += end - i - 1
    i = end
    width = len(header)
    wanted = address_column.strip().lower()
    near = [k for k, h in enumerate(header) if h.strip().lower() == wanted]
    addr = header.index(address_column) if address_column in header else (near[0] if len(near) == 1 else None)
    rows: list[list[str]] = []
    errors: dict[int, str] = {}
    fallback_rows: list[int] = []
    while i < n:
        line = lines[i]
        if not line.strip():
            counts.blank += 1
            i += 1
            continue
        end = _record_end(lines, i, delimiter, width, addr)
        row = len(rows)
        if end < 0:          # a quote that is never closed: this line alone, marked
            end = i + 1
            rows.append(_lenient(line, delimiter))
            errors[row] = (f"line {i + 1}: a quote opened on this line is never closed, so the row cannot be read "
                           "reliably and was not screened; fix the quoting (a quote inside a field is written \"\") "
                           "and screen it again")
        else:
            text = line if end == i + 1 else "\n".join(lines[i:end])
            try:
                rows.append(_fields(text, delimiter))
            except csv.Error as e:
                rows.append(_lenient(line, delimiter))
                errors[row] = f"line {i + 1}: cannot be read as CSV ({e}); the row was not screened"
        if decoded.fallback_lines and any(k in decoded.fallback_lines for k in range(i, end)):
            fallback_rows.append(row)
        counts.rows += 1
        counts.continuation += end - i - 1
        i = end
    counts.unparseable = len(errors)
    return Records(header, rows, errors, fallback_rows, counts)


def _record_end(lines: list[str], i: int, delimiter: str, width: int, addr: int | None) -> int:
    """The line after the record that starts at line ``i``; -1 when its opening quote is never closed."""
    if lines[i].count('"') % 2 == 0:
        return i + 1
    size = len(lines[i])
    j = i + 1
    while j < len(lines) and j - i <= MAX_JOIN_LINES and size <= MAX_RECORD_CHARS:
        nxt = lines[j]
        if width and _is_record(nxt, delimiter, width, addr):
            return -1
        if nxt.count('"') % 2 == 1:
            return j + 1
        size += len(nxt) + 1
        j += 1
    return -1


def _is_record(line: str, delimiter: str, width: int, addr: int | None) -> bool:
    """Whether a line reads as a complete record on its own: the header's width (or more), and a valid address in
    the address column when there is one."""
    if line.count(delimiter) < width - 1:
        return False
    fields = _lenient(line, delimiter)
    if len(fields) < width:
        return False
    if addr is None:
        return width > 1
    return isinstance(try_parse(fields[addr].strip()), Address)
