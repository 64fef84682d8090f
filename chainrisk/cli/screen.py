"""`chainrisk screen INPUT`: a file of declared addresses in, one screened row per input row out, plus a report."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from ..errors import EXIT_CODES, UsageError
from ._common import FILES, cli_lang, fail_on_option, format_option, lang_option, open_store, write


@click.command(short_help="Screen a file of declared addresses: one row per input row, plus an audit report.")
@click.argument("input_path", metavar="INPUT")
@click.option("--address-column", default="address", show_default=True, metavar="NAME",
              help="The input column holding the addresses.")
@click.option("--chain-column", metavar="NAME",
              help="The input column giving each row's chain (bsc, bnb, polygon, ...; an empty cell: every chain). "
                   "Default: a column named 'chain' when the input has one. Without a chain an EVM address is "
                   "screened on every chain where the store has it, and the row gets the combined verdict.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the rows here (default: stdout, CSV/JSONL/JSON only).")
@format_option(FILES, default=None, help="Format of the rows (default: from the --output suffix, else csv; "
                                         "parquet and xlsx need --output).")
@click.option("--excel", is_flag=True,
              help="CSV for Excel: start with a UTF-8 byte-order mark so Chinese names are not garbled.")
@fail_on_option("any row")
@click.option("--since", metavar="RUN_ID", help="Only rows whose band changed since this earlier scoring run.")
@click.option("--run", "run_id", metavar="RUN_ID", help="Scoring run to screen against (default: latest complete).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the run report JSON (default: OUTPUT's stem + .report.json).")
@lang_option
@click.pass_context
def screen(ctx: click.Context, input_path: str, address_column: str, chain_column: str | None, output: Path | None,
           fmt: str | None,
           excel: bool, fail_on: str | None, since: str | None, run_id: str | None, report_path: Path | None,
           lang: str | None) -> None:
    """Screen the declared addresses in INPUT (CSV, XLSX, JSONL, or one address per line; '-' for stdin).

    The rows go to -o FILE in the format of its suffix: .csv, .xlsx (a real Excel workbook), .jsonl, .json,
    .parquet; --excel starts a CSV with a byte-order mark so Excel shows Chinese names as they are.

    Writes exactly one row per input row, in input order: the input's own columns unchanged, then status,
    address_normalized, chain, risk_score, risk_band, top_category, categories, min_hops, direct_usd,
    indirect_usd, reason, run_id, ..., chains (see docs/lookup-screen-report.md). An EVM address is one key on
    every EVM chain: without a chain column it is screened on each chain where the store has it and the row gets
    the combined verdict (chain 'evm', chains 'ethereum;bsc'). Malformed addresses are rows with status
    'invalid'. Exit 0; 1 with --fail-on hits; 2 bad usage; 4 unreadable input; 7 no scoring run.
    """
    from ..answers.screen import screen as do_screen

    if output is None and fmt in ("parquet", "xlsx"):
        raise UsageError(f"{fmt} output needs --output FILE (stdout takes csv, jsonl or json)")
    tmpdir = tempfile.mkdtemp(prefix="chainrisk-screen-")
    try:
        source: Any = input_path
        if input_path == "-":
            source = Path(tmpdir) / "stdin.csv"
            with source.open("wb") as f:
                shutil.copyfileobj(sys.stdin.buffer, f)
        target = output if output is not None else Path(tmpdir) / f"out.{fmt or 'csv'}"
        quiet = ctx.obj.get("quiet")
        progress = (lambda msg: click.echo(f"screen: {msg}", err=True)) if ctx.obj.get("verbose") else None
        with open_store(ctx, read_only=True) as st:
            res = do_screen(
                st, source, address_column=address_column, run_id=run_id, output=target, format=fmt,
                since=since, fail_on=fail_on,
                report_path=report_path if (report_path or output) else Path(tmpdir) / "report.json",
                progress=progress, excel=excel, chain_column=chain_column,
            )
        if output is None:
            write(fmt or "csv", target)
        if not quiet:
            click.echo(_summary(res.report, output is not None or report_path is not None, cli_lang(ctx, lang)), err=True)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    if fail_on and res.report.get("hits"):
        ctx.exit(EXIT_CODES["hits"])


def _summary(rep: dict[str, Any], report_written: bool, lang: str = "en") -> str:
    if lang != "en":
        return _summary_i18n(rep, report_written, lang)
    c = rep["counts"]
    st = ", ".join(f"{k} {v:,}" for k, v in c["status"].items())
    bands = ", ".join(f"{k} {v:,}" for k, v in reversed(list(c["band"].items())) if v)
    parts = [f"screened {c['input_rows']:,} rows ({c['distinct_addresses']:,} distinct addresses; "
             f"{c['duplicate_rows']:,} duplicate rows) against run {rep['run']['run_id']}: {st}"]
    if bands:
        parts.append(f"bands: {bands}")
    if rep.get("since"):
        parts.append(f"{rep['since']['changed_rows']:,} rows changed band since {rep['since']['run_id']}")
    if rep.get("fail_on"):
        parts.append(f"{rep['hits']:,} at or above {rep['fail_on']}")
    if rep.get("output"):
        parts.append(f"output {rep['output']['path']}")
    if report_written and rep.get("report_path"):
        parts.append(f"report {rep['report_path']}")
    parts.append(f"{rep['timings']['total_s']:.2f} s")
    return "; ".join(parts)


def _summary_i18n(rep: dict[str, Any], report_written: bool, lang: str) -> str:
    from .. import i18n

    t = i18n.t
    c = rep["counts"]
    st = "，".join(f"{t('cli.status_' + k, lang)} {v:,}" for k, v in c["status"].items())
    bands = "，".join(f"{i18n.band(k, lang)} {v:,}" for k, v in reversed(list(c["band"].items())) if v)
    parts = [t("cli.screen_summary", lang, rows=f"{c['input_rows']:,}", distinct=f"{c['distinct_addresses']:,}",
               dups=f"{c['duplicate_rows']:,}", run=rep["run"]["run_id"], status=st)]
    if bands:
        parts.append(t("cli.screen_bands", lang, bands=bands))
    if rep.get("fail_on"):
        parts.append(t("cli.screen_hits", lang, n=f"{rep['hits']:,}", band=i18n.band(rep["fail_on"], lang)))
    if rep.get("output"):
        parts.append(t("cli.screen_output", lang, path=rep["output"]["path"]))
    if report_written and rep.get("report_path"):
        parts.append(t("cli.screen_report", lang, path=rep["report_path"]))
    parts.append(f"{rep['timings']['total_s']:.2f} s")
    return "；".join(parts)
