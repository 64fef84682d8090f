"""Look up addresses in a scoring run: the verdict, the reasons and where they came from.

    >>> import chainrisk
    >>> st = chainrisk.open("case.duckdb", read_only=True)
    >>> [r] = chainrisk.lookup(st, ["0xdAC17F958D2ee523a2206206994597C13D831ec7"])
    >>> r.status, r.risk_band, r.to_dict()["provenance"]["run_id"]

Each answer has a ``status``: ``ok`` (scored in the run), ``unknown`` (the store has no activity for it in the run:
unknown is not safe, it is not ``none``), or ``invalid`` (with the reason, from :func:`chainrisk.address.try_parse`).
Every answer carries two verdicts and an action: ``illicit`` (links to crime: sanctions, fraud, laundering, ...: the
*report* side), ``vc_business`` (involvement with virtual-currency business: exchanges, OTC, issuers, ...: the
*sever* side) and ``action`` (``none | review | sever | report | sever_and_report``, from the run's profile);
``risk_score``/``risk_band`` stay as the combined view. Every answer carries its provenance (run id, profile, data
as-of block and time, label source versions). The JSON contract (``to_dict``) is documented in
``docs/lookup-screen-report.md``.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from ..address import Address, try_parse
from ..chains import CHAINS
from ..store import Store
from ..store.indexes import INDEXES, ensure_indexes, ensure_indexes_once
from ..store.runs import Provenance, resolve_run
from ..store.runs import loads as _loads
from ..taxonomy import BANDS
from .redact import LABELS_CLAUSE

# BANDS, INDEXES, Provenance, resolve_run and ensure_indexes are owned by chainrisk.taxonomy and chainrisk.store;
# they are named here too because lookup is where callers have always found them.
__all__ = ["BANDS", "INDEXES", "STATUSES", "Exposure", "Indicator", "Label", "LookupResult", "Provenance",
           "ensure_indexes", "explain_paths", "lookup", "lookup_one", "resolve_run", "unknown_reason"]

log = logging.getLogger(__name__)

STATUSES = ("ok", "unknown", "invalid")
ACTIONS = ("none", "review", "sever", "report", "sever_and_report")
# the two verdict columns of ``scores`` (migration ``scoring_verdicts``); NULL in runs of an older engine
VERDICT_COLUMNS = ("illicit_score", "illicit_band", "illicit_reason", "illicit_top_category", "illicit_confidence",
                   "vc_score", "vc_band", "vc_reason", "vc_top_category", "action")
WHY_TOP = 3            # the "Why" summary names at most this many exposure categories ...
WHY_MIN_SHARE = 0.05   # ... each with at least this share of a direction's volume; the rest are folded


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, datetime) else v


def _r(v: float | None, nd: int = 2) -> float | None:
    return None if v is None else round(float(v), nd)


@dataclass(frozen=True, slots=True)
class Label:
    category: str
    name: str | None
    source: str
    source_version: str | None
    confidence: int
    valid_from: datetime | None
    valid_to: datetime | None
    chain: str | None = None     # the chain the label is on (None: the answer's chain)

    @property
    def active(self) -> bool:
        return self.valid_to is None

    def to_dict(self, chain: bool = False) -> dict[str, Any]:
        """``chain=True`` (an answer over several chains) keeps the label's chain."""
        d = {k: _iso(v) for k, v in asdict(self).items()}
        if not chain:
            del d["chain"]
        d["active"] = self.active
        return d


@dataclass(frozen=True, slots=True)
class Verdict:
    """One axis of the verdict: ``illicit`` (links to crime) or ``vc_business`` (virtual-currency business).

    All fields are None when the address is not scored, or when the run was made by an engine without the two
    axes. ``confidence`` (illicit only: high|medium|low) says how sure the engine is: hops, inferred sources and
    heuristic labels lower it, never the traced amount."""

    score: float | None = None
    band: str | None = None
    reason: str | None = None
    top_category: str | None = None
    confidence: str | None = None
    chain: str | None = None      # the chain whose answer gave this verdict (None: the answer's chain)

    def to_dict(self, *, confidence: bool = True, chain: bool = False) -> dict[str, Any]:
        """``chain=True`` (a combined answer over several chains) adds the chain whose verdict this is."""
        d: dict[str, Any] = {"score": self.score, "band": self.band, "reason": self.reason,
                             "top_category": self.top_category}
        if confidence:
            d["confidence"] = self.confidence
        if chain:
            d["chain"] = self.chain
        return d


