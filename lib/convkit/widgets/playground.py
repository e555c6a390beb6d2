"""Kernel playground: edit a 3×3 or 5×5 kernel and watch its convolution with an image.

The pure part is :func:`playground_state` (image and kernel in, output maps and
a description out) and :func:`draw_playground` (state in, figure drawn). The
widget built by :func:`playground` only maps its controls onto those two.

Two ways of applying one ``h×w`` kernel to a ``C``-channel image are offered:

* ``'per_channel'`` (depthwise): ``weight`` has shape ``(C, 1, h, w)`` and
  ``groups=C``, so each colour channel gives its own output map;
* ``'across_channels'``: the kernel is repeated on every channel to form the
  lecture's ``C×h×w`` kernel, ``weight`` has shape ``(1, C, h, w)`` and the
  ``C`` per-channel responses are summed into a single map.

``KERNEL_PRESETS`` holds read-only kernels: the five of the lecture (identity,
the all-ones box blur, left unnormalised as in the lecture, the vertical and
horizontal edge detectors and the laplacian), a sharpening kernel, binomial
Gaussians, and 5×5 variants.
"""
from __future__ import annotations

import html
import math
import weakref
from typing import Any, NamedTuple

import numpy as np
from matplotlib.figure import Figure

from convkit.widgets._canvas import image_widget, png_bytes
from convkit import plot, reference

__all__ = [
    "KERNEL_PRESETS",
    "PlaygroundState",
    "playground_state",
    "draw_playground",
    "playground",
]

_MODES = ("per_channel", "across_channels")
_PADDINGS = ("valid", "same")
_CHANNEL_NAMES = ("red", "green", "blue")


def _binomial_kernel(size: int) -> np.ndarray:
    # Rows of Pascal's triangle are the standard integer approximation of a
    # Gaussian; the outer product gives a separable 2D kernel summing to 1.
    row = np.array([math.comb(size - 1, k) for k in range(size)], dtype=float)
    return np.outer(row, row) / row.sum() ** 2


