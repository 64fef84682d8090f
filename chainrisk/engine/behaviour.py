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
