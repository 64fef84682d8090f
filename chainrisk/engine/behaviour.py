"""The learned behaviour model, shipped as data and evaluated in numpy (issue 12).

The model is a regularised logistic regression over the standardised features of
:mod:`chainrisk.engine.features`, trained offline by ``chainrisk model train`` and shipped as JSON in the package
(``chainrisk/data/models/behaviour.json``): coefficients, standardisation, the feature-definitions version, the
training data's provenance (files, SHA-256 hashes, licences), the cross-validated metrics and a content hash over
all of it. No pickle and no ML library at run time: :meth:`BehaviourModel.evaluate` is a dot product.

The behaviour part of an address (0..100) is ``100 * sigmoid(z + prior_shift)``: ``z`` the model's log-odds on the
training data, ``prior_shift = logit(deploy_prior) - logit(train_prior)`` moves it from the training set's share of
bad addresses (about 70% on the phishing dev graph) to a screening population's (``deploy_prior``, in the file), so
the number reads as "how likely, for an address a bank meets, to be illicit from its behaviour alone". How far that
part alone may go (``medium`` by default) and whether it counts at all are the profile's ``[behaviour]`` section.
Each feature's contribution to ``z`` is ``coef_j * (x_j - mean_j) / scale_j``; answers show the largest ones.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..data import DATA_DIR
from ..errors import InputError
from .features import FEATURES, FEATURES_VERSION, NAMES

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

MODEL_FORMAT = "chainrisk-behaviour-model/1"
MODEL_PATH = DATA_DIR / "models" / "behaviour.json"
TOP = 3   # contributions shown per address
# A scoring run evaluates the model only when its data cover at least this many days: in a shorter window every
# wallet looks short-lived (the activity span is the model's strongest feature); the run's params say it was skipped.
MIN_WINDOW_DAYS = 90


def content_hash(doc: dict[str, Any]) -> str:
    """SHA-256 of the model document's canonical JSON without its ``content_hash`` key."""
    body = {k: v for k, v in doc.items() if k != "content_hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


@dataclass(frozen=True)
class BehaviourModel:
    features: tuple[str, ...]
    mean: F64
    scale: F64
    coef: F64
    intercept: float
    prior_shift: float = 0.0
    content_hash: str = ""
    doc: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def id(self) -> str:
        """A short name of the model: its content hash's first 12 hex digits."""
        return self.content_hash[:12]

    def standardise(self, x: F64) -> F64:
        return (x - self.mean) / self.scale

    def logit(self, x: F64) -> F64:
        """The model's log-odds on the training data, one per row of ``x`` (rows: addresses, columns: FEATURES)."""
        return np.asarray(self.standardise(x) @ self.coef + self.intercept, np.float64)

    def evaluate(self, x: F64) -> F64:
        """The behaviour part 0..100 of each row (the deployment prior applied)."""
        z = self.logit(x) + self.prior_shift
        return np.asarray(100.0 / (1.0 + np.exp(-np.clip(z, -60, 60))), np.float64)

    def contributions(self, x: F64, top: int = TOP) -> tuple[I64, F64]:
        """Per row the ``top`` features that push the log-odds up most (index into FEATURES, contribution),
        largest first; ties by feature order. Contributions <= 0 are returned with index -1 (nothing pushes up)."""
        c = self.standardise(x) * self.coef
        k = min(top, c.shape[1])
        # stable order: larger contribution first, then the lower feature index
        o = np.argsort(-c, axis=1, kind="stable")[:, :k]
        v = np.take_along_axis(c, o, axis=1)
        return np.where(v > 0, o, -1).astype(np.int64), np.where(v > 0, v, 0.0)


def from_doc(doc: dict[str, Any], where: str = "behaviour model") -> BehaviourModel:
    """A :class:`BehaviourModel` from its JSON document, checked: format, feature definitions, hash."""
    if doc.get("format") != MODEL_FORMAT:
        raise InputError(f"{where}: not a chainrisk behaviour model (format {doc.get('format')!r}, "
                         f"expected {MODEL_FORMAT!r})")
    if doc.get("features_version") != FEATURES_VERSION or tuple(doc.get("features", ())) != NAMES:
        raise InputError(f"{where}: trained on feature definitions {doc.get('features_version')!r}, this chainrisk "
                         f"computes {FEATURES_VERSION!r}; retrain it with 'chainrisk model train'")
    h = content_hash(doc)
    if doc.get("content_hash") != h:
        raise InputError(f"{where}: content hash does not match its contents (edited by hand?); retrain it")
    m = doc["model"]
    k = len(FEATURES)
    arrs = [np.asarray(m[key], np.float64) for key in ("mean", "scale", "coef")]
    if any(a.shape != (k,) for a in arrs) or not all(np.isfinite(a).all() for a in arrs) or (arrs[1] <= 0).any():
        raise InputError(f"{where}: coefficients or standardisation are malformed")
    shift = logit(float(m["deploy_prior"])) - logit(float(m["train_prior"]))
    return BehaviourModel(NAMES, arrs[0], arrs[1], arrs[2], float(m["intercept"]), shift, h, doc)


def load_model(path: str | Path | None = None) -> BehaviourModel:
    """The shipped model (default) or a model file a bank trained."""
    p = Path(path) if path is not None else MODEL_PATH
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"behaviour model {p.name} not found; run 'chainrisk model train' or give its path") from None
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read behaviour model {p.name}: {e}") from None
    return from_doc(doc, p.name)


