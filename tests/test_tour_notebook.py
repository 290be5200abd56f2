"""docs/tour.ipynb runs top to bottom without an error, and is stored without outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the test extra installs nbformat")

TOUR = Path(__file__).resolve().parent.parent / "docs" / "tour.ipynb"


def test_tour_is_stored_without_outputs():
    notebook = nbformat.read(TOUR, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "strip the outputs before committing"


def test_tour_covers_the_story():
    text = TOUR.read_text(encoding="utf-8")
    needles = ("viz.draw(", "show_grad=True", "你好李焕英", "autograd.grad(", "range(100)", "import torch")
    for needle in needles:
        assert needle in text


@pytest.mark.slow
def test_tour_runs_top_to_bottom(tmp_path):
    nbclient = pytest.importorskip("nbclient", reason="the test extra installs nbclient")
    notebook = nbformat.read(TOUR, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    shown = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert sum("image/svg+xml" in out.get("data", {}) for out in shown) == 2, "both graphs are drawn inline"
    assert any("image/png" in out.get("data", {}) for out in shown), "the vanishing-gradient plot is drawn"
