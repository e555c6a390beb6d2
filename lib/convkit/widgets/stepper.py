"""Sliding-window stepper: a 1d or 2d convolution computed one output position at a time.

The kernel is placed on the (padded) input at one output position, the
elementwise products are shown, and their sum lands in the output, which
fills in position by position as a play button advances. Stride, padding and
dilation move the window and spread its taps exactly as ``F.conv1d`` and
``F.conv2d`` do.

Three layers, as for every widget of the course:

* :func:`stepper_state` computes every number shown (pure, tested);
* :func:`draw_stepper` draws a state into a figure, reusing the artists of
  the previous call when only the position changed (pure drawing, tested);
* :func:`stepper` wires ipywidgets controls to the two.
"""
from __future__ import annotations

import html
import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path
from matplotlib.text import Text

from convkit import reference, shapes
from convkit.widgets._canvas import image_widget, new_figure, png_bytes
from convkit.plot import (
    _CELL_COLORS,
    FootprintCell,
    _cells_path,
    _grid_path,
)

__all__ = ["StepperState", "EXAMPLES", "stepper_state", "draw_stepper", "stepper"]


@dataclass(frozen=True, eq=False)
class StepperState:
    """Every number the stepper shows for one output position.

    Shapes below are for a 2d call, ``x`` of shape ``(H, W)`` and kernel
    ``(h, w)``; a 1d call drops the first axis. Indices are 0-based; input
    indices are in unpadded coordinates (padding cells are ``< 0`` or ``>= H``).

    Attributes
    ----------
    x : numpy.ndarray, shape (H, W)
        The input, as float64.
    kernel : numpy.ndarray, shape (h, w)
        The kernel ``u``, as float64.
    stride, padding, dilation : tuple of int
        One entry per axis.
    padded : numpy.ndarray, shape (H + 2 p_h, W + 2 p_w)
        The input inside its frame of zeros.
    position : int
        Flat (row-major) index of the current output position.
    output_index : tuple of int
        The same position as ``(i, j)``.
    taps : tuple of list of int
        Per axis, the input indices the kernel taps read: ``o s - p + j d``.
    window : numpy.ndarray, shape (h, w)
        The padded input at the taps.
    products : numpy.ndarray, shape (h, w)
        ``window * kernel``, the terms of the sum.
    value : float
        Their sum: the output at ``output_index``.
    output : numpy.ndarray, shape (H', W')
        The whole output, ``H' = floor((H + 2 p - d (h - 1) - 1) / s) + 1``.
    partial : numpy.ndarray, shape (H', W')
        The output computed so far: positions up to ``position`` (row-major)
        hold their value, later ones are NaN.
    """

    x: np.ndarray
    kernel: np.ndarray
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    padded: np.ndarray
    position: int
    output_index: tuple[int, ...]
    taps: tuple[list[int], ...]
    window: np.ndarray
    products: np.ndarray
    value: float
    output: np.ndarray
    partial: np.ndarray

    @property
    def ndim(self) -> int:
        """1 or 2."""
        return self.x.ndim

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of the output, ``(W',)`` or ``(H', W')``."""
        return self.output.shape

    @property
    def positions(self) -> int:
        """Number of output positions the window visits."""
        return self.output.size


#: The examples the widget offers: the lecture's 1d example and its
#: derivative filter, and the lecture's padded and strided 3×5 input (with the
#: vertical-edge kernel of its MNIST example).
EXAMPLES: dict[str, dict[str, Any]] = {
    "1d: (1, 2, 3, 4) ⊛ (3, 2)": dict(
        x=np.array([1.0, 2, 3, 4]), kernel=np.array([3.0, 2]), stride=1, padding=0, dilation=1,
    ),
    "1d: a derivative, kernel (-1, 1)": dict(
        x=np.array([0.0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4]), kernel=np.array([-1.0, 1]),
        stride=1, padding=0, dilation=1,
    ),
    "2d: 3×5 input, padding (2, 1), stride (2, 2)": dict(
        x=np.arange(1.0, 16.0).reshape(3, 5),
        kernel=np.array([[-1.0, 0, 1], [-1, 0, 1], [-1, 0, 1]]),
        stride=(2, 2), padding=(2, 1), dilation=(1, 1),
    ),
}


def _as_signal(value: Any, name: str) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.ndim not in (1, 2) or array.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 1d (W,) or 2d (H, W) array, got shape {array.shape}"
        )
    return array.astype(np.float64)


