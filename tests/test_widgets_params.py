"""Tests of the parameter counter: counts against torch and the lecture, wiring."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from convkit.widgets.params import parameter_counter, parameter_state


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
    size=st.integers(1, 6),
    channels=st.integers(1, 4),
    out_channels=st.integers(1, 4),
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
        ((0, 3, 1), ValueError, "image_size must be >= 1, got 0"),
        ((8.0, 3, 3), TypeError, "image_size must be an int"),
        ((8, 0, 3), ValueError, "in_channels"),
        ((8, 3, 0), ValueError, "kernel_size"),
        ((8, 3, 3, 0), ValueError, "out_channels"),
    ],
)
def test_bad_arguments_raise_with_the_argument_named(args, error, match):
    with pytest.raises(error, match=match):
        parameter_state(*args)


# ------------------------------------------------------------------ parameter_counter


def test_widget_starts_on_the_lecture_numbers():
    w = parameter_counter()
    assert w.state == parameter_state(256, 3, 3)
    assert w.data["dense_count"] == 38_654_902_272 and w.data["conv_count"] == 84
    assert w.data["dense_bytes_text"] == "154.6 GB" and w.data["ratio_text"] == "4.6e+08"


def test_moving_a_slider_updates_the_numbers():
    w = parameter_counter()
    w.controls["channels"].value = 64
    assert w.state == parameter_state(256, 64, 3, out_channels=3)
    assert w.data["conv_count"] == _torch_count(nn.Conv2d(64, 3, 3))


def test_kernel_larger_than_image_is_a_message_keeps_the_chart_and_recovers():
    w = parameter_counter()
    w.controls["image_size"].value = 8
    good = w.data
    w.controls["kernel_size"].value = 11
    assert "larger than the image" in w.error and w.data == good
    w.controls["kernel_size"].value = 5
    assert w.error == "" and w.state == parameter_state(8, 3, 5)


def test_the_static_picture_names_both_layers_and_counts():
    svg = parameter_counter()._repr_mimebundle_()[0]["image/svg+xml"]
    assert "nn.Linear(196,608, 196,608)" in svg and "38,654,902,272 parameters" in svg
    assert "nn.Conv2d(3, 3, 3)" in svg and "84 parameters" in svg
