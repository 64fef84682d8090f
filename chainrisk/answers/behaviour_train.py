"""Training the behaviour model offline from public labelled data (``chainrisk model train``, issue 12).

    >>> from chainrisk.answers.behaviour_train import train
    >>> doc = train("../shared/datasets")          # the model document (JSON-ready dict)

The data: the phishing dev graph of the shared datasets (``stablecoin_transfers_phishing_dev``: real Ethereum
stablecoin transfers around 208 seed addresses, 146 Etherscan phish/hack or Kaggle fraud, 62 Kaggle normal; MIT
licence, see its PROVENANCE.md), loaded with the shared public label sources exactly as ``chainrisk evaluate``
does, **every label on a seed removed**. A seed's training row is its feature row
(:func:`chainrisk.engine.behaviour.address_features`, the same code a scoring run uses); its target is ``is_bad``.

The model: L2-regularised logistic regression on standardised features, fitted by Newton's method in numpy
(exact and deterministic; 34 features and 208 rows need no more). The regularisation strength ``C`` is chosen from
:data:`C_GRID` by grouped cross-validation. **Grouped**: seeds that transacted with each other or share a
counterparty that is not a service (a collector two drainers paid, a victim both phished) are one group, and a
group is never split between folds, so no seed's neighbourhood is in both. The metrics in the file are those of
nested grouped cross-validation (``C`` chosen inside each outer training part): out-of-fold ROC-AUC overall and per
fold. No pickle: the output is a JSON document with a content hash (:mod:`chainrisk.engine.behaviour`).
"""

from __future__ import annotations

import csv
import hashlib
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..engine.behaviour import MODEL_FORMAT, content_hash
from ..engine.features import FEATURES, FEATURES_VERSION, INDEX, NAMES
from ..errors import InputError
from ..store import Store
from .evaluate import LABEL_SOURCES, PHISHING_DEV, _axes_sql, prepare_phishing_store, roc_auc
from .lookup import BANDS

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)
FOLDS = 5
MAX_SHARED = 5               # a counterparty more seeds used is public (a pool, router, exchange), not a neighbourhood
DEPLOY_PRIOR = 0.05          # the share of illicit addresses assumed among those a bank screens (documented)
# The features the model uses: the signals the issue and the domain brief name before any fitting (no exchange
# counterparty, a short activity span, consolidation of outflows to one recipient, leftover balance, transfers per
# counterparty, the outgoing share of transfers). All 34 are computed and shown; with all 34 the model overfits
# 208 seeds (nested grouped CV AUC about 0.69, recorded in the file as ``cv.all_features_auc``).
MODEL_FEATURES = ("span_days", "exchange_counterparty", "top_recipient_share", "leftover_share",
                  "transfers_per_counterparty", "out_count_share")
TRAIN_PROFILE = "cn"         # roles (hubs, deposit addresses) as a scoring run under cn finds them


# -- the data -------------------------------------------------------------------------------------------------

@dataclass
class TrainingData:
    addresses: list[str]
    x: F64
    y: I64
    groups: I64
    files: list[dict[str, str]]
    counts: dict[str, Any]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def seed_groups(src: I64, dst: I64, seeds: I64, service: npt.NDArray[np.bool_], inert: npt.NDArray[np.bool_],
                max_shared: int = MAX_SHARED) -> I64:
    """Group number of each seed (ids ``seeds``): connected through direct transfers or a shared counterparty
    that is neither a service, nor inert, nor shared by more than ``max_shared`` seeds (in a sample of ego networks
    a counterparty many seeds used is a public contract or service: a DEX pool, a router, an unlabelled exchange
    wallet, not a private neighbourhood). Groups are numbered by their smallest seed position."""
    parent = list(range(seeds.size))
    pos = {int(s): i for i, s in enumerate(seeds.tolist())}
    users: dict[int, set[int]] = {}
    for u, v in zip(src.tolist(), dst.tolist(), strict=True):
        for s, c in ((u, v), (v, u)):
            if s in pos and c not in pos:
                users.setdefault(c, set()).add(s)
    public = {c for c, us in users.items() if len(us) > max_shared}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    via: dict[int, int] = {}
    for u, v in zip(src.tolist(), dst.tolist(), strict=True):
        for s, c in ((u, v), (v, u)):
            i = pos.get(s)
            if i is None:
                continue
            j = pos.get(c)
            if j is not None:
                union(i, j)
            elif not service[c] and not inert[c] and c not in public:
                if c in via:
                    union(i, via[c])
                else:
                    via[c] = i
    roots = [find(i) for i in range(seeds.size)]
    return np.array(roots, np.int64)


