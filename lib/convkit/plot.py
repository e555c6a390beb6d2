"""Figures of the course: activation maps, 1d signals, filter banks and kernel footprints.

Two kinds of functions live here:

* axes-level ``draw_*`` functions draw on an ``Axes`` you pass in and never
  create a figure, so widgets can redraw into a figure they keep;
* figure-level ``show_*`` functions create a figure with ``plt.subplots`` (so
  Jupyter shows it inline) and return it.

Signed maps (weights, activations, gradients) use the diverging colormap
``'RdBu_r'`` with limits symmetric about zero, so zero is white, positive red
and negative blue; non-negative images use ``'gray'``.
"""

from __future__ import annotations

import enum
import weakref
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path
from matplotlib.ticker import MaxNLocator

from convkit import shapes
from convkit._args import as_array, per_axis

__all__ = [
    "FootprintCell",
    "draw_map",
    "show_map",
    "show_signal",
    "show_bank",
    "mark_peak",
    "show_channel_sum",
    "show_curves",
    "draw_footprint",
    "show_footprint",
]

_SIGNED_CMAP = "RdBu_r"
_UNSIGNED_CMAP = "gray"
# Marks the images draw_map owns, so a second call on the same axes updates
# that image instead of stacking a new one on top (widgets redraw a lot).
_MAP_GID = "convkit.draw_map"


def _color_limits(values: np.ndarray, signed: bool, vmax: float | None) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if signed:
        if vmax is None:
            vmax = float(np.max(np.abs(finite))) if finite.size else 0.0
        # An all-zero map still needs a non-empty range; any symmetric one keeps 0 white.
        limit = float(vmax) if vmax > 0 else 1.0
        return -limit, limit
    low = float(finite.min()) if finite.size else 0.0
    high = float(finite.max()) if vmax is None and finite.size else float(vmax or 0.0)
    if high <= low:
        high = low + 1.0
    return low, high


# ------------------------------------------------------------------------ maps


def draw_map(
    ax: Axes,
    values2d: Any,
    *,
    signed: bool = True,
    title: str | None = None,
    vmax: float | None = None,
) -> AxesImage:
    """Draw a 2d map ``(H, W)`` as an image, row 0 at the top.

    Signed maps use ``'RdBu_r'`` on ``[-vmax, vmax]`` with
    ``vmax = max |values|`` by default, so zero is white; unsigned maps use
    ``'gray'`` on ``[min, vmax]`` with ``vmax = max`` by default. NaN cells
    are left blank. Drawing again on the same axes replaces the previous map
    rather than stacking a second image.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw; no figure is created.
    values2d : array_like, shape (H, W)
        A NumPy array or a torch tensor (detached and moved to the CPU).
    signed : bool, default True
        Diverging, zero-centred colours (weights, activations) or grey levels
        (images).
    title : str, optional
        Axes title.
    vmax : float, optional
        Upper colour limit (and ``-vmax`` as the lower one when ``signed``);
        share it between maps to make their colours comparable.

    Returns
    -------
    matplotlib.image.AxesImage
        The image; ``image.get_array()`` holds ``values2d``.

    Raises
    ------
    ValueError
        If ``values2d`` is not a non-empty 2d array, or ``vmax <= 0`` for a
        signed map.
    TypeError
        If ``values2d`` does not hold real numbers.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().subplots()
    >>> image = draw_map(ax, [[-1.0, 0.5], [2.0, 0.0]], title="a signed map")
    >>> image.get_clim(), image.get_cmap().name
    ((-2.0, 2.0), 'RdBu_r')
    """
    values = as_array(values2d, "values2d", ndim=2, axes="(H, W)", nonempty=True)
    if signed and vmax is not None and not vmax > 0:
        raise ValueError(f"vmax must be > 0 for a signed map (limits ±vmax), got {vmax}")
    vmin, vmax_ = _color_limits(values.astype(float, copy=False), signed, vmax)
    cmap = _SIGNED_CMAP if signed else _UNSIGNED_CMAP
    height, width = values.shape
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)

    image = next((im for im in ax.images if im.get_gid() == _MAP_GID), None)
    if image is None:
        image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax_, interpolation="nearest")
        image.set_gid(_MAP_GID)
        ax.set_xlabel("column")
        ax.set_ylabel("row")
    else:
        image.set_data(values)
        image.set_cmap(cmap)
        image.set_clim(vmin, vmax_)
        if image.get_extent() != list(extent):
            image.set_extent(extent)
            ax.set_xlim(extent[0], extent[1])
            ax.set_ylim(extent[2], extent[3])
    if title is not None:
        ax.set_title(title)
    return image


