"""Published accuracy: the public evaluations behind ``docs/accuracy.md``.

    >>> import chainrisk
    >>> ev = chainrisk.evaluate(seeds=(7,), scale=0.05)       # the demo economy and, when present, the phishing graph
    >>> print(ev.to_markdown())

Two tests, each measured on data whose truth is known and never shown to the engine:

* **The demo economy's ground truth** (:func:`demo_figures`): per role of ``truth.csv`` (written by the demo
  generator), the share of the role's addresses at illicit >= high and >= medium, at vc_business >= medium and with
  the actions ``sever`` and ``report``, under each profile; medians over generator seeds. The economy is built by
  :mod:`chainrisk.demo.accuracy` (this module does not import the demo).
* **The phishing dev graph** (:func:`phishing_dev`): real Ethereum stablecoin transfers around 208 seed addresses
  (``stablecoin_transfers_phishing_dev`` of the shared datasets), scored with the shared public label sources after
  every label on a seed is removed; ROC-AUC of the illicit score for the seeds' ``is_bad``, the share of bad and of
  normal seeds at each band, and a cross-validated operating threshold (the only fitted parameter).

A run made by an engine without the two verdict axes (before issue 11) is measured too: its illicit and
vc_business columns are *derived* from the combined band (the combined band when its top category is on that axis,
else none) and the action is not available; the report says so.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

from ..errors import ChainriskError
from ..store import Store
from ..taxonomy import ILLICIT
from .lookup import BANDS, has_column

log = logging.getLogger(__name__)

PHISHING_DEV = "stablecoin_transfers_phishing_dev"
PROFILES = ("fatf", "cn")
VC = frozenset({"gambling", "exchange", "p2p_otc", "rwa_issuer", "stablecoin_issuer", "mining", "bridge", "defi",
                "rwa_investor"})
FOLDS = 5
NORMAL_BUDGET = 0.02     # the cross-validated threshold keeps at most this share of normal training seeds above it

# The shared public label sources the phishing evaluation imports: (format, files under the datasets folder, options).
LABEL_SOURCES: list[tuple[str, list[str], dict[str, Any]]] = [
    ("ofac-xml", ["ofac_sdn/sdn_advanced_digital_currency_2025-11-19.xml"], {}),
    ("list", ["ofac_sdn/lists_2024-09-27_0xB10C/sanctioned_addresses_ETH.txt"],
     {"category": "sanctions", "chain": "ethereum", "source": "ofac-eth-list-2024-09"}),
    ("tether-csv", ["tether_usdt_blacklist/usdt_blacklist_added_events.csv"], {}),
    ("etherscan", ["etherscan_label_snapshots/etherscan_account_labels_2023-06.csv"], {}),
    ("etherscan", ["etherscan_label_snapshots/etherscan_exchange_label_2022-05.csv"], {}),
    ("spellbook", ["spellbook_labels/cex_evm_addresses.csv"], {}),
    ("spellbook", ["spellbook_labels/bridges_ethereum.csv"], {}),
    ("spellbook", ["spellbook_labels/stablecoin_contracts.csv"], {}),
    ("spellbook", ["spellbook_labels/rwa_tokens_ethereum.csv"], {}),
    ("spellbook", ["spellbook_labels/ofac_sanctioned_ethereum_labels.csv"], {}),
    ("scamsniffer", ["scamsniffer/address.json"], {}),
    ("cryptoscamdb", ["cryptoscamdb/cryptoscamdb_addresses.csv"], {}),
    ("mew-darklist", ["mew_darklist/addresses-darklist.json"], {}),
    ("bundled", [], {}),
]

# The targets, checked on the demo economy: (profile, group, roles, measure, comparison, bound).
# Roles not in the economy are skipped; a group with none of its roles present is "not measured".
ACTORS = ("collector", "layering_hop", "mule", "mixer_recipient", "sanctioned_payer")
NOT_ILLICIT = ("victim", "dust_receiver", "pre_taint_payee", "merchant", "supplier", "dex_user", "p2p_user")
TARGETS: tuple[tuple[str, str, tuple[str, ...], str, str, float], ...] = (
    ("fatf", "illicit actors", ACTORS, "illicit_high", ">=", 0.95),
    ("fatf", "customers who are not illicit actors", NOT_ILLICIT, "illicit_high", "<=", 0.005),
    ("fatf", "victims", ("victim",), "illicit_high", "<=", 0.02),
    ("cn", "exchange customers and RWA investors", ("exchange_customer", "rwa_investor"), "sever_low", ">=", 0.95),
)
MEASURES = ("combined_high", "illicit_high", "illicit_medium", "vc_medium", "sever", "report", "sever_low")


def default_datasets() -> Path:
    """The shared datasets folder: ``$CHAINRISK_DATASETS``, else ``../shared/datasets`` from the current folder."""
    return Path(os.environ.get("CHAINRISK_DATASETS") or Path("..") / "shared" / "datasets")


def has_axes(store: Store) -> bool:
    """Whether the store's runs can carry the two verdict axes (an engine before issue 11 did not write them)."""
    return has_column(store, "scores", "illicit_band") and has_column(store, "scores", "action")


