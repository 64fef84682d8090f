"""The analyst notebooks execute from top to bottom (with nbclient) against the current code, so they never rot.

Each notebook builds its own small demo store (a few seconds); together they take about a minute, so they are
marked ``slow`` (``scripts/test.sh --fast`` leaves them out). They need ``pip install -e '.[dev]'`` (nbclient,
nbformat, ipykernel, matplotlib, pandas: the ``notebooks`` extra)."""

from __future__ import annotations

from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def test_the_three_analyst_notebooks_are_there():
    assert {"01_investigate_an_address.ipynb", "02_screen_a_bank_file.ipynb", "03_explore_the_graph.ipynb"} <= \
        set(NAMES)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes(name: str, tmp_path: Path):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=240, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()        # raises CellExecutionError, naming the cell, on any error
    images = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                 if "image/png" in o.get("data", {}))
    assert images >= 2, "every notebook draws plots"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_has_outputs_and_no_machine_paths(name: str):
    text = (NOTEBOOKS / name).read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), "commit notebooks executed, with their outputs"
    for marker in ("/" + d + "/" for d in ("tmp", "work", "root", "home")):  # no machine paths
        assert marker not in text, marker
