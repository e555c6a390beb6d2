"""One JupyterLab page showing every widget the course notebooks show, for the widget tests.

The notebook is written into the test server's copy of ``notebooks/``: one cell
per call the course makes (``stepper()`` in 02 and ``stepper(x, u,
multichannel=True)`` in 03 with 03's numbers, the explorer as 05 opens it, ...),
run once per session in one kernel, and a few more cells (:data:`MORE_CELLS`). A test
that changes a widget draws it afresh with :meth:`CoursePage.fresh`, which runs that one
cell again, instead of starting a kernel of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import torch
import torch.nn.functional as F
from lab_page import open_notebook, run_all

__all__ = ["CELLS", "MORE_CELLS", "EXPLORER_X", "CoursePage", "course_page", "explorer_sentence"]

_SETUP = """\
import numpy as np
from convkit.widgets.explorer import explorer
from convkit.widgets.params import parameter_counter
from convkit.widgets.playground import playground
from convkit.widgets.stepper import stepper
from convkit.widgets.template import template_matcher

x = np.array([[[1, 2, 0], [3, 1, 2], [0, 1, 1]], [[2, 0, 1], [1, 1, 0], [0, 2, 3]]], dtype=float)
u = np.array([[[1, -1], [0, 2]], [[0, 1], [2, 0]]], dtype=float)"""

#: The widget cells, by name, as the course notebooks write them.
CELLS = {
    "params": "parameter_counter()",  # 01
    "stepper": "stepper()",  # 02
    "stepper_channels": "stepper(x, u, multichannel=True)",  # 03
    "explorer": (  # 05
        'widget = explorer()\nwidget.presets["lecture: 3×5, padding (2, 1), stride (2, 2)"].click()\nwidget'
    ),
    "playground": "playground()",  # 06
    "template": "template_matcher()",  # 06
}
#: More cells in the same notebook, for tests/browser/test_widget_interaction.py: the explorer
#: as it first opens, on the lecture's example, and with a stride set from Python.
MORE_CELLS = {
    "explorer_default": "explorer()",  # "explorer" above has the lecture's preset clicked
    "explorer_lecture": "explorer('lecture: 3×5, padding (2, 1), stride (2, 2)')",
    "explorer_stride2": "widget2 = explorer()\nwidget2.controls['stride_w'].value = 2\nwidget2",
}
_ALL_CELLS = {**CELLS, **MORE_CELLS}
_NOTEBOOK = "window.jupyterapp.shell.currentWidget"

# The example numbers the explorer draws (its _X_TABLE and _W_TABLE), written out again:
# x[r, c] = (3r + 2c) mod 5 + 1 and weight[r, c] = (r + c) mod 3 − 1. The lecture's 3×5 input, padding (2, 1), stride (2, 2).
EXPLORER_X = torch.tensor(
    [[(3 * r + 2 * c) % 5 + 1 for c in range(5)] for r in range(3)], dtype=torch.float64
)
_EXPLORER_W = torch.tensor([[(r + c) % 3 - 1 for c in range(3)] for r in range(3)], dtype=torch.float64)
_EXPLORER_Y = F.conv2d(EXPLORER_X[None, None], _EXPLORER_W[None, None], padding=(2, 1), stride=2)[0, 0]


def explorer_sentence(i: int, j: int) -> str:
    """What the explorer cell says of its output ``y[i, j]``, worked out by hand and with torch."""
    rows = [2 * i - 2 + t for t in range(3)]  # o s - p + t
    cols = [2 * j - 1 + t for t in range(3)]
    inside = sum(0 <= r < 3 for r in rows) * sum(0 <= c < 5 for c in cols)
    padding = f"; {9 - inside} of its 9 values are padding zeros" if inside < 9 else ""
    return (
        f"output y[{i}, {j}] = {_EXPLORER_Y[i, j]:g}: input rows {rows[0]} to {rows[-1]}, "
        f"columns {cols[0]} to {cols[-1]} times the 3 × 3 kernel{padding}."
    )


class CoursePage:
    """The open notebook: each widget's root (``.ck-widget``) and output area, by name."""

    def __init__(self, page: Any):
        self.page = page

    @staticmethod
    def index(name: str) -> int:
        return 1 + list(_ALL_CELLS).index(name)

    def area(self, name: str) -> str:
        """A CSS selector for the output area of widget ``name``'s cell."""
        return f".jp-Cell[data-course-widget={name}] .jp-OutputArea"

    def widget(self, name: str) -> Any:
        """The drawn widget ``name`` (a Playwright locator of its ``.ck-widget`` root)."""
        view = self.page.locator(f"{self.area(name)} .ck-widget[data-drawn]")
        view.wait_for(state="visible", timeout=60_000)
        return view

    def fresh(self, name: str) -> Any:
        """Run widget ``name``'s cell again and return the new widget, as first drawn."""
        # The pointer left where an earlier test put it would hover the new drawing at once.
        self.page.mouse.move(0, 0)
        self.page.evaluate(
            """async ([index, name]) => {
                const panel = window.jupyterapp.shell.currentWidget;
                panel.content.widgets[index].node
                    .querySelectorAll('.ck-widget').forEach((w) => w.classList.add('ck-old'));
                panel.content.activeCellIndex = index;
                await window.jupyterapp.commands.execute('notebook:run-cell');
            }""",
            [self.index(name), name],
        )
        view = self.page.locator(f"{self.area(name)} .ck-widget[data-drawn]:not(.ck-old)")
        view.wait_for(state="visible", timeout=60_000)
        return view


def _write(root: Path) -> str:
    cells = [nbformat.v4.new_code_cell(_SETUP)] + [nbformat.v4.new_code_cell(c) for c in _ALL_CELLS.values()]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = root / "widgets" / "course_widgets.ipynb"
    path.parent.mkdir(exist_ok=True)
    nbformat.write(notebook, path)
    return "widgets/course_widgets.ipynb"


def _show(page: Any, lab: Any, path: str) -> CoursePage:
    open_notebook(page, lab, path)
    run_all(page)
    page.evaluate(
        f"""(names) => {_NOTEBOOK}.content.widgets.forEach((cell, i) => {{
            if (i > 0) cell.node.dataset.courseWidget = names[i - 1];
        }})""",
        list(_ALL_CELLS),
    )
    shown = CoursePage(page)
    for name in _ALL_CELLS:
        shown.widget(name)
    return shown


@pytest.fixture(scope="session")
def _course_tab(lab: Any, browser: Any) -> Iterator[dict[str, Any]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = {"page": context.new_page(), "path": _write(Path(lab.root)), "shown": None}
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def course_page(lab: Any, _course_tab: dict[str, Any]) -> CoursePage:
    """Every course widget drawn in one JupyterLab tab, opened once and shared by the tests.

    Opened again only when its kernel is gone (another test shut the server's kernels down).
    """
    alive = any(s["path"] == _course_tab["path"] for s in lab.api("GET", "sessions"))
    if _course_tab["shown"] is None or not alive:
        _course_tab["shown"] = _show(_course_tab["page"], lab, _course_tab["path"])
    return _course_tab["shown"]
