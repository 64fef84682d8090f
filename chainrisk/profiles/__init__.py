"""Jurisdiction risk profiles: category severities, band thresholds and propagation parameters, as TOML data.

Bundled: ``cn`` (mainland China 2025 rules) and ``fatf`` (general AML). ``load_profile`` takes a bundled name or
the path of a TOML file a bank copied and tuned. Unknown keys and categories are errors.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..taxonomy import BANDS, CATEGORIES, ILLICIT, LATER_CATEGORIES, VC_BUSINESS

ACTIONS = ("none", "review", "sever", "report", "sever_and_report")
NEVER = "never"
_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Propagation:
    max_hops: int = 6
    max_hops_vc: int = 4     # virtual-currency business is involvement: farther than this is the economy
    max_hops_out: int = 4    # destination of funds; the long K follows layering back to the source of funds
    hop_decay: float = 1.0
    dust_usd: float = 1.0
    hub_degree: int = 500
    min_share: float = 0.001
    stop_categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Axes:
    """Which categories make up each verdict axis (a category on neither counts only in the combined view)."""

    illicit: tuple[str, ...] = tuple(c for c in CATEGORIES if c in ILLICIT)
    vc_business: tuple[str, ...] = tuple(c for c in CATEGORIES if c in VC_BUSINESS)


@dataclass(frozen=True)
class Action:
    """Band thresholds (a band name, or ``never``) that turn the two verdicts into one action."""

    report_illicit_at: str = "high"
    review_illicit_at: str = "medium"
    sever_vc_at: str = NEVER
    review_vc_at: str = "medium"

    def decide(self, illicit_band: str, vc_band: str) -> str:
        def at(band: str, threshold: str) -> bool:
            return threshold != NEVER and BANDS.index(band) >= BANDS.index(threshold)

        report, sever = at(illicit_band, self.report_illicit_at), at(vc_band, self.sever_vc_at)
        if report and sever:
            return "sever_and_report"
        if report:
            return "report"
        if sever:
            return "sever"
        if at(illicit_band, self.review_illicit_at) or at(vc_band, self.review_vc_at):
            return "review"
        return "none"


@dataclass(frozen=True)
class Behaviour:
    """The behaviour part of the illicit verdict (the learned model, ``chainrisk/data/models/behaviour.json``)."""

    enabled: bool = True          # false: the model is not evaluated and the verdicts are graph and labels only
    alone_at_most: str = "medium"  # the highest band the behaviour part reaches without corroboration
    min_part: float = 5.0          # parts below this are no evidence (the model's deployment prior is 5%)
    corroborate_at: float = 20.0   # the part combines with illicit exposure/indicators (noisy-OR) from here
    model: str = ""                # a model file a bank trained ("" = the shipped one)


@dataclass(frozen=True)
class Alerts:
    """Which changes of a watched address raise an alert after a scoring run (see docs/monitoring.md)."""

    first_activity: bool = True           # a watched address shows its first activity
    verdict_change: bool = True           # its band changed on either axis, or its action changed
    label_change: bool = True             # a verdict change caused by a label added or ended (not by transfers)
    direct_exposure_usd: float = 1000.0   # new direct exposure at or above this many USD (0: off)
    direct_exposure_categories: tuple[str, ...] = ()   # () = the illicit axis
    counterparty_labelled: bool = True    # a direct counterparty got a label of a category with severity > 0


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    severity: dict[str, int]
    bands: dict[str, int]
    propagation: Propagation = field(default_factory=Propagation)
    source: str = ""
    axes: Axes = field(default_factory=Axes)
    action: Action = field(default_factory=Action)
    behaviour: Behaviour = field(default_factory=Behaviour)
    alerts: Alerts = field(default_factory=Alerts)

    def band(self, score: float) -> str:
        """The band of a 0-100 score."""
        out = "none"
        for b in BANDS[1:]:
            if score >= self.bands[b]:
                out = b
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description, "severity": dict(self.severity),
            "bands": dict(self.bands), "propagation": {
                **self.propagation.__dict__, "stop_categories": list(self.propagation.stop_categories)},
            "axes": {"illicit": list(self.axes.illicit), "vc_business": list(self.axes.vc_business)},
            "action": dict(self.action.__dict__),
            "behaviour": dict(self.behaviour.__dict__),
            "alerts": {**self.alerts.__dict__,
                       "direct_exposure_categories": list(self.alerts.direct_exposure_categories)},
        }


def available() -> list[str]:
    return sorted(p.stem for p in _DIR.glob("*.toml"))


def load_profile(name_or_path: str) -> Profile:
    """A bundled profile by name (``cn``, ``fatf``) or a TOML file by path."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        path = p
    else:
        path = _DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise InputError(f"unknown profile {name_or_path!r}; bundled: {', '.join(available())}, or give a .toml path")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise InputError(f"cannot read profile {path.name}: {e}") from None
    return _parse(data, path.name)