def _map_figsize(height: int, width: int, colorbar: bool) -> tuple[float, float]:
    # Keep the long side near 4.5 inches whatever the aspect ratio.
    scale = 4.5 / max(height, width)
    w = min(max(width * scale, 1.8), 6.0) + (0.9 if colorbar else 0.0)
    h = min(max(height * scale, 1.6), 6.0) + 0.6
    return w, h


def show_map(
    values2d: Any,
    *,
    signed: bool = True,
    title: str | None = None,
    colorbar: bool = True,
) -> Figure:
    """Show one 2d map ``(H, W)`` in a new figure, with a colorbar.

    Parameters
    ----------
    values2d : array_like, shape (H, W)
        A NumPy array or a torch tensor.
    signed : bool, default True
        ``'RdBu_r'`` symmetric about zero, or ``'gray'``; see :func:`draw_map`.
    title : str, optional
        Axes title.
    colorbar : bool, default True
        Add a colorbar labelled ``value``.

    Returns
    -------
    matplotlib.figure.Figure
        A figure with one image axes (plus the colorbar's axes).

    Raises
    ------
    ValueError, TypeError
        As :func:`draw_map`.

    Examples
    --------
    >>> import numpy as np
    >>> fig = show_map(np.arange(6.0).reshape(2, 3) - 2, title="x - 2")
    >>> len(fig.axes), fig.axes[0].get_title()
    (2, 'x - 2')
    >>> plt.close(fig)
    """
    values = as_array(values2d, "values2d", ndim=2, axes="(H, W)", nonempty=True)
    fig, ax = plt.subplots(figsize=_map_figsize(*values.shape, colorbar), layout="constrained")
    image = draw_map(ax, values, signed=signed, title=title)
    if colorbar:
        fig.colorbar(image, ax=ax, label="value", shrink=0.9)
    return fig


# ----------------------------------------------------------------------- signals


def _stem(ax: Axes, index: np.ndarray, values: np.ndarray, color: str) -> None:
    # Stems for a few samples (each value readable), a line for long signals.
    if values.size <= 64:
        ax.vlines(index, 0, values, color=color, linewidth=1.5)
        ax.plot(index, values, "o", color=color, markersize=5)
        if values.size <= 16:
            for i, v in zip(index, values):
                ax.annotate(
                    f"{v:g}",
                    (i, v),
                    textcoords="offset points",
                    xytext=(0, 6 if v >= 0 else -12),
                    ha="center",
                    fontsize=8,
                )
    else:
        ax.plot(index, values, "-", color=color, linewidth=1.2)
    ax.axhline(0, color="0.6", linewidth=0.8)
    low, high = min(0.0, float(values.min())), max(0.0, float(values.max()))
    margin = 0.25 * (high - low or 1.0)
    ax.set_ylim(low - margin, high + margin)


def show_signal(
    x: Any,
    y: Any = None,
    *,
    kernel: Any = None,
    title: str | None = None,
) -> Figure:
    """Show a 1d signal ``(W,)``, a kernel ``(w,)`` and their convolution on one index axis.

    The convolution is the lecture's ``(x ⊛ u)_i = sum_j x_{i+j} u_j`` (0-based),
    of length ``W - w + 1``; ``y_i`` is drawn at index ``i``, the first input
    its window reads, and the kernel at indices ``0 .. w-1``, the window of
    ``y_0``.

    Parameters
    ----------
    x : array_like, shape (W,)
        The input signal.
    y : array_like, shape (W_out,), optional
        The output to draw. If omitted and ``kernel`` is given, it is computed
        as ``x ⊛ kernel``.
    kernel : array_like, shape (w,), optional
        The kernel ``u``; drawn in its own panel when given.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per array shown (``x``, then ``kernel``, then ``y``), sharing
        the index axis.

    Raises
    ------
    ValueError
        If an array is not 1d, or the kernel is longer than the signal.

    Examples
    --------
    The lecture's ``(1, 2, 3, 4) ⊛ (3, 2) = (7, 12, 17)``:

    >>> fig = show_signal([1, 2, 3, 4], kernel=[3, 2])
    >>> [ax.get_title() for ax in fig.axes]
    ['input x', 'kernel u', 'output x ⊛ u']
    >>> plt.close(fig)
    """
    signal = as_array(x, "x", ndim=1, axes="(W,)", nonempty=True)
    u = None if kernel is None else as_array(kernel, "kernel", ndim=1, axes="(w,)", nonempty=True)
    if u is not None and u.size > signal.size:
        raise ValueError(
            f"kernel has {u.size} taps but x has only {signal.size} samples (x shape "
            f"{signal.shape}, kernel shape {u.shape}): the output would be empty"
        )
    if y is None and u is not None:
        # np.correlate does not flip its second argument: it is the lecture's ⊛.
        y = np.correlate(signal.astype(float), u.astype(float), mode="valid")
    output = None if y is None else as_array(y, "y", ndim=1, axes="(W,)", nonempty=True)

    panels: list[tuple[str, str, np.ndarray, str]] = [("input x", "$x_i$", signal, "C0")]
    if u is not None:
        panels.append(("kernel u", "$u_j$", u, "C2"))
    if output is not None:
        panels.append(("output x ⊛ u" if u is not None else "output y", "$y_i$", output, "C3"))

    fig, axes = plt.subplots(
        len(panels),
        1,
        sharex=True,
        squeeze=False,
        figsize=(6.0, 1.7 * len(panels) + 0.5),
        layout="constrained",
    )
    for ax, (name, label, values, color) in zip(axes[:, 0], panels):
        _stem(ax, np.arange(values.size), values.astype(float), color)
        ax.set_title(name)
        ax.set_ylabel(label)
    last = axes[-1, 0]
    last.set_xlabel("index i")
    last.set_xlim(-0.7, signal.size - 0.3)
    if signal.size <= 32:
        last.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=signal.size + 1))
    if title is not None:
        fig.suptitle(title)
    return fig


