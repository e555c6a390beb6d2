"""Tests of the convolution explorer: facts against torch and the lecture, drawing, wiring."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from torch import nn

from convkit.plot import FootprintCell
from convkit.widgets.explorer import PRESETS, draw_explorer, explorer, explorer_state

LECTURE = list(PRESETS)[0]
DILATED = list(PRESETS)[1]


def _torch_unread(height, width, kernel, stride, padding, dilation):
    """Input rows and columns whose gradient is zero whatever the weights: nobody reads them.

    Each axis is its own 1d convolution (a 2d kernel is the product of its rows
    and columns), so a row counts as read even when every column is skipped.
    """
    def unread(size, k, s, p, d):
        x = torch.zeros(1, 1, size, requires_grad=True)
        F.conv1d(x, torch.ones(1, 1, k), stride=s, padding=p, dilation=d).sum().backward()
        return [int(i) for i in np.nonzero(x.grad[0, 0].numpy() == 0)[0]]

    def pair(v):
        return v if isinstance(v, tuple) else (v, v)

    axes = zip((height, width), kernel, pair(stride), pair(padding), pair(dilation))
    return tuple(unread(*a) for a in axes)


# ------------------------------------------------------------------- explorer_state


def test_lecture_example_gives_a_3x3_output_and_its_footprint():
    state = explorer_state(3, 5, 3, 3, padding=(2, 1), stride=(2, 2))
    assert state.error is None
    assert state.output_shape == (3, 3)
    assert state.footprint_rows == [-2, -1, 0] and state.footprint_cols == [-1, 0, 1]
    assert state.effective_kernel == (3, 3)
    assert state.unread_rows == [] and state.unread_cols == []
    assert state.unread_message == "Every input row and column is read."


def test_lecture_dilation_example_gives_12x22_with_a_9x9_receptive_field():
    state = explorer_state(20, 30, 3, 3, dilation=(4, 4), output_index=(1, 2))
    assert state.output_shape == (12, 22)
    assert state.effective_kernel == (9, 9)
    assert state.footprint_rows == [1, 5, 9] and state.footprint_cols == [2, 6, 10]


def test_stride_leaves_row_19_unread_and_says_so():
    state = explorer_state(20, 20, 3, 3, stride=(2, 1))
    assert (state.unread_rows, state.unread_cols) == _torch_unread(20, 20, (3, 3), (2, 1), 0, 1)
    assert state.unread_rows == [19]
    assert state.unread_message == "Row 19 is never read: the stride jumps over it."


def test_unread_message_explains_gaps_left_by_stride_and_by_dilation():
    gaps = explorer_state(5, 10, 1, 1, stride=(1, 3)).unread_message
    assert gaps == ("Columns 1, 2, 4, 5, 7 and 8 are never read: the stride (3) is longer "
                    "than the kernel (1), so consecutive windows leave them out.")
    dilated = explorer_state(10, 5, 2, 1, stride=(3, 1), dilation=(3, 1)).unread_message
    assert dilated.startswith("Rows 1, 2, 4, 5, 7 and 8 are never read: they fall between "
                              "the taps of the dilated kernel")
    tail = explorer_state(5, 9, 1, 1, stride=(1, 3)).unread_message
    assert tail.endswith("Columns 7 and 8 are never read: the stride jumps over them.")


def test_conv2d_call_builds_the_layer_torch_agrees_with():
    state = explorer_state(11, 13, 3, 2, padding=(1, 0), stride=(2, 3), dilation=(1, 2),
                           in_channels=4, out_channels=5)
    layer = eval(state.conv2d_call, {"nn": nn})
    assert state.parameter_count == sum(p.numel() for p in layer.parameters())
    assert state.weight_shape == tuple(layer.weight.shape)
    y = layer(torch.zeros(1, 4, 11, 13))
    assert y.shape[1:] == (5, *state.output_shape)


@settings(max_examples=40, deadline=None)
@given(
    size=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    channels=st.tuples(st.integers(1, 4), st.integers(1, 4)),
)
def test_state_agrees_with_torch_or_reports_why_torch_refuses(size, kernel, stride, padding,
                                                              dilation, channels):
    state = explorer_state(*size, *kernel, padding=padding, stride=stride, dilation=dilation,
                           in_channels=channels[0], out_channels=channels[1])
    layer = nn.Conv2d(*channels, kernel, stride=stride, padding=padding, dilation=dilation)
    try:
        y = layer(torch.zeros(1, channels[0], *size))
    except RuntimeError:
        assert state.error is not None and state.output_shape is None
        return
    assert state.error is None
    assert state.output_shape == tuple(y.shape[2:])
    assert state.parameter_count == sum(p.numel() for p in layer.parameters())
    assert (state.unread_rows, state.unread_cols) == _torch_unread(*size, kernel, stride,
                                                                   padding, dilation)
    assert eval(state.conv2d_call, {"nn": nn})(torch.zeros(1, channels[0], *size)).shape == y.shape


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((2, 2, 3, 3), {}, r"spans 3 cells but the padded input has only 2"),
        ((3, 5, 3, 3), dict(padding=(2, 1), stride=(2, 2), output_index=(3, 0)),
         r"output cell \(3, 0\) does not exist: the output is 3 × 3"),
        ((3, 5, 3, 3), dict(stride=0), r"stride"),
        ((3, 5, 3, 3), dict(in_channels=0), r"in_channels"),
        ((3, 5, 3, 3), dict(padding="same"), r"padding must be an int or a pair"),
    ],
)
def test_impossible_settings_give_an_error_message_not_an_exception(args, kwargs, match):
    state = explorer_state(*args, **kwargs)
    assert state.error is not None and state.output_shape is None
    assert re.search(match, state.error)


# -------------------------------------------------------------------- draw_explorer


def test_draw_explorer_shows_the_footprint_and_the_selected_output_cell():
    fig = Figure(figsize=(8.5, 4.2))
    draw_explorer(explorer_state(3, 5, 3, 3, padding=(2, 1), stride=(2, 2),
                                 output_index=(1, 2), out_channels=4), fig)
    ax_in, ax_out = fig.axes
    codes = ax_in.images[0].get_array()
    taps = {tuple(t) for t in np.argwhere(np.isin(codes, [FootprintCell.TAP,
                                                         FootprintCell.TAP_PADDING]))}
    # rows 0..2 and columns 3..5 in unpadded coordinates, +2 and +1 once padded
    assert taps == {(r, c) for r in range(2, 5) for c in range(4, 7)}
    assert ax_in.get_title() == "output (1, 2) reads rows 0, 1, 2, columns 3, 4, 5"
    assert ax_out.get_title() == "output 4 × 3 × 3"
    assert (ax_out.get_xlabel(), ax_out.get_ylabel()) == ("output column", "output row")
    out = ax_out.images[0].get_array()
    assert out.shape == (3, 3) and np.argwhere(out == FootprintCell.TAP).tolist() == [[1, 2]]


def test_draw_explorer_replaces_the_figure_by_the_message_when_impossible():
    fig = Figure()
    draw_explorer(explorer_state(3, 5, 3, 3), fig)
    axes = list(fig.axes)
    draw_explorer(explorer_state(2, 2, 3, 3), fig)
    assert not any(ax.get_visible() for ax in fig.axes)
    assert fig.texts[0].get_text().startswith("No output: ")
    draw_explorer(explorer_state(3, 5, 3, 3), fig)
    assert fig.axes == axes and all(ax.get_visible() for ax in fig.axes)
    assert fig.texts[0].get_text() == ""


# --------------------------------------------------------------------------- widget


def test_moving_a_slider_redraws_and_reports_the_new_output_shape():
    w = explorer()
    before = w.image.value
    assert "<b>1 × 5 × 7</b>" in w.html.value  # 7×9 input, 3×3 kernel
    w.controls["width"].value = 20
    assert "<b>1 × 5 × 18</b>" in w.html.value
    assert w.image.value != before
    assert w.controls["col"].max == 17


def test_output_cell_sliders_follow_the_output_shape():
    w = explorer()
    w.controls["row"].value = 4
    w.controls["stride_h"].value = 2  # 7 rows, kernel 3, stride 2: 3 output rows
    assert w.controls["row"].max == 2 and w.controls["row"].value == 2
    assert w.state.output_index == (2, 0) and w.state.error is None


def test_impossible_setting_is_a_message_and_the_widget_recovers():
    w = explorer()
    w.controls["kernel_h"].value = 9  # 9 > 7 rows
    assert "No output" in w.html.value and w.state.error is not None
    w.controls["padding_h"].value = 1
    assert "No output" not in w.html.value
    assert w.state.output_shape == (1, 7)


def test_lecture_preset_loads_the_lectures_numbers_in_one_click():
    w = explorer()
    w.controls["row"].value = 3
    w.presets[LECTURE].click()
    c = {name: control.value for name, control in w.controls.items()}
    assert (c["height"], c["width"], c["kernel_h"], c["kernel_w"]) == (3, 5, 3, 3)
    assert (c["padding_h"], c["padding_w"], c["stride_h"], c["stride_w"]) == (2, 1, 2, 2)
    assert (c["row"], c["col"]) == (0, 0)
    assert w.state.output_shape == (3, 3)
    assert "<b>1 × 3 × 3</b>" in w.html.value
    assert "padding=(2, 1)" in w.html.value and "stride=2" in w.html.value


def test_presets_hold_explorer_state_arguments():
    assert explorer_state(**PRESETS[LECTURE]).output_shape == (3, 3)
    assert explorer_state(**PRESETS[DILATED]).output_shape == (12, 22)


def test_dilation_preset_gives_12x22():
    w = explorer()
    w.presets[DILATED].click()
    assert w.state.output_shape == (12, 22)
    assert "<b>1 × 12 × 22</b>" in w.html.value
    assert "<b>9 × 9</b>" in w.html.value  # receptive field
