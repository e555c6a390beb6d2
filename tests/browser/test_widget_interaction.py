"""The course widgets in JupyterLab, driven with the mouse and the keyboard as a student would.

Each test draws one widget afresh in the shared widget notebook (one kernel for
the session, ``course_widgets``; the parameter names its cell) and works it in
Chromium. What the page lights up or writes is compared with an independent truth:
``convkit.shapes.footprint`` for the cells an output reads, torch for the transposed
output size and for the multichannel output value.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F
from lab_page import open_notebook

from convkit import shapes


def test_a_saved_widget_shows_its_picture_before_the_notebook_runs(lab, page, screenshots):
    # A notebook as a course notebook is saved (outputs, no widget state) and never trusted
    # here: JupyterLab shows no SVG from it, and no live view without the widget's model.
    from convkit.widgets.explorer import explorer
    from convkit.widgets.stepper import stepper

    cells = []
    for make in (explorer, stepper):
        bundle, metadata = make()._repr_mimebundle_()
        cell = nbformat.v4.new_code_cell(f"{make.__name__}()", execution_count=len(cells) + 1)
        cell.outputs = [nbformat.v4.new_output("display_data", data=bundle, metadata=metadata)]
        cells.append(cell)
    path = Path(lab.root) / "widgets" / "saved.ipynb"
    path.parent.mkdir(exist_ok=True)
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    try:
        open_notebook(page, lab, "widgets/saved.ipynb")
        outputs = page.locator(".jp-OutputArea-output")
        outputs.first.wait_for(state="visible", timeout=30_000)
        pictures = page.locator(".jp-OutputArea-output img[src^='data:image/png']")
        pictures.nth(1).wait_for(state="visible", timeout=30_000)
        loaded = pictures.evaluate_all("imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
        assert loaded == [True, True]
        shown = page.locator(".jp-Notebook").inner_text()
        assert "Explorer(title=" not in shown and "Stepper(title=" not in shown
        page.screenshot(path=str(screenshots / "widget-saved-before-running.png"))
    finally:
        lab.shutdown_kernels("widgets/saved.ipynb")


@pytest.fixture
def widget(lab, course_page, request, screenshots):
    """The widget of the shared notebook's cell named by the test's parameter, drawn afresh;
    afterwards, no request may have left the machine."""
    requests: list[str] = []

    def record(request) -> None:
        requests.append(request.url)

    course_page.page.on("request", record)
    try:
        view = course_page.fresh(request.param)
        yield view
        view.screenshot(path=str(screenshots / f"widget-{request.param}.png"))
    finally:
        course_page.page.remove_listener("request", record)
    away = [u for u in requests if not u.startswith((lab.url, "data:", "blob:"))]
    assert not away, f"requests to other hosts: {away[:5]}"


def _drawn(view) -> int:
    return int(view.get_attribute("data-drawn"))


def _wait_redrawn(view, before: int) -> None:
    view.page.wait_for_function(
        "([el, n]) => Number(el.dataset.drawn) > n", arg=[view.element_handle(), before], timeout=30_000
    )


def _set_range(view, label: str, value: int) -> None:
    """Move the slider labelled ``label`` with the keyboard (Home, then ArrowRight)."""
    slider = view.get_by_label(label, exact=True)
    slider.focus()
    slider.press("Home")
    for _ in range(value - int(slider.get_attribute("min") or 0)):
        slider.press("ArrowRight")


def _lit(view, grid: str) -> set[tuple[int, int]]:
    cells = view.locator(f"rect[data-g={grid}].lit").evaluate_all(
        "rects => rects.map(r => [Number(r.dataset.r), Number(r.dataset.c)])"
    )
    return {tuple(c) for c in cells}


def _out_shape(view) -> tuple[int, int]:
    cells = view.locator("rect[data-g=out]").evaluate_all(
        "rects => rects.map(r => [Number(r.dataset.r), Number(r.dataset.c)])"
    )
    return max(r for r, _ in cells) + 1, max(c for _, c in cells) + 1


@pytest.mark.parametrize("widget", ["explorer_lecture"], indirect=True)
def test_hovering_an_output_cell_lights_exactly_the_inputs_shapes_footprint_gives(widget):
    # The lecture's 3×5 input, 3×3 kernel, padding (2, 1), stride (2, 2): output 3×3.
    assert _out_shape(widget) == (3, 3)
    for i, j in [(0, 0), (1, 2), (2, 1)]:
        widget.locator(f"rect[data-g=out][data-r='{i}'][data-c='{j}']").hover()
        rows = shapes.footprint(i, 3, stride=2, padding=2)
        cols = shapes.footprint(j, 3, stride=2, padding=1)
        assert _lit(widget, "in") == {(r, c) for r in rows for c in cols}, (i, j)
        # the hovered output's dot product: the terms shown add up to the value shown
        dot = widget.locator(".ck-dot")
        terms = json.loads(dot.get_attribute("data-terms"))
        assert len(terms) == 9
        assert sum(x * w for x, w in terms) == pytest.approx(float(dot.get_attribute("data-value")))
    # an input cell lights every output that reads it: row 0 is read by output rows 0 and 1
    # (footprints [-2, -1, 0] and [0, 1, 2]), column 1 by output columns 0 and 1.
    widget.locator("rect[data-g=in][data-r='0'][data-c='1']").hover()
    assert _lit(widget, "out") == {(0, 0), (0, 1), (1, 0), (1, 1)}
    # a weight lights every input it multiplies: tap (j, l) of every output's footprint
    widget.locator("rect[data-g=w][data-r='2'][data-c='0']").hover()
    assert _lit(widget, "in") == {
        (shapes.footprint(i, 3, stride=2, padding=2)[2], shapes.footprint(j, 3, stride=2, padding=1)[0])
        for i in range(3)
        for j in range(3)
    }


@pytest.mark.parametrize("widget", ["explorer_default"], indirect=True)
def test_transposed_mode_output_size_equals_conv_transpose2d(widget):
    before = _drawn(widget)
    widget.get_by_label("layer", exact=True).select_option(label="transposed convolution")
    _wait_redrawn(widget, before)
    before = _drawn(widget)
    _set_range(widget, "stride (rows)", 2)
    _set_range(widget, "output padding (rows)", 1)
    _set_range(widget, "padding (columns)", 1)
    # 3×7×9 input (the default), 3×3 kernel, stride (2, 1), padding (0, 1), output_padding (1, 0)
    y = F.conv_transpose2d(
        torch.zeros(1, 1, 7, 9), torch.zeros(1, 1, 3, 3), stride=(2, 1), padding=(0, 1), output_padding=(1, 0)
    )
    rows, cols = y.shape[2:]
    widget.page.wait_for_function(
        "([el, n]) => el.querySelectorAll('rect[data-g=out]').length === n",
        arg=[widget.element_handle(), rows * cols],
        timeout=30_000,
    )
    assert _out_shape(widget) == (rows, cols)
    assert f"output y = conv_transpose(x) ({rows} × {cols})" in widget.inner_text()
    text = widget.locator(".ck-mono").all_inner_texts()
    assert any(
        t.startswith("F.conv_transpose2d(x, weight, stride=(2, 1), padding=(0, 1), output_padding=(1, 0)")
        for t in text
    ), text
    assert _drawn(widget) > before


@pytest.mark.parametrize("widget", ["explorer_default"], indirect=True)
def test_explorer_is_operated_by_keyboard_and_a_bad_setting_keeps_the_picture(widget):
    page = widget.page
    before = _drawn(widget)
    # Tab from the first control reaches a slider; arrows move it and the output follows.
    _set_range(widget, "stride (columns)", 2)  # floor((9 - 2 - 1) / 2) + 1 = 4 columns
    _wait_redrawn(widget, before)
    page.wait_for_function(
        "el => el.querySelectorAll('rect[data-g=out]').length === 5 * 4",
        arg=widget.element_handle(),
        timeout=30_000,
    )
    # The output grid takes the focus and its arrow keys light the windows.
    grid = widget.get_by_role("application")
    grid.focus()
    grid.press("ArrowRight")
    grid.press("ArrowDown")
    rows, cols = shapes.footprint(1, 3), shapes.footprint(1, 3, stride=2)
    assert _lit(widget, "in") == {(r, c) for r in rows for c in cols}
    # An input shorter than the kernel (Home: 1 row for a 3-row kernel): a message, and
    # the last picture stays.
    height = widget.get_by_label("input height H", exact=True)
    height.focus()
    height.press("Home")
    widget.locator(".ck-error").wait_for(state="visible", timeout=30_000)
    assert "spans 3 cells" in widget.locator(".ck-error").inner_text()
    assert widget.locator("rect[data-g=out]").count() == 5 * 4
    _set_range(widget, "input height H", 7)
    widget.locator(".ck-error").wait_for(state="hidden", timeout=30_000)


def _picture(view) -> str:
    """The widget's drawing as markup, with the page-made element ids blanked."""
    return re.sub(r"ck-[a-z_]+-\d+", "ck-id", view.locator(".ck-body").inner_html())


