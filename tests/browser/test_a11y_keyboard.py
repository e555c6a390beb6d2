"""Every course widget worked with the keyboard alone, in JupyterLab.

Tab reaches each control in the order the widget lists them (Python's control
specs are the truth), each with a visible focus indicator; sliders and menus
move with the arrow keys and keep the focus when the widget redraws; the
stepper plays, pauses, steps and scrubs; the explorer's output grid moves a
selected cell whose lit window is ``convkit.shapes.footprint``'s.
"""

from __future__ import annotations

import numpy as np
import pytest
from course_widgets import CELLS

from convkit import shapes

# Where focus is now: its accessible name, whether it is inside the widget, visible, and ringed.
FOCUSED = """root => {
    const e = document.activeElement;
    const style = getComputedStyle(e);
    const box = e.getBoundingClientRect();
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    const shadow = style.boxShadow !== 'none' && /\\d*[1-9]\\d*px/.test(style.boxShadow);
    const label = e.labels && e.labels.length ? e.labels[0].textContent : null;
    return {
        inside: root.contains(e),
        name: (label || e.getAttribute('aria-label') || e.textContent).trim(),
        kind: e.tagName.toLowerCase() + (e.type ? ':' + e.type : ''),
        visible: box.width > 0 && box.height > 0,
        ring: outline || shadow,
    };
}"""


def _python_widget(name: str):
    """The same widget built in Python, for its control specs."""
    from convkit.widgets.explorer import explorer
    from convkit.widgets.params import parameter_counter
    from convkit.widgets.playground import playground
    from convkit.widgets.stepper import stepper

    if name == "explorer":
        widget = explorer()
        widget.presets["lecture: 3×5, padding (2, 1), stride (2, 2)"].click()
        return widget
    if name == "stepper_channels":
        x, u = np.ones((2, 3, 3)), np.ones((2, 2, 2))
        return stepper(x, u, multichannel=True)
    if name == "template":
        from convkit.widgets.template import template_matcher

        return template_matcher()
    return {"params": parameter_counter, "stepper": stepper, "playground": playground}[name]()


# The widget's own stops after its controls, by name (the picture's parts that take the keyboard).
BODY_STOPS = {
    "params": [],
    "stepper": ["▶ Play", "step back", "step forward", "output position"],
    "stepper_channels": ["▶ Play", "step back", "step forward", "output position"],
    "explorer": ["Output cells"],
    "playground": [f"kernel row {r}, column {c}" for r in range(3) for c in range(3)],
    "template": [],
}


def tab_walk(view) -> list[dict]:
    """Every stop of Tab through the widget, from its first control until the focus leaves it."""
    first = view.locator("select, input, button, [tabindex]").first
    page = view.page
    for _ in range(10):  # JupyterLab may still move the focus while a freshly opened notebook settles
        first.focus()
        page.keyboard.press("Shift+Tab")  # out, and back in with the keyboard: focus-visible applies
        page.keyboard.press("Tab")
        if view.evaluate(FOCUSED)["inside"]:
            break
        page.wait_for_timeout(500)
    stops = []
    for _ in range(80):
        stop = view.evaluate(FOCUSED)
        if not stop["inside"]:
            break
        stops.append(stop)
        page.keyboard.press("Tab")
    return stops


@pytest.mark.parametrize("name", list(CELLS))
def test_tab_reaches_every_control_in_order_each_with_a_visible_focus_ring(course_page, name):
    view = course_page.widget(name)
    spec = _python_widget(name).spec
    expected = [s["label"] for s in spec if not s.get("hidden") and not s.get("disabled")]
    expected += BODY_STOPS[name]
    stops = tab_walk(view)
    names = [s["name"] for s in stops]
    assert [n[: len(e)] for n, e in zip(names, expected)] == expected and len(names) == len(expected), names
    assert [s["name"] for s in stops if not (s["visible"] and s["ring"])] == []


def _wait_drawn_or_refused(view, before: int) -> None:
    """Until the widget draws again, or shows why it cannot (a refused setting keeps its picture)."""
    view.page.wait_for_function(
        "([el, n]) => Number(el.dataset.drawn) > n || !el.querySelector('.ck-error').hidden",
        arg=[view.element_handle(), before],
        timeout=30_000,
    )


def _value(view) -> str:
    return view.evaluate("() => document.activeElement.value")