def _rank_sql(col: str) -> str:
    return "CASE " + col + " " + " ".join(f"WHEN '{b}' THEN {i}" for i, b in enumerate(BANDS)) + " END"


def _axes_sql(store: Store, run_id: str) -> tuple[str, bool]:
    """SQL of (address_id, band, illicit_band, vc_band, action, illicit_score, score) for ``run_id``; the second
    item says whether the axes were written by the engine (True) or derived from the combined band (False)."""
    axes = False
    if has_axes(store):
        rows = store.execute("SELECT count(*) FILTER (WHERE illicit_band IS NOT NULL) FROM scores WHERE run_id = ?",
                             [run_id]).fetchall()
        axes = bool(rows and rows[0][0])
    if axes:
        return ("SELECT address_id, band, illicit_band, vc_band, action, illicit_score, score FROM scores"
                " WHERE run_id = $run"), True
    ill = ", ".join(f"'{c}'" for c in sorted(ILLICIT))
    vc = ", ".join(f"'{c}'" for c in sorted(VC))
    return (f"SELECT address_id, band,"
            f" CASE WHEN top_category IN ({ill}) THEN band ELSE 'none' END AS illicit_band,"
            f" CASE WHEN top_category IN ({vc}) THEN band ELSE 'none' END AS vc_band, NULL AS action,"
            f" CASE WHEN top_category IN ({ill}) THEN score ELSE 0 END AS illicit_score, score"
            " FROM scores WHERE run_id = $run"), False


# -- the demo economy ---------------------------------------------------------------------------------------------


@dataclass
class RoleFigures:
    role: str
    addresses: int          # of the role in truth.csv (scored or not)
    labelled: int           # of them with a public label in the economy
    scored: int             # of them scored in the run (the denominator of the shares)
    combined_high: float    # share at the combined band >= high (what one band used to say)
    illicit_high: float
    illicit_medium: float
    vc_medium: float
    sever: float | None     # action sever or sever_and_report (None: the run has no actions)
    report: float | None    # action report or sever_and_report
    sever_low: float | None  # action sever with the illicit band at most low (severed, not suspected)


