"""`chainrisk case ...`: an investigator's case in the store (addresses, notes, disposition, who and when;
append-only), exported with the evidence as one report."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

import click

from ._common import DOCUMENTS, RECORDS, cli_lang, format_option, lang_option, open_store, write

DISPOSITIONS = ("cleared", "monitor", "sever", "reported")


def _default_actor() -> str:
    try:
        return os.environ.get("CHAINRISK_ANALYST") or getpass.getuser()
    except Exception:  # no user name on this system
        return ""


by_option = click.option("--by", "actor", default=_default_actor, show_default="env CHAINRISK_ANALYST, else the "
                         "login name", metavar="NAME", help="Who does this (recorded in the case history).")


@click.group()
def case() -> None:
    """Cases: the addresses under investigation, notes, a disposition (cleared|monitor|sever|reported), who and
    when. Nothing is overwritten: every change is one more entry in the case's history."""


def _show(ctx: click.Context, c: Any, fmt: str, lang: str) -> None:
    from .. import i18n
    from ..answers.cases import history_lines

    t = i18n.t
    lines = [f"{c.case_id}  {c.title}",
             f"  {t('report.customer_ref', lang)}: {c.customer_ref or t('report.not_given', lang)}",
             f"  {t('report.disposition', lang)}: "
             f"{t('disposition.' + c.disposition, lang) if c.disposition else t('report.not_given', lang)}",
             f"  {t('report.addresses', lang)}:"]
    lines += [f"    {a['address']} ({a['chain']})" for a in c.addresses] or ["    -"]
    lines.append(f"  {t('report.history', lang)}:")
    lines += [f"    {h['at']}  {h['actor']}  {h['kind']}  {h['text']}" for h in history_lines(c, lang)]
    write(fmt, c.to_dict(), table="\n".join(lines) + "\n", unicode=("json", "jsonl"))


@case.command("open")
@click.argument("addresses", nargs=-1)
@click.option("--title", required=True, metavar="TEXT", help="What the case is about.")
@click.option("--customer-ref", metavar="TEXT", help="The bank's customer reference.")
@click.option("--note", metavar="TEXT", help="A first note.")
@by_option
@format_option(DOCUMENTS)
@lang_option
@click.pass_context
def case_open(ctx: click.Context, addresses: tuple[str, ...], title: str, customer_ref: str | None,
              note: str | None, actor: str, fmt: str, lang: str | None) -> None:
    """Open a case, with ADDRESSES (0x hex or TRON) if given; prints the case and its id."""
    from ..answers.cases import open_case

    with open_store(ctx) as st:
        c = open_case(st, title, actor=actor, customer_ref=customer_ref, addresses=list(addresses), note=note)
    _show(ctx, c, fmt, cli_lang(ctx, lang))


@case.command("add")
@click.argument("case_id")
@click.argument("addresses", nargs=-1, required=True)
@by_option
@format_option(DOCUMENTS)
@lang_option
@click.pass_context
def case_add(ctx: click.Context, case_id: str, addresses: tuple[str, ...], actor: str, fmt: str,
             lang: str | None) -> None:
    """Add ADDRESSES to the case CASE_ID."""
    from ..answers.cases import add_addresses

    with open_store(ctx) as st:
        _show(ctx, add_addresses(st, case_id, list(addresses), actor=actor), fmt, cli_lang(ctx, lang))


@case.command("remove")
@click.argument("case_id")
@click.argument("address")
@click.option("--reason", metavar="TEXT", help="Why it is taken off the case.")
@by_option
@format_option(DOCUMENTS)
@lang_option
@click.pass_context
def case_remove(ctx: click.Context, case_id: str, address: str, reason: str | None, actor: str, fmt: str,
                lang: str | None) -> None:
    """Take ADDRESS off the case (recorded; its history stays)."""
    from ..answers.cases import remove_address

    with open_store(ctx) as st:
        _show(ctx, remove_address(st, case_id, address, actor=actor, text=reason), fmt, cli_lang(ctx, lang))


@case.command("note")
@click.argument("case_id")
@click.argument("text")
@by_option
@format_option(DOCUMENTS)
@lang_option
@click.pass_context
def case_note(ctx: click.Context, case_id: str, text: str, actor: str, fmt: str, lang: str | None) -> None:
    """Add a note to the case."""
    from ..answers.cases import add_note

    with open_store(ctx) as st:
        _show(ctx, add_note(st, case_id, text, actor=actor), fmt, cli_lang(ctx, lang))


@case.command("decide")
@click.argument("case_id")
@click.argument("disposition", type=click.Choice(DISPOSITIONS), metavar="DISPOSITION")
@click.option("--reason", metavar="TEXT", help="Why (e.g. 'STR filed 2026-12-02, ref 123').")
@by_option
@format_option(DOCUMENTS)
@lang_option
@click.pass_context
def case_decide(ctx: click.Context, case_id: str, disposition: str, reason: str | None, actor: str, fmt: str,
                lang: str | None) -> None:
    """Record the DISPOSITION of the case (cleared|monitor|sever|reported); a later one supersedes it and both
    stay in the history."""
    from ..answers.cases import decide

    with open_store(ctx) as st:
        _show(ctx, decide(st, case_id, disposition, actor=actor, text=reason), fmt, cli_lang(ctx, lang))


@case.command("ref")
@click.argument("case_id")
@click.argument("customer_ref")
@by_option
@format_option(DOCUMENTS)
@lang_option
@click.pass_context
def case_ref(ctx: click.Context, case_id: str, customer_ref: str, actor: str, fmt: str, lang: str | None) -> None:
    """Set the customer reference of the case (the earlier one stays in the history)."""
    from ..answers.cases import set_customer_ref

    with open_store(ctx) as st:
        _show(ctx, set_customer_ref(st, case_id, customer_ref, actor=actor), fmt, cli_lang(ctx, lang))


@case.command("show")
@click.argument("case_id")
@format_option(DOCUMENTS)
@lang_option
@click.pass_context
def case_show(ctx: click.Context, case_id: str, fmt: str, lang: str | None) -> None:
    """Show a case as it stands, with its whole history."""
    from ..answers.cases import get_case

    with open_store(ctx, read_only=True) as st:
        _show(ctx, get_case(st, case_id), fmt, cli_lang(ctx, lang))


@case.command("list")
@format_option(RECORDS)
@click.pass_context
def case_list(ctx: click.Context, fmt: str) -> None:
    """List the cases, newest first, with their disposition and number of addresses."""
    from ..answers.cases import list_cases

    with open_store(ctx, read_only=True) as st:
        write(fmt, list_cases(st))


@case.command("export")
@click.argument("case_id")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The case report: .html or .pdf (A4, needs headless Chromium).")
@click.option("--run", "run_id", metavar="RUN_ID", help="Scoring run (default: the latest complete).")
@click.option("--top", default=3, show_default=True, type=click.IntRange(1, 20), help="Evidence paths per exposure.")
@lang_option
@click.pass_context
def case_export(ctx: click.Context, case_id: str, output: Path, run_id: str | None, top: int,
                lang: str | None) -> None:
    """Write one report of the case: the case (reference, disposition, notes, history, sign-off) and the full
    evidence report of each of its addresses."""
    from .. import i18n
    from ..answers.cases import export_case

    lang_ = cli_lang(ctx, lang)
    with open_store(ctx) as st:
        path = export_case(st, case_id, output, lang=lang_, run_id=run_id, top=top)
    if not ctx.obj.get("quiet"):
        click.echo(i18n.t("cli.report_written", lang_, path=path), err=True)
