"""Commands that only read never create a store: a missing --db is one sentence and exit 6, and no file appears."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import chainrisk
from chainrisk.cli import cli
from chainrisk.errors import StoreError

ADDRESS = "0x52908400098527886e0f7030069857d2e4169ee7"

READ_COMMANDS = [
    ("status",),
    ("runs",),
    ("score",),
    ("lookup", ADDRESS),
    ("lookup", ADDRESS, "--explain"),
    ("report", ADDRESS, "-o", "case.html"),
    ("screen", "declared.csv"),
    ("labels", "list"),
    ("labels", "show", ADDRESS),
    ("labels", "sources"),
    ("labels", "retire", "acme"),
    ("keys", "list"),
    ("keys", "revoke", "k3f9a1c2d"),
]


@pytest.mark.parametrize("args", READ_COMMANDS, ids=[" ".join(a[:2]) for a in READ_COMMANDS])
def test_read_command_on_a_missing_store_fails_and_creates_nothing(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   args: tuple[str, ...]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "declared.csv").write_text(f"address\n{ADDRESS}\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    r = CliRunner().invoke(cli, ["--db", "missing.duckdb", *args])
    assert isinstance(r.exception, StoreError) and r.exception.exit_code == 6
    assert str(r.exception).startswith("no chainrisk store at missing.duckdb; check --db")
    assert r.output == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no store, no WAL, no report


def test_exit_code_and_the_one_sentence_through_main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    from chainrisk.cli import main

    monkeypatch.setenv("CHAINRISK_DB", str(tmp_path / "gone.duckdb"))
    with pytest.raises(SystemExit) as e:
        main(["status"])
    assert e.value.code == 6
    out, err = capfd.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("Error: no chainrisk store at ")
    assert not (tmp_path / "gone.duckdb").exists()


def test_commands_that_bring_data_in_create_the_store(tmp_path: Path) -> None:
    db = tmp_path / "new.duckdb"
    r = CliRunner().invoke(cli, ["--db", str(db), "-q", "labels", "import", "--input-format", "bundled",
                                 "--format", "json"])
    assert r.exit_code == 0, r.output
    assert db.exists()
    r = CliRunner().invoke(cli, ["--db", str(db), "status", "--format", "json"])
    assert r.exit_code == 0 and '"db": ' in r.output
    with chainrisk.open(db, create=False) as st:
        assert st.execute("SELECT count(*) FROM labels").fetchone()[0] > 0