# ------------------------------------------------------------------------- banks


def _tick_label(value: float, _position: Any = None) -> str:
    # Two significant digits, with a true minus sign as matplotlib's own tick labels have.
    return f"{value:.2g}".replace("-", "\N{MINUS SIGN}")


def _column_flags(signed: Any, cols: int, shape: tuple) -> list[bool]:
    # One "signed" flag per column of a bank: a bool for all of them, or one each.
    if isinstance(signed, (bool, np.bool_)):
        return [bool(signed)] * cols
    if isinstance(signed, (str, bytes)) or not isinstance(signed, Sequence):
        raise TypeError(f"signed must be a bool or a sequence of bools, got {signed!r}")
    if len(signed) != cols:
        raise ValueError(f"signed has {len(signed)} entries but maps {shape} has K={cols}")
    if not all(isinstance(flag, (bool, np.bool_)) for flag in signed):
        raise TypeError(f"signed must hold bools, got {list(signed)!r}")
    return [bool(flag) for flag in signed]


def show_bank(
    maps: Any,
    *,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    title: str | None = None,
    signed: bool | Sequence[bool] = True,
) -> Figure:
    """Show a bank of 2d maps ``(R, K, h, w)`` as an ``R × K`` grid.

    Typical uses: a weight ``(D, C, h, w)`` transposed to ``(C, D, h, w)``
    (rows are input channels, columns filters), or activation maps
    ``(N, D, H', W')``. Each panel gets its own colour scale (filters differ
    a lot in gain), symmetric about zero with a colorbar when ``signed``,
    whose ticks are zero and the panel's limits ``±max |values|``. A bank
    that mixes signed and non-negative maps (an identity kernel's output
    beside an edge detector's) takes one ``signed`` flag per column: its
    non-negative columns are drawn in grey levels, each with a colorbar
    ticked at its limits.

    Parameters
    ----------
    maps : array_like, shape (R, K, h, w) or (K, h, w)
        A 3d array is shown as a single row.
    row_labels : sequence of str, optional
        ``R`` labels, written left of each row.
    col_labels : sequence of str, optional
        ``K`` labels, written above each column.
    title : str, optional
        Figure title.
    signed : bool or sequence of K bool, default True
        ``'RdBu_r'`` symmetric about zero, or ``'gray'``; one flag per column
        for a mixed bank.

    Returns
    -------
    matplotlib.figure.Figure
        ``R * K`` image axes, plus one colorbar axes per panel when any
        column is signed.

    Raises
    ------
    ValueError
        If ``maps`` is not 3d or 4d, or a label list or ``signed`` has the
        wrong length.
    TypeError
        If ``signed`` is neither a bool nor a sequence of bools.

    Examples
    --------
    >>> import numpy as np
    >>> fig = show_bank(np.ones((2, 3, 4, 4)), col_labels=["a", "b", "c"], signed=False)
    >>> len(fig.axes), fig.axes[1].get_title()
    (6, 'b')
    >>> plt.close(fig)
    """
    bank = as_array(maps, "maps")
    if bank.ndim == 3:
        bank = bank[np.newaxis]
    if bank.ndim != 4 or bank.size == 0:
        raise ValueError(f"maps must be a non-empty array (R, K, h, w), got shape {bank.shape}")
    rows, cols, height, width = bank.shape
    for name, labels, count, axis in (
        ("row_labels", row_labels, rows, "R"),
        ("col_labels", col_labels, cols, "K"),
    ):
        if labels is not None and len(labels) != count:
            raise ValueError(f"{name} has {len(labels)} entries but maps {bank.shape} has {axis}={count}")
    column_signed = _column_flags(signed, cols, bank.shape)
    signed = any(column_signed)  # the layout leaves room for colorbars if any panel has one

    # The grid is laid out by hand, in inches, rather than by matplotlib's constrained layout:
    # with a colorbar per panel that layout solver cost about a second per dozen panels,
    # most of the notebooks' figure time, and the spacing here never needs solving.
    panel = 1.45 if signed else 1.3  # width of one map, inches
    panel_h = min(max(panel * height / width, 0.25), 2.5 * panel)
    bar_pad, bar_w = (0.05, 0.08) if signed else (0.0, 0.0)
    bar_labels = 0.38 if signed else 0.0  # room for the colorbar's tick labels
    gap_w, gap_h = bar_labels + (0.06 if signed else 0.1), 0.12
    lines = max((label.count("\n") + 1 for label in col_labels), default=0) if col_labels else 0
    top = (0.22 * lines + 0.08 if lines else 0.05) + (0.35 if title is not None else 0.0)
    left = 0.35 if row_labels is not None else 0.05
    cell_w = panel + bar_pad + bar_w
    fig_w = left + cols * cell_w + (cols - 1) * gap_w + bar_labels + 0.05
    fig_h = top + rows * panel_h + (rows - 1) * gap_h + 0.05
    fig = plt.figure(figsize=(fig_w, fig_h))

    def box(x0: float, y_top: float, w: float, h: float) -> list[float]:
        # inches from the top-left corner -> figure fraction [left, bottom, width, height]
        return [x0 / fig_w, 1 - (y_top + h) / fig_h, w / fig_w, h / fig_h]

    images = []
    for r in range(rows):
        for k in range(cols):
            x0, y0 = left + k * (cell_w + gap_w), top + r * (panel_h + gap_h)
            ax = fig.add_axes(box(x0, y0, panel, panel_h))
            images.append((draw_map(ax, bank[r, k], signed=column_signed[k]), x0, y0))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel("")
            ax.set_ylabel(row_labels[r] if row_labels is not None and k == 0 else "")
            # An axis with no ticks and no label still costs a layout pass per draw: hide it.
            ax.xaxis.set_visible(False)
            ax.yaxis.set_visible(bool(ax.get_ylabel()))
            if col_labels is not None and r == 0:
                ax.set_title(col_labels[k])
    if signed:  # after every panel, so that fig.axes lists the R * K panels first
        for image, x0, y0 in images:
            cax = fig.add_axes(box(x0 + panel + bar_pad, y0 + 0.1 * panel_h, bar_w, 0.8 * panel_h))
            low, high = image.get_clim()
            # Three ticks, the panel's limits and zero, say its scale and draw faster than five;
            # a non-negative panel's scale needs only its two limits.
            ticks = [low, 0.0, high] if low < 0 < high else [low, high]
            bar = fig.colorbar(image, cax=cax, ticks=ticks, format=_tick_label)
            bar.ax.tick_params(labelsize=6)
            bar.ax.xaxis.set_visible(False)
    if title is not None:
        fig.suptitle(title, y=1 - 0.05 / fig_h, va="top")
    return fig


