"""The three course widgets answer a student's mouse and keyboard in JupyterLab.

Each test opens a one-cell notebook showing one widget, works a control the
way a student would (keyboard on a slider handle, mouse drag, a dropdown
choice) and checks that both the text and the picture the widget shows
change. Expected shapes are worked out by hand from
``floor((H + 2 p - d (k - 1) - 1) / s) + 1``.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from lab_page import image_digest, open_notebook, run_all, wait_for_change

WIDGETS = {
    "explorer": "from convkit.widgets.explorer import explorer\nexplorer()",
    "playground": "from convkit.widgets.playground import playground\nplayground()",
    "stepper": "from convkit.widgets.stepper import stepper\nstepper()",
}


@pytest.fixture
def widget(lab, page, request):
    """Open a notebook holding only the widget named by the test's parameter; return its view."""
    name = request.param
    path = Path(lab.root) / "widgets" / f"{name}.ipynb"
    path.parent.mkdir(exist_ok=True)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(WIDGETS[name])])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, path)
    open_notebook(page, lab, f"widgets/{name}.ipynb")
    try:
        run_all(page)
        view = page.locator(".jp-OutputArea-output > .jupyter-widgets").first
        view.locator("img").first.wait_for(state="visible", timeout=30_000)
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('.jupyter-widgets img'))"
            ".every(i => i.complete && i.naturalWidth > 0)", timeout=30_000)
        yield view
    finally:
        lab.shutdown_kernels()


def _slider(view, description: str):
    """The handle of the slider whose label reads ``description``."""
    box = view.locator(".widget-slider").filter(
        has=view.page.locator("label.widget-label", has_text=re.compile(f"^{re.escape(description)}$"))
    )
    return box.locator(".noUi-handle")


def _shape(view) -> tuple[int, int, int]:
    text = view.locator(".widget-html").first.inner_text()
    found = re.search(r"output (\d+) × (\d+) × (\d+)", text)
    assert found, f"no output shape in the explorer's text: {text[:200]!r}"
    return tuple(int(n) for n in found.groups())


def _step(view) -> tuple[int, int]:
    text = view.locator(".widget-html").first.inner_text()
    found = re.search(r"step (\d+) of (\d+)", text)
    assert found, f"no step counter in the stepper's text: {text[:200]!r}"
    return int(found[1]), int(found[2])


@pytest.mark.parametrize("widget", ["explorer"], indirect=True)
def test_explorer_stride_by_keyboard_and_padding_by_mouse_update_shape_and_drawing(widget):
    picture = widget.locator("img").first
    # Defaults: 3 × 7 × 9 input, 3 × 3 kernel, no padding, stride 1.
    assert _shape(widget) == (1, 5, 7)
    before = image_digest(picture)

    stride = _slider(widget, "stride (columns)")
    stride.focus()
    stride.press("ArrowRight")  # stride 1 → 2: floor((9 - 2 - 1) / 2) + 1 = 4 columns
    assert wait_for_change(lambda: _shape(widget), (1, 5, 7)) == (1, 5, 4)
    after_stride = wait_for_change(lambda: image_digest(picture), before)
    assert after_stride != before, "the drawing did not change with the stride"

    # Drag the rows' padding handle to the end of its track: padding 6,
    # 7 + 12 - 2 - 1 + 1 = 17 rows.
    padding = _slider(widget, "padding (rows)")
    track = widget.locator(".widget-slider").filter(has_text="padding (rows)").locator(".noUi-base")
    handle_box, track_box = padding.bounding_box(), track.bounding_box()
    mouse = widget.page.mouse
    mouse.move(handle_box["x"] + handle_box["width"] / 2, handle_box["y"] + handle_box["height"] / 2)
    mouse.down()
    mouse.move(track_box["x"] + track_box["width"] + 40, handle_box["y"] + handle_box["height"] / 2,
               steps=8)
    mouse.up()
    assert wait_for_change(lambda: _shape(widget), (1, 5, 4)) == (1, 17, 4)
    assert wait_for_change(lambda: image_digest(picture), after_stride) != after_stride, \
        "the drawing did not change with the padding"


@pytest.mark.parametrize("widget", ["playground"], indirect=True)
def test_playground_preset_changes_the_output_image(widget):
    picture = widget.locator("img").first
    before = image_digest(picture)
    preset = widget.locator(".widget-dropdown").filter(has_text="preset").locator("select")
    assert preset.input_value() == "vertical edges"
    preset.select_option(label="horizontal edges")
    assert wait_for_change(lambda: image_digest(picture), before) != before, \
        "the output image did not change with the preset"
    # The kernel cells show the new preset: the top row of horizontal edges is -1.
    cells = widget.locator(".widget-gridbox input")
    assert [float(cells.nth(j).input_value()) for j in range(3)] == [-1.0, -1.0, -1.0]


@pytest.mark.parametrize("widget", ["stepper"], indirect=True)
def test_stepper_step_and_play_move_the_highlighted_position(widget):
    from playwright.sync_api import expect  # here, so collection works without Playwright

    picture = widget.locator("img").first
    # The first example is the lecture's (1, 2, 3, 4) ⊛ (3, 2): three positions.
    assert _step(widget) == (1, 3)
    before = image_digest(picture)

    position = _slider(widget, "position")
    expect(position).to_have_attribute("aria-valuemax", "2.0")
    widget.get_by_role("button", name="step ▶").click()  # one step
    expect(position).to_have_attribute("aria-valuenow", "1.0")
    assert wait_for_change(lambda: _step(widget), (1, 3)) == (2, 3)
    stepped = wait_for_change(lambda: image_digest(picture), before)
    assert stepped != before, "the drawing did not move with the step"

    widget.locator(".widget-play button").first.click()  # play: on to the last position
    assert wait_for_change(lambda: _step(widget), (2, 3), timeout=15) == (3, 3)
    assert wait_for_change(lambda: image_digest(picture), stepped) != stepped
