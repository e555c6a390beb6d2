"""Driving one notebook in JupyterLab from Playwright.

The server runs with ``expose_app_in_browser``, so the page holds the
JupyterLab application as ``window.jupyterapp``: commands run through it
exactly as the Run menu does, and the notebook model tells which outputs are
errors and which are widgets. What the student sees is then checked in the
page itself (widget controls, images, the text a widget shows).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

# where the course lives; the browser fixtures and tests all start from here
ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"

__all__ = [
    "WCAG_22_AA",
    "WIDGET_MIME",
    "open_notebook",
    "run_all",
    "cell_report",
    "widget_report",
    "widget_outputs",
    "screenshot_notebook",
    "image_digest",
    "wait_for_change",
]

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: WCAG 2.2 at levels A and AA, as axe-core tags its rules.
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# Cells start in seconds; MNIST, torch and the widgets' first drawings take
# longer on a busy two-core machine.
RUN_TIMEOUT_MS = 240_000
_NOTEBOOK = "window.jupyterapp.shell.currentWidget"


def open_notebook(page: Any, lab: Any, name: str) -> None:
    """Open ``name`` (relative to the server's root) and wait for its kernel."""
    page.goto(lab.page_url(name))
    page.wait_for_function(
        f"() => window.jupyterapp && {_NOTEBOOK} && {_NOTEBOOK}.sessionContext"
        f" && {_NOTEBOOK}.context.path === {name!r}",
        timeout=60_000,
    )
    page.evaluate(
        f"async () => {{ const p = {_NOTEBOOK}; await p.context.ready; await p.sessionContext.ready; }}"
    )


def run_all(page: Any) -> float:
    """Run every cell, as Run ▸ Run All Cells does, and wait for the kernel to go idle.

    Returns
    -------
    float
        Seconds taken.
    """
    start = time.monotonic()
    page.evaluate("async () => { await window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_function(
        f"() => {{ const k = {_NOTEBOOK}.sessionContext.session?.kernel; return k && k.status === 'idle'; }}",
        timeout=RUN_TIMEOUT_MS,
    )
    return time.monotonic() - start


def cell_report(page: Any) -> list[dict[str, Any]]:
    """Per cell of the open notebook: type, execution count, outputs (types, mime types, errors)."""
    return page.evaluate(
        f"""() => {_NOTEBOOK}.content.widgets.map((cell, index) => {{
            const code = cell.model.type === 'code';
            const outputs = code ? cell.model.outputs.toJSON() : [];
            return {{
                index, type: cell.model.type,
                count: code ? cell.model.executionCount : null,
                source: cell.model.sharedModel.getSource().slice(0, 200),
                outputs: outputs.map(o => ({{
                    output_type: o.output_type,
                    mimes: Object.keys(o.data || {{}}),
                    error: o.output_type === 'error' ? `${{o.ename}}: ${{o.evalue}}` : null,
                    text: o.output_type === 'stream' ? String(o.text).slice(0, 300) : null,
                    plain: o.data && o.data['text/plain'] ? String(o.data['text/plain']).slice(0, 300) : null,
                }})),
            }};
        }})"""
    )


def widget_report(page: Any, index: int) -> dict[str, Any]:
    """What the page shows for the widget outputs of cell ``index``.

    ``views`` counts rendered ipywidgets views (``.jupyter-widgets`` roots in
    the output area), ``controls`` the interactive elements among them,
    ``images`` the ``<img>`` elements and how many have finished decoding a
    picture, ``drawn`` the course widgets (``.ck-widget``) that have drawn their state, ``text`` the visible text (to find "Loading widget..." or "Error
    displaying widget"), and ``plain`` the outputs rendered as text/plain (a
    widget shown as its repr because no widget manager took it).
    """
    return page.evaluate(
        f"""(index) => {{
            const node = {_NOTEBOOK}.content.widgets[index].node;
            const area = node.querySelector('.jp-OutputArea');
            const views = area.querySelectorAll(
                '.jp-OutputArea-output > .jupyter-widgets, .jp-OutputArea-output > .widget-container,'
                + ' .jp-OutputArea-output .ck-widget');
            const controls = area.querySelectorAll(
                '.jupyter-widgets [role=slider], .jupyter-widgets button, .jupyter-widgets select,'
                + ' .jupyter-widgets input, .ck-widget input, .ck-widget select, .ck-widget button');
            const images = Array.from(area.querySelectorAll('.jupyter-widgets img'));
            return {{
                views: views.length,
                controls: controls.length,
                images: images.length,
                decoded: images.filter(i => i.complete && i.naturalWidth > 0).length,
                drawn: area.querySelectorAll('.ck-widget[data-drawn]').length,
                text: area.innerText,
                plain: area.querySelectorAll('.jp-OutputArea-output[data-mime-type="text/plain"]').length,
            }};
        }}""",
        index,
    )


def widget_outputs(cells: list[dict[str, Any]]) -> list[int]:
    """Indices of the cells whose outputs include an ipywidgets view."""
    return [c["index"] for c in cells if any(WIDGET_MIME in o["mimes"] for o in c["outputs"])]


def screenshot_notebook(page: Any, path: Path) -> None:
    """Save the whole notebook as one picture, the page grown to the notebook's height.

    The side panels are collapsed so the notebook gets the page's width, as a
    student reading it would arrange it.
    """
    page.evaluate(
        "() => { window.jupyterapp.shell.collapseLeft(); window.jupyterapp.shell.collapseRight(); }"
    )
    page.wait_for_timeout(300)
    height = page.evaluate(
        f"""() => {{
            const notebook = {_NOTEBOOK}.content.node;
            const scroller = notebook.querySelector('.jp-WindowedPanel-outer') || notebook;
            return scroller.scrollHeight + (window.innerHeight - scroller.clientHeight);
        }}"""
    )
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": width, "height": min(int(height) + 20, 30_000)})
    page.wait_for_timeout(500)  # let the layout settle at the new size
    page.evaluate(
        f"""() => {{
            const notebook = {_NOTEBOOK}.content.node;
            const scroller = notebook.querySelector('.jp-WindowedPanel-outer') || notebook;
            scroller.scrollTop = 0;
        }}"""
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": width, "height": 900})


def image_digest(locator: Any) -> str:
    """A digest of the PNG bytes a widget's ``<img>`` shows (its blob, fetched in the page)."""
    return locator.evaluate(
        """async (img) => {
            if (!img.src) return '';
            const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
            // FNV-1a: enough to tell two drawings apart, and needs no secure context.
            let hash = 0x811c9dc5;
            for (const b of bytes) { hash ^= b; hash = Math.imul(hash, 0x01000193) >>> 0; }
            return `${bytes.length}:${hash.toString(16)}`;
        }"""
    )


def wait_for_change(read: Any, before: Any, timeout: float = 30.0) -> Any:
    """Poll ``read()`` until it differs from ``before``; return the new value (or the old one)."""
    deadline = time.monotonic() + timeout
    value = read()
    while value == before and time.monotonic() < deadline:
        time.sleep(0.2)
        value = read()
    return value