# ---------------------------------------------------------------------- footprint


class FootprintCell(enum.IntEnum):
    """Codes of the cells in the image drawn by :func:`draw_footprint`."""

    INPUT = 0  #: an input cell read by some output
    PADDING = 1  #: a zero of the padding frame
    UNREAD = 2  #: an input cell no output reads (stride or dilation skip it)
    TAP = 3  #: an input cell read by the selected output
    TAP_PADDING = 4  #: a padding zero read by the selected output


_CELL_COLORS = ListedColormap(
    ["#f4f4f4", "#bdbdbd", "#f7d4cf", "#f28e2b", "#b8844f"], name="convkit_footprint"
)
_CELL_NAMES = {
    FootprintCell.INPUT: "input",
    FootprintCell.PADDING: "padding (zeros)",
    FootprintCell.UNREAD: "never read",
    FootprintCell.TAP: "read by the output",
    FootprintCell.TAP_PADDING: "read, but a padding zero",
}
_UNREAD_HATCH = "////"


def _input_hw(input_shape: Any) -> tuple[int, int]:
    if isinstance(input_shape, Sequence) and len(input_shape) in (2, 3):
        return per_axis(tuple(input_shape[-2:]), "input_shape (H, W)", 2, minimum=1)
    raise ValueError(f"input_shape must be (H, W) or (C, H, W), got {input_shape!r}")


