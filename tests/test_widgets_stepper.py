"""Tests of the sliding-window stepper: numbers against torch and the lecture, the JSON drawn, wiring."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from convkit.widgets.stepper import EXAMPLES, stepper, stepper_data, stepper_state

LECTURE_1D = list(EXAMPLES)[0]
DERIVATIVE = list(EXAMPLES)[1]
GRID_2D = list(EXAMPLES)[2]
CHANNELS = list(EXAMPLES)[3]


def _torch_conv(x, kernel, stride, padding, dilation) -> np.ndarray:
    conv = F.conv1d if np.ndim(x) == 1 else F.conv2d
    t = torch.tensor(np.asarray(x, dtype=np.float64))[None, None]
    k = torch.tensor(np.asarray(kernel, dtype=np.float64))[None, None]
    return conv(t, k, stride=stride, padding=padding, dilation=dilation)[0, 0].numpy()


def _torch_reads(n, k, stride, padding, dilation) -> list[list[int]]:
    """Per output index along one axis, the input indices it reads (padding: < 0 or >= n), by autograd."""
    padded = torch.zeros(1, 1, n + 2 * padding, requires_grad=True)
    y = F.conv1d(padded, torch.ones(1, 1, k), stride=stride, dilation=dilation)
    reads = []
    for o in range(y.shape[-1]):
        (grad,) = torch.autograd.grad(y[0, 0, o], padded, retain_graph=True)
        reads.append([int(i) - padding for i in np.nonzero(grad[0, 0].numpy())[0]])
    return reads


# -------------------------------------------------------------------- stepper_state


def test_lecture_example_steps_through_7_12_17():
    for position, (taps, products, value) in enumerate(
        [([0, 1], [3, 4], 7), ([1, 2], [6, 6], 12), ([2, 3], [9, 8], 17)]
    ):
        state = stepper_state([1, 2, 3, 4], [3, 2], position=position)
        assert state.taps == (taps,)
        np.testing.assert_array_equal(state.products, products)
        assert state.value == value
        np.testing.assert_array_equal(state.output, [7, 12, 17])
        assert state.output_shape == (3,) and state.positions == 3
    partial = stepper_state([1, 2, 3, 4], [3, 2], position=1).partial
    np.testing.assert_array_equal(partial[:2], [7, 12])
    assert np.isnan(partial[2])


def test_derivative_example_gives_the_lectures_output():
    example = EXAMPLES[DERIVATIVE]
    state = stepper_state(**example)
    np.testing.assert_array_equal(state.output, [0, 0, 0, 1, 1, 1, 1, 0, 0, 0])


def test_2d_example_matches_a_hand_computation():
    # x = 1..15 in a 3×5 grid, kernel (-1, 0, 1) on each row, padding (2, 1), stride (2, 2):
    # output column 0 keeps x[:, 1], column 1 gives x[:, 3] - x[:, 1] = 2 per real row,
    # column 2 gives -x[:, 3]; output row 0 sees input row 0, row 1 rows 0..2, row 2 row 2.
    example = EXAMPLES[GRID_2D]
    state = stepper_state(**example, position=3)
    np.testing.assert_array_equal(state.output, [[2, 2, -4], [21, 6, -27], [12, 2, -14]])
    assert state.output_index == (1, 0)
    assert state.taps == ([0, 1, 2], [-1, 0, 1])
    assert state.padded.shape == (7, 7)
    np.testing.assert_array_equal(state.window[:, 0], [0, 0, 0])  # the padding column
    assert state.value == 21


@given(
    data=st.data(),
    ndim=st.sampled_from([1, 2]),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 3),
)
def test_every_position_matches_torch(data, ndim, stride, padding, dilation):
    size = data.draw(st.tuples(*[st.integers(1, 7)] * ndim))
    kshape = data.draw(st.tuples(*[st.integers(1, 3)] * ndim))
    x = data.draw(st.lists(st.integers(-5, 5), min_size=int(np.prod(size)), max_size=int(np.prod(size))))
    u = data.draw(st.lists(st.integers(-3, 3), min_size=int(np.prod(kshape)), max_size=int(np.prod(kshape))))
    x, u = np.reshape(x, size), np.reshape(u, kshape)
    if any(n + 2 * padding < 1 + (k - 1) * dilation for n, k in zip(size, kshape)):
        with pytest.raises(ValueError, match="no output position fits"):
            stepper_state(x, u, stride=stride, padding=padding, dilation=dilation)
        return
    expected = _torch_conv(x, u, stride, padding, dilation)
    padded = np.pad(x, padding)
    for position in range(expected.size):
        state = stepper_state(x, u, stride=stride, padding=padding, dilation=dilation, position=position)
        index = np.unravel_index(position, expected.shape)
        np.testing.assert_allclose(state.output, expected)
        assert state.value == pytest.approx(expected[index])
        # The window holds what torch multiplies: padded input at o s + j d.
        rows = [np.arange(k) * dilation + o * stride for o, k in zip(index, kshape)]
        np.testing.assert_array_equal(state.window, padded[np.ix_(*rows)])
        done = np.arange(expected.size).reshape(expected.shape) <= position
        np.testing.assert_array_equal(np.isnan(state.partial), ~done)


def test_per_axis_settings_match_torch():
    x = np.arange(42.0).reshape(6, 7)
    u = np.array([[1.0, -2.0], [0.5, 3.0]])
    state = stepper_state(x, u, stride=(2, 1), padding=(1, 0), dilation=(1, 3))
    np.testing.assert_allclose(state.output, _torch_conv(x, u, (2, 1), (1, 0), (1, 3)))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(x=[1, 2], kernel=[1, 2, 3]), ValueError, r"no output position fits"),
        (
            dict(x=[1, 2, 3, 4], kernel=[3, 2], position=3),
            ValueError,
            r"position=3 is outside 0..2: the output of shape \(3,\) has 3 positions",
        ),
        (
            dict(x=np.ones((3, 3)), kernel=[1, 1]),
            ValueError,
            r"kernel has shape \(2,\) but x has shape \(3, 3\): both must be 1d or both 2d",
        ),
        (
            dict(x=np.ones((2, 2, 2)), kernel=np.ones((1, 1, 1))),
            ValueError,
            r"x must be a .*\(W,\) or \(H, W\).*got shape \(2, 2, 2\)",
        ),
        (
            dict(x=np.ones((2, 3, 3)), kernel=np.ones((3, 2, 2)), multichannel=True),
            ValueError,
            r"kernel has shape \(3, 2, 2\) but x has shape \(2, 3, 3\)",
        ),
        (dict(x=[1, 2, 3], kernel=[1], bias="1"), TypeError, r"bias must be a number"),
        (dict(x=[1, 2, 3], kernel=[1], stride=0), ValueError, r"stride"),
        (dict(x=[1, 2, 3], kernel=[1], padding="same"), TypeError, r"padding must be an int"),
        (dict(x=[1, 2, 3], kernel=[1], position=0.5), TypeError, r"position must be an int"),
    ],
)
def test_stepper_state_names_the_bad_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        stepper_state(**kwargs)


# ------------------------------------------------------------------- several channels


@given(
    data=st.data(),
    channels=st.integers(1, 3),
    stride=st.integers(1, 2),
    padding=st.integers(0, 1),
    bias=st.integers(-3, 3),
)
def test_partial_sums_per_channel_plus_bias_give_torchs_output(data, channels, stride, padding, bias):
    size = data.draw(st.tuples(st.integers(2, 5), st.integers(2, 5)))
    x = np.asarray(
        data.draw(
            st.lists(
                st.integers(-4, 4),
                min_size=channels * size[0] * size[1],
                max_size=channels * size[0] * size[1],
            )
        )
    ).reshape(channels, *size)
    u = np.asarray(
        data.draw(st.lists(st.integers(-2, 2), min_size=channels * 4, max_size=channels * 4))
    ).reshape(channels, 2, 2)
    double = torch.float64
    expected = F.conv2d(
        torch.tensor(x, dtype=double)[None],
        torch.tensor(u, dtype=double)[None],
        torch.tensor([float(bias)], dtype=double),
        stride=stride,
        padding=padding,
    )[0, 0]
    # Each channel alone, by torch: its partial sums, (C, H', W').
    alone = F.conv2d(  # groups = C: channel c of x with channel c of u
        torch.tensor(x, dtype=double)[None],
        torch.tensor(u, dtype=double)[:, None],
        stride=stride,
        padding=padding,
        groups=channels,
    )[0]
    # Every position as the browser gets it (stepper_data), and one drawn position's state.
    position = data.draw(st.integers(0, expected.numel() - 1))
    state = stepper_state(
        x, u, stride=stride, padding=padding, bias=bias, multichannel=True, position=position
    )
    shown = stepper_data(state)
    for k, partials in enumerate(shown["partials"]):
        index = np.unravel_index(k, expected.shape)
        np.testing.assert_allclose(partials, alone[(slice(None), *index)].numpy())
        assert sum(partials) + shown["bias"] == pytest.approx(float(expected[index]))
    np.testing.assert_allclose(state.partials, alone[(slice(None), *state.output_index)].numpy())
    assert state.value == pytest.approx(float(expected[state.output_index]))
    np.testing.assert_allclose(state.output, expected.numpy())


def test_channel_example_adds_three_partial_sums_and_the_bias_by_hand():
    state = stepper_state(**EXAMPLES[CHANNELS], position=0)
    # x[c, :2, :2] = [[0, 1], [4, 0]], [[1, 2], [0, 1]], [[2, 3], [1, 2]] (arange % 5)
    assert state.partials.tolist() == [0 - 0, 2 + 0, 2 + 3 - 1]
    assert state.value == 0 + 2 + 4 + 1


# --------------------------------------------------------------- the data the browser draws


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_data_holds_every_positions_products_and_partial_sums_as_stepper_state_does(name):
    example = EXAMPLES[name]
    first = stepper_state(**example)
    data = stepper_data(first)
    assert data["output_shape"][0] * data["output_shape"][1] == first.positions
    for position in range(first.positions):
        state = stepper_state(**example, position=position)
        products = np.asarray(data["products"][position])
        np.testing.assert_allclose(products.reshape(state.products.shape), state.products)
        np.testing.assert_allclose(data["partials"][position], state.partials)
        assert sum(data["partials"][position]) + data["bias"] == pytest.approx(state.value)
    # The browser lights these rows and columns: the padded cells torch's gradients reach.
    for axis, reads in enumerate(data["reads"][2 - first.ndim :]):
        n, k = first.x.shape[-first.ndim + axis], first.kernel.shape[-first.ndim + axis]
        s, p, d = first.stride[axis], first.padding[axis], first.dilation[axis]
        assert reads == _torch_reads(n, k, s, p, d)


# --------------------------------------------------------------------------- widget


def test_widget_moves_to_a_position_and_its_state_follows():
    w = stepper()
    assert w.data["output"] == [[7.0, 12.0, 17.0]]
    w.controls["position"].value = 1
    assert w.state.value == 12 and w.state.products.tolist() == [6.0, 6.0]  # 2·3 + 3·2
    assert (w.controls["position"].min, w.controls["position"].max) == (0, 2)


def test_choosing_an_example_loads_its_settings_and_starts_at_position_0():
    w = stepper()
    w.controls["position"].value = 2
    w.controls["example"].value = GRID_2D
    c = {name: w.controls[name].value for name in ("stride_h", "stride_w", "padding_h", "padding_w")}
    assert c == {"stride_h": 2, "stride_w": 2, "padding_h": 2, "padding_w": 1}
    assert w.controls["position"].value == 0 and w.state.output_shape == (3, 3)
    w.controls["example"].value = CHANNELS
    assert w.state.channels == 3 and w.data["channels"] == 3 and w.data["bias"] == 1.0


def test_changing_stride_and_padding_changes_the_output_shape_in_the_widget():
    w = stepper()
    w.controls["example"].value = DERIVATIVE
    w.controls["padding_w"].value = 1
    assert w.state.output_shape == (12,)
    w.controls["stride_w"].value = 3
    assert w.state.output_shape == (4,)
    np.testing.assert_allclose(w.state.output, _torch_conv(EXAMPLES[DERIVATIVE]["x"], [-1, 1], 3, 1, 1))


def test_a_new_stride_keeps_the_position_where_the_output_still_has_it_and_clamps_it_otherwise():
    w = stepper()
    w.controls["example"].value = GRID_2D  # 3 × 3 outputs
    w.controls["position"].value = 5
    w.controls["padding_w"].value = 2  # 3 × 4 outputs: position 5 is still there
    assert w.position == 5 and w.state.output_index == (1, 1)
    w.controls["stride_w"].value = 4  # 3 × 2 outputs: 5 is the last
    assert w.position == 5 and w.state.output_index == (2, 1)
    w.controls["stride_h"].value = 4  # 2 × 2 outputs: clamped to the last, 3
    assert w.position == 3 and w.state.output_index == (1, 1)


def test_a_state_computed_ahead_still_lands_at_the_position_moved_to_since():
    w = stepper()
    w.controls["example"].value = GRID_2D
    w.ahead("padding_w")  # computed at position 0
    w.controls["position"].value = 7
    w.controls["padding_w"].value = 2  # reuses a state computed ahead
    assert w.position == 7 and w.state.position == 7 and w.state.output_index == (1, 3)
    assert w.state.taps == ([0, 1, 2], [4, 5, 6])  # o s − p + j: 1·2 − 2 + j and 3·2 − 2 + j


def test_impossible_setting_shows_a_message_keeps_the_picture_and_recovers():
    w = stepper()
    good = w.data
    w.controls["dilation_w"].value = 4  # span 5 > 4 samples
    assert "no output position fits" in w.error and w.data == good
    w.controls["dilation_w"].value = 1
    assert w.error == "" and w.state.output_shape == (3,)


def test_widget_takes_your_own_input():
    w = stepper(np.arange(5.0), [1.0, -1.0], stride=2)
    assert w.controls["example"].value == "your input"
    np.testing.assert_array_equal(w.state.output, [-1, -1])
    with pytest.raises(ValueError, match="give both x and kernel"):
        stepper(np.arange(5.0))


def test_widget_takes_your_own_channels_and_bias():
    x, u = np.ones((2, 3, 3)), np.ones((2, 2, 2))
    w = stepper(x, u, bias=0.5, multichannel=True)
    assert w.state.partials.tolist() == [4.0, 4.0] and w.state.value == 8.5


def test_the_static_picture_shows_the_window_and_the_output_so_far():
    w = stepper()
    w.controls["position"].value = 1
    svg = w._repr_mimebundle_()[0]["image/svg+xml"]
    assert "y[1] = 12: position 1 of 0–2" in svg  # counted from 0, as y's index is
    assert svg.count("fill='#56B4E9'") == 2 and svg.count("fill='#cfe8dc'") == 2


def test_the_png_picture_lights_the_inputs_position_1_reads():
    w = stepper()
    w.controls["position"].value = 1  # reads x[1] and x[2]
    png = Image.open(io.BytesIO(base64.b64decode(w._repr_mimebundle_()[0]["image/png"])))
    # Input cells are 30 px wide from x = 8, one row from y = 26; sample each near its corner.
    colours = [png.getpixel((8 + 30 * k + 4, 26 + 4)) for k in range(4)]
    white, sky = (255, 255, 255), (0x56, 0xB4, 0xE9)
    assert colours == [white, sky, sky, white]
