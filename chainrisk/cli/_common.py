"""Shared CLI plumbing: the store from the global ``--db``, the one ``--format`` option, and the one writer.

Every command ends the same way: it hands its result to :func:`write` with the ``--format`` the user chose.
``--format`` always names an OUTPUT format, and each kind of output has one set of values:

    RECORDS    table|json|jsonl|csv    rows on stdout (status, runs, labels, keys, import reports)
    DOCUMENTS  table|json|jsonl        nested answers on stdout (lookup; 'chainrisk screen' gives CSV rows)
    SUMMARY    table|json              the summary of one run (score, ingest rpc, demo)
    FILES      csv|jsonl|json|parquet|xlsx  the rows 'screen' writes (to -o FILE; stdout takes csv|jsonl|json)

Where a command also reads a file format, that is ``--input-format`` (``ingest file``, ``labels import``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ..store import Store

RECORDS = ("table", "json", "jsonl", "csv")
DOCUMENTS = ("table", "json", "jsonl")
SUMMARY = ("table", "json")
FILES = ("csv", "jsonl", "json", "parquet", "xlsx")  # chainrisk.answers.screen.FORMATS (a test keeps them equal)

_HELP = {
    RECORDS: "Output format on stdout.",
    DOCUMENTS: "Output format on stdout: table for a person; json (an array) and jsonl for machines.",
    SUMMARY: "Format of the summary on stdout.",
    FILES: "Format of the rows written.",
}

F = TypeVar("F", bound=Callable[..., Any])


class OutputFormat(click.Choice):
    """A ``click.Choice`` of output formats that answers a known wrong value with one sentence saying what to do
    (e.g. an input format given to ``--format``)."""

    def __init__(self, choices: Sequence[str], hints: Mapping[str, str] | None = None) -> None:
        super().__init__(list(choices))
        self.hints = dict(hints or {})

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value not in self.choices and value in self.hints:
            self.fail(self.hints[value], param, ctx)
        return super().convert(value, param, ctx)


def format_option(kind: tuple[str, ...], *, default: str | None = "table", help: str | None = None,
                  hints: Mapping[str, str] | None = None) -> Callable[[F], F]:
    """The ``--format`` option of one kind of output (RECORDS, DOCUMENTS, SUMMARY or FILES); the value arrives
    as the ``fmt`` parameter. ``hints`` maps a wrong value to the sentence shown instead of click's generic one."""
    return click.option("--format", "fmt", type=OutputFormat(kind, hints), default=default,
                        show_default=default is not None, help=help or _HELP[kind])


def input_format_hints(input_formats: Sequence[str], output_formats: Sequence[str]) -> dict[str, str]:
    """The sentences for an input format given to ``--format`` (which names the output)."""
    return {f: f"{f!r} is an input format, and --format names the output format ({'|'.join(output_formats)}); "
               f"use --input-format {f}" for f in input_formats if f not in output_formats}


def require_input_format(ctx: click.Context, input_format: str | None, fmt: str, input_formats: Sequence[str]) -> str:
    """``--input-format`` is required; when it is missing but ``--format`` was given an input format (the old
    meaning of ``--format`` on this command), say which option to use."""
    from ..errors import UsageError

    if input_format is not None:
        return input_format
    given = ctx.get_parameter_source("fmt") == click.core.ParameterSource.COMMANDLINE
    if given and fmt in input_formats:
        raise UsageError(f"--format {fmt} sets the output format; give the input format as --input-format {fmt}")
    raise UsageError(f"missing option --input-format ({'|'.join(input_formats)})")


def fail_on_option(what: str) -> Callable[[F], F]:
    """``--fail-on BAND``: exit 1 (hits) when ``what`` is at or above the band; the value arrives as ``fail_on``."""
    from ..taxonomy import BANDS

    bands = BANDS[1:]  # 'none' is no threshold
    return click.option("--fail-on", type=click.Choice(bands), metavar="BAND",
                        help=f"Exit 1 when {what} is at or above BAND ({'|'.join(bands)}).")


def lang_option(f: F) -> F:
    """``--lang en|zh-CN``: the language of what a person reads (report, tables, messages); JSON keys, CSV columns
    and enum values stay English. Default: the global ``--lang``, else ``CHAINRISK_LANG``, else English."""
    return click.option("--lang", "lang", metavar="LANG", default=None,
                        help="Language of the human-facing text: en or zh-CN (default: env CHAINRISK_LANG, else en).",
                        )(f)


def cli_lang(ctx: click.Context, lang: str | None = None) -> str:
    """The language of this command: its own ``--lang``, else the global one, else ``CHAINRISK_LANG``."""
    from .. import i18n

    return i18n.resolve(lang or (ctx.obj or {}).get("lang"))


# -- the store ------------------------------------------------------------------------------------------------


def open_store(ctx: click.Context, *, read_only: bool = False, create: bool = False) -> Store:
    """The store of the global ``--db``. Only commands that bring data in pass ``create=True``: every other
    command meets a missing file with StoreError ('no chainrisk store at ...', exit 6) and creates nothing."""
    from .. import store

    return store.open(ctx.obj["db"], read_only=read_only, create=create)


def progress_enabled(ctx: click.Context) -> bool:
    return not ctx.obj.get("quiet") and sys.stderr.isatty()


# -- the writer -----------------------------------------------------------------------------------------------


def write(fmt: str, data: Any, *, unicode: Collection[str] = (), **views: Any) -> None:
    """Write one command's result to stdout in ``fmt``.

    ``data`` is the result: a mapping, a list of mappings, or the path of a file a library writer already wrote
    in ``fmt`` (screen's rows), copied to stdout byte for byte. ``views`` give a format its own shape of it where
    it needs one (keyword = format): ``table=`` rows to align, or finished text for a person (printed through
    click, so colours show only on a terminal); ``jsonl=``/``csv=`` the records to write, e.g. one per file of
    an import report whose ``json`` is the whole report. ``json`` is indented, jsonl one object per line;
    in the JSON formats named in ``unicode`` non-ASCII characters stay as they are (the lookup contract), in
    the others they are escaped.
    """
    view = views.get(fmt, data)
    if isinstance(view, os.PathLike):  # rows a library writer already wrote in fmt (screen): copied unchanged
        sys.stdout.flush()
        with open(view, "rb") as f:
            shutil.copyfileobj(f, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    if fmt == "table":
        click.echo(view if isinstance(view, str) else table_text(_records(view)), nl=False)
        return
    out = sys.stdout
    ascii_only = fmt not in unicode
    if fmt == "json":
        out.write(json.dumps(view, indent=2, default=_default, ensure_ascii=ascii_only) + "\n")
    elif fmt == "jsonl":
        for r in _records(view):
            out.write(json.dumps(r, default=_default, ensure_ascii=ascii_only) + "\n")
    elif fmt == "csv":
        rows = _records(view)
        if rows:
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)
            out.write(buf.getvalue())
    else:  # format_option() lets no other value through
        raise ValueError(f"unknown output format {fmt!r}")


def _records(data: Any) -> list[Mapping[str, Any]]:
    return [data] if isinstance(data, Mapping) else list(data)


def _default(o: Any) -> Any:
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    return str(o)


def table_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as aligned columns (numbers with thousands separators), or '(nothing)'."""
    if not rows:
        return "(nothing)\n"
    cols = list(rows[0].keys())
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines) + "\n"


def field_rows(d: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A summary as ``field``/``value`` rows, the table view of one run."""
    return [{"field": k, "value": v} for k, v in d.items()]


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={val}" for k, val in v.items())
    return str(v)