class _Footprint:
    """The numbers behind one footprint drawing, along both axes."""

    def __init__(self, input_shape, kernel_size, stride, padding, dilation, output_index):
        self.size = _input_hw(input_shape)
        self.kernel = per_axis(kernel_size, "kernel_size", 2, minimum=1)
        self.stride = per_axis(stride, "stride", 2, minimum=1)
        self.padding = per_axis(padding, "padding", 2, minimum=0)
        self.dilation = per_axis(dilation, "dilation", 2, minimum=1)
        self.output_index = per_axis(output_index, "output_index", 2, minimum=0)
        args = list(zip(self.size, self.kernel, self.stride, self.padding, self.dilation))
        self.output_shape = tuple(
            _output_size_or_raise(axis, *a) for axis, a in zip(("rows", "columns"), args)
        )
        if any(o >= n for o, n in zip(self.output_index, self.output_shape)):
            raise ValueError(
                f"output_index={self.output_index} is outside the output of shape "
                f"{self.output_shape} (input {self.size}, kernel {self.kernel}, stride "
                f"{self.stride}, padding {self.padding}, dilation {self.dilation})"
            )
        # Unpadded coordinates of the taps, and of the cells nobody reads, per axis.
        self.taps = tuple(
            shapes.footprint(o, k, s, p, d) for o, (_, k, s, p, d) in zip(self.output_index, args)
        )
        self.unread = tuple(shapes.unread_positions(*a) for a in args)

    def codes(self, show_unread: bool) -> np.ndarray:
        """Cell codes of the padded grid ``(H + 2 p_h, W + 2 p_w)``."""
        (height, width), (ph, pw) = self.size, self.padding
        grid = np.full((height + 2 * ph, width + 2 * pw), FootprintCell.PADDING, dtype=np.int8)
        grid[ph : ph + height, pw : pw + width] = FootprintCell.INPUT
        if show_unread:
            rows, cols = (np.asarray(u, dtype=int) for u in self.unread)
            grid[rows + ph, pw : pw + width] = FootprintCell.UNREAD
            grid[ph : ph + height, cols + pw] = FootprintCell.UNREAD
        tap_rows = np.asarray(self.taps[0]) + ph
        tap_cols = np.asarray(self.taps[1]) + pw
        block = np.ix_(tap_rows, tap_cols)
        grid[block] = np.where(
            grid[block] == FootprintCell.PADDING, FootprintCell.TAP_PADDING, FootprintCell.TAP
        )
        return grid


def _output_size_or_raise(axis: str, size, kernel, stride, padding, dilation) -> int:
    try:
        return shapes.conv_output_size(size, kernel, stride, padding, dilation)
    except ValueError as error:
        raise ValueError(f"along the {axis}: {error}") from None


def _grid_path(x_edges: np.ndarray, y_edges: np.ndarray) -> Path:
    # One compound path for every grid line: one artist instead of dozens.
    lines = [((x, y_edges[0]), (x, y_edges[-1])) for x in x_edges]
    lines += [((x_edges[0], y), (x_edges[-1], y)) for y in y_edges]
    vertices = np.asarray(lines, dtype=float).reshape(-1, 2)
    codes = np.tile([Path.MOVETO, Path.LINETO], len(lines))
    return Path(vertices, codes)


def _cells_path(rows: np.ndarray, cols: np.ndarray) -> Path:
    # Unit squares centred on (col, row), all in one path.
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5]])
    centres = np.stack([cols, rows], axis=1).astype(float)
    vertices = (centres[:, None, :] + corners[None]).reshape(-1, 2)
    codes = np.tile([Path.MOVETO, Path.LINETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY], len(centres))
    return Path(vertices, codes)


def _index_ticks(axis, first: int, last: int) -> None:
    # Every index on small grids; on large ones a few (tick labels are costly to draw).
    if last - first < 12:
        axis.set_ticks(np.arange(first, last + 1))
    else:
        axis.set_major_locator(MaxNLocator(integer=True, nbins=6))


def _format_taps(taps: Sequence[int]) -> str:
    # Taps are evenly spaced, so the first two and the last say it all.
    if len(taps) > 4:
        return f"{taps[0]}, {taps[1]}, …, {taps[-1]}"
    return ", ".join(str(t) for t in taps)