@pytest.mark.parametrize("widget", ["explorer_default"], indirect=True)
def test_a_key_press_is_drawn_from_lookahead_as_python_draws_it(widget, course_page):
    page = widget.page
    slider = widget.get_by_label("stride (columns)", exact=True)
    slider.focus()  # focusing a slider asks Python for its neighbours
    page.wait_for_function("el => Number(el.dataset.ahead) > 0", arg=widget.element_handle(), timeout=30_000)
    before = _drawn(widget)
    slider.press("ArrowRight")  # stride 1 -> 2
    _wait_redrawn(widget, before)
    assert widget.get_attribute("data-source") == "ahead"
    ahead = _picture(widget)
    assert widget.locator("rect[data-g=out]").count() == 5 * 4  # floor((9 - 3) / 2) + 1 = 4 columns
    # Python's answer to the same change confirms the picture without drawing again.
    page.wait_for_timeout(1500)
    assert _drawn(widget) == before + 1 and _picture(widget) == ahead
    # The same settings drawn from the kernel's own state, by a cell that sets them: the same picture.
    fresh = course_page.fresh("explorer_stride2")
    assert fresh.get_attribute("data-source") == "kernel"
    assert _picture(fresh) == ahead


@pytest.mark.parametrize("widget", ["explorer_lecture"], indirect=True)
def test_every_panel_title_of_the_explorer_fits_inside_its_picture(widget):
    # The lecture's 3 × 3 output is narrower than its title, "output y (3 × 3)".
    overflow = widget.locator(".ck-focusable svg").evaluate(
        """svg => [...svg.querySelectorAll("text.ck-panel-title")]
            .map(t => [t.textContent, t.getBBox().x + t.getBBox().width - svg.width.baseVal.value])
            .filter(([, over]) => over > 0)"""
    )
    assert overflow == []