@pytest.mark.parametrize("name", ["explorer", "stepper_channels", "params", "template", "playground"])
def test_sliders_and_menus_move_with_the_arrow_keys_and_keep_the_focus_as_the_widget_redraws(
    course_page, name
):
    view = course_page.fresh(name)
    page = view.page
    moved = []
    for stop in tab_walk(view):
        if stop["kind"] not in ("select:select-one", "input:range", "input:number"):
            continue
        control = view.get_by_label(stop["name"], exact=True)
        control.wait_for(state="visible")  # shown again once Python's spec for the last change is in
        control.focus()
        before = _value(view)
        there, back = (
            ("ArrowUp", "ArrowDown") if stop["kind"] == "input:number" else ("ArrowRight", "ArrowLeft")
        )
        drawn = int(view.get_attribute("data-drawn"))
        page.keyboard.press(there)
        if _value(view) == before:  # at the top of its range: down and back up
            there, back = back, there
            page.keyboard.press(there)
        if _value(view) == before:
            continue  # a menu of one option
        for key in (there, back):
            if key == back:
                drawn = int(view.get_attribute("data-drawn"))
                page.keyboard.press(back)
            _wait_drawn_or_refused(view, drawn)
            focused = view.evaluate(FOCUSED)
            assert focused["inside"] and focused["name"] == stop["name"], (stop["name"], key, focused)
        assert _value(view) == before, stop["name"]  # and back: the next controls are as listed
        moved.append(stop["name"])
    assert len(moved) >= 2, moved


def _lit(view) -> set[tuple[int, int]]:
    cells = view.locator("rect[data-g=in].lit").evaluate_all(
        "rects => rects.map(r => [Number(r.dataset.r), Number(r.dataset.c)])"
    )
    return {tuple(c) for c in cells}


def _window(i: int, j: int) -> set[tuple[int, int]]:
    """The lecture's 3×5 input, 3×3 kernel, padding (2, 1), stride (2, 2): what y[i, j] reads."""
    rows = shapes.footprint(i, 3, stride=2, padding=2)
    cols = shapes.footprint(j, 3, stride=2, padding=1)
    return {(r, c) for r in rows for c in cols}


def test_explorer_output_grid_moves_by_arrow_keys_from_the_cell_last_hovered(course_page):
    view = course_page.fresh("explorer")
    grid = view.get_by_role("application")
    grid.focus()
    assert _lit(view) == _window(0, 0)  # focus selects the first cell
    for key, cell in [("ArrowRight", (0, 1)), ("ArrowDown", (1, 1)), ("End", (2, 2)), ("Home", (0, 0))]:
        grid.press(key)
        assert _lit(view) == _window(*cell), key
    view.locator("rect[data-g=out][data-r='2'][data-c='0']").hover()
    grid.press("ArrowRight")  # on from the hovered cell (2, 0), not from the pinned (0, 0)
    view.locator(".ck-legend").hover()  # the pointer leaves: the keyboard's cell stays lit
    assert _lit(view) == _window(2, 1)
    grid.press("Escape")
    assert _lit(view) == set()


def test_stepper_plays_pauses_steps_and_scrubs_from_the_keyboard(course_page):
    from playwright.sync_api import expect

    view = course_page.fresh("stepper")
    counter = view.locator(".ck-counter")
    menu = view.get_by_label("example", exact=True)
    menu.focus()
    menu.press("ArrowDown")  # the derivative example: 11 inputs, kernel 2, 10 positions
    expect(counter).to_have_text("y[0]: position 0 of 0–9")
    play = view.locator("button[aria-pressed]")
    play.focus()
    view.page.keyboard.press("Space")
    expect(play).to_have_attribute("aria-pressed", "true")
    expect(counter).not_to_have_text("y[0]: position 0 of 0–9", timeout=10_000)
    view.page.keyboard.press("Space")  # pause: the position stays
    expect(play).to_have_attribute("aria-pressed", "false")
    paused = counter.inner_text()
    view.page.wait_for_timeout(900)  # longer than one step of Play
    assert counter.inner_text() == paused and not paused.startswith("y[9]")
    k = int(paused.split("position ")[1].split(" ")[0])
    view.page.keyboard.press("Tab")
    view.page.keyboard.press("Enter")  # step back
    expect(counter).to_have_text(f"y[{k - 1}]: position {k - 1} of 0–9")
    view.page.keyboard.press("Tab")
    view.page.keyboard.press("Enter")  # step forward
    expect(counter).to_have_text(f"y[{k}]: position {k} of 0–9")
    view.page.keyboard.press("Tab")
    view.page.keyboard.press("End")  # scrub
    expect(counter).to_have_text("y[9]: position 9 of 0–9")
    view.page.keyboard.press("ArrowLeft")
    expect(counter).to_have_text("y[8]: position 8 of 0–9")


def test_a_slider_keeps_the_focus_when_its_change_rebuilds_the_controls(course_page):
    view = course_page.fresh("explorer")  # C = D = 1: groups 1 only
    groups = view.get_by_label("groups g", exact=True).locator("option")
    for label, options in [("in channels C", 1), ("out channels D", 2), ("out channels D", 1)]:
        # C = 2; D = 2 offers groups 1 and 2 (a new menu); D = 3 only 1 again
        slider = view.get_by_label(label, exact=True)
        slider.focus()
        drawn = int(view.get_attribute("data-drawn"))
        view.page.keyboard.press("ArrowRight")
        _wait_drawn_or_refused(view, drawn)
        view.page.wait_for_function(
            "([el, n]) => el.querySelectorAll('[data-name=groups] option').length === n",
            arg=[view.element_handle(), options],
            timeout=30_000,
        )
        assert groups.count() == options
        assert view.evaluate(FOCUSED)["name"] == label
