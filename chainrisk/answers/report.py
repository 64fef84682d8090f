"""Evidence reports for a suspicious-activity filing: one self-contained HTML (or Markdown) file per address.

    >>> chainrisk.report(st, "0xabc...", "case-0xabc.html")

The HTML has no scripts and loads nothing: styles are inline, the exposure chart and the drawing of the evidence
subgraph are SVG generated here, so the file opens in any browser (or prints to PDF) without chainrisk. Contents:
the verdict, the address's labels with their sources, the exposure table and chart, the evidence paths in plain
words, the subgraph, the transfers with their tx hashes, and the provenance (run, profile, data as-of, label
sources, chainrisk version).
"""

from __future__ import annotations

import html
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..address import Address, try_parse
from ..errors import InvalidAddress, UsageError
from ..store import Store, resolve_run
from ..version import __version__
from .lookup import LookupResult, lookup_one

log = logging.getLogger(__name__)

_BAND_COLOUR = {"severe": "#b71c1c", "high": "#e65100", "medium": "#f9a825", "low": "#0277bd", "none": "#2e7d32"}
_SEGMENTS = (("in", "direct", "#c62828", "incoming, direct"), ("in", "indirect", "#ef9a9a", "incoming, indirect"),
             ("out", "direct", "#1565c0", "outgoing, direct"), ("out", "indirect", "#90caf9", "outgoing, indirect"))


@dataclass
class ReportData:
    result: LookupResult
    transfers: list[dict[str, Any]]        # transfers of the evidence paths (unique, in time order)
    largest: list[dict[str, Any]]          # the address's largest transfers
    evidence_note: str | None              # why there are no evidence paths, when there are none
    generated_at: str
    version: str


def collect(store: Store, address: str, *, run_id: str | None = None, top: int = 3,
            generated_at: datetime | None = None) -> ReportData:
    """Everything a report shows, as data (the renderers only format it)."""
    parsed = try_parse(address)
    if not isinstance(parsed, Address):
        raise InvalidAddress(address, parsed.reason)
    run = resolve_run(store, run_id)
    res = lookup_one(store, address, run)
    note = None
    if res.status == "ok":
        try:
            from .lookup import explain_paths

            res.evidence = explain_paths(store, res.address or address, run.run_id, top=top)
            if not res.evidence:
                note = "no path of real transfers links this address to a labelled source within the run's hops"
        except UsageError as e:
            note = str(e)
    else:
        note = "the address is not scored in this run, so there are no evidence paths"
    seen: dict[tuple[str, int], dict[str, Any]] = {}
    for p in res.evidence or []:
        for t in p.get("transfers", []):
            seen.setdefault((t["tx_hash"], int(t.get("log_index", 0))), t)
    transfers = sorted(seen.values(), key=lambda t: (t.get("block_number") or 0, t.get("log_index") or 0))
    largest = _largest(store, parsed) if res.status != "invalid" else []
    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return ReportData(res, transfers, largest, note, when, __version__)


def _largest(store: Store, a: Address, limit: int = 20) -> list[dict[str, Any]]:
    found = store.execute("SELECT id FROM addresses WHERE address = ? AND chain = ?", [a.address, a.chain]).fetchall()
    if not found:
        return []
    row = found[0]
    cols = ["tx_hash", "log_index", "block_number", "time", "token", "amount", "usd", "from_address", "to_address"]
    rows = store.execute(
        """
        SELECT t.tx_hash, t.log_index, t.block_number, strftime(t.block_time, '%Y-%m-%dT%H:%M:%SZ'), k.symbol,
               t.amount, t.amount * k.usd_peg, fa.address, ta.address
        FROM (SELECT * FROM transfers WHERE from_id = $id OR to_id = $id) t
        JOIN tokens k ON k.id = t.token_id
        JOIN addresses fa ON fa.id = t.from_id
        JOIN addresses ta ON ta.id = t.to_id
        ORDER BY coalesce(t.amount * k.usd_peg, 0) DESC, t.block_number, t.log_index
        LIMIT $n
        """, {"id": row[0], "n": limit},
    ).fetchall()
    return [dict(zip(cols, r, strict=True)) for r in rows]


def report(store: Store, address: str, output_path: str | os.PathLike[str], *, run_id: str | None = None,
           top: int = 3, generated_at: datetime | None = None) -> Path:
    """Write the evidence report of ``address`` to ``output_path`` (``.html``/``.htm`` or ``.md``).

    Evidence paths need a writable store the first time a run is explained (see :mod:`chainrisk.engine.evidence`).
    Returns the path written (atomically: a temp file renamed into place)."""
    out = Path(output_path)
    suffix = out.suffix.lower()
    if suffix not in (".html", ".htm", ".md", ".markdown"):
        raise UsageError(f"report output must end in .html or .md, not {out.name!r}")
    data = collect(store, address, run_id=run_id, top=top, generated_at=generated_at)
    text = render_markdown(data) if suffix in (".md", ".markdown") else render_html(data)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
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