def draw_footprint(
    ax: Axes,
    input_shape: Sequence[int],
    kernel_size: int | tuple[int, int],
    *,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    output_index: tuple[int, int] = (0, 0),
    show_unread: bool = True,
) -> None:
    """Draw the padded input grid and the cells one output cell reads.

    Output cell ``(o_h, o_w)`` reads rows ``o_h s_h - p_h + j d_h`` and columns
    ``o_w s_w - p_w + l d_w`` (``j < h``, ``l < w``). Axes ticks are in
    unpadded coordinates, so padding rows and columns have indices ``< 0`` or
    ``>= H`` (``>= W``). The grid is one image whose values are
    :class:`FootprintCell` codes: padding shaded, taps highlighted (taps on a
    padding zero in a darker shade), cells no output reads hatched; a frame
    shows the span ``1 + (k - 1) d`` of the dilated kernel, so the skipped
    cells inside it are visibly not highlighted.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw; no figure is created. A second call on the same axes
        updates the first drawing instead of adding another one.
    input_shape : (H, W) or (C, H, W)
        Input size; channels, if given, are ignored (the kernel spans them all).
    kernel_size, stride, padding, dilation : int or (int, int)
        As in ``nn.Conv2d``: one value for both axes or a pair (rows, columns).
    output_index : (int, int), default (0, 0)
        The output cell whose footprint is highlighted.
    show_unread : bool, default True
        Hatch the input cells that no output cell reads.

    Returns
    -------
    None

    Raises
    ------
    ValueError
        If the kernel does not fit in the padded input, ``output_index`` is
        outside the output, or a value is out of range.
    TypeError
        If an argument is not an int or a pair of ints.

    Examples
    --------
    The lecture's ``C×3×5`` input, padding ``(2, 1)``, stride ``(2, 2)``, kernel
    ``3×3``: output cell ``(0, 0)`` reads padded rows -2..0 and columns -1..1.

    >>> from matplotlib.figure import Figure
    >>> ax = Figure().subplots()
    >>> draw_footprint(ax, (3, 5), 3, stride=2, padding=(2, 1))
    >>> codes = ax.images[0].get_array()
    >>> codes.shape
    (7, 7)
    >>> [[int(c) for c in row] for row in codes[:3, :3]]
    [[4, 4, 4], [4, 4, 4], [4, 3, 3]]
    """
    fp = _Footprint(input_shape, kernel_size, stride, padding, dilation, output_index)
    (height, width), (ph, pw) = fp.size, fp.padding
    codes = fp.codes(show_unread)
    left, right = -pw - 0.5, width + pw - 0.5
    top, bottom = -ph - 0.5, height + ph - 0.5
    rows, cols = np.nonzero(codes == FootprintCell.UNREAD)

    artists = _FOOTPRINTS.get(ax)
    if artists is None or artists.image not in ax.images:
        artists = _FootprintArtists(ax)
        _FOOTPRINTS[ax] = artists
    artists.image.set_data(codes)
    artists.image.set_extent((left, right, bottom, top))
    artists.grid.set_path(_grid_path(np.arange(left, right + 1), np.arange(top, bottom + 1)))
    artists.frame.set_bounds(-0.5, -0.5, width, height)
    artists.unread.set_path(_cells_path(rows - ph, cols - pw))
    artists.unread.set_visible(rows.size > 0)
    artists.window.set_bounds(
        fp.taps[1][0] - 0.5,
        fp.taps[0][0] - 0.5,
        fp.taps[1][-1] - fp.taps[1][0] + 1,
        fp.taps[0][-1] - fp.taps[0][0] + 1,
    )
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    _index_ticks(ax.xaxis, -pw, width + pw - 1)
    _index_ticks(ax.yaxis, -ph, height + ph - 1)
    ax.set_title(
        f"output {fp.output_index} reads rows {_format_taps(fp.taps[0])}, columns {_format_taps(fp.taps[1])}",
        fontsize=10,
        y=1.0,  # a fixed y skips matplotlib's title placement pass
    )


class _FootprintArtists:
    """The artists of one footprint drawing, created once per axes and then updated."""

    def __init__(self, ax: Axes):
        self.image = ax.imshow(
            np.zeros((1, 1), dtype=np.int8),
            cmap=_CELL_COLORS,
            vmin=-0.5,
            vmax=len(FootprintCell) - 0.5,
            interpolation="nearest",
            zorder=0,
        )
        empty = Path(np.zeros((1, 2)))
        self.grid = ax.add_patch(PathPatch(empty, edgecolor="0.55", linewidth=0.6, fill=False, zorder=1))
        self.unread = ax.add_patch(
            PathPatch(
                empty,
                facecolor="none",
                edgecolor="#c0392b",
                linewidth=0,
                hatch=_UNREAD_HATCH,
                zorder=1,
                gid="unread",
            )
        )
        # The real input, framed, so the padding reads as something added around it.
        self.frame = ax.add_patch(
            Rectangle(
                (0, 0),
                1,
                1,
                fill=False,
                edgecolor="0.2",
                linewidth=1.4,
                zorder=2,
                gid="input",
            )
        )
        # The span of the dilated kernel: taps at its corners, skipped cells inside it.
        self.window = ax.add_patch(
            Rectangle(
                (0, 0),
                1,
                1,
                fill=False,
                edgecolor="#d1495b",
                linewidth=2.0,
                zorder=3,
                gid="window",
            )
        )
        ax.set_aspect("equal")
        ax.tick_params(length=2, labelsize=8)
        ax.set_xlabel("input column")
        ax.set_ylabel("input row")
        ax.legend(
            handles=[
                Patch(
                    facecolor=_CELL_COLORS(int(c)),
                    edgecolor="0.5",
                    hatch=_UNREAD_HATCH if c == FootprintCell.UNREAD else None,
                    label=_CELL_NAMES[c],
                )
                for c in FootprintCell
            ],
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            fontsize=8,
            frameon=False,
            borderaxespad=0.0,
        )


