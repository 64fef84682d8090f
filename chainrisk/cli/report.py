"""`chainrisk report ADDRESS --output FILE.html|.md`: a self-contained evidence report for a filing."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import open_store


@click.command(short_help="Write a self-contained evidence report (HTML or Markdown) for a filing.")
@click.argument("address")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The report file: .html (self-contained, with charts) or .md.")
@click.option("--run", "run_id", metavar="RUN_ID", help="Scoring run to report on (default: the latest complete).")
@click.option("--top", default=3, show_default=True, type=click.IntRange(1, 20),
              help="Evidence paths per exposure.")
@click.pass_context
def report(ctx: click.Context, address: str, output: Path, run_id: str | None, top: int) -> None:
    """Write the evidence report of ADDRESS: verdict, labels with sources, exposure table and chart, evidence
    paths and their drawing, the transfers with tx hashes, and the provenance. Readable without chainrisk.

    Exit 0; 2 bad usage (output not .html/.md); 4 invalid address; 7 no scoring run.
    """
    from ..answers.report import report as do_report

    # writable: the first explanation of a run builds the evidence helper tables
    with open_store(ctx) as st:
        path = do_report(st, address, output, run_id=run_id, top=top)
    if not ctx.obj.get("quiet"):
        click.echo(f"report written to {path}", err=True)
