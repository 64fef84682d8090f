"""The demo: a simulated stablecoin economy run through the whole pipeline, measured against its ground truth.

    >>> from chainrisk.demo.run import run_demo
    >>> summary = run_demo("chainrisk-demo.duckdb", scale=0.05)
    >>> print(summary.to_text())

Stages: generate (:func:`chainrisk.demo.economy.generate_economy`) -> ingest (the transfers written as a BigQuery-shaped
Parquet file and imported with :func:`chainrisk.ingest_file`) -> labels (the public labels written as a generic
label CSV and imported with ``chainrisk.labels.import_labels``) -> score -> screen (the bank's declared-address
file) -> evaluate (the scoring run against the ground truth) -> explained lookups.

The generated files (transfers, labels, declared addresses, ground truth) are kept next to the store in
``<db>.files/`` so analysts can reopen them.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..answers.lookup import lookup
from ..answers.screen import screen
from ..engine.score import score
from ..errors import NoScoringRun, UsageError
from ..ingest.file import ingest_file
from ..labels import import_labels
from ..store import Store
from ..taxonomy import BANDS, ILLICIT
from .economy import (
    CLEAN_ROLES,
    ILLICIT_EXPOSED_ROLES,
    ILLICIT_ROLES,
    VC_BUSINESS_ROLES,
    Economy,
    generate_economy,
)
from .tron import TronFiles

log = logging.getLogger(__name__)

DEFAULT_DB = "chainrisk-demo.duckdb"
MARKER = "demo.json"
TRUTH_VIEW = "_demo_truth"
HIGH_BANDS = ("high", "severe")
VC_CATEGORIES = frozenset({"exchange", "p2p_otc", "rwa_issuer", "stablecoin_issuer", "mining", "gambling"})


@dataclass
class Stage:
    name: str
    status: str = "done"
    seconds: float = 0.0
    detail: str = ""


@dataclass
class DemoSummary:
    """What the demo did and found; :meth:`to_text` renders it for a person, :meth:`to_dict` for machines."""

    db_path: str
    files_dir: str
    scale: float
    seed: int
    profile: str
    via_node: bool = False
    stages: list[Stage] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    run_id: str | None = None
    run_bands: dict[str, int] = field(default_factory=dict)
    declared_bands: dict[str, int] = field(default_factory=dict)
    declared_statuses: dict[str, int] = field(default_factory=dict)
    tron_declared_bands: dict[str, int] = field(default_factory=dict)
    tron_declared_statuses: dict[str, int] = field(default_factory=dict)
    screen_output: str | None = None
    roles: list[dict[str, Any]] = field(default_factory=list)
    evaluation: dict[str, Any] = field(default_factory=dict)
    lookups: list[dict[str, Any]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.stages)

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seconds"] = round(self.seconds, 2)
        return d

    def to_text(self) -> str:
        return _render(self)


# ---------------------------------------------------------------------------------------------------------------


def files_dir_for(db_path: str | Path) -> Path:
    p = Path(db_path)
    return p.with_name(p.name + ".files")


def _fresh(db_path: Path, files: Path) -> None:
    """Start from an empty store. An existing file is replaced only when an earlier demo made it."""
    if db_path.exists():
        if not (files / MARKER).exists():
            raise UsageError(
                f"{db_path} exists and was not made by 'chainrisk demo'; remove it or pass --db with a new path"
            )
        db_path.unlink()
    wal = db_path.with_name(db_path.name + ".wal")
    if wal.exists():
        wal.unlink()
    if files.exists():
        shutil.rmtree(files)
    files.mkdir(parents=True)


class _Timer:
    def __init__(self, summary: DemoSummary, name: str, say: Callable[[str], None]) -> None:
        self.stage = Stage(name)
        self.summary = summary
        self.say = say

    def __enter__(self) -> Stage:
        self.say(f"{self.stage.name} ...")
        self.t0 = time.perf_counter()
        return self.stage

    def __exit__(self, *exc: object) -> None:
        self.stage.seconds = round(time.perf_counter() - self.t0, 2)
        if exc[0] is None:
            self.summary.stages.append(self.stage)
            self.say(f"{self.stage.name}: {self.stage.status} in {self.stage.seconds:.1f} s"
                     + (f" ({self.stage.detail})" if self.stage.detail else ""))


def run_demo(
    db_path: str | Path = DEFAULT_DB,
    scale: float = 1.0,
    seed: int = 7,
    profile: str = "cn",
    via_node: bool = False,
    out: str | Path | None = None,
    *,
    lookups: bool = True,
    tron: bool = True,
    on_progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Generate the economy, run the pipeline into a fresh store at ``db_path`` and measure the result.

    ``out`` is the folder for the generated files (default ``<db_path>.files``). ``via_node`` sends a smaller
    economy as real ERC-20 transactions to a local anvil node and ingests it with ``ingest_rpc``. ``tron`` adds
    the TRON economy (:mod:`chainrisk.demo.tron`, a quarter of the size, USDT-TRC20 dominant) as tronetl files,
    scored in the same run (not with ``via_node``).
    """
    if not scale > 0:
        raise UsageError("--scale must be positive (1.0 is about a million transfers)")
    say = on_progress or (lambda msg: log.info(msg))
    db = Path(db_path)
    files = Path(out) if out is not None else files_dir_for(db)
    _fresh(db, files)
    (files / MARKER).write_text(json.dumps({"scale": scale, "seed": seed, "profile": profile}) + "\n")
    summary = DemoSummary(str(db), str(files), scale, seed, profile, via_node)

    with _Timer(summary, "generate", say) as st:
        if via_node:
            from .anvil import require_anvil
            from .node import node_economy_scale

            require_anvil()             # before generating: a missing node is one sentence, at once
            scale = node_economy_scale(scale)
            summary.scale = scale
        eco = generate_economy(scale, seed)
        transfers_path = eco.write_transfers(files / "token_transfers.parquet", format="bigquery")
        labels_path = eco.write_labels(files / "labels.csv")
        declared_path = eco.write_declared(files / "declared_addresses.csv")
        eco.write_truth(files / "truth.csv")
        summary.counts.update(
            transfers=eco.n_transfers, addresses=eco.truth.num_rows, labels=eco.labels.num_rows,
            declared=eco.declared.num_rows,
        )
        st.detail = f"{eco.n_transfers:,} transfers, {eco.truth.num_rows:,} addresses"
        tf = None
        if tron and not via_node:
            from .tron import tron_economy

            tf = tron_economy(scale, seed, files)
            summary.counts.update(tron_transfers=tf.n_transfers, tron_addresses=tf.n_addresses,
                                  tron_labels=tf.n_labels)
            st.detail += f"; TRON: {tf.n_transfers:,} transfers, {tf.n_addresses:,} addresses"

    with Store(db) as store:
        _ingest(store, summary, eco, transfers_path, via_node, say, tf)
        _labels(store, summary, eco, labels_path, say, tf)
        _score(store, summary, profile, say)
        _screen(store, summary, declared_path, files, say, tf)
        with _Timer(summary, "evaluate", say):
            _evaluate(store, summary, eco)
        if lookups:
            _lookups(store, summary, eco, say, tf)
    return summary


