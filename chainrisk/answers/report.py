"""Evidence reports for a suspicious-activity filing: one self-contained HTML, PDF or Markdown file per address.

    >>> chainrisk.report(st, "0xabc...", "case-0xabc.pdf", lang="zh-CN", customer_ref="C-2026-0042",
    ...                  note="customer says the funds come from salary", disposition="reported")

The HTML has no scripts and loads nothing: styles are inline, the exposure chart and the drawing of the evidence
subgraph are SVG generated here (scaled by their ``viewBox``, so they fit any width and an A4 page), so the file
opens in any browser without chainrisk. The PDF is that HTML printed by headless Chromium (``chromium
--headless --print-to-pdf``; :func:`render_pdf`), A4, with page numbers.

Contents, in the order a compliance officer reads them: the decision (the action, the two verdicts and the
combined view; for an address without data, a plain statement that nothing is known and that this is not a clean
bill of health), the case (customer reference, disposition, the analyst's note, sign-off), why (own labels and the
exposure summary, not the evidence itself), the labels with their sources, the exposure table and chart, the
behaviour as sentences with their figures, the top counterparties, the evidence paths with their drawing and
transfers (tx hashes linked to the chain's block explorer), the largest transfers, and the provenance (run,
profile, data as-of, label sources, chainrisk version). Every human-facing word comes from
:mod:`chainrisk.i18n` (``lang="en"`` or ``"zh-CN"``); figures, hashes and addresses are the same in both.
"""

from __future__ import annotations

import html
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import i18n
from ..address import Address, try_parse
from ..errors import InvalidAddress, UsageError
from ..store import Store, resolve_run
from ..version import __version__
from .links import address_url, explorer_name, tx_url
from .lookup import Exposure, LookupResult, lookup_one

log = logging.getLogger(__name__)

DISPOSITIONS = ("cleared", "monitor", "sever", "reported")
SUFFIXES = (".html", ".htm", ".md", ".markdown", ".pdf")
TOP_COUNTERPARTIES = 10
WHY_TOP = 3
WHY_MIN_SHARE = 0.05

_BAND_COLOUR = {"severe": "#b71c1c", "high": "#e65100", "medium": "#f9a825", "low": "#0277bd", "none": "#2e7d32"}
_ACTION_COLOUR = {"sever_and_report": "#b71c1c", "report": "#b71c1c", "sever": "#6a1b9a", "review": "#f9a825",
                  "none": "#2e7d32"}
_SEGMENTS = (("in", "direct", "#c62828", "legend_in_direct"), ("in", "indirect", "#ef9a9a", "legend_in_indirect"),
             ("out", "direct", "#1565c0", "legend_out_direct"), ("out", "indirect", "#90caf9", "legend_out_indirect"))


@dataclass
class CaseInfo:
    """What the analyst adds to a report: all optional. ``history`` (from a stored case) is a list of entries
    ``{at, actor, kind, text}``, oldest first."""

    customer_ref: str | None = None
    note: str | None = None
    disposition: str | None = None
    analyst: str | None = None
    case_id: str | None = None
    title: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.disposition is not None and self.disposition not in DISPOSITIONS:
            raise UsageError(f"unknown disposition {self.disposition!r}; dispositions: {', '.join(DISPOSITIONS)}")

    @property
    def empty(self) -> bool:
        return not (self.customer_ref or self.note or self.disposition or self.analyst or self.case_id)


@dataclass
class ReportData:
    result: LookupResult
    transfers: list[dict[str, Any]]        # transfers of the evidence paths (unique, in time order)
    largest: list[dict[str, Any]]          # the address's largest transfers
    evidence_note: str | None              # why there are no evidence paths (a catalogue key), when there are none
    generated_at: str
    version: str
    counterparties: list[dict[str, Any]] = field(default_factory=list)
    more_counterparties: tuple[int, float] = (0, 0.0)   # (how many, their USD) beyond the table
    case: CaseInfo = field(default_factory=CaseInfo)
    lang: str = "en"


def collect(store: Store, address: str, *, run_id: str | None = None, top: int = 3,
            generated_at: datetime | None = None, case: CaseInfo | None = None,
            lang: str | None = None) -> ReportData:
    """Everything a report shows, as data (the renderers only format it)."""
    parsed = try_parse(address)
    if not isinstance(parsed, Address):
        raise InvalidAddress(address, parsed.reason)
    lang = i18n.resolve(lang)
    run = resolve_run(store, run_id)
    res = lookup_one(store, address, run)
    note = None
    if res.status == "ok":
        try:
            from .lookup import explain_paths

            res.evidence = explain_paths(store, res.address or address, run.run_id, top=top)
            if not res.evidence:
                note = "report.no_paths"
        except UsageError as e:
            note = str(e)
    else:
        note = "report.no_paths_unscored"
    seen: dict[tuple[str, int], dict[str, Any]] = {}
    for p in res.evidence or []:
        for t in p.get("transfers", []):
            seen.setdefault((t["tx_hash"], int(t.get("log_index", 0))), t)
    transfers = sorted(seen.values(), key=lambda t: (t.get("block_number") or 0, t.get("log_index") or 0))
    aid = _address_id(store, parsed)
    largest: list[dict[str, Any]] = []
    cps: list[dict[str, Any]] = []
    more = (0, 0.0)
    if aid is not None:
        _load_transfers(store, aid)
        try:
            largest = _largest(store, aid)
            cps, more = _counterparties(store, aid, run.run_id)
        finally:
            store.execute(f"DROP TABLE IF EXISTS {_T}")
    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return ReportData(res, transfers, largest, note, when, __version__, cps, more, case or CaseInfo(), lang)


def _address_id(store: Store, a: Address) -> int | None:
    found = store.execute("SELECT id FROM addresses WHERE address = ? AND chain = ?", [a.address, a.chain]).fetchall()
    return int(found[0][0]) if found else None


_T = "__chainrisk_report_t"


def _largest(store: Store, aid: int, limit: int = 20) -> list[dict[str, Any]]:
    """The address's largest transfers by USD (from the temp table :func:`_load_transfers` filled)."""
    cols = ["tx_hash", "log_index", "block_number", "time", "token", "amount", "usd", "from_address", "to_address",
            "value"]
    rows = store.execute(
        f"""
        SELECT t.tx_hash, t.log_index, t.block_number, strftime(t.block_time, '%Y-%m-%dT%H:%M:%SZ'), t.symbol,
               t.amount, t.usd, fa.address, ta.address, t.value
        FROM (SELECT * FROM {_T} ORDER BY coalesce(usd, 0) DESC, block_number, log_index LIMIT $n) t
        JOIN addresses fa ON fa.id = t.from_id
        JOIN addresses ta ON ta.id = t.to_id
        ORDER BY coalesce(t.usd, 0) DESC, t.block_number, t.log_index
        """, {"n": limit},
    ).fetchall()
    return [dict(zip(cols, r, strict=True)) for r in rows]