@pytest.mark.parametrize("widget", ["stepper"], indirect=True)
def test_stepper_steps_plays_and_scrubs_by_keyboard(widget):
    from playwright.sync_api import expect  # here, so collection works without Playwright

    counter = widget.locator(".ck-counter")
    # The lecture's (1, 2, 3, 4) ⊛ (3, 2) = (7, 12, 17): three positions.
    expect(counter).to_have_text("y[0]: position 0 of 0–2")
    step = widget.get_by_role("button", name="step forward")
    step.focus()
    step.press("Enter")
    expect(counter).to_have_text("y[1]: position 1 of 0–2")
    assert widget.locator(".ck-sum").get_attribute("data-value") == "12"
    scrub = widget.get_by_label("output position", exact=True)
    scrub.focus()
    scrub.press("Home")
    expect(counter).to_have_text("y[0]: position 0 of 0–2")
    play = widget.get_by_role("button", name="▶ Play")
    play.focus()
    play.press("Space")
    expect(counter).to_have_text("y[2]: position 2 of 0–2", timeout=10_000)
    expect(widget.locator("rect[data-g=out].src")).to_have_count(1)


@pytest.mark.parametrize("widget", ["stepper"], indirect=True)
def test_stepper_labels_follow_the_example_rows_and_columns_in_2d_length_in_1d(widget):
    from playwright.sync_api import expect

    from convkit.widgets.stepper import EXAMPLES

    expect(widget.get_by_label("stride (length)", exact=True)).to_be_visible()
    widget.get_by_label("example", exact=True).select_option(label=list(EXAMPLES)[2])
    for label in ("stride (rows)", "stride (columns)", "padding (rows)", "padding (columns)"):
        expect(widget.get_by_label(label, exact=True)).to_be_visible()
    expect(widget.locator("label", has_text="(length)")).to_have_count(0)
    expect(widget.locator(".ck-counter")).to_have_text("y[0, 0]: position 0 of 0–8")
    widget.get_by_label("example", exact=True).select_option(label=list(EXAMPLES)[0])
    expect(widget.get_by_label("stride (length)", exact=True)).to_be_visible()
    expect(widget.get_by_label("stride (rows)", exact=True)).to_be_hidden()


@pytest.mark.parametrize("widget", ["stepper"], indirect=True)
def test_multichannel_partial_sums_and_bias_add_up_to_the_output_value(widget):
    from convkit.widgets.stepper import EXAMPLES

    name = "2d, 3 channels: partial sums + bias"
    before = _drawn(widget)
    widget.get_by_label("example", exact=True).select_option(label=name)
    _wait_redrawn(widget, before)
    widget.page.wait_for_function(
        "el => el.querySelectorAll('rect[data-g=k]').length === 12",
        arg=widget.element_handle(),
        timeout=30_000,
    )
    example = EXAMPLES[name]
    expected = F.conv2d(
        torch.tensor(example["x"])[None],
        torch.tensor(example["kernel"])[None],
        torch.tensor([example["bias"]], dtype=torch.float64),
    )[0, 0]
    step = widget.get_by_role("button", name="step forward")
    total = widget.locator(".ck-sum")
    for position in range(expected.numel()):
        partials = json.loads(total.get_attribute("data-partials"))
        i, j = json.loads(total.get_attribute("data-index"))
        assert (i, j) == divmod(position, expected.shape[1])
        assert len(partials) == 3
        value = float(total.get_attribute("data-value"))
        assert sum(partials) + float(total.get_attribute("data-bias")) == pytest.approx(value)
        assert value == pytest.approx(float(expected[i, j]))
        step.click()


