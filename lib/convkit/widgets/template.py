"""Template matcher: a patch of an image used as a convolution kernel.

Convolving an image with one of its own patches gives a response map whose
value at ``(i, j)`` scores the window whose top-left corner is ``(i, j)``.
Two scores are shown side by side:

* the plain cross-correlation ``conv2d(image, patch)``, which grows with the
  brightness of the window as much as with its resemblance to the patch, so
  it tends to peak on bright areas;
* the normalised cross-correlation (NCC), the correlation coefficient between
  the window and the patch, in ``[-1, 1]`` and equal to 1 exactly where the
  window is an affine copy ``a * patch + b`` (``a > 0``) of the patch, in
  particular at the patch's own location.

Both are computed with convolutions: NCC needs one convolution with the
zero-mean patch and two with a kernel of ones (the window sums of ``x`` and
of ``x²``).
"""
from __future__ import annotations

import html
import weakref
from typing import Any, NamedTuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from convkit.widgets._canvas import image_widget, png_bytes
from convkit import plot, reference

__all__ = [
    "TemplateState",
    "normalized_cross_correlation",
    "template_state",
    "draw_template",
    "template_matcher",
]

# Windows whose spread is below this fraction of their energy count as flat:
# the correlation coefficient is undefined there and reported as 0.
_FLAT = 1e-9
# ITU-R BT.601 luma weights, to turn the RGB photograph into one channel.
_LUMA = np.array([0.299, 0.587, 0.114])
_TRUE_COLOR, _PLAIN_COLOR, _NCC_COLOR = "#00b000", "darkorange", "magenta"