def _per_axis(value: Any, ndim: int) -> tuple[int, ...]:
    # Only called after shapes.conv_output_shape accepted the value.
    if isinstance(value, Sequence):
        return tuple(int(v) for v in value)
    return (int(value),) * ndim


def stepper_state(
    x: Any,
    kernel: Any,
    *,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    position: int = 0,
) -> StepperState:
    """Compute what the stepper shows at one output position.

    Output position ``o`` reads the padded input at ``o s - p + j d`` for every
    tap ``j`` (per axis) and is ``y_o = sum_j x_{o s - p + j d} u_j``, the
    lecture's ``x ⊛ u`` (no kernel flip), as ``F.conv1d`` / ``F.conv2d``.

    Parameters
    ----------
    x : array_like, shape (W,) or (H, W)
        The input (one channel).
    kernel : array_like, shape (w,) or (h, w)
        The kernel ``u``, with as many dims as ``x``.
    stride, padding, dilation : int or tuple of int
        As in ``F.conv1d`` / ``F.conv2d``: one value for every axis, or one
        entry per axis.
    position : int, default 0
        Flat (row-major) index of the output position, ``0 <= position < H' W'``.

    Returns
    -------
    StepperState
        Padded input, taps, products, current value, whole and partial output.

    Raises
    ------
    ValueError
        If the shapes do not match, the kernel does not fit in the padded
        input (empty output), a value is out of range, or ``position`` is
        outside the output.
    TypeError
        If an argument has the wrong type.

    Examples
    --------
    The lecture's ``(1, 2, 3, 4) ⊛ (3, 2) = (7, 12, 17)``, at the second position:

    >>> s = stepper_state([1, 2, 3, 4], [3, 2], position=1)
    >>> s.taps, s.products.tolist(), s.value
    (([1, 2],), [6.0, 6.0], 12.0)
    >>> s.output.tolist(), s.partial.tolist()
    ([7.0, 12.0, 17.0], [7.0, 12.0, nan])
    """
    signal = _as_signal(x, "x")
    u = _as_signal(kernel, "kernel")
    if u.ndim != signal.ndim:
        raise ValueError(
            f"kernel has shape {u.shape} but x has shape {signal.shape}: "
            "both must be 1d or both 2d"
        )
    for name, value in (("stride", stride), ("padding", padding), ("dilation", dilation)):
        if isinstance(value, str):
            raise TypeError(f"{name} must be an int or a tuple of ints, got {value!r}")
    output_shape = shapes.conv_output_shape(signal.shape, u.shape, stride, padding, dilation)
    nd = signal.ndim
    s, p, d = (_per_axis(v, nd) for v in (stride, padding, dilation))
    count = math.prod(output_shape)
    if isinstance(position, (bool, np.bool_)) or not isinstance(position, (int, np.integer)):
        raise TypeError(f"position must be an int, got {position!r}")
    if not 0 <= position < count:
        raise ValueError(
            f"position={position} is outside 0..{count - 1}: the output of shape "
            f"{output_shape} has {count} positions"
        )
    output_index = tuple(int(i) for i in np.unravel_index(int(position), output_shape))
    taps = tuple(
        shapes.footprint(o, k, s_, p_, d_)
        for o, k, s_, p_, d_ in zip(output_index, u.shape, s, p, d)
    )
    padded = np.pad(signal, [(p_, p_) for p_ in p])
    window = padded[np.ix_(*[np.asarray(t) + p_ for t, p_ in zip(taps, p)])]
    products = window * u
    conv = reference.conv1d if nd == 1 else reference.conv2d
    # Unbatched call: one input channel (C = 1) and one kernel (D = C = 1).
    output = conv(signal[np.newaxis], u[np.newaxis, np.newaxis], stride=s, padding=p,
                  dilation=d)[0]
    done = np.arange(count).reshape(output_shape) <= position
    return StepperState(
        x=signal, kernel=u, stride=s, padding=p, dilation=d, padded=padded,
        position=int(position), output_index=output_index, taps=taps, window=window,
        products=products, value=float(products.sum()), output=output,
        partial=np.where(done, output, np.nan),
    )