def demo_figures(store: Store, run_id: str, truth_csv: str | os.PathLike[str]) -> tuple[list[RoleFigures], bool]:
    """Per role of the ground truth, the shares of :class:`RoleFigures` in run ``run_id``; and whether the run has
    the engine's two axes (else they are derived from the combined band). ``exchange_customer`` is added as a
    role: a p2p user or merchant that paid an exchange deposit or hot wallet (from the truth and the transfers)."""
    import pyarrow.csv as pacsv

    truth = pacsv.read_csv(str(truth_csv))
    sel, axes = _axes_sql(store, run_id)
    with store.registered(_eval_truth=truth):
        rows = store.execute(
            f"""
            WITH t AS (SELECT t.address, t.role, CAST(t.labelled AS BOOLEAN) AS labelled, a.id
                       FROM _eval_truth t LEFT JOIN addresses a ON a.chain = 'ethereum' AND a.address = t.address
                       WHERE t.role NOT IN ('null', 'token_contract')),
            ex AS (SELECT id FROM t WHERE role IN ('exchange_deposit', 'exchange_hot')),
            cust AS (SELECT DISTINCT t.address, 'exchange_customer' AS role, t.labelled, t.id FROM t
                     JOIN transfers x ON x.from_id = t.id JOIN ex ON ex.id = x.to_id
                     WHERE t.role IN ('p2p_user', 'merchant')),
            r AS (SELECT address, role, labelled, id FROM t UNION ALL SELECT * FROM cust),
            s AS ({sel})
            SELECT r.role, count(*), count(*) FILTER (WHERE r.labelled), count(s.address_id),
                   count(*) FILTER (WHERE {_rank_sql('s.band')} >= 3),
                   count(*) FILTER (WHERE {_rank_sql('s.illicit_band')} >= 3),
                   count(*) FILTER (WHERE {_rank_sql('s.illicit_band')} >= 2),
                   count(*) FILTER (WHERE {_rank_sql('s.vc_band')} >= 2),
                   count(*) FILTER (WHERE s.action IN ('sever', 'sever_and_report')),
                   count(*) FILTER (WHERE s.action IN ('report', 'sever_and_report')),
                   count(*) FILTER (WHERE s.action = 'sever' AND {_rank_sql('s.illicit_band')} <= 1)
            FROM r LEFT JOIN s ON s.address_id = r.id
            GROUP BY r.role ORDER BY r.role
            """, {"run": run_id}).fetchall()
    out = []
    for role, n, lab, scored, hi, ill_hi, ill_med, vc_med, sever, report, sever_low in rows:
        d = max(1, scored)
        out.append(RoleFigures(role, n, lab, scored, hi / d, ill_hi / d, ill_med / d, vc_med / d,
                               sever / d if axes else None, report / d if axes else None,
                               sever_low / d if axes else None))
    return out, axes


@dataclass
class DemoRun:
    """One generated economy scored under several profiles (made by :mod:`chainrisk.demo.accuracy`)."""

    seed: int
    scale: float
    db: str
    truth_csv: str
    runs: dict[str, str]        # profile -> run id


@dataclass
class DemoResult:
    seeds: list[int]
    scale: float
    axes: bool                                        # the engine wrote the two axes (else derived)
    roles: dict[str, list[dict[str, Any]]]            # profile -> per role, medians over seeds
    targets: list[dict[str, Any]]
    seconds: float = 0.0


def _group_share(per_role: dict[str, dict[str, Any]], roles: Sequence[str], measure: str) -> float | None:
    """The share of ``measure`` over the scored addresses of ``roles`` pooled (None when none is present)."""
    num = den = 0.0
    for role in roles:
        f = per_role.get(role)
        if f is None or f[measure] is None or not f["scored"]:
            continue
        num += f[measure] * f["scored"]
        den += f["scored"]
    return num / den if den else None


