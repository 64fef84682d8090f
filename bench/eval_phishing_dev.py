"""Accuracy of the risk score on a real graph: the phishing DEV split of ../shared/datasets.

    .venv/bin/python bench/eval_phishing_dev.py [--profile fatf] [--datasets DIR] [--json]

A thin wrapper over :func:`chainrisk.answers.evaluate.phishing_dev` (also run by ``chainrisk evaluate``): loads the
11,347 real transfers around 208 seeds, imports the shared public label sources, removes every label on a seed,
scores, and prints the ROC-AUC of the illicit score for the seeds' ``is_bad``, the share of bad and normal seeds at
each band and a 5-fold cross-validated threshold. Caveats: see ``docs/accuracy.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chainrisk.answers.evaluate import PHISHING_DEV, phishing_dev  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", action="append", help="profile (repeat; default fatf)")
    ap.add_argument("--datasets", default=str(ROOT.parent / "shared" / "datasets"))
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    data = Path(args.datasets)
    if not (data / PHISHING_DEV).is_dir():
        print(f"missing {PHISHING_DEV} in {data} (the shared datasets beside the project)", file=sys.stderr)
        return 2
    for r in phishing_dev(data, args.profile or ["fatf"]):
        print(f"phishing DEV, profile {r.profile}: {r.seeds} seeds ({r.bad} bad, {r.normal} normal), "
              f"{r.transfers:,} transfers, {r.active_labels:,} active labels; {r.seed_labels_removed} labels on "
              f"{r.seeds_that_had_labels} seeds removed before scoring")
        print(f"  ROC-AUC illicit score {r.auc_illicit}, combined score {r.auc_combined}")
        print(f"  illicit >= high: bad {r.bad_at_high:.1%}, normal {r.normal_at_high:.1%}; "
              f"cross-validated threshold: bad {r.cross_validated['bad_flagged']:.1%}, "
              f"normal {r.cross_validated['normal_flagged']:.1%}")
        for b, v in r.bands.items():
            print(f"  {b:<8} {v['bad']:>4} bad {v['normal']:>4} normal")
        for e in r.label_errors:
            print(f"  label source not imported: {e}", file=sys.stderr)
        if args.json:
            print(json.dumps(asdict(r), indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