# ------------------------------------------------------------------------ drawing

_SIGNED = "RdBu_r"
_TAP_COLOR = "#f28e2b"
_WINDOW_COLOR = "#d1495b"
_MAX_LABELLED_CELLS = 200  # beyond this, numbers are unreadable and slow to draw


def _fmt(value: float) -> str:
    if not np.isfinite(value):
        return ""
    return f"{value:.3g}" if value != int(value) or abs(value) >= 1e6 else f"{int(value)}"


def _labels(values: np.ndarray) -> np.ndarray:
    return np.vectorize(_fmt, otypes=[object])(values)


def _squares(rows: Sequence[int], cols: Sequence[int]) -> Path:
    """Unit squares centred on every ``(row, col)`` of the product ``rows × cols``."""
    r, c = np.meshgrid(np.asarray(rows), np.asarray(cols), indexing="ij")
    return _cells_path(r.ravel(), c.ravel())


class _Cells:
    """A grid of cells coloured by value, one number in each, updated in place."""

    def __init__(self, ax, shape, *, top=0, left=0, vmax=1.0, fontsize=9, codes=False):
        rows, cols = shape
        self.shape = (rows, cols)
        extent = (left - 0.5, left + cols - 0.5, top + rows - 0.5, top - 0.5)
        labelled = rows * cols <= _MAX_LABELLED_CELLS
        if codes and labelled:  # the input: padding shaded, real cells white, numbers on top
            self.image = ax.imshow(
                np.zeros(shape, dtype=np.int8), cmap=_CELL_COLORS, vmin=-0.5,
                vmax=len(FootprintCell) - 0.5, extent=extent, interpolation="nearest",
            )
        elif codes:  # too many cells for numbers: the values as grey levels instead
            self.image = ax.imshow(np.zeros(shape), cmap="gray", extent=extent,
                                   interpolation="nearest")
        else:
            # Limits wider than the data keep colours pale and the numbers readable.
            self.image = ax.imshow(
                np.full(shape, np.nan), cmap=_SIGNED, vmin=-2 * vmax, vmax=2 * vmax,
                extent=extent, interpolation="nearest",
            )
        self.grid = ax.add_patch(PathPatch(
            _grid_path(np.arange(cols + 1) + left - 0.5, np.arange(rows + 1) + top - 0.5),
            fill=False, edgecolor="0.6", linewidth=0.6,
        ))
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
        self.texts: list[list] = []
        if labelled:
            self.texts = [
                [ax.text(left + j, top + i, "", ha="center", va="center", fontsize=fontsize,
                         zorder=3)
                 for j in range(cols)]
                for i in range(rows)
            ]
        self.labels = np.full(shape, "", dtype=object)

    @property
    def artists(self) -> list:
        """Everything drawn for the cells, bottom to top."""
        return [self.image, self.grid] + [t for row in self.texts for t in row]

    def set(self, values: np.ndarray, labels: np.ndarray | None = None) -> None:
        self.image.set_data(values)
        if self.image.get_cmap().name == "gray":
            self.image.autoscale()
        if labels is None or not self.texts:
            return
        for i, j in zip(*np.nonzero(labels != self.labels)):
            self.texts[i][j].set_text(labels[i, j])
        self.labels = labels.copy()


def _symmetric(*arrays: np.ndarray) -> float:
    top = max(float(np.nanmax(np.abs(a))) if np.isfinite(a).any() else 0.0 for a in arrays)
    return top if top > 0 else 1.0


def _input_picture(state: StepperState, cells: _Cells) -> np.ndarray:
    """Padding shaded and input white under the numbers, or the values when there are none."""
    if not cells.texts:
        return state.padded
    codes = np.full(state.padded.shape, FootprintCell.PADDING, dtype=np.int8)
    codes[tuple(slice(p, p + n) for p, n in zip(state.padding, state.x.shape))] = (
        FootprintCell.INPUT
    )
    return codes


def _sum_text(products: np.ndarray, value: float) -> str:
    terms = [_fmt(v) for v in products.ravel()]
    if len(terms) > 4:
        return f"sum = {_fmt(value)}"
    return " + ".join(terms).replace("+ -", "− ") + f" = {_fmt(value)}"


