"""`chainrisk report ADDRESS --output FILE.html|.pdf|.md`: a self-contained evidence report for a filing."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import cli_lang, lang_option, open_store


@click.command(short_help="Write a fileable evidence report (HTML, PDF or Markdown), in English or Chinese.")
@click.argument("address")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The report file: .html (self-contained), .pdf (A4, needs headless Chromium) or .md.")
@click.option("--run", "run_id", metavar="RUN_ID", help="Scoring run to report on (default: the latest complete).")
@click.option("--top", default=3, show_default=True, type=click.IntRange(1, 20),
              help="Evidence paths per exposure.")
@click.option("--customer-ref", metavar="TEXT", help="The bank's customer reference, shown at the top.")
@click.option("--note", metavar="TEXT", help="The analyst's note (the case section).")
@click.option("--disposition", type=click.Choice(["cleared", "monitor", "sever", "reported"]),
              help="The analyst's decision.")
@click.option("--analyst", metavar="NAME", help="Who prepared the report.")
@lang_option
@click.pass_context
def report(ctx: click.Context, address: str, output: Path, run_id: str | None, top: int, customer_ref: str | None,
           note: str | None, disposition: str | None, analyst: str | None,
           lang: str | None) -> None:
    """Write the evidence report of ADDRESS: the action and the two verdicts first, the case (customer reference,
    disposition, note, sign-off), why, labels with sources, exposure, behaviour, top counterparties, evidence
    paths and their drawing, the transfers with tx hashes (linked to the block explorer), and the provenance.
    An address without data gets a report saying plainly that nothing is known (which is not a clean bill of
    health). Readable without chainrisk; --lang zh-CN (or CHAINRISK_LANG) writes it in Chinese.

    Exit 0; 2 bad usage (output not .html/.pdf/.md, or no Chromium for a PDF); 4 invalid address; 7 no scoring run.
    """
    from .. import i18n
    from ..answers.report import report as do_report

    lang = cli_lang(ctx, lang)
    # writable: the first explanation of a run builds the evidence helper tables
    with open_store(ctx) as st:
        path = do_report(st, address, output, run_id=run_id, top=top, lang=lang, customer_ref=customer_ref,
                         note=note, disposition=disposition, analyst=analyst)
    if not ctx.obj.get("quiet"):
        click.echo(i18n.t("cli.report_written", lang, path=path), err=True)