@pytest.mark.parametrize("widget", ["playground"], indirect=True)
def test_playground_kernel_is_typed_in_its_grid_and_presets_chosen_by_keyboard(widget):
    from playwright.sync_api import expect

    before = _drawn(widget)
    cell = widget.get_by_label("kernel row 1, column 1", exact=True)
    cell.focus()
    cell.fill("7")
    cell.press("Tab")  # a typed value counts once the cell is left
    _wait_redrawn(widget, before)
    expect(widget.get_by_label("preset", exact=True)).to_have_value("0")  # "(edited kernel)"
    before = _drawn(widget)
    menu = widget.get_by_label("preset", exact=True)
    menu.focus()
    menu.select_option(label="horizontal edges")
    _wait_redrawn(widget, before)
    top = [widget.get_by_label(f"kernel row 0, column {c}", exact=True).input_value() for c in range(3)]
    assert [float(v) for v in top] == [-1.0, -1.0, -1.0]
    # the canvases are drawn at the screen's resolution, each with a colour bar
    sizes = widget.locator("canvas").evaluate_all(
        "cs => cs.map(c => [c.width, parseFloat(c.style.width), window.devicePixelRatio])"
    )
    assert sizes and all(w == round(css * ratio) for w, css, ratio in sizes)
    assert widget.locator("svg.ck-colorbar").count() == 2


@pytest.mark.parametrize("widget", ["template"], indirect=True)
def test_template_patch_moves_by_keyboard_and_the_ncc_peak_is_marked(widget):
    before = _drawn(widget)
    slider = widget.get_by_label("patch left column", exact=True)
    slider.focus()
    slider.press("ArrowRight")
    _wait_redrawn(widget, before)
    assert "at (row 6, col 2)" in widget.locator(".ck-text").inner_text()
    # the NCC peaks where the patch was cut out, and the mark sits there
    peak = widget.locator("figure[data-peak]")
    assert json.loads(peak.get_attribute("data-peak")) == [6, 2]
    assert peak.locator("circle.ck-mark-peak").count() == 1


@pytest.mark.parametrize("widget", ["params"], indirect=True)
def test_parameter_counter_follows_its_sliders_by_keyboard(widget):
    from torch import nn

    bar = widget.locator("rect[data-bar=conv]")
    width = float(bar.get_attribute("width"))
    before = _drawn(widget)
    slider = widget.get_by_label("kernel side k", exact=True)
    slider.focus()
    slider.press("ArrowRight")  # k = 4
    _wait_redrawn(widget, before)
    count = sum(p.numel() for p in nn.Conv2d(3, 3, 4).parameters())
    assert "nn.Conv2d(3, 3, 4)" in widget.inner_text()
    assert f"{count:,} parameters" in widget.inner_text()
    assert float(bar.get_attribute("width")) > width


def _focus_ring_and_names(view) -> list[str]:
    """Controls without an accessible name or without a visible focus style."""
    return view.evaluate(
        """root => Array.from(root.querySelectorAll('input, select, button, [tabindex]')).filter(e => {
            if (e.closest('[hidden]') || e.disabled) return false;  // not offered in this mode
            const named = e.labels?.length || e.getAttribute('aria-label') || e.textContent.trim();
            e.focus();
            const style = getComputedStyle(e);
            const ring = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
            return !(named && ring && document.activeElement === e);
        }).map(e => e.outerHTML.slice(0, 80))"""
    )


@pytest.mark.parametrize(
    "widget", ["explorer_default", "stepper", "playground", "template", "params"], indirect=True
)
def test_every_control_has_a_name_a_focus_ring_and_text_of_at_least_12px(widget):
    assert _focus_ring_and_names(widget) == []
    small = widget.evaluate(
        """root => Array.from(root.querySelectorAll('*')).filter(e =>
            Array.from(e.childNodes).some(n => n.nodeType === 3 && n.textContent.trim())
            && parseFloat(getComputedStyle(e).fontSize) < 12)
            .map(e => e.tagName + ':' + e.textContent.slice(0, 30))"""
    )
    assert small == []