# -- features of a scoring run's inputs ------------------------------------------------------------------------

@dataclass
class FeatureSet:
    """The feature matrix of every address id (< n) and what it was computed from."""

    x: F64
    src: I64
    dst: I64
    exchange: npt.NDArray[np.bool_]
    service: npt.NDArray[np.bool_]
    inert: npt.NDArray[np.bool_]


def address_features(inp: Any, r: Any) -> FeatureSet:
    """Features of every address of a scoring run's inputs (:class:`~chainrisk.engine.model.Inputs`) given its
    roles (:class:`~chainrisk.engine.model.Roles`: labels, deposit addresses, hubs). The one entry point used by
    scoring and by training."""
    from .features import compute_features, service_masks

    labs = [(lab.address_id, lab.category) for lab in inp.labels if not r.inert[lab.address_id]]
    exchange, service = service_masks(inp.n, labs, r.deposits, r.hub)
    x = compute_features(inp.src, inp.dst, inp.rank, inp.usd, inp.time, inp.n, exchange, service)
    return FeatureSet(x, inp.src, inp.dst, exchange, service, r.inert)


# -- the behaviour part of a scoring run ------------------------------------------------------------------------

@dataclass
class BehaviourPart:
    """Per address id (< n): the model's part 0..100, the part that counts as evidence, and its top contributions
    (feature index or -1, contribution to the log-odds, the feature's value in natural units)."""

    part: F64
    counted: F64
    top_idx: I64
    top_contrib: F64
    top_value: F64
    model: BehaviourModel
    min_part: float


def natural(x: F64, idx: I64) -> F64:
    """Feature values in natural units (counts, USD, hours, days; the log1p undone) for feature indices ``idx``."""
    logs = np.array([f.transform == "log1p" for f in FEATURES] + [False])
    return np.where(logs[idx], np.expm1(x), x)


def behaviour_part(inp: Any, r: Any, profile: Any, model: BehaviourModel) -> BehaviourPart:
    """The behaviour part of every address of a scoring run. Inert addresses and stop nodes (services, hubs,
    deposit addresses: the model learned from wallets, not services) get no part."""
    fs = address_features(inp, r)
    part = model.evaluate(fs.x)
    part[r.inert | r.stop] = 0.0
    used = np.flatnonzero(model.coef != 0)
    sub = BehaviourModel(tuple(model.features[i] for i in used), model.mean[used], model.scale[used],
                         model.coef[used], model.intercept)
    ti, tc = sub.contributions(fs.x[:, used])
    idx = np.where(ti >= 0, used[np.maximum(ti, 0)], -1)
    val = np.take_along_axis(fs.x, np.maximum(idx, 0), axis=1)
    val = np.where(idx >= 0, natural(val, idx), 0.0)
    mp = float(profile.behaviour.min_part)
    return BehaviourPart(part, np.where(part >= mp, part, 0.0), idx, tc, val, model, mp)


