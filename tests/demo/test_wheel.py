"""The wheel is self-contained: built from this checkout, installed in a fresh venv, it runs ``chainrisk demo`` and
the README's Python API from a temp folder with no checkout in sight.

The wheel is built with ``pip wheel --no-deps`` (build isolation: setuptools comes from the package index or pip's
cache). To stay fast and offline-friendly, the fresh venv takes chainrisk's dependencies from the dev venv through
a ``.pth`` line (a plain path entry: the dev venv's editable finder for the checkout is not run, which the test
checks); the wheel itself is installed with ``--no-deps``. A full ``pip install chainrisk-*.whl`` that resolves
every dependency from the index takes about two minutes and is the manual check described in docs/demo.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _readme_api_snippet() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Python API"):]
    m = re.search(r"```python\n(.*?)```", section, re.S)
    assert m, "README's Python API section has a python block"
    return m.group(1)


def _adapt(snippet: str, db: Path, files: Path, address: str) -> str:
    """The README snippet with its placeholders replaced by the demo's files (each one must be there)."""
    subs = [
        ('chainrisk.open("case.duckdb")', f'chainrisk.open({str(db)!r})'),
        ('["token_transfers.parquet"]', repr([str(files / "token_transfers.parquet")])),
        ('["sdn_advanced.xml"], format="ofac-xml"', f'[{str(files / "labels.csv")!r}], format="csv"'),
        ('"declared.csv"', repr(str(files / "declared_addresses.csv"))),
        ('"case.html"', repr(str(db.parent / "case.html"))),
        ('"0x..."', repr(address)),
    ]
    for old, new in subs:
        assert old in snippet, f"the README's Python API no longer has {old}; update this test"
        snippet = snippet.replace(old, new)
    # the node line needs a node: run everything else
    lines = [ln for ln in snippet.splitlines() if "ingest_rpc(" not in ln]
    assert len(lines) == len(snippet.splitlines()) - 1
    return "\n".join(lines) + "\n"


def test_wheel_installs_and_runs_the_demo_and_the_readme_api_without_a_checkout(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "CHAINRISK_DB")}
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(dist)], tmp_path, env)
    [wheel] = dist.glob("chainrisk-*.whl")

    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    for data in ("chainrisk/data/tokens.csv", "chainrisk/data/labels/exchanges.csv", "chainrisk/profiles/cn.toml",
                 "chainrisk/profiles/fatf.toml", "chainrisk/demo/contracts/CircleLike.json",
                 "chainrisk/demo/contracts/TetherLike.json", "chainrisk/data/messages.toml",
                 "chainrisk/service/ui/index.html", "chainrisk/service/ui/app.js", "chainrisk/service/ui/app.css",
                 "chainrisk/service/ui/vendor/cytoscape.min.js", "chainrisk/service/ui/vendor/cytoscape.LICENSE"):
        assert data in names, data
    assert not [n for n in names if n.startswith(("tests/", "bench/", "notebooks/", "node_modules/"))]

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env)
    py = venv / "bin" / "python"
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path,
                     env).stdout.strip())
    (site / "_chainrisk_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", str(wheel)], tmp_path,
         env)

    work = tmp_path / "elsewhere"          # no checkout, no node_modules, no datasets/ here
    work.mkdir()
    where = _run([str(py), "-c", "import chainrisk; print(chainrisk.__file__)"], work, env).stdout.strip()
    assert where.startswith(str(site)) and not where.startswith(str(ROOT)), where

    demo = _run([str(venv / "bin" / "chainrisk"), "demo", "--scale", "0.02"], work, env)
    assert demo.stdout.startswith("chainrisk demo: a simulated stablecoin economy (scale 0.02, seed 7)")
    for stage in ("generate", "ingest", "labels", "score", "screen", "evaluate", "lookups"):
        assert re.search(rf"^{stage} +done ", demo.stdout, re.M), stage
    db = work / "chainrisk-demo.duckdb"
    files = work / "chainrisk-demo.duckdb.files"
    assert db.is_file() and (files / "screening_results.csv").is_file()

    import csv

    with (files / "truth.csv").open(newline="") as f:
        address = next(row["address"] for row in csv.DictReader(f) if row["role"] == "collector")
    script = _adapt(_readme_api_snippet(), db, files, address) + textwrap.dedent("""
        assert run.run_id and sum(run.bands.values()) > 0
        assert res.to_dict()["status"] == "ok" and res.to_dict()["evidence"] is not None
        assert screened.arrow().num_rows == len(screened.df()) > 0
        print("README API OK", res.risk_band, screened.hits("high"))
    """)
    (work / "readme_api.py").write_text(script)
    out = _run([str(py), "readme_api.py"], work, env)
    assert "README API OK" in out.stdout
    assert (work / "case.html").stat().st_size > 1000

    # --via-node from the wheel: without anvil, one sentence saying how to install it
    env_no_anvil = dict(env, CHAINRISK_ANVIL=str(work / "no-anvil"))
    proc = subprocess.run([str(venv / "bin" / "chainrisk"), "demo", "--via-node", "--db", "n.duckdb"], cwd=work,
                          env=env_no_anvil, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 5, proc.stderr
    assert "npm install @foundry-rs/anvil-linux-amd64@1.7.1" in proc.stderr