def _load_transfers(store: Store, aid: int) -> None:
    """The address's transfers, read once (one scan) into a temp table for the largest transfers and the
    counterparties."""
    store.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {_T} AS
        SELECT t.tx_hash, t.log_index, t.block_number, t.block_time, t.from_id, t.to_id, t.amount, k.symbol,
               t.amount * k.usd_peg AS usd, coalesce(CAST(t.value AS VARCHAR), t.value_raw) AS value
        FROM transfers t JOIN tokens k ON k.id = t.token_id
        WHERE t.from_id = $id OR t.to_id = $id
        """, {"id": aid})


def _counterparties(store: Store, aid: int, run_id: str, limit: int = TOP_COUNTERPARTIES
                    ) -> tuple[list[dict[str, Any]], tuple[int, float]]:
    """The address's counterparties by USD exchanged (both directions), the largest ``limit`` with their labels
    and their band in the run; and (count, USD) of the rest."""
    rows = store.execute(
        f"""
        WITH t AS (
            SELECT CASE WHEN from_id = $id THEN to_id ELSE from_id END AS peer,
                   to_id = $id AS incoming, coalesce(usd, 0) AS usd, block_time
            FROM {_T} WHERE from_id <> to_id),
        g AS (
            SELECT peer, sum(usd) FILTER (WHERE incoming) AS usd_in, sum(usd) FILTER (WHERE NOT incoming) AS usd_out,
                   count(*) AS n, min(block_time) AS first, max(block_time) AS last, sum(usd) AS total
            FROM t GROUP BY peer),
        ranked AS (SELECT *, row_number() OVER (ORDER BY total DESC, peer) AS rk, count(*) OVER () AS n_all,
                          sum(total) OVER () AS usd_all FROM g)
        SELECT r.rk, a.address, a.chain, coalesce(r.usd_in, 0), coalesce(r.usd_out, 0), r.n,
               strftime(r.first, '%Y-%m-%d'), strftime(r.last, '%Y-%m-%d'), r.n_all, r.usd_all, s.band
        FROM ranked r JOIN addresses a ON a.id = r.peer
        LEFT JOIN scores s ON s.address_id = r.peer AND s.run_id = $run
        WHERE r.rk <= $n ORDER BY r.rk
        """, {"id": aid, "run": run_id, "n": limit}).fetchall()
    labels = _labels_of(store, [(r[1], r[2]) for r in rows])
    out = [{"address": r[1], "chain": r[2], "usd_in": float(r[3]), "usd_out": float(r[4]), "transfers": int(r[5]),
            "first": r[6], "last": r[7], "band": r[10], "category": labels.get((r[1], r[2]), (None, None))[0],
            "name": labels.get((r[1], r[2]), (None, None))[1]} for r in rows]
    n_all, usd_all = (int(rows[0][8]), float(rows[0][9] or 0)) if rows else (0, 0.0)
    shown = sum(c["usd_in"] + c["usd_out"] for c in out)
    return out, (max(0, n_all - len(out)), max(0.0, usd_all - shown))


def _labels_of(store: Store, keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str | None]]:
    """The most confident active label (category, name) of each (address, chain), by point lookups."""
    out: dict[tuple[str, str], tuple[str, str | None]] = {}
    for address, chain in keys:
        row = store.execute(
            "SELECT category, name FROM labels WHERE address = ? AND chain = ? AND valid_to IS NULL"
            " ORDER BY confidence DESC, category LIMIT 1", [address, chain]).fetchall()
        if row:
            out[(address, chain)] = (row[0][0], row[0][1])
    return out


def report(store: Store, address: str, output_path: str | os.PathLike[str], *, run_id: str | None = None,
           top: int = 3, generated_at: datetime | None = None, lang: str | None = None,
           customer_ref: str | None = None, note: str | None = None, disposition: str | None = None,
           analyst: str | None = None, case: CaseInfo | None = None) -> Path:
    """Write the evidence report of ``address`` to ``output_path`` (``.html``/``.htm``, ``.pdf`` or ``.md``).

    ``lang`` is ``en`` or ``zh-CN`` (default: ``$CHAINRISK_LANG``, else English). ``customer_ref``, ``note``,
    ``disposition`` (cleared|monitor|sever|reported) and ``analyst`` go into the case section (or give a whole
    :class:`CaseInfo` as ``case``). A PDF needs headless Chromium (:func:`find_chromium`); without it a
    :class:`~chainrisk.errors.UsageError` says how to install it, before any work. Evidence paths need a writable
    store the first time a run is explained (see :mod:`chainrisk.engine.evidence`). Returns the path written
    (atomically: a temp file renamed into place)."""
    out = Path(output_path)
    suffix = out.suffix.lower()
    lang = i18n.resolve(lang)
    if suffix not in SUFFIXES:
        raise UsageError(i18n.t("error.report_suffix", lang, name=repr(out.name)))
    chromium = find_chromium(lang) if suffix == ".pdf" else None
    if case is None:
        case = CaseInfo(customer_ref=customer_ref, note=note, disposition=disposition, analyst=analyst)
    data = collect(store, address, run_id=run_id, top=top, generated_at=generated_at, case=case, lang=lang)
    if suffix in (".md", ".markdown"):
        _write_text(out, render_markdown(data))
    elif suffix == ".pdf":
        assert chromium is not None
        render_pdf(render_html(data), out, chromium=chromium, lang=lang)
    else:
        _write_text(out, render_html(data))
    return out


def _write_text(out: Path, text: str) -> None:
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)


# -- PDF through headless Chromium ------------------------------------------------------------------------------

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium(lang: str = "en") -> str:
    """The Chromium (or Chrome) executable: ``$CHAINRISK_CHROMIUM``, else the first of :data:`CHROMIUM_NAMES` on
    the PATH. Raises a :class:`~chainrisk.errors.UsageError` saying how to install it when there is none."""
    env = os.environ.get("CHAINRISK_CHROMIUM", "").strip()
    if env:
        found = shutil.which(env)
        if found:
            return found
        raise UsageError(i18n.t("error.no_chromium", lang) + f" (CHAINRISK_CHROMIUM={env!r} is not executable)")
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise UsageError(i18n.t("error.no_chromium", lang))


def render_pdf(html_text: str, out: Path, *, chromium: str | None = None, lang: str = "en",
               timeout: float = 120.0) -> Path:
    """Print ``html_text`` to the PDF ``out`` with headless Chromium (A4 from the page's ``@page`` rule, no
    browser header or footer). Nothing is fetched: the HTML is self-contained and networking is off."""
    exe = chromium or find_chromium(lang)
    with tempfile.TemporaryDirectory(prefix="chainrisk-pdf-") as tmpdir:
        src = Path(tmpdir) / "report.html"
        src.write_text(html_text, encoding="utf-8")
        pdf = Path(tmpdir) / "report.pdf"
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
               "--disable-extensions", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--disable-default-apps", "--mute-audio", "--no-pdf-header-footer",
               "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",   # nothing leaves the machine
               f"--user-data-dir={Path(tmpdir) / 'profile'}", f"--print-to-pdf={pdf}", src.as_uri()]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise UsageError(i18n.t("error.chromium_failed", lang, detail=str(e))) from None
        if not pdf.exists() or pdf.stat().st_size == 0:
            detail = (proc.stderr or proc.stdout or f"exit {proc.returncode}").strip().splitlines()[-3:]
            raise UsageError(i18n.t("error.chromium_failed", lang, detail=" / ".join(detail)))
        log.info("PDF printed by %s in %.2f s", exe, time.perf_counter() - t0)
        tmp = out.with_name(f".{out.name}.tmp")
        shutil.copyfile(pdf, tmp)
        os.replace(tmp, out)
    return out


# -- shared formatting ----------------------------------------------------------------------------------------


def _short(addr: str | None) -> str:
    if not addr:
        return "-"
    return f"{addr[:6]}…{addr[-4:]}" if len(addr) > 14 else addr


def _ts(x: Any) -> str:
    return x.strftime("%Y-%m-%d %H:%M:%S") if hasattr(x, "strftime") else str(x or "-")


def _usd(x: Any) -> str:
    return "-" if x is None else f"{float(x):,.2f}"


def _amount(x: Any) -> str:
    if not isinstance(x, (int, float)):
        return ""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}"


def _pct(x: float) -> str:
    return f"{x:.1%}"


def exposure_sentence(e: Exposure, lang: str) -> str:
    """One exposure line in words: 'received 12,400 USD from mixer via 2 intermediaries (3.1% of incoming)'."""
    cat = i18n.category(e.category, lang) + (i18n.t("report.inferred", lang) if e.inferred else "")
    verb = "received" if e.direction == "in" else "sent"
    fields = {"usd": f"{e.usd:,.0f}", "cat": cat, "share": _pct(e.share), "n": e.min_hop - 1}
    if e.min_hop <= 1:
        return i18n.t(f"sentence.{verb}_direct", lang, **fields)
    return i18n.t(f"sentence.{verb}_via" + ("_one" if e.min_hop == 2 else ""), lang, **fields)


def summarise_exposures(exposures: list[Exposure]) -> tuple[list[Exposure], list[Exposure]]:
    """Exposure lines merged per (category, direction, inferred), largest share first: the ones worth a line
    (at most :data:`WHY_TOP`, each at least :data:`WHY_MIN_SHARE` of its direction) and the rest (folded)."""
    merged: dict[tuple[str, str, bool], list[float]] = {}
    for e in exposures:
        m = merged.setdefault((e.category, e.direction, e.inferred), [0.0, 0.0, float(e.min_hop)])
        m[0] += e.usd
        m[1] += e.share
        m[2] = min(m[2], e.min_hop)
    lines = sorted((Exposure(c, d, "direct" if v[2] <= 1 else "indirect", v[0], min(1.0, v[1]), int(v[2]), inf)
                    for (c, d, inf), v in merged.items()), key=lambda e: (-e.share, e.category, e.direction))
    shown = [e for e in lines if e.share >= WHY_MIN_SHARE][:WHY_TOP]
    return shown, [e for e in lines if e not in shown]


def why_lines(r: LookupResult, lang: str) -> list[str]:
    """The short "why" of a verdict in ``lang``: own active labels, then the main exposures (the folded rest in one
    line), then the behaviour by name. The evidence (paths, transfers) is shown apart, never repeated here."""
    out: list[str] = []
    for lab in r.labels:
        if lab.active:
            out.append(i18n.t("sentence.labelled", lang, cat=i18n.category(lab.category, lang),
                              source=lab.source + (f" {lab.source_version}" if lab.source_version else ""),
                              confidence=lab.confidence))
    shown, rest = summarise_exposures(r.exposures)
    out += [exposure_sentence(e, lang) for e in shown]
    if rest:
        cats = sorted({i18n.category(e.category, lang) for e in rest})
        out.append(i18n.t("sentence.smaller", lang, n=len(rest), cats=", ".join(cats),
                          usd=f"{sum(e.usd for e in rest):,.0f}"))
    for ind in r.indicators:
        out.append(i18n.t("indicator.generic", lang, name=_indicator_name(ind.indicator, lang),
                          severity=ind.severity))
    if r.behaviour and r.behaviour.get("sentence"):
        out.append(str(r.behaviour["sentence"]))
    return out


_INDICATOR_NAMES = {"collector": ("collector (funnel)", "归集地址"), "pass_through": ("pass-through", "过渡地址"),
                    "short_lived": ("short-lived wallet", "短期使用钱包"),
                    "mixer_funded_fresh": ("fresh address funded by a mixer", "新地址由混币器注资"),
                    "structuring": ("structuring", "拆分交易"), "forwarding": ("forwarding", "快速转移")}


def _indicator_name(name: str, lang: str) -> str:
    en, zh = _INDICATOR_NAMES.get(name, (name.replace("_", " "), name.replace("_", " ")))
    return zh if lang == "zh-CN" else en


def indicator_sentence(name: str, severity: int, ev: Any, lang: str) -> str:
    """A behavioural indicator as one sentence with its figures (never the raw evidence dict)."""
    e = ev if isinstance(ev, dict) else {}

    def n(key: str, digits: int = 0) -> str:
        v = e.get(key)
        return f"{float(v):,.{digits}f}" if isinstance(v, (int, float)) else "?"

    def share(key: str) -> str:
        v = e.get(key)
        return _pct(float(v)) if isinstance(v, (int, float)) else "?"

    def day(key: str) -> str:
        v = e.get(key)
        return str(v)[:10] if v else "?"

    sev = " " + i18n.t("indicator.severity", lang, severity=severity)
    try:
        if name == "collector":
            text = i18n.t("indicator.collector", lang, senders=n("distinct_senders"), inflow=n("inflow_usd"),
                          inflows=n("inflows"), forwarded=share("forwarded_share"), recipients=n("recipients"),
                          hold=n("mean_holding_hours", 1))
        elif name == "pass_through":
            text = i18n.t("indicator.pass_through", lang, inflow=n("inflow_usd"), senders=n("senders"),
                          forwarded=share("forwarded_share"), window=n("window_hours"), residual=n("residual_usd"))
        elif name == "short_lived":
            text = i18n.t("indicator.short_lived", lang, days=n("active_days", 1), first=day("first_activity"),
                          last=day("last_activity"), inflow=n("inflow_usd"), forwarded=share("forwarded_share"))
        elif name == "mixer_funded_fresh":
            text = i18n.t("indicator.mixer_funded_fresh", lang, n=n("mixer_inflows"), usd=n("mixer_inflow_usd"),
                          window=n("fresh_window_hours"), first=day("first_seen"))
        elif name == "structuring":
            band = e.get("band_usd") or [None, None]
            low = f"{float(band[0]):,.0f}" if isinstance(band, list) and band and band[0] is not None else "?"
            direction = i18n.t("indicator.sent_word" if e.get("direction") == "out" else "indicator.received_word",
                               lang)
            text = i18n.t("indicator.structuring", lang, count=n("transfers_just_under"), direction=direction,
                          threshold=n("threshold_usd"), low=low, window=n("window_days"), usd=n("just_under_usd"),
                          first=day("first"), last=day("last"))
        elif name == "forwarding":
            window = e.get("window_s")
            text = i18n.t("indicator.forwarding", lang, taint=n("taint_usd"), cat=i18n.category(e.get("category"), lang),
                          hop=n("hop"), forwarded=n("forwarded_usd"),
                          window=f"{float(window) / 3600:,.0f}" if isinstance(window, (int, float)) else "?")
        else:
            return i18n.t("indicator.generic", lang, name=_indicator_name(name, lang), severity=severity)
    except (TypeError, ValueError):
        return i18n.t("indicator.generic", lang, name=_indicator_name(name, lang), severity=severity)
    return text + sev


def axis_reason(r: LookupResult, axis: str, lang: str) -> str:
    """The reason of one verdict axis in ``lang``. English is the engine's own sentence; Chinese is rebuilt from
    the figures behind it (the own label, or the exposures to the axis's main category)."""
    v = r.illicit if axis == "illicit" else r.vc_business
    if lang == "en" or v.band is None:
        return v.reason or ""
    if v.band == "none" or not v.top_category:
        return i18n.t("sentence.no_illicit" if axis == "illicit" else "sentence.no_vc", lang)
    if any(lab.active and lab.category == v.top_category for lab in r.labels):
        return i18n.t("sentence.labelled_plain", lang, cat=i18n.category(v.top_category, lang))
    shown, rest = summarise_exposures([e for e in r.exposures if e.category == v.top_category])
    lines = [exposure_sentence(e, lang) for e in [*shown, *rest][:2]]
    return "；".join(lines) if lines else (v.reason or "")


def unknown_reason(r: LookupResult, lang: str) -> str:
    """Why an address is unknown, in ``lang`` (the lookup's own sentence in English)."""
    if lang == "en" or r.status != "unknown":
        return r.reason
    from .redact import LABELS_CLAUSE

    base, _, labels = r.reason.partition(LABELS_CLAUSE)
    if base.startswith("the address is in the store but not in scoring run"):
        text = i18n.t("sentence.unknown_not_in_run", lang, run=r.provenance.run_id)
    elif base.startswith("no ") and base.endswith("activity of this address is in the store"):
        text = i18n.t("sentence.unknown_no_activity", lang, chain=r.chain or "")
    else:
        return r.reason
    return text + (i18n.t("sentence.unknown_labels", lang, labels=labels) if labels else "")


def path_sentence(p: dict[str, Any], lang: str) -> str:
    """An evidence path in words (English: the engine's sentence)."""
    if lang == "en" and p.get("sentence"):
        return str(p["sentence"])
    ts = p.get("transfers") or []
    if not ts:
        return str(p.get("sentence") or "")
    hop = ts[-1] if p.get("direction") == "in" else ts[0]
    lab = p.get("counterparty_label") or {}
    who = lab.get("name") or i18n.t("sentence.path_who", lang, cat=i18n.category(p.get("category"), lang))
    n = len(ts) - 1
    via = i18n.t("sentence.path_directly", lang) if n == 0 else (
        i18n.t("sentence.path_via_one", lang) if n == 1 else i18n.t("sentence.path_via", lang, n=n))
    key = "sentence.path_in" if p.get("direction") == "in" else "sentence.path_out"
    return i18n.t(key, lang, amount=_amount(hop.get("amount")), token=hop.get("token") or "", who=who, via=via,
                  date=str(hop.get("time") or "")[:10])


# -- SVG ------------------------------------------------------------------------------------------------------


def _text_w(s: str, size: float = 12) -> float:
    """Approximate rendered width of ``s`` in px (CJK characters are about one em wide, Latin about 0.58 em)."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.58 for ch in s)


def exposure_chart_svg(r: LookupResult, lang: str = "en") -> str:
    """A horizontal stacked bar chart of USD exposure by category (incoming/outgoing x direct/indirect), drawn in a
    ``viewBox`` so it scales to the page; the legend is HTML above it."""
    cats: dict[str, dict[tuple[str, str], float]] = {}
    for ex in r.exposures:
        seg = cats.setdefault(ex.category, {})
        seg[(ex.direction, ex.hop_class)] = seg.get((ex.direction, ex.hop_class), 0.0) + ex.usd
    if not cats:
        return ""
    e = html.escape
    order = sorted(cats, key=lambda c: (-sum(cats[c].values()), c))
    names = {c: i18n.category(c, lang) for c in order}
    width = 760
    left = int(min(260, max(90, max(_text_w(n) for n in names.values()) + 16)))
    right, bar_h, gap, top = 110, 20, 8, 6
    plot_w = width - left - right
    vmax = max(sum(v.values()) for v in cats.values()) or 1.0
    height = top + len(order) * (bar_h + gap) + 4
    legend = "".join(f'<span class="key"><i style="background:{colour}"></i>{e(i18n.t("report." + key, lang))}</span>'
                     for _d, _h, colour, key in _SEGMENTS)
    parts = [f'<div class="legend">{legend}</div>',
             f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'preserveAspectRatio="xMinYMin meet" role="img" aria-label="{e(i18n.t("report.chart_label", lang))}" '
             'font-size="12">']
    for i, c in enumerate(order):
        y = top + i * (bar_h + gap)
        parts.append(f'<text x="{left - 8}" y="{y + bar_h * 0.7:.1f}" text-anchor="end">{e(names[c])}</text>')
        x0 = float(left)
        for d, h, colour, key in _SEGMENTS:
            v = cats[c].get((d, h), 0.0)
            if v <= 0:
                continue
            w = max(1.0, plot_w * v / vmax)
            parts.append(f'<rect x="{x0:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                         f'<title>{e(names[c])}, {e(i18n.t("report." + key, lang))}: {v:,.2f} USD</title></rect>')
            x0 += w
        parts.append(f'<text x="{x0 + 6:.1f}" y="{y + bar_h * 0.7:.1f}">{sum(cats[c].values()):,.0f} USD</text>')
    parts.append("</svg>")
    return "".join(parts)


def _layout(r: LookupResult) -> tuple[dict[str, tuple[int, int]], list[dict[str, Any]], dict[str, str]]:
    """Deterministic layered layout of the evidence subgraph: layer = signed hop distance from the address
    (sources of funds first, destinations last); rows ordered by address within a layer. Returns positions,
    the unique transfers and the labels (category) of labelled nodes."""
    subject = r.address or ""
    layer: dict[str, int] = {subject: 0}
    names: dict[str, str] = {}
    edges: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    for p in r.evidence or []:
        ts = p.get("transfers", [])
        sign = -1 if p.get("direction") == "in" else 1
        chain = [t["from_address"] for t in ts] + ([ts[-1]["to_address"]] if ts else [])
        n = len(chain) - 1
        for i, a in enumerate(chain):
            dist = (n - i) if sign < 0 else i
            cand = sign * dist
            if a not in layer or abs(cand) < abs(layer[a]):
                layer[a] = cand
        for t in ts:
            for side in ("from", "to"):
                labs = t.get(f"{side}_labels") or []
                if labs and t[f"{side}_address"] not in names:
                    names[t[f"{side}_address"]] = labs[0].get("name") or labs[0].get("category") or ""
            edges.setdefault((t["from_address"], t["to_address"], t["tx_hash"], int(t.get("log_index") or 0)), t)
    by_layer: dict[int, list[str]] = {}
    for a, lv in layer.items():
        by_layer.setdefault(lv, []).append(a)
    pos: dict[str, tuple[int, int]] = {}
    for lv, nodes in by_layer.items():
        for row, a in enumerate(sorted(nodes)):
            pos[a] = (lv, row)
    return pos, list(edges.values()), names


def _bundle(edges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parallel transfers between the same two addresses as one arrow: count, amount (per token, or USD when the
    tokens differ) and date range, so their labels never overlap."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for t in edges:
        groups.setdefault((t["from_address"], t["to_address"]), []).append(t)
    out = []
    for (a, b), ts in sorted(groups.items()):
        ts.sort(key=lambda t: (t.get("block_number") or 0, t.get("log_index") or 0))
        tokens = {t.get("token") for t in ts}
        if len(tokens) == 1:
            amt = f"{_amount(sum(float(t.get('amount') or 0) for t in ts))} {ts[0].get('token') or ''}".strip()
        else:
            amt = f"{_amount(sum(float(t.get('usd') or 0) for t in ts))} USD"
        d0, d1 = str(ts[0].get("time") or "")[:10], str(ts[-1].get("time") or "")[:10]
        out.append({"from": a, "to": b, "n": len(ts), "amount": amt, "dates": d0 if d0 == d1 else f"{d0} – {d1}",
                    "tx": [t["tx_hash"] for t in ts]})
    return out


def subgraph_svg(r: LookupResult, lang: str = "en") -> str:
    """The evidence paths drawn as a layered graph (nodes: addresses with their labels; arrows: transfers, parallel
    ones bundled), sources of funds left and destinations right; when that would be wider than a page (many hop
    layers), sources at the top and destinations at the bottom. Drawn in a ``viewBox``: it scales to any width."""
    if not r.evidence:
        return ""
    pos, edges, names = _layout(r)
    layers = sorted({lv for lv, _ in pos.values()})
    rows = max(row for _, row in pos.values()) + 1
    node_w, node_h = 168, 46
    vertical = len(layers) > 4
    if vertical:   # layers are rows, nodes of a layer side by side
        col_w, row_h = node_w + 24, node_h + 84
        width, height = 20 + rows * col_w, 20 + len(layers) * row_h
    else:
        col_w, row_h = node_w + 150, node_h + 40
        width, height = 20 + len(layers) * col_w - 130, 20 + rows * row_h
    e = html.escape

    def xy(a: str) -> tuple[float, float]:
        lv, row = pos[a]
        li = layers.index(lv)
        if vertical:
            return 10 + row * col_w + (col_w - node_w) / 2, 10 + li * row_h
        return 10 + li * col_w, 10 + row * row_h

    parts = [f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'preserveAspectRatio="xMidYMin meet" role="img" aria-label="{e(i18n.t("report.graph_label", lang))}" '
             f'style="max-width:{width}px" font-size="12">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>']
    labels = []
    for b in _bundle(edges):
        (x1, y1), (x2, y2) = xy(b["from"]), xy(b["to"])
        if vertical:
            sx, sy, tx, ty = x1 + node_w / 2, y1 + node_h, x2 + node_w / 2, y2
            if y2 <= y1:
                sy, ty = y1, y2 + node_h
        else:
            sx, sy, tx, ty = x1 + node_w, y1 + node_h / 2, x2, y2 + node_h / 2
            if x2 <= x1:   # backwards or same layer: leave from the left, enter from the right
                sx, tx = x1, x2 + node_w
        mx, my = (sx + tx) / 2, (sy + ty) / 2
        width_px = max(3.0, min(7.0, 1.2 + b["n"]))
        parts.append(f'<line x1="{sx:.1f}" y1="{sy:.1f}" x2="{tx:.1f}" y2="{ty:.1f}" stroke="#666" '
                     f'stroke-width="{1.2 if b["n"] == 1 else width_px / 2:.1f}" marker-end="url(#arrow)">'
                     f'<title>{e(", ".join(b["tx"]))}</title></line>')
        first = b["amount"] if b["n"] == 1 else f'{b["amount"]} · {i18n.t("report.n_transfers", lang, n=b["n"])}'
        labels.append(f'<text x="{mx:.1f}" y="{my - 4:.1f}" text-anchor="middle" class="el">{e(first)}</text>'
                      f'<text x="{mx:.1f}" y="{my + 10:.1f}" text-anchor="middle" class="el dim">'
                      f'{e(b["dates"])}</text>')
    for a in sorted(pos):
        x, y = xy(a)
        is_subject = a == r.address
        labelled = a in names
        fill = "#e3f2fd" if is_subject else ("#ffebee" if labelled else "#f5f5f5")
        stroke = "#0d47a1" if is_subject else ("#b71c1c" if labelled else "#9e9e9e")
        title = i18n.t("report.this_address", lang) if is_subject else (
            names.get(a) or i18n.t("report.unlabelled", lang))
        while _text_w(title, 12) > node_w - 10 and len(title) > 2:
            title = title[:-2] + "…"
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{node_w}" height="{node_h}" rx="6" fill="{fill}" '
                     f'stroke="{stroke}" stroke-width="{2 if is_subject else 1.2}"><title>{e(a)}</title></rect>')
        parts.append(f'<text x="{x + node_w / 2:.1f}" y="{y + 19:.1f}" text-anchor="middle" '
                     f'font-weight="bold">{e(title)}</text>'
                     f'<text x="{x + node_w / 2:.1f}" y="{y + 36:.1f}" text-anchor="middle" '
                     f'font-family="monospace" font-size="11">{e(_short(a))}</text>')
    parts += labels   # labels last: drawn over lines and boxes, each with a white halo
    parts.append("</svg>")
    return "".join(parts)


# -- HTML -----------------------------------------------------------------------------------------------------

_CSS = """
*{box-sizing:border-box}
body{font-family:"Helvetica Neue",Helvetica,Arial,"PingFang SC","Microsoft YaHei","WenQuanYi Micro Hei",
"Noto Sans CJK SC",sans-serif;margin:24px auto;max-width:1100px;padding:0 20px;color:#222;line-height:1.45;
font-size:14px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:26px;
break-after:avoid}
a{color:#0d47a1;text-decoration:none}a:hover{text-decoration:underline}
.mono{font-family:monospace;word-break:break-all}.muted{color:#666}
.head{display:flex;flex-wrap:wrap;gap:4px 24px;font-size:13px;margin:6px 0 14px}
.head div span{color:#666}
.decision{border:2px solid #999;border-radius:8px;padding:12px 16px;margin:10px 0 6px;break-inside:avoid}
.action{display:inline-block;padding:6px 14px;border-radius:6px;color:#fff;font-weight:bold;font-size:18px}
.unknown{border-color:#616161;background:#fafafa}.unknown .action{background:#616161}
.band{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:bold;white-space:nowrap}
table{border-collapse:collapse;width:100%;font-size:12.5px;margin:6px 0}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}th{background:#f5f5f5}
td.num{text-align:right;white-space:nowrap}td.hash{font-family:monospace;font-size:11px;word-break:break-all}
tr{break-inside:avoid}
ul.reasons li{margin:3px 0}
.case td:first-child{width:22%;color:#444}.sign{height:42px}
.legend{font-size:12px;margin:4px 0}.legend .key{margin-right:14px;white-space:nowrap}
.legend i{display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px}
svg.chart,svg.graph{display:block;width:100%;height:auto;margin:6px auto}svg.chart{max-width:760px;margin-left:0}
svg .el{paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round;fill:#222}
svg .el.dim{fill:#666}
footer{margin-top:28px;font-size:12px;color:#666}
section.address{break-before:page;margin-top:36px;border-top:3px solid #0d47a1;padding-top:8px}
h1.addr{font-family:monospace;font-size:18px;word-break:break-all}
@page{size:A4;margin:14mm 12mm 16mm}
@media print{body{margin:0;max-width:none;padding:0;font-size:12px}h2{margin-top:18px}
a{color:#222}svg.graph{max-height:235mm}}
@media (max-width:700px){body{padding:0 8px}td.hash{font-size:10px}}
"""


def _table_html(head: list[str], rows: list[list[Any]], numeric: set[int] | None = None,
                mono: set[int] | None = None) -> str:
    """A table; a cell is text (escaped) or a ``("html", markup)`` tuple already escaped."""
    numeric, mono = numeric or set(), mono or set()
    e = html.escape

    def td(i: int, c: Any) -> str:
        body = c[1] if isinstance(c, tuple) else e(str(c))
        cls = "num" if i in numeric else ("hash" if i in mono else "")
        return f'<td class="{cls}">{body}</td>' if cls else f"<td>{body}</td>"

    out = ["<table><thead><tr>", *(f"<th>{e(h)}</th>" for h in head), "</tr></thead><tbody>"] if any(head) \
        else ["<table><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(td(i, c) for i, c in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _link(url: str | None, text: str, title: str | None = None) -> tuple[str, str]:
    e = html.escape
    t = f' title="{e(title)}"' if title else ""
    if not url:
        return ("html", f"<span{t}>{e(text)}</span>")
    return ("html", f'<a href="{e(url)}"{t} rel="noreferrer noopener">{e(text)}</a>')


def _band_badge(band: str | None, lang: str) -> str:
    colour = _BAND_COLOUR.get(band or "", "#616161")
    return f'<span class="band" style="background:{colour}">{html.escape(i18n.band(band, lang))}</span>'


def _transfer_rows(ts: list[dict[str, Any]], chain: str | None) -> list[list[Any]]:
    # a token of unknown decimals has no amount: its exact raw units are shown instead (never priced)
    return [[str(t.get("time") or "-").replace("T", " ").rstrip("Z"), str(t.get("token") or ""),
             _usd(t.get("amount")) if t.get("amount") is not None or not t.get("value") else f"{t['value']} (raw)",
             _usd(t.get("usd")),
             _link(address_url(chain, t.get("from_address")), str(t.get("from_address")), None),
             _link(address_url(chain, t.get("to_address")), str(t.get("to_address")), None),
             _link(tx_url(chain, t.get("tx_hash")), str(t.get("tx_hash")), None)] for t in ts]


def _decision_html(r: LookupResult, lang: str) -> list[str]:
    e = html.escape
    t = i18n.t
    if r.status != "ok":
        return [f'<div class="decision unknown"><span class="action">{e(t("report.unknown_title", lang))}</span>',
                f"<p><strong>{e(t('report.unknown_body', lang))}</strong></p>",
                f'<p class="muted">{e(t("report.unknown_reason", lang))}: {e(unknown_reason(r, lang))}</p></div>']
    out = []
    if r.action is not None:
        colour = _ACTION_COLOUR.get(r.action, "#616161")
        out.append(f'<div class="decision" style="border-color:{colour}"><div>{e(t("report.action", lang))}: '
                   f'<span class="action" style="background:{colour}">{e(i18n.action(r.action, lang))}</span></div>')
        rows: list[list[Any]] = []
        for axis, v in (("illicit", r.illicit), ("vc_business", r.vc_business)):
            if v.band is None:
                continue
            rows.append([t(f"axis.{axis}", lang), ("html", _band_badge(v.band, lang)),
                         f"{v.score:g}" if v.score is not None else "-", i18n.category(v.top_category, lang)
                         if v.top_category else "-",
                         i18n.t(f"confidence.{v.confidence}", lang) if v.confidence else "-",
                         axis_reason(r, axis, lang)])
        out.append(_table_html([t("report.axis", lang), t("report.band", lang), t("report.score", lang),
                                t("report.top_category", lang), t("report.confidence", lang),
                                t("report.reason", lang)], rows, {2}))
        out.append(f'<p class="muted">{e(t("report.combined_note", lang, band=i18n.band(r.risk_band, lang), score=f"{r.risk_score:g}"))}</p></div>')
    else:
        colour = _BAND_COLOUR.get(r.risk_band or "", "#616161")
        out.append(f'<div class="decision" style="border-color:{colour}">'
                   f"<p>{e(t('report.older_run', lang, band=i18n.band(r.risk_band, lang), score=f'{r.risk_score:g}'))}"
                   f"</p><p>{e(r.reason)}</p></div>")
    return out


def _case_rows(c: CaseInfo, lang: str) -> list[list[Any]]:
    t = i18n.t
    disp = t(f"disposition.{c.disposition}", lang) if c.disposition else t("report.not_given", lang)
    rows: list[list[Any]] = []
    if c.case_id:
        rows.append([t("report.case_id", lang), f"{c.case_id}" + (f" — {c.title}" if c.title else "")])
    rows += [[t("report.customer_ref", lang), c.customer_ref or t("report.not_given", lang)],
             [t("report.disposition", lang), disp],
             [t("report.note", lang), c.note or t("report.not_given", lang)],
             [t("report.analyst", lang), c.analyst or t("report.not_given", lang)]]
    return rows


def render_html(d: ReportData) -> str:
    """The report of one address as one self-contained HTML document."""
    r = d.result
    addr = r.address or r.input
    return "\n".join([*_doc_open(i18n.t("report.doc_title", d.lang, address=addr), d.lang),
                      *_address_parts(d, with_case=True), "</body></html>", ""])


def _doc_open(title: str, lang: str) -> list[str]:
    e = html.escape
    return ["<!DOCTYPE html>", f'<html lang="{e(lang)}"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(title)}</title>", f"<style>{_CSS}</style></head><body>"]


def _address_parts(d: ReportData, *, with_case: bool) -> list[str]:
    """The body of one address's report (from its heading to its footer); ``with_case=False`` leaves out the
    case section (a case report shows it once, on its cover)."""
    r, lang = d.result, d.lang
    e = html.escape
    t = i18n.t
    pv = r.provenance
    addr = r.address or r.input
    xurl = address_url(r.chain, r.address)
    labels_rows = [[i18n.category(lab.category, lang), lab.name or "", lab.source, lab.source_version or "",
                    str(lab.confidence), f"{_ts(lab.valid_from)[:10]} – {_ts(lab.valid_to)[:10]}",
                    t("report.active" if lab.active else "report.ended", lang)] for lab in r.labels]
    exp_rows = [[i18n.category(x.category, lang) + (" " + t("report.inferred", lang) if x.inferred else ""),
                 t(f"direction.{x.direction}", lang), t(f"hops.{x.hop_class}", lang), _usd(x.usd), _pct(x.share),
                 str(x.min_hop)] for x in r.exposures]
    reasons = why_lines(r, lang) if r.status == "ok" else []
    sources = [[str(s.get("source")), str(s.get("version") or ""), str(s.get("rows") or ""),
                str(s.get("imported_at") or "")] for s in pv.label_sources]
    head = [f'<div><span>{e(t("report.address", lang))}:</span> '
            f'<span class="mono">{e(addr)}</span></div>',
            f'<div><span>{e(t("report.chain", lang))}:</span> {e(r.chain or "-")}'
            + (f' · <a href="{e(xurl)}" rel="noreferrer noopener">{e(explorer_name(r.chain) or t("report.explorer", lang))}</a>'
               if xurl else "") + "</div>"]
    if d.case.customer_ref:
        head.append(f'<div><span>{e(t("report.customer_ref", lang))}:</span> {e(d.case.customer_ref)}</div>')
    head.append(f'<div><span>{e(t("report.generated", lang))}:</span> {e(d.generated_at)}</div>')
    parts = [f"<h1>{e(t('report.title', lang))}</h1>" if with_case else f'<h1 class="addr">{e(addr)}</h1>',
             f'<div class="head">{"".join(head)}</div>', *_decision_html(r, lang)]
    if with_case:
        parts += _case_parts(d.case, lang)
    if r.status == "ok":
        parts += [f"<h2>{e(t('report.why', lang))}</h2>",
                  '<ul class="reasons">' + "".join(f"<li>{e(x)}</li>" for x in reasons) + "</ul>" if reasons
                  else f'<p class="muted">{e(t("sentence.no_exposure", lang))}</p>']
    parts += [f"<h2>{e(t('report.labels', lang))}</h2>",
              _table_html([t("report.category", lang), t("report.label", lang), t("report.source", lang),
                           t("report.source_version", lang), t("report.confidence", lang), t("report.valid", lang),
                           t("report.state", lang)], labels_rows)
              if labels_rows else f'<p class="muted">{e(t("report.no_labels", lang))}</p>']
    if r.status == "ok":
        parts += [f"<h2>{e(t('report.exposure', lang))}</h2>"]
        if exp_rows:
            parts += [_table_html([t("report.category", lang), t("report.direction", lang), t("report.hops", lang),
                                   t("report.usd", lang), t("report.share", lang), t("report.min_hop", lang)],
                                  exp_rows, {3, 4, 5}),
                      exposure_chart_svg(r, lang)]
        else:
            parts.append(f'<p class="muted">{e(t("sentence.no_exposure", lang))}</p>')
        parts.append(f"<p>{e(t('report.volumes', lang, direct=_usd(r.direct_usd), indirect=_usd(r.indirect_usd), vin=_usd(r.volume_in_usd), vout=_usd(r.volume_out_usd)))}</p>")
    if r.indicators:
        parts += [f"<h2>{e(t('report.indicators', lang))}</h2>", '<ul class="reasons">' + "".join(
            f"<li>{e(indicator_sentence(i.indicator, i.severity, i.evidence, lang))}</li>" for i in r.indicators)
            + "</ul>"]
    beh_head, beh_rows, beh_text = _behaviour_rows(r, lang)
    if beh_text:
        parts += [f"<h2>{e(t('report.behaviour_model', lang))}</h2>", f"<p>{e(beh_text)}</p>",
                  _table_html(beh_head, beh_rows, {1, 2}) if beh_rows else ""]
    if d.counterparties:
        cp_rows = [[_link(address_url(c["chain"], c["address"]), c["address"]),
                    (i18n.category(c["category"], lang) + (f" ({c['name']})" if c.get("name") else ""))
                    if c.get("category") else "-",
                    ("html", _band_badge(c["band"], lang)) if c.get("band") else "-",
                    _usd(c["usd_in"]), _usd(c["usd_out"]), f"{c['transfers']:,}",
                    f"{c['first']} – {c['last']}" if c["first"] != c["last"] else str(c["first"])]
                   for c in d.counterparties]
        parts += [f"<h2>{e(t('report.counterparties', lang))}</h2>",
                  _table_html([t("report.counterparty", lang), t("report.label", lang), t("report.band", lang),
                               t("report.usd_in", lang), t("report.usd_out", lang), t("report.transfers_n", lang),
                               t("report.first_last", lang)], cp_rows, {3, 4, 5}, {0})]
        n_more, usd_more = d.more_counterparties
        if n_more:
            parts.append(f'<p class="muted">{e(t("report.counterparties_more", lang, n=f"{n_more:,}", usd=f"{usd_more:,.0f}"))}</p>')
    parts += [f"<h2>{e(t('report.evidence', lang))}</h2>"]
    if r.evidence:
        parts.append(f'<p class="muted">{e(t("report.evidence_intro", lang))}</p>')
        parts.append("<ol>" + "".join(f"<li>{e(path_sentence(p, lang))}</li>" for p in r.evidence) + "</ol>")
        parts.append(subgraph_svg(r, lang))
        parts += [f"<h2>{e(t('report.transfers', lang))}</h2>",
                  _table_html([t("report.time", lang), t("report.token", lang), t("report.amount", lang),
                               t("report.usd", lang), t("report.from", lang), t("report.to", lang),
                               t("report.tx", lang)], _transfer_rows(d.transfers, r.chain), {2, 3}, {4, 5, 6})]
    else:
        note = d.evidence_note or "report.no_paths"
        parts.append(f'<p class="muted">{e(t(note, lang) if i18n.has(note) else note)}</p>')
    if d.largest:
        parts += [f"<h2>{e(t('report.largest', lang))}</h2>",
                  _table_html([t("report.time", lang), t("report.token", lang), t("report.amount", lang),
                               t("report.usd", lang), t("report.from", lang), t("report.to", lang),
                               t("report.tx", lang)], _transfer_rows(d.largest, r.chain), {2, 3}, {4, 5, 6})]
    parts += [
        f"<h2>{e(t('report.provenance', lang))}</h2>",
        _table_html(["", ""], [
            [t("report.run", lang), pv.run_id], [t("report.profile", lang), pv.profile],
            [t("report.as_of_block", lang), str(pv.as_of_block)], [t("report.as_of_time", lang), _ts(pv.as_of_time)],
            [t("report.run_finished", lang), _ts(pv.finished_at)], [t("report.generated", lang), d.generated_at],
            [t("report.version", lang), d.version]]),
        _table_html([t("report.label_source", lang), t("report.source_version", lang), t("report.rows", lang),
                     t("report.imported_at", lang)], sources) if sources else "",
        "<footer>" + e(t("report.footer", lang, command="§")).replace(
            "§", f'<span class="mono">chainrisk lookup --explain --run {e(pv.run_id)} {e(r.address or "")}</span>')
        + "</footer>",
    ]
    return [p for p in parts if p]


def _case_parts(c: CaseInfo, lang: str) -> list[str]:
    e = html.escape
    t = i18n.t
    parts = [f"<h2>{e(t('report.case', lang))}</h2>",
             '<div class="case">' + _table_html(["", ""], [*_case_rows(c, lang),
                                                         [t("report.signoff", lang),
                                                          ("html", '<div class="sign"></div>')],
                                                         [t("report.signoff_date", lang), ""]]) + "</div>"]
    if c.history:
        parts += [f"<h2>{e(t('report.history', lang))}</h2>",
                  _table_html([t("report.when", lang), t("report.who", lang), t("report.what", lang),
                               t("report.detail", lang)],
                              [[str(h.get("at") or ""), str(h.get("actor") or ""), str(h.get("kind") or ""),
                                str(h.get("text") or "")] for h in c.history])]
    return parts


def render_case_html(case: CaseInfo, datas: list[ReportData], lang: str, *,
                     generated_at: datetime | None = None) -> str:
    """One document for a case: the cover (case, sign-off, history, the addresses with their actions), then
    each address's evidence report on its own pages."""
    e = html.escape
    t = i18n.t
    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    summary = [[_link(address_url(d.result.chain, d.result.address), d.result.address or d.result.input),
                i18n.action(d.result.action, lang) if d.result.status == "ok" and d.result.action
                else (i18n.band(d.result.risk_band, lang) if d.result.status == "ok" else t("band.unknown", lang))]
               for d in datas]
    parts = [*_doc_open(t("report.case_title", lang) + f": {case.case_id}", lang),
             f"<h1>{e(t('report.case_title', lang))}: {e(case.title or case.case_id or '')}</h1>",
             f'<div class="head"><div><span>{e(t("report.generated", lang))}:</span> {e(when)}</div></div>',
             *_case_parts(case, lang),
             f"<h2>{e(t('report.addresses', lang))}</h2>",
             _table_html([t("report.address", lang), t("report.action", lang)], summary, mono={0})
             if summary else f'<p class="muted">{e(t("report.no_addresses", lang))}</p>']
    for d in datas:
        parts += ['<section class="address">', *_address_parts(d, with_case=False), "</section>"]
    parts += ["</body></html>", ""]
    return "\n".join(parts)





# -- Markdown -------------------------------------------------------------------------------------------------


def _md_cell(x: Any) -> str:
    if isinstance(x, tuple):   # markup of a link or a badge: its text
        x = html.unescape(re.sub(r"<[^>]+>", "", x[1]))
    return str(x).replace("|", "\\|").replace("\n", " ")


def _md_table(head: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def render_markdown(d: ReportData) -> str:
    r, lang = d.result, d.lang
    t = i18n.t
    pv = r.provenance
    lines = [f"# {t('report.title', lang)}: `{r.address or r.input}` ({r.chain})", ""]
    if r.status != "ok":
        lines += [f"**{t('report.unknown_title', lang)}**", "", t("report.unknown_body", lang), "",
                  f"{t('report.unknown_reason', lang)}: {unknown_reason(r, lang)}"]
    elif r.action is not None:
        lines += [f"**{t('report.action', lang)}: {i18n.action(r.action, lang)}**", "",
                  _md_table([t("report.axis", lang), t("report.band", lang), t("report.score", lang),
                             t("report.top_category", lang), t("report.confidence", lang), t("report.reason", lang)],
                            [[t(f"axis.{a}", lang), i18n.band(v.band, lang), f"{v.score:g}" if v.score is not None
                              else "-", i18n.category(v.top_category, lang) if v.top_category else "-",
                              v.confidence or "-", axis_reason(r, a, lang)]
                             for a, v in (("illicit", r.illicit), ("vc_business", r.vc_business))
                             if v.band is not None]), "",
                  t("report.combined_note", lang, band=i18n.band(r.risk_band, lang), score=f"{r.risk_score:g}")]
    else:
        lines += [t("report.older_run", lang, band=i18n.band(r.risk_band, lang), score=f"{r.risk_score:g}"), "",
                  r.reason]
    lines += ["", f"## {t('report.case', lang)}", "", _md_table(["", ""], _case_rows(d.case, lang))]
    if r.status == "ok":
        lines += ["", f"## {t('report.why', lang)}", ""]
        lines += [f"- {x}" for x in why_lines(r, lang)] or [f"- {t('sentence.no_exposure', lang)}"]
    lines += ["", f"## {t('report.labels', lang)}", ""]
    lines.append(_md_table([t("report.category", lang), t("report.label", lang), t("report.source", lang),
                            t("report.source_version", lang), t("report.confidence", lang), t("report.state", lang)],
                           [[i18n.category(lab.category, lang), lab.name or "", lab.source, lab.source_version or "",
                             str(lab.confidence), t("report.active" if lab.active else "report.ended", lang)]
                            for lab in r.labels]) if r.labels else t("report.no_labels", lang))
    if r.status == "ok":
        lines += ["", f"## {t('report.exposure', lang)}", ""]
        lines.append(_md_table([t("report.category", lang), t("report.direction", lang), t("report.hops", lang),
                                t("report.usd", lang), t("report.share", lang), t("report.min_hop", lang)],
                               [[i18n.category(x.category, lang) + (" " + t("report.inferred", lang) if x.inferred
                                                                     else ""),
                                 t(f"direction.{x.direction}", lang), t(f"hops.{x.hop_class}", lang), _usd(x.usd),
                                 _pct(x.share), str(x.min_hop)] for x in r.exposures])
                     if r.exposures else t("sentence.no_exposure", lang))
    if r.indicators:
        lines += ["", f"## {t('report.indicators', lang)}", ""]
        lines += [f"- {indicator_sentence(i.indicator, i.severity, i.evidence, lang)}" for i in r.indicators]
    beh_head, beh_rows, beh_text = _behaviour_rows(r, lang)
    if beh_text:
        lines += ["", f"## {t('report.behaviour_model', lang)}", "", beh_text]
        if beh_rows:
            lines += ["", _md_table(beh_head, beh_rows)]
    if d.counterparties:
        lines += ["", f"## {t('report.counterparties', lang)}", ""]
        lines.append(_md_table([t("report.counterparty", lang), t("report.label", lang), t("report.usd_in", lang),
                                t("report.usd_out", lang), t("report.transfers_n", lang)],
                               [[c["address"], i18n.category(c["category"], lang) if c.get("category") else "-",
                                 _usd(c["usd_in"]), _usd(c["usd_out"]), str(c["transfers"])]
                                for c in d.counterparties]))
    lines += ["", f"## {t('report.evidence', lang)}", ""]
    if r.evidence:
        lines += [f"{i}. {path_sentence(p, lang)}" for i, p in enumerate(r.evidence, 1)]
        pos, edges, names = _layout(r)
        ids = {a: f"n{i}" for i, a in enumerate(sorted(pos))}
        lines += ["", "```mermaid", "flowchart LR"]
        for a in sorted(pos):
            title = t("report.this_address", lang) if a == r.address else names.get(a, t("report.unlabelled", lang))
            lines.append(f'  {ids[a]}["{title}<br/>{_short(a)}"]')
        for b in _bundle(edges):
            label = b["amount"] if b["n"] == 1 else f'{b["amount"]} ({t("report.n_transfers", lang, n=b["n"])})'
            lines.append(f'  {ids[b["from"]]} -- "{label}" --> {ids[b["to"]]}')
        lines += ["```", "", f"## {t('report.transfers', lang)}", ""]
        lines.append(_md_table([t("report.time", lang), t("report.token", lang), t("report.amount", lang),
                                t("report.usd", lang), t("report.from", lang), t("report.to", lang),
                                t("report.tx", lang)], _transfer_rows(d.transfers, r.chain)))
    else:
        note = d.evidence_note or "report.no_paths"
        lines.append(t(note, lang) if i18n.has(note) else note)
    if d.largest:
        lines += ["", f"## {t('report.largest', lang)}", ""]
        lines.append(_md_table([t("report.time", lang), t("report.token", lang), t("report.amount", lang),
                                t("report.usd", lang), t("report.from", lang), t("report.to", lang),
                                t("report.tx", lang)], _transfer_rows(d.largest, r.chain)))
    lines += ["", f"## {t('report.provenance', lang)}", "",
              _md_table(["", ""], [[t("report.run", lang), pv.run_id], [t("report.profile", lang), pv.profile],
                                   [t("report.as_of_block", lang), str(pv.as_of_block)],
                                   [t("report.as_of_time", lang), str(pv.as_of_time or "-")],
                                   [t("report.generated", lang), d.generated_at],
                                   [t("report.version", lang), d.version]])]
    if pv.label_sources:
        lines += ["", _md_table([t("report.label_source", lang), t("report.source_version", lang),
                                 t("report.rows", lang)],
                                [[str(s.get("source")), str(s.get("version") or ""), str(s.get("rows") or "")]
                                 for s in pv.label_sources])]
    return "\n".join(lines) + "\n"


def _behaviour_rows(r: Any, lang: str) -> tuple[list[str], list[list[str]], str]:
    """The behaviour part (the learned model): its sentence and the top contributions as table rows."""
    from ..engine.behaviour import value_text

    b = getattr(r, "behaviour", None)
    if not b:
        return [], [], ""
    rows = [[str(x["feature"]), value_text(str(x["feature"]), float(x["value"] or 0.0)), f"{x['contribution']:+.2f}",
             str(x.get("meaning") or "")] for x in b.get("top") or []]
    head = [i18n.t(f"report.behaviour_{k}", lang) for k in ("feature", "value", "contribution", "meaning")]
    return head, rows, str(b.get("sentence") or "")