def _verdict_text(r: LookupResult) -> str:
    if r.status == "ok":
        return f"{(r.risk_band or '').upper()} RISK: score {r.risk_score:g} / 100"
    return "UNKNOWN: no data to judge this address (unknown is not safe)"


_ACTION_TEXT = {"none": "no action", "review": "review by a compliance officer", "sever": "sever service (virtual-currency business)",
                "report": "report (links to illegal activity)",
                "sever_and_report": "sever service and report (virtual-currency business and illegal activity)"}


def _axis_rows(r: LookupResult) -> list[list[str]]:
    """One row per verdict axis: name, band, score, top category, confidence, reason (empty for an older run)."""
    if r.action is None:
        return []
    rows = []
    for name, v in (("illicit activity", r.illicit), ("virtual-currency business", r.vc_business)):
        if v.band is not None:
            rows.append([name, v.band, f"{v.score:g}" if v.score is not None else "-", v.top_category or "-",
                         v.confidence or "-", v.reason or ""])
    return rows


def _action_text(r: LookupResult) -> str | None:
    return None if r.action is None else f"Action: {_ACTION_TEXT.get(r.action, r.action)}"


def _label_line(lab: dict[str, Any]) -> str:
    return lab.get("name") or lab.get("category") or ""


# -- SVG ------------------------------------------------------------------------------------------------------


