"""An investigator's cases, in the store: the addresses under investigation, notes, a disposition, who and when.

    >>> from chainrisk.answers import cases
    >>> c = cases.open_case(st, "Pig-butchering ring, customer 7", actor="li.wei", customer_ref="C-2026-0042",
    ...                     addresses=["0xabc..."])
    >>> cases.add_note(st, c.case_id, "customer says the funds are salary", actor="li.wei")
    >>> cases.decide(st, c.case_id, "reported", actor="zhang.min", text="STR filed 2026-12-02")
    >>> cases.export_case(st, c.case_id, "case.pdf", lang="zh-CN")

Append-only (schema :mod:`chainrisk.store.migrations.cases`): opening a case writes one row, and every later
change is one more event; nothing is ever updated or deleted. The case as it stands (:class:`Case`) is derived
from its history: the addresses added and not removed since, the latest disposition, the latest customer
reference, every note. :func:`export_case` writes one report of the case with the evidence of each address.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import i18n
from ..address import Address, try_parse
from ..errors import InputError, InvalidAddress, UsageError
from ..store import Store
from .report import DISPOSITIONS, SUFFIXES, CaseInfo, collect, find_chromium, render_case_html, render_pdf

MAX_TEXT = 4000
_CASE_ID = re.compile(r"case-[0-9a-f]{8}")


@dataclass
class Case:
    case_id: str
    title: str
    created_at: datetime
    created_by: str
    customer_ref: str | None = None
    disposition: str | None = None
    addresses: list[dict[str, str]] = field(default_factory=list)   # [{address, chain}] in the order added
    notes: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "title": self.title, "created_at": self.created_at.isoformat(),
                "created_by": self.created_by, "customer_ref": self.customer_ref, "disposition": self.disposition,
                "addresses": list(self.addresses), "notes": list(self.notes), "history": list(self.history)}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _text(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    v = value.strip()
    if not v:
        raise UsageError(f"the {what} is empty")
    if len(v) > MAX_TEXT:
        raise UsageError(f"the {what} is {len(v):,} characters; at most {MAX_TEXT:,} are kept")
    return v


def _actor(actor: str) -> str:
    a = (actor or "").strip()
    if not a:
        raise UsageError("say who does this (--by NAME, or the admin key's name)")
    return a[:200]


def _event(store: Store, case_id: str, actor: str, kind: str, *, address: Address | None = None,
           disposition: str | None = None, text: str | None = None) -> None:
    store.execute(
        "INSERT INTO case_events (case_id, event_at, actor, kind, address, chain, disposition, text)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [case_id, _now(), actor, kind, address.address if address else None, address.chain if address else None,
         disposition, text])


def _parse(address: str) -> Address:
    p = try_parse(address)
    if not isinstance(p, Address):
        raise InvalidAddress(address, p.reason)
    return p


def open_case(store: Store, title: str, *, actor: str, customer_ref: str | None = None,
              addresses: list[str] | tuple[str, ...] = (), note: str | None = None) -> Case:
    """Open a case (one row) with its first events: the customer reference, the addresses, a note."""
    title_ = _text(title, "title")
    who = _actor(actor)
    parsed = [_parse(a) for a in addresses]
    ref, text = _text(customer_ref, "customer reference"), _text(note, "note")
    case_id = "case-" + secrets.token_hex(4)
    with store.transaction():
        store.execute("INSERT INTO cases VALUES (?, ?, ?, ?)", [case_id, title_, _now(), who])
        _event(store, case_id, who, "opened", text=title_)
        if ref:
            _event(store, case_id, who, "customer_ref", text=ref)
        seen: set[tuple[str, str]] = set()
        for a in parsed:
            if (a.chain, a.address) not in seen:
                seen.add((a.chain, a.address))
                _event(store, case_id, who, "address_added", address=a)
        if text:
            _event(store, case_id, who, "note", text=text)
    return get_case(store, case_id)


def _exists(store: Store, case_id: str) -> None:
    if not store.execute("SELECT 1 FROM cases WHERE case_id = ?", [case_id]).fetchall():
        raise InputError(f"no case {case_id!r} in {store.path}; 'chainrisk case list' shows the cases")


def add_addresses(store: Store, case_id: str, addresses: list[str] | tuple[str, ...], *, actor: str) -> Case:
    """Add addresses to a case (one already in it is not added twice)."""
    who = _actor(actor)
    parsed = [_parse(a) for a in addresses]
    _exists(store, case_id)
    current = {(a["chain"], a["address"]) for a in get_case(store, case_id).addresses}
    with store.transaction():
        for a in parsed:
            if (a.chain, a.address) not in current:
                current.add((a.chain, a.address))
                _event(store, case_id, who, "address_added", address=a)
    return get_case(store, case_id)


def remove_address(store: Store, case_id: str, address: str, *, actor: str, text: str | None = None) -> Case:
    """Take an address off a case (recorded, with the reason when given; its earlier events stay)."""
    who = _actor(actor)
    a = _parse(address)
    _exists(store, case_id)
    if (a.chain, a.address) not in {(x["chain"], x["address"]) for x in get_case(store, case_id).addresses}:
        raise InputError(f"{a.address} is not in case {case_id}")
    with store.transaction():
        _event(store, case_id, who, "address_removed", address=a, text=_text(text, "reason"))
    return get_case(store, case_id)


def add_note(store: Store, case_id: str, text: str, *, actor: str) -> Case:
    who, note = _actor(actor), _text(text, "note")
    _exists(store, case_id)
    with store.transaction():
        _event(store, case_id, who, "note", text=note)
    return get_case(store, case_id)


def decide(store: Store, case_id: str, disposition: str, *, actor: str, text: str | None = None) -> Case:
    """Record a disposition (cleared | monitor | sever | reported); a later one supersedes it, both are kept."""
    if disposition not in DISPOSITIONS:
        raise UsageError(f"unknown disposition {disposition!r}; dispositions: {', '.join(DISPOSITIONS)}")
    who = _actor(actor)
    _exists(store, case_id)
    with store.transaction():
        _event(store, case_id, who, "disposition", disposition=disposition, text=_text(text, "reason"))
    return get_case(store, case_id)


def set_customer_ref(store: Store, case_id: str, customer_ref: str, *, actor: str) -> Case:
    who, ref = _actor(actor), _text(customer_ref, "customer reference")
    _exists(store, case_id)
    with store.transaction():
        _event(store, case_id, who, "customer_ref", text=ref)
    return get_case(store, case_id)


def get_case(store: Store, case_id: str) -> Case:
    """The case as it stands, derived from its history (oldest first)."""
    rows = store.execute("SELECT case_id, title, created_at, created_by FROM cases WHERE case_id = ?",
                         [case_id]).fetchall()
    if not rows:
        raise InputError(f"no case {case_id!r} in {store.path}; 'chainrisk case list' shows the cases")
    c = Case(*rows[0])
    addrs: dict[tuple[str, str], None] = {}
    for event_id, at, actor, kind, address, chain, disposition, text in store.execute(
            "SELECT event_id, event_at, actor, kind, address, chain, disposition, text FROM case_events"
            " WHERE case_id = ? ORDER BY event_id", [case_id]).fetchall():
        entry = {"event_id": int(event_id), "at": at.isoformat(sep=" "), "actor": actor, "kind": kind,
                 "address": address, "chain": chain, "disposition": disposition, "text": text}
        c.history.append(entry)
        if kind == "address_added":
            addrs[(chain, address)] = None
        elif kind == "address_removed":
            addrs.pop((chain, address), None)
        elif kind == "note":
            c.notes.append({"at": entry["at"], "actor": actor, "text": text})
        elif kind == "disposition":
            c.disposition = disposition
        elif kind == "customer_ref":
            c.customer_ref = text
    c.addresses = [{"address": a, "chain": ch} for ch, a in addrs]
    return c


def list_cases(store: Store) -> list[dict[str, Any]]:
    """Every case with its current disposition and number of addresses, newest first."""
    out = []
    for (case_id,) in store.execute("SELECT case_id FROM cases ORDER BY created_at DESC, case_id").fetchall():
        c = get_case(store, case_id)
        out.append({"case_id": c.case_id, "title": c.title, "customer_ref": c.customer_ref,
                    "disposition": c.disposition, "addresses": len(c.addresses), "events": len(c.history),
                    "created_at": c.created_at.isoformat(sep=" "), "created_by": c.created_by})
    return out


def history_lines(c: Case, lang: str) -> list[dict[str, Any]]:
    """The history for a person: when, who, what (in ``lang``), detail."""
    out = []
    for h in c.history:
        what = i18n.t(f"case.{h['kind']}", lang)
        detail = h.get("text") or ""
        if h["kind"] in ("address_added", "address_removed"):
            detail = h["address"] + (f" — {h['text']}" if h.get("text") else "")
        elif h["kind"] == "disposition":
            detail = i18n.t(f"disposition.{h['disposition']}", lang) + (f" — {h['text']}" if h.get("text") else "")
        out.append({"at": h["at"], "actor": h["actor"], "kind": what, "text": detail})
    return out


def case_info(c: Case, lang: str = "en", *, analyst: str | None = None) -> CaseInfo:
    notes = "\n".join(f"[{n['at']} {n['actor']}] {n['text']}" for n in c.notes) or None
    return CaseInfo(customer_ref=c.customer_ref, note=notes, disposition=c.disposition,
                    analyst=analyst or c.created_by, case_id=c.case_id, title=c.title,
                    history=history_lines(c, lang))


def export_case(store: Store, case_id: str, output_path: str | os.PathLike[str], *, lang: str | None = None,
                run_id: str | None = None, top: int = 3, analyst: str | None = None,
                generated_at: datetime | None = None) -> Path:
    """One report of the case (``.html``, ``.pdf``; ``.md`` is not offered for a case): the case (reference,
    disposition, notes, history) and then, for each address, its full evidence report."""
    out = Path(output_path)
    lang = i18n.resolve(lang)
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES or suffix in (".md", ".markdown"):
        raise UsageError(f"a case report is .html or .pdf, not {out.name!r}")
    chromium = find_chromium(lang) if suffix == ".pdf" else None
    c = get_case(store, case_id)
    info = case_info(c, lang, analyst=analyst)
    datas = [collect(store, a["address"], run_id=run_id, top=top, generated_at=generated_at, case=info, lang=lang)
             for a in c.addresses]
    html_text = render_case_html(info, datas, lang, generated_at=generated_at)
    if suffix == ".pdf":
        render_pdf(html_text, out, chromium=chromium, lang=lang)
    else:
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(html_text, encoding="utf-8")
        os.replace(tmp, out)
    return out


def valid_case_id(case_id: str) -> bool:
    return bool(_CASE_ID.fullmatch(case_id))
