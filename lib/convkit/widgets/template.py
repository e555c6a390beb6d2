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
of ``x²``). The widget (:func:`template_matcher`) sends the maps to
``static/template.js``, which draws them sharp at the screen's resolution with
colour bars and marks the patch and both peaks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from convkit import reference
from convkit._args import as_array, as_int
from convkit.widgets.base import (
    ConvWidget,
    choice,
    floats,
    slider,
)
from convkit.widgets.picture import Picture

__all__ = [
    "TemplateMatcher",
    "TemplateState",
    "normalized_cross_correlation",
    "template_data",
    "template_matcher",
    "template_state",
]

# Windows whose spread is below this fraction of their energy count as flat:
# the correlation coefficient is undefined there and reported as 0.
_FLAT = 1e-9
# ITU-R BT.601 luma weights, to turn the RGB photograph into one channel.
_LUMA = np.array([0.299, 0.587, 0.114])


def _as_image2d(value: Any, name: str) -> np.ndarray:
    x = as_array(value, name, ndim=(2, 3), axes="(H, W)", nonempty=True, finite=True, dtype=np.float64)
    if x.ndim == 3 and x.shape[0] != 1:
        raise ValueError(f"{name} must be a 2d array (H, W) (or (1, H, W)), got shape {x.shape}")
    return x.reshape(x.shape[-2:])


