"""Tests of the sliding-window stepper: numbers against torch and the lecture, drawing, wiring."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from PIL import Image

from convkit.widgets._canvas import new_figure, png_bytes
from convkit.widgets.stepper import EXAMPLES, draw_stepper, stepper, stepper_state

LECTURE_1D = list(EXAMPLES)[0]
DERIVATIVE = list(EXAMPLES)[1]
GRID_2D = list(EXAMPLES)[2]


def _torch_conv(x, kernel, stride, padding, dilation) -> np.ndarray:
    conv = F.conv1d if np.ndim(x) == 1 else F.conv2d
    t = torch.tensor(np.asarray(x, dtype=np.float64))[None, None]
    k = torch.tensor(np.asarray(kernel, dtype=np.float64))[None, None]
    return conv(t, k, stride=stride, padding=padding, dilation=dilation)[0, 0].numpy()


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png))).astype(int)


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


@settings(max_examples=40, deadline=None)
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
    x = data.draw(st.lists(st.integers(-5, 5), min_size=int(np.prod(size)),
                           max_size=int(np.prod(size))))
    u = data.draw(st.lists(st.integers(-3, 3), min_size=int(np.prod(kshape)),
                           max_size=int(np.prod(kshape))))
    x, u = np.reshape(x, size), np.reshape(u, kshape)
    if any(n + 2 * padding < 1 + (k - 1) * dilation for n, k in zip(size, kshape)):
        with pytest.raises(ValueError, match="no output position fits"):
            stepper_state(x, u, stride=stride, padding=padding, dilation=dilation)
        return
    expected = _torch_conv(x, u, stride, padding, dilation)
    padded = np.pad(x, padding)
    for position in range(expected.size):
        state = stepper_state(x, u, stride=stride, padding=padding, dilation=dilation,
                              position=position)
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
        (dict(x=[1, 2, 3, 4], kernel=[3, 2], position=3), ValueError,
         r"position=3 is outside 0..2: the output of shape \(3,\) has 3 positions"),
        (dict(x=np.ones((3, 3)), kernel=[1, 1]), ValueError,
         r"kernel has shape \(2,\) but x has shape \(3, 3\): both must be 1d or both 2d"),
        (dict(x=np.ones((2, 2, 2)), kernel=np.ones((1, 1, 1))), ValueError,
         r"x must be a non-empty 1d \(W,\) or 2d \(H, W\) array, got shape \(2, 2, 2\)"),
        (dict(x=[1, 2, 3], kernel=[1], stride=0), ValueError, r"stride"),
        (dict(x=[1, 2, 3], kernel=[1], padding="same"), TypeError, r"padding must be an int"),
        (dict(x=[1, 2, 3], kernel=[1], position=0.5), TypeError, r"position must be an int"),
    ],
)
def test_stepper_state_names_the_bad_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        stepper_state(**kwargs)


# --------------------------------------------------------------------- draw_stepper


def test_draw_stepper_1d_shows_input_kernel_products_and_partial_output():
    fig = Figure()
    draw_stepper(stepper_state([1, 2, 3, 4], [3, 2], position=1), fig)
    ax_in, ax_kernel, ax_products, ax_out = fig.axes
    assert ax_kernel.get_title() == "kernel u placed for output 1"
    assert ax_products.get_title() == "products x·u: 6 + 6 = 12"
    assert ax_out.get_title() == "output x ⊛ u (3 positions)"
    assert (ax_products.get_xlabel(), ax_out.get_xlabel()) == ("input index", "output index")
    out = ax_out.images[0].get_array()
    np.testing.assert_array_equal(out[0, :2], [7, 12])
    assert np.ma.getmaskarray(out)[0, 2] or np.isnan(out[0, 2])
    assert [t.get_text() for t in ax_out.texts] == ["7", "12", ""]
    # The kernel sits on taps 1 and 2, elsewhere blank.
    assert [t.get_text() for t in ax_kernel.texts] == ["", "3", "2", ""]
    (taps,) = [p for p in ax_in.patches if p.get_gid() == "taps"]
    centres = [taps.get_path().contains_point((i, 0)) for i in range(4)]
    assert centres == [False, True, True, False]


def test_draw_stepper_1d_places_the_kernel_on_padding_cells():
    fig = Figure()
    draw_stepper(stepper_state([1, 2, 3], [5, 7], padding=1), fig)  # taps -1 and 0
    ax_in, ax_kernel, ax_products, _ = fig.axes
    assert [t.get_text() for t in ax_in.texts] == ["0", "1", "2", "3", "0"]
    assert [t.get_text() for t in ax_kernel.texts] == ["5", "7", "", "", ""]
    assert [t.get_text() for t in ax_products.texts] == ["0", "7", "", "", ""]
    assert ax_in.get_xlim() == (-1.5, 3.5)


def test_draw_stepper_2d_frames_the_window_and_the_current_output_cell():
    fig = Figure()
    draw_stepper(stepper_state(**EXAMPLES[GRID_2D], position=5), fig)  # output (1, 2)
    ax_in, ax_kernel, ax_products, ax_out = fig.axes
    assert ax_in.get_title() == "padded input, window of output (1, 2)"
    assert ax_products.get_title() == "products x·u, sum = -27"
    (window,) = [p for p in ax_in.patches if p.get_gid() == "window"]
    assert (window.get_x(), window.get_y(), window.get_width(), window.get_height()) == (
        2.5, -0.5, 3, 3
    )
    (current,) = [p for p in ax_out.patches if p.get_gid() == "current"]
    assert (current.get_x(), current.get_y()) == (1.5, 0.5)
    assert ax_in.get_xlim() == (-1.5, 5.5)  # padding columns at -1 and 5
    assert [t.get_text() for t in ax_out.texts] == ["2", "2", "-4", "21", "6", "-27", "", "",
                                                    ""]


def test_draw_stepper_reuses_its_axes_while_only_the_position_moves():
    fig = Figure()
    example = EXAMPLES[GRID_2D]
    draw_stepper(stepper_state(**example, position=0), fig)
    axes = list(fig.axes)
    draw_stepper(stepper_state(**example, position=8), fig)
    assert fig.axes == axes
    draw_stepper(stepper_state([1, 2, 3, 4], [3, 2]), fig)
    assert fig.axes != axes and len(fig.axes) == 4


def test_fast_rendering_matches_a_full_redraw():
    w = stepper()
    for example in (LECTURE_1D, GRID_2D):
        w.controls["example"].value = example
        for position in (1, 2):
            w.controls["position"].value = position
            fast = _pixels(w.image.value)
            full = _pixels(png_bytes(w.figure))
            assert fast.shape == full.shape
            # Only a few antialiased edge pixels may differ.
            assert (np.abs(fast - full).max(axis=-1) > 20).sum() < 20


# --------------------------------------------------------------------------- widget


def test_widget_steps_when_the_position_slider_moves():
    w = stepper()
    before = w.image.value
    assert "Output shape: <b>3</b>" in w.html.value
    w.controls["position"].value = 1
    assert w.image.value != before
    assert "2·3 + 3·2 = <b>12</b>" in w.html.value
    assert w.state.value == 12


def test_play_is_linked_to_the_position_and_its_range_follows_the_output():
    w = stepper()
    assert w.controls["play"].max == w.controls["position"].max == 2
    w.controls["play"].value = 2
    assert w.controls["position"].value == 2 and w.state.value == 17
    w.controls["example"].value = GRID_2D
    assert w.controls["play"].max == w.controls["position"].max == 8
    assert "Output shape: <b>3 × 3</b>" in w.html.value


def test_changing_stride_and_padding_changes_the_output_shape_in_the_widget():
    w = stepper()
    w.controls["example"].value = DERIVATIVE
    w.controls["padding_w"].value = 1
    assert "Output shape: <b>12</b>" in w.html.value
    w.controls["stride_w"].value = 3
    assert "Output shape: <b>4</b>" in w.html.value
    np.testing.assert_allclose(w.state.output,
                               _torch_conv(EXAMPLES[DERIVATIVE]["x"], [-1, 1], 3, 1, 1))


def test_impossible_setting_shows_a_message_and_the_widget_recovers():
    w = stepper()
    w.controls["dilation_w"].value = 4  # span 5 > 4 samples
    assert "No output" in w.html.value and "no output position fits" in w.html.value
    assert w.state is None
    w.controls["dilation_w"].value = 1
    assert "Output shape: <b>3</b>" in w.html.value


def test_widget_takes_your_own_input():
    w = stepper(np.arange(5.0), [1.0, -1.0], stride=2)
    assert w.controls["example"].value == "your input"
    np.testing.assert_array_equal(w.state.output, [-1, -1])
    with pytest.raises(ValueError, match="give both x and kernel"):
        stepper(np.arange(5.0))


def test_widget_figure_is_not_a_pyplot_figure():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    w = stepper()
    assert plt.get_fignums() == before
    assert isinstance(w.figure, Figure)
    assert new_figure(2, 2).canvas.get_width_height() == (144, 144)


def test_step_buttons_move_one_position_and_stop_at_the_ends():
    w = stepper()  # the lecture's (1, 2, 3, 4) ⊛ (3, 2): positions 0, 1, 2
    before = w.image.value
    w.controls["step"].click()
    assert w.controls["position"].value == 1
    assert w.state.value == 12  # 2*3 + 3*2, by hand
    assert w.image.value != before
    w.controls["step"].click()
    w.controls["step"].click()
    assert w.controls["position"].value == 2
    for _ in range(3):
        w.controls["back"].click()
    assert w.controls["position"].value == 0
