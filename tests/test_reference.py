"""convkit.reference against torch, the lecture's worked numbers and hand-computed cases."""

from __future__ import annotations

import os
import select
import signal
import threading
from unittest.mock import patch

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_info, threadpool_limits

from convkit import reference as R
from convkit._args import per_axis

TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV = {1: R.conv1d, 2: R.conv2d, 3: R.conv3d}
LOOPS = {1: R.conv1d_loops, 2: R.conv2d_loops, 3: R.conv3d_loops}
BACKWARD = {1: R.conv1d_backward, 2: R.conv2d_backward, 3: R.conv3d_backward}
TOLERANCE = {np.float64: dict(rtol=1e-9, atol=1e-9), np.float32: dict(rtol=1e-4, atol=1e-4)}

# the number of examples comes from the hypothesis profile loaded in conftest.py
EXAMPLES = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------
# Random valid calls
# ---------------------------------------------------------------------------
@st.composite
def conv_calls(draw, nd: int, small: bool = False):
    """A call torch accepts: arrays plus keyword arguments, in float32 or float64."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    groups = draw(st.integers(1, 2 if small else 3))
    C = groups * draw(st.integers(1, 2 if small else 3))
    D = groups * draw(st.integers(1, 2 if small else 3))
    max_k = 2 if (small and nd == 3) else 3
    kernel = draw(st.tuples(*[st.integers(1, max_k)] * nd))
    dilation = draw(st.tuples(*[st.integers(1, 3)] * nd))
    padding_kind = draw(st.sampled_from(["int", "tuple", "same", "valid"]))
    if padding_kind == "same":
        stride = (1,) * nd
        padding = "same"
        pad = tuple(d * (k - 1) for k, d in zip(kernel, dilation))
    else:
        stride = draw(st.tuples(*[st.integers(1, 3)] * nd))
        if padding_kind == "int":
            padding = draw(st.integers(0, 2))
            pad = (2 * padding,) * nd
        elif padding_kind == "tuple":
            padding = draw(st.tuples(*[st.integers(0, 2)] * nd))
            pad = tuple(2 * p for p in padding)
        else:
            padding, pad = "valid", (0,) * nd
    extra = 2 if (small or nd == 3) else 5
    spatial = tuple(
        max(1, d * (k - 1) + 1 - p) + draw(st.integers(0, extra)) for k, d, p in zip(kernel, dilation, pad)
    )
    batched = draw(st.booleans())
    N = draw(st.integers(1, 2)) if batched else None
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(((N,) if batched else ()) + (C, *spatial)).astype(dtype)
    w = rng.standard_normal((D, C // groups, *kernel)).astype(dtype)
    b = rng.standard_normal(D).astype(dtype) if draw(st.booleans()) else None
    # plain ints where all entries agree, so both argument forms are exercised
    stride = stride[0] if len(set(stride)) == 1 and draw(st.booleans()) else stride
    dilation = dilation[0] if len(set(dilation)) == 1 and draw(st.booleans()) else dilation
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return x, w, b, kwargs


def _torch_forward_backward(nd, x, w, b, kwargs, grad_output=None):
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    yt = TORCH_CONV[nd](xt, wt, bt, **kwargs)
    if grad_output is None:
        return yt.detach().numpy()
    yt.backward(torch.tensor(grad_output))
    return (yt.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), None if b is None else bt.grad.numpy())


# ---------------------------------------------------------------------------
# Property-based agreement with torch
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("nd", [1, 2, 3])
@EXAMPLES
@given(data=st.data())
def test_conv_matches_torch_for_random_strided_padded_dilated_grouped_calls(nd, data):
    x, w, b, kwargs = data.draw(conv_calls(nd))
    with np.errstate(all="ignore"):
        expected = _torch_forward_backward(nd, x, w, b, kwargs)
    got = CONV[nd](x, w, b, **kwargs)
    assert got.shape == expected.shape
    assert got.dtype == x.dtype
    np.testing.assert_allclose(got, expected, **TOLERANCE[x.dtype.type])


@pytest.mark.parametrize("nd", [1, 2, 3])
@EXAMPLES
@given(data=st.data())
def test_conv_split_into_small_blocks_still_matches_torch(nd, data):
    # the vectorised routine copies windows a block of images, or of rows, at a time;
    # tiny blocks force several of each, including a short last one
    x, w, b, kwargs = data.draw(conv_calls(nd))
    block_bytes = data.draw(st.sampled_from([1, 200, 2_000, 20_000]))
    with patch.object(R, "_BLOCK_BYTES", block_bytes):
        got = CONV[nd](x, w, b, **kwargs)
    np.testing.assert_allclose(got, _torch_forward_backward(nd, x, w, b, kwargs), **TOLERANCE[x.dtype.type])


@pytest.mark.parametrize("nd", [1, 2, 3])
@EXAMPLES
@given(data=st.data())
def test_backward_matches_torch_autograd(nd, data):
    x, w, b, kwargs = data.draw(conv_calls(nd))
    rng = np.random.default_rng(0)
    out_shape = _torch_forward_backward(nd, x, w, b, kwargs).shape
    grad_output = rng.standard_normal(out_shape).astype(x.dtype)
    _, gx, gw, gb = _torch_forward_backward(nd, x, w, b, kwargs, grad_output)
    got_x, got_w, got_b = BACKWARD[nd](grad_output, x, w, **kwargs)
    tol = TOLERANCE[x.dtype.type]
    assert got_x.shape == x.shape and got_w.shape == w.shape
    np.testing.assert_allclose(got_x, gx, **tol)
    np.testing.assert_allclose(got_w, gw, **tol)
    if b is not None:
        np.testing.assert_allclose(got_b, gb, **tol)


@pytest.mark.parametrize("nd", [1, 2, 3])
@EXAMPLES
@given(data=st.data())
def test_loops_agree_with_torch_and_with_vectorised_version(nd, data):
    x, w, b, kwargs = data.draw(conv_calls(nd, small=True))
    got = LOOPS[nd](x, w, b, **kwargs)
    tol = TOLERANCE[x.dtype.type]
    np.testing.assert_allclose(got, _torch_forward_backward(nd, x, w, b, kwargs), **tol)
    np.testing.assert_allclose(got, CONV[nd](x, w, b, **kwargs), **tol)


# ---------------------------------------------------------------------------
# Refusals: the library refuses exactly the calls torch refuses
# ---------------------------------------------------------------------------
def _break(draw, nd, x, w, b, kwargs):
    """Apply one of the mistakes students make to a valid call (or none)."""
    mistake = draw(
        st.sampled_from(
            [
                "none",
                "input_dims",
                "weight_dims",
                "channels",
                "groups",
                "kernel_too_large",
                "stride",
                "dilation",
                "negative_padding",
                "same_with_stride",
                "bias_length",
                "padding_word",
                "tuple_length",
            ]
        )
    )
    kwargs = dict(kwargs)
    if mistake == "input_dims":
        x = x[(0,) * draw(st.integers(1, x.ndim - 1))] if draw(st.booleans()) else x[None, None]
    elif mistake == "weight_dims":
        w = w[0] if draw(st.booleans()) else w[None]
    elif mistake == "channels":
        w = np.concatenate([w, w], axis=1)
    elif mistake == "groups":
        kwargs["groups"] = draw(st.sampled_from([0, -1, w.shape[0] + 1]))
    elif mistake == "kernel_too_large":
        kwargs["dilation"] = 50
    elif mistake == "stride":
        kwargs["stride"] = draw(st.sampled_from([0, -1, (0,) * nd]))
    elif mistake == "dilation":
        kwargs["dilation"] = draw(st.sampled_from([0, -2]))
    elif mistake == "negative_padding":
        kwargs["padding"] = -1
    elif mistake == "same_with_stride":
        kwargs["padding"], kwargs["stride"] = "same", 2
    elif mistake == "bias_length":
        b = np.ones(w.shape[0] + draw(st.sampled_from([-1, 1]))).astype(x.dtype)
    elif mistake == "padding_word":
        kwargs["padding"] = "full"
    elif mistake == "tuple_length":
        kwargs["stride"] = (1,) * (nd + 1)
    return x, w, b, kwargs


@pytest.mark.parametrize("nd", [1, 2, 3])
@EXAMPLES
@given(data=st.data())
def test_library_refuses_exactly_the_calls_torch_refuses(nd, data):
    x, w, b, kwargs = _break(data.draw, nd, *data.draw(conv_calls(nd, small=True)))
    try:
        with np.errstate(all="ignore"):
            expected = TORCH_CONV[nd](
                torch.tensor(x), torch.tensor(w), None if b is None else torch.tensor(b), **kwargs
            )
        torch_refuses = False
    except (RuntimeError, ValueError, TypeError, IndexError):
        torch_refuses = True
    if torch_refuses:
        with pytest.raises((ValueError, TypeError)):
            CONV[nd](x, w, b, **kwargs)
    else:
        np.testing.assert_allclose(CONV[nd](x, w, b, **kwargs), expected.numpy(), **TOLERANCE[x.dtype.type])


# ---------------------------------------------------------------------------
# The lecture's worked examples
# ---------------------------------------------------------------------------
def test_lecture_example_1234_conv_32_gives_7_12_17():
    np.testing.assert_array_equal(R.vector_conv([1, 2, 3, 4], [3, 2]), [7, 12, 17])


def test_difference_kernel_detects_the_ramp_of_the_lecture():
    x = [0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4]
    np.testing.assert_array_equal(R.vector_conv(x, [-1, 1]), [0, 0, 0, 1, 1, 1, 1, 0, 0, 0])


def test_vector_conv_has_length_W_minus_w_plus_1_and_matches_torch_conv1d():
    rng = np.random.default_rng(1)
    x, u = rng.standard_normal(13), rng.standard_normal(4)
    got = R.vector_conv(x, u)
    assert got.shape == (13 - 4 + 1,)
    expected = F.conv1d(torch.tensor(x)[None, None], torch.tensor(u)[None, None])[0, 0]
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-12)


def test_numpy_convolve_flips_the_kernel_and_the_deep_learning_one_does_not():
    x, u = [1, 2, 3, 4], [3, 2]
    # by hand: 1*2 + 2*3 = 8, 2*2 + 3*3 = 13, 3*2 + 4*3 = 18
    np.testing.assert_array_equal(R.flipped_conv(x, u), [8, 13, 18])
    np.testing.assert_array_equal(R.flipped_conv(x, u), np.convolve(x, u, mode="valid"))
    assert not np.array_equal(R.flipped_conv(x, u), R.vector_conv(x, u))


def test_conv1d_gives_the_lecture_numbers_in_batched_form():
    x = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    np.testing.assert_array_equal(R.conv1d(x, np.array([[[3.0, 2.0]]])), [[[7, 12, 17]]])


def test_lecture_conv2d_shapes_117x4x10x3_with_5x4x2x3_kernels_give_117x5x9x1():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((117, 4, 10, 3)).astype(np.float32)
    w = rng.standard_normal((5, 4, 2, 3)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    assert R.conv2d(x, w, b).shape == (117, 5, 9, 1)


def test_lecture_padding_2_1_stride_2_2_on_3x5_gives_3x3():
    x = np.ones((1, 2, 3, 5))
    assert R.conv2d(x, np.ones((1, 2, 3, 3)), padding=(2, 1), stride=(2, 2)).shape == (1, 1, 3, 3)


def test_lecture_dilation_4_on_20x30_gives_12x22():
    assert R.conv2d(np.ones((1, 1, 20, 30)), np.ones((1, 1, 3, 3)), dilation=4).shape == (1, 1, 12, 22)


def test_lecture_filters_on_a_hand_made_image():
    # a 4x4 image that is 0 on the left half and 1 on the right half
    image = np.array([[[0.0, 0.0, 1.0, 1.0]] * 4])
    vertical_edges = np.array([[[[-1.0, 0.0, 1.0]] * 3]])  # the lecture's third kernel
    # each output sums three rows of (x[c+2] - x[c]) = 1 where the step lies inside the window
    np.testing.assert_array_equal(R.conv2d(image, vertical_edges), [[[3.0, 3.0], [3.0, 3.0]]])
    horizontal_edges = np.array([[[[-1.0, -1.0, -1.0], [0, 0, 0], [1.0, 1.0, 1.0]]]])
    np.testing.assert_array_equal(R.conv2d(image, horizontal_edges), np.zeros((1, 2, 2)))


def test_same_padding_with_even_kernel_adds_the_extra_zero_after():
    # x = (1, 2, 3, 4), kernel (1, 10): span 2, one zero, placed at the end -> x_i + 10 x_{i+1}
    y = R.conv1d(np.array([[1.0, 2.0, 3.0, 4.0]]), np.array([[[1.0, 10.0]]]), padding="same")
    np.testing.assert_array_equal(y, [[21.0, 32.0, 43.0, 4.0]])


def test_depthwise_conv2d_filters_each_channel_alone():
    x = np.stack([np.full((3, 3), 1.0), np.full((3, 3), 2.0)])  # two constant channels
    w = np.stack([np.ones((1, 2, 2)), -np.ones((1, 2, 2))])  # one kernel per channel
    y = R.conv2d(x, w, groups=2)
    np.testing.assert_array_equal(y, [np.full((2, 2), 4.0), np.full((2, 2), -8.0)])


def test_conv1d_backward_of_difference_kernel_by_hand():
    # y_i = x_{i+1} - x_i; with dL/dy = 1: dL/dx = (-1, 0, 0, 1), dL/dw = (sum x_0..2, sum x_1..3)
    x = np.array([[[0.0, 1.0, 2.0, 3.0]]])
    gx, gw, gb = R.conv1d_backward(np.ones((1, 1, 3)), x, np.array([[[-1.0, 1.0]]]))
    np.testing.assert_array_equal(gx, [[[-1, 0, 0, 1]]])
    np.testing.assert_array_equal(gw, [[[3, 6]]])
    np.testing.assert_array_equal(gb, [3])


def test_stride_leaves_the_last_input_column_without_gradient():
    x = np.ones((1, 1, 6))
    gx, _, _ = R.conv1d_backward(np.ones((1, 1, 2)), x, np.ones((1, 1, 3)), stride=2)
    # windows start at 0 and 2, covering 0..4: position 5 is never read
    np.testing.assert_array_equal(gx, [[[1, 1, 2, 1, 1, 0]]])


def test_torch_tensors_are_accepted_as_input():
    y = R.conv1d(torch.tensor([[1.0, 2.0, 3.0, 4.0]]), torch.tensor([[[3.0, 2.0]]]))
    np.testing.assert_array_equal(y, [[7, 12, 17]])


# ---------------------------------------------------------------------------
# Error messages, by content
# ---------------------------------------------------------------------------
X = np.ones((117, 4, 10, 3))
W = np.ones((5, 4, 2, 3))


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda: R.conv2d(X[0, 0], W), ValueError, r"input must have 3 dims .* got shape \(10, 3\)"),
        (lambda: R.conv2d(X, W[0]), ValueError, r"weight must have 4 dims .* got shape \(4, 2, 3\)"),
        (
            lambda: R.conv2d(X, np.ones((5, 3, 2, 3))),
            ValueError,
            r"weight expects 3 input channels .* but input has 4 .*\(117, 4, 10, 3\).*\(5, 3, 2, 3\)",
        ),
        (lambda: R.conv2d(X, W, groups=2), ValueError, r"groups=2 must divide the 5 output channels"),
        (
            lambda: R.conv2d(np.ones((1, 3, 5, 5)), np.ones((2, 1, 3, 3)), groups=2),
            ValueError,
            r"weight expects 2 input channels \(1 per group x groups=2\) but input has 3",
        ),
        (
            lambda: R.conv2d(X, np.ones((5, 4, 11, 3))),
            ValueError,
            r"kernel_size=11 .* spans 11 cells but the padded input has only 10 \(size=10, padding=0\) along axis 0"
            r".*\(117, 4, 10, 3\).*\(5, 4, 11, 3\)",
        ),
        (
            lambda: R.conv2d(X, W, dilation=(1, 2)),
            ValueError,
            r"kernel_size=3 with dilation=2 spans 5 cells but the padded input has only 3 \(size=3, padding=0\) along axis 1",
        ),
        (lambda: R.conv2d(X, W, stride=0), ValueError, r"stride must be >= 1, got 0"),
        (lambda: R.conv2d(X, W, stride=(1, -1)), ValueError, r"stride\[1\] must be >= 1, got -1"),
        (lambda: R.conv2d(X, W, dilation=0), ValueError, r"dilation must be >= 1, got 0"),
        (lambda: R.conv2d(X, W, padding=-1), ValueError, r"padding must be >= 0, got -1"),
        (
            lambda: R.conv2d(X, W, padding="same", stride=2),
            ValueError,
            r"padding='same' needs stride 1 on every axis, as in torch, got stride=\(2, 2\)",
        ),
        (
            lambda: R.conv2d(X, W, padding="full"),
            ValueError,
            r"padding must be an int, a tuple, 'valid' or 'same', got 'full'",
        ),
        (
            lambda: R.conv2d(X, W, np.ones(4)),
            ValueError,
            r"bias must have shape \(5,\), one value per output channel, got shape \(4,\)",
        ),
        (lambda: R.conv2d(X, W, stride=(1, 1, 1)), ValueError, r"stride must be an int or a tuple of 2 ints"),
        (
            lambda: R.conv2d(X, W, stride=1.5),
            TypeError,
            r"stride must be an int or a tuple of 2 ints, got 1.5",
        ),
        (lambda: R.conv2d(X, W, groups=0), ValueError, r"groups must be >= 1, got 0"),
        (
            lambda: R.conv2d(np.full(X.shape, "a"), W),
            TypeError,
            r"input must hold real numbers, got dtype <U1",
        ),
        (
            lambda: R.conv2d(X.astype(int), W),
            TypeError,
            r"input must be a floating-point array .* got dtype int64",
        ),
        (
            lambda: R.conv2d(X.astype(np.float32), W),
            TypeError,
            r"input dtype float32 and weight dtype float64 differ",
        ),
        (
            lambda: R.conv2d_backward(np.ones((117, 5, 9, 2)), X, W),
            ValueError,
            r"grad_output must have the output's shape \(117, 5, 9, 1\), got \(117, 5, 9, 2\)",
        ),
        (
            lambda: R.vector_conv([1, 2], [1, 2, 3]),
            ValueError,
            r"kernel u \(width 3\) is wider than signal x \(length 2\)",
        ),
        (
            lambda: R.vector_conv([[1, 2]], [1]),
            ValueError,
            r"x must be a 1d array \(W,\), got shape \(1, 2\)",
        ),
        (lambda: R.vector_conv(["a", "b"], [1]), TypeError, r"x must hold real numbers"),
    ],
)
def test_bad_calls_raise_errors_that_name_the_argument_and_shapes(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_loops_version_refuses_the_same_bad_call_with_the_same_message():
    with pytest.raises(ValueError, match="weight expects 3 input channels"):
        R.conv2d_loops(X[:1], np.ones((5, 3, 2, 3)))


# ---------------------------------------------------------------------------
# The fast paths: threads, blocks, strided inputs, and the readable backward
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("nd", [1, 2, 3])
@EXAMPLES
@given(data=st.data())
def test_block_by_block_backward_equals_each_gradient_as_a_convolution(nd, data):
    # conv*_backward runs on the forward's windows; _conv_backward is the form notebook 07 explains
    x, w, _, kwargs = data.draw(conv_calls(nd))
    grad_output = np.random.default_rng(1).standard_normal(CONV[nd](x, w, **kwargs).shape).astype(x.dtype)
    block_bytes = data.draw(st.sampled_from([1, 2_000, 1 << 20]))
    with patch.object(R, "_BLOCK_BYTES", block_bytes):
        fast = BACKWARD[nd](grad_output, x, w, **kwargs)
    readable = R._conv_backward(
        nd, grad_output, x, w, kwargs["stride"], kwargs["padding"], kwargs["dilation"], kwargs["groups"]
    )
    for got, expected in zip(fast, readable):
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, **TOLERANCE[x.dtype.type])


@pytest.mark.parametrize("nd", [1, 2, 3])
@EXAMPLES
@given(data=st.data())
def test_calls_split_across_threads_match_torch_forward_and_backward(nd, data):
    # tiny blocks and three cores: the blocks are shared out to three threads, which
    # split images, or rows of one image, between them
    x, w, b, kwargs = data.draw(conv_calls(nd))
    grad_output = np.random.default_rng(2).standard_normal(CONV[nd](x, w, **kwargs).shape).astype(x.dtype)
    with (
        patch.object(R, "_BLOCK_BYTES", data.draw(st.sampled_from([1, 200, 2_000]))),
        patch.object(R, "_cores", lambda: 3),
    ):
        y = CONV[nd](x, w, b, **kwargs)
        gx, gw, gb = BACKWARD[nd](grad_output, x, w, **kwargs)
    expected = _torch_forward_backward(
        nd, x, w, b if b is not None else np.zeros(w.shape[0], x.dtype), kwargs, grad_output
    )
    tol = TOLERANCE[x.dtype.type]
    for got, truth in zip((y, gx, gw, gb), expected):
        np.testing.assert_allclose(got, truth, **tol)


def test_a_large_batch_runs_on_several_threads_and_matches_torch():
    # 64 images of 16 channels are several cache-sized blocks: the default path shares them out
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 16, 28, 28)).astype(np.float32)
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    grad_output = rng.standard_normal((64, 32, 14, 14)).astype(np.float32)
    kwargs = dict(stride=2, padding=1, dilation=1, groups=1)
    assert len(R._blocks(64, (14, 14), w, groups=1)) >= 3
    threads = set()
    original = R._columns

    def watched(call, blocks):
        threads.add(threading.get_ident())
        yield from original(call, blocks)

    with patch.object(R, "_cores", lambda: 2), patch.object(R, "_columns", watched):
        y = R.conv2d(x, w, b, **kwargs)
        gx, gw, gb = R.conv2d_backward(grad_output, x, w, **kwargs)
    assert len(threads) == 2
    for got, truth in zip((y, gx, gw, gb), _torch_forward_backward(2, x, w, b, kwargs, grad_output)):
        np.testing.assert_allclose(got, truth, rtol=1e-3, atol=1e-3)


def test_one_blas_thread_keeps_every_block_on_the_calling_thread():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 16, 28, 28)).astype(np.float32)
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    threads = set()
    original = R._columns

    def watched(call, blocks):
        threads.add(threading.get_ident())
        yield from original(call, blocks)

    with threadpool_limits(1, user_api="blas"), patch.object(R, "_columns", watched):
        R.conv2d(x, w, padding=1)
        R.conv2d_backward(np.ones((64, 32, 28, 28), np.float32), x, w, padding=1)
    assert threads == {threading.get_ident()}


def test_threads_leave_numpy_blas_with_the_threads_it_had():
    before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    x = np.ones((64, 16, 28, 28), np.float32)
    with patch.object(R, "_cores", lambda: 2):
        R.conv2d(x, np.ones((32, 16, 3, 3), np.float32))
    assert [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"] == before


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_strided_and_transposed_inputs_give_torch_values_and_gradients(nd):
    # views that are not contiguous: every other image, channel and column, and a swapped weight
    rng = np.random.default_rng(5)
    spatial = (13, 11, 9)[:nd]
    x = rng.standard_normal((6, 8, *spatial)).astype(np.float64)[::2, ::2]
    w = np.swapaxes(rng.standard_normal((4, 3, *(3,) * nd)), 0, 1)  # (3, 4, 3 ...): D=3, C=4
    b = rng.standard_normal(6)[::2]
    kwargs = dict(stride=2, padding=1, dilation=1, groups=1)
    grad_output = rng.standard_normal(
        TORCH_CONV[nd](torch.tensor(x), torch.tensor(w), stride=2, padding=1).shape
    )
    grad_output = np.swapaxes(np.swapaxes(grad_output, 0, 1).copy(), 0, 1)  # same values, other strides
    assert not (x.flags.c_contiguous or w.flags.c_contiguous or grad_output.flags.c_contiguous)
    with patch.object(R, "_BLOCK_BYTES", 500), patch.object(R, "_cores", lambda: 2):
        got = (CONV[nd](x, w, b, **kwargs), *BACKWARD[nd](grad_output, x, w, **kwargs))
    for value, truth in zip(got, _torch_forward_backward(nd, x, w, b, kwargs, grad_output)):
        np.testing.assert_allclose(value, truth, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------------------
# The transposed convolution
# ---------------------------------------------------------------------------
TORCH_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
TRANSPOSE = {1: R.conv_transpose1d, 2: R.conv_transpose2d, 3: R.conv_transpose3d}


@st.composite
def transpose_calls(draw, nd: int):
    """A call ``F.conv_transpose{nd}d`` accepts: arrays plus keyword arguments."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    groups = draw(st.integers(1, 3))
    C, Dg = groups * draw(st.integers(1, 3)), draw(st.integers(1, 3))
    axes = [st.integers(1, 3)] * nd
    kernel, stride, dilation = (draw(st.tuples(*axes)) for _ in range(3))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    spatial = draw(st.tuples(*[st.integers(1, 4 if nd == 3 else 6)] * nd))
    # padding crops at most what leaves one cell on each axis
    padding = tuple(
        draw(st.integers(0, max(0, ((n - 1) * s + d * (k - 1) + op) // 2)))
        for n, k, s, d, op in zip(spatial, kernel, stride, dilation, output_padding)
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    batch = (draw(st.integers(1, 2)),) if draw(st.booleans()) else ()
    x = rng.standard_normal(batch + (C, *spatial)).astype(dtype)
    w = rng.standard_normal((C, Dg, *kernel)).astype(dtype)
    b = rng.standard_normal(Dg * groups).astype(dtype) if draw(st.booleans()) else None
    kwargs = dict(
        stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation
    )
    return x, w, b, kwargs


def _torch_transpose(nd, x, w, b, kwargs):
    bt = None if b is None else torch.tensor(b)
    return TORCH_TRANSPOSE[nd](torch.tensor(x), torch.tensor(w), bt, **kwargs).numpy()


@pytest.mark.parametrize("nd", [1, 2, 3])
@EXAMPLES
@given(data=st.data())
def test_conv_transpose_matches_torch_for_random_strided_padded_dilated_grouped_calls(nd, data):
    x, w, b, kwargs = data.draw(transpose_calls(nd))
    expected = _torch_transpose(nd, x, w, b, kwargs)
    # also cut into tiny blocks shared out to three threads
    split = data.draw(st.booleans())
    with (
        patch.object(R, "_BLOCK_BYTES", 200 if split else R._BLOCK_BYTES),
        patch.object(R, "_cores", lambda: 3),
    ):
        got = TRANSPOSE[nd](x, w, b, **kwargs)
    assert got.shape == expected.shape and got.dtype == x.dtype
    np.testing.assert_allclose(got, expected, **TOLERANCE[x.dtype.type])


@pytest.mark.parametrize("nd", [1, 2, 3])
@EXAMPLES
@given(data=st.data())
def test_input_gradient_is_the_transposed_convolution_of_the_output_gradient(nd, data):
    x, w, _, kwargs = data.draw(conv_calls(nd))
    assume(not isinstance(kwargs["padding"], str))
    grad_output = np.random.default_rng(6).standard_normal(CONV[nd](x, w, **kwargs).shape).astype(x.dtype)
    stride, padding, dilation = (per_axis(kwargs[k], k, nd) for k in ("stride", "padding", "dilation"))
    # the last cells no window reaches: output_padding gives them back to the transposed convolution
    unreached = tuple(
        (n + 2 * p - d * (k - 1) - 1) % s
        for n, p, d, k, s in zip(x.shape[-nd:], padding, dilation, w.shape[2:], stride)
    )
    transposed = TRANSPOSE[nd](
        grad_output,
        w,
        stride=stride,
        padding=padding,
        output_padding=unreached,
        dilation=dilation,
        groups=kwargs["groups"],
    )
    _, gx, _, _ = _torch_forward_backward(nd, x, w, None, kwargs, grad_output)
    np.testing.assert_allclose(transposed, gx, **TOLERANCE[x.dtype.type])
    np.testing.assert_allclose(
        transposed, BACKWARD[nd](grad_output, x, w, **kwargs)[0], **TOLERANCE[x.dtype.type]
    )


@pytest.mark.parametrize("nd", [1, 2, 3])
@EXAMPLES
@given(data=st.data())
def test_conv_transpose_refuses_exactly_the_calls_torch_refuses(nd, data):
    x, w, b, kwargs = data.draw(transpose_calls(nd))
    mistake = data.draw(
        st.sampled_from(
            [
                "none",
                "input_dims",
                "weight_dims",
                "channels",
                "groups",
                "stride",
                "dilation",
                "negative_padding",
                "crop_everything",
                "output_padding",
                "padding_word",
                "bias_length",
                "tuple_length",
                "dtype",
            ]
        )
    )
    kwargs = dict(kwargs)
    if mistake == "input_dims":
        x = x[None, None]
    elif mistake == "weight_dims":
        w = w[0]
    elif mistake == "channels":
        w = np.concatenate([w, w], axis=0)
    elif mistake == "groups":
        kwargs["groups"] = data.draw(st.sampled_from([0, -1, w.shape[0] + 1]))
    elif mistake == "stride":
        kwargs["stride"] = data.draw(st.sampled_from([0, -1]))
    elif mistake == "dilation":
        kwargs["dilation"] = -1  # (torch lets dilation=0 through with a 1 x 1 kernel; convkit refuses it)
    elif mistake == "negative_padding":
        kwargs["padding"] = -1
    elif mistake == "crop_everything":
        kwargs["padding"] = 50
    elif mistake == "output_padding":
        kwargs["output_padding"] = data.draw(st.sampled_from([-1, 4]))
    elif mistake == "padding_word":
        kwargs["padding"] = "same"
    elif mistake == "bias_length":
        b = np.ones(w.shape[1] * kwargs["groups"] + 1, x.dtype)
    elif mistake == "tuple_length":
        kwargs["stride"] = (1,) * (nd + 1)
    elif mistake == "dtype":
        w = w.astype(np.float16)
    try:
        expected = _torch_transpose(nd, x, w, b, kwargs)
        torch_refuses = False
    except (RuntimeError, ValueError, TypeError, IndexError):
        torch_refuses = True
    if torch_refuses:
        with pytest.raises((ValueError, TypeError)):
            TRANSPOSE[nd](x, w, b, **kwargs)
    else:
        np.testing.assert_allclose(TRANSPOSE[nd](x, w, b, **kwargs), expected, **TOLERANCE[x.dtype.type])


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (
            lambda: R.conv_transpose2d(np.ones((1, 4, 5, 5)), np.ones((4, 3, 3, 3)), groups=3),
            ValueError,
            r"groups=3 must divide the 4 input channels of weight",
        ),
        (
            lambda: R.conv_transpose2d(np.ones((1, 5, 5, 5)), np.ones((4, 3, 3, 3))),
            ValueError,
            r"weight expects 4 input channels but input has 5 \(input shape \(1, 5, 5, 5\), weight shape \(4, 3, 3, 3\)\)",
        ),
        (
            lambda: R.conv_transpose2d(
                np.ones((1, 4, 5, 5)), np.ones((4, 3, 3, 3)), stride=2, output_padding=2
            ),
            ValueError,
            r"output_padding.* = 2 must be >= 0 and smaller than the stride \(2\) or the dilation \(1\)",
        ),
        (
            lambda: R.conv_transpose2d(np.ones((1, 4, 5, 5)), np.ones((4, 3, 3, 3)), padding=4),
            ValueError,
            r"padding.* = 4 crops the whole output.* along axis 0",
        ),
        (
            lambda: R.conv_transpose2d(np.ones((1, 4, 5, 5)), np.ones((4, 3, 3, 3)), padding="same"),
            TypeError,
            r"padding must be an int or a tuple of 2 ints, got 'same'",
        ),
        (
            lambda: R.conv_transpose2d(np.ones((1, 4, 5, 5)), np.ones((4, 3, 3, 3)), np.ones(4)),
            ValueError,
            r"bias must have shape \(3,\), one value per output channel, got shape \(4,\)",
        ),
        (
            lambda: R.conv_transpose1d(np.ones((1, 4, 5, 5)), np.ones((4, 3, 3))),
            ValueError,
            r"input must have 2 dims \(unbatched\) or 3 dims \(batched\) for a 1d transposed convolution",
        ),
        (
            lambda: R.conv_transpose2d(np.ones((1, 4, 5, 5)), np.ones((4, 3, 3))),
            ValueError,
            r"weight must have 4 dims \(C, D/groups, \*kernel\) for a 2d transposed convolution",
        ),
    ],
)
def test_bad_transposed_calls_raise_errors_that_name_the_argument(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_stride_2_transposed_convolution_stamps_the_kernel_by_hand():
    # x = (1, 2), kernel (1, 10, 100), stride 2: 1 stamps at 0..2, 2 stamps at 2..4, overlapping at 2
    y = R.conv_transpose1d(np.array([[[1.0, 2.0]]]), np.array([[[1.0, 10.0, 100.0]]]), stride=2)
    np.testing.assert_array_equal(y, [[[1, 10, 102, 20, 200]]])


def test_a_forked_child_shares_blocks_out_to_threads_of_its_own():
    # the parent's pool threads do not survive a fork: the child must not wait for them
    x = np.random.default_rng(7).standard_normal((64, 16, 28, 28)).astype(np.float32)
    w = np.random.default_rng(8).standard_normal((32, 16, 3, 3)).astype(np.float32)
    with patch.object(R, "_cores", lambda: 2):
        expected = R.conv2d(x, w)  # starts the parent's pool
        read, write = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            try:
                os.write(write, R.conv2d(x, w).tobytes()[:4000])
            finally:
                os._exit(0)
    os.close(write)
    ready, _, _ = select.select([read], [], [], 60)
    if not ready:
        os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    assert ready, "the forked child never finished its convolution"
    got = np.frombuffer(os.read(read, 4000), np.float32)
    os.close(read)
    np.testing.assert_array_equal(got, expected.ravel()[:1000])
