"""The command line: a thin shell over the Python API.

Only this package imports click. Each command parses its options, calls one public function and hands the result
to one output writer. Subcommands live in their own modules and are imported lazily, so ``chainrisk --help``
starts fast. Errors are translated to exit codes in exactly one place: :func:`main`.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from ..errors import ChainriskError
from ..version import __version__

# exit code of Ctrl-C (128 + SIGINT), the one code outside chainrisk.errors
INTERRUPTED = 130

# command name -> "module:attribute" (relative to chainrisk.cli)
COMMANDS: dict[str, str] = {
    "status": "store_cmds:status",
    "ingest": "ingest:ingest",
    "fetch": "fetch:fetch",
    "labels": "labels:labels",
    "lookup": "lookup:lookup",
    "screen": "screen:screen",
    "report": "report:report",
    "case": "case:case",
    "serve": "serve:serve",
    "keys": "serve:keys",
    "score": "score:score",
    "runs": "score:runs",
    "export": "export:export",
    "demo": "demo:demo",
    "evaluate": "evaluate:evaluate",
    "model": "model:model",
    "watch": "monitoring:watch",
    "alerts": "monitoring:alerts",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use: ``lazy`` maps a command name to
    "module:attribute" in chainrisk.cli."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.lazy)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        cmd: click.Command = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
        return cmd


@click.group(cls=LazyGroup, lazy=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--db", "db", envvar="CHAINRISK_DB", default="chainrisk.duckdb", show_default=True, metavar="PATH",
              help="The DuckDB store file (env CHAINRISK_DB).")
@click.option("--lang", "lang", envvar="CHAINRISK_LANG", default=None, metavar="LANG",
              help="Language of the human-facing text: en or zh-CN (env CHAINRISK_LANG); data stays English.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (-vv for debug).")
@click.version_option(__version__, prog_name="chainrisk")
@click.pass_context
def cli(ctx: click.Context, db: str, lang: str | None, quiet: bool, verbose: int) -> None:
    """chainrisk: does this address link to virtual-currency business or to illegal activity?

    Ingest stablecoin transfers, label addresses, propagate risk, and look up or screen addresses with evidence.
    stdout carries data; progress and logs go to stderr.
    """
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose + 1, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from .. import i18n

    ctx.obj = {"db": db, "quiet": quiet, "verbose": verbose, "lang": i18n.resolve(lang)}


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the CLI and map errors to exit codes: a ChainriskError's own (see chainrisk.errors), click's
    usage errors 2 (= UsageError's), Ctrl-C 130."""
    try:
        return cli.main(args=argv, prog_name="chainrisk", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(INTERRUPTED)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except ChainriskError as e:
        click.echo(_error_line(e, argv), err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted; work committed so far is kept, rerun to resume.", err=True)
        sys.exit(INTERRUPTED)


def _error_line(e: ChainriskError, argv: list[str] | None) -> str:
    """``Error: ...`` in the language asked (``--lang`` anywhere on the line, else ``CHAINRISK_LANG``)."""
    from .. import i18n

    args = list(sys.argv[1:] if argv is None else argv)
    lang = None
    for i, a in enumerate(args):
        if a == "--lang" and i + 1 < len(args):
            lang = args[i + 1]
        elif a.startswith("--lang="):
            lang = a.split("=", 1)[1]
    try:
        lang = i18n.resolve(lang)
    except ChainriskError:
        lang = "en"
    return i18n.t("cli.error", lang, message=str(e))