def _ingest(store: Store, summary: DemoSummary, eco: Economy, path: Path, via_node: bool,
            say: Callable[[str], None], tf: TronFiles | None = None) -> None:
    with _Timer(summary, "ingest", say) as st:
        if via_node:
            from .node import ingest_via_node  # web3 and the node launcher load only for --via-node

            st.detail = ingest_via_node(store, eco, say)
        else:
            rep = ingest_file(store, [path], format="bigquery")
            st.detail = f"{rep.rows_added:,} transfers via ingest_file (bigquery Parquet)"
        if tf is not None:
            trep = ingest_file(store, [tf.transfers], format="tronetl", chain="tron", blocks_file=tf.blocks)
            st.detail += f"; TRON: {trep.rows_added:,} via ingest_file (tronetl CSV)"
            summary.counts["tron_stored_transfers"] = _count(
                store, "SELECT count(*) FROM transfers WHERE chain = 'tron'")
        summary.counts["stored_transfers"] = _count(store, "SELECT count(*) FROM transfers WHERE chain = 'ethereum'")
        summary.counts["stored_addresses"] = _count(store, "SELECT count(*) FROM addresses")


def _labels(store: Store, summary: DemoSummary, eco: Economy, path: Path, say: Callable[[str], None],
            tf: TronFiles | None = None) -> None:
    with _Timer(summary, "labels", say) as st:
        results = import_labels(store, [path], format="csv", version=f"demo-seed-{summary.seed}")
        if tf is not None:
            results += import_labels(store, [tf.labels], format="csv", version=f"demo-seed-{summary.seed}")
            summary.counts["tron_stored_labels"] = _count(
                store, "SELECT count(*) FROM active_labels WHERE chain = 'tron'")
        n = _count(store, "SELECT count(*) FROM active_labels")
        st.detail = f"{n:,} active labels in {len(results)} sources via import_labels (generic CSV)"
        summary.counts["stored_labels"] = n