def demo_result(runs: Sequence[DemoRun], open_store: Callable[[str], Store], seconds: float = 0.0) -> DemoResult:
    """Figures over the economies ``runs`` (one per seed): per profile and role the median over seeds of each
    share, and the issue's targets (pooled over the target group's roles, median over seeds)."""
    per_seed: list[dict[str, dict[str, dict[str, Any]]]] = []
    axes = True
    for dr in runs:
        with open_store(dr.db) as st:
            figs: dict[str, dict[str, dict[str, Any]]] = {}
            for profile, run_id in dr.runs.items():
                rf, ax = demo_figures(st, run_id, dr.truth_csv)
                axes = axes and ax
                figs[profile] = {f.role: asdict(f) for f in rf}
            per_seed.append(figs)
    profiles = list(runs[0].runs) if runs else []
    roles_out: dict[str, list[dict[str, Any]]] = {}
    for p in profiles:
        names = sorted({r for s in per_seed for r in s[p]})
        table = []
        for role in names:
            got = [s[p][role] for s in per_seed if role in s[p]]
            row: dict[str, Any] = {"role": role}
            for k in ("addresses", "labelled", "scored"):
                row[k] = int(median(g[k] for g in got))
            for m in MEASURES:
                vals = [g[m] for g in got if g[m] is not None]
                row[m] = median(vals) if vals else None
            table.append(row)
        roles_out[p] = table
    targets = []
    for profile, group, roles, measure, op, bound in TARGETS:
        if profile not in profiles:
            continue
        vals = [v for s in per_seed if (v := _group_share(s[profile], roles, measure)) is not None]
        present = sorted({r for s in per_seed for r in roles if r in s[profile]})
        value = median(vals) if vals else None
        met = None if value is None else (value >= bound if op == ">=" else value <= bound)
        targets.append({"profile": profile, "group": group, "roles": present, "measure": measure, "op": op,
                        "bound": bound, "value": value, "met": met})
    return DemoResult([r.seed for r in runs], runs[0].scale if runs else 0.0, axes, roles_out, targets, seconds)


