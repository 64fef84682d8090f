"""docs/cli.md is generated from the commands' own --help and kept current; every command and option has help."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import click
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "scripts" / "cli_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REF = _script()
COMMANDS = REF.all_commands()
IDS = [ctx.command_path for _, ctx in COMMANDS]


def test_docs_cli_md_is_current() -> None:
    committed = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert REF.render() == committed, "docs/cli.md is out of date: run python scripts/cli_reference.py"


def test_the_reference_walks_every_command() -> None:
    names = set(IDS)
    assert {"chainrisk", "chainrisk ingest file", "chainrisk ingest rpc", "chainrisk labels import",
            "chainrisk keys create", "chainrisk lookup", "chainrisk screen", "chainrisk demo"} <= names
    assert len(COMMANDS) == len(names) == 54   # every command and group, after monitoring (watch, alerts), case work, model, fetch and export


@pytest.mark.parametrize(("cmd", "ctx"), COMMANDS, ids=IDS)
def test_command_and_every_option_has_help_and_is_in_the_docs(cmd: click.Command, ctx: click.Context) -> None:
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert (cmd.help or "").strip(), f"{ctx.command_path} has no help text"
    assert f"## {ctx.command_path}\n" in doc
    section = doc.split(f"## {ctx.command_path}\n", 1)[1].split("\n## ", 1)[0]
    for param in cmd.get_params(ctx):
        if isinstance(param, click.Option):
            assert (param.help or "").strip(), f"{ctx.command_path} {param.opts[-1]} has no help text"
            for opt in param.opts + param.secondary_opts:
                assert opt in section, f"{opt} of {ctx.command_path} is missing from docs/cli.md"
        else:  # an argument: named in the usage line and explained in the command's help
            assert (param.human_readable_name or "").upper() in section


def test_check_mode_reports_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "cli.md"
    stale.write_text("# old\n", encoding="utf-8")
    monkeypatch.setattr(REF, "DOC", stale)
    assert REF.main(["--check"]) == 1
    assert "cli.md is out of date" in capsys.readouterr().err
    assert REF.main([]) == 0 and REF.main(["--check"]) == 0
    assert stale.read_text(encoding="utf-8") == REF.render()