def group_folds(groups: I64, y: I64, k: int = FOLDS) -> I64:
    """A fold per item, whole groups at a time: groups by size (largest first, ties by their number) each go to the
    fold with the fewest items of the group's majority class, then the fewest items. Deterministic."""
    fold = np.zeros(groups.size, np.int64)
    cnt = np.zeros((k, 2), np.int64)
    ug = np.unique(groups)
    size = {int(g): int((groups == g).sum()) for g in ug}
    for g in sorted(size, key=lambda g: (-size[g], g)):
        members = groups == g
        ones = int(y[members].sum())
        cls = 1 if ones * 2 >= size[g] else 0
        f = min(range(k), key=lambda i: (cnt[i, cls], cnt[i].sum(), i))
        fold[members] = f
        cnt[f, 1] += ones
        cnt[f, 0] += size[g] - ones
    return fold


def seed_rows(store: Store, addrs: Sequence[str], ys: Sequence[int],
              profile: str = TRAIN_PROFILE) -> tuple[F64, I64, I64, list[str]]:
    """Feature rows, targets and groups of the seeds present in ``store`` (and their addresses, in order)."""
    from ..engine.behaviour_rows import address_features_from_store

    ids = dict(store.execute("SELECT address, id FROM addresses WHERE chain = 'ethereum'"
                             " AND address IN (SELECT unnest($a))", {"a": list(addrs)}).fetchall())
    fx = address_features_from_store(store, profile)
    keep = [i for i, a in enumerate(addrs) if a in ids]
    sid = np.array([ids[addrs[i]] for i in keep], np.int64)
    y = np.array([int(ys[i]) for i in keep], np.int64)
    return fx.x[sid], y, seed_groups(fx.src, fx.dst, sid, fx.service, fx.inert), [addrs[i] for i in keep]


def training_data(datasets: str | Path, workdir: str | Path | None = None,
                  on_progress: Callable[[str], None] | None = None) -> TrainingData:
    """The seeds' feature rows, targets and groups from the phishing dev graph (seed labels removed)."""

    say = on_progress or (lambda _m: None)
    data = Path(datasets)
    dev = data / PHISHING_DEV
    if not dev.is_dir():
        raise InputError(f"{dev} is not present; give --datasets DIR (the shared datasets folder)")
    files = [dev / "stablecoin_transfers.csv", dev / "seed_addresses.csv", dev / "PROVENANCE.md"]
    files += [data / f for _fmt, fs, _o in LABEL_SOURCES for f in fs]
    with tempfile.TemporaryDirectory(dir=workdir) as tmp, Store(Path(tmp) / "train.duckdb") as st:
        say("loading the phishing dev graph and the shared labels (seed labels removed)")
        seeds, counts = prepare_phishing_store(st, data)
        say("computing the behaviour features")
        x, y, groups, kept = seed_rows(st, [s["address"].lower() for s in seeds], [int(s["is_bad"]) for s in seeds])
    rel = [{"path": str(f.relative_to(data)), "sha256": _sha256(f)} for f in files if f.is_file()]
    counts = {k: counts[k] for k in ("transfers", "active_labels", "seed_labels_removed", "seeds_that_had_labels")}
    counts["seeds"] = len(kept)
    return TrainingData(kept, x, y, groups, rel, counts)


# -- fitting --------------------------------------------------------------------------------------------------

@dataclass
class Fit:
    mean: F64
    scale: F64
    coef: F64
    intercept: float
    c: float

    def logit(self, x: F64) -> F64:
        return np.asarray(((x - self.mean) / self.scale) @ self.coef + self.intercept, np.float64)