def exposure_chart_svg(r: LookupResult, width: int = 760) -> str:
    """A horizontal stacked bar chart of USD exposure by category (incoming/outgoing x direct/indirect)."""
    cats: dict[str, dict[tuple[str, str], float]] = {}
    for ex in r.exposures:
        seg = cats.setdefault(ex.category, {})
        seg[(ex.direction, ex.hop_class)] = seg.get((ex.direction, ex.hop_class), 0.0) + ex.usd
    if not cats:
        return '<p class="muted">No exposure to risky categories in this run.</p>'
    order = sorted(cats, key=lambda c: (-sum(cats[c].values()), c))
    left, right, bar_h, gap, top = 150, 110, 22, 10, 34
    plot_w = width - left - right
    vmax = max(sum(v.values()) for v in cats.values()) or 1.0
    height = top + len(order) * (bar_h + gap) + 10
    e = html.escape
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="Exposure by category in USD" '
             'font-family="Helvetica, Arial, sans-serif" font-size="12">']
    x = left
    for _d, _h, colour, name in _SEGMENTS:   # legend
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="16">{e(name)}</text>')
        x += 16 + 7 * len(name) + 18
    for i, c in enumerate(order):
        y = top + i * (bar_h + gap)
        parts.append(f'<text x="{left - 8}" y="{y + bar_h * 0.7:.1f}" text-anchor="end">{e(c)}</text>')
        x0 = float(left)
        for d, h, colour, name in _SEGMENTS:
            v = cats[c].get((d, h), 0.0)
            if v <= 0:
                continue
            w = max(1.0, plot_w * v / vmax)
            parts.append(f'<rect x="{x0:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                         f'<title>{e(c)}, {e(name)}: {v:,.2f} USD</title></rect>')
            x0 += w
        parts.append(f'<text x="{x0 + 6:.1f}" y="{y + bar_h * 0.7:.1f}">{sum(cats[c].values()):,.0f} USD</text>')
    parts.append("</svg>")
    return "".join(parts)


def _layout(r: LookupResult) -> tuple[dict[str, tuple[int, int]], list[dict[str, Any]], dict[str, str]]:
    """Deterministic layered layout of the evidence subgraph: layer = signed hop distance from the address
    (sources of funds on the left, destinations on the right); rows ordered by address within a layer."""
    subject = r.address or ""
    layer: dict[str, int] = {subject: 0}
    names: dict[str, str] = {}
    edges: dict[tuple[str, str, str], dict[str, Any]] = {}
    for p in r.evidence or []:
        ts = p.get("transfers", [])
        sign = -1 if p.get("direction") == "in" else 1
        # money order: for 'in' the last transfer reaches the address; for 'out' the first leaves it
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
                    names[t[f"{side}_address"]] = _label_line(labs[0])
            edges.setdefault((t["from_address"], t["to_address"], t["tx_hash"]), t)
    by_layer: dict[int, list[str]] = {}
    for a, lv in layer.items():
        by_layer.setdefault(lv, []).append(a)
    pos: dict[str, tuple[int, int]] = {}
    for lv, nodes in by_layer.items():
        for row, a in enumerate(sorted(nodes)):
            pos[a] = (lv, row)
    return pos, list(edges.values()), names


def subgraph_svg(r: LookupResult, width: int = 960) -> str:
    """The evidence paths drawn as a layered graph (nodes: addresses with their labels; arrows: transfers)."""
    if not r.evidence:
        return '<p class="muted">No evidence paths to draw.</p>'
    pos, edges, names = _layout(r)
    layers = sorted({lv for lv, _ in pos.values()})
    rows = max(row for _, row in pos.values()) + 1
    node_w, node_h = 150, 44
    col_w = max(node_w + 60, (width - 40) // max(1, len(layers)))
    width = 40 + col_w * len(layers)
    row_h = node_h + 46
    height = 30 + rows * row_h
    e = html.escape

    def xy(a: str) -> tuple[float, float]:
        lv, row = pos[a]
        return 20 + layers.index(lv) * col_w + (col_w - node_w) / 2, 20 + row * row_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="Evidence subgraph" '
             'font-family="Helvetica, Arial, sans-serif" font-size="11">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>']
    for t in sorted(edges, key=lambda t: (t.get("block_number") or 0, t.get("log_index") or 0, t["tx_hash"])):
        (x1, y1), (x2, y2) = xy(t["from_address"]), xy(t["to_address"])
        sx, sy = x1 + node_w, y1 + node_h / 2
        tx, ty = x2, y2 + node_h / 2
        if x2 <= x1:   # backwards or same layer: leave from the left, enter from the right
            sx, tx = x1, x2 + node_w
        mx, my = (sx + tx) / 2, (sy + ty) / 2
        amount = t.get("amount")
        amt = f"{amount:,.0f} {t.get('token', '')}" if isinstance(amount, (int, float)) else ""
        when = (t.get("time") or "")[:10]
        parts.append(f'<line x1="{sx:.1f}" y1="{sy:.1f}" x2="{tx:.1f}" y2="{ty:.1f}" stroke="#555" '
                     f'stroke-width="1.5" marker-end="url(#arrow)"><title>{e(t["tx_hash"])}</title></line>')
        parts.append(f'<text x="{mx:.1f}" y="{my - 5:.1f}" text-anchor="middle" fill="#222">{e(amt)}</text>'
                     f'<text x="{mx:.1f}" y="{my + 9:.1f}" text-anchor="middle" fill="#777">{e(when)}</text>')
    for a in sorted(pos):
        x, y = xy(a)
        is_subject = a == r.address
        labelled = a in names
        fill = "#e3f2fd" if is_subject else ("#ffebee" if labelled else "#f5f5f5")
        stroke = "#0d47a1" if is_subject else ("#b71c1c" if labelled else "#9e9e9e")
        title = "this address" if is_subject else (names.get(a) or "unlabelled")
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{node_w}" height="{node_h}" rx="6" fill="{fill}" '
                     f'stroke="{stroke}" stroke-width="{2 if is_subject else 1.2}"><title>{e(a)}</title></rect>')
        parts.append(f'<text x="{x + node_w / 2:.1f}" y="{y + 18:.1f}" text-anchor="middle" '
                     f'font-weight="bold">{e(title if len(title) <= 24 else title[:23] + "…")}</text>'
                     f'<text x="{x + node_w / 2:.1f}" y="{y + 34:.1f}" text-anchor="middle" '
                     f'font-family="monospace">{e(_short(a))}</text>')
    parts.append("</svg>")
    return "".join(parts)


# -- HTML -----------------------------------------------------------------------------------------------------