def _geometry(state: StepperState) -> tuple:
    return (
        state.x.shape, state.x.tobytes(), state.kernel.shape, state.kernel.tobytes(),
        state.stride, state.padding, state.dilation,
    )


def _spines(*axes) -> list:
    # Redrawn images would cover the frame of their axes otherwise.
    return [spine for ax in axes for spine in ax.spines.values()]


class _Layout:
    """Artists of one stepper figure; a step updates the few that move.

    ``dynamic`` lists, bottom to top, the artists a new position changes. The
    rest is drawn once into a background that :meth:`png` restores before
    drawing only the dynamic artists (blitting), which keeps a play step far
    cheaper than a full redraw of every number and tick.
    """

    dynamic: list

    def __init__(self, fig: Figure):
        self.fig = fig
        self.background = None
        self.size = None

    def _taps(self, ax, zorder=4):
        # Above the static numbers: they show through the translucent orange.
        self.taps = ax.add_patch(PathPatch(
            Path(np.zeros((1, 2))), facecolor=_TAP_COLOR, alpha=0.55, edgecolor="none",
            zorder=zorder, gid="taps",
        ))
        return self.taps

    def png(self) -> bytes:
        """PNG bytes of the figure, blitting the dynamic artists on the static background."""
        canvas = self.fig.canvas
        size = (canvas.get_width_height(), self.fig.dpi)
        if self.background is None or size != self.size:
            # Blank texts rather than hide them: axes place a hidden title oddly.
            texts = [(a, a.get_text()) for a in self.dynamic if isinstance(a, Text)]
            shapes_ = [a for a in self.dynamic if not isinstance(a, Text)]
            for artist, _ in texts:
                artist.set_text("")
            for artist in shapes_:
                artist.set_visible(False)
            canvas.draw()
            self.background = canvas.copy_from_bbox(self.fig.bbox)
            self.size = size
            for artist, text in texts:
                artist.set_text(text)
            for artist in shapes_:
                artist.set_visible(True)
        else:
            canvas.restore_region(self.background)
        renderer = canvas.get_renderer()
        for artist in sorted(self.dynamic, key=lambda a: a.get_zorder()):
            artist.draw(renderer)
        return png_bytes(self.fig, draw=False)


