"""Every course notebook in JupyterLab in Chromium, as a student opens and runs it.

Each notebook that shows a widget is opened and Run All, as a student runs it:
then no cell may hold an error, every cell must have run, every widget output
must be a rendered widget view with its controls and a drawn or decoded picture
(not "Loading widget...", not a text repr), and every request the page made must
have gone to the local server. That run is the second run of these notebooks in
``make test`` (tests/test_notebook_runs.py runs each in a kernel), and it pays for
itself by what only a browser shows: the widgets drawn, and no request leaving.

A notebook that shows no widget has nothing more to show in a browser when run,
so it is opened without running: its saved outputs must all be shown, every picture
decoded, with no request leaving the machine. A screenshot of each whole notebook
goes to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from lab_page import (
    NOTEBOOKS,
    WIDGET_MIME,
    cell_report,
    open_notebook,
    run_all,
    screenshot_notebook,
    widget_outputs,
    widget_report,
)

COURSE = sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))
# Text ipywidgets shows in place of a view it could not render.
NOT_RENDERED = ("Loading widget", "Error displaying widget", "Error rendering")
# The text repr of an ipywidgets container or control, e.g. "VBox(children=(...".
WIDGET_REPR = re.compile(
    r"^(VBox|HBox|Box|GridBox|Tab|Accordion|Stack|\w*Slider|Image|HTML|Play"
    r"|Dropdown|ToggleButtons|Button|Output)\("
)


def _saved_widget_cells(name: str) -> set[int]:
    """Cells whose committed outputs hold a widget: they must show one in the browser too."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    return {
        i
        for i, cell in enumerate(nb.cells)
        if any(WIDGET_MIME in o.get("data", {}) for o in cell.get("outputs", []))
    }


def _kinds(outputs: list[dict]) -> list[str]:
    """A cell's output types in order, one "stream" for its printed text (Lab joins consecutive streams)."""
    kinds = [o["output_type"] for o in outputs]
    return [k for i, k in enumerate(kinds) if k != "stream" or i == 0 or kinds[i - 1] != "stream"]


LIVE = [name for name in COURSE if _saved_widget_cells(name)]
STILL = [name for name in COURSE if name not in LIVE]


def test_the_course_has_notebooks_to_run():
    assert COURSE, f"no notebooks found in {NOTEBOOKS}"
    assert LIVE, "no course notebook shows a widget"


@pytest.mark.parametrize("name", STILL)
def test_a_notebook_without_widgets_shows_every_saved_output_and_asks_nothing_of_other_hosts(
    name: str, lab, page, screenshots: Path
):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    saved = nbformat.read(NOTEBOOKS / name, as_version=4)
    pictures = sum("image/png" in o.get("data", {}) for c in saved.cells for o in c.get("outputs", []))
    open_notebook(page, lab, name)
    try:
        shown = [_kinds(c["outputs"]) for c in cell_report(page)]
        assert shown == [_kinds(c.get("outputs", [])) for c in saved.cells], f"{name}: outputs not all shown"
        images = page.locator(".jp-OutputArea-output img")
        page.wait_for_function(
            """(n) => {
                const images = Array.from(document.querySelectorAll('.jp-OutputArea-output img'));
                return images.length === n && images.every(i => i.complete && i.naturalWidth > 0);
            }""",
            arg=pictures,
            timeout=30_000,
        )
        assert images.count() == pictures > 0
        away = [u for u in requests if not u.startswith((lab.url, "data:", "blob:"))]
        assert not away, f"{name}: requests to other hosts: {away[:5]}"
    finally:
        screenshot_notebook(page, screenshots / f"{Path(name).stem}.png")
        lab.shutdown_kernels(name)


@pytest.mark.parametrize("name", LIVE)
def test_notebook_runs_in_jupyterlab_without_errors_and_renders_its_widgets(
    name: str, lab, page, screenshots: Path
):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    open_notebook(page, lab, name)
    seconds = run_all(page)
    cells = cell_report(page)
    try:
        errors = [
            f"cell {c['index']}: {o['error']}\n  {c['source'][:120]!r}"
            for c in cells
            for o in c["outputs"]
            if o["error"]
        ]
        assert not errors, f"{name}: cells raised after {seconds:.0f} s:\n" + "\n".join(errors)
        not_run = [c["index"] for c in cells if c["type"] == "code" and c["count"] is None]
        assert not not_run, f"{name}: cells {not_run} never ran"

        shown = set(widget_outputs(cells))
        missing = sorted(_saved_widget_cells(name) - shown)
        assert not missing, f"{name}: cells {missing} were saved with a widget but show none now"
        reprs = [
            c["index"]
            for c in cells
            for o in c["outputs"]
            if o["plain"] and WIDGET_REPR.match(o["plain"]) and WIDGET_MIME not in o["mimes"]
        ]
        assert not reprs, f"{name}: cells {reprs} show a widget as its text repr"

        for index in sorted(shown):
            # A view draws its first picture a moment after the kernel is idle.
            page.wait_for_function(
                """(index) => {
                    const area = window.jupyterapp.shell.currentWidget.content.widgets[index]
                        .node.querySelector('.jp-OutputArea');
                    const images = Array.from(area.querySelectorAll('.jupyter-widgets img'));
                    return area.querySelector('.ck-widget[data-drawn]') !== null
                        || (images.length > 0 && images.every(i => i.complete && i.naturalWidth > 0));
                }""",
                arg=index,
                timeout=30_000,
            )
            seen = widget_report(page, index)
            where = f"{name}, cell {index} ({cells[index]['source'][:60]!r})"
            assert not any(t in seen["text"] for t in NOT_RENDERED), f"{where}: {seen['text'][:200]}"
            assert seen["plain"] == 0, f"{where}: widget shown as its text repr"
            assert seen["views"] >= 1, f"{where}: no ipywidgets view in the output"
            assert seen["controls"] >= 1, f"{where}: the widget shows no controls"
            assert seen["drawn"] >= 1 or seen["decoded"] == seen["images"] >= 1, (
                f"{where}: picture missing: {seen}"
            )
        # Nothing the page asked for left the machine: the lab server, or data in the page.
        away = [u for u in requests if not u.startswith((lab.url, "data:", "blob:"))]
        assert not away, f"{name}: requests to other hosts: {away[:5]}"
    finally:
        screenshot_notebook(page, screenshots / f"{Path(name).stem}.png")
        lab.shutdown_kernels(name)