def _identity_kernel(size: int) -> np.ndarray:
    kernel = np.zeros((size, size))
    kernel[size // 2, size // 2] = 1.0
    return kernel


def _frozen(values: Any) -> np.ndarray:
    array = np.array(values, dtype=float)
    array.setflags(write=False)
    return array


KERNEL_PRESETS: dict[str, np.ndarray] = {
    "identity": _frozen(_identity_kernel(3)),
    # The lecture's blur is all ones and is NOT divided by 9: a flat region of
    # value v comes out as 9v. Kept that way so the outputs match the lecture.
    "box blur": _frozen(np.ones((3, 3))),
    "vertical edges": _frozen([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]),
    "horizontal edges": _frozen([[-1, -1, -1], [0, 0, 0], [1, 1, 1]]),
    "laplacian": _frozen([[0, -1, 0], [-1, 4, -1], [0, -1, 0]]),
    # identity + laplacian: the centre is boosted by the difference to its neighbours.
    "sharpen": _frozen([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "gaussian 3x3": _frozen(_binomial_kernel(3)),
    "box blur 5x5": _frozen(np.ones((5, 5))),
    "gaussian 5x5": _frozen(_binomial_kernel(5)),
    # Unsharp masking: identity + (identity - blur), a wider sharpening.
    "sharpen 5x5": _frozen(2 * _identity_kernel(5) - _binomial_kernel(5)),
}

_PRESET_NOTES = {
    "identity": "copies the input; with 'valid' padding only its interior (the one-pixel border is lost)",
    "box blur": "the lecture's all-ones kernel, not normalised: a flat area of value v becomes 9v",
    "vertical edges": "responds to left-to-right changes: positive where the image gets brighter to the right",
    "horizontal edges": "responds to top-to-bottom changes: positive where the image gets brighter downwards",
    "laplacian": "zero on flat areas and on linear ramps, large on thin strokes and corners",
    "sharpen": "identity + laplacian: keeps the image and boosts its edges",
    "gaussian 3x3": "binomial weights [1, 2, 1]ᵀ[1, 2, 1] / 16, sums to 1",
    "box blur 5x5": "all ones, not normalised: a flat area of value v becomes 25v",
    "gaussian 5x5": "binomial weights [1, 4, 6, 4, 1]ᵀ[1, 4, 6, 4, 1] / 256, sums to 1",
    "sharpen 5x5": "2·identity − gaussian 5x5 (unsharp masking)",
}


class PlaygroundState(NamedTuple):
    """Everything the playground shows, computed by :func:`playground_state`.

    Attributes
    ----------
    input : np.ndarray
        The image as ``(C, H, W)`` float64 (a 2D image becomes ``C = 1``).
    kernel : np.ndarray
        The ``(h, w)`` kernel.
    weight : np.ndarray
        The weight passed to the convolution: ``(C, 1, h, w)`` per channel,
        ``(1, C, h, w)`` across channels.
    output : np.ndarray
        The output maps ``(D, H', W')``: ``D = C`` per channel, ``D = 1`` across channels.
    output_shape : tuple[int, int, int]
        ``output.shape``.
    mode : str
        ``'per_channel'`` or ``'across_channels'``.
    padding : str
        ``'valid'`` or ``'same'``.
    description : str
        A plain-text account of the shapes and of the value range of the output.
    """

    input: np.ndarray
    kernel: np.ndarray
    weight: np.ndarray
    output: np.ndarray
    output_shape: tuple[int, int, int]
    mode: str
    padding: str
    description: str


def _as_chw(image: Any) -> np.ndarray:
    try:
        array = np.asarray(image, dtype=float)
    except (TypeError, ValueError) as error:
        raise TypeError(f"image must be a numeric array, got {type(image).__name__}") from error
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or min(array.shape) < 1:
        raise ValueError(
            f"image must have shape (H, W) or (C, H, W) with no empty axis, got shape {np.shape(image)}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"image contains non-finite values (image shape {array.shape})")
    return array


def _as_kernel(kernel: Any) -> np.ndarray:
    try:
        array = np.asarray(kernel, dtype=float)
    except (TypeError, ValueError) as error:
        raise TypeError(f"kernel must be a numeric (h, w) array, got {kernel!r}") from error
    if array.ndim != 2 or min(array.shape) < 1:
        raise ValueError(f"kernel must have shape (h, w) with h, w >= 1, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        bad = [(int(i), int(j)) for i, j in zip(*np.nonzero(~np.isfinite(array)))]
        raise ValueError(f"kernel contains non-finite values (nan or inf) at (row, col) {bad}")
    return array


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(n) for n in shape)


def playground_state(
    image: Any,
    kernel: Any,
    *,
    mode: str = "per_channel",
    padding: str = "valid",
) -> PlaygroundState:
    """Convolve an image with one kernel, per channel or across channels.

    ``output[d, i, j] = sum_{c, u, v} x[c, i + u, j + v] * weight[d, c, u, v]``,
    a cross-correlation as in ``torch.nn.functional.conv2d`` (the kernel is not flipped).

    Parameters
    ----------
    image : array_like
        ``(H, W)`` or ``(C, H, W)`` image (NumPy array or torch tensor).
    kernel : array_like
        ``(h, w)`` kernel, for example ``KERNEL_PRESETS["vertical edges"]``.
    mode : {'per_channel', 'across_channels'}
        ``'per_channel'``: weight ``(C, 1, h, w)`` with ``groups=C``, output
        ``(C, H', W')``, one map per channel. ``'across_channels'``: the kernel
        is repeated over the ``C`` channels, weight ``(1, C, h, w)``, output
        ``(1, H', W')`` (the channel responses are summed).
    padding : {'valid', 'same'}
        ``'valid'``: no padding, ``H' = H - h + 1`` and ``W' = W - w + 1`` as in
        the lecture. ``'same'``: a zero frame of ``h - 1`` rows and ``w - 1``
        columns (the extra one at the bottom/right for even sizes, as torch
        does), so ``H' = H`` and ``W' = W``.

    Returns
    -------
    PlaygroundState
        Input ``(C, H, W)``, kernel, weight, output ``(D, H', W')``, its shape,
        the mode, the padding and a description.

    Raises
    ------
    ValueError
        If a shape is wrong, a value is not finite, ``mode`` or ``padding`` is
        unknown, or the kernel is larger than the image with ``'valid'``.
    TypeError
        If ``image`` or ``kernel`` is not numeric.

    Examples
    --------
    A step from 0 to 1 between columns 2 and 3 seen by the vertical-edge kernel:

    >>> step = np.zeros((4, 6)); step[:, 3:] = 1
    >>> state = playground_state(step, KERNEL_PRESETS["vertical edges"])
    >>> state.output_shape
    (1, 2, 4)
    >>> state.output[0]
    array([[0., 3., 3., 0.],
           [0., 3., 3., 0.]])
    """
    x = _as_chw(image)
    k = _as_kernel(kernel)
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    if padding not in _PADDINGS:
        raise ValueError(f"padding must be one of {_PADDINGS}, got {padding!r}")
    C, H, W = x.shape
    h, w = k.shape
    if padding == "valid" and (h > H or w > W):
        raise ValueError(
            f"kernel of shape {k.shape} is larger than the image (image shape {x.shape}); "
            "use padding='same' or a smaller kernel"
        )

    if mode == "per_channel":
        weight = np.repeat(k[None, None], C, axis=0)
        groups = C
    else:
        weight = np.repeat(k[None, None], C, axis=1)
        groups = 1
    output = np.asarray(reference.conv2d(x[None], weight, padding=padding, groups=groups))[0]
    output_shape = tuple(int(n) for n in output.shape)

    if mode == "per_channel":
        how = (
            f"kernel {h}×{w} applied to each channel separately: weight {_fmt_shape(weight.shape)}, "
            f"groups={groups}, one output map per channel"
        )
    else:
        how = (
            f"kernel {h}×{w} repeated over the {C} channel(s) into a C×h×w = {_fmt_shape(weight.shape[1:])} "
            f"kernel: weight {_fmt_shape(weight.shape)}, the channel responses are summed into one map"
        )
    if padding == "valid":
        size_rule = f"no padding: (H − h + 1)×(W − w + 1) = ({H} − {h} + 1)×({W} − {w} + 1)"
    else:
        size_rule = f"zero frame of {h - 1} row(s) and {w - 1} column(s): output H×W = {H}×{W}"
    description = (
        f"input {_fmt_shape(x.shape)}; {how}; output {_fmt_shape(output_shape)} ({size_rule}); "
        f"output values in [{output.min():.3g}, {output.max():.3g}]"
    )
    return PlaygroundState(x, k, weight, output, output_shape, mode, padding, description)


# The axes and artists of each figure drawn into, so that a redraw updates
# them in place instead of rebuilding the figure.
_ARTISTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _display_rgb(x: np.ndarray) -> np.ndarray:
    rgb = np.moveaxis(x, 0, -1)
    low, high = rgb.min(), rgb.max()
    if low < 0 or high > 1:
        rgb = (rgb - low) / (high - low) if high > low else np.zeros_like(rgb)
    return rgb


def _build_playground_axes(fig: Figure, rgb: bool, n_out: int) -> dict[str, Any]:
    fig.clear()
    ratios = [1.0, 0.75] + [1.0] * n_out + [0.07]
    width = 2.3 * sum(ratios) + 0.7
    fig.set_size_inches(width, 2.9)
    # The right margin is fixed in inches so the colorbar labels always fit.
    grid = fig.add_gridspec(
        1, len(ratios), width_ratios=ratios, left=0.02, right=1 - 0.55 / width, bottom=0.04, top=0.78, wspace=0.12
    )
    axes = [fig.add_subplot(grid[0, c]) for c in range(len(ratios) - 1)]
    # Tick labels are most of the drawing time and the titles give the shapes.
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    return {
        "key": (rgb, n_out),
        "ax_in": axes[0],
        "ax_kernel": axes[1],
        "ax_outs": axes[2:],
        "cax": fig.add_subplot(grid[0, -1]),
        "im_in": None,
        "kernel_texts": [],
        "colorbar": None,
    }


def _bare(ax: Any) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")


def draw_playground(state: PlaygroundState, fig: Figure) -> None:
    """Draw input, kernel and output maps of a playground state into ``fig``.

    Left to right: the input (gray, or RGB when it has 3 channels), the kernel
    with its values written in the cells, then the ``D`` output maps on a
    diverging colormap centred on zero, with shared limits ``±max|output|``
    and one colorbar. Drawing again into the same figure with a state of the
    same layout (same number of input and output channels) updates the
    existing axes and images; otherwise the figure is cleared and rebuilt.

    Parameters
    ----------
    state : PlaygroundState
        From :func:`playground_state`.
    fig : matplotlib.figure.Figure
        The figure to draw into.

    Returns
    -------
    None

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(8, 2.5))
    >>> draw_playground(playground_state(np.eye(5), KERNEL_PRESETS["laplacian"]), fig)
    >>> len(fig.axes)  # input, kernel, one output, colorbar
    4
    """
    x, kernel, out = state.input, state.kernel, state.output
    rgb = x.shape[0] == 3
    artists = _ARTISTS.get(fig)
    if artists is None or artists["key"] != (rgb, out.shape[0]) or artists["ax_in"] not in fig.axes:
        artists = _build_playground_axes(fig, rgb, out.shape[0])
        _ARTISTS[fig] = artists

    ax_in = artists["ax_in"]
    if rgb:
        height, width = x.shape[1:]
        if artists["im_in"] is None:
            artists["im_in"] = ax_in.imshow(_display_rgb(x), interpolation="nearest")
        else:
            artists["im_in"].set_data(_display_rgb(x))
            artists["im_in"].set_extent((-0.5, width - 0.5, height - 0.5, -0.5))
        ax_in.set_title(f"input (RGB) {_fmt_shape(x.shape)}", fontsize=9)
    else:
        artists["im_in"] = plot.draw_map(ax_in, x[0], signed=False)
        ax_in.set_title(f"input {_fmt_shape(x.shape)}", fontsize=9)

    ax_kernel = artists["ax_kernel"]
    k_max = float(np.abs(kernel).max()) or 1.0
    plot.draw_map(ax_kernel, kernel, signed=True, vmax=k_max)
    ax_kernel.set_title(f"kernel {kernel.shape[0]}×{kernel.shape[1]}", fontsize=9)
    for text in artists["kernel_texts"]:
        text.remove()
    # 5×5 cells are narrower: fewer digits in a smaller font.
    fontsize, digits = (9, 3) if max(kernel.shape) <= 3 else (6, 2)
    artists["kernel_texts"] = [
        ax_kernel.text(
            j, i, f"{kernel[i, j]:.{digits}g}", ha="center", va="center", fontsize=fontsize,
            # white on the saturated ends of the colormap, black elsewhere
            color="white" if abs(kernel[i, j]) > 0.6 * k_max else "black",
        )
        for i in range(kernel.shape[0])
        for j in range(kernel.shape[1])
    ]

    # One colour scale for all output maps, so that channels can be compared.
    vmax = float(np.abs(out).max()) or 1.0
    images = []
    for d, ax in enumerate(artists["ax_outs"]):
        if state.mode == "across_channels":
            name = f"output: sum of {x.shape[0]} channel(s)"
        elif rgb:
            name = f"output: {_CHANNEL_NAMES[d]} channel"
        else:
            name = "output"
        images.append(plot.draw_map(ax, out[d], signed=True, vmax=vmax))
        ax.set_title(f"{name}\n{out.shape[1]}×{out.shape[2]}", fontsize=9)
    if artists["colorbar"] is None:
        artists["colorbar"] = fig.colorbar(images[0], cax=artists["cax"])
        for ax in [ax_in, ax_kernel, *artists["ax_outs"]]:
            _bare(ax)
    fig.suptitle(
        f"{state.mode.replace('_', ' ')}, padding '{state.padding}': "
        f"input {_fmt_shape(x.shape)} → output {_fmt_shape(state.output_shape)}",
        fontsize=10,
    )


def playground(*, digit_index: int = 12, photo_size: int = 80):
    """Build the kernel playground widget.

    Controls: a preset dropdown (fills the kernel cells), the kernel size
    (3×3 or 5×5), a grid of ``FloatText`` cells, the image source (an MNIST
    digit, index selectable, or the photograph downsampled so that its short
    side is ``photo_size`` pixels), the mode (per channel or across channels)
    and the padding (``'valid'`` or ``'same'``). Every change redraws the
    figure; a kernel that cannot be used (non-finite value) or data that cannot
    be loaded becomes a message under the figure, never an exception.

    Parameters
    ----------
    digit_index : int
        MNIST training image shown first (the lecture uses 12).
    photo_size : int
        Short side, in pixels, of the downsampled photograph (small keeps updates fast).

    Returns
    -------
    ipywidgets.VBox
        The widget. Attributes for programmatic use: ``controls`` (dict of the
        control widgets: ``'preset'``, ``'size'``, ``'source'``, ``'index'``,
        ``'mode'``, ``'padding'``), ``cells`` (5×5 nested list of
        ``FloatText``; the top-left ``size×size`` block is the kernel, and
        changing the size keeps it centred),
        ``grid`` (the box showing those cells),
        ``image`` (``ipywidgets.Image`` with the PNG), ``html`` (the text),
        ``figure`` and ``update()`` (redraw now).
    """
    import ipywidgets as widgets

    from convkit import data

    fig = Figure(dpi=72)
    preset = widgets.Dropdown(options=list(KERNEL_PRESETS), value="vertical edges", description="preset")
    size = widgets.ToggleButtons(options=[("3×3", 3), ("5×5", 5)], value=3, description="kernel")
    cells = [
        [widgets.FloatText(value=0.0, layout=widgets.Layout(width="68px")) for _ in range(5)] for _ in range(5)
    ]
    grid = widgets.GridBox(layout=widgets.Layout(grid_template_columns="repeat(3, 72px)"))
    source = widgets.ToggleButtons(options=[("MNIST digit", "digit"), ("photo", "photo")], description="image")
    index = widgets.BoundedIntText(value=digit_index, min=0, max=59_999, description="digit index")
    mode = widgets.ToggleButtons(
        options=[("per channel", "per_channel"), ("across channels", "across_channels")], description="mode"
    )
    padding = widgets.ToggleButtons(options=["valid", "same"], description="padding")
    image_out = image_widget()
    text_out = widgets.HTML()
    images: dict[Any, np.ndarray] = {}
    busy = {"filling": False}

    def current_image() -> np.ndarray:
        key = ("photo",) if source.value == "photo" else ("digit", int(index.value))
        if key not in images:
            if key[0] == "photo":
                images[key] = np.asarray(data.photo(size=photo_size), dtype=float)
            else:
                images[key] = np.asarray(data.digit(key[1], verbose=False), dtype=float)
        return images[key]

    def current_kernel() -> np.ndarray:
        n = size.value
        return np.array([[cells[i][j].value for j in range(n)] for i in range(n)], dtype=float)

    def show_cells() -> None:
        n = size.value
        grid.layout.grid_template_columns = f"repeat({n}, 72px)"
        grid.children = tuple(cells[i][j] for i in range(n) for j in range(n))

    def update(*_: Any) -> None:
        if busy["filling"]:
            return
        index.disabled = source.value == "photo"
        try:
            state = playground_state(current_image(), current_kernel(), mode=mode.value, padding=padding.value)
        except (ValueError, TypeError, IndexError, KeyError, OSError, RuntimeError) as error:
            text_out.value = f"<b>Cannot update:</b> {html.escape(str(error))}"
            return
        draw_playground(state, fig)
        image_out.value = png_bytes(fig)
        note = _PRESET_NOTES.get(preset.value) if preset.value is not None else None
        parts = [html.escape(state.description)]
        if note:
            parts.insert(0, f"<b>{html.escape(preset.value)}</b>: {html.escape(note)}")
        text_out.value = "<br>".join(parts)

    def fill(kernel: np.ndarray) -> None:
        """Show ``kernel`` in the cells without redrawing once per cell."""
        busy["filling"] = True
        try:
            size.value = kernel.shape[0]
            for i in range(5):
                for j in range(5):
                    inside = i < kernel.shape[0] and j < kernel.shape[1]
                    cells[i][j].value = float(kernel[i, j]) if inside else 0.0
            show_cells()
        finally:
            busy["filling"] = False

    def fill_from_preset(change: dict) -> None:
        if change["new"] is not None:
            fill(KERNEL_PRESETS[change["new"]])
            update()

    def forget_preset_if_edited() -> None:
        # Once the cells no longer hold the preset, the dropdown stops naming it;
        # choosing the preset again then restores its values.
        if preset.value is None:
            return
        chosen, edited = KERNEL_PRESETS[preset.value], current_kernel()
        if edited.shape != chosen.shape or not np.array_equal(edited, chosen):
            busy["filling"] = True
            preset.value = None
            busy["filling"] = False

    def cell_edited(_: dict) -> None:
        if busy["filling"]:
            return
        forget_preset_if_edited()
        update()

    def size_changed(change: dict) -> None:
        if busy["filling"]:
            return
        old_n, new_n = change["old"], change["new"]
        old = np.array([[cells[i][j].value for j in range(old_n)] for i in range(old_n)], dtype=float)
        # Keep the kernel centred: a 3×3 grows a zero border, a 5×5 keeps its middle.
        if new_n > old_n:
            fill(np.pad(old, (new_n - old_n) // 2))
        else:
            margin = (old_n - new_n) // 2
            fill(old[margin : margin + new_n, margin : margin + new_n])
        forget_preset_if_edited()
        update()

    preset.observe(fill_from_preset, names="value")
    size.observe(size_changed, names="value")
    for row in cells:
        for cell in row:
            cell.observe(cell_edited, names="value")
    for control in (source, index, mode, padding):
        control.observe(update, names="value")

    box = widgets.VBox(
        [
            widgets.HBox([widgets.VBox([preset, size, grid]), widgets.VBox([source, index, mode, padding])]),
            image_out,
            text_out,
        ]
    )
    box.controls = {
        "preset": preset,
        "size": size,
        "source": source,
        "index": index,
        "mode": mode,
        "padding": padding,
    }
    box.cells = cells
    box.grid = grid
    box.image = image_out
    box.html = text_out
    box.figure = fig
    box.update = update
    fill_from_preset({"new": preset.value})
    return box
