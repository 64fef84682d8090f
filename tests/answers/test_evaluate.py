"""chainrisk evaluate: the measures themselves (AUC, folds, the fitted threshold), the demo ground truth on a hand
built store and on a small generated economy, the CLI, and the phishing dev graph of the shared datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import scored_store as S

from chainrisk.answers.evaluate import (
    PHISHING_DEV,
    cross_validated_threshold,
    demo_figures,
    fit_threshold,
    folds,
    phishing_dev,
    roc_auc,
)
from chainrisk.cli import cli

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "datasets"


def test_roc_auc_ranks_with_ties_and_needs_both_classes():
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert roc_auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]) == 0.5      # ties count half
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert roc_auc([0.3, 0.4], [1, 1]) is None


def test_folds_are_stratified_and_deterministic():
    keys = [f"0x{i:040x}" for i in range(50)]
    labels = [1 if i < 20 else 0 for i in range(50)]
    f = folds(keys, labels, 5)
    assert f == folds(keys, labels, 5)
    for k in range(5):
        assert sum(1 for i in range(50) if f[i] == k and labels[i]) == 4
        assert sum(1 for i in range(50) if f[i] == k and not labels[i]) == 6


def test_the_fitted_threshold_keeps_normals_within_budget_and_is_judged_out_of_fold():
    normal = [i / 100 for i in range(100)]            # 0.00 .. 0.99
    assert fit_threshold(normal, [0] * 100, budget=0.02) == 0.98     # flags 0.98 and 0.99: 2 of 100
    keys = [f"k{i}" for i in range(200)]
    scores = [i / 100 for i in range(100)] + [0.5 + i / 200 for i in range(100)]
    labels = [0] * 100 + [1] * 100
    cv = cross_validated_threshold(keys, scores, labels)
    assert cv["folds"] == 5 and len(cv["thresholds"]) == 5
    assert cv["normal_flagged"] <= 0.1 and 0.0 < cv["bad_flagged"] < 1.0   # held out: near the 2% budget


def _truth(path: Path) -> Path:
    rows = [(S.MIXER, "mixer_pool", True), (S.MULE, "mule", False), (S.SUBJECT, "victim", False),
            (S.CLEAN, "p2p_user", False), (S.EXCH, "exchange_hot", True), (S.LATE, "p2p_user", False),
            ("0x" + "99" * 20, "p2p_user", False)]
    path.write_text("address,role,entity,labelled\n" + "".join(f"{a},{r},e,{str(lab).lower()}\n"
                                                                for a, r, lab in rows), encoding="utf-8")
    return path


def test_demo_figures_per_role_from_a_run_with_axes_and_from_an_older_one(store, tmp_path):
    S.build(store)
    truth = _truth(tmp_path / "truth.csv")
    figs, axes = demo_figures(store, S.R_NEW, truth)
    by = {f.role: f for f in figs}
    assert axes
    assert (by["mule"].illicit_high, by["mule"].report, by["mule"].sever) == (1.0, 1.0, 0.0)
    assert (by["victim"].illicit_high, by["victim"].vc_medium, by["victim"].sever) == (1.0, 1.0, 1.0)
    assert by["victim"].sever_low == 0.0             # severed, but also suspected: not "sever with illicit <= low"
    assert (by["exchange_hot"].labelled, by["exchange_hot"].sever_low) == (1, 1.0)
    # p2p_user: CLEAN scored, LATE not in the run, the third not in the store: the share is over the scored one
    assert (by["p2p_user"].addresses, by["p2p_user"].scored, by["p2p_user"].illicit_medium) == (3, 1, 0.0)
    # the p2p user that paid an exchange deposit/hot wallet: none here (CLEAN only received)
    assert "exchange_customer" not in by
    old, axes_old = demo_figures(store, S.R_OLD, truth)
    o = {f.role: f for f in old}
    assert not axes_old and o["mule"].sever is None and o["mule"].report is None
    # derived from the combined band: SUBJECT is low with top category exchange in r-old
    assert (o["victim"].combined_high, o["victim"].illicit_medium, o["victim"].vc_medium) == (0.0, 0.0, 0.0)
    assert o["mule"].illicit_high == 1.0            # severe, top category mixer


def test_evaluate_on_a_small_demo_economy_and_without_the_shared_folder(tmp_path):
    """The CLI end to end: one small economy, no shared folder (said in one sentence), the doc written."""
    doc = tmp_path / "accuracy.md"
    r = CliRunner().invoke(cli, ["evaluate", "--scale", "0.02", "--seed", "7", "--datasets", str(tmp_path / "none"),
                                 "--write-doc", str(doc)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert r.stderr.count("The phishing dev graph was not evaluated") == 1
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# Accuracy\n") and "## 1. The demo economy's ground truth" in text
    assert "## 2. The phishing dev graph" not in text
    assert "**What it means.**" in text and "**Limits.**" in text
    for profile in ("fatf", "cn"):
        assert f"### Profile `{profile}`" in text
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    for role in ("mule", "layering_hop", "collector", "victim", "p2p_user", "merchant", "exchange_customer"):
        assert role in rows, role
    assert "| `cn` | exchange customers and RWA investors |" in text


def test_python_api_evaluate_gives_shares_and_targets(tmp_path):
    import chainrisk

    ev = chainrisk.evaluate(scale=0.02, seeds=(7,), datasets=tmp_path, profiles=("cn",))
    assert ev.phishing == [] and len(ev.notes) == 1 and ev.demo is not None
    rows = {r["role"]: r for r in ev.demo.roles["cn"]}
    for r in rows.values():
        for m in ("combined_high", "illicit_high", "illicit_medium", "vc_medium"):
            assert 0.0 <= r[m] <= 1.0
        assert r["scored"] <= r["addresses"]
    assert rows["exchange_hot"]["labelled"] == rows["exchange_hot"]["addresses"] > 0
    assert [t["profile"] for t in ev.demo.targets] == ["cn"]


def _shared() -> Path:
    if not (SHARED / PHISHING_DEV).is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SHARED / PHISHING_DEV} is missing; CI must have the shared datasets")
        pytest.skip("../shared/datasets is not present (it ships beside the project in CI, not in a user's clone)")
    return SHARED


def test_phishing_dev_graph_with_seed_labels_removed(tmp_path):
    data = _shared()
    [r] = phishing_dev(data, ["fatf"], workdir=tmp_path)
    assert (r.seeds, r.bad, r.normal, r.transfers) == (208, 146, 62, 11_347)
    assert r.seed_labels_removed > 0 and r.seeds_that_had_labels > 0      # the seeds' own labels were removed
    assert sum(v["bad"] + v["normal"] for v in r.bands.values()) == 208
    assert r.auc_illicit is not None and 0.0 <= r.auc_illicit <= 1.0
    assert r.cross_validated["folds"] == 5 and len(r.cross_validated["thresholds"]) == 5
    assert 0.0 <= r.normal_at_high <= 1.0 and 0.0 <= r.bad_at_medium <= 1.0
    assert not r.label_errors, r.label_errors
