"""``chainrisk evaluate``: the demo economies it measures, and the one call that runs every public evaluation.

    >>> import chainrisk
    >>> ev = chainrisk.evaluate(scale=0.05, seeds=(7,))
    >>> print(ev.to_markdown())

The measuring lives in :mod:`chainrisk.answers.evaluate` (it reads scoring runs and a ground-truth file); this
module only generates what needs the demo generator: per seed, an economy written to files, ingested, labelled and
scored under each profile.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ..answers.accuracy_doc import BEHAVIOUR_OFF
from ..answers.evaluate import PROFILES, DemoRun, Evaluation
from ..answers.evaluate import evaluate as measure
from ..errors import UsageError
from ..store import Store
from .economy import generate_economy

log = logging.getLogger(__name__)

SEEDS = (7, 8, 9)
SCALE = 0.2


def demo_run(folder: str | os.PathLike[str], scale: float, seed: int, profiles: Sequence[str] = PROFILES,
             say: Callable[[str], None] | None = None) -> DemoRun:
    """Generate the economy of ``seed`` at ``scale`` into ``folder`` (transfers, labels, ``truth.csv``), ingest
    it into ``folder/demo.duckdb`` and score it once per profile."""
    from ..engine.score import score
    from ..ingest.file import ingest_file
    from ..labels import import_labels

    say = say or log.info
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    say(f"seed {seed}: generating the economy (scale {scale:g})")
    eco = generate_economy(scale, seed)
    transfers = eco.write_transfers(out / "token_transfers.parquet", format="bigquery")
    labels = eco.write_labels(out / "labels.csv")
    truth = eco.write_truth(out / "truth.csv")
    db = out / "demo.duckdb"
    runs: dict[str, str] = {}
    with Store(db) as st:
        ingest_file(st, [transfers], format="bigquery")
        import_labels(st, [labels], format="csv", version=f"demo-seed-{seed}")
        for p in profiles:
            say(f"seed {seed}: scoring under {p}")
            runs[p] = score(st, profile=p, prepare_reads=False).run_id
            say(f"seed {seed}: scoring under {p} with the behaviour model off")
            runs[p + BEHAVIOUR_OFF] = score(st, profile=p, prepare_reads=False, behaviour=False).run_id
    return DemoRun(seed=seed, scale=scale, db=str(db), truth_csv=str(truth), runs=runs)


def evaluate(*, scale: float = SCALE, seeds: Sequence[int] = SEEDS, datasets: str | os.PathLike[str] | None = None,
             profiles: Sequence[str] = PROFILES, demo: bool = True, workdir: str | os.PathLike[str] | None = None,
             on_progress: Callable[[str], None] | None = None) -> Evaluation:
    """Run the public evaluations: the demo economy's ground truth (one economy per seed at ``scale``, medians
    over seeds) unless ``demo`` is false, and the phishing dev graph of ``datasets`` (default
    ``$CHAINRISK_DATASETS`` or ``../shared/datasets``) when present. Generated files live in ``workdir`` (default:
    a temporary folder, removed). Returns an :class:`~chainrisk.answers.evaluate.Evaluation`
    (``.to_markdown()`` is ``docs/accuracy.md``)."""
    if not scale > 0:
        raise UsageError("--scale must be positive (1.0 is about a million transfers)")
    if demo and not seeds:
        raise UsageError("give at least one --seed for the demo economy")
    say = on_progress or log.info
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        t0 = time.perf_counter()
        runs = [demo_run(Path(tmp) / f"seed-{s}", scale, s, profiles, say) for s in seeds] if demo else []
        demo_s = time.perf_counter() - t0
        if datasets is None or Path(datasets).is_dir():
            say("the phishing dev graph")
        from ..answers.behaviour_train import behaviour_figures

        return measure(runs or None, datasets, profiles=profiles, demo_seconds=round(demo_s, 1), workdir=tmp,
                       behaviour=behaviour_figures)