def fit_logistic(x: F64, y: I64, c: float, iters: int = 100) -> Fit:
    """L2-regularised logistic regression (penalty ``||w||^2 / (2C)``, intercept free) on standardised ``x``, by
    Newton's method. Deterministic; converges for any C > 0 (the penalty makes the problem strictly convex)."""
    mean = x.mean(axis=0)
    sd = x.std(axis=0)
    scale = np.where(sd > 1e-9, sd, 1.0)
    z = np.c_[np.ones(x.shape[0]), (x - mean) / scale]
    k = z.shape[1]
    w = np.zeros(k)
    pen = np.full(k, 1.0 / c)
    pen[0] = 0.0
    yf = y.astype(np.float64)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -35, 35)))
        grad = z.T @ (p - yf) + pen * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(pen) + 1e-9 * np.eye(k)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-10:
            break
    return Fit(mean, scale, w[1:], float(w[0]), c)


def _cv_predict(x: F64, y: I64, folds: I64, c: float) -> F64:
    out = np.zeros(y.size)
    for f in np.unique(folds):
        te = folds == f
        out[te] = fit_logistic(x[~te], y[~te], c).logit(x[te])
    return out


def choose_c(x: F64, y: I64, groups: I64, grid: Sequence[float] = C_GRID, k: int = FOLDS - 1) -> float:
    """The C of ``grid`` with the best out-of-fold AUC under grouped k-fold CV (ties: the smaller C)."""
    folds = group_folds(groups, y, k)
    best, best_auc = grid[0], -1.0
    for c in grid:
        auc = roc_auc(_cv_predict(x, y, folds, c).tolist(), y.tolist()) or 0.0
        if auc > best_auc + 1e-12:
            best, best_auc = c, auc
    return best


def nested_cv(x: F64, y: I64, groups: I64, k: int = FOLDS) -> dict[str, Any]:
    """Out-of-fold log-odds and AUCs of the whole procedure (C chosen inside each outer training part)."""
    folds = group_folds(groups, y, k)
    oof = np.zeros(y.size)
    per_fold, cs = [], []
    for f in range(k):
        te = folds == f
        c = choose_c(x[~te], y[~te], groups[~te])
        cs.append(c)
        oof[te] = fit_logistic(x[~te], y[~te], c).logit(x[te])
        per_fold.append(roc_auc(oof[te].tolist(), y[te].tolist()))
    return {"folds": folds, "oof_logit": oof, "auc": roc_auc(oof.tolist(), y.tolist()),
            "auc_per_fold": per_fold, "c_per_fold": cs}


def single_feature_aucs(x: F64, y: I64) -> dict[str, float]:
    """Each feature's own ROC-AUC (orientation-free: max(auc, 1 - auc)), for the model card."""
    out = {}
    for i, name in enumerate(NAMES):
        a = roc_auc(x[:, i].tolist(), y.tolist()) or 0.5
        out[name] = round(max(a, 1 - a), 3)
    return out


# -- the document ---------------------------------------------------------------------------------------------

def _provenance_licence(datasets: Path) -> str:
    text = (datasets / PHISHING_DEV / "PROVENANCE.md").read_text(encoding="utf-8")
    line = next((ln.strip(" -") for ln in text.splitlines() if "licence" in ln.lower() or "license" in ln.lower()), "")
    return line