def _score(store: Store, summary: DemoSummary, profile: str, say: Callable[[str], None]) -> None:
    with _Timer(summary, "score", say) as st:
        run = score(store, profile=profile, on_progress=lambda m: say(f"  score: {m}"))
        summary.run_id = run.run_id
        summary.run_bands = dict(run.bands)
        st.detail = f"run {run.run_id}, profile {run.profile}, {run.n_addresses:,} addresses"


def _screen(store: Store, summary: DemoSummary, declared: Path, files: Path,
            say: Callable[[str], None], tf: TronFiles | None = None) -> None:
    with _Timer(summary, "screen", say) as st:
        out = files / "screening_results.csv"
        res = screen(store, declared, output=out, address_column="address")
        summary.screen_output = str(out)
        bands, statuses = _screen_counts(res, out)
        summary.declared_bands = bands
        summary.declared_statuses = statuses
        st.detail = f"{sum(statuses.values()):,} declared addresses -> {out.name}"
        if tf is not None:
            tout = files / "tron_screening_results.csv"
            tres = screen(store, tf.declared, output=tout, address_column="address")
            tb, ts = _screen_counts(tres, tout)
            summary.tron_declared_bands, summary.tron_declared_statuses = tb, ts
            st.detail += f"; TRON: {sum(ts.values()):,} -> {tout.name}"


