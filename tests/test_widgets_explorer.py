"""Tests of the convolution explorer: facts against torch and the lecture, the JSON drawn, wiring."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from convkit.widgets.explorer import PRESETS, explorer, explorer_data, explorer_state

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


def _state_or_refusal(*args, **kwargs):
    """``(state, None)``, or ``(None, message)`` when explorer_state refuses the setting."""
    try:
        return explorer_state(*args, **kwargs), None
    except (ValueError, TypeError) as error:
        return None, str(error)


def test_lecture_example_gives_a_3x3_output_and_its_footprint():
    state = explorer_state(3, 5, 3, 3, padding=(2, 1), stride=(2, 2))
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
    assert gaps == (
        "Columns 1, 2, 4, 5, 7 and 8 are never read: the stride (3) is longer "
        "than the kernel (1), so consecutive windows leave them out."
    )
    dilated = explorer_state(10, 5, 2, 1, stride=(3, 1), dilation=(3, 1)).unread_message
    assert dilated.startswith(
        "Rows 1, 2, 4, 5, 7 and 8 are never read: they fall between the taps of the dilated kernel"
    )
    tail = explorer_state(5, 9, 1, 1, stride=(1, 3)).unread_message
    assert tail.endswith("Columns 7 and 8 are never read: the stride jumps over them.")


def test_conv2d_call_builds_the_layer_torch_agrees_with():
    state = explorer_state(
        11, 13, 3, 2, padding=(1, 0), stride=(2, 3), dilation=(1, 2), in_channels=4, out_channels=5
    )
    layer = eval(state.conv2d_call, {"nn": nn})
    assert state.parameter_count == sum(p.numel() for p in layer.parameters())
    assert state.weight_shape == tuple(layer.weight.shape)
    y = layer(torch.zeros(1, 4, 11, 13))
    assert y.shape[1:] == (5, *state.output_shape)


@given(
    size=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    channels=st.tuples(st.integers(1, 4), st.integers(1, 4)),
)
def test_state_agrees_with_torch_or_refuses_what_torch_refuses(
    size, kernel, stride, padding, dilation, channels
):
    state, refused = _state_or_refusal(
        *size,
        *kernel,
        padding=padding,
        stride=stride,
        dilation=dilation,
        in_channels=channels[0],
        out_channels=channels[1],
    )
    layer = nn.Conv2d(*channels, kernel, stride=stride, padding=padding, dilation=dilation)
    try:
        y = layer(torch.zeros(1, channels[0], *size))
    except RuntimeError:
        assert refused is not None
        return
    assert refused is None
    assert state.output_shape == tuple(y.shape[2:])
    assert state.parameter_count == sum(p.numel() for p in layer.parameters())
    assert (state.unread_rows, state.unread_cols) == _torch_unread(*size, kernel, stride, padding, dilation)
    assert eval(state.conv2d_call, {"nn": nn})(torch.zeros(1, channels[0], *size)).shape == y.shape


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((2, 2, 3, 3), {}, r"spans 3 cells but the padded input has only 2"),
        (
            (3, 5, 3, 3),
            dict(padding=(2, 1), stride=(2, 2), output_index=(3, 0)),
            r"output cell \(3, 0\) does not exist: the output is 3 × 3",
        ),
        ((3, 5, 3, 3), dict(stride=0), r"stride"),
        ((3, 5, 3, 3), dict(in_channels=0), r"in_channels"),
        ((3, 5, 3, 3), dict(padding="same"), r"padding must be an int or a tuple of 2 ints"),
    ],
)
def test_impossible_settings_are_refused_with_a_message_saying_why(args, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        explorer_state(*args, **kwargs)


# --------------------------------------------------------- what the browser lights up


def _torch_reads(transposed, size, kernel, stride, padding, dilation, output_padding=0):
    """Per output index, the input indices that reach it, found by torch's own gradients.

    A plain convolution is differentiated with respect to its padded input, so the
    padding cells it reads are found too (indices < 0 or >= size).
    """
    w = torch.ones(1, 1, kernel)
    if transposed:
        x = torch.zeros(1, 1, size, requires_grad=True)
        y = F.conv_transpose1d(
            x, w, stride=stride, padding=padding, dilation=dilation, output_padding=output_padding
        )
        shift = 0
    else:
        x = torch.zeros(1, 1, size + 2 * padding, requires_grad=True)
        y = F.conv1d(x, w, stride=stride, dilation=dilation)
        shift = padding
    reads = []
    for o in range(y.shape[-1]):
        (grad,) = torch.autograd.grad(y[0, 0, o], x, retain_graph=True)
        reads.append([int(i) - shift for i in np.nonzero(grad[0, 0].numpy())[0]])
    return reads


@given(
    size=st.integers(1, 9),
    kernel=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 3),
)
def test_every_output_reads_the_input_and_padding_cells_torch_differentiates(
    size, kernel, stride, padding, dilation
):
    state, refused = _state_or_refusal(
        1, size, 1, kernel, padding=(0, padding), stride=(1, stride), dilation=(1, dilation)
    )
    if refused is not None:
        return
    reads = _torch_reads(False, size, kernel, stride, padding, dilation)
    assert len(state.reads_cols) == len(reads)
    for o, pairs in enumerate(state.reads_cols):
        assert [i for i, _ in pairs] == reads[o]  # padding cells included, one per kernel tap
        assert [j for _, j in pairs] == list(range(kernel))


@given(
    size=st.integers(1, 6),
    kernel=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 3),
    output_padding=st.integers(0, 2),
)
def test_transposed_mode_matches_conv_transpose_in_size_reads_and_values(
    size, kernel, stride, padding, dilation, output_padding
):
    state, refused = _state_or_refusal(
        size,
        size + 1,
        kernel,
        kernel,
        padding=padding,
        stride=stride,
        dilation=dilation,
        output_padding=output_padding,
        transposed=True,
    )
    x = torch.tensor(explorer_state(size, size + 1, 1, 1).x)  # the same example numbers
    w = torch.ones(kernel, kernel, dtype=x.dtype) if refused else torch.tensor(state.weight)
    try:
        y = F.conv_transpose2d(
            x[None, None],
            w[None, None],
            stride=stride,
            padding=padding,
            dilation=dilation,
            output_padding=output_padding,
        )
    except RuntimeError:
        assert refused is not None
        return
    assert refused is None, refused
    assert state.output_shape == tuple(y.shape[2:])
    np.testing.assert_allclose(state.output, y[0, 0].numpy())
    reads = _torch_reads(True, size, kernel, stride, padding, dilation, output_padding)
    assert [sorted({i for i, _ in pairs}) for pairs in state.reads_rows] == reads
    layer = eval(state.conv2d_call, {"nn": nn})
    assert layer(torch.zeros(1, 1, size, size + 1)).shape[2:] == y.shape[2:]
    assert state.parameter_count == sum(p.numel() for p in layer.parameters())
    assert state.weight_shape == tuple(layer.weight.shape)


def test_values_drawn_give_the_output_torch_computes_and_the_call_text_runs():
    state = explorer_state(6, 7, 3, 2, padding=(1, 0), stride=(2, 1), dilation=(1, 2))
    x, w = torch.tensor(state.x)[None, None], torch.tensor(state.weight)[None, None]
    y = eval(state.functional_call, {"F": F, "x": x, "weight": w})
    np.testing.assert_allclose(state.output, y[0, 0].numpy())


@pytest.mark.parametrize("channels, groups", [((4, 6), 2), ((8, 8), 8), ((3, 6), 3), ((4, 4), 1)])
def test_groups_link_each_output_channel_to_the_input_channels_torch_connects(channels, groups):
    C, D = channels
    state = explorer_state(5, 5, 3, 3, in_channels=C, out_channels=D, groups=groups)
    layer = eval(state.conv2d_call, {"nn": nn})
    assert state.weight_shape == tuple(layer.weight.shape)
    assert state.parameter_count == sum(p.numel() for p in layer.parameters())
    links = []
    for d in range(D):
        x = torch.zeros(1, C, 5, 5, requires_grad=True)
        layer(x)[0, d].sum().backward()
        links.append([c for c in range(C) if x.grad[0, c].abs().sum() > 0])
    assert state.channel_links == links


def test_channels_that_do_not_split_into_groups_are_an_error_naming_groups():
    with pytest.raises(ValueError, match="groups"):
        explorer_state(5, 5, 3, 3, in_channels=4, out_channels=6, groups=4)


def test_1d_setting_gives_the_conv1d_call_and_output():
    state = explorer_state(1, 4, 1, 2, ndim=1)
    assert state.conv2d_call == (
        "nn.Conv1d(in_channels=1, out_channels=1, kernel_size=2, stride=1, padding=0, dilation=1)"
    )
    y = F.conv1d(torch.tensor(state.x[0])[None, None], torch.tensor(state.weight[0])[None, None])
    assert state.output_shape == (1, 3)
    np.testing.assert_allclose(state.output[0], y[0, 0].numpy())


def test_formulas_evaluate_the_output_size_with_the_settings_numbers():
    state = explorer_state(3, 5, 3, 3, padding=(2, 1), stride=(2, 2))
    assert state.formulas == (
        "H' = ⌊(H + 2p − d·(k − 1) − 1) / s⌋ + 1 = ⌊(3 + 2·2 − 1·(3 − 1) − 1) / 2⌋ + 1 = 3",
        "W' = ⌊(W + 2p − d·(k − 1) − 1) / s⌋ + 1 = ⌊(5 + 2·1 − 1·(3 − 1) − 1) / 2⌋ + 1 = 3",
    )
    moved = explorer_state(4, 4, 3, 3, padding=1, stride=2, output_padding=1, transposed=True)
    assert moved.formulas[0].endswith("= (4 − 1)·2 − 2·1 + 1·(3 − 1) + 1 + 1 = 8")


def test_output_padding_is_refused_when_not_below_stride_or_dilation():
    with pytest.raises(
        ValueError, match=r"along the rows: output_padding = 2 must be >= 0 and smaller than the stride \(2\)"
    ):
        explorer_state(4, 4, 3, 3, stride=2, output_padding=2, transposed=True)
    with pytest.raises(ValueError, match="output_padding exists only"):
        explorer_state(4, 4, 3, 3, output_padding=1)


def test_explorer_data_is_plain_json():
    import json

    data = explorer_data(explorer_state(3, 5, 3, 3, padding=(2, 1), stride=(2, 2)))
    assert json.loads(json.dumps(data)) == data
    assert data["reads"][0][0] == [[-2, 0], [-1, 1], [0, 2]]


# --------------------------------------------------------------------------- widget


def test_moving_a_control_recomputes_the_state_and_the_data():
    w = explorer()
    assert w.state.output_shape == (5, 7) and w.data["summary"] == "Input 3 × 7 × 9 → output 1 × 5 × 7"
    w.controls["width"].value = 20
    assert w.state.output_shape == (5, 18) and w.data["output_shape"] == [5, 18]
    assert w.error == ""


def test_impossible_setting_is_a_message_the_last_picture_stays_and_the_widget_recovers():
    w = explorer()
    good = w.data
    w.controls["kernel_h"].value = 9  # 9 > 7 rows
    assert "spans 9 cells but the padded input has only 7" in w.error
    assert w.data == good and w.state.output_shape == (5, 7)
    w.controls["padding_h"].value = 1
    assert w.error == "" and w.state.output_shape == (1, 7)


def test_lecture_preset_loads_the_lectures_numbers_in_one_click():
    w = explorer()
    w.presets[LECTURE].click()
    c = {name: control.value for name, control in w.controls.items()}
    assert (c["height"], c["width"], c["kernel_h"], c["kernel_w"]) == (3, 5, 3, 3)
    assert (c["padding_h"], c["padding_w"], c["stride_h"], c["stride_w"]) == (2, 1, 2, 2)
    assert w.state.output_shape == (3, 3)
    assert w.data["summary"] == "Input 1 × 3 × 5 → output 1 × 3 × 3"
    assert "padding=(2, 1)" in w.data["calls"][0] and "stride=2" in w.data["calls"][0]


def test_presets_hold_explorer_state_arguments():
    assert explorer_state(**PRESETS[LECTURE]).output_shape == (3, 3)
    assert explorer_state(**PRESETS[DILATED]).output_shape == (12, 22)
    for arguments in PRESETS.values():
        assert explorer_state(**arguments).output_shape is not None


def test_dilation_preset_gives_12x22_and_a_9x9_receptive_field():
    w = explorer(DILATED)
    assert w.state.output_shape == (12, 22)
    assert w.data["effective_kernel"] == [9, 9]


def test_kernel_sliders_stop_where_the_kernel_still_fits_the_padded_input():
    w = explorer()  # 7 × 9 input, no padding, dilation 1
    assert (w.controls["kernel_h"].max, w.controls["kernel_w"].max) == (7, 9)
    w.controls["dilation_h"].value = 2  # 1 + (k - 1)·2 <= 7: k <= 4
    w.controls["padding_h"].value = 1  # 1 + (k - 1)·2 <= 9: k <= 5
    assert w.controls["kernel_h"].max == 5
    w.controls["kernel_h"].value = 5
    assert w.error == "" and w.state.output_shape[0] == 1


def test_groups_menu_offers_the_divisors_of_both_channel_counts():
    w = explorer()
    w.controls["in_channels"].value, w.controls["out_channels"].value = 4, 6
    assert w.controls["groups"].options == [1, 2]


def test_the_static_picture_lights_the_first_outputs_window():
    w = explorer(LECTURE)
    svg = w._repr_mimebundle_()[0]["image/svg+xml"]
    assert svg.startswith("<svg") and svg.count("fill='#56B4E9'") == 9
    assert "nn.Conv2d(in_channels=1" in svg