# Widgets call draw_footprint on the same axes at every slider move: updating
# the artists of the previous call is several times faster than clearing.
_FOOTPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def show_footprint(
    input_shape: Sequence[int],
    kernel_size: int | tuple[int, int],
    *,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    output_index: tuple[int, int] = (0, 0),
    show_unread: bool = True,
) -> Figure:
    """Show :func:`draw_footprint` in a new figure.

    Parameters
    ----------
    input_shape, kernel_size, stride, padding, dilation, output_index, show_unread
        As in :func:`draw_footprint`.

    Returns
    -------
    matplotlib.figure.Figure
        A figure with one axes.

    Raises
    ------
    ValueError, TypeError
        As :func:`draw_footprint`.

    Examples
    --------
    The lecture's dilated example: a ``3×3`` kernel with dilation 4 on ``20×30``.

    >>> fig = show_footprint((20, 30), 3, dilation=4, output_index=(1, 2))
    >>> fig.axes[0].get_title()
    'output (1, 2) reads rows 1, 5, 9, columns 2, 6, 10'
    >>> plt.close(fig)
    """
    height, width = _input_hw(input_shape)
    ph, pw = per_axis(padding, "padding", 2, minimum=0)
    rows, cols = height + 2 * ph, width + 2 * pw
    scale = 5.0 / max(rows, cols, 8)
    fig, ax = plt.subplots(figsize=(cols * scale + 3.2, rows * scale + 1.2), layout="constrained")
    draw_footprint(
        ax,
        input_shape,
        kernel_size,
        stride=stride,
        padding=padding,
        dilation=dilation,
        output_index=output_index,
        show_unread=show_unread,
    )
    return fig


# --------------------------------------------------------------------- additions


def mark_peak(
    ax: Axes, values2d: Any, *, label: str | None = "peak", color: str = "black"
) -> tuple[int, int]:
    """Mark the largest entry of a 2d map ``(H, W)`` drawn on ``ax`` with a ring; return ``(row, column)``.

    Use it on an axes where :func:`draw_map` (or :func:`show_bank`) drew the same
    map, row 0 at the top. Ties go to the first entry in row-major order, as
    ``np.argmax`` does.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes holding the map.
    values2d : array_like, shape (H, W)
        The map whose maximum is marked.
    label : str or None, default ``"peak"``
        Text written next to the ring, followed by the position; ``None`` for none.
    color : str, default ``"black"``
        Colour of the ring and the text, written below and to the right of it.

    Returns
    -------
    tuple of int
        ``(row, column)`` of the peak.

    Raises
    ------
    ValueError
        If ``values2d`` is not a non-empty 2d array.

    Examples
    --------
    >>> import numpy as np
    >>> fig, ax = plt.subplots()
    >>> values = np.zeros((4, 5)); values[2, 3] = 1.0
    >>> _ = draw_map(ax, values)
    >>> mark_peak(ax, values)
    (2, 3)
    >>> plt.close(fig)
    """
    values = as_array(values2d, "values2d", ndim=2, axes="(H, W)", nonempty=True)
    row, col = (int(i) for i in np.unravel_index(np.argmax(values), values.shape))
    ax.plot(
        [col],
        [row],
        marker="o",
        markersize=12,
        markerfacecolor="none",
        markeredgecolor=color,
        markeredgewidth=2,
        linestyle="none",
        gid="convkit.peak",
    )
    if label is not None:
        ax.annotate(
            f"{label} ({row}, {col})",
            (col, row),
            xytext=(4, -9),
            va="top",
            textcoords="offset points",
            color=color,
            fontsize=8,
            fontweight="bold",
            annotation_clip=False,
        )
    return row, col


