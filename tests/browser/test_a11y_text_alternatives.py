"""Every picture a live widget draws says what it shows, in numbers.

Each ``<canvas>`` and ``<svg>`` of a widget (but the marks drawn over a picture,
hidden from screen readers) has ``role="img"`` and an ``aria-label``; the
labels state the shapes and the position shown, worked out here with torch.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from course_widgets import CELLS, explorer_sentence
from torch import nn

PICTURES = """root => [...root.querySelectorAll('canvas, svg')]
    .filter(e => !e.closest('[aria-hidden=true]'))
    .map(e => ({tag: e.tagName.toLowerCase(), role: e.getAttribute('role'),
                label: e.getAttribute('aria-label') || ''}))"""


def _labels(view) -> list[str]:
    return [p["label"] for p in view.evaluate(PICTURES)]


@pytest.mark.parametrize("name", list(CELLS))
def test_every_picture_of_a_live_widget_is_an_image_with_a_label_in_numbers(course_page, name):
    pictures = course_page.widget(name).evaluate(PICTURES)
    assert pictures
    unnamed = [p for p in pictures if p["role"] != "img" or not any(ch.isdigit() for ch in p["label"])]
    assert unnamed == []


def _shape(y: torch.Tensor) -> str:
    return " × ".join(map(str, y.shape))


def test_explorer_picture_states_the_output_size_and_the_selected_cell(course_page):
    view = course_page.fresh("explorer")
    y = F.conv2d(torch.zeros(1, 1, 3, 5), torch.zeros(1, 1, 3, 3), padding=(2, 1), stride=2)
    picture = view.get_by_role("application").locator("svg")
    label = picture.get_attribute("aria-label")
    assert f"→ output {_shape(y[0])}" in label and "padding (2, 1), stride (2, 2)" in label
    view.get_by_role("application").focus()
    view.page.keyboard.press("ArrowRight")
    assert picture.get_attribute("aria-label") == f"{label}; selected: {explorer_sentence(0, 1)}"


def test_stepper_picture_states_the_shapes_and_follows_the_position(course_page):
    view = course_page.fresh("stepper")
    y = F.conv1d(torch.tensor([[[1.0, 2, 3, 4]]]), torch.tensor([[[3.0, 2]]]))[0, 0]
    picture = view.locator(".ck-body svg").first
    assert picture.get_attribute("aria-label").startswith(f"input 4, kernel 2, output {len(y)};")
    view.get_by_role("button", name="step forward").click()
    assert picture.get_attribute("aria-label").endswith(
        f"Position 1 of 0–2: output y[1] = {y[1]:g}: input x[1 to 2] times the kernel."
    )


def test_parameter_chart_states_both_counts(course_page):
    view = course_page.fresh("params")
    dense = 3 * 256 * 256 * (3 * 256 * 256) + 3 * 256 * 256  # weights and biases of nn.Linear
    conv = sum(p.numel() for p in nn.Conv2d(3, 3, 3).parameters())
    (label,) = _labels(view)
    assert f"has {dense:,} parameters" in label and f"nn.Conv2d(3, 3, 3) has {conv:,} parameters" in label


def test_image_maps_state_their_sizes_and_peaks(course_page):
    from convkit.widgets.template import template_matcher

    shown = course_page.fresh("playground")
    y = F.conv2d(torch.zeros(1, 1, 28, 28), torch.zeros(1, 1, 3, 3))  # an MNIST digit, a 3×3 kernel
    labels = _labels(shown)
    assert labels[0].startswith("input (1 × 28 × 28): 28 × 28 pixels, values")
    assert any(
        t.startswith("output: ") and f"({_shape(y[0, 0])}): {_shape(y[0, 0])} pixels" in t for t in labels
    )
    s = template_matcher().settings  # the image and the patch it starts with
    image = template_matcher().state.image
    maps = F.conv2d(torch.zeros(1, 1, *image.shape), torch.zeros(1, 1, s["height"], s["width"]))[0, 0]
    labels = _labels(course_page.fresh("template"))
    assert labels[0] == (
        f"image ({_shape(torch.zeros(image.shape))} pixels) with the {s['height']} × {s['width']} patch "
        f"at row {s['top']}, column {s['left']}"
    )
    # the patch is cut from the image, so the NCC peaks (at 1) where the patch is
    assert (
        f"normalised cross-correlation ({_shape(maps)}), peak 1 at row {s['top']}, column {s['left']}"
        in labels
    )