NO_VERDICT = Verdict()


@dataclass(frozen=True, slots=True)
class Exposure:
    category: str
    direction: str      # 'in' = source of funds, 'out' = destination
    hop_class: str      # 'direct' (hop 1) | 'indirect' (hops 2..K)
    usd: float
    share: float        # of the address's volume in that direction, 0..1
    min_hop: int
    inferred: bool = False   # the sources are addresses the engine inferred (e.g. an unlabelled collector)
    chain: str | None = None  # the chain of the transfers behind it (None: the answer's chain)

    def to_dict(self, chain: bool = False) -> dict[str, Any]:
        d = asdict(self)
        if not chain:
            del d["chain"]
        return d

    def sentence(self) -> str:
        """Plain words: 'received 12,400 USD from mixer via 2 intermediaries (3.1% of incoming)'. Exposure to a
        bridge says that the funds crossed (or came from) another chain and are not traced beyond the bridge."""
        verb, prep, whose = ("received", "from", "incoming") if self.direction == "in" else ("sent", "to", "outgoing")
        if self.min_hop <= 1:
            how = "directly"
        else:
            n = self.min_hop - 1
            how = f"via {n} intermediar{'y' if n == 1 else 'ies'}"
        cat = self.category.replace("_", " ") + (" (inferred source)" if self.inferred else "")
        on = f" on {self.chain}" if self.chain else ""
        text = f"{verb} {self.usd:,.0f} USD {prep} {cat} {how}{on} ({self.share:.1%} of {whose})"
        if self.category == "bridge":
            text += (" — cross-chain movement: the other side of the bridge is not traced" if self.direction == "out"
                     else " — cross-chain movement: where the funds came from before the bridge is not traced")
        return text


@dataclass(frozen=True, slots=True)
class Indicator:
    indicator: str
    severity: int
    evidence: Any
    chain: str | None = None   # the chain whose transfers show it (None: the answer's chain)

    def to_dict(self, chain: bool = False) -> dict[str, Any]:
        d = {"indicator": self.indicator, "severity": self.severity, "evidence": self.evidence}
        if chain:
            d["chain"] = self.chain
        return d