def _as_image2d(value: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a numeric 2d array, got {type(value).__name__}") from error
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or min(array.shape) < 1:
        raise ValueError(f"{name} must have shape (H, W) (or (1, H, W)), got shape {np.shape(value)}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains non-finite values ({name} shape {array.shape})")
    return array


def _plain_and_ncc(x: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain correlation and NCC of a validated ``(H, W)`` image with an ``(h, w)`` patch."""
    h, w = p.shape
    p0 = p - p.mean()
    # One convolution with D = 2 filters, the patch and its zero-mean version.
    # As sum(P0) = 0, sum(X * P0) already equals sum((X - mean X) * P0).
    plain, numerator = reference.conv2d(x[None, None], np.stack([p, p0])[:, None])[0]
    # Window sums of x and of x² in one grouped convolution: channel 0 is x,
    # channel 1 is x², and each gets its own h×w kernel of ones (groups=2).
    window_sum, window_energy = reference.conv2d(np.stack([x, x**2])[None], np.ones((2, 1, h, w)), groups=2)[0]
    # sum((X - mean X)²) from the window sums; rounding can make it slightly negative.
    window_spread = np.maximum(window_energy - window_sum**2 / (h * w), 0.0)
    patch_spread = float(np.sum(p0**2))
    if patch_spread <= _FLAT * float(np.sum(p**2)):
        return plain, np.zeros_like(plain)
    flat = window_spread <= _FLAT * window_energy
    denominator = np.sqrt(np.where(flat, 1.0, window_spread) * patch_spread)
    ncc = np.where(flat, 0.0, numerator / denominator)
    return plain, np.clip(ncc, -1.0, 1.0)


def normalized_cross_correlation(image2d: Any, patch: Any) -> np.ndarray:
    """Correlation coefficient between a patch and every window of an image.

    ``NCC[i, j] = sum((X - mean X) * (P - mean P)) / sqrt(sum((X - mean X)²) * sum((P - mean P)²))``
    where ``X = image2d[i:i+h, j:j+w]`` and ``P = patch``. Computed with
    convolutions: the image with the zero-mean patch gives the numerator, and
    the image and its square with an ``h×w`` kernel of ones give the window
    sums, from which ``sum((X - mean X)²) = sum(X²) - (sum X)² / (h w)``.

    Parameters
    ----------
    image2d : array_like
        ``(H, W)`` image (``(1, H, W)`` is accepted too).
    patch : array_like
        ``(h, w)`` template with ``h <= H`` and ``w <= W``.

    Returns
    -------
    np.ndarray
        ``(H - h + 1, W - w + 1)`` float64 map with values in ``[-1, 1]``.
        Where a window or the patch is constant the coefficient is undefined
        (0 / 0) and the map holds 0.

    Raises
    ------
    ValueError
        If an array is not 2d, holds non-finite values, or the patch is larger
        than the image.
    TypeError
        If an argument is not numeric.

    Examples
    --------
    Windows of ``(1, 2, 3, 2, 1)`` against the patch ``(1, 2)``: the rising
    pairs match perfectly, the falling ones are perfect opposites.

    >>> normalized_cross_correlation([[1, 2, 3, 2, 1]], [[1, 2]])
    array([[ 1.,  1., -1., -1.]])
    """
    x = _as_image2d(image2d, "image2d")
    p = _as_image2d(patch, "patch")
    (H, W), (h, w) = x.shape, p.shape
    if h > H or w > W:
        raise ValueError(f"patch of shape {p.shape} is larger than image2d of shape {x.shape}")
    return _plain_and_ncc(x, p)[1]


class TemplateState(NamedTuple):
    """Everything the template matcher shows, computed by :func:`template_state`.

    Attributes
    ----------
    image : np.ndarray
        ``(H, W)`` float64 image.
    patch : np.ndarray
        ``(h, w)`` patch cut from the image, used as the kernel.
    top, left : int
        Top-left corner of the patch in the image; ``(top, left)`` is also the
        position of the patch's own window in both response maps.
    plain : np.ndarray
        ``(H - h + 1, W - w + 1)`` plain cross-correlation ``conv2d(image, patch)``.
    ncc : np.ndarray
        Same shape, the normalised cross-correlation (see
        :func:`normalized_cross_correlation`).
    plain_peak, ncc_peak : tuple[int, int]
        ``(row, col)`` of the maximum of each map (first one in row-major
        order if there are ties).
    description : str
        Plain-text summary: shapes, peaks and the NCC value at the patch.
    """

    image: np.ndarray
    patch: np.ndarray
    top: int
    left: int
    plain: np.ndarray
    ncc: np.ndarray
    plain_peak: tuple[int, int]
    ncc_peak: tuple[int, int]
    description: str


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r} of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {name}={value}")
    return int(value)


def _argmax2d(values: np.ndarray) -> tuple[int, int]:
    row, col = np.unravel_index(int(np.argmax(values)), values.shape)
    return int(row), int(col)


def template_state(image2d: Any, top: int, left: int, height: int, width: int) -> TemplateState:
    """Cut a patch out of an image and match it against the whole image.

    ``plain = conv2d(image, patch)`` and ``ncc = normalized_cross_correlation(image, patch)``
    with ``patch = image[top:top+height, left:left+width]``.

    Parameters
    ----------
    image2d : array_like
        ``(H, W)`` image (``(1, H, W)`` is accepted too).
    top, left : int
        Top-left corner of the patch, ``0 <= top <= H - height`` and ``0 <= left <= W - width``.
    height, width : int
        Patch size ``h×w``, at least 1.

    Returns
    -------
    TemplateState
        The patch, both ``(H - h + 1, W - w + 1)`` response maps, their peaks
        and a description.

    Raises
    ------
    ValueError
        If the patch does not fit inside the image, or the image is not a
        finite 2d array.
    TypeError
        If a position or size is not an int.

    Examples
    --------
    A bright square and, to its right, a dimmer copy with a dark dot in it:

    >>> image = np.zeros((6, 10))
    >>> image[1:4, 1:4] = 9.0
    >>> image[1:4, 6:9] = 1.0
    >>> image[2, 7] = 0.0
    >>> state = template_state(image, 1, 6, 3, 3)
    >>> state.plain_peak, state.ncc_peak, round(float(state.ncc[1, 6]), 6)
    ((1, 1), (1, 6), 1.0)
    """
    x = _as_image2d(image2d, "image2d")
    top = _check_int(top, "top", 0)
    left = _check_int(left, "left", 0)
    height = _check_int(height, "height", 1)
    width = _check_int(width, "width", 1)
    H, W = x.shape
    if top + height > H or left + width > W:
        raise ValueError(
            f"patch rows {top}..{top + height - 1} and columns {left}..{left + width - 1} "
            f"(top={top}, left={left}, height={height}, width={width}) do not fit in the image of shape {x.shape}"
        )
    patch = x[top : top + height, left : left + width].copy()
    plain, ncc = _plain_and_ncc(x, patch)
    plain_peak, ncc_peak = _argmax2d(plain), _argmax2d(ncc)

    where = "at the patch" if plain_peak == (top, left) else "away from the patch"
    if np.ptp(patch) == 0:
        ncc_text = "the patch is constant, so NCC is undefined (shown as 0 everywhere)"
    else:
        ncc_text = (
            f"NCC peaks at (row {ncc_peak[0]}, col {ncc_peak[1]}) with {ncc[ncc_peak]:.3f}; "
            f"at the patch NCC = {ncc[top, left]:.3f}"
        )
    description = (
        f"image {H}×{W}, patch {height}×{width} at (row {top}, col {left}); response maps "
        f"(H − h + 1)×(W − w + 1) = {plain.shape[0]}×{plain.shape[1]}; plain correlation peaks at "
        f"(row {plain_peak[0]}, col {plain_peak[1]}), {where}; {ncc_text}"
    )
    return TemplateState(x, patch, top, left, plain, ncc, plain_peak, ncc_peak, description)


def _headline(state: TemplateState) -> str:
    here = (state.top, state.left)
    if np.ptp(state.patch) == 0:
        return "A constant patch: plain correlation only measures brightness, NCC is undefined"
    if state.ncc_peak == here and state.plain_peak != here:
        return (
            f"NCC finds the patch (NCC = {state.ncc[here]:.2f} at row {here[0]}, col {here[1]}); "
            f"plain correlation peaks elsewhere (row {state.plain_peak[0]}, col {state.plain_peak[1]}), "
            "on brighter pixels"
        )
    if state.ncc_peak == here:
        return f"Both peak at the patch (row {here[0]}, col {here[1]}); NCC = {state.ncc[here]:.2f} there"
    return (
        f"NCC peaks at row {state.ncc_peak[0]}, col {state.ncc_peak[1]} "
        f"(a window with the same pattern; NCC at the patch = {state.ncc[here]:.2f})"
    )


# The axes and artists of each figure drawn into, so that a redraw updates
# them in place instead of rebuilding the figure.
_ARTISTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _build_template_axes(fig: Figure) -> dict[str, Any]:
    fig.clear()
    fig.set_size_inches(10.5, 4.0)
    grid = fig.add_gridspec(
        1, 5, width_ratios=[1, 1, 0.05, 1, 0.05], left=0.02, right=0.95, bottom=0.14, top=0.8, wspace=0.15
    )
    ax_image, ax_plain, cax_plain, ax_ncc, cax_ncc = (fig.add_subplot(grid[0, c]) for c in range(5))
    # Square pixels leave spare width in each column: push the maps against their colorbars.
    ax_plain.set_anchor("E")
    ax_ncc.set_anchor("E")
    rectangles = {
        key: ax_image.add_patch(Rectangle((0, 0), 1, 1, fill=False, lw=lw, ls=ls, ec=color, label=label))
        for key, color, ls, lw, label in [
            ("true", _TRUE_COLOR, "-", 2.0, "patch (its true location)"),
            ("plain", _PLAIN_COLOR, "--", 1.5, "window where plain correlation peaks"),
            ("ncc", _NCC_COLOR, ":", 2.0, "window where NCC peaks"),
        ]
    }
    true_style = dict(ls="none", marker="s", mfc="none", mec=_TRUE_COLOR, ms=9, mew=2)
    peak_style = dict(ls="none", ms=10, mew=2)
    markers = {
        ("plain", "true"): ax_plain.plot([], [], **true_style)[0],
        ("plain", "peak"): ax_plain.plot([], [], marker="x", color=_PLAIN_COLOR, **peak_style)[0],
        ("ncc", "true"): ax_ncc.plot([], [], **true_style)[0],
        ("ncc", "peak"): ax_ncc.plot([], [], marker="+", color=_NCC_COLOR, **peak_style)[0],
    }
    fig.legend(handles=list(rectangles.values()), loc="lower center", ncol=3, fontsize=8, frameon=False)
    return {
        "axes": (ax_image, ax_plain, ax_ncc),
        "caxes": (cax_plain, cax_ncc),
        "rectangles": rectangles,
        "markers": markers,
        "colorbars": None,
    }


def draw_template(state: TemplateState, fig: Figure) -> None:
    """Draw the image with the patch, the plain response and the NCC response.

    Left: the image in gray with three rectangles, the patch (solid), the
    window where the plain correlation peaks (dashed) and the one where NCC
    peaks (dotted). Middle: the plain response (gray, or diverging if it has
    negative values). Right: NCC on a diverging colormap fixed to ``[-1, 1]``.
    On both maps a square marks the patch's own position ``(top, left)`` and a
    cross the map's maximum. The figure title says whether NCC finds the patch
    while the plain correlation peaks elsewhere. Drawing again into the same
    figure updates its artists in place.

    Parameters
    ----------
    state : TemplateState
        From :func:`template_state`.
    fig : matplotlib.figure.Figure
        The figure to draw into.

    Returns
    -------
    None

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure()
    >>> draw_template(template_state(np.arange(30.0).reshape(5, 6) % 4, 1, 1, 2, 2), fig)
    >>> len(fig.axes)  # image, plain, colorbar, ncc, colorbar
    5
    """
    artists = _ARTISTS.get(fig)
    if artists is None or artists["axes"][0] not in fig.axes:
        artists = _build_template_axes(fig)
        _ARTISTS[fig] = artists
    ax_image, ax_plain, ax_ncc = artists["axes"]
    h, w = state.patch.shape

    plot.draw_map(ax_image, state.image, signed=False)
    ax_image.set_title(f"image {state.image.shape[0]}×{state.image.shape[1]}, patch {h}×{w}", fontsize=9)
    for key, (row, col) in [("true", (state.top, state.left)), ("plain", state.plain_peak), ("ncc", state.ncc_peak)]:
        rectangle = artists["rectangles"][key]
        # Pixel (r, c) covers [c - 0.5, c + 0.5] × [r - 0.5, r + 0.5].
        rectangle.set_xy((col - 0.5, row - 0.5))
        rectangle.set_width(w)
        rectangle.set_height(h)

    signed = bool(state.plain.min() < 0)
    image_plain = plot.draw_map(ax_plain, state.plain, signed=signed)
    ax_plain.set_title(
        f"plain: conv2d(image, patch)\npeak at (row {state.plain_peak[0]}, col {state.plain_peak[1]})", fontsize=9
    )
    image_ncc = plot.draw_map(ax_ncc, state.ncc, signed=True, vmax=1.0)
    ax_ncc.set_title(
        f"normalised cross-correlation\npeak {state.ncc[state.ncc_peak]:.2f} at "
        f"(row {state.ncc_peak[0]}, col {state.ncc_peak[1]})",
        fontsize=9,
    )
    for name, peak in [("plain", state.plain_peak), ("ncc", state.ncc_peak)]:
        artists["markers"][(name, "true")].set_data([state.left], [state.top])
        artists["markers"][(name, "peak")].set_data([peak[1]], [peak[0]])

    if artists["colorbars"] is None:
        artists["colorbars"] = (
            fig.colorbar(image_plain, cax=artists["caxes"][0]),
            fig.colorbar(image_ncc, cax=artists["caxes"][1]),
        )
        # Tick labels are most of the drawing time and the titles give the positions.
        for ax in artists["axes"]:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel("")
            ax.set_ylabel("")
    fig.suptitle(_headline(state), fontsize=10)


def _gray_photo(size: int) -> np.ndarray:
    from convkit import data

    rgb = np.asarray(data.photo(size=size), dtype=float)
    return np.tensordot(_LUMA, rgb, axes=1)


def _digit_sheet(pool: int = 300) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A 2×3 sheet of MNIST digits: the thinnest of the first ``pool``, among the five boldest.

    Returns the ``(56, 84)`` sheet and ``(top, left, height, width)`` of the
    thin digit's ink bounding box, the default patch.
    """
    from convkit import data

    images, _ = data.mnist(verbose=False)
    digits = images[:pool].numpy().astype(float) / 255.0
    ink = digits.sum(axis=(1, 2))
    thin = int(np.argmin(ink))
    bold = [int(i) for i in np.argsort(-ink) if i != thin][:5]
    # The thin digit sits in the second row, first column, below and beside bold ones.
    order = [bold[0], bold[1], bold[2], thin, bold[3], bold[4]]
    cells = [digits[i] for i in order]
    sheet = np.block([cells[:3], cells[3:]])
    rows = np.flatnonzero(digits[thin].sum(axis=1) > 0)
    cols = np.flatnonzero(digits[thin].sum(axis=0) > 0)
    box = (28 + int(rows[0]), int(cols[0]), int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1))
    return sheet, box


# Default patch on the photograph: one star of the flag, top left.
_PHOTO_PATCH = (6, 1, 10, 10)


def template_matcher(*, photo_size: int = 80):
    """Build the template-matcher widget.

    Controls: the image source (the photograph in gray, short side
    ``photo_size`` pixels, or a 2×3 sheet of MNIST digits in which the
    thinnest digit sits among bold ones) and four sliders for the patch's
    top-left row and column and its height and width. Each change recomputes
    both response maps and redraws the figure; the text under it gives the
    shapes and peaks. Switching the source restores that source's default
    patch (a star of the flag; the thin digit), where the plain correlation
    peaks away from the patch and NCC peaks exactly on it.

    Parameters
    ----------
    photo_size : int
        Short side, in pixels, of the downsampled photograph.

    Returns
    -------
    ipywidgets.VBox
        The widget. Attributes for programmatic use: ``controls`` (dict with
        ``'source'``, ``'top'``, ``'left'``, ``'height'``, ``'width'``),
        ``image`` (``ipywidgets.Image`` with the PNG), ``html`` (the text),
        ``figure`` and ``update()`` (redraw now).
    """
    import ipywidgets as widgets

    fig = Figure(dpi=72)
    source = widgets.ToggleButtons(options=[("photo", "photo"), ("MNIST digits", "digits")], description="image")
    sliders = {
        name: widgets.IntSlider(value=1, min=minimum, max=1, description=name)
        for name, minimum in [("top", 0), ("left", 0), ("height", 1), ("width", 1)]
    }
    image_out = image_widget()
    text_out = widgets.HTML()
    images: dict[str, tuple[np.ndarray, tuple[int, int, int, int]]] = {}
    busy = {"setting": False}

    def current() -> tuple[np.ndarray, tuple[int, int, int, int]]:
        if source.value not in images:
            if source.value == "photo":
                images["photo"] = (_gray_photo(photo_size), _PHOTO_PATCH)
            else:
                images["digits"] = _digit_sheet()
        return images[source.value]

    def fit_ranges() -> None:
        # Largest allowed sizes first, then the corner limits that depend on them.
        H, W = current()[0].shape
        sliders["height"].max, sliders["width"].max = H, W
        sliders["top"].max = H - sliders["height"].value
        sliders["left"].max = W - sliders["width"].value

    def update(*_: Any) -> None:
        if busy["setting"]:
            return
        try:
            image, _ = current()
            busy["setting"] = True
            try:
                fit_ranges()
            finally:
                busy["setting"] = False
            values = {name: slider.value for name, slider in sliders.items()}
            state = template_state(image, values["top"], values["left"], values["height"], values["width"])
        except (ValueError, TypeError, IndexError, KeyError, OSError, RuntimeError) as error:
            text_out.value = f"<b>Cannot update:</b> {html.escape(str(error))}"
            return
        draw_template(state, fig)
        image_out.value = png_bytes(fig)
        text_out.value = html.escape(state.description)

    def source_changed(*_: Any) -> None:
        try:
            image, (top, left, height, width) = current()
        except (ValueError, TypeError, IndexError, KeyError, OSError, RuntimeError) as error:
            text_out.value = f"<b>Cannot load the image:</b> {html.escape(str(error))}"
            return
        H, W = image.shape
        busy["setting"] = True
        try:
            # Widen every range before moving values, so no value is clipped on the way.
            sliders["height"].max, sliders["width"].max = H, W
            sliders["top"].max, sliders["left"].max = H - 1, W - 1
            sliders["height"].value, sliders["width"].value = height, width
            sliders["top"].value, sliders["left"].value = top, left
        finally:
            busy["setting"] = False
        update()

    source.observe(source_changed, names="value")
    for slider in sliders.values():
        slider.observe(update, names="value")

    box = widgets.VBox(
        [
            source,
            widgets.HBox([sliders["top"], sliders["left"]]),
            widgets.HBox([sliders["height"], sliders["width"]]),
            image_out,
            text_out,
        ]
    )
    box.controls = {"source": source, **sliders}
    box.image = image_out
    box.html = text_out
    box.figure = fig
    box.update = update
    source_changed()
    return box