def show_channel_sum(
    partials: Any,
    bias: float = 0.0,
    *,
    channel_labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Show how ``C`` per-channel maps ``(C, H', W')`` plus a bias add up to one activation map.

    Panel ``c`` is the partial map ``x_c ⊛ u_c`` of input channel ``c`` with its
    slice of the kernel; the last panel is ``sum_c x_c ⊛ u_c + b``, the output
    channel of a multichannel convolution. All panels share one colour scale,
    symmetric about zero, so their values can be compared and added by eye.

    Parameters
    ----------
    partials : array_like, shape (C, H', W')
        The per-channel maps (NumPy array or torch tensor).
    bias : float, default 0.0
        The bias ``b`` of this output channel.
    channel_labels : sequence of str, optional
        ``C`` names for the partial maps (e.g. ``["red", "green", "blue"]``).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        ``C + 1`` image axes (partials, then the sum) and one shared colorbar.

    Raises
    ------
    TypeError
        If ``bias`` is not a real number.
    ValueError
        If ``partials`` is not a non-empty 3d array, or ``channel_labels`` does
        not have ``C`` entries.

    Examples
    --------
    >>> import numpy as np
    >>> fig = show_channel_sum(np.ones((3, 4, 4)), bias=0.5)
    >>> float(fig.axes[3].images[0].get_array().max())
    3.5
    >>> plt.close(fig)
    """
    maps = as_array(partials, "partials", ndim=3, axes="(C, H', W')", nonempty=True)
    if isinstance(bias, (bool, np.bool_)) or not isinstance(bias, (int, float, np.number)):
        raise TypeError(f"bias must be a real number, got {bias!r}")
    channels = maps.shape[0]
    if channel_labels is not None and len(channel_labels) != channels:
        raise ValueError(
            f"channel_labels has {len(channel_labels)} entries but partials {maps.shape} has C={channels}"
        )
    labels = list(channel_labels) if channel_labels is not None else [f"channel {c}" for c in range(channels)]
    total = maps.sum(axis=0) + float(bias)
    vmax = float(max(np.abs(maps).max(), np.abs(total).max())) or 1.0
    height, width = maps.shape[1:]
    panel = 1.9
    fig, axes = plt.subplots(
        1,
        channels + 1,
        layout="constrained",
        figsize=(panel * (channels + 1) + 1.0, panel * height / width + 0.8),
    )
    for c, ax in enumerate(axes[:channels]):
        draw_map(ax, maps[c], vmax=vmax, title=f"{labels[c]}: x{c} ⊛ u{c}")
        sign = "+" if c < channels - 1 else "+ b\n="
        ax.annotate(
            sign,
            (1.08, 0.5),
            xycoords="axes fraction",
            ha="center",
            va="center",
            fontsize=12,
            fontweight="bold",
            annotation_clip=False,
        )
    image = draw_map(axes[-1], total, vmax=vmax, title=f"activation map (b = {float(bias):.3g})")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("")
        ax.set_ylabel("")
    fig.colorbar(image, ax=list(axes), shrink=0.8)
    if title is not None:
        fig.suptitle(title)
    return fig


def show_curves(
    curves: dict,
    *,
    xlabel: str = "step",
    ylabel: str = "loss",
    title: str | None = None,
    logy: bool = False,
) -> Figure:
    """Plot several 1d curves, such as training losses, on one axes with a legend.

    Curve ``k`` is drawn solid, dashed, dotted, ... in turn, so that curves
    that coincide stay visible on top of each other.

    Parameters
    ----------
    curves : dict of str to array_like, each shape (T,)
        Legend label -> values, drawn against ``0, 1, ..., T - 1``.
    xlabel, ylabel : str
        Axis labels (default ``"step"`` and ``"loss"``).
    title : str, optional
        Axes title.
    logy : bool, default False
        Logarithmic vertical axis.

    Returns
    -------
    matplotlib.figure.Figure
        One axes holding one line per curve.

    Raises
    ------
    TypeError
        If ``curves`` is not a dict.
    ValueError
        If it is empty or a curve is not a non-empty 1d array.

    Examples
    --------
    >>> fig = show_curves({"a": [3, 2, 1], "b": [3, 2.5, 1.5]}, title="two runs")
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['a', 'b']
    >>> plt.close(fig)
    """
    if not isinstance(curves, dict):
        raise TypeError(f"curves must be a dict of label -> values, got {type(curves).__name__}")
    if not curves:
        raise ValueError("curves must hold at least one curve, got {}")
    fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    styles = ["-", "--", ":", "-."]
    for k, (label, values) in enumerate(curves.items()):
        y = as_array(values, f"curves[{label!r}]", ndim=1, axes="(T,)", nonempty=True)
        ax.plot(np.arange(len(y)), y, styles[k % len(styles)], label=str(label), linewidth=1.5)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    ax.grid(alpha=0.3)
    if title is not None:
        ax.set_title(title)
    return fig