@dataclass(slots=True)
class LookupResult:
    input: str
    status: str                       # ok | unknown | invalid
    address: str | None               # normalised (lower-case 0x hex; TRON base58check)
    chain: str | None                 # the chain answered (ethereum, tron, bsc, ...), or 'evm' for several chains
    reason: str                       # one plain sentence
    provenance: Provenance
    risk_score: float | None = None   # 0..100, the combined view (both axes); None unless status is ok
    risk_band: str | None = None      # none|low|medium|high|severe; None unless status is ok
    top_category: str | None = None
    illicit: Verdict = NO_VERDICT     # links to crime: the report side
    vc_business: Verdict = NO_VERDICT  # virtual-currency business: the sever side
    action: str | None = None         # none|review|sever|report|sever_and_report; None unless scored with axes
    categories: list[str] = field(default_factory=list)
    own_categories: list[str] = field(default_factory=list)
    min_hops: int | None = None
    direct_usd: float | None = None
    indirect_usd: float | None = None
    volume_in_usd: float | None = None
    volume_out_usd: float | None = None
    labels: list[Label] = field(default_factory=list)
    exposures: list[Exposure] = field(default_factory=list)
    indicators: list[Indicator] = field(default_factory=list)
    evidence: list[dict[str, Any]] | None = None   # only with explain=True
    behaviour: dict[str, Any] | None = None        # the behaviour part (None: the run had none)
    #: the chains this answer covers (an EVM address is one key on every EVM chain: each chain where the store has
    #: activity or labels of it); one entry for a single-chain answer, none for an invalid input
    chains: list[str] = field(default_factory=list)
    #: one answer per chain (each with ``chains`` of its own chain and no ``per_chain``) when ``chains`` has more
    #: than one; the fields above are then the combined answer (the worst per axis, the action that follows)
    per_chain: list[LookupResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract (stable keys, in this order)."""
        d = self._dict()
        d["provenance"] = self.provenance.to_dict()
        return d

    def _dict(self) -> dict[str, Any]:
        # in an answer over several chains every label, exposure, indicator and verdict names its chain; in a
        # single-chain answer they are all on ``chain`` (the keys of older versions, unchanged)
        ch = self.chain == MULTI_CHAIN
        chains = list(self.chains) if self.chains or self.chain is None else [self.chain]
        return {
            "input": self.input, "status": self.status, "address": self.address, "chain": self.chain,
            "risk_score": self.risk_score, "risk_band": self.risk_band, "reason": self.reason,
            "top_category": self.top_category, "illicit": self.illicit.to_dict(chain=ch),
            "vc_business": self.vc_business.to_dict(confidence=False, chain=ch), "action": self.action,
            "categories": list(self.categories),
            "own_categories": list(self.own_categories), "min_hops": self.min_hops,
            "direct_usd": self.direct_usd, "indirect_usd": self.indirect_usd,
            "volume_in_usd": self.volume_in_usd, "volume_out_usd": self.volume_out_usd,
            "labels": [x.to_dict(ch) for x in self.labels],
            "exposures": [x.to_dict(ch) for x in self.exposures],
            "indicators": [x.to_dict(ch) for x in self.indicators],
            "evidence": self.evidence,
            "behaviour": self.behaviour,
            "chains": chains,
            "per_chain": [{k: v for k, v in p._dict().items() if k not in ("input", "per_chain")}
                          for p in self.per_chain],
        }

    def reasons(self) -> list[str]:
        """The "Why" summary in plain words, most important first (for people; the JSON is for machines).

        Own active labels, then exposure by category and direction, largest share first: at most
        :data:`WHY_TOP` categories of at least :data:`WHY_MIN_SHARE` of a direction's volume, the others folded
        into one "and N smaller" line, then the behavioural indicators. The evidence paths are shown apart."""
        out = why(self.labels, self.exposures, self.indicators, chains=len(self.chains) > 1)
        if self.behaviour and self.behaviour.get("sentence"):
            out.append(str(self.behaviour["sentence"]))
        return out


def why(labels: Iterable[Label], exposures: Iterable[Exposure], indicators: Iterable[Indicator], *,
        sources: bool = True, chains: bool = False) -> list[str]:
    """The short "Why" summary of an answer (see :meth:`LookupResult.reasons`). ``sources=False`` leaves out the
    label names and sources (for a caller who may not see them); ``chains=True`` (an answer over several chains)
    names the chain of each label and exposure line."""
    out: list[str] = []
    for lab in labels:
        if lab.active:
            on = f" on {lab.chain}" if chains and lab.chain else ""
            if sources:
                who = f" ({lab.name})" if lab.name else ""
                out.append(f"labelled {lab.category.replace('_', ' ')}{who}{on} by {lab.source}"
                           f"{' ' + lab.source_version if lab.source_version else ''}, confidence {lab.confidence}")
            else:
                out.append(f"labelled {lab.category.replace('_', ' ')}{on}, confidence {lab.confidence}")
    # one line per (category, direction, inferred[, chain]): hop classes summed, the nearest hop kept
    merged: dict[tuple[str, str, bool, str | None], list[float]] = {}
    for e in exposures:
        m = merged.setdefault((e.category, e.direction, e.inferred, e.chain if chains else None),
                              [0.0, 0.0, float(e.min_hop)])
        m[0] += e.usd
        m[1] += e.share
        m[2] = min(m[2], e.min_hop)
    lines = sorted(((min(1.0, v[1]), Exposure(c, d, "direct" if v[2] <= 1 else "indirect", v[0], min(1.0, v[1]),
                                                int(v[2]), inf, ch))
                    for (c, d, inf, ch), v in merged.items()),
                   key=lambda t: (-t[0], t[1].category, t[1].direction, t[1].chain or ""))
    shown = [e for share, e in lines if share >= WHY_MIN_SHARE][:WHY_TOP]
    out.extend(e.sentence() for e in shown)
    rest = [e for _share, e in lines if e not in shown]
    if rest:
        usd = sum(e.usd for e in rest)
        named = {e.category for e in shown}   # a category also shown above is named with its direction here
        cats = sorted({e.category.replace("_", " ") + (f" ({'incoming' if e.direction == 'in' else 'outgoing'})"
                                                       if e.category in named else "") for e in rest})
        n = len(rest)
        out.append(f"and {n} smaller exposure{'s' if n > 1 else ''} ({', '.join(cats)}; {usd:,.0f} USD in all)")
    for ind in indicators:
        out.append(f"behaviour: {ind.indicator.replace('_', ' ')} (severity {ind.severity})")
    return out


# -- lookup ---------------------------------------------------------------------------------------------------


_COLUMNS: weakref.WeakKeyDictionary[Store, frozenset[tuple[str, str]]] = weakref.WeakKeyDictionary()


def has_column(store: Store, table: str, column: str) -> bool:
    """Whether the store's ``table`` has ``column`` (a store opened read-only keeps the schema it was written
    with, so a store scored by an older chainrisk lacks the newer columns). Remembered per store."""
    cols = _COLUMNS.get(store)
    if cols is None:
        cols = frozenset((t, c) for t, c in store.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main'").fetchall())
        _COLUMNS[store] = cols
    return (table, column) in cols


def verdict_select(store: Store, alias: str = "") -> str:
    """The :data:`VERDICT_COLUMNS` of ``scores`` as a select list (NULL for a column the store lacks)."""
    p = f"{alias}." if alias else ""
    return ", ".join(f"{p}{c}" if has_column(store, "scores", c) else f"NULL AS {c}" for c in VERDICT_COLUMNS)


def verdicts(row: Sequence[Any]) -> tuple[Verdict, Verdict, str | None]:
    """(illicit, vc_business, action) from the :data:`VERDICT_COLUMNS` values of one ``scores`` row."""
    i_score, i_band, i_reason, i_top, i_conf, v_score, v_band, v_reason, v_top, action = row
    illicit = Verdict(_r(i_score), i_band, i_reason, i_top, i_conf) if i_band is not None else NO_VERDICT
    vc = Verdict(_r(v_score), v_band, v_reason, v_top) if v_band is not None else NO_VERDICT
    return illicit, vc, action


def exposure_inferred(store: Store, alias: str = "") -> str:
    p = f"{alias}." if alias else ""
    return f"coalesce({p}inferred, false)" if has_column(store, "exposures", "inferred") else "false"


def _split(text: str | None) -> list[str]:
    return [c for c in (text or "").split(";") if c]


#: the ``chain`` of an answer that covers several chains (each is in ``per_chain``)
MULTI_CHAIN = "evm"
#: the EVM chains of the registry, in its order (an EVM address is answered on each where the store has it)
EVM_CHAINS = tuple(c.name for c in CHAINS.values() if c.address_form == "evm")
_CHAIN_ORDER = {name: i for i, name in enumerate(CHAINS)}


def chain_order(chain: str) -> tuple[int, str]:
    """Registry order first (ethereum, tron, bsc, polygon, arbitrum, optimism, base), then other chains a label
    source names (avalanche_c, fantom, ...) by name."""
    return (_CHAIN_ORDER.get(chain, len(_CHAIN_ORDER)), chain)


def check_chain(chain: str | None) -> str | None:
    """``chain`` (a ``--chain`` value) lower-cased, or None; a registered chain, or a chain a label source names."""
    if chain is None or not chain.strip():
        return None
    c = chain.strip().lower()
    from ..labels.chains import canonical_chain

    return canonical_chain(c)


def unknown_reason(chain: str, in_store: bool, run_id: str, labels: Iterable[Any]) -> str:
    """The sentence that explains an ``unknown`` answer (shared with the HTTP service)."""
    if not in_store:
        why = f"no {chain} activity of this address is in the store"
    else:
        why = (f"the address is in the store but not in scoring run {run_id} (its data arrived later); "
               "rerun 'chainrisk score'")
    active = [lab for lab in labels if lab.active]
    if active:   # a read key sees this clause with categories only (answers.redact.read_reason)
        why += LABELS_CLAUSE + ", ".join(sorted({f"{lab.category} ({lab.source})" for lab in active}))
    return why


_SCORE_COLUMNS = ("score, band, top_category, categories, own_categories, min_hops, direct_usd, indirect_usd,"
                  " volume_in_usd, volume_out_usd, reason")


def lookup_one(store: Store, value: str, run: Provenance, *, explain: bool = False,
               chain: str | None = None) -> LookupResult:
    """One address against the run ``run`` (see :func:`resolve_run`).

    An EVM address is answered on each chain where the store has activity or labels of it (``per_chain``), with a
    combined verdict on top; ``chain`` narrows the answer to that chain. Three statements whatever the number of
    chains (:func:`_keys`, then :func:`read_scored`'s two)."""
    parsed = try_parse(value)
    if not isinstance(parsed, Address):
        return LookupResult(input=value, status="invalid", address=None, chain=None, reason=parsed.reason,
                            provenance=run)
    chain = check_chain(chain)
    if parsed.chain == "tron":
        if chain is not None and chain != parsed.chain:
            return LookupResult(input=value, status="invalid", address=None, chain=None, provenance=run,
                                reason=f"a {parsed.chain} address cannot be on chain {chain}")
    elif chain == "tron":
        return LookupResult(input=value, status="invalid", address=None, chain=None, provenance=run,
                            reason="an EVM (0x) address cannot be on chain tron")
    ids, label_rows = _keys(store, parsed.address)
    chains: list[str]
    if parsed.chain == "tron":     # a TRON address is answered on tron only
        chains = ["tron"]
    else:                          # EVM: every chain of this key (or the one ``chain`` names)
        chains = sorted({*ids, *(r[0] for r in label_rows)}, key=chain_order)
        if chain is not None:
            chains = [c for c in chains if c == chain]
        if not chains:
            chains = [chain or parsed.chain]
    scored = {c: ids[c] for c in chains if c in ids}
    rows, behaviours, parts = read_scored(store, run.run_id, scored.values())
    answers = []
    for c in chains:
        aid = scored.get(c)
        answers.append(_assemble(store, value, Address(c, parsed.address), run,  # type: ignore[arg-type]
                                 [_label(r) for r in label_rows if r[0] == c], aid,
                                 rows.get(aid) if aid is not None else None,
                                 parts.get(aid, []) if aid is not None else [], explain,
                                 behaviour=behaviours.get(aid) if aid is not None else None,
                                 known_behaviour=True))
    if len(answers) == 1:
        return answers[0]
    return combine(value, parsed.address, run, answers)


def _label_order(r: Sequence[Any]) -> tuple[Any, ...]:
    """The order of an answer's labels, of ``(chain, category, name, source, source_version, confidence,
    valid_from, valid_to)`` rows: active first, most confident, category, source, chain, earliest ``valid_from``
    (unknown first). Sorted in Python: an ORDER BY in the statement costs more than the point queries."""
    return (r[7] is not None, -r[5], r[1], r[3], r[0], r[6] is not None, r[6] or _EPOCH)


_EPOCH = datetime(1, 1, 1)


def _keys(store: Store, address: str) -> tuple[dict[str, int], list[tuple[Any, ...]]]:
    """The ids of ``address`` on each chain (``{chain: addresses.id}``) and its labels on every chain, as
    ``(chain, category, name, source, source_version, confidence, valid_from, valid_to)`` rows in
    :func:`_label_order`. One statement of two point queries on the address indexes."""
    keys = store.execute(
        "SELECT 0 AS k, chain, id, NULL AS category, NULL AS name, NULL AS source, NULL AS source_version,"
        " NULL AS confidence, NULL AS valid_from, NULL AS valid_to FROM addresses WHERE address = ?"
        " UNION ALL SELECT 1, chain, NULL, category, name, source, source_version, confidence, valid_from, valid_to"
        " FROM labels WHERE address = ?", [address, address]).fetchall()
    ids = {r[1]: int(r[2]) for r in keys if r[0] == 0}
    labels = sorted((r[1:2] + r[3:] for r in keys if r[0] == 1), key=_label_order)
    return ids, labels


def read_scored(store: Store, run_id: str, address_ids: Iterable[int]) -> tuple[
        dict[int, tuple[Any, ...]], dict[int, dict[str, Any] | None], dict[int, list[tuple[Any, ...]]]]:
    """What run ``run_id`` holds of ``address_ids`` (the ids of one address on its chains): the ``scores`` row of
    each (``address_id``, :data:`_SCORE_COLUMNS`, :data:`VERDICT_COLUMNS`), its behaviour part, and its exposure
    and indicator rows (``(k, category|indicator, direction, hop_class, usd, share, min_hop|severity, evidence,
    inferred)``, ``k`` 0 for an exposure, 1 for an indicator).

    Two statements whatever the number of ids, each an index scan of an ``address_id IN (<ints>)`` list (formatted
    from ints only: safe SQL). The run is checked in Python: next to another filter DuckDB (2.0.1) turns the IN
    list into a join over a full scan of the table (measured: 50x slower), and alone it is one index scan (a
    UNION ALL of one point query per id costs one index lookup and row fetch set-up per id: 3-4x slower at 5
    ids). The rows of other runs of these ids are read either way (the index is on ``address_id``)."""
    ids = sorted({int(i) for i in address_ids})
    rows: dict[int, tuple[Any, ...]] = {}
    behaviours: dict[int, dict[str, Any] | None] = {}
    parts: dict[int, list[tuple[Any, ...]]] = {}
    if not ids:
        return rows, behaviours, parts
    in_ids = ", ".join(map(str, ids))
    beh = has_column(store, "scores", "behaviour_score")
    n_base = 12 + len(VERDICT_COLUMNS)
    q = (f"SELECT run_id, address_id, {_SCORE_COLUMNS}, {verdict_select(store)}"
         f"{', ' + ', '.join(BEHAVIOUR_COLUMNS) if beh else ''} FROM scores WHERE address_id IN ({in_ids})")
    for r in store.execute(q).fetchall():
        if r[0] != run_id:
            continue
        rows[r[1]] = r[1:1 + n_base]
        b = r[1 + n_base:] if beh else None
        behaviours[r[1]] = behaviour_dict(*b) if b and b[0] is not None else None
    if rows:
        q = ("SELECT run_id, address_id, 0 AS k, category, direction, hop_class, usd, share, min_hop,"
             f" NULL AS evidence, {exposure_inferred(store)} AS inferred FROM exposures"
             f" WHERE address_id IN ({in_ids})"
             " UNION ALL SELECT run_id, address_id, 1, indicator, NULL, NULL, NULL, NULL, severity, evidence, false"
             f" FROM indicators WHERE address_id IN ({in_ids})")
        for r in store.execute(q).fetchall():
            if r[0] == run_id and r[1] in rows:
                parts.setdefault(r[1], []).append(r[2:])
    return rows, behaviours, parts


def _label(r: Sequence[Any]) -> Label:
    """A label from ``(chain, category, name, source, source_version, confidence, valid_from, valid_to)``."""
    return Label(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[0])


def multi_chain(store: Store, addresses: Sequence[str]) -> set[str]:
    """The EVM addresses among ``addresses`` (canonical lower-case hex) that the store has on more than one chain
    (activity or labels): the ones whose answer :func:`lookup_one` combines over chains. One statement."""
    evm = sorted({a for a in addresses if a[:2] == "0x"})
    if not evm:
        return set()
    rows = store.execute(
        "SELECT address FROM (SELECT address, chain FROM addresses WHERE address IN (SELECT unnest($a))"
        " UNION SELECT address, chain FROM labels WHERE address IN (SELECT unnest($a)))"
        " GROUP BY address HAVING count(DISTINCT chain) > 1", {"a": evm}).fetchall()
    return {r[0] for r in rows}


def address_chains(store: Store, address: str) -> list[str]:
    """The chains where the store has activity or labels of ``address`` (registry order)."""
    rows = store.execute("SELECT chain FROM addresses WHERE address = $a UNION SELECT chain FROM labels"
                         " WHERE address = $a", {"a": address}).fetchall()
    return sorted((r[0] for r in rows), key=chain_order)


def store_chains(store: Store) -> list[str]:
    """The chains the store has addresses or labels of (registry order)."""
    rows = store.execute("SELECT DISTINCT chain FROM addresses UNION SELECT DISTINCT chain FROM labels").fetchall()
    return sorted((r[0] for r in rows), key=chain_order)


def _assemble(store: Store, value: str, addr: Address, run: Provenance, labels: list[Label], aid: int | None,
              row: tuple[Any, ...] | None, parts: list[tuple[Any, ...]], explain: bool, *,
              behaviour: dict[str, Any] | None = None, known_behaviour: bool = False) -> LookupResult:
    """One chain's answer from its ``scores`` row (``address_id`` first) and its exposure/indicator rows (and its
    behaviour part when already read: ``known_behaviour``)."""
    c = addr.chain
    base: dict[str, Any] = {"input": value, "address": addr.address, "chain": c, "provenance": run,
                            "labels": labels, "chains": [c]}
    if row is None or row[1] is None:
        why = unknown_reason(c, aid is not None, run.run_id, labels)
        return LookupResult(status="unknown", reason=why, **base)
    exposures = sort_exposures(Exposure(k_c, d, h, round(float(u), 2), round(float(sh), 4), int(m), bool(inf), c)
                               for k, k_c, d, h, u, sh, m, _e, inf in parts if k == 0)
    indicators = sorted((Indicator(k_c, int(m), _loads(e, e), c)
                         for k, k_c, _d, _h, _u, _s, m, e, _i in parts if k == 1),
                        key=lambda i: (-i.severity, i.indicator))
    illicit, vc, action = verdicts(row[12:])
    res = LookupResult(
        behaviour=behaviour if known_behaviour else behaviour_of(store, int(row[0]), run.run_id),
        status="ok", reason=row[11] or "", risk_score=_r(row[1]), risk_band=row[2], top_category=row[3],
        illicit=illicit, vc_business=vc, action=action,
        categories=_split(row[4]), own_categories=_split(row[5]), min_hops=row[6], direct_usd=_r(row[7]),
        indirect_usd=_r(row[8]), volume_in_usd=_r(row[9]), volume_out_usd=_r(row[10]),
        exposures=exposures, indicators=indicators, **base,
    )
    if explain:
        res.evidence = explain_paths(store, int(row[0]), run.run_id, chain=c)
    return res


def _add(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else round(a + b, 2)


def _worst(verdicts_: Iterable[tuple[str, Verdict]]) -> Verdict:
    best: tuple[str, Verdict] | None = None
    for c, v in verdicts_:
        if v.band is None:
            continue
        if best is None or (v.score or 0.0) > (best[1].score or 0.0):
            best = (c, v)
    if best is None:
        return NO_VERDICT
    c, v = best
    return Verdict(v.score, v.band, v.reason, v.top_category, v.confidence, c)


def combined_action(run: Provenance, illicit_band: str | None, vc_band: str | None,
                    actions: Iterable[str | None]) -> str | None:
    """The action that follows from the combined verdicts, by the run's profile (its ``[action]`` thresholds);
    the worst per-chain action when the run does not record them."""
    acts = [a for a in actions if a is not None]
    if not acts:
        return None
    settings = (run.profile_settings or {}).get("action")
    if isinstance(settings, dict) and illicit_band is not None and vc_band is not None:
        from ..profiles import Action

        try:
            return Action(**settings).decide(illicit_band, vc_band)
        except (TypeError, ValueError):
            pass
    return max(acts, key=ACTIONS.index)


def combine(value: str, address: str, run: Provenance, answers: Sequence[LookupResult]) -> LookupResult:
    """The answer over several chains of one EVM address: per axis the worst chain's verdict (with its chain),
    the action the run's profile gives for those two bands, the union of categories, the nearest hop, summed
    amounts and volumes, and every label, exposure and indicator with its chain (exposures largest first)."""
    ok = [a for a in answers if a.status == "ok"]
    chains = [a.chain or "" for a in answers]
    res = LookupResult(input=value, status="ok" if ok else "unknown", address=address, chain=MULTI_CHAIN,
                       reason="", provenance=run, chains=chains, per_chain=list(answers))
    res.labels = [lab for a in answers for lab in a.labels]
    if not ok:
        res.reason = "; ".join(f"{a.chain}: {a.reason}" for a in answers)
        return res
    worst = max(ok, key=lambda a: (a.risk_score or 0.0, -chain_order(a.chain or "")[0]))
    res.risk_score, res.risk_band, res.top_category = worst.risk_score, worst.risk_band, worst.top_category
    res.illicit = _worst((a.chain or "", a.illicit) for a in ok)
    res.vc_business = _worst((a.chain or "", a.vc_business) for a in ok)
    res.action = combined_action(run, res.illicit.band, res.vc_business.band, (a.action for a in ok))
    seen: dict[str, None] = {}
    own: dict[str, None] = {}
    for a in [worst, *ok]:
        seen.update(dict.fromkeys(a.categories))
        own.update(dict.fromkeys(a.own_categories))
    res.categories, res.own_categories = list(seen), list(own)
    hops = [a.min_hops for a in ok if a.min_hops is not None]
    res.min_hops = min(hops) if hops else None
    for f in ("direct_usd", "indirect_usd", "volume_in_usd", "volume_out_usd"):
        total: float | None = None
        for a in ok:
            total = _add(total, getattr(a, f))
        setattr(res, f, total)
    res.exposures = sort_exposures(e for a in ok for e in a.exposures)
    res.indicators = sorted((i for a in ok for i in a.indicators),
                            key=lambda i: (-i.severity, i.indicator, chain_order(i.chain or "")))
    beh = [(a.chain, a.behaviour) for a in ok if a.behaviour]
    if beh:
        c, b = max(beh, key=lambda t: float(t[1].get("score") or 0.0))
        res.behaviour = {**b, "chain": c}
    if any(a.evidence is not None for a in answers):
        res.evidence = [p for a in answers for p in (a.evidence or [])]
    others = [f"{a.chain}: {a.risk_band or a.status}" for a in answers if a is not worst]
    res.reason = f"worst on {worst.chain}: {worst.reason}" + (f" (also {'; '.join(others)})" if others else "")
    return res


BEHAVIOUR_COLUMNS = ("behaviour_score", "behaviour_features", "behaviour_values", "behaviour_contributions")


def behaviour_of(store: Store, address_id: int, run_id: str) -> dict[str, Any] | None:
    """The behaviour part of one scored address: ``{score, behaves_like, sentence, top: [{feature, value,
    contribution, meaning}]}``; None when the run had no behaviour part (model off, or an older run)."""
    if not has_column(store, "scores", "behaviour_score"):
        return None
    rows = store.execute(f"SELECT {', '.join(BEHAVIOUR_COLUMNS)} FROM scores WHERE address_id = ? AND run_id = ?",
                         [address_id, run_id]).fetchall()
    if not rows or rows[0][0] is None:
        return None
    return behaviour_dict(*rows[0])


def behaviour_dict(score: float, feats: Sequence[str] | None, values: Sequence[float] | None,
                   contribs: Sequence[float] | None) -> dict[str, Any]:
    from ..engine.behaviour import behaves_like
    from ..engine.features import FEATURES

    meaning = {f.name: f.meaning for f in FEATURES}
    top = [{"feature": f, "value": _r(v, 4), "contribution": _r(c, 3), "meaning": meaning.get(f)}
           for f, v, c in zip(feats or [], values or [], contribs or [], strict=False)]
    like = "illicit" if score >= 5.0 else "ordinary"
    return {"score": _r(score), "behaves_like": like, "sentence": behaves_like(float(score), top), "top": top}


def sort_exposures(exposures: Iterable[Exposure]) -> list[Exposure]:
    """Largest first; ties by category, direction, hop class, labelled before inferred, then chain (the
    contract's order)."""
    return sorted(exposures, key=lambda e: (-e.usd, e.category, e.direction, e.hop_class, e.inferred,
                                            chain_order(e.chain or "")))


def explain_paths(store: Store, address: str | int, run_id: str, top: int = 3,
                  chain: str | None = None) -> list[dict[str, Any]]:
    """Evidence paths (hop by hop) from :mod:`chainrisk.engine.evidence`, each as a dict with its plain ``sentence``
    and the ``chain`` of its transfers (every hop of a path is on that chain). ``address`` is an address (its own
    chain) or an ``addresses.id`` (any chain; then give ``chain``).

    The store must be writable the first time a run is explained (the evidence module builds helper tables)."""
    from ..engine import evidence  # at call time: networkx only for --explain, not for every lookup

    if chain is None:
        parsed = try_parse(address) if isinstance(address, str) else None
        chain = parsed.chain if isinstance(parsed, Address) else None
    out = []
    for p in evidence.evidence_paths(store, address, run_id=run_id, top=top):
        d = p.to_dict()
        d.setdefault("sentence", evidence.describe_path(p))
        d["chain"] = chain
        for hop in d.get("transfers") or []:
            if isinstance(hop, dict):
                hop.setdefault("chain", chain)
        out.append(d)
    return out


def lookup(store: Store, addresses: Iterable[str] | str, *, run_id: str | None = None,
           explain: bool = False, chain: str | None = None) -> list[LookupResult]:
    """Look up ``addresses`` (0x hex in any case, TRON base58) in ``run_id`` (default: the latest complete run).

    An EVM address is one key on every EVM chain: it is answered for each chain where the store has activity or
    labels of it (``per_chain``), under a combined verdict (the worst per axis, the action that follows, chain
    ``evm``); ``chain`` narrows every answer to that chain. Returns one :class:`LookupResult` per input, in input
    order. Raises :class:`NoScoringRun` when the store has no complete scoring run (or not ``run_id``), and
    :class:`UsageError` for a chain that is not known.
    """
    if isinstance(addresses, str):
        addresses = [addresses]
    check_chain(chain)
    run = resolve_run(store, run_id)
    made = ensure_indexes_once(store)
    if made:
        log.info("created lookup indexes %s", ", ".join(made))
    return [lookup_one(store, a, run, explain=explain, chain=chain) for a in addresses]


