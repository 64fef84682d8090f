"""The behaviour features of a whole store, as a scoring run reads it: for training and evaluation (issue 12)."""

from __future__ import annotations

from typing import Any

from .behaviour import FeatureSet, address_features


def address_features_from_store(store: Any, profile: Any = "cn") -> FeatureSet:
    """:func:`address_features` of a store's transfers and labels, as a scoring run under ``profile`` reads them
    (ledger-derived labels included)."""
    from ..profiles import Profile, load_profile
    from .ledger import INFERRED_SOURCE, LEDGER_SOURCE, derive_ledger_labels
    from .model import Label, roles
    from .score import load_inputs

    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    inp = load_inputs(store)
    inp.labels.extend(Label(a, c, nm, conf, LEDGER_SOURCE if conf >= 100 else INFERRED_SOURCE)
                      for a, c, nm, conf, _ in derive_ledger_labels(store))
    return address_features(inp, roles(inp, prof))
