"""Accuracy of the risk score on a real graph: the phishing DEV split of ../shared/datasets.

    .venv/bin/python bench/eval_phishing_dev.py [--profile fatf] [--max-hops K] [--db PATH]

1. Loads ``stablecoin_transfers_phishing_dev/stablecoin_transfers.csv`` (11,347 real Ethereum stablecoin
   transfers around 208 seed addresses) into a fresh store with ``chainrisk.ingest.file`` (format ``csv``).
2. Imports the shared public label sources with ``chainrisk.labels.import_labels`` (OFAC, Tether blacklist,
   Etherscan label snapshots, Spellbook, ScamSniffer, CryptoScamDB, MEW darklist) plus chainrisk's bundled registry.
3. Removes every label on a seed address (the score must not be a lookup of the seed list), and says how many.
4. Runs ``chainrisk.engine.score.score`` (with behavioural indicators) and reports, for the seeds' ``is_bad``: ROC-AUC of
   the score (rank formula, ties get average ranks), the share of bad and of normal seeds at band >= high, the
   band table, and the AUC of each component alone (exposure, indicators) for diagnosis.

Caveats (PROVENANCE.md): the graph is a union of 1-hop ego networks (counterparties' other transfers are absent),
``kaggle_normal`` means "not flagged", and some normal seeds are exchange hot wallets.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import chainrisk  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets"
DEV = DATA / "stablecoin_transfers_phishing_dev"

# (format, files relative to DATA, options)
LABEL_SOURCES: list[tuple[str, list[str], dict[str, object]]] = [
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
BAND_ORDER = ("none", "low", "medium", "high", "severe")


def roc_auc(scores: list[float], labels: list[int]) -> float:
    """ROC-AUC by the rank (Mann-Whitney) formula; tied scores get their average rank."""
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
        return float("nan")
    r_pos = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    return (r_pos - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def load_transfers(st: chainrisk.Store) -> dict[str, object]:
    mapping = {"block_time": "block_time_utc", "value": "value_raw"}
    rep = chainrisk.ingest_file(st, [DEV / "stablecoin_transfers.csv"], format="csv", mapping=mapping)
    d = rep.to_dict() if hasattr(rep, "to_dict") else {}
    return {"transfers": st.stats()["transfers"], "report": {k: v for k, v in d.items() if k != "files"}}


def load_labels(st: chainrisk.Store) -> list[dict[str, object]]:
    from chainrisk.labels import import_labels

    out = []
    for fmt, files, opts in LABEL_SOURCES:
        paths = [DATA / f for f in files]
        try:
            res = import_labels(st, paths, fmt, **opts)  # type: ignore[arg-type]
            out += [{"source": r.source, "format": fmt, "labels": r.labels} for r in res]
        except chainrisk.ChainriskError as e:
            out.append({"source": ",".join(files) or fmt, "format": fmt, "error": str(e)})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="fatf")
    ap.add_argument("--max-hops", type=int, default=None)
    ap.add_argument("--db", default=None, help="store file to build (default: a temp file, removed)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if not DEV.is_dir():
        print(f"missing {DEV.name} beside the project (../shared/datasets)", file=sys.stderr)
        return 2
    tmp = tempfile.TemporaryDirectory()
    db = args.db or str(Path(tmp.name) / "phishing_dev.duckdb")
    seeds = list(csv.DictReader((DEV / "seed_addresses.csv").open(encoding="utf-8")))
    t0 = time.perf_counter()
    with chainrisk.open(db) as st:
        tr = load_transfers(st)
        t_load = time.perf_counter() - t0
        labels = load_labels(st)
        st.execute("CREATE TEMP TABLE seeds AS SELECT * FROM (SELECT unnest(?) AS address)",
                   [[s["address"].lower() for s in seeds]])
        (n_seed_labels,) = st.execute(
            "SELECT count(*) FROM labels WHERE chain = 'ethereum' AND address IN (SELECT address FROM seeds)"
        ).fetchone()
        seeds_labelled = st.execute(
            "SELECT count(DISTINCT address) FROM labels WHERE chain = 'ethereum'"
            " AND address IN (SELECT address FROM seeds)").fetchone()[0]
        st.execute("DELETE FROM labels WHERE chain = 'ethereum' AND address IN (SELECT address FROM seeds)")
        (n_labels,) = st.execute("SELECT count(*) FROM active_labels").fetchone()
        t1 = time.perf_counter()
        from chainrisk.engine.score import score

        run = score(st, profile=args.profile, max_hops=args.max_hops)
        t_score = time.perf_counter() - t1
        rows = st.execute(
            """
            SELECT s.address, sc.score, sc.band, sc.top_category, sc.min_hops,
                   coalesce((SELECT max(i.severity) FROM indicators i
                             WHERE i.run_id = $run AND i.address_id = a.id), 0) AS ind,
                   coalesce((SELECT string_agg(DISTINCT i.indicator, ';' ORDER BY i.indicator) FROM indicators i
                             WHERE i.run_id = $run AND i.address_id = a.id), '') AS inds,
                   coalesce((SELECT sum(e.weighted_usd / greatest(1, CASE e.direction WHEN 'in'
                                 THEN sc.volume_in_usd ELSE sc.volume_out_usd END)) FROM exposures e
                             WHERE e.run_id = $run AND e.address_id = a.id
                               AND e.category IN ('sanctions','blacklist','mixer','scam','phishing','hack',
                                                  'ransomware','darknet','terrorism_financing')), 0) AS expo
            FROM seeds s LEFT JOIN addresses a ON a.chain = 'ethereum' AND a.address = s.address
            LEFT JOIN scores sc ON sc.run_id = $run AND sc.address_id = a.id
            """, {"run": run.run_id}).fetchall()
    by_addr = {r[0]: r for r in rows}
    ys, sc, ind, expo = [], [], [], []
    table = {b: [0, 0] for b in (*BAND_ORDER, "unknown")}
    ind_counts: dict[str, list[int]] = {}
    for s in seeds:
        r = by_addr[s["address"].lower()]
        y = int(s["is_bad"])
        band = r[2] or "unknown"
        ys.append(y)
        sc.append(float(r[1] or 0.0))
        ind.append(float(r[5]))
        expo.append(float(r[7]))
        table[band][y] += 1
        for name in filter(None, (r[6] or "").split(";")):
            ind_counts.setdefault(name, [0, 0])[y] += 1
    n_bad, n_norm = sum(ys), len(ys) - sum(ys)
    hi_bad = sum(table[b][1] for b in ("high", "severe"))
    hi_norm = sum(table[b][0] for b in ("high", "severe"))
    fig = {
        "profile": args.profile, "run_id": run.run_id, "seeds": len(seeds), "bad": n_bad, "normal": n_norm,
        "transfers": tr["transfers"], "active_labels": n_labels,
        "seed_labels_removed": n_seed_labels, "seeds_that_had_labels": seeds_labelled,
        "auc_score": round(roc_auc(sc, ys), 4),
        "auc_exposure_only": round(roc_auc(expo, ys), 4), "auc_indicators_only": round(roc_auc(ind, ys), 4),
        "bad_at_high_or_above": round(hi_bad / n_bad, 4), "normal_at_high_or_above": round(hi_norm / n_norm, 4),
        "bands": {b: {"bad": v[1], "normal": v[0]} for b, v in table.items()},
        "indicators_on_seeds": {k: {"bad": v[1], "normal": v[0]} for k, v in sorted(ind_counts.items())},
        "seconds": {"load_transfers": round(t_load, 2), "score": round(t_score, 2)},
        "label_sources": labels,
    }
    print(f"phishing DEV: {len(seeds)} seeds ({n_bad} bad, {n_norm} normal), {tr['transfers']:,} transfers, "
          f"{n_labels:,} active labels; {n_seed_labels} labels on {seeds_labelled} seeds removed before scoring")
    print(f"profile {args.profile}, run {run.run_id}: ROC-AUC of the score for is_bad = {fig['auc_score']:.4f}")
    print(f"  (exposure alone {fig['auc_exposure_only']:.4f}, indicators alone {fig['auc_indicators_only']:.4f})")
    print(f"  band >= high: {hi_bad}/{n_bad} bad = {fig['bad_at_high_or_above']:.1%}, "
          f"{hi_norm}/{n_norm} normal = {fig['normal_at_high_or_above']:.1%}")
    print("  band      bad  normal")
    for b, v in table.items():
        print(f"  {b:<8} {v[1]:>4} {v[0]:>7}")
    for k, v in sorted(ind_counts.items()):
        print(f"  indicator {k}: {v[1]} bad, {v[0]} normal seeds")
    errs = [x for x in labels if "error" in x]
    for e in errs:
        print(f"  label source not imported: {e['source']} ({e['format']}): {e['error']}", file=sys.stderr)
    print(f"  time: load {t_load:.1f} s, score {t_score:.1f} s")
    if args.json:
        print(json.dumps(fig, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