# -- the phishing dev graph -------------------------------------------------------------------------------------


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """ROC-AUC by the rank (Mann-Whitney) formula; tied scores get their average rank. None without both classes."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    n_pos = sum(labels)
    n_neg = len(labels) - n_pos
    if not n_pos or not n_neg:
        return None
    r_pos = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    return (r_pos - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def folds(keys: Sequence[str], labels: Sequence[int], k: int = FOLDS) -> list[int]:
    """A deterministic stratified fold number per item: within each class, items ordered by the SHA-256 of their
    key and dealt round-robin (no random state, so the same seeds always fall in the same folds)."""
    out = [0] * len(keys)
    for cls in (0, 1):
        idx = sorted((i for i, y in enumerate(labels) if y == cls),
                     key=lambda i: hashlib.sha256(keys[i].encode()).hexdigest())
        for n, i in enumerate(idx):
            out[i] = n % k
    return out


def fit_threshold(scores: Sequence[float], labels: Sequence[int], budget: float = NORMAL_BUDGET) -> float:
    """The lowest score threshold (flag = score >= threshold) that flags at most ``budget`` of the normal items."""
    normal = sorted((s for s, y in zip(scores, labels, strict=True) if not y), reverse=True)
    allowed = int(budget * len(normal))
    cands = [*sorted(set(scores)), float("inf")]
    for t in cands:
        if sum(1 for s in normal if s >= t) <= allowed:
            return t
    return float("inf")


def cross_validated_threshold(keys: Sequence[str], scores: Sequence[float], labels: Sequence[int],
                              k: int = FOLDS) -> dict[str, Any]:
    """k-fold cross-validation of :func:`fit_threshold`: fitted on k-1 folds, counted on the held-out fold."""
    f = folds(keys, labels, k)
    tp = fp = 0
    thresholds = []
    for fold in range(k):
        tr = [i for i in range(len(keys)) if f[i] != fold]
        te = [i for i in range(len(keys)) if f[i] == fold]
        t = fit_threshold([scores[i] for i in tr], [labels[i] for i in tr])
        thresholds.append(t)
        tp += sum(1 for i in te if labels[i] and scores[i] >= t)
        fp += sum(1 for i in te if not labels[i] and scores[i] >= t)
    n_pos = sum(labels)
    n_neg = len(labels) - n_pos
    return {"folds": k, "normal_budget": NORMAL_BUDGET, "thresholds": thresholds,
            "bad_flagged": tp / n_pos if n_pos else None, "normal_flagged": fp / n_neg if n_neg else None}


@dataclass
class PhishingResult:
    profile: str
    axes: bool                      # scored by an engine with the two axes (else: combined score, derived band)
    seeds: int
    bad: int
    normal: int
    transfers: int
    active_labels: int
    seed_labels_removed: int
    seeds_that_had_labels: int
    auc_illicit: float | None
    auc_combined: float | None
    bands: dict[str, dict[str, int]]      # illicit band -> {"bad": n, "normal": n}
    bad_at_high: float
    normal_at_high: float
    bad_at_medium: float
    normal_at_medium: float
    cross_validated: dict[str, Any]
    label_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # the behaviour model: rows "off" (graph and labels), "cv" (each seed scored by a model trained without its
    # group: the honest figure) and "shipped" (the shipped model, trained on these seeds: optimistic); each with
    # auc_illicit, bad/normal at >= high and >= medium, and normal seeds lifted to >= medium / >= high vs "off"
    behaviour: dict[str, dict[str, Any]] = field(default_factory=dict)
    behaviour_model_cv_auc: float | None = None    # the model alone, nested grouped CV (the model file's figure)


def _load_labels(store: Store, datasets: Path) -> list[str]:
    from ..labels import import_labels

    errors = []
    for fmt, files, opts in LABEL_SOURCES:
        try:
            import_labels(store, [datasets / f for f in files], fmt, **opts)
        except ChainriskError as e:
            errors.append(f"{','.join(files) or fmt} ({fmt}): {e}")
    return errors


def prepare_phishing_store(store: Store, datasets: Path) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """Load the phishing dev transfers and the shared public labels into ``store``, then remove every label on a
    seed (the score must not be a lookup of the seed list). Returns the seeds and the counts."""
    from ..ingest.file import ingest_file

    dev = datasets / PHISHING_DEV
    with (dev / "seed_addresses.csv").open(encoding="utf-8") as f:
        seeds = list(csv.DictReader(f))
    ingest_file(store, [dev / "stablecoin_transfers.csv"], format="csv",
                mapping={"block_time": "block_time_utc", "value": "value_raw"})
    errors = _load_labels(store, datasets)
    addrs = sorted({s["address"].lower() for s in seeds})
    store.execute("SELECT 1").fetchall()
    removed = store.execute("SELECT count(*), count(DISTINCT address) FROM labels WHERE chain = 'ethereum'"
                            " AND address IN (SELECT unnest($a))", {"a": addrs}).fetchall()[0]
    store.execute("DELETE FROM labels WHERE chain = 'ethereum' AND address IN (SELECT unnest($a))", {"a": addrs})
    (n_labels,) = store.execute("SELECT count(*) FROM active_labels").fetchall()[0]
    (n_transfers,) = store.execute("SELECT count(*) FROM transfers").fetchall()[0]
    return seeds, {"seed_labels_removed": int(removed[0]), "seeds_that_had_labels": int(removed[1]),
                   "active_labels": int(n_labels), "transfers": int(n_transfers), "label_errors": errors}


def phishing_figures(store: Store, run_id: str, seeds: Sequence[dict[str, str]], profile: str,
                     counts: dict[str, Any]) -> PhishingResult:
    """The figures of run ``run_id`` for the seeds' ``is_bad``."""
    sel, axes = _axes_sql(store, run_id)
    addrs = [s["address"].lower() for s in seeds]
    rows = store.execute(
        f"""SELECT a.address, s.illicit_band, s.illicit_score, s.score FROM addresses a
            JOIN ({sel}) s ON s.address_id = a.id WHERE a.chain = 'ethereum' AND a.address IN (SELECT unnest($a))""",
        {"run": run_id, "a": addrs}).fetchall()
    by = {r[0]: r for r in rows}
    ys, ill, comb = [], [], []
    bands = {b: {"bad": 0, "normal": 0} for b in (*BANDS, "unknown")}
    for s, a in zip(seeds, addrs, strict=True):
        r = by.get(a)
        y = int(s["is_bad"])
        ys.append(y)
        ill.append(float(r[2] or 0.0) if r else 0.0)
        comb.append(float(r[3] or 0.0) if r else 0.0)
        bands[(r[1] if r else None) or "unknown"]["bad" if y else "normal"] += 1
    n_bad, n_norm = sum(ys), len(ys) - sum(ys)

    def share(which: str, at: str) -> float:
        n = sum(v[which] for b, v in bands.items() if b in BANDS and BANDS.index(b) >= BANDS.index(at))
        return n / max(1, n_bad if which == "bad" else n_norm)

    return PhishingResult(
        profile=profile, axes=axes, seeds=len(seeds), bad=n_bad, normal=n_norm, transfers=counts["transfers"],
        active_labels=counts["active_labels"], seed_labels_removed=counts["seed_labels_removed"],
        seeds_that_had_labels=counts["seeds_that_had_labels"], auc_illicit=roc_auc(ill, ys),
        auc_combined=roc_auc(comb, ys), bands=bands, bad_at_high=share("bad", "high"),
        normal_at_high=share("normal", "high"), bad_at_medium=share("bad", "medium"),
        normal_at_medium=share("normal", "medium"), cross_validated=cross_validated_threshold(addrs, ill, ys),
        label_errors=list(counts["label_errors"]))


