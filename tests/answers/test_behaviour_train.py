"""Training the behaviour model (issue 12): grouped folds keep a neighbourhood together, the numpy fit is a
regularised logistic regression, and ``chainrisk model train`` reproduces the shipped model from the public
files (the phishing dev graph of the shared datasets)."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from chainrisk.answers.behaviour_train import fit_logistic, group_folds, seed_groups
from chainrisk.answers.evaluate import roc_auc
from chainrisk.cli import cli
from chainrisk.engine.behaviour import MODEL_PATH


def test_seeds_sharing_a_private_counterparty_stay_together_but_a_public_one_does_not_link():
    # seeds 0..6; 0 and 1 both paid 10 (private); seeds 0..6 all used 20 (a pool); 2 paid seed 3 directly
    src = np.array([0, 1, 0, 1, 2, 3, 4, 5, 6, 2])
    dst = np.array([10, 10, 20, 20, 20, 20, 20, 20, 20, 3])
    seeds = np.arange(7)
    none = np.zeros(30, bool)
    g = seed_groups(src, dst, seeds, none, none, max_shared=5)
    assert g[0] == g[1] and g[2] == g[3]
    assert len({g[0], g[2], g[4], g[5], g[6]}) == 5          # the pool (7 seeds > 5) links nobody
    f = group_folds(g, np.array([1, 1, 0, 0, 1, 0, 1]), k=3)
    assert f[0] == f[1] and f[2] == f[3]


def test_the_fit_is_regularised_logistic_regression():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] - 0.5 * x[:, 1] + rng.normal(scale=0.5, size=400) > 0).astype(np.int64)
    strong, weak = fit_logistic(x, y, 10.0), fit_logistic(x, y, 0.001)
    assert strong.coef[0] > 0 > strong.coef[1] and abs(strong.coef[2]) < 0.5 * abs(strong.coef[0])
    assert np.abs(weak.coef).sum() < np.abs(strong.coef).sum()          # a smaller C shrinks
    assert roc_auc(strong.logit(x).tolist(), y.tolist()) > 0.9
    # the gradient of the penalised log-likelihood is zero at the fit
    z = (x - strong.mean) / strong.scale
    p = 1 / (1 + np.exp(-(z @ strong.coef + strong.intercept)))
    assert np.allclose(z.T @ (p - y) + strong.coef / 10.0, 0, atol=1e-6)


def test_model_train_reproduces_the_shipped_model(shared, tmp_path):
    out = tmp_path / "behaviour.json"
    r = CliRunner().invoke(cli, ["-q", "model", "train", "--datasets", str(shared), "-o", str(out),
                                 "--format", "json"])
    assert r.exit_code == 0, r.output
    got, shipped = json.loads(out.read_text()), json.loads(MODEL_PATH.read_text())
    assert got["content_hash"] == shipped["content_hash"], "retrain and commit the model (chainrisk model train)"
    assert got["training"]["seed_labels_removed"] > 0 and got["training"]["seeds"] == 208