def alone_cap(profile: Any) -> float:
    """The largest score the behaviour part reaches alone: just below the band above ``alone_at_most``."""
    from ..taxonomy import BANDS

    i = BANDS.index(profile.behaviour.alone_at_most)
    return 100.0 if i + 1 >= len(BANDS) else float(profile.bands[BANDS[i + 1]]) - 0.01


CORROBORATED_KINDS = (1, 2, 4)   # exposure, indicator, both (not an own label, not a possible victim)
KIND_BEHAVIOUR = 6               # the illicit verdict rests on the behaviour part alone


def combine(ill: dict[str, Any], bp: BehaviourPart, profile: Any, corroborate: Any) -> None:
    """Fold the behaviour part into the illicit axis ``ill`` (arrays val, kind, conf, cat, beh; changed in place).

    With an illicit exposure or indicator (kinds 1, 2, 4) and a part of at least the profile's ``corroborate_at``
    the two are independent evidence: a noisy-OR (``beh`` = 2). Otherwise the part alone, capped at the profile's ``alone_at_most`` band, replaces a smaller
    value (kind 6, confidence low, ``beh`` = 1). Own labels and possible victims keep their value unless the
    part alone is larger. ``corroborate``: the engine's noisy-OR (``chainrisk.engine.model.corroborate``)."""
    b = bp.counted
    v = ill["val"]
    corr = (b >= max(float(profile.behaviour.corroborate_at), 1e-9)) & (v > 0) & np.isin(ill["kind"], CORROBORATED_KINDS)
    capped = np.minimum(b, alone_cap(profile))
    alone = (b > 0) & ~corr & (capped > v)
    ill["val"] = np.where(corr, corroborate(v, b), np.where(alone, capped, v))
    ill["beh"][corr] = 2
    ill["beh"][alone] = 1
    ill["kind"][alone] = KIND_BEHAVIOUR
    ill["conf"][alone] = 1
    ill["cat"][alone] = -1
    for k in ("dir", "share", "hop", "inf"):
        ill[k][alone] = 0
    ill["lab"][alone] = -1


def columns(bp: BehaviourPart | None, act: I64) -> dict[str, Any]:
    """The scores columns of the behaviour part for the active addresses ``act`` (None: the part is off)."""
    m = act.size
    if bp is None:
        return {"behaviour_score": np.full(m, np.nan), "behaviour_top": None}
    names = np.array([*NAMES, None], dtype=object)
    idx = bp.top_idx[act]
    return {"behaviour_score": np.floor(bp.part[act] * 100.0 + 0.5) / 100.0,
            "behaviour_top": (names[np.where(idx >= 0, idx, len(NAMES))], bp.top_value[act], bp.top_contrib[act],
                              idx)}


# -- words ----------------------------------------------------------------------------------------------------

_MEANING = {f.name: f for f in FEATURES}


def value_text(feature: str, value: float) -> str:
    """A feature's value in words and units (``span_days`` 0.5 -> '0.5 days')."""
    f = _MEANING.get(feature)
    if f is None:
        return f"{value:g}"
    if f.transform == "0/1":
        return "yes" if value >= 0.5 else "no"
    if "share" in f.transform:
        return f"{value * 100:.0f}%"
    unit = " days" if feature.endswith("_days") else " hours" if feature.endswith("_hours") else (
        " USD" if feature.endswith("_usd") else "")
    return f"{value:,.1f}{unit}" if value < 100 else f"{value:,.0f}{unit}"


def behaves_like(score: float | None, top: list[dict[str, Any]], min_part: float = 5.0) -> str | None:
    """The "behaves like ..." sentence of an answer (None: the run had no behaviour part)."""
    if score is None:
        return None
    feats = "; ".join(f"{t['feature'].replace('_', ' ')} {value_text(t['feature'], t['value'])}" for t in top)
    if score >= min_part:
        return (f"behaves like the illicit addresses the behaviour model learned from (part {score:.1f} of 100"
                + (f"; most telling: {feats})" if feats else ")"))
    return (f"behaves like an ordinary address (part {score:.1f} of 100, at or below the {min_part:g}% base rate; "
            "this does not clear it)")
