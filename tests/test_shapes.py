"""Tests for convkit.shapes: the lecture's figures by hand, everything else against torch."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from convkit.shapes import (
    ReceptiveField,
    conv_multiply_adds,
    conv_output_shape,
    conv_output_size,
    conv_parameter_count,
    conv_transpose_output_size,
    dense_parameter_count,
    effective_kernel_size,
    footprint,
    memory_bytes,
    receptive_field,
    unread_positions,
)

# Tiny tensors make each example cheap; the first torch call can be slow, hence no deadline.
# The number of examples comes from the hypothesis profile loaded in conftest.py.
PROPERTY = settings(deadline=None)


# ------------------------------------------------------------- the lecture's numbers


def test_dense_layer_on_256x256_rgb_image_needs_3_87e10_weights():
    # 256 * 256 * 3 = 196608 and 196608 ** 2 = 38654705664, done by hand.
    n = dense_parameter_count(256 * 256 * 3, 256 * 256 * 3, bias=False)
    assert n == 38_654_705_664
    assert f"{n:.2e}" == "3.87e+10"


def test_dense_layer_weights_take_155_decimal_gigabytes_or_144_gib_in_float32():
    # 38654705664 * 4 bytes; the lecture's "about 150 GB" is this, in decimal units.
    n = memory_bytes(38_654_705_664, "float32")
    assert n == 154_618_822_656
    assert 150 < n / 1e9 < 155
    assert n / 2**30 == 144.0


def test_lecture_conv2d_example_maps_117x4x10x3_to_117x5x9x1():
    weight_shape = (5, 4, 2, 3)
    input_shape = (117, 4, 10, 3)
    spatial = conv_output_shape(input_shape[2:], weight_shape[2:])
    assert (input_shape[0], weight_shape[0]) + spatial == (117, 5, 9, 1)
    assert spatial == (9, 1)


def test_lecture_conv2d_module_4_to_5_channels_kernel_2x3_has_125_parameters():
    # 5 * 4 * 2 * 3 weights + 5 biases = 120 + 5.
    assert conv_parameter_count(4, 5, (2, 3)) == 125
    assert conv_parameter_count(4, 5, (2, 3), bias=False) == 120


def test_lecture_padded_strided_3x5_input_gives_3x3_output():
    # rows: (3 + 4 - 3) // 2 + 1 = 3 ; cols: (5 + 2 - 3) // 2 + 1 = 3
    assert conv_output_shape((3, 5), (3, 3), stride=(2, 2), padding=(2, 1)) == (3, 3)
    assert conv_output_shape((3, 5), 3, stride=2, padding=(2, 1)) == (3, 3)


def test_dilation_4_with_kernel_3_spans_9_cells_and_shrinks_20x30_to_12x22():
    assert effective_kernel_size(3, 4) == 9
    assert conv_output_shape((20, 30), 3, dilation=4) == (12, 22)
    assert 20 - conv_output_size(20, 3, dilation=4) == 8


def test_top_left_output_of_padded_strided_example_reads_rows_minus2_to_0_cols_minus1_to_1():
    assert footprint(0, 3, stride=2, padding=2) == [-2, -1, 0]
    assert footprint(0, 3, stride=2, padding=1) == [-1, 0, 1]
    # the last output row: 2 * 2 - 2 = 2 is the last real row, then two padding rows
    assert footprint(2, 3, stride=2, padding=2) == [2, 3, 4]


# ------------------------------------------------------------------ hand-made cases


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (dict(size=20, kernel_size=3, stride=2), [19]),
        (dict(size=9, kernel_size=2, stride=3, dilation=3), [1, 2, 4, 5, 7, 8]),
        (dict(size=7, kernel_size=3, stride=2, dilation=2), [1, 3, 5]),
        (dict(size=5, kernel_size=3, stride=3, padding=1), []),
        (dict(size=10, kernel_size=3), []),
        (dict(size=10, kernel_size=1, stride=4), [1, 2, 3, 5, 6, 7, 9]),
    ],
)
def test_unread_positions_match_hand_counts(args, expected):
    assert unread_positions(**args) == expected


def test_stride_leaves_last_cells_of_lecture_3x5_example_read():
    # padding makes up for the stride there: every real cell is read
    assert unread_positions(3, 3, stride=2, padding=2) == []
    assert unread_positions(5, 3, stride=2, padding=1) == []


def test_footprint_of_dilated_kernel_skips_cells():
    assert footprint(0, 3, dilation=4) == [0, 4, 8]
    assert footprint(3, 2, stride=3, padding=1, dilation=3) == [8, 11]


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ([], (1, 1)),
        ([(3, 1, 1)], (3, 1)),
        ([(3, 1, 1), (3, 1, 1)], (5, 1)),
        ([(3, 1, 1)] * 3, (7, 1)),
        ([(3, 2, 1), (3, 1, 1)], (7, 2)),
        ([(2, 2, 1), (2, 2, 1), (2, 2, 1)], (8, 8)),
        ([(3, 1, 1), (3, 1, 2), (3, 1, 4)], (15, 1)),
        ([(3, 2, 1), (3, 1, 2)], (11, 2)),
        ([(3,), (3, 2)], (5, 2)),
        ([dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=3, dilation=2)], (11, 2)),
    ],
)
def test_receptive_field_matches_hand_counts(layers, expected):
    field = receptive_field(layers)
    assert isinstance(field, ReceptiveField)
    assert (field.size, field.stride) == expected


def test_valid_padding_is_no_padding_and_same_keeps_even_kernels_size():
    assert conv_output_shape((10, 3), (2, 3), padding="valid") == (9, 1)
    assert conv_output_shape((7, 8), (4, 2), padding="same", dilation=(1, 3)) == (7, 8)


def test_conv_output_shape_handles_1d_and_3d_and_lists():
    assert conv_output_shape([11], [4], stride=[3]) == (3,)
    assert conv_output_shape((4, 6, 8), (1, 2, 3), stride=(1, 2, 2), padding=(0, 1, 1)) == (4, 4, 4)


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        ("float32", 40),
        ("float16", 20),
        ("float64", 80),
        ("uint8", 10),
        (np.float16, 20),
        (np.dtype("int64"), 80),
        (torch.float32, 40),
        (torch.bfloat16, 20),
        ("bfloat16", 20),
    ],
)
def test_memory_bytes_counts_itemsize_of_numpy_and_torch_dtypes(dtype, expected):
    assert memory_bytes(10, dtype) == expected


# ------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: conv_output_size(3, 5),
            ValueError,
            "kernel_size=5 with dilation=1 spans 5 cells but the padded input has only 3 (size=3, padding=0)",
        ),
        (
            lambda: conv_output_size(4, 3, dilation=2),
            ValueError,
            "kernel_size=3 with dilation=2 spans 5 cells",
        ),
        (lambda: conv_output_size(0, 1), ValueError, "size must be >= 1, got 0"),
        (lambda: conv_output_size(10, 0), ValueError, "kernel_size must be >= 1, got 0"),
        (lambda: conv_output_size(10, 3, stride=0), ValueError, "stride must be >= 1, got 0"),
        (lambda: conv_output_size(10, 3, padding=-1), ValueError, "padding must be >= 0, got -1"),
        (lambda: conv_output_size(10, 3, dilation=0), ValueError, "dilation must be >= 1, got 0"),
        (lambda: conv_output_size(10, 2.0), TypeError, "kernel_size must be an int, got 2.0 (float)"),
        (lambda: conv_output_size(10, 3, stride=True), TypeError, "stride must be an int, got True (bool)"),
        (lambda: effective_kernel_size(3, dilation=0), ValueError, "dilation must be >= 1, got 0"),
        (lambda: footprint(-1, 3), ValueError, "output_index must be >= 0, got -1"),
        (lambda: unread_positions(2, 3), ValueError, "spans 3 cells but the padded input has only 2"),
        (
            lambda: conv_output_shape((10, 3), (2, 3, 4)),
            ValueError,
            "kernel_size=(2, 3, 4) has 3 entries, but kernel_size must be an int or a tuple of 2 ints, one per spatial axis of input_shape (10, 3)",
        ),
        (lambda: conv_output_shape((10, 3), 2, padding=(1,)), ValueError, "padding=(1,) has 1 entries"),
        (lambda: conv_output_shape((10, 3), 2, stride=(1, 0)), ValueError, "stride[1] must be >= 1, got 0"),
        (
            lambda: conv_output_shape((10, 3), 2, stride=(2, 1), padding="same"),
            ValueError,
            "padding='same' needs stride 1 on every axis, as in torch, got stride=(2, 1)",
        ),
        (lambda: conv_output_shape((10, 3), 2, padding="full"), ValueError, "got 'full'"),
        (
            lambda: conv_output_shape((10, 3), (2, 4)),
            ValueError,
            "spans 4 cells but the padded input has only 3 (size=3, padding=0) along axis 1 of input_shape (10, 3)",
        ),
        (lambda: conv_output_shape((10, 0), 1), ValueError, "input_shape[1] must be >= 1, got 0"),
        (lambda: conv_output_shape(10, 3), TypeError, "input_shape must be a sequence"),
        (lambda: conv_output_shape((), 3), ValueError, "at least one spatial dim"),
        (
            lambda: conv_output_shape((10,), "3"),
            TypeError,
            "kernel_size must be an int or a tuple of 1 ints, got '3'",
        ),
        (lambda: receptive_field([(3, 0, 1)]), ValueError, "layers[0] stride must be >= 1, got 0"),
        (
            lambda: receptive_field([(3, 1, 1), (3, 1, 1, 1)]),
            ValueError,
            "layers[1] must be (kernel_size, stride, dilation), got (3, 1, 1, 1) with 4 entries",
        ),
        (
            lambda: receptive_field((3, 1, 1)),
            TypeError,
            "layers[0] must be a (kernel_size, stride, dilation) tuple or a dict, got 3",
        ),
        (lambda: receptive_field([dict(kernel=3)]), ValueError, "layers[0] has unknown keys ['kernel']"),
        (lambda: receptive_field([dict(stride=2)]), ValueError, "layers[0] has no 'kernel_size' key"),
        (lambda: receptive_field(3), TypeError, "layers must be a sequence"),
        (lambda: dense_parameter_count(0, 3), ValueError, "in_features must be >= 1, got 0"),
        (lambda: dense_parameter_count(3, 3, bias=1), TypeError, "bias must be a bool, got 1 (int)"),
        (
            lambda: conv_parameter_count(4, 6, 3, groups=4),
            ValueError,
            "in_channels=4 and out_channels=6 must both be divisible by groups=4",
        ),
        (lambda: conv_parameter_count(4, 4, (3, 0)), ValueError, "kernel_size[1] must be >= 1, got 0"),
        (lambda: conv_parameter_count(4, 4, ()), ValueError, "kernel_size must have at least one entry"),
        (lambda: memory_bytes(-1), ValueError, "count must be >= 0, got -1"),
        (
            lambda: memory_bytes(1, "no_such_type"),
            ValueError,
            "dtype 'no_such_type' is neither a numpy nor a torch dtype",
        ),
        (lambda: memory_bytes(1, object), ValueError, "has no fixed size"),
        (
            lambda: memory_bytes(1, 3.5),
            TypeError,
            "dtype must be a str, a numpy dtype or a torch dtype, got 3.5",
        ),
    ],
)
def test_bad_arguments_are_refused_with_a_message_naming_them(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_numpy_integers_are_accepted_as_ints():
    assert conv_output_size(np.int64(10), np.int32(3)) == 8


# ------------------------------------------------------------ properties against torch


def _torch_conv(ndim, input_shape, kernel_shape, **kwargs):
    conv = (F.conv1d, F.conv2d, F.conv3d)[ndim - 1]
    x = torch.zeros((1, 1) + tuple(input_shape))
    w = torch.zeros((1, 1) + tuple(kernel_shape))
    with warnings.catch_warnings():
        # torch warns that 'same' with even kernels copies the input; irrelevant here
        warnings.simplefilter("ignore", UserWarning)
        return conv(x, w, **kwargs)


@PROPERTY
@given(
    size=st.integers(1, 16),
    k=st.integers(1, 6),
    s=st.integers(1, 4),
    p=st.integers(0, 4),
    d=st.integers(1, 4),
)
def test_conv_output_size_matches_torch_conv1d_or_both_refuse(size, k, s, p, d):
    try:
        expected = _torch_conv(1, (size,), (k,), stride=s, padding=p, dilation=d).shape[-1]
    except RuntimeError:
        with pytest.raises(ValueError, match="no output position fits"):
            conv_output_size(size, k, s, p, d)
    else:
        assert conv_output_size(size, k, s, p, d) == expected


@PROPERTY
@given(
    size=st.integers(1, 12),
    k=st.integers(1, 5),
    s=st.integers(1, 4),
    p=st.integers(0, 4),
    op=st.integers(0, 3),
    d=st.integers(1, 3),
)
def test_conv_transpose_output_size_matches_torch_conv_transpose1d_or_both_refuse(size, k, s, p, op, d):
    x, w = torch.zeros(1, 1, size), torch.zeros(1, 1, k)
    try:
        expected = F.conv_transpose1d(x, w, stride=s, padding=p, output_padding=op, dilation=d).shape[-1]
    except RuntimeError:
        with pytest.raises(ValueError, match="output_padding|crops the whole output"):
            conv_transpose_output_size(size, k, s, p, op, d)
    else:
        assert conv_transpose_output_size(size, k, s, p, op, d) == expected


def test_transposed_4x4_stride_2_gives_8x8_which_the_convolution_maps_back():
    # Hand count: (4 - 1)·2 - 2·1 + (3 - 1) + 1 + 1 = 8.
    assert conv_transpose_output_size(4, 3, stride=2, padding=1, output_padding=1) == 8
    assert conv_output_size(8, 3, stride=2, padding=1) == 4
    with pytest.raises(ValueError, match="output_padding = 2 must be >= 0 and smaller than the stride"):
        conv_transpose_output_size(4, 3, stride=2, output_padding=2)
    with pytest.raises(TypeError, match="output_padding must be an int"):
        conv_transpose_output_size(4, 3, stride=2, output_padding=1.0)


@st.composite
def _conv_nd_calls(draw):
    ndim = draw(st.integers(2, 3))
    sizes = tuple(draw(st.lists(st.integers(1, 9), min_size=ndim, max_size=ndim)))

    def int_or_tuple(low, high):
        return st.one_of(
            st.integers(low, high),
            st.lists(st.integers(low, high), min_size=ndim, max_size=ndim).map(tuple),
        )

    kernel = draw(int_or_tuple(1, 4))
    stride = draw(int_or_tuple(1, 3))
    dilation = draw(int_or_tuple(1, 3))
    padding = draw(st.one_of(int_or_tuple(0, 3), st.sampled_from(["valid", "same"])))
    return ndim, sizes, kernel, stride, padding, dilation


@PROPERTY
@given(_conv_nd_calls())
def test_conv_output_shape_matches_torch_conv2d_conv3d_or_both_refuse(call):
    ndim, sizes, kernel, stride, padding, dilation = call
    kernel_shape = kernel if isinstance(kernel, tuple) else (kernel,) * ndim
    try:
        out = _torch_conv(ndim, sizes, kernel_shape, stride=stride, padding=padding, dilation=dilation)
    except RuntimeError:
        with pytest.raises(ValueError, match="no output position fits|padding='same' needs stride 1"):
            conv_output_shape(sizes, kernel, stride, padding, dilation)
    else:
        assert conv_output_shape(sizes, kernel, stride, padding, dilation) == tuple(out.shape[2:])


@PROPERTY
@given(
    ndim=st.integers(1, 3),
    groups=st.integers(1, 4),
    in_per_group=st.integers(1, 4),
    out_per_group=st.integers(1, 4),
    kernel=st.lists(st.integers(1, 5), min_size=3, max_size=3),
    bias=st.booleans(),
)
def test_conv_parameter_count_matches_torch_conv_modules(
    ndim, groups, in_per_group, out_per_group, kernel, bias
):
    c_in, c_out = groups * in_per_group, groups * out_per_group
    kernel_size = kernel[0] if ndim == 1 else tuple(kernel[:ndim])
    module_class = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[ndim - 1]
    # the meta device allocates nothing: only the parameter shapes exist
    module = module_class(c_in, c_out, kernel_size, groups=groups, bias=bias, device="meta")
    expected = sum(p.numel() for p in module.parameters())
    assert conv_parameter_count(c_in, c_out, kernel_size, groups=groups, bias=bias) == expected


@PROPERTY
@given(in_features=st.integers(1, 5000), out_features=st.integers(1, 5000), bias=st.booleans())
def test_dense_parameter_count_matches_torch_linear(in_features, out_features, bias):
    module = nn.Linear(in_features, out_features, bias=bias, device="meta")
    expected = sum(p.numel() for p in module.parameters())
    assert dense_parameter_count(in_features, out_features, bias=bias) == expected


@PROPERTY
@given(
    size=st.integers(1, 20),
    k=st.integers(1, 5),
    s=st.integers(1, 5),
    p=st.integers(0, 3),
    d=st.integers(1, 5),
)
def test_unread_positions_are_the_inputs_whose_gradient_is_exactly_zero(size, k, s, p, d):
    x = (torch.rand(1, 1, size, dtype=torch.float64) + 0.5).requires_grad_()
    weight = torch.ones(1, 1, k, dtype=torch.float64)
    try:
        y = F.conv1d(x, weight, stride=s, padding=p, dilation=d)
    except RuntimeError:
        with pytest.raises(ValueError):
            unread_positions(size, k, s, p, d)
        return
    y.sum().backward()
    zero_grad = torch.nonzero(x.grad[0, 0] == 0).flatten().tolist()
    assert unread_positions(size, k, s, p, d) == zero_grad


@PROPERTY
@given(
    size=st.integers(1, 20),
    k=st.integers(1, 5),
    s=st.integers(1, 5),
    p=st.integers(0, 3),
    d=st.integers(1, 5),
    pick=st.floats(0, 1, exclude_max=True),
)
def test_footprint_is_where_one_output_has_gradient_in_the_padded_input(size, k, s, p, d, pick):
    # Pad by hand so that padding cells are real tensor entries with a gradient.
    padded = (torch.rand(1, 1, size + 2 * p, dtype=torch.float64) + 0.5).requires_grad_()
    weight = torch.ones(1, 1, k, dtype=torch.float64)
    try:
        y = F.conv1d(padded, weight, stride=s, dilation=d)
    except RuntimeError:
        return  # no output position: nothing to have a footprint
    o = int(pick * y.shape[-1])
    y[0, 0, o].backward()
    grad = padded.grad[0, 0]
    touched = torch.nonzero(grad).flatten().tolist()
    assert footprint(o, k, s, p, d) == [i - p for i in touched]
    assert torch.all(grad[grad != 0] == 1)  # each tap reads a different cell


_layer = st.tuples(st.integers(1, 4), st.integers(1, 2), st.integers(1, 3))


@PROPERTY
@given(layers=st.lists(_layer, min_size=1, max_size=4))
def test_receptive_field_is_the_gradient_span_of_one_output_of_a_torch_stack(layers):
    # Largest stack drawn: spans of 10 cells and strides 2, so 1 + 9 * (1 + 2 + 4 + 8) = 136
    # cells plus a stride of 16 for a second output fit in 160.
    x = (torch.rand(1, 1, 160, dtype=torch.float64) + 0.5).requires_grad_()
    h = x
    for k, s, d in layers:
        h = F.conv1d(h, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=d)
    assert h.shape[-1] >= 2

    def span(output_index):
        (grad,) = torch.autograd.grad(h[0, 0, output_index], x, retain_graph=True)
        touched = torch.nonzero(grad[0, 0]).flatten()
        return int(touched.min()), int(touched.max())

    first, last = span(0)
    second, _ = span(1)
    assert first == 0
    assert receptive_field(layers) == ReceptiveField(size=last - first + 1, stride=second - first)


# ------------------------------------------------------------ multiply-adds (MACs)


def _torch_macs(input_shape, in_channels, out_channels, kernel_size, **kwargs) -> int:
    """Half the FLOPs torch's own counter reports for one F.conv1d/2d/3d call on one input."""
    from torch.utils.flop_counter import FlopCounterMode

    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[len(input_shape)]
    taps = kernel_size if isinstance(kernel_size, tuple) else (kernel_size,) * len(input_shape)
    groups = kwargs.get("groups", 1)
    x = torch.zeros(1, in_channels, *input_shape)
    w = torch.zeros(out_channels, in_channels // groups, *taps)
    with FlopCounterMode(display=False) as counter:
        conv(x, w, **kwargs)
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


def test_conv_multiply_adds_of_the_two_classic_layers():
    # 3 -> 3 channels, 3x3, 256x256, no padding: 254 * 254 positions * 3 * 3 * 9 weights,
    # and 256 -> 256, 3x3, 56x56, padding 1: 56 * 56 * 256 * 256 * 9 (both multiplied out by hand).
    assert conv_multiply_adds((256, 256), 3, 3, 3) == 254 * 254 * 81 == 5_225_796
    assert conv_multiply_adds((56, 56), 256, 256, 3, padding=1) == 1_849_688_064
    assert conv_parameter_count(256, 256, (3, 3)) == 590_080
    assert conv_multiply_adds((256, 256), 3, 3, 3) == _torch_macs((256, 256), 3, 3, 3)
    assert conv_multiply_adds((56, 56), 256, 256, 3, padding=1) == _torch_macs(
        (56, 56), 256, 256, 3, padding=1
    )


@pytest.mark.parametrize(
    "input_shape, c, d, kernel, kwargs",
    [
        ((10,), 4, 6, 3, {}),
        ((20,), 4, 6, 5, dict(stride=3, padding=2, dilation=2, groups=2)),
        ((10, 3), 4, 5, (2, 3), {}),
        ((28, 28), 8, 8, 3, dict(padding="same", groups=8)),
        ((9, 11), 6, 4, (3, 2), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)),
        ((4, 6, 5), 2, 3, (2, 3, 1), dict(stride=2)),
    ],
)
def test_conv_multiply_adds_is_half_of_torch_flop_counter(input_shape, c, d, kernel, kwargs):
    assert conv_multiply_adds(input_shape, c, d, kernel, **kwargs) == _torch_macs(
        input_shape, c, d, kernel, **kwargs
    )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(groups=4), ValueError, "divisible by groups"),
        (dict(kernel_size=30), ValueError, "does not fit|kernel"),
        (dict(kernel_size=2.0), TypeError, "kernel_size"),
        (dict(in_channels=0), ValueError, "in_channels"),
    ],
)
def test_conv_multiply_adds_names_the_bad_argument(kwargs, error, match):
    args = dict(input_shape=(10, 10), in_channels=6, out_channels=3, kernel_size=3) | kwargs
    with pytest.raises(error, match=match):
        conv_multiply_adds(**args)
