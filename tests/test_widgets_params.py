"""Tests of the parameter counter: counts against torch and the lecture, drawing, wiring."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.figure import Figure
from torch import nn

from convkit.widgets.params import draw_parameters, parameter_counter, parameter_state


def _torch_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ------------------------------------------------------------------ parameter_state


def test_lecture_image_needs_3_87e10_dense_weights_and_84_conv_parameters():
    state = parameter_state(256, 3, 3)
    # 256·256·3 = 196,608 values in and out: 196,608² weights plus 196,608 biases.
    assert state.dense_count == 38_654_705_664 + 196_608
    assert f"{state.dense_count:.3g}" == "3.87e+10"
    assert state.conv_count == 3 * 3 * 3 * 3 + 3 == 84
    assert state.dense_bytes == 4 * (38_654_705_664 + 196_608)
    assert state.conv_bytes == 336
    assert state.ratio == pytest.approx(38_654_902_272 / 84)


def test_small_case_matches_counts_worked_by_hand():
    # 4×4 image, 2 channels in, 5 out, 3×3 kernels: 32 inputs, 80 outputs.
    state = parameter_state(4, 2, 3, out_channels=5)
    assert (state.in_features, state.out_features) == (32, 80)
    assert state.dense_count == 32 * 80 + 80 == 2640
    assert state.conv_count == 5 * 2 * 9 + 5 == 95
    assert state.dense_weight_shape == (80, 32)
    assert state.conv_weight_shape == (5, 2, 3, 3)


@given(
    size=st.integers(1, 6), channels=st.integers(1, 4), out_channels=st.integers(1, 4),
    kernel=st.integers(1, 6),
)
def test_counts_and_shapes_match_nn_linear_and_nn_conv2d(size, channels, out_channels, kernel):
    if kernel > size:
        with pytest.raises(ValueError, match="kernel_size"):
            parameter_state(size, channels, kernel, out_channels)
        return
    state = parameter_state(size, channels, kernel, out_channels)
    dense = nn.Linear(channels * size * size, out_channels * size * size)
    conv = nn.Conv2d(channels, out_channels, kernel)
    assert state.dense_count == _torch_count(dense)
    assert state.conv_count == _torch_count(conv)
    assert state.dense_weight_shape == tuple(dense.weight.shape)
    assert state.conv_weight_shape == tuple(conv.weight.shape)
    assert (state.dense_bytes, state.conv_bytes) == (4 * state.dense_count, 4 * state.conv_count)


def test_out_channels_default_to_the_input_channels():
    assert parameter_state(16, 7, 5).out_channels == 7


def test_conv_count_does_not_depend_on_the_image_size():
    counts = {parameter_state(size, 3, 3).conv_count for size in (8, 64, 1024)}
    assert counts == {84}


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((8, 3, 9), ValueError, r"kernel_size 9 is larger than the image \(8 × 8\)"),
        ((0, 3, 1), ValueError, "image_size must be at least 1, got 0"),
        ((8.0, 3, 3), TypeError, "image_size must be an int"),
        ((8, 0, 3), ValueError, "in_channels"),
        ((8, 3, 0), ValueError, "kernel_size"),
        ((8, 3, 3, 0), ValueError, "out_channels"),
    ],
)
def test_bad_arguments_raise_with_the_argument_named(args, error, match):
    with pytest.raises(error, match=match):
        parameter_state(*args)


# ------------------------------------------------------------------ draw_parameters


def test_draw_parameters_draws_two_labelled_bars_on_a_log_axis():
    fig = Figure(figsize=(7, 2.6))
    draw_parameters(parameter_state(256, 3, 3), fig)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["convolution", "dense"]
    widths = sorted(bar.get_width() for bar in ax.patches)
    assert widths == [84, 38_654_902_272]
    texts = [t.get_text() for t in ax.texts]
    assert "84  (336 bytes)" in texts and "38,654,902,272  (154.6 GB)" in texts
    assert "dense / conv = 4.6e+08" in ax.get_title()
    assert ax.get_xlabel() == "parameters (log scale)"


def test_draw_parameters_reuses_its_axes_on_redraw():
    fig = Figure(figsize=(7, 2.6))
    draw_parameters(parameter_state(256, 3, 3), fig)
    ax = fig.axes[0]
    draw_parameters(parameter_state(32, 64, 5, out_channels=128), fig)
    assert fig.axes == [ax]
    assert len(ax.patches) == 2 and len(ax.texts) == 2
    assert sorted(bar.get_width() for bar in ax.patches)[0] == 128 * 64 * 25 + 128


# ------------------------------------------------------------------ parameter_counter


def test_widget_starts_on_the_lecture_numbers():
    w = parameter_counter()
    assert w.state == parameter_state(256, 3, 3)
    assert bytes(w.image.value[:4]) == b"\x89PNG"
    assert "<b>38,654,902,272</b>" in w.html.value and "<b>84</b>" in w.html.value


def test_moving_a_slider_updates_the_numbers_and_the_picture():
    w = parameter_counter()
    html_before, png_before = w.html.value, w.image.value
    w.controls["channels"].value = 64
    assert w.state == parameter_state(256, 64, 3, out_channels=3)
    assert w.html.value != html_before and "nn.Conv2d(64, 3, 3)" in w.html.value
    assert w.image.value != png_before


def test_kernel_larger_than_image_is_a_message_and_the_widget_recovers():
    w = parameter_counter()
    w.controls["image_size"].value = 8
    w.controls["kernel_size"].value = 11
    assert w.state is None
    assert "No count" in w.html.value and "larger than the image" in w.html.value
    assert w.image.layout.display == "none"
    w.controls["kernel_size"].value = 5
    assert w.state == parameter_state(8, 3, 5)
    assert w.image.layout.display is None
