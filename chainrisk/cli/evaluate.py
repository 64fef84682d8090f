"""`chainrisk evaluate`: the public accuracy tests (demo ground truth, phishing dev graph) -> docs/accuracy.md."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import SUMMARY, format_option, write


@click.command(short_help="Measure accuracy on the demo's ground truth and the phishing dev graph.")
@click.option("--scale", type=float, default=0.2, show_default=True,
              help="Size of each demo economy (1.0 is about a million transfers).")
@click.option("--seed", "seeds", type=int, multiple=True, metavar="N",
              help="Demo generator seed; repeat for several (figures are medians over seeds). Default: 7, 8, 9.")
@click.option("--no-demo", is_flag=True, help="Skip the demo economy (only the phishing dev graph).")
@click.option("--datasets", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="DIR",
              help="The shared datasets folder (default $CHAINRISK_DATASETS or ../shared/datasets).")
@click.option("--profile", "profiles", multiple=True, metavar="NAME",
              help="Profiles to score under; repeat for several. Default: fatf and cn.")
@click.option("--write-doc", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="PATH",
              help="Write the Markdown report (docs/accuracy.md) to PATH instead of printing it.")
@format_option(SUMMARY, help="Format on stdout when not writing the doc: table is the Markdown for a person, json the "
                             "figures.", hints={"markdown": "the Markdown is --format table (the default)"})
@click.pass_context
def evaluate(ctx: click.Context, scale: float, seeds: tuple[int, ...], no_demo: bool, datasets: Path | None,
             profiles: tuple[str, ...], write_doc: Path | None, fmt: str) -> None:
    """Run the public evaluations and print (or --write-doc) the figures with what each test means.

    1. The demo economy's ground truth: per role, the share at illicit >= high and >= medium, at vc_business >=
    medium, and with the actions sever and report, under each profile (medians over seeds).

    2. The phishing dev graph of the shared datasets (seed labels removed): ROC-AUC, the share of bad and normal
    seeds at each band, a cross-validated threshold. Absent folder: said in one sentence, the demo part still runs.
    """
    from ..answers.evaluate import PROFILES
    from ..demo.accuracy import SEEDS
    from ..demo.accuracy import evaluate as run

    quiet = bool(ctx.obj and ctx.obj.get("quiet"))

    def say(msg: str) -> None:
        if not quiet:
            click.echo(msg, err=True)

    ev = run(scale=scale, seeds=seeds or SEEDS, datasets=datasets, profiles=profiles or PROFILES,
             demo=not no_demo, on_progress=say)
    for note in ev.notes:
        say(note)
    text = ev.to_markdown()
    if write_doc is not None:
        write_doc.write_text(text, encoding="utf-8")
        say(f"wrote {write_doc}")
    else:
        write(fmt, ev.to_dict(), table=text)