class _Layout1d(_Layout):
    """Four aligned strips: padded input, kernel at its taps, products, output."""

    def __init__(self, fig: Figure, state: StepperState):
        super().__init__(fig)
        (size,), (pad,) = state.x.shape, state.padding
        width, out = size + 2 * pad, state.output.size
        # Half an inch per cell, less for long signals so the figure stays on screen.
        cell = min(0.5, 13.0 / max(width, out))
        fig.set_size_inches(max(5.5, cell * max(width, out) + 1.4), 5.2)
        grid = fig.add_gridspec(4, 1, left=0.06, right=0.97, top=0.94, bottom=0.09, hspace=1.5)
        ax_in = fig.add_subplot(grid[0])
        ax_kernel = fig.add_subplot(grid[1], sharex=ax_in)
        ax_products = fig.add_subplot(grid[2], sharex=ax_in)
        ax_out = fig.add_subplot(grid[3])
        font = 9 if cell >= 0.45 else 7 if cell >= 0.3 else 5
        self.input = _Cells(ax_in, (1, width), left=-pad, codes=True, fontsize=font)
        self.input.set(_input_picture(state, self.input)[None], _labels(state.padded[None]))
        self.kernel = _Cells(ax_kernel, (1, width), left=-pad, vmax=_symmetric(state.kernel),
                             fontsize=font)
        bound = _symmetric(state.padded) * _symmetric(state.kernel)
        self.products = _Cells(ax_products, (1, width), left=-pad, vmax=bound, fontsize=font)
        self.output = _Cells(ax_out, (1, out), vmax=_symmetric(state.output), fontsize=font)
        self.window = ax_in.add_patch(Rectangle(
            (0, -0.5), 1, 1, fill=False, edgecolor=_WINDOW_COLOR, linewidth=2.0, zorder=5,
            gid="window",
        ))
        self.current = ax_out.add_patch(Rectangle(
            (0, -0.5), 1, 1, fill=False, edgecolor=_WINDOW_COLOR, linewidth=2.0, zorder=5,
            gid="current",
        ))
        ax_in.set_title("padded input x (zeros shaded, taps in orange)", fontsize=10)
        self.kernel_title = ax_kernel.set_title(" ", fontsize=10)
        self.products_title = ax_products.set_title(" ", fontsize=10)
        ax_out.set_title(f"output x ⊛ u ({out} positions)", fontsize=10)
        ax_products.set_xlabel("input index", fontsize=9)
        ax_out.set_xlabel("output index", fontsize=9)
        for ax in (ax_in, ax_kernel, ax_products, ax_out):
            ax.set_yticks([])
            ax.set_aspect("auto")
            ax.tick_params(labelsize=8, length=2)
        ax_in.set_xticks(np.arange(-pad, size + pad, 1 if width <= 20 else width // 10))
        ax_out.set_xticks(np.arange(0, out, 1 if out <= 20 else out // 10))
        for ax in (ax_in, ax_kernel):
            ax.tick_params(labelbottom=False)
        self.dynamic = [
            self._taps(ax_in), self.window, *self.kernel.artists, *self.products.artists,
            *self.output.artists, self.current, self.kernel_title, self.products_title,
            *_spines(ax_kernel, ax_products, ax_out),
        ]

    def update(self, state: StepperState) -> None:
        (pad,), (o,) = state.padding, state.output_index
        taps = np.asarray(state.taps[0])
        self.taps.set_path(_squares([0], taps))
        on_taps = np.full(self.kernel.shape, np.nan)
        on_taps[0, taps + pad] = state.kernel
        self.kernel.set(on_taps, _labels(on_taps))
        on_taps = np.full(self.products.shape, np.nan)
        on_taps[0, taps + pad] = state.products
        self.products.set(on_taps, _labels(on_taps))
        self.output.set(state.partial[None], _labels(state.partial[None]))
        self.window.set_bounds(taps[0] - 0.5, -0.5, taps[-1] - taps[0] + 1, 1)
        self.current.set_bounds(o - 0.5, -0.5, 1, 1)
        self.kernel_title.set_text(f"kernel u placed for output {o}")
        self.products_title.set_text(f"products x·u: {_sum_text(state.products, state.value)}")


class _Layout2d(_Layout):
    """Four panels side by side: padded input with the window, kernel, products, output."""

    def __init__(self, fig: Figure, state: StepperState):
        super().__init__(fig)
        (height, width), (ph, pw) = state.x.shape, state.padding
        rows, cols = height + 2 * ph, width + 2 * pw
        kh, kw = state.kernel.shape
        oh, ow = state.output.shape
        widths = [cols, kw, kw, ow]
        cell = min(0.48, 12.0 / sum(widths), 6.0 / max(rows, kh, oh))
        fig.set_size_inches(cell * sum(widths) + 2.2, cell * max(rows, kh, oh) + 1.5)
        font = 9 if cell >= 0.4 else 7 if cell >= 0.3 else 5
        grid = fig.add_gridspec(1, 4, width_ratios=widths, left=0.06, right=0.98, top=0.86,
                                bottom=0.14, wspace=0.3)
        axes = [fig.add_subplot(grid[k]) for k in range(4)]
        ax_in, ax_kernel, ax_products, ax_out = axes
        self.input = _Cells(ax_in, (rows, cols), top=-ph, left=-pw, codes=True, fontsize=font)
        self.input.set(_input_picture(state, self.input), _labels(state.padded))
        self.kernel = _Cells(ax_kernel, (kh, kw), vmax=_symmetric(state.kernel), fontsize=font)
        self.kernel.set(state.kernel, _labels(state.kernel))
        bound = _symmetric(state.padded) * _symmetric(state.kernel)
        self.products = _Cells(ax_products, (kh, kw), vmax=bound, fontsize=font)
        self.output = _Cells(ax_out, (oh, ow), vmax=_symmetric(state.output), fontsize=font)
        # The kernel laid on the input: each tap cell also shows the weight it meets.
        self.weights = []
        if rows * cols <= _MAX_LABELLED_CELLS:
            self.weights = [
                ax_in.text(0, 0, f"×{_fmt(v)}", ha="right", va="bottom", fontsize=6,
                           color="#7a1f2b", zorder=5)
                for v in state.kernel.ravel()
            ]
        self.window = ax_in.add_patch(Rectangle(
            (0, 0), 1, 1, fill=False, edgecolor=_WINDOW_COLOR, linewidth=2.0, zorder=5,
            gid="window",
        ))
        self.current = ax_out.add_patch(Rectangle(
            (0, 0), 1, 1, fill=False, edgecolor=_WINDOW_COLOR, linewidth=2.0, zorder=5,
            gid="current",
        ))
        self.input_title = ax_in.set_title(" ", fontsize=10)
        ax_kernel.set_title("kernel u", fontsize=10)
        self.products_title = ax_products.set_title(" ", fontsize=10)
        ax_out.set_title(f"output {oh}×{ow}", fontsize=10)
        ax_in.set_xlabel("input column", fontsize=9)
        ax_in.set_ylabel("input row", fontsize=9)
        ax_out.set_xlabel("output column", fontsize=9)
        ax_out.set_ylabel("output row", fontsize=9)
        spans = [(-ph, height + ph, -pw, width + pw), (0, kh, 0, kw), (0, kh, 0, kw),
                 (0, oh, 0, ow)]
        for ax, (r0, r1, c0, c1) in zip(axes, spans):
            ax.set_xticks(np.arange(c0, c1, 1 if c1 - c0 <= 16 else (c1 - c0) // 8))
            ax.set_yticks(np.arange(r0, r1, 1 if r1 - r0 <= 16 else (r1 - r0) // 8))
            ax.tick_params(labelsize=7, length=2)
            ax.set_aspect("equal")
        self.dynamic = [
            self._taps(ax_in), *self.weights, self.window, *self.products.artists,
            *self.output.artists, self.current, self.input_title, self.products_title,
            *_spines(ax_products, ax_out),
        ]

    def update(self, state: StepperState) -> None:
        rows, cols = state.taps
        self.taps.set_path(_squares(rows, cols))
        for text, (r, c) in zip(self.weights, ((r, c) for r in rows for c in cols)):
            text.set_position((c + 0.47, r + 0.47))
        self.products.set(state.products, _labels(state.products))
        self.output.set(state.partial, _labels(state.partial))
        self.window.set_bounds(cols[0] - 0.5, rows[0] - 0.5, cols[-1] - cols[0] + 1,
                               rows[-1] - rows[0] + 1)
        i, j = state.output_index
        self.current.set_bounds(j - 0.5, i - 0.5, 1, 1)
        self.input_title.set_text(f"padded input, window of output ({i}, {j})")
        self.products_title.set_text(f"products x·u, {_sum_text(state.products, state.value)}")


_LAYOUTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def draw_stepper(state: StepperState, fig: Figure) -> None:
    """Draw a :class:`StepperState` into ``fig``.

    The padded input (zeros shaded, the taps of the current position in
    orange, framed by the span ``1 + (k - 1) d`` of the kernel), the kernel
    laid on its taps, the products with their sum, and the output with the
    positions computed so far. When the previous call on ``fig`` drew the
    same input, kernel, stride, padding and dilation, its artists are updated
    in place (a play step only moves the window); otherwise the figure is
    cleared and laid out again, possibly at a new size.

    Parameters
    ----------
    state : StepperState
        From :func:`stepper_state`.
    fig : matplotlib.figure.Figure
        The figure to draw into: 4 stacked axes for a 1d state, 4 side by
        side for a 2d one.

    Returns
    -------
    None

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure()
    >>> draw_stepper(stepper_state([1, 2, 3, 4], [3, 2], position=2), fig)
    >>> [ax.get_title() for ax in fig.axes][2:]
    ['products x·u: 9 + 8 = 17', 'output x ⊛ u (3 positions)']
    """
    layout = _LAYOUTS.get(fig)
    key = _geometry(state)
    if layout is None or layout.key != key or layout.fig is not fig or not fig.axes:
        fig.clear()
        layout = (_Layout1d if state.ndim == 1 else _Layout2d)(fig, state)
        layout.key = key
        _LAYOUTS[fig] = layout
    layout.update(state)


def _render(fig: Figure) -> bytes:
    layout = _LAYOUTS.get(fig)
    return layout.png() if layout is not None else png_bytes(fig)


def _draw_message(fig: Figure, message: str) -> None:
    _LAYOUTS.pop(fig, None)
    fig.clear()
    fig.set_size_inches(6.0, 1.2)
    fig.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=10,
             color="#9b1c1c")


# ------------------------------------------------------------------------ wiring


def _formula(state: StepperState) -> str:
    """``y[1] = x[1]·u[0] + x[2]·u[1] = 2·3 + 3·2 = 12`` for the current position."""
    def index(values) -> str:
        return ", ".join(str(v) for v in values)

    taps = [
        (tuple(int(t) for t in x_index), tuple(int(j) for j in u_index))
        for x_index, u_index in zip(
            np.stack(np.meshgrid(*state.taps, indexing="ij"), -1).reshape(-1, state.ndim),
            np.stack(np.meshgrid(*[range(k) for k in state.kernel.shape], indexing="ij"), -1)
            .reshape(-1, state.ndim),
        )
    ]
    symbols = " + ".join(f"x[{index(a)}]·u[{index(b)}]" for a, b in taps)
    numbers = " + ".join(
        f"{_fmt(w)}·{_fmt(u)}" if u >= 0 else f"{_fmt(w)}·({_fmt(u)})"
        for w, u in zip(state.window.ravel(), state.kernel.ravel())
    )
    return (
        f"y[{index(state.output_index)}] = {symbols}<br>"
        f"&nbsp;&nbsp;&nbsp;&nbsp;= {numbers} = <b>{_fmt(state.value)}</b>"
    )


def _describe(state: StepperState) -> str:
    shape = " × ".join(str(n) for n in state.output_shape)
    padded = "; cells outside 0.." + ", 0..".join(str(n - 1) for n in state.x.shape) + \
        " are padding zeros" if any(state.padding) else ""
    return (
        f"<p>Output shape: <b>{shape}</b> ({state.positions} positions); step "
        f"{state.position + 1} of {state.positions}{padded}.</p>"
        f"<p style='font-family: monospace'>{_formula(state)}</p>"
    )


def stepper(
    x: Any = None,
    kernel: Any = None,
    *,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
) -> widgets.VBox:
    """A play/step widget that slides a kernel over a 1d or 2d input.

    A ``Play`` button and a position slider (linked) move the window through
    the output positions; sliders set stride, padding and dilation per axis;
    a menu picks one of :data:`EXAMPLES` (or the ``x`` and ``kernel`` you
    pass). Impossible settings (the kernel no longer fits) show a message.

    Parameters
    ----------
    x : array_like, shape (W,) or (H, W), optional
        Your own input; then ``kernel`` is required. Keep it small (about
        12×12) so that every number stays readable.
    kernel : array_like, shape (w,) or (h, w), optional
        Your own kernel.
    stride, padding, dilation : int or tuple of int
        Initial settings for your own input (examples carry their own).

    Returns
    -------
    ipywidgets.VBox
        The widget. Its controls are in ``.controls`` (keys ``example``,
        ``play``, ``position``, ``stride_h``, ``stride_w``, ``padding_h``,
        ``padding_w``, ``dilation_h``, ``dilation_w``), the picture in
        ``.image`` (PNG bytes), the text in ``.html``, the figure in
        ``.figure`` and the last computed state in ``.state``.

    Raises
    ------
    ValueError
        If only one of ``x`` and ``kernel`` is given.

    Examples
    --------
    >>> w = stepper()
    >>> w.controls["position"].value = 2
    >>> w.state.value
    17.0
    """
    examples = dict(EXAMPLES)
    if (x is None) != (kernel is None):
        raise ValueError("give both x and kernel, or neither (to use the built-in examples)")
    if x is not None:
        examples = {"your input": dict(x=_as_signal(x, "x"), kernel=_as_signal(kernel, "kernel"),
                                       stride=stride, padding=padding, dilation=dilation),
                    **examples}

    slider = dict(continuous_update=False, style={"description_width": "110px"},
                  layout=widgets.Layout(width="320px"))
    controls: dict[str, widgets.Widget] = {
        "example": widgets.Dropdown(options=list(examples), description="example",
                                    layout=widgets.Layout(width="420px")),
        "play": widgets.Play(min=0, max=0, interval=800, description="play"),
        "position": widgets.IntSlider(min=0, max=0, description="position", **slider),
    }
    for name, low, high in (("stride", 1, 4), ("padding", 0, 3), ("dilation", 1, 4)):
        for axis, label in (("h", "rows"), ("w", "columns")):
            controls[f"{name}_{axis}"] = widgets.IntSlider(
                min=low, max=high, value=low, description=f"{name} ({label})", **slider
            )
    controls["back"] = widgets.Button(description="◀ step", layout=widgets.Layout(width="80px"))
    controls["step"] = widgets.Button(description="step ▶", layout=widgets.Layout(width="80px"))
    widgets.link((controls["play"], "value"), (controls["position"], "value"))
    image = image_widget()
    text = widgets.HTML()
    fig = new_figure(6.0, 4.0)
    box = widgets.VBox()
    busy = [False]

    def settings() -> dict[str, Any]:
        example = examples[controls["example"].value]
        nd = np.ndim(example["x"])
        values = {}
        for name in ("stride", "padding", "dilation"):
            pair = (controls[f"{name}_h"].value, controls[f"{name}_w"].value)
            values[name] = pair if nd == 2 else pair[1]
        return dict(x=example["x"], kernel=example["kernel"], **values)

    def render(*_) -> None:
        if busy[0]:
            return
        try:
            state = stepper_state(**settings(), position=controls["position"].value)
        except (ValueError, TypeError) as error:
            controls["play"].playing = False
            _draw_message(fig, str(error))
            text.value = f"<p style='color:#9b1c1c'><b>No output:</b> {html.escape(str(error))}</p>"
            image.value = _render(fig)
            box.state = None
            return
        draw_stepper(state, fig)
        image.value = _render(fig)
        text.value = _describe(state)
        box.state = state

    def reshape(*_) -> None:
        """Settings changed: fit the position range to the new output, then draw once."""
        if busy[0]:
            return
        busy[0] = True
        try:
            try:
                s = settings()
                count = math.prod(shapes.conv_output_shape(
                    np.shape(s["x"]), np.shape(s["kernel"]), s["stride"], s["padding"],
                    s["dilation"],
                ))
            except (ValueError, TypeError):
                count = 1
            for name in ("position", "play"):
                controls[name].max = count - 1
        finally:
            busy[0] = False
        render()

    def load_example(*_) -> None:
        example = examples[controls["example"].value]
        nd = np.ndim(example["x"])
        busy[0] = True
        try:
            for name in ("stride", "padding", "dilation"):
                pair = _per_axis(example[name], nd)
                for axis, value in zip("hw", (pair[0] if nd == 2 else None, pair[-1])):
                    control = controls[f"{name}_{axis}"]
                    if value is None:  # the row sliders mean nothing for a 1d input
                        value = control.min
                    # Your own settings may lie beyond the sliders' default range.
                    control.max = max(control.max, value)
                    control.value = value
                controls[f"{name}_h"].disabled = nd == 1
            controls["play"].playing = False
            controls["position"].value = 0
        finally:
            busy[0] = False
        reshape()

    def move(offset: int) -> None:
        position = controls["position"]
        position.value = min(max(position.value + offset, position.min), position.max)

    controls["back"].on_click(lambda _button: move(-1))
    controls["step"].on_click(lambda _button: move(+1))
    controls["example"].observe(load_example, "value")
    controls["position"].observe(render, "value")
    for name in ("stride", "padding", "dilation"):
        for axis in ("h", "w"):
            controls[f"{name}_{axis}"].observe(reshape, "value")

    box.children = [
        controls["example"],
        widgets.HBox([controls["play"], controls["back"], controls["step"], controls["position"]]),
        widgets.HBox([controls["stride_h"], controls["padding_h"], controls["dilation_h"]]),
        widgets.HBox([controls["stride_w"], controls["padding_w"], controls["dilation_w"]]),
        image,
        text,
    ]
    box.controls, box.image, box.html, box.figure, box.state = controls, image, text, fig, None
    load_example()
    return box
