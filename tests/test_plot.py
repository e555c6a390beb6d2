"""Tests of convkit.plot: what the figures hold, checked against hand-computed and torch truths."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from convkit.plot import (
    FootprintCell,
    draw_footprint,
    draw_map,
    mark_peak,
    show_bank,
    show_channel_sum,
    show_curves,
    show_footprint,
    show_map,
    show_signal,
)


def _axes() -> plt.Axes:
    return Figure().subplots()


def _lines_with_markers(ax) -> list:
    return [line for line in ax.lines if line.get_marker() == "o"]


# ----------------------------------------------------------------------- draw_map


def test_draw_map_image_holds_the_values_and_rows_run_down():
    values = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    ax = _axes()
    image = draw_map(ax, values, title="a map")
    np.testing.assert_array_equal(image.get_array(), values)
    assert list(ax.images) == [image]
    assert ax.get_title() == "a map"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("column", "row")
    bottom, top = ax.get_ylim()
    assert bottom > top  # row 0 drawn at the top


def test_signed_map_limits_are_symmetric_about_zero_so_zero_is_white():
    image = draw_map(_axes(), np.array([[-1.0, 0.25], [4.0, 0.0]]))
    assert image.get_clim() == (-4.0, 4.0)
    assert image.get_cmap().name == "RdBu_r"
    # The middle of a diverging map is (nearly) white.
    assert np.all(np.asarray(image.to_rgba(0.0))[:3] > 0.95)


def test_signed_map_uses_a_given_vmax_on_both_sides():
    image = draw_map(_axes(), np.array([[-1.0, 0.25]]), vmax=10)
    assert image.get_clim() == (-10.0, 10.0)


def test_all_zero_signed_map_still_has_a_symmetric_range():
    low, high = draw_map(_axes(), np.zeros((3, 3))).get_clim()
    assert low == -high and high > 0


def test_unsigned_map_is_grey_from_min_to_max():
    image = draw_map(_axes(), np.array([[2.0, 5.0], [3.0, 4.0]]), signed=False)
    assert image.get_cmap().name == "gray"
    assert image.get_clim() == (2.0, 5.0)


def test_draw_map_accepts_a_tensor_that_requires_grad():
    weight = torch.tensor([[1.0, -1.0]], requires_grad=True)
    image = draw_map(_axes(), weight)
    np.testing.assert_array_equal(image.get_array(), [[1.0, -1.0]])


def test_draw_map_ignores_nan_cells_for_the_limits():
    image = draw_map(_axes(), np.array([[np.nan, -2.0], [1.0, np.nan]]))
    assert image.get_clim() == (-2.0, 2.0)


def test_second_draw_map_on_the_same_axes_replaces_the_first():
    ax = _axes()
    draw_map(ax, np.ones((2, 2)))
    image = draw_map(ax, -np.arange(12.0).reshape(3, 4))
    assert len(ax.images) == 1
    np.testing.assert_array_equal(image.get_array(), -np.arange(12.0).reshape(3, 4))
    assert image.get_clim() == (-11.0, 11.0)
    assert ax.get_xlim() == (-0.5, 3.5)


def test_draw_map_creates_no_figure():
    before = plt.get_fignums()
    draw_map(_axes(), np.ones((2, 2)))
    assert plt.get_fignums() == before


@pytest.mark.parametrize(
    "values, error, match",
    [
        (np.ones(3), ValueError, r"values2d must be a 2d array \(H, W\), got shape \(3,\)"),
        (np.ones((2, 2, 2)), ValueError, r"got shape \(2, 2, 2\)"),
        (np.ones((0, 3)), ValueError, r"must not be empty, got shape \(0, 3\)"),
        (np.array([["a"]]), TypeError, r"values2d must hold real numbers"),
    ],
)
def test_draw_map_rejects_what_is_not_a_2d_map(values, error, match):
    with pytest.raises(error, match=match):
        draw_map(_axes(), values)


def test_draw_map_rejects_a_non_positive_vmax_for_a_signed_map():
    with pytest.raises(ValueError, match=r"vmax must be > 0 .* got -1"):
        draw_map(_axes(), np.ones((2, 2)), vmax=-1)


# ----------------------------------------------------------------------- show_map


def test_show_map_returns_a_pyplot_figure_with_a_labelled_colorbar():
    values = np.array([[-3.0, 1.0], [2.0, 0.0]])
    fig = show_map(values, title="activation")
    assert fig.number in plt.get_fignums()  # shown inline by Jupyter
    image_ax, bar_ax = fig.axes
    np.testing.assert_array_equal(image_ax.images[0].get_array(), values)
    assert image_ax.get_title() == "activation"
    assert bar_ax.get_ylabel() == "value"
    assert image_ax.images[0].get_clim() == (-3.0, 3.0)


def test_show_map_without_colorbar_has_one_axes():
    fig = show_map(np.ones((4, 2)), signed=False, colorbar=False)
    assert len(fig.axes) == 1
    assert fig.axes[0].images[0].get_cmap().name == "gray"


# -------------------------------------------------------------------- show_signal


def test_show_signal_draws_the_lectures_example_on_one_index_axis():
    fig = show_signal([1, 2, 3, 4], kernel=[3, 2], title="lecture")
    x_ax, u_ax, y_ax = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["input x", "kernel u", "output x ⊛ u"]
    assert fig.get_suptitle() == "lecture"
    assert y_ax.get_xlabel() == "index i"
    for ax, expected in ((x_ax, [1, 2, 3, 4]), (u_ax, [3, 2]), (y_ax, [7, 12, 17])):
        (points,) = _lines_with_markers(ax)
        np.testing.assert_array_equal(points.get_xdata(), np.arange(len(expected)))
        np.testing.assert_array_equal(points.get_ydata(), expected)
    # Shared index axis: y_i sits under x_i.
    assert x_ax.get_shared_x_axes().joined(x_ax, y_ax)


def test_show_signal_computes_the_same_output_as_torch_conv1d():
    rng = np.random.default_rng(4)
    x, u = rng.standard_normal(11), rng.standard_normal(3)
    fig = show_signal(x, kernel=u)
    (points,) = _lines_with_markers(fig.axes[-1])
    expected = F.conv1d(torch.tensor(x)[None, None], torch.tensor(u)[None, None])[0, 0]
    np.testing.assert_allclose(points.get_ydata(), expected.numpy())


def test_show_signal_plots_a_given_output_without_kernel():
    fig = show_signal(np.arange(100.0), np.arange(99.0))
    assert len(fig.axes) == 2
    assert fig.axes[1].get_title() == "output y"


def test_show_signal_refuses_a_kernel_longer_than_the_signal():
    with pytest.raises(ValueError, match=r"kernel has 5 taps but x has only 4 samples"):
        show_signal([1, 2, 3, 4], kernel=np.ones(5))


def test_show_signal_refuses_a_2d_signal():
    with pytest.raises(ValueError, match=r"x must be a 1d array \(W,\), got shape \(2, 2\)"):
        show_signal(np.ones((2, 2)))


# ----------------------------------------------------------------------- show_bank


def test_show_bank_lays_out_rows_and_columns_with_labels():
    rng = np.random.default_rng(0)
    maps = rng.standard_normal((2, 3, 4, 5))
    fig = show_bank(maps, row_labels=["c0", "c1"], col_labels=["f0", "f1", "f2"], title="w")
    image_axes = [ax for ax in fig.axes if ax.images]
    assert len(image_axes) == 6
    assert len(fig.axes) == 12  # one colorbar per signed panel
    for index, ax in enumerate(image_axes):
        r, k = divmod(index, 3)
        np.testing.assert_array_equal(ax.images[0].get_array(), maps[r, k])
        low, high = ax.images[0].get_clim()
        assert low == -high == -np.abs(maps[r, k]).max()
    assert [ax.get_title() for ax in image_axes[:3]] == ["f0", "f1", "f2"]
    assert [image_axes[0].get_ylabel(), image_axes[3].get_ylabel()] == ["c0", "c1"]
    assert fig.get_suptitle() == "w"


def test_show_bank_colorbar_ticks_are_zero_and_each_panels_limits():
    maps = np.array([[[[0.5, -0.25], [0.0, 0.125]], [[-3.0, 1.0], [2.0, 0.0]]]])  # limits 0.5 and 3
    fig = show_bank(maps)
    fig.canvas.draw()
    bars = fig.axes[2:]
    assert [list(bar.get_yticks()) for bar in bars] == [[-0.5, 0.0, 0.5], [-3.0, 0.0, 3.0]]
    assert [t.get_text() for t in bars[1].get_yticklabels()] == ["\N{MINUS SIGN}3", "0", "3"]
    plt.close(fig)


@pytest.mark.parametrize("signed", [True, False])
def test_show_bank_panels_titles_and_colorbar_labels_never_overlap(signed):
    # show_bank places every axes by hand; small values give the widest tick labels ("-0.015"),
    # a two-line title the tallest header, and the row labels sit left of the first column.
    rng = np.random.default_rng(1)
    maps = 0.02 * rng.standard_normal((3, 4, 5, 7))
    fig = show_bank(
        maps,
        row_labels=["row 0", "row 1", "row 2"],
        col_labels=["two\nlines", "b", "c", "d"],
        title="a title above everything",
        signed=signed,
    )
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]  # with titles, labels and tick labels
    boxes.append(fig._suptitle.get_window_extent(renderer))
    assert len(boxes) == (24 if signed else 12) + 1
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            overlap_w = min(a.x1, b.x1) - max(a.x0, b.x0)
            overlap_h = min(a.y1, b.y1) - max(a.y0, b.y0)
            assert overlap_w <= 0 or overlap_h <= 0, (a, b)
    plt.close(fig)


def test_show_bank_shows_a_3d_stack_as_one_row_without_colorbars_when_unsigned():
    fig = show_bank(np.ones((4, 2, 2)), signed=False)
    assert len(fig.axes) == 4


def test_show_bank_draws_nonnegative_columns_in_grey_levels_beside_signed_ones():
    maps = np.stack(
        [np.full((2, 2), 3.0), np.array([[1.0, 0.0], [2.0, 3.0]]), np.array([[-1.0, 2.0], [0.0, 1.0]])]
    )
    fig = show_bank(maps, signed=[False, False, True])
    fig.canvas.draw()
    panels, bars = fig.axes[:3], fig.axes[3:]
    assert [ax.images[0].get_cmap().name for ax in panels] == ["gray", "gray", "RdBu_r"]
    # the grey panels run from their minimum to their maximum, the signed one is symmetric about zero
    assert [ax.images[0].get_clim() for ax in panels] == [(3.0, 4.0), (0.0, 3.0), (-2.0, 2.0)]
    assert [list(bar.get_yticks()) for bar in bars] == [[3.0, 4.0], [0.0, 3.0], [-2.0, 0.0, 2.0]]
    plt.close(fig)


def test_show_bank_refuses_a_signed_flag_per_column_of_the_wrong_length_or_type():
    with pytest.raises(ValueError, match=r"signed has 2 entries but maps \(1, 3, 2, 2\) has K=3"):
        show_bank(np.ones((1, 3, 2, 2)), signed=[True, False])
    with pytest.raises(TypeError, match="signed must hold bools"):
        show_bank(np.ones((1, 2, 2, 2)), signed=[1, 0])
    with pytest.raises(TypeError, match="signed must be a bool or a sequence of bools"):
        show_bank(np.ones((1, 2, 2, 2)), signed="yes")


def test_show_bank_checks_the_number_of_labels():
    with pytest.raises(ValueError, match=r"col_labels has 2 entries but maps \(1, 3, 2, 2\) has K=3"):
        show_bank(np.ones((1, 3, 2, 2)), col_labels=["a", "b"])
    with pytest.raises(ValueError, match=r"maps must be a non-empty array \(R, K, h, w\)"):
        show_bank(np.ones((2, 2)))


# ------------------------------------------------------------------ draw_footprint

P, T, Q, IN, U = (
    FootprintCell.PADDING,
    FootprintCell.TAP,
    FootprintCell.TAP_PADDING,
    FootprintCell.INPUT,
    FootprintCell.UNREAD,
)


def test_lecture_footprint_of_output_0_0_reads_padded_rows_minus2_to_0_and_cols_minus1_to_1():
    # C×3×5 input, padding (2, 1), stride (2, 2), kernel 3×3: by hand from the lecture's figure.
    ax = _axes()
    draw_footprint(ax, (4, 3, 5), 3, stride=(2, 2), padding=(2, 1))
    expected = np.array(
        [
            [Q, Q, Q, P, P, P, P],  # row -2
            [Q, Q, Q, P, P, P, P],  # row -1
            [Q, T, T, IN, IN, IN, P],  # row 0
            [P, IN, IN, IN, IN, IN, P],
            [P, IN, IN, IN, IN, IN, P],
            [P, P, P, P, P, P, P],  # row 3
            [P, P, P, P, P, P, P],  # row 4
        ]
    )
    np.testing.assert_array_equal(ax.images[0].get_array(), expected)
    # Cell centres sit at their unpadded indices: padding rows are negative.
    assert ax.get_xlim() == (-1.5, 5.5)
    assert ax.get_ylim() == (4.5, -2.5)
    assert list(ax.get_yticks()) == [-2, -1, 0, 1, 2, 3, 4]
    assert ax.get_title() == "output (0, 0) reads rows -2, -1, 0, columns -1, 0, 1"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("input column", "input row")


def test_lecture_footprint_of_the_last_output_cell():
    ax = _axes()
    draw_footprint(ax, (3, 5), 3, stride=2, padding=(2, 1), output_index=(2, 2))
    codes = ax.images[0].get_array()
    taps = np.argwhere(np.isin(codes, [T, Q]))
    # rows 2..4 and columns 3..5, i.e. padded indices 4..6 and 4..6
    assert {tuple(t) for t in taps} == {(r, c) for r in range(4, 7) for c in range(4, 7)}


def test_dilated_footprint_highlights_the_taps_but_not_the_cells_between_them():
    ax = _axes()
    draw_footprint(ax, (20, 30), 3, dilation=4, output_index=(1, 2))
    codes = ax.images[0].get_array()
    taps = {tuple(t) for t in np.argwhere(codes == T)}
    assert taps == {(r, c) for r in (1, 5, 9) for c in (2, 6, 10)}
    assert codes[1, 3] == codes[3, 2] == IN  # skipped, inside the window
    (window,) = [p for p in ax.patches if p.get_gid() == "window"]
    assert (window.get_x(), window.get_y(), window.get_width(), window.get_height()) == (1.5, 0.5, 9, 9)


def test_stride_leaves_last_row_and_column_unread_and_they_are_hatched():
    ax = _axes()
    draw_footprint(ax, (20, 20), 3, stride=2)
    codes = ax.images[0].get_array()
    assert set(np.argwhere(codes == U)[:, 0]) | set(np.argwhere(codes == U)[:, 1]) >= {19}
    assert np.all(codes[19, :] == U) and np.all(codes[:, 19] == U)
    assert not np.any(codes[:19, :19] == U)
    (hatch,) = [p for p in ax.patches if p.get_gid() == "unread"]
    assert hatch.get_visible() and hatch.get_hatch()
    path = hatch.get_path()
    assert path.contains_point((19, 0)) and path.contains_point((0, 19))
    assert not path.contains_point((18, 18))


def test_show_unread_false_marks_nothing():
    ax = _axes()
    draw_footprint(ax, (20, 20), 3, stride=2, show_unread=False)
    assert not np.any(ax.images[0].get_array() == U)
    (hatch,) = [p for p in ax.patches if p.get_gid() == "unread"]
    assert not hatch.get_visible()


# Each example draws a figure: an eighth of the profile's examples (37 in `ci`, 10 in `fast`).
@settings(max_examples=max(10, settings().max_examples // 8), deadline=None)
@given(
    size=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    pick=st.tuples(st.floats(0, 1, exclude_max=True), st.floats(0, 1, exclude_max=True)),
)
def test_footprint_cells_are_those_torch_differentiates(size, kernel, stride, padding, dilation, pick):
    (H, W), (ph, pw) = size, padding
    span = [1 + (k - 1) * d for k, d in zip(kernel, dilation)]
    if H + 2 * ph < span[0] or W + 2 * pw < span[1]:
        with pytest.raises(ValueError, match="along the"):
            draw_footprint(_axes(), size, kernel, stride=stride, padding=padding, dilation=dilation)
        return
    # Torch truth: the padded input cells that one output depends on, and the
    # real input cells that no output depends on.
    padded = torch.zeros(1, 1, H + 2 * ph, W + 2 * pw, requires_grad=True)
    y = F.conv2d(padded, torch.ones(1, 1, *kernel), stride=stride, dilation=dilation)
    out = tuple(int(p * n) for p, n in zip(pick, y.shape[2:]))
    y[0, 0][out].backward()
    read_by_cell = padded.grad[0, 0].numpy() != 0
    x = torch.zeros(1, 1, H, W, requires_grad=True)
    F.conv2d(x, torch.ones(1, 1, *kernel), stride=stride, padding=padding, dilation=dilation).sum().backward()
    never_read = x.grad[0, 0].numpy() == 0

    ax = _axes()
    draw_footprint(ax, size, kernel, stride=stride, padding=padding, dilation=dilation, output_index=out)
    codes = ax.images[0].get_array()
    np.testing.assert_array_equal(np.isin(codes, [T, Q]), read_by_cell)
    np.testing.assert_array_equal(codes[ph : ph + H, pw : pw + W] == U, never_read)
    is_padding = np.ones_like(read_by_cell)
    is_padding[ph : ph + H, pw : pw + W] = False
    np.testing.assert_array_equal(np.isin(codes, [P, Q]), is_padding)


def test_second_draw_footprint_on_the_same_axes_updates_it():
    ax = _axes()
    draw_footprint(ax, (3, 5), 3, stride=2, padding=(2, 1))
    patches = len(ax.patches)
    draw_footprint(ax, (20, 30), 3, dilation=4)
    assert len(ax.images) == 1 and len(ax.patches) == patches
    assert ax.images[0].get_array().shape == (20, 30)
    assert ax.get_xlim() == (-0.5, 29.5)


def test_draw_footprint_creates_no_figure():
    before = plt.get_fignums()
    draw_footprint(_axes(), (5, 5), 3)
    assert plt.get_fignums() == before


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(output_index=(3, 0)), r"output_index=\(3, 0\) is outside the output of shape \(3, 3\)"),
        (dict(kernel_size=8), r"along the rows: kernel_size=8 .* spans 8 cells"),
        (dict(stride=0), r"stride must be >= 1, got 0"),
        (dict(input_shape=(5,)), r"input_shape must be \(H, W\) or \(C, H, W\), got \(5,\)"),
    ],
)
def test_draw_footprint_names_the_bad_argument(kwargs, match):
    args = dict(input_shape=(3, 5), kernel_size=3, stride=2, padding=(2, 1)) | kwargs
    with pytest.raises(ValueError, match=match):
        draw_footprint(_axes(), args.pop("input_shape"), args.pop("kernel_size"), **args)


def test_draw_footprint_rejects_a_float_kernel():
    with pytest.raises(TypeError, match=r"kernel_size must be an int or a tuple of 2 ints"):
        draw_footprint(_axes(), (5, 5), 2.5)


def test_show_footprint_returns_a_labelled_figure_with_a_legend():
    fig = show_footprint((20, 30), 3, dilation=4, output_index=(1, 2))
    (ax,) = fig.axes
    assert ax.get_title() == "output (1, 2) reads rows 1, 5, 9, columns 2, 6, 10"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "padding (zeros)" in legend and "never read" in legend


# ------------------------------------------------------------- peaks and channel sums


def test_mark_peak_rings_the_argmax_of_a_hand_made_map():
    values = np.zeros((5, 7))
    values[3, 1] = 2.0
    values[0, 6] = 1.5
    ax = _axes()
    draw_map(ax, values)
    assert mark_peak(ax, values, label=None) == (3, 1)
    rings = [line for line in ax.lines if line.get_gid() == "convkit.peak"]
    assert len(rings) == 1
    # x is the column, y the row, as on the image.
    assert (rings[0].get_xdata()[0], rings[0].get_ydata()[0]) == (1, 3)
    assert len(ax.texts) == 0
    assert mark_peak(ax, values) == (3, 1)
    assert ax.texts[0].get_text() == "peak (3, 1)"


def test_mark_peak_rejects_a_map_that_is_not_2d():
    with pytest.raises(ValueError, match="values2d"):
        mark_peak(_axes(), np.zeros(4))


def test_show_channel_sum_adds_the_partial_maps_and_the_bias_like_conv2d():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 7))
    u = rng.standard_normal((3, 3, 3))
    bias = 0.25
    partials = np.stack(
        [
            F.conv2d(torch.tensor(x[c])[None, None], torch.tensor(u[c])[None, None])[0, 0].numpy()
            for c in range(3)
        ]
    )
    fig = show_channel_sum(partials, bias, channel_labels=["r", "g", "b"], title="sum")
    try:
        images = [ax.images[0] for ax in fig.axes if ax.images]
        assert len(images) == 4
        expected = F.conv2d(
            torch.tensor(x)[None], torch.tensor(u)[None], torch.tensor([bias], dtype=torch.float64)
        )[0, 0]
        np.testing.assert_allclose(images[-1].get_array(), expected.numpy(), atol=1e-12)
        for c in range(3):
            np.testing.assert_array_equal(images[c].get_array(), partials[c])
        # One colour scale for all panels, so the maps can be compared by eye.
        assert len({image.get_clim() for image in images}) == 1
        assert (
            fig.axes[0].get_title().startswith("r") and fig.axes[3].get_title() == "activation map (b = 0.25)"
        )
        assert fig._suptitle.get_text() == "sum"
    finally:
        plt.close(fig)


@pytest.mark.parametrize(
    "partials, kwargs, error, match",
    [
        (np.zeros((4, 4)), {}, ValueError, "partials"),
        (np.zeros((2, 4, 4)), dict(channel_labels=["a"]), ValueError, "channel_labels"),
        (np.zeros((2, 4, 4)), dict(bias="1"), TypeError, "bias"),
    ],
)
def test_show_channel_sum_names_the_bad_argument(partials, kwargs, error, match):
    with pytest.raises(error, match=match):
        show_channel_sum(partials, **kwargs)


def test_show_curves_draws_each_curve_with_its_label_and_values():
    fig = show_curves(
        {"reference": [2.0, 1.0, 0.5], "torch": np.array([2.0, 1.1, 0.4])}, title="losses", logy=True
    )
    try:
        ax = fig.axes[0]
        lines = ax.get_lines()
        assert [line.get_label() for line in lines] == ["reference", "torch"]
        np.testing.assert_array_equal(lines[1].get_ydata(), [2.0, 1.1, 0.4])
        np.testing.assert_array_equal(lines[0].get_xdata(), [0, 1, 2])
        # Different dash styles keep coinciding curves visible.
        assert lines[0].get_linestyle() != lines[1].get_linestyle()
        assert ax.get_yscale() == "log" and ax.get_title() == "losses" and ax.get_xlabel() == "step"
    finally:
        plt.close(fig)


@pytest.mark.parametrize(
    "curves, error, match",
    [
        ([1, 2, 3], TypeError, "dict"),
        ({}, ValueError, "at least one"),
        ({"a": [[1, 2]]}, ValueError, "curves\\['a'\\]"),
    ],
)
def test_show_curves_names_the_bad_argument(curves, error, match):
    with pytest.raises(error, match=match):
        show_curves(curves)
    plt.close("all")