def _plain_and_ncc(x: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain correlation and NCC of a validated ``(H, W)`` image with an ``(h, w)`` patch."""
    h, w = p.shape
    p0 = p - p.mean()
    # One convolution with D = 2 filters, the patch and its zero-mean version.
    # As sum(P0) = 0, sum(X * P0) already equals sum((X - mean X) * P0).
    plain, numerator = reference.conv2d(x[None, None], np.stack([p, p0])[:, None])[0]
    # Window sums of x and of x² in one grouped convolution: channel 0 is x,
    # channel 1 is x², and each gets its own h×w kernel of ones (groups=2).
    window_sum, window_energy = reference.conv2d(np.stack([x, x**2])[None], np.ones((2, 1, h, w)), groups=2)[
        0
    ]
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


@dataclass(frozen=True, eq=False)
class TemplateState:
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
    top, left = as_int(top, "top", 0), as_int(left, "left", 0)
    height, width = as_int(height, "height", 1), as_int(width, "width", 1)
    H, W = x.shape
    if top + height > H or left + width > W:
        raise ValueError(
            f"patch rows {top}..{top + height - 1} and columns {left}..{left + width - 1} "
            f"(top={top}, left={left}, height={height}, width={width}) do not fit in the image "
            f"of shape {x.shape}"
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


def template_data(state: TemplateState) -> dict[str, Any]:
    """What the browser draws: the image and both maps (float32 bytes), the patch and the peaks."""
    return dict(
        image=floats(state.image),
        plain=floats(state.plain),
        ncc=floats(state.ncc),
        image_range=[float(state.image.min()), float(state.image.max())],
        plain_range=[float(state.plain.min()), float(state.plain.max())],
        patch=[state.top, state.left, *state.patch.shape],
        plain_peak=list(state.plain_peak),
        ncc_peak=list(state.ncc_peak),
        ncc_peak_value=float(state.ncc[state.ncc_peak]),
        description=state.description,
    )


class TemplateMatcher(ConvWidget):
    """The template matcher (see the module's docstring); build it with :func:`template_matcher`."""

    module_file = "template.js"

    def __init__(self, photo_size: int, **kwargs: Any):
        self._photo_size = photo_size
        top, left, height, width = _PHOTO_PATCH
        super().__init__(dict(source="photo", top=top, left=left, height=height, width=width), **kwargs)

    def _image(self, source: str) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        if source == "photo":
            return self.loaded("photo", lambda: (_gray_photo(self._photo_size), _PHOTO_PATCH), "photo")
        return self.loaded(source, _digit_sheet, source)

    def settle(self, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        if old and new["source"] != old.get("source"):
            # Each image comes with its default patch (a star of the flag; the thin digit).
            _, (top, left, height, width) = self._image(new["source"])
            return dict(source=new["source"], top=top, left=left, height=height, width=width)
        if set(new) >= {"top", "left", "height", "width"}:
            # Keep the patch inside the image: a larger patch moves its corner back.
            H, W = self._image(new["source"])[0].shape
            fitted = dict(new)
            for corner, size, limit in (("top", "height", H), ("left", "width", W)):
                if isinstance(new[size], int) and isinstance(new[corner], int):
                    fitted[size] = min(max(new[size], 1), limit)
                    fitted[corner] = min(max(new[corner], 0), limit - fitted[size])
            return fitted
        return new

    def controls_spec(self, settings: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            H, W = self._image(settings["source"])[0].shape
        except ValueError:
            H = W = 1
        # The corner's range follows the patch size, so the patch always fits.
        return [
            choice("source", "image", [("photo", "photo"), ("MNIST digits", "digits")], settings["source"]),
            slider("top", "patch top row", 0, max(H - settings["height"], 0), settings["top"]),
            slider("left", "patch left column", 0, max(W - settings["width"], 0), settings["left"]),
            slider("height", "patch height", 1, H, settings["height"]),
            slider("width", "patch width", 1, W, settings["width"]),
        ]

    def compute(self, settings: dict[str, Any]) -> tuple[TemplateState, dict[str, Any]]:
        image, _ = self._image(settings["source"])
        state = template_state(
            image, settings["top"], settings["left"], settings["height"], settings["width"]
        )
        return state, template_data(state)

    def picture(self) -> Picture | None:
        """The image with the patch, and both maps with their peaks."""
        state = self.state
        if state is None:
            return None
        import matplotlib

        viridis = matplotlib.colormaps["viridis"]
        scale, left = 3, 8
        width = 8 + sum(v.shape[1] * scale + 16 for v in (state.image, state.plain, state.ncc))
        picture = Picture(
            max(width, 500), 50 + state.image.shape[0] * scale + 10, f"template matcher: {state.description}"
        )
        picture.text(8, 18, state.description[:160], 12)
        for name, values, mark in (
            ("image", state.image, None),
            ("plain", state.plain, state.plain_peak),
            ("NCC", state.ncc, state.ncc_peak),
        ):
            low, high = values.min(), values.max()
            t = (values - low) / ((high - low) or 1)
            rgb = np.repeat(t[..., None], 3, -1) if name == "image" else viridis(t)[..., :3]
            picture.text(left, 42, name, 13)
            picture.image(left, 50, np.uint8(np.round(rgb * 255)), scale)
            if mark is None:
                picture.rect(
                    left + state.left * scale,
                    50 + state.top * scale,
                    state.patch.shape[1] * scale,
                    state.patch.shape[0] * scale,
                    fill="none",
                    stroke="#E69F00",
                    stroke_width=2,
                )
            else:
                picture.circle(
                    left + (mark[1] + 0.5) * scale, 50 + (mark[0] + 0.5) * scale, 6, stroke="#D55E00"
                )
            left += values.shape[1] * scale + 16
        return picture


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


def template_matcher(*, photo_size: int = 80) -> TemplateMatcher:
    """Build the template-matcher widget.

    Controls: the image source (the photograph in gray, short side
    ``photo_size`` pixels, or a 2×3 sheet of MNIST digits in which the
    thinnest digit sits among bold ones) and four sliders for the patch's
    top-left row and column and its height and width; a click on the image
    moves the patch there. Each change recomputes both response maps, drawn
    with colour bars and their peaks marked. Switching the source restores
    that source's default patch (a star of the flag; the thin digit), where
    the plain correlation peaks away from the patch and NCC peaks exactly on it.

    Parameters
    ----------
    photo_size : int
        Short side, in pixels, of the downsampled photograph.

    Returns
    -------
    TemplateMatcher
        The widget. ``.controls`` holds ``source``, ``top``, ``left``,
        ``height`` and ``width``; ``.state`` is the last :class:`TemplateState`.
    """
    return TemplateMatcher(photo_size, title="Template matching: plain correlation against NCC")