def _unknown(keys: Any, allowed: Any, where: str) -> None:
    extra = sorted(set(keys) - set(allowed))
    if extra:
        raise InputError(f"profile {where}: unknown key(s) {', '.join(extra)}; accepted: {', '.join(sorted(allowed))}")


def _parse(data: dict[str, Any], where: str) -> Profile:
    _unknown(data, {"name", "description", "severity", "bands", "propagation", "axes", "action", "behaviour", "alerts"}, where)
    sev = {c: 0 for c in LATER_CATEGORIES} | dict(data.get("severity", {}))
    _unknown(sev, CATEGORIES, f"{where} [severity]")
    missing = [c for c in CATEGORIES if c not in sev]
    if missing:
        raise InputError(f"profile {where} [severity]: missing {', '.join(missing)}")
    for c, v in sev.items():
        if not isinstance(v, int) or not 0 <= v <= 100:
            raise InputError(f"profile {where} [severity] {c} = {v!r}: must be an integer 0..100")
    bands = data.get("bands", {})
    _unknown(bands, BANDS[1:], f"{where} [bands]")
    if [bands.get(b) for b in BANDS[1:]] != sorted(bands.get(b, -1) for b in BANDS[1:]) or len(bands) != 4:
        raise InputError(f"profile {where} [bands]: give low <= medium <= high <= severe")
    prop = dict(data.get("propagation", {}))
    _unknown(prop, Propagation.__dataclass_fields__, f"{where} [propagation]")
    stops = tuple(prop.pop("stop_categories", ()))
    _unknown(stops, CATEGORIES, f"{where} [propagation] stop_categories")
    axes_d = dict(data.get("axes", {}))
    _unknown(axes_d, Axes.__dataclass_fields__, f"{where} [axes]")
    axes = {}
    for k, v in axes_d.items():
        if not isinstance(v, list):
            raise InputError(f"profile {where} [axes] {k}: give a list of categories")
        _unknown(v, CATEGORIES, f"{where} [axes] {k}")
        axes[k] = tuple(c for c in CATEGORIES if c in v)
    act = dict(data.get("action", {}))
    _unknown(act, Action.__dataclass_fields__, f"{where} [action]")
    for k, v in act.items():
        if v not in (*BANDS[1:], NEVER):
            raise InputError(f"profile {where} [action] {k} = {v!r}: give one of {', '.join((*BANDS[1:], NEVER))}")
    beh = dict(data.get("behaviour", {}))
    _unknown(beh, Behaviour.__dataclass_fields__, f"{where} [behaviour]")
    if not isinstance(beh.get("enabled", True), bool):
        raise InputError(f"profile {where} [behaviour] enabled: give true or false")
    if beh.get("alone_at_most", "medium") not in BANDS[1:]:
        raise InputError(f"profile {where} [behaviour] alone_at_most = {beh['alone_at_most']!r}: give one of "
                         f"{', '.join(BANDS[1:])}")
    for key in ("min_part", "corroborate_at"):
        mp = beh.get(key, 0.0)
        if isinstance(mp, bool) or not isinstance(mp, int | float) or not 0 <= mp <= 100:
            raise InputError(f"profile {where} [behaviour] {key} = {mp!r}: give a number 0..100")
    if not isinstance(beh.get("model", ""), str):
        raise InputError(f"profile {where} [behaviour] model: give a file path")
    alerts = _alerts(dict(data.get("alerts", {})), where)
    return Profile(
        name=str(data.get("name", where)), description=str(data.get("description", "")), severity=dict(sev),
        bands=dict(bands), propagation=Propagation(**prop, stop_categories=stops), source=where,
        axes=Axes(**axes), action=Action(**act), behaviour=Behaviour(**beh), alerts=alerts,
    )


def _alerts(d: dict[str, Any], where: str) -> Alerts:
    _unknown(d, Alerts.__dataclass_fields__, f"{where} [alerts]")
    for k, v in d.items():
        if k == "direct_exposure_usd":
            if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
                raise InputError(f"profile {where} [alerts] {k} = {v!r}: give a number of USD >= 0 (0: off)")
        elif k == "direct_exposure_categories":
            if not isinstance(v, list):
                raise InputError(f"profile {where} [alerts] {k}: give a list of categories")
            _unknown(v, CATEGORIES, f"{where} [alerts] {k}")
        elif not isinstance(v, bool):
            raise InputError(f"profile {where} [alerts] {k} = {v!r}: give true or false")
    if "direct_exposure_categories" in d:
        d["direct_exposure_categories"] = tuple(c for c in CATEGORIES if c in d["direct_exposure_categories"])
    if "direct_exposure_usd" in d:
        d["direct_exposure_usd"] = float(d["direct_exposure_usd"])
    return Alerts(**d)
