"""What a screen reader hears: the stepper's steps and the explorer's cells, in words and numbers.

Each widget has one ``aria-live="polite"`` region. Its text must change on every
step or move and state the value and the window it comes from; the expected
numbers are worked out here, with torch, from the examples' inputs.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from course_widgets import EXPLORER_X, explorer_sentence

LIVE = "[aria-live=polite]"
# Every polite live region, also those an element is by default (an <output> is a status).
POLITE = "[aria-live=polite], [role=status]:not([aria-live=off]), output:not([aria-live=off])"


def _heard(view) -> str:
    """The text of the widget's live region, checked to be its only polite one (no double reading)."""
    assert view.locator(POLITE).count() == 1
    return view.locator(LIVE).inner_text()


def _after(view, before: str) -> str:
    """The region's text once it differs from ``before`` (each step or move must change it)."""
    view.page.wait_for_function(
        "([el, text]) => el.textContent !== text",
        arg=[view.locator(LIVE).element_handle(), before],
        timeout=10_000,
    )
    return _heard(view)


def test_each_stepper_step_is_announced_with_its_value_and_window(course_page):
    view = course_page.fresh("stepper")
    # The lecture's (1, 2, 3, 4) ⊛ (3, 2): y[k] = 3 x[k] + 2 x[k + 1], reading x[k] and x[k + 1].
    y = F.conv1d(torch.tensor([[[1.0, 2, 3, 4]]]), torch.tensor([[[3.0, 2]]]))[0, 0]
    step = view.get_by_role("button", name="step forward")
    heard = _heard(view)
    for k in range(3):
        if k:
            step.focus()
            view.page.keyboard.press("Enter")
            heard = _after(view, heard)
        assert heard == (
            f"Position {k} of 0–2: output y[{k}] = {y[k]:g}: input x[{k} to {k + 1}] times the kernel."
        )


def test_each_step_of_the_multichannel_stepper_announces_the_channel_sums(course_page):
    view = course_page.fresh("stepper_channels")
    # Notebook 03's two 3×3 channels and 2×2 kernels: y = F.conv2d, one sum per channel.
    x = torch.tensor([[[1.0, 2, 0], [3, 1, 2], [0, 1, 1]], [[2.0, 0, 1], [1, 1, 0], [0, 2, 3]]])
    u = torch.tensor([[[1.0, -1], [0, 2]], [[0.0, 1], [2, 0]]])
    y = F.conv2d(x[None], u[None])[0, 0]
    sums = [F.conv2d(x[None, c : c + 1], u[None, c : c + 1])[0, 0] for c in range(2)]
    scrub = view.get_by_label("output position", exact=True)
    scrub.focus()
    heard = _heard(view)
    for k in range(4):
        i, j = divmod(k, 2)
        if k:
            view.page.keyboard.press("ArrowRight")
            heard = _after(view, heard)
        assert heard == (
            f"Position {k} of 0–3: output y[{i}, {j}] = {y[i, j]:g}: input rows {i} to {i + 1}, "
            f"columns {j} to {j + 1} of each of the 2 channels times the kernel; "
            f"channel sums {sums[0][i, j]:g}, {sums[1][i, j]:g} plus bias 0."
        )


def test_each_explorer_cell_reached_by_keyboard_or_pointer_is_announced(course_page):
    view = course_page.fresh("explorer")
    grid = view.get_by_role("application")
    grid.focus()
    heard = _heard(view)
    assert heard == explorer_sentence(0, 0)
    for key, cell in [("ArrowRight", (0, 1)), ("ArrowDown", (1, 1)), ("ArrowRight", (1, 2)), ("End", (2, 2))]:
        grid.press(key)
        heard = _after(view, heard)
        assert heard == explorer_sentence(*cell), key
    view.locator("rect[data-g=out][data-r='1'][data-c='0']").hover()
    heard = _after(view, heard)
    assert heard == explorer_sentence(1, 0)
    # an input cell: how many outputs read it (rows 0 and 1 read row 0; columns 0 and 1 read column 1)
    view.locator("rect[data-g=in][data-r='0'][data-c='1']").hover()
    heard = _after(view, heard)
    assert re.fullmatch(rf"input x\[0, 1\] = {EXPLORER_X[0, 1]:g}: read by 4 output cells\.", heard), heard
