"""Shared CLI plumbing: opening the store from the global --db option, and output writers."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import click


def open_store(ctx: click.Context, read_only: bool = False) -> Any:
    from .. import store

    return store.open(ctx.obj["db"], read_only=read_only)


def progress_enabled(ctx: click.Context) -> bool:
    return not ctx.obj.get("quiet") and sys.stderr.isatty()


def _default(o: Any) -> Any:
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    return str(o)


def emit(data: Any, fmt: str, out: Any = None) -> None:
    """Write ``data`` (a mapping, or an iterable of mappings) to stdout in ``fmt``: table, json, jsonl or csv."""
    out = out or sys.stdout
    rows: list[Mapping[str, Any]] = [data] if isinstance(data, Mapping) else list(data)
    if fmt == "json":
        json.dump(data if isinstance(data, Mapping) else rows, out, indent=2, default=_default)
        out.write("\n")
    elif fmt == "jsonl":
        for r in rows:
            out.write(json.dumps(r, default=_default) + "\n")
    elif fmt == "csv":
        import csv

        if rows:
            w = csv.DictWriter(out, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)
    else:
        write_table(rows, out)


def write_table(rows: Iterable[Mapping[str, Any]], out: Any) -> None:
    rows = list(rows)
    if not rows:
        out.write("(nothing)\n")
        return
    cols = list(rows[0].keys())
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    out.write("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip() + "\n")
    for row in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")


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


FORMAT_OPTION = click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "jsonl", "csv"]), default="table", show_default=True,
    help="Output format on stdout.",
)