_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:32px auto;max-width:1000px;color:#222;line-height:1.4}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
.mono{font-family:monospace;word-break:break-all}.muted{color:#777}
.verdict{display:inline-block;padding:8px 14px;border-radius:6px;color:#fff;font-weight:bold;font-size:18px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;
vertical-align:top}th{background:#f5f5f5}td.num{text-align:right;white-space:nowrap}
td.hash{font-family:monospace;font-size:11px;word-break:break-all}
ul.reasons li{margin:3px 0}footer{margin-top:32px;font-size:12px;color:#777}
@media print{body{margin:0}}
"""


def _table_html(head: list[str], rows: list[list[str]], numeric: set[int] | None = None,
                mono: set[int] | None = None) -> str:
    numeric, mono = numeric or set(), mono or set()
    e = html.escape

    def td(i: int, c: str) -> str:
        cls = "num" if i in numeric else ("hash" if i in mono else "")
        return f'<td class="{cls}">{e(c)}</td>' if cls else f"<td>{e(c)}</td>"

    out = ["<table><thead><tr>", *(f"<th>{e(h)}</th>" for h in head), "</tr></thead><tbody>"] if any(head) \
        else ["<table><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(td(i, c) for i, c in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _transfer_rows(ts: list[dict[str, Any]]) -> list[list[str]]:
    return [[str(t.get("time") or "-"), str(t.get("token") or ""), _usd(t.get("amount")), _usd(t.get("usd")),
             str(t.get("from_address")), str(t.get("to_address")), str(t.get("tx_hash"))] for t in ts]


def render_html(d: ReportData) -> str:
    r = d.result
    e = html.escape
    colour = _BAND_COLOUR.get(r.risk_band or "", "#616161")
    pv = r.provenance
    labels_rows = [[lab.category, lab.name or "", lab.source, lab.source_version or "", str(lab.confidence),
                    str(lab.valid_from or "-"), str(lab.valid_to or "-"), "active" if lab.active else "ended"]
                   for lab in r.labels]
    exp_rows = [[x.category + (" (inferred)" if x.inferred else ""), "incoming" if x.direction == "in" else "outgoing", x.hop_class, _usd(x.usd),
                 f"{x.share:.1%}", str(x.min_hop)] for x in r.exposures]
    ind_rows = [[i.indicator, str(i.severity), str(i.evidence)] for i in r.indicators]
    sources = [[str(s.get("source")), str(s.get("version") or ""), str(s.get("rows") or ""),
                str(s.get("imported_at") or "")] for s in pv.label_sources]
    reasons = "".join(f"<li>{e(x)}</li>" for x in r.reasons()) or "<li>none</li>"
    axes = _axis_rows(r)
    action = _action_text(r)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>chainrisk evidence report: {e(r.address or r.input)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Evidence report</h1>",
        f'<p class="mono">{e(r.address or r.input)} <span class="muted">({e(r.chain or "")})</span></p>',
        f'<p><span class="verdict" style="background:{colour}">{e(_verdict_text(r))}</span>'
        + (' <span class="muted">(combined view of both verdicts)</span>' if axes else "") + "</p>",
        f"<p><strong>{e(action)}</strong></p>" if action else "",
        _table_html(["verdict", "band", "score", "top category", "confidence", "reason"], axes, {2})
        if axes else f"<p>{e(r.reason)}</p>",
        "<h2>Why</h2>", f'<ul class="reasons">{reasons}</ul>',
        "<h2>Labels of this address</h2>",
        _table_html(["category", "name", "source", "source version", "confidence", "valid from", "valid to",
                     "state"], labels_rows) if labels_rows else '<p class="muted">No labels.</p>',
        "<h2>Exposure</h2>",
        _table_html(["category", "direction", "hops", "USD", "share of volume", "min hop"], exp_rows, {3, 4, 5})
        if exp_rows else '<p class="muted">No exposure to risky categories.</p>',
        f"<p>Direct exposure {_usd(r.direct_usd)} USD; indirect {_usd(r.indirect_usd)} USD; volume in "
        f"{_usd(r.volume_in_usd)} USD, out {_usd(r.volume_out_usd)} USD.</p>",
        exposure_chart_svg(r),
    ]
    if ind_rows:
        parts += ["<h2>Behavioural indicators</h2>", _table_html(["indicator", "severity", "evidence"], ind_rows)]
    parts += ["<h2>Evidence paths</h2>"]
    if r.evidence:
        parts.append("<ol>" + "".join(f"<li>{e(str(p.get('sentence', '')))}</li>" for p in r.evidence) + "</ol>")
        parts.append(subgraph_svg(r))
        parts += ["<h2>Transfers in the evidence</h2>",
                  _table_html(["time (UTC)", "token", "amount", "USD", "from", "to", "tx hash"],
                              _transfer_rows(d.transfers), {2, 3}, {4, 5, 6})]
    else:
        parts.append(f'<p class="muted">{e(d.evidence_note or "No evidence paths.")}</p>')
    if d.largest:
        parts += ["<h2>Largest transfers of this address</h2>",
                  _table_html(["time (UTC)", "token", "amount", "USD", "from", "to", "tx hash"],
                              _transfer_rows(d.largest), {2, 3}, {4, 5, 6})]
    parts += [
        "<h2>Provenance</h2>",
        _table_html(["", ""], [
            ["scoring run", pv.run_id], ["profile", pv.profile],
            ["data as of block", str(pv.as_of_block)], ["data as of time (UTC)", _ts(pv.as_of_time)],
            ["run finished", _ts(pv.finished_at)], ["report generated", d.generated_at],
            ["chainrisk version", d.version]]),
        _table_html(["label source", "version", "rows", "imported at"], sources) if sources else "",
        "<footer>Generated by chainrisk from the bank's own store; every figure above can be reproduced with "
        f"<span class=\"mono\">chainrisk lookup --explain --run {e(pv.run_id)} {e(r.address or '')}</span>."
        "</footer>", "</body></html>", "",
    ]
    return "\n".join(parts)


# -- Markdown -------------------------------------------------------------------------------------------------


def _md_cell(x: Any) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def render_markdown(d: ReportData) -> str:
    r = d.result
    pv = r.provenance
    axes = _axis_rows(r)
    action = _action_text(r)
    lines = [f"# Evidence report: `{r.address or r.input}` ({r.chain})", "",
             f"**{_verdict_text(r)}**" + (" (combined view of both verdicts)" if axes else ""), ""]
    if axes:
        lines += [f"**{action}**", "",
                  _md_table(["verdict", "band", "score", "top category", "confidence", "reason"], axes)]
    else:
        lines.append(r.reason)
    lines += ["", "## Why", ""]
    lines += [f"- {x}" for x in r.reasons()] or ["- none"]
    lines += ["", "## Labels of this address", ""]
    lines.append(_md_table(["category", "name", "source", "version", "confidence", "valid from", "valid to", "state"],
                           [[lab.category, lab.name or "", lab.source, lab.source_version or "", str(lab.confidence),
                             str(lab.valid_from or "-"), str(lab.valid_to or "-"),
                             "active" if lab.active else "ended"] for lab in r.labels]) if r.labels else "No labels.")
    lines += ["", "## Exposure", ""]
    lines.append(_md_table(["category", "direction", "hops", "USD", "share", "min hop"],
                           [[x.category + (" (inferred)" if x.inferred else ""), "incoming" if x.direction == "in" else "outgoing", x.hop_class, _usd(x.usd),
                             f"{x.share:.1%}", str(x.min_hop)] for x in r.exposures])
                 if r.exposures else "No exposure to risky categories.")
    if r.indicators:
        lines += ["", "## Behavioural indicators", ""]
        lines.append(_md_table(["indicator", "severity", "evidence"],
                               [[i.indicator, str(i.severity), str(i.evidence)] for i in r.indicators]))
    lines += ["", "## Evidence paths", ""]
    if r.evidence:
        lines += [f"{i}. {p.get('sentence', '')}" for i, p in enumerate(r.evidence, 1)]
        pos, edges, names = _layout(r)
        ids = {a: f"n{i}" for i, a in enumerate(sorted(pos))}
        lines += ["", "```mermaid", "flowchart LR"]
        for a in sorted(pos):
            title = "this address" if a == r.address else names.get(a, "unlabelled")
            lines.append(f'  {ids[a]}["{title}<br/>{_short(a)}"]')
        for t in edges:
            amount = t.get("amount")
            amt = f"{amount:,.0f} {t.get('token', '')}" if isinstance(amount, (int, float)) else ""
            lines.append(f'  {ids[t["from_address"]]} -- "{amt}" --> {ids[t["to_address"]]}')
        lines += ["```", "", "## Transfers in the evidence", ""]
        lines.append(_md_table(["time (UTC)", "token", "amount", "USD", "from", "to", "tx hash"],
                               _transfer_rows(d.transfers)))
    else:
        lines.append(d.evidence_note or "No evidence paths.")
    if d.largest:
        lines += ["", "## Largest transfers of this address", ""]
        lines.append(_md_table(["time (UTC)", "token", "amount", "USD", "from", "to", "tx hash"],
                               _transfer_rows(d.largest)))
    lines += ["", "## Provenance", "",
              _md_table(["", ""], [["scoring run", pv.run_id], ["profile", pv.profile],
                                   ["data as of block", str(pv.as_of_block)],
                                   ["data as of time (UTC)", str(pv.as_of_time or "-")],
                                   ["report generated", d.generated_at], ["chainrisk version", d.version]])]
    if pv.label_sources:
        lines += ["", _md_table(["label source", "version", "rows"],
                                [[str(s.get("source")), str(s.get("version") or ""), str(s.get("rows") or "")]
                                 for s in pv.label_sources])]
    return "\n".join(lines) + "\n"


