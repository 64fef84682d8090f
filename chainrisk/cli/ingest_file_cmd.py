"""`chainrisk ingest file`: bulk import of token transfers from BigQuery, ethereum-etl, Etherscan or mapped CSV."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import click

from ..errors import PartialError, UsageError
from ..ingest.formats import FORMATS as INPUT_FORMATS
from ._common import (
    RECORDS,
    format_option,
    input_format_hints,
    open_store,
    progress_enabled,
    require_input_format,
    write,
)


def _parse_mapping(pairs: tuple[str, ...], mapping_file: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if mapping_file:
        p = Path(mapping_file)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as e:
            raise UsageError(f"cannot read the mapping file {p}: {e.strerror}; check --mapping") from None
        try:
            data: Any = tomllib.loads(text) if p.suffix.lower() == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
            raise UsageError(f"the mapping file {p} is not valid {p.suffix.lstrip('.') or 'JSON'}: {e}") from None
        if isinstance(data, dict) and isinstance(data.get("mapping"), dict):
            data = data["mapping"]
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise UsageError(f"the mapping file {p} must map field names to column names, e.g. {{\"value\": \"amt\"}}")
        out.update(data)
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise UsageError(f"--map takes FIELD=COLUMN (e.g. --map tx_hash=hash), not {pair!r}")
        out[field.strip()] = column.strip()
    return out


@click.command("file")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--input-format", type=click.Choice(INPUT_FORMATS),
              help="The export format of the files (required).")
@click.option("--map", "pairs", multiple=True, metavar="FIELD=COLUMN",
              help="csv: take canonical FIELD from COLUMN (repeatable). Fields: tx_hash, log_index, block_number, "
                   "block_time, token_address, from_address, to_address, value, amount, token_symbol, "
                   "token_decimals.")
@click.option("--mapping", "mapping_file", type=click.Path(dir_okay=False),
              help="csv: a JSON or TOML file mapping fields to columns (--map wins over it).")
@click.option("--blocks", "blocks_file", type=click.Path(dir_okay=False),
              help="ethereum-etl, tronetl: its blocks.csv (number, timestamp) to give transfers their block time.")
@click.option("--skip-bad", is_flag=True,
              help="Import the good rows of a file with bad ones and write the bad ones to the reject file "
                   "(exit 3 when any row was rejected).")
@click.option("--reject-file", type=click.Path(dir_okay=False),
              help="Where --skip-bad writes bad rows (CSV: file, line, reason, row) [default: rejects.csv].")
@click.option("--chain", default="ethereum", show_default=True,
              help="The chain the files come from (tron: with --input-format tronetl, tron-logs, trongrid or csv; "
                   "addresses are stored as T... base58).")
@click.option("--force", is_flag=True, help="Read files again even if a file with the same content was imported.")
@click.option("--registered-only", "--no-register-tokens", "registered_only", is_flag=True,
              help="Keep only tokens already in the registry; rows of other tokens are left out and reported by "
                   "token (default: register them, with the file's decimals, or with unknown decimals when the "
                   "file gives none: stored as activity, never priced).")
@click.option("--memory-limit", default="1GB", show_default=True,
              help="DuckDB memory cap during the import; bigger files spill to disk instead of growing memory.")
@format_option(RECORDS, help="Format of the import report on stdout (json: the totals and every file; the "
                             "others: one row per file).", hints=input_format_hints(INPUT_FORMATS, RECORDS))
@click.pass_context
def file(
    ctx: click.Context, paths: tuple[str, ...], input_format: str | None, pairs: tuple[str, ...],
    mapping_file: str | None, blocks_file: str | None, skip_bad: bool, reject_file: str | None, chain: str,
    force: bool, registered_only: bool, memory_limit: str, fmt: str,
) -> None:
    """Import token transfers from bulk export files (all-or-nothing per file; re-importing adds nothing).

    \b
    Input formats (--input-format):
      bigquery      crypto_ethereum.token_transfers (CSV or Parquet)
      ethereum-etl  token_transfers.csv or .json lines (--blocks blocks.csv for times)
      etherscan     tokentx API response (JSON) or its CSV
      csv           any CSV; columns found by usual names or --map FIELD=COLUMN
      tronetl       (--chain tron) tronetl's token_transfers.csv (--blocks blocks.csv for times)
      tron-logs     (--chain tron) TRON event logs (JSON lines, Parquet or CSV: address, topics, data, ...)
      trongrid      (--chain tron) TronGrid /v1/accounts/{a}/transactions/trc20 JSON (no log index: content keys)
    """
    from ..ingest.file import FileReport, ingest_file

    input_format = require_input_format(ctx, input_format, fmt, INPUT_FORMATS)
    if (pairs or mapping_file) and input_format != "csv":
        raise UsageError(f"--map/--mapping apply to --input-format csv only, not {input_format}")
    if reject_file and not skip_bad:
        raise UsageError("--reject-file needs --skip-bad (without it a bad row fails the file)")
    mapping = _parse_mapping(pairs, mapping_file)
    quiet = ctx.obj.get("quiet")
    show = progress_enabled(ctx)

    def progress(rep: FileReport) -> None:
        if show:
            click.echo(f"{rep.path}: {rep.status}, {rep.rows_added:,} added of {rep.rows_read:,} rows "
                       f"({rep.seconds:.1f} s)", err=True)

    with open_store(ctx, create=True) as st:
        report = ingest_file(
            st, list(paths), input_format, mapping=mapping or None, blocks_file=blocks_file, skip_bad=skip_bad,
            reject_path=(reject_file or "rejects.csv") if skip_bad else None, chain=chain, force=force,
            registered_only=registered_only, memory_limit=memory_limit, progress=progress,
        )
    rows = [{"file": f.path, "status": f.status, "read": f.rows_read, "added": f.rows_added,
             "duplicate": f.rows_duplicate, "rejected": f.rows_rejected,
             "unregistered_token": f.rows_unregistered_token, "unknown_decimals": f.rows_unknown_decimals,
             "no_time": f.rows_without_time,
             "seconds": round(f.seconds, 2)} for f in report.files]
    write(fmt, report.to_dict(), table=rows, jsonl=rows, csv=rows)
    if report.rows_unknown_decimals and not quiet:
        toks = sorted({c for f in report.files for c in f.tokens_unknown_decimals})
        click.echo(f"{report.rows_unknown_decimals:,} rows of tokens with unknown decimals were stored as activity "
                   "(no amount, no USD value: never priced)"
                   + (f"; newly registered without decimals: {', '.join(toks)}" if toks else "")
                   + "; --registered-only leaves such rows out", err=True)
    if report.rows_unregistered_token and not quiet:
        by = ", ".join(f"{c} {n:,}" for c, n in report.unregistered_by_token.items())
        click.echo(f"{report.rows_unregistered_token:,} rows of tokens outside the registry were left out "
                   f"(--registered-only): {by}", err=True)
    if report.rows_rejected:
        raise PartialError(
            f"{report.rows_rejected:,} bad rows were skipped and written to {report.reject_path}; "
            "fix them and import that data again"
        )
