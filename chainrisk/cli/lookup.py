"""`chainrisk lookup ADDRESS...`: one address explained, for a person (table) or a machine (json)."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..errors import EXIT_CODES
from ._common import DOCUMENTS, cli_lang, fail_on_option, format_option, lang_option, open_store, write

_BAND_COLOUR = {"severe": "red", "high": "red", "medium": "yellow", "low": "cyan", "none": "green"}


@click.command(short_help="Explain addresses: verdict, labels, exposures, evidence paths, provenance.")
@click.argument("addresses", nargs=-1, required=True)
@format_option(DOCUMENTS, help="table: for a person; json: the machine contract (an array, one object per address); "
                               "jsonl: one object per line.",
               hints={"csv": "lookup answers are nested documents; for CSV rows, one per address, use "
                             "'chainrisk screen FILE --format csv'"})
@click.option("--explain", is_flag=True, help="Add the evidence paths (hop by hop: tx hash, time, token, amount).")
@click.option("--run", "run_id", metavar="RUN_ID", help="Scoring run to read (default: the latest complete run).")
@click.option("--chain", metavar="CHAIN",
              help="Answer on this chain only (ethereum, bsc, polygon, arbitrum, optimism, base, tron; bnb is bsc). "
                   "Default: an EVM address on every chain where the store has activity or labels of it, with a "
                   "combined verdict.")
@fail_on_option("an address")
@lang_option
@click.pass_context
def lookup(ctx: click.Context, addresses: tuple[str, ...], fmt: str, explain: bool, run_id: str | None,
           chain: str | None, fail_on: str | None, lang: str | None) -> None:
    """Look up ADDRESS... (0x hex in any case, TRON T...; '-' reads addresses from stdin, one per line).

    Shows the verdict (status, score 0-100, band), the address's own labels, its exposures by category,
    direction and hop, behavioural indicators, and where the answer comes from (run, profile, data as-of, label
    sources). An EVM address is one key on every EVM chain: it is answered per chain where the store has activity
    or labels of it, under a combined verdict (the worst per verdict, and the action that follows); --chain
    narrows it to one chain. Exit 0; 1 with --fail-on when an address is at or above the band; 4 when an address
    is invalid; 7 when the store has no scoring run.
    """
    from ..answers.lookup import lookup as do_lookup
    from ..taxonomy import BANDS

    items: list[str] = []
    for a in addresses:
        if a == "-":
            items.extend(line.strip() for line in sys.stdin if line.strip())
        else:
            items.append(a)
    # read-only unless explaining: the first explanation of a run builds the evidence helper tables
    with open_store(ctx, read_only=not explain) as st:
        results = do_lookup(st, items, run_id=run_id, explain=explain, chain=chain)
    lang_ = cli_lang(ctx, lang)
    write(fmt, [r.to_dict() for r in results], table="\n".join(_table(r, lang_) for r in results),
          unicode=("json", "jsonl"))
    if any(r.status == "invalid" for r in results):
        ctx.exit(EXIT_CODES["bad_input"])
    if fail_on and any(r.risk_band and BANDS.index(r.risk_band) >= BANDS.index(fail_on) for r in results):
        ctx.exit(EXIT_CODES["hits"])


def _verdict(r: Any, lang: str = "en") -> str:
    if lang != "en":
        return _verdict_i18n(r, lang)
    if r.status == "invalid":
        return click.style("INVALID", fg="magenta", bold=True) + f"  {r.input!r}: {r.reason}"
    head = f"{r.address} ({_chains(r)})"
    if r.status == "unknown":
        return f"{head}  " + click.style("UNKNOWN", fg="yellow", bold=True) + " (unknown is not safe: no data to judge)"
    band = click.style(f"{r.risk_band.upper()} RISK", fg=_BAND_COLOUR.get(r.risk_band), bold=True)
    combined = " (combined)" if r.action is not None else ""
    return f"{head}  {band}  score {r.risk_score:g}/100{combined}"


def _verdict_i18n(r: Any, lang: str) -> str:
    from .. import i18n

    t = i18n.t
    if r.status == "invalid":
        return click.style(t("cli.invalid", lang), fg="magenta", bold=True) + f"  {r.input!r}: {r.reason}"
    head = f"{r.address} ({_chains(r, lang)})"
    if r.status == "unknown":
        return f"{head}  " + click.style(t("cli.unknown_not_safe", lang), fg="yellow", bold=True)
    band = click.style(i18n.band(r.risk_band, lang), fg=_BAND_COLOUR.get(r.risk_band), bold=True)
    combined = " " + t("cli.combined", lang) if r.action is not None else ""
    return f"{head}  {band}  {t('cli.score', lang, score=f'{r.risk_score:g}')}{combined}"


def _chains(r: Any, lang: str = "en") -> str:
    if len(r.chains) > 1:
        from .. import i18n

        return i18n.t("cli.all_chains", lang, n=len(r.chains), chains=", ".join(r.chains))
    return str(r.chain)


def _per_chain(r: Any, lang: str = "en") -> list[str]:
    """One line per chain of a multi-chain answer: band, score, action, main category."""
    if len(r.per_chain) < 2:
        return []
    from .. import i18n

    out = [i18n.t("cli.per_chain", lang)]
    w = max(len(p.chain or "") for p in r.per_chain)
    for p in r.per_chain:
        if p.status != "ok":
            state = i18n.t("cli.status_unknown", lang)
            extra = ", ".join(sorted({lab.category for lab in p.labels if lab.active}))
            out.append(f"  {p.chain:<{w}}  {state}" + (f"  labels: {extra}" if extra else ""))
            continue
        band = i18n.band(p.risk_band, lang) if lang != "en" else str(p.risk_band).upper()
        act = (i18n.action(p.action, lang) if lang != "en" else p.action.replace("_", " ")) if p.action else "-"
        out.append(f"  {p.chain:<{w}}  {band:<7} {p.risk_score:>5.1f}  {act}  {p.top_category or '-'}")
    return out


_ACTION_COLOUR = {"sever_and_report": "red", "report": "red", "sever": "magenta", "review": "yellow", "none": "green"}


def _axes(r: Any, lang: str = "en") -> list[str]:
    """The action and the two verdicts, one line each (empty for a run scored without the two axes)."""
    if r.action is None:
        return []
    if lang != "en":
        from .. import i18n
        from ..answers.report import axis_reason

        out = [f"  {i18n.t('cli.action', lang)}: " + click.style(i18n.action(r.action, lang),
                                                               fg=_ACTION_COLOUR.get(r.action), bold=True)]
        for axis, v in (("illicit", r.illicit), ("vc_business", r.vc_business)):
            if v.band is None:
                continue
            sure = f"，{i18n.t('report.confidence', lang)} {i18n.t('confidence.' + v.confidence, lang)}" \
                if v.confidence else ""
            out.append(f"  {i18n.t('axis.' + axis, lang)}：{i18n.band(v.band, lang)} {v.score:.1f} "
                       f"{i18n.category(v.top_category, lang) if v.top_category else ''}{sure}")
            out.append(f"      {axis_reason(r, axis, lang)}")
        return out
    lines = ["  action: " + click.style(r.action.replace("_", " ").upper(), fg=_ACTION_COLOUR.get(r.action),
                                        bold=True)]
    for name, v in (("illicit activity", r.illicit), ("virtual-currency business", r.vc_business)):
        if v.band is None:
            continue
        what = f" {v.top_category}" if v.top_category else ""
        sure = f", confidence {v.confidence}" if v.confidence else ""
        lines.append(f"  {name + ':':<27}{v.band.upper():<7}{v.score:>5.1f}{what}{sure}")
        if v.reason:
            lines.append(f"  {'':<27}{v.reason}")
    return lines


def _table(r: Any, lang: str = "en") -> str:
    """The person's view of one answer (styled; click drops the colours off a terminal), in ``lang``."""
    if lang != "en":
        return _table_i18n(r, lang)
    lines: list[str] = []
    out = lines.append
    out(_verdict(r))
    if r.status == "invalid":
        return _text(lines)
    axes = _axes(r)
    lines.extend(axes)
    if r.reason and not axes:
        out(f"  {r.reason}")
    lines.extend(_per_chain(r))
    reasons = r.reasons()
    if reasons:
        out("Why:")
        for line in reasons:
            out(f"  - {line}")
    ended = [lab for lab in r.labels if not lab.active]
    if ended:
        out("Ended labels (history):")
        for lab in ended:
            out(f"  - {lab.category} ({lab.name or '-'}) by {lab.source}, "
                f"{_d(lab.valid_from)} to {_d(lab.valid_to)}")
    if r.exposures:
        out("Exposure:")
        multi = len(r.chains) > 1
        rows = [("category", "direction", "hops", "USD", "share", "min hop") + (("chain",) if multi else ())]
        rows += [(e.category + (" (inferred)" if e.inferred else ""), "incoming" if e.direction == "in" else "outgoing", e.hop_class, f"{e.usd:,.2f}",
                  f"{e.share:.1%}", str(e.min_hop)) + ((e.chain or "",) if multi else ()) for e in r.exposures]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            out("  " + "  ".join(c.rjust(w) if 3 <= i <= 5 else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip())
        if any(e.category == "bridge" for e in r.exposures):
            from .. import i18n

            out("  " + i18n.t("report.bridge_note", "en"))
    beh = r.behaviour
    if beh and beh.get("top"):
        out(f"Behaviour (part {beh['score']:.1f} of 100; behaves like {'illicit addresses' if beh['behaves_like'] == 'illicit' else 'an ordinary address'}):")
        from ..engine.behaviour import value_text

        brows: list[tuple[str, str, str, str]] = [("feature", "value", "pushes up by", "meaning")]
        brows += [(t["feature"], value_text(t["feature"], float(t["value"] or 0)), f"{t['contribution']:+.2f}",
                  str(t["meaning"] or "")) for t in beh["top"]]
        bw = [max(len(row[i]) for row in brows) for i in range(3)]
        for brow in brows:
            out("  " + "  ".join([brow[0].ljust(bw[0]), brow[1].rjust(bw[1]), brow[2].rjust(bw[2]), brow[3]]))
    if r.evidence:
        out("Evidence paths:")
        for p in r.evidence:
            on = f" [{p['chain']}]" if len(r.chains) > 1 and p.get("chain") else ""
            out(f"  - {p.get('sentence', '')}{on}")
            for hop in p.get("transfers", []) or []:
                out("      " + _hop(hop))
    pv = r.provenance
    sources = ", ".join(f"{s.get('source')} {s.get('version') or ''}".strip() for s in pv.label_sources) or "none"
    out(f"Source: run {pv.run_id} (profile {pv.profile}); data as of block {pv.as_of_block} "
        f"({_d(pv.as_of_time)} UTC); labels: {sources}")
    return _text(lines)


def _table_i18n(r: Any, lang: str) -> str:
    """:func:`_table` in another language: the same parts, every word from the catalogue (figures, addresses,
    hashes and the label names stay as they are)."""
    from .. import i18n
    from ..answers.report import path_sentence, unknown_reason, why_lines

    t = i18n.t
    lines: list[str] = [_verdict_i18n(r, lang)]
    out = lines.append
    if r.status == "invalid":
        return _text(lines)
    lines.extend(_axes(r, lang))
    lines.extend(_per_chain(r, lang))
    if r.status == "unknown":
        out(f"  {t('report.unknown_body', lang)}")
        out(f"  {t('report.unknown_reason', lang)}: {unknown_reason(r, lang)}")
    reasons = why_lines(r, lang) if r.status == "ok" else []
    if reasons:
        out(t("cli.why", lang))
        out("\n".join(f"  - {x}" for x in reasons))
    if r.exposures:
        out(t("cli.exposure", lang))
        multi = len(r.chains) > 1
        rows: list[tuple[str, ...]] = [(t("report.category", lang), t("report.direction", lang),
                                        t("report.hops", lang), t("report.usd", lang), t("report.share", lang),
                                        t("report.min_hop", lang)) + ((t("report.chain", lang),) if multi else ())]
        rows += [(i18n.category(e.category, lang) + (t("report.inferred", lang) if e.inferred else ""),
                  t("direction." + e.direction + "_short", lang), t("hops." + e.hop_class, lang), f"{e.usd:,.2f}",
                  f"{e.share:.1%}", str(e.min_hop)) + ((e.chain or "",) if multi else ()) for e in r.exposures]
        for row in rows:
            out("  " + "  ".join(row).rstrip())
        if any(e.category == "bridge" for e in r.exposures):
            out("  " + t("report.bridge_note", lang))
    if r.evidence:
        out(t("cli.evidence", lang))
        for p in r.evidence:
            on = f" [{p['chain']}]" if len(r.chains) > 1 and p.get("chain") else ""
            out(f"  - {path_sentence(p, lang)}{on}")
            for hop in p.get("transfers", []) or []:
                out("      " + _hop(hop))
    pv = r.provenance
    sources = ", ".join(f"{s.get('source')} {s.get('version') or ''}".strip() for s in pv.label_sources) \
        or t("cli.none", lang)
    out(t("cli.source_line", lang, run=pv.run_id, profile=pv.profile, block=pv.as_of_block,
          time=_d(pv.as_of_time), labels=sources))
    return _text(lines)


def _text(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def _hop(hop: dict[str, Any]) -> str:
    """One transfer of a path: time, amount, from -> to (with labels), tx hash."""
    def who(addr: Any, labels: Any) -> str:
        names = [lab.get("name") or lab.get("category") for lab in labels or []]
        return f"{addr} [{', '.join(str(n) for n in names)}]" if names else str(addr)

    amount = hop.get("amount")
    amt = f"{amount:,.2f} {hop.get('token') or ''}".strip() if isinstance(amount, (int, float)) else ""
    return (f"{hop.get('time') or '-'}  {amt}  {who(hop.get('from_address'), hop.get('from_labels'))} -> "
            f"{who(hop.get('to_address'), hop.get('to_labels'))}  tx {hop.get('tx_hash')}")


def _d(v: Any) -> str:
    if v is None:
        return "-"
    return v.isoformat(sep=" ", timespec="minutes") if hasattr(v, "isoformat") and hasattr(v, "hour") else str(v)
