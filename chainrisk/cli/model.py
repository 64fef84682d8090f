"""`chainrisk model`: the learned behaviour model (train it from the public files, show the shipped one)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._common import SUMMARY, format_option, write


@click.group(short_help="Train or show the behaviour model (shipped as JSON).")
def model() -> None:
    """The behaviour model: a regularised logistic regression over per-address behaviour features, trained offline
    on public labelled data and shipped as JSON in the package (docs/behaviour.md)."""


@model.command(short_help="Train the behaviour model on the phishing dev graph.")
@click.option("--datasets", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="DIR",
              help="The shared datasets folder (default $CHAINRISK_DATASETS or ../shared/datasets).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("behaviour.json"),
              show_default=True, metavar="PATH",
              help="Where to write the model JSON (the shipped one is chainrisk/data/models/behaviour.json).")
@format_option(SUMMARY, help="Format of the summary on stdout.")
@click.pass_context
def train(ctx: click.Context, datasets: Path | None, output: Path, fmt: str) -> None:
    """Reproduce the shipped model from the public files: load the phishing dev graph and the shared labels (every
    seed's own labels removed), compute the features, fit with nested grouped cross-validation, and write the
    model as JSON (coefficients, standardisation, feature definitions version, provenance with file hashes,
    cross-validated metrics, content hash)."""
    from ..answers.behaviour_train import train as run
    from ..answers.evaluate import default_datasets

    quiet = bool(ctx.obj and ctx.obj.get("quiet"))

    def say(msg: str) -> None:
        if not quiet:
            click.echo(msg, err=True)

    doc = run(datasets if datasets is not None else default_datasets(), on_progress=say)
    output.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    say(f"wrote {output}")
    write(fmt, _summary(doc), table=_table(doc))


@model.command(short_help="Show the behaviour model's card.")
@click.option("--model", "path", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              metavar="PATH", help="A model file (default: the shipped one).")
@format_option(SUMMARY, help="Format on stdout: table for a person, json the whole model document.")
def show(path: Path | None, fmt: str) -> None:
    """The model's features and coefficients, training data provenance and cross-validated metrics."""
    from ..engine.behaviour import load_model

    m = load_model(path)
    write(fmt, m.doc, table=_table(m.doc))


def _summary(doc: dict) -> dict:
    return {"content_hash": doc["content_hash"], "features_version": doc["features_version"],
            "cv_auc": doc["cv"]["auc"], "seeds": doc["training"]["seeds"], "groups": doc["training"]["groups"]}


def _table(doc: dict) -> str:
    m, cv, tr = doc["model"], doc["cv"], doc["training"]
    lines = [f"behaviour model {doc['content_hash'][:12]} ({doc['kind']}, features v{doc['features_version']})",
             f"  trained on {tr['dataset']}: {tr['seeds']} seeds ({tr['bad']} bad, {tr['normal']} normal) in "
             f"{tr['groups']} groups; seed labels removed",
             f"  {cv['method']}: ROC-AUC {cv['auc']} (folds {', '.join(str(a) for a in cv['auc_per_fold'])}); all 34 "
             f"features: {cv['all_features_auc']}",
             f"  C = {m['regularisation']['C']}; part = {m['part']}, train prior {m['train_prior']}, deploy prior "
             f"{m['deploy_prior']}",
             "  feature                        coef (per standard deviation)"]
    for name, c in sorted(zip(doc["features"], m["coef"], strict=True), key=lambda t: -abs(t[1])):
        if c:
            lines.append(f"  {name:30s} {c:+.3f}   {doc['feature_meanings'][name]}")
    return "\n".join(lines) + "\n"