def _screen_counts(res: Any, out: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Band and status counts from the screening result (or its output file)."""
    import csv

    bands = {b: 0 for b in BANDS}
    statuses: dict[str, int] = {}
    with out.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            status = row.get("status") or "ok"
            statuses[status] = statuses.get(status, 0) + 1
            band = row.get("risk_band") or row.get("band") or ""
            if status == "ok" and band in bands:
                bands[band] += 1
    return bands, statuses


def _count(store: Store, q: str) -> int:
    rows = store.execute(q).fetchall()
    return int(rows[0][0]) if rows else 0


# -- evaluation against the ground truth -----------------------------------------------------------------------


def _truth_rows(store: Store, eco: Economy) -> dict[str, np.ndarray]:
    """Per address of the ground truth (not labelled, not the null address or token contracts): role, score,
    band, top category, illicit exposure share."""
    _register_truth(store, eco)
    try:
        rows = store.execute(
            f"""
            WITH s AS (SELECT * FROM scores WHERE run_id = $run),
            x AS (SELECT address_id,
                         sum(usd) FILTER (WHERE category IN (SELECT unnest($illicit))) AS illicit_usd
                  FROM exposures WHERE run_id = $run GROUP BY address_id)
            SELECT t.role, t.labelled, coalesce(s.score, -1), coalesce(s.band, 'unknown'),
                   s.top_category, s.categories,
                   nullif(regexp_extract(s.reason, '^behavioural indicator ([a-z_]+)', 1), ''),
                   coalesce(x.illicit_usd / nullif(s.volume_in_usd + s.volume_out_usd, 0), 0)
            FROM {TRUTH_VIEW} t
            LEFT JOIN addresses a ON a.chain = 'ethereum' AND a.address = t.address
            LEFT JOIN s ON s.address_id = a.id
            LEFT JOIN x ON x.address_id = a.id
            WHERE t.role NOT IN ('null', 'token_contract')
            """,
            {"run": _run_id(store), "illicit": sorted(ILLICIT)},
        ).fetchall()
    finally:
        store.unregister(TRUTH_VIEW)
    cols: list[Any] = list(zip(*rows, strict=True)) if rows else [() for _ in range(8)]
    # the category that answers "links to illegal activity?": the top one if illicit, else any illicit one reached;
    # a score driven by a behavioural indicator (a FATF red flag of laundering) answers "indicator:<name>"
    top = [f"indicator:{ind}" if ind else
           t if t in ILLICIT else next((c for c in (cats or "").split(";") if c in ILLICIT), t)
           for t, cats, ind in zip(cols[4], cols[5], cols[6], strict=True)]
    return {
        "role": np.array(cols[0], dtype=object), "labelled": np.array(cols[1], dtype=bool),
        "score": np.array(cols[2], dtype=float), "band": np.array(cols[3], dtype=object),
        "top": np.array([c or "" for c in top], dtype=object),
        "illicit_share": np.array(cols[7], dtype=float),
    }


def _register_truth(store: Store, eco: Economy | TronFiles) -> None:
    store.register(TRUTH_VIEW, eco.truth_table if isinstance(eco, TronFiles) else eco.truth)


def _run_id(store: Store) -> str | None:
    try:
        return store.run().run_id   # the latest complete run, as the run registry defines it
    except NoScoringRun:
        return None


def auc(pos: np.ndarray, neg: np.ndarray) -> float | None:
    """Area under the ROC curve: the chance a random positive outranks a random negative (ties count half)."""
    if len(pos) == 0 or len(neg) == 0:
        return None
    allv = np.concatenate([pos, neg])
    _, inv, counts = np.unique(allv, return_inverse=True, return_counts=True)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    avg_rank = starts + (counts + 1) / 2.0          # 1-based average rank of each distinct value
    ranks = avg_rank[inv]
    r_pos = ranks[: len(pos)].sum()
    return float((r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _prf(pred: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    tp = int((pred & truth).sum())
    fp = int((pred & ~truth).sum())
    fn = int((~pred & truth).sum())
    return {
        "positives": int(truth.sum()), "flagged": int(pred.sum()), "true_positives": tp,
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "recall": round(tp / (tp + fn), 3) if tp + fn else None,
    }


def _evaluate(store: Store, summary: DemoSummary, eco: Economy) -> None:
    d = _truth_rows(store, eco)
    unl = ~d["labelled"]
    high = np.isin(d["band"], HIGH_BANDS)
    roles = []
    for role in sorted(set(d["role"].tolist())):
        m = d["role"] == role
        scored = m & (d["score"] >= 0)
        roles.append({
            "role": role, "addresses": int(m.sum()), "labelled": int((m & d["labelled"]).sum()),
            "high_or_severe": round(float(high[m & unl].mean()), 3) if (m & unl).any() else None,
            "median_score": round(float(np.median(d["score"][scored])), 1) if scored.any() else None,
            "top_category": _mode(d["top"][m & unl & high]),
        })
    summary.roles = roles
    illicit = np.isin(d["role"], list(ILLICIT_ROLES))
    vc = np.isin(d["role"], list(VC_BUSINESS_ROLES))
    clean = np.isin(d["role"], list(CLEAN_ROLES))
    pred_ill = high & (np.isin(d["top"], list(ILLICIT)) | np.char.startswith(d["top"].astype(str), "indicator:"))
    pred_vc = high & np.isin(d["top"], list(VC_CATEGORIES))
    exposed = np.isin(d["role"], list(ILLICIT_EXPOSED_ROLES))
    ev: dict[str, Any] = {
        "population": "addresses without a public label (what the scoring had to infer)",
        "illicit": _prf(pred_ill[unl], illicit[unl]),
        "vc_business": _prf(pred_vc[unl], vc[unl]),
    }
    # precision against "linked to illegal activity": actors plus victims, mixer users, sanctions counterparties
    linked = illicit | exposed
    tp_linked = int((pred_ill & linked & unl).sum())
    ev["illicit"]["precision"] = round(tp_linked / int(pred_ill[unl].sum()), 3) if pred_ill[unl].any() else None
    ev["illicit"]["exposed"] = int((exposed & unl).sum())
    ev["illicit"]["exposed_recall"] = round(float(pred_ill[exposed & unl].mean()), 3) if (exposed & unl).any() \
        else None
    both = unl & (illicit | clean)
    ev["illicit"]["auc_score"] = _round(auc(d["score"][both & illicit], d["score"][both & clean]))
    ev["illicit"]["auc_illicit_share"] = _round(
        auc(d["illicit_share"][both & illicit], d["illicit_share"][both & clean]))
    ev["clean_flagged_illicit"] = round(float(pred_ill[unl & clean].mean()), 4) if (unl & clean).any() else None
    summary.evaluation = ev


def _mode(values: np.ndarray) -> str | None:
    vals = [v for v in values.tolist() if v]
    if not vals:
        return None
    u, c = np.unique(np.array(vals, dtype=object), return_counts=True)
    return str(u[int(np.argmax(c))])


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


# -- explained lookups -------------------------------------------------------------------------------------------


def demo_examples(store: Store, eco: Economy | TronFiles) -> list[tuple[str, str]]:
    """(why it is interesting, address): a scam operation's mule, a customer who paid an exchange deposit address,
    and a merchant that never dealt with an exchange. Chosen deterministically from the ground truth and the data."""
    _register_truth(store, eco)
    try:
        out: list[tuple[str, str]] = []
        mule = store.execute(
            f"""SELECT t.address FROM {TRUTH_VIEW} t
                JOIN addresses a ON a.address = t.address JOIN transfers x ON x.to_id = a.id
                WHERE t.role = 'mule' AND NOT t.labelled
                  AND t.entity IN (SELECT entity FROM {TRUTH_VIEW} WHERE role = 'collector' AND labelled)
                GROUP BY t.address ORDER BY count(*) DESC, t.address LIMIT 1"""
        ).fetchall()
        if mule:
            out.append(("a mule of a scam operation (unlabelled; one of its collectors is reported)", mule[0][0]))
        cust = store.execute(
            f"""SELECT t.address FROM {TRUTH_VIEW} t
                JOIN addresses a ON a.address = t.address JOIN transfers x ON x.from_id = a.id
                JOIN addresses b ON b.id = x.to_id JOIN {TRUTH_VIEW} d ON d.address = b.address
                WHERE t.role = 'p2p_user' AND d.role = 'exchange_deposit'
                GROUP BY t.address HAVING count(*) = 1 ORDER BY t.address LIMIT 1"""
        ).fetchall()
        if cust:
            out.append(("a customer who paid once into an exchange deposit address", cust[0][0]))
        merchant = store.execute(
            f"""SELECT t.address FROM {TRUTH_VIEW} t
                JOIN addresses a ON a.address = t.address JOIN transfers x ON x.to_id = a.id
                WHERE t.role = 'merchant' AND a.id NOT IN (
                    SELECT y.from_id FROM transfers y JOIN addresses b ON b.id = y.to_id
                    JOIN {TRUTH_VIEW} d ON d.address = b.address
                    WHERE d.role IN ('exchange_deposit', 'exchange_hot', 'otc_desk', 'mixer_pool'))
                GROUP BY t.address ORDER BY count(*) DESC, t.address LIMIT 1"""
        ).fetchall()
        if merchant:
            out.append(("a busy merchant that never paid an exchange", merchant[0][0]))
        return out
    finally:
        store.unregister(TRUTH_VIEW)


def _lookups(store: Store, summary: DemoSummary, eco: Economy, say: Callable[[str], None],
             tf: TronFiles | None = None) -> None:
    with _Timer(summary, "lookups", say) as st:
        truth = dict(zip(eco.truth["address"].to_pylist(), eco.truth["role"].to_pylist(), strict=True))
        examples = demo_examples(store, eco)
        if tf is not None:
            truth.update(zip(tf.truth_table["address"].to_pylist(), tf.truth_table["role"].to_pylist(), strict=True))
            examples += [(f"TRON: {why}", a) for why, a in demo_examples(store, tf)]
        for why, addr in examples:
            [res] = lookup(store, [addr], explain=True)
            summary.lookups.append({
                "why": why, "address": addr, "true_role": truth.get(addr), "band": res.risk_band,
                "score": res.risk_score, "reason": res.reason, "reasons": res.reasons()[:4],
            })
        st.detail = f"{len(summary.lookups)} addresses explained"


# -- the text a person reads ---------------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def _render(s: DemoSummary) -> str:
    lines: list[str] = []
    w = lines.append
    w(f"chainrisk demo: a simulated stablecoin economy (scale {s.scale:g}, seed {s.seed}), profile {s.profile}"
      + (", sent through a local anvil node" if s.via_node else ""))
    w(f"store: {s.db_path}   generated files: {s.files_dir}")
    w("")
    c = s.counts
    if c:
        w(f"economy: {c.get('transfers', 0):,} transfers among {c.get('addresses', 0):,} addresses; "
          f"{c.get('labels', 0):,} public labels; {c.get('declared', 0):,} customer-declared addresses")
        if c.get("tron_transfers"):
            w(f"TRON economy (USDT-TRC20 dominant): {c['tron_transfers']:,} transfers among "
              f"{c.get('tron_addresses', 0):,} addresses; {c.get('tron_labels', 0):,} public labels")
    w("")
    w("stage      status          time  detail")
    for st in s.stages:
        w(f"{st.name:<10} {st.status:<14} {st.seconds:5.1f}s  {st.detail}")
    w(f"{'total':<10} {'':<14} {s.seconds:5.1f}s")
    if s.run_bands:
        w("")
        w("all scored addresses by band: " + ", ".join(f"{b} {s.run_bands.get(b, 0):,}" for b in BANDS))
    if s.declared_statuses:
        w("")
        ok = s.declared_statuses.get("ok", 0)
        other = ", ".join(f"{k} {v:,}" for k, v in sorted(s.declared_statuses.items()) if k != "ok")
        w(f"declared customers screened: {sum(s.declared_statuses.values()):,} ({ok:,} scored"
          + (f"; {other}" if other else "") + ")")
        w("  by band: " + ", ".join(f"{b} {s.declared_bands.get(b, 0):,}" for b in BANDS))
        if s.screen_output:
            w(f"  results: {s.screen_output}")
    if s.tron_declared_statuses:
        ok = s.tron_declared_statuses.get("ok", 0)
        other = ", ".join(f"{k} {v:,}" for k, v in sorted(s.tron_declared_statuses.items()) if k != "ok")
        w(f"declared TRON addresses screened: {sum(s.tron_declared_statuses.values()):,} ({ok:,} scored"
          + (f"; {other}" if other else "") + ")")
        w("  by band: " + ", ".join(f"{b} {s.tron_declared_bands.get(b, 0):,}" for b in BANDS))
    ev = s.evaluation
    if ev:
        w("")
        w("how well the scoring recovered the ground truth (addresses without a public label):")
        il, vc = ev["illicit"], ev["vc_business"]
        w(f"  illicit actors (scam collectors, layering hops, mules, unlisted sanctioned payers, mixer-funded "
          f"fresh addresses): {il['positives']:,}")
        w(f"    flagged high/severe for an illicit category: recall {_pct(il['recall'])}; also "
          f"{_pct(il['exposed_recall'])} of {il['exposed']:,} victims, mixer users and sanctions counterparties")
        w(f"    precision {_pct(il['precision'])} of {il['flagged']:,} flagged are actors or directly linked; "
          f"AUC of score, actors vs p2p users and merchants: {il['auc_score'] if il['auc_score'] is not None else 'n/a'}"
          f" (of illicit exposure share: {il['auc_illicit_share'] if il['auc_illicit_share'] is not None else 'n/a'})")
        w(f"  virtual-currency business (exchange deposit addresses, unlisted OTC desks, casino): {vc['positives']:,};"
          f" flagged high/severe for a VC category: recall {_pct(vc['recall'])}")
        w(f"  clean p2p users and merchants flagged for an illicit category: {_pct(ev['clean_flagged_illicit'])}")
        w("")
        w("  per true role (high/severe share among unlabelled; usual category = an illicit one when reached,"
          " else the top one):")
        w("  role                     addresses  labelled  high/severe  median score  usual category")
        for r in s.roles:
            w(f"  {r['role']:<24} {r['addresses']:>9,}  {r['labelled']:>8,}  {_pct(r['high_or_severe']):>11}"
              f"  {r['median_score'] if r['median_score'] is not None else 'n/a':>12}  {r['top_category'] or ''}")
    for lk in s.lookups:
        w("")
        w(f"lookup: {lk['why']}")
        w(f"  {lk['address']}  (truth: {lk['true_role']})")
        w(f"  band {lk['band']}, score {lk['score']}: {lk['reason']}")
        for reason in lk["reasons"]:
            if reason and reason != lk["reason"]:
                w(f"   - {reason}")
    if s.stage("lookups") and s.lookups:
        w("")
        w(f"explain any address: chainrisk --db {s.db_path} lookup <address> --explain")
    return "\n".join(lines) + "\n"