def train(datasets: str | Path, *, workdir: str | Path | None = None,
          on_progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train the behaviour model on the phishing dev graph and return its JSON document (with content hash)."""
    say = on_progress or (lambda _m: None)
    data = Path(datasets)
    td = training_data(data, workdir, say)
    if td.y.sum() == 0 or td.y.sum() == td.y.size:
        raise InputError("the training seeds have only one class; nothing to learn")
    say(f"nested grouped {FOLDS}-fold cross-validation over {td.y.size} seeds in {np.unique(td.groups).size} groups")
    use = [INDEX[f] for f in MODEL_FEATURES]
    xs = td.x[:, use]
    cv = nested_cv(xs, td.y, td.groups)
    cv_all = nested_cv(td.x, td.y, td.groups)
    c = choose_c(xs, td.y, td.groups)
    sub = fit_logistic(xs, td.y, c)
    k = len(NAMES)
    mean, scale, coef = np.zeros(k), np.ones(k), np.zeros(k)
    mean[use], scale[use], coef[use] = sub.mean, sub.scale, sub.coef
    fit = Fit(mean, scale, coef, sub.intercept, c)
    train_prior = float(td.y.mean())
    oof = cv["oof_logit"]
    # share of normal / bad seeds whose out-of-fold behaviour part (deployment prior) reaches 25 and 50
    shift = math.log(DEPLOY_PRIOR / (1 - DEPLOY_PRIOR)) - math.log(train_prior / (1 - train_prior))
    part = 100.0 / (1.0 + np.exp(-(oof + shift)))
    normal, bad = td.y == 0, td.y == 1
    doc: dict[str, Any] = {
        "format": MODEL_FORMAT,
        "kind": "logistic_regression",
        "features_version": FEATURES_VERSION,
        "features": list(NAMES),
        "feature_meanings": {f.name: f.meaning for f in FEATURES},
        "model_features": list(MODEL_FEATURES),
        "model": {
            "mean": [round(float(v), 10) for v in fit.mean], "scale": [round(float(v), 10) for v in fit.scale],
            "coef": [round(float(v), 10) for v in fit.coef], "intercept": round(fit.intercept, 10),
            "regularisation": {"penalty": "l2", "C": c, "grid": list(C_GRID), "chosen_by": "grouped CV AUC"},
            "train_prior": round(train_prior, 6), "deploy_prior": DEPLOY_PRIOR,
            "part": "100 * sigmoid(z + logit(deploy_prior) - logit(train_prior))",
        },
        "training": {
            "dataset": PHISHING_DEV,
            "target": "is_bad (Etherscan phish/hack or Kaggle fraud = 1, Kaggle normal = 0)",
            "seed_labels": "every label on a seed removed before the features were computed",
            "profile_for_roles": TRAIN_PROFILE,
            "files": td.files,
            "licences": {
                PHISHING_DEV: _provenance_licence(data),
                "labels": "the shared public label sources chainrisk evaluate imports (OFAC, Tether blacklist, "
                          "Etherscan snapshots, Spellbook, ScamSniffer, CryptoScamDB, MEW darklist; each folder's "
                          "PROVENANCE.md)",
            },
            **td.counts,
            "bad": int(td.y.sum()), "normal": int((td.y == 0).sum()), "groups": int(np.unique(td.groups).size),
        },
        "cv": {
            "method": f"nested grouped {FOLDS}-fold (seeds linked by a transfer or a shared non-service counterparty "
                      "stay in one fold; C chosen inside each training part)",
            "auc": round(float(cv["auc"]), 4) if cv["auc"] is not None else None,
            "auc_per_fold": [None if a is None else round(float(a), 4) for a in cv["auc_per_fold"]],
            "c_per_fold": cv["c_per_fold"],
            "all_features_auc": round(float(cv_all["auc"]), 4) if cv_all["auc"] is not None else None,
            "normal_part_ge_25": round(float((part[normal] >= 25).mean()), 4),
            "normal_part_ge_50": round(float((part[normal] >= 50).mean()), 4),
            "bad_part_ge_25": round(float((part[bad] >= 25).mean()), 4),
            "bad_part_ge_50": round(float((part[bad] >= 50).mean()), 4),
            "single_feature_auc": single_feature_aucs(td.x, td.y),
        },
    }
    doc["content_hash"] = content_hash(doc)
    return doc


def seeds_file(datasets: str | Path) -> list[dict[str, str]]:
    with (Path(datasets) / PHISHING_DEV / "seed_addresses.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


# -- measuring it on the dev graph (chainrisk evaluate) ---------------------------------------------------------

def _seed_scores(store: Store, run_id: str, addrs: Sequence[str]) -> dict[str, tuple[str | None, float]]:
    sel, _ = _axes_sql(store, run_id)
    rows = store.execute(
        f"""SELECT a.address, s.illicit_band, s.illicit_score FROM addresses a
            JOIN ({sel}) s ON s.address_id = a.id WHERE a.chain = 'ethereum' AND a.address IN (SELECT unnest($a))""",
        {"run": run_id, "a": list(addrs)}).fetchall()
    return {r[0]: (r[1], float(r[2] or 0.0)) for r in rows}


def _behaviour_row(scores: dict[str, tuple[str | None, float]], off: dict[str, tuple[str | None, float]],
                   addrs: Sequence[str], ys: Sequence[int]) -> dict[str, Any]:
    def rank(b: str | None) -> int:
        return BANDS.index(b) if b in BANDS else 0

    got = [scores.get(a, (None, 0.0)) for a in addrs]
    was = [off.get(a, (None, 0.0)) for a in addrs]
    n_bad = max(1, sum(ys))
    n_norm = max(1, len(ys) - sum(ys))

    def share(y: int, at: str) -> float:
        return sum(1 for (b, _), yy in zip(got, ys, strict=True) if yy == y and rank(b) >= BANDS.index(at)) / (
            n_bad if y else n_norm)

    def lifted(at: str) -> float:
        k = BANDS.index(at)
        return sum(1 for (b, _), (b0, _), yy in zip(got, was, ys, strict=True)
                   if yy == 0 and rank(b) >= k > rank(b0)) / n_norm

    return {"auc_illicit": roc_auc([s for _, s in got], list(ys)), "bad_at_high": share(1, "high"),
            "normal_at_high": share(0, "high"), "bad_at_medium": share(1, "medium"),
            "normal_at_medium": share(0, "medium"), "normal_lifted_to_medium": lifted("medium"),
            "normal_lifted_to_high": lifted("high")}


def behaviour_figures(store: Store, seeds: Sequence[dict[str, str]], profile: str,
                      off_run: str) -> tuple[dict[str, dict[str, Any]], float | None]:
    """The behaviour model on the phishing dev graph under ``profile``: rows ``off``, ``cv`` and ``shipped`` (see
    :class:`PhishingResult`) and the model's own nested grouped CV AUC. ``cv``: the seeds split into grouped folds
    (:mod:`chainrisk.answers.behaviour_train`); per fold a model is trained on the other folds' seeds (C chosen by
    grouped CV inside them) and the store is scored with it; each seed's figures come from the run whose model
    never saw its group."""
    import numpy as np

    from ..engine.behaviour import BehaviourModel, load_model, logit
    from ..engine.score import score

    addrs = [s["address"].lower() for s in seeds]
    ys = [int(s["is_bad"]) for s in seeds]
    off = _seed_scores(store, off_run, addrs)
    x, y, groups, kept = seed_rows(store, addrs, ys, TRAIN_PROFILE)
    use = [INDEX[f] for f in MODEL_FEATURES]
    folds = group_folds(groups, y)
    cv_scores: dict[str, tuple[str | None, float]] = {}
    k = len(NAMES)
    for f in sorted(set(folds.tolist())):
        tr = folds != f
        c = choose_c(x[tr][:, use], y[tr], groups[tr])
        fit = fit_logistic(x[tr][:, use], y[tr], c)
        mean, scale, coef = [0.0] * k, [1.0] * k, [0.0] * k
        for j, i in enumerate(use):
            mean[i], scale[i], coef[i] = float(fit.mean[j]), float(fit.scale[j]), float(fit.coef[j])
        prior = float(y[tr].mean())
        model = BehaviourModel(NAMES, np.array(mean), np.array(scale), np.array(coef), fit.intercept,
                               logit(DEPLOY_PRIOR) - logit(prior), f"cv-fold-{f}")
        run = score(store, profile=profile, behaviour=model, prepare_reads=False)
        got = _seed_scores(store, run.run_id, addrs)
        for i in np.flatnonzero(folds == f).tolist():
            a = kept[i]
            cv_scores[a] = got.get(a, (None, 0.0))
    shipped = _seed_scores(store, score(store, profile=profile, behaviour=load_model(),
                                        prepare_reads=False).run_id, addrs)
    ncv = nested_cv(x[:, use], y, groups)
    rows = {"off": _behaviour_row(off, off, addrs, ys), "cv": _behaviour_row(cv_scores, off, addrs, ys),
            "shipped": _behaviour_row(shipped, off, addrs, ys)}
    return rows, ncv["auc"]