def phishing_dev(datasets: str | os.PathLike[str], profiles: Iterable[str] = PROFILES, *,
                 workdir: str | os.PathLike[str] | None = None,
                 behaviour: Callable[..., Any] | None = None) -> list[PhishingResult]:
    """Score the phishing dev graph (seed labels removed) under each profile and measure it (see the module doc).

    The store is built in ``workdir`` (default: a temporary folder, removed afterwards). ``behaviour``: how to
    measure the behaviour model (``chainrisk.answers.behaviour_train.behaviour_figures``; None: not measured)."""
    from ..engine.score import score

    data = Path(datasets)
    out = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp, Store(Path(tmp) / "phishing_dev.duckdb") as st:
        t0 = time.perf_counter()
        seeds, counts = prepare_phishing_store(st, data)
        load_s = time.perf_counter() - t0
        for p in profiles:
            t = time.perf_counter()
            run = score(st, profile=p, behaviour=False)   # graph and labels; the model's figures apart
            res = phishing_figures(st, run.run_id, seeds, p, counts)
            if behaviour is not None:
                res.behaviour, res.behaviour_model_cv_auc = behaviour(st, seeds, p, run.run_id)
            res.seconds = round(time.perf_counter() - t + load_s, 1)   # each profile: loading + its scoring
            out.append(res)
    return out


# -- the whole evaluation ---------------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """Everything :func:`chainrisk.evaluate` measured, with what could not be measured said in ``notes``."""

    generated_at: str
    chainrisk_version: str
    demo: DemoResult | None
    phishing: list[PhishingResult]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_markdown(self) -> str:
        from .accuracy_doc import render

        return render(self)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chainrisk")
    except PackageNotFoundError:
        return "0.0.0+local"


def evaluate(demo_runs: Sequence[DemoRun] | None, datasets: str | os.PathLike[str] | None = None, *,
             profiles: Sequence[str] = PROFILES, demo_seconds: float = 0.0,
             workdir: str | os.PathLike[str] | None = None,
             behaviour: Callable[..., Any] | None = None) -> Evaluation:
    """Measure ``demo_runs`` (economies already generated and scored) and the phishing dev graph under
    ``datasets`` (default :func:`default_datasets`); an absent folder is said in one sentence in ``notes``."""
    notes: list[str] = []
    demo = demo_result(demo_runs, lambda p: Store(p, read_only=True), demo_seconds) if demo_runs else None
    data = Path(datasets) if datasets is not None else default_datasets()
    phishing: list[PhishingResult] = []
    if (data / PHISHING_DEV).is_dir():
        phishing = phishing_dev(data, profiles, workdir=workdir, behaviour=behaviour)
    else:
        notes.append(f"The phishing dev graph was not evaluated: {data / PHISHING_DEV} is not present (the shared "
                     "datasets ship beside the project in CI, not in a user's clone).")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return Evaluation(when, _version(), demo, phishing, notes)
