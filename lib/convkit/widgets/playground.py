"""Kernel playground: edit a 3×3 or 5×5 kernel and watch its convolution with an image.

The pure part is :func:`playground_state` (image and kernel in, output maps and
a description out, tested against torch). The widget built by :func:`playground`
sends the state to ``static/playground.js``, which draws the images on canvases
sharp at the screen's resolution, with colour bars, and the kernel as a grid of
cells to type in.

Two ways of applying one ``h×w`` kernel to a ``C``-channel image are offered:

* ``'per_channel'`` (depthwise): ``weight`` has shape ``(C, 1, h, w)`` and
  ``groups=C``, so each colour channel gives its own output map;
* ``'across_channels'``: the kernel is repeated on every channel to form the
  lecture's ``C×h×w`` kernel, ``weight`` has shape ``(1, C, h, w)`` and the
  ``C`` per-channel responses are summed into a single map.

``KERNEL_PRESETS`` holds read-only kernels: the five of the lecture (identity,
the all-ones box blur, left unnormalised as in the lecture, the vertical and
horizontal edge detectors, and the five-point kernel, which is *minus* the discrete
Laplacian and keeps the preset name ``"laplacian"``), a sharpening kernel, binomial
Gaussians, and 5×5 variants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from convkit import reference
from convkit._args import as_array
from convkit.widgets.base import (
    Control,
    ConvWidget,
    choice,
    floats,
    number,
)
from convkit.widgets.picture import Picture

__all__ = [
    "KERNEL_PRESETS",
    "Playground",
    "PlaygroundState",
    "playground",
    "playground_data",
    "playground_state",
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
    # identity minus the Laplacian: the centre is boosted by the difference to its neighbours.
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
    "vertical edges": (
        "responds to left-to-right changes: positive where the image gets brighter to the right"
    ),
    "horizontal edges": "responds to top-to-bottom changes: positive where the image gets brighter downwards",
    "laplacian": "minus the Laplacian: zero on flat areas and on linear ramps, large on thin strokes and corners",
    "sharpen": "identity minus the Laplacian: keeps the image and boosts its edges",
    "gaussian 3x3": "binomial weights [1, 2, 1]ᵀ[1, 2, 1] / 16, sums to 1",
    "box blur 5x5": "all ones, not normalised: a flat area of value v becomes 25v",
    "gaussian 5x5": "binomial weights [1, 4, 6, 4, 1]ᵀ[1, 4, 6, 4, 1] / 256, sums to 1",
    "sharpen 5x5": "2·identity − gaussian 5x5 (unsharp masking)",
}


@dataclass(frozen=True, eq=False)
class PlaygroundState:
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
    axes = "(H, W) or (C, H, W)"
    x = as_array(image, "image", ndim=(2, 3), axes=axes, nonempty=True, finite=True, dtype=np.float64)
    return x[np.newaxis] if x.ndim == 2 else x


def _as_kernel(kernel: Any) -> np.ndarray:
    u = as_array(kernel, "kernel", ndim=2, axes="(h, w)", nonempty=True, dtype=np.float64)
    if not np.all(np.isfinite(u)):
        # Name the cells: the student typed them in the grid.
        bad = [(int(i), int(j)) for i, j in zip(*np.nonzero(~np.isfinite(u)))]
        raise ValueError(f"kernel contains non-finite values (nan or inf) at (row, col) {bad}")
    return u


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


def playground_data(state: PlaygroundState) -> dict[str, Any]:
    """What the browser draws: input and output maps (float32 bytes), their ranges, the kernel.

    The output is drawn on a colour scale symmetric about 0 (``vmax = max |output|``),
    so that the sign of a response reads the same for every kernel.
    """
    x = state.input
    span = float(np.abs(state.output).max()) or 1.0
    names = list(_CHANNEL_NAMES) if x.shape[0] == 3 else [f"channel {c}" for c in range(x.shape[0])]
    outputs = names if state.mode == "per_channel" else ["sum over channels"]
    return dict(
        input=floats(x),
        input_range=[float(x.min()), float(x.max())],
        output=floats(state.output),
        output_range=[-span, span],
        kernel=state.kernel.tolist(),
        output_names=outputs,
        mode=state.mode,
        padding=state.padding,
        description=state.description,
    )


class Playground(ConvWidget):
    """The kernel playground (see the module's docstring); build it with :func:`playground`."""

    module_file = "playground.js"

    def __init__(self, settings: dict[str, Any], photo_size: int, **kwargs: Any):
        self._photo_size = photo_size
        super().__init__(settings, **kwargs)

    def _image(self, source: str, index: int) -> np.ndarray:
        from convkit import data

        if source == "photo":
            return self.loaded("photo", lambda: np.asarray(data.photo(size=self._photo_size), float), "photo")
        return self.loaded(
            ("digit", index), lambda: np.asarray(data.digit(index, verbose=False), float), "digit"
        )

    def settle(self, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        new = dict(new)
        if old and new["preset"] and new["preset"] != old.get("preset"):
            # A preset fills the kernel (and sets its size).
            new["kernel"] = KERNEL_PRESETS[new["preset"]].tolist()
            new["size"] = len(new["kernel"])
        elif old and new["size"] != old.get("size"):
            # Keep the kernel centred: a 3×3 grows a zero border, a 5×5 keeps its middle.
            kernel = np.asarray(new["kernel"], dtype=float)
            grow = (new["size"] - len(kernel)) // 2
            kernel = (
                np.pad(kernel, grow)
                if grow > 0
                else kernel[-grow : len(kernel) + grow, -grow : len(kernel) + grow]
            )
            new["kernel"] = kernel.tolist()
        elif old and new["kernel"] != old.get("kernel") and new["preset"]:
            # Edited by hand: the menu stops naming a preset the cells no longer hold.
            if not np.array_equal(np.asarray(new["kernel"], dtype=float), KERNEL_PRESETS[new["preset"]]):
                new["preset"] = ""
        return new

    def controls_spec(self, settings: dict[str, Any]) -> list[dict[str, Any]]:
        presets = [("(edited kernel)", "")] + [(name, name) for name in KERNEL_PRESETS]
        return [
            choice("preset", "preset", presets, settings["preset"]),
            choice("size", "kernel size", [("3×3", 3), ("5×5", 5)], settings["size"]),
            choice("source", "image", [("MNIST digit", "digit"), ("photo", "photo")], settings["source"]),
            number(
                "index", "digit index", 0, 59_999, settings["index"], disabled=settings["source"] == "photo"
            ),
            choice(
                "mode",
                "mode",
                [("per channel", "per_channel"), ("across channels", "across_channels")],
                settings["mode"],
            ),
            choice("padding", "padding", [("valid", "valid"), ("same", "same")], settings["padding"]),
        ]

    def compute(self, settings: dict[str, Any]) -> tuple[PlaygroundState, dict[str, Any]]:
        image = self._image(settings["source"], settings["index"])
        state = playground_state(
            image, settings["kernel"], mode=settings["mode"], padding=settings["padding"]
        )
        data = playground_data(state)
        note = _PRESET_NOTES.get(settings["preset"])
        data["note"] = f"{settings['preset']}: {note}" if note else ""
        return state, data

    def picture(self) -> Picture | None:
        """The input and the output maps as pictures, with the kernel's numbers."""
        state = self.state
        if state is None:
            return None
        import matplotlib

        x = state.input
        low, high = x.min(), x.max()
        scaled = (x - low) / ((high - low) or 1.0)
        rgb = np.moveaxis(scaled, 0, -1) if x.shape[0] == 3 else np.repeat(scaled[0][..., None], 3, -1)
        maps = [np.uint8(np.round(rgb * 255))]
        span = float(np.abs(state.output).max()) or 1.0
        colours = matplotlib.colormaps["PuOr_r"]
        maps += [np.uint8(np.round(colours((c + span) / (2 * span))[..., :3] * 255)) for c in state.output]
        scale, left = 3, 8
        rows = [" ".join(f"{v:g}" for v in row) for row in state.kernel]
        top = 30 + max(m.shape[0] for m in maps) * scale + 20
        width = 8 + sum(m.shape[1] * scale + 12 for m in maps)
        kernel = f"kernel {len(rows)} × {len(rows)}, rows " + "; ".join(rows)
        picture = Picture(
            max(width, 400), top + 16 * len(rows), f"kernel playground: {state.description}; {kernel}"
        )
        picture.text(8, 18, state.description[:150], 12)
        for image in maps:
            picture.image(left, 30, image, scale)
            left += image.shape[1] * scale + 12
        for i, row in enumerate(rows):
            picture.text(8, top + 16 * i, ("kernel: " if i == 0 else "        ") + row, 13)
        return picture


def playground(*, digit_index: int = 12, photo_size: int = 80) -> Playground:
    """Build the kernel playground widget.

    Controls: a preset menu (fills the kernel cells), the kernel size (3×3 or
    5×5, the kernel kept centred), a grid of cells to type the kernel in
    (arrow keys or the cell's arrows change a value by 1), the image source
    (an MNIST digit, index selectable, or the photograph downsampled so that
    its short side is ``photo_size`` pixels), the mode (per channel or across
    channels) and the padding (``'valid'`` or ``'same'``). A kernel or image
    that cannot be used shows a message and the last picture stays.

    Parameters
    ----------
    digit_index : int
        MNIST training image shown first (the lecture uses 12).
    photo_size : int
        Short side, in pixels, of the downsampled photograph (small keeps updates fast).

    Returns
    -------
    Playground
        The widget. ``.controls`` holds ``preset``, ``size``, ``source``,
        ``index``, ``mode``, ``padding`` and ``kernel`` (a nested list);
        ``.state`` is the last :class:`PlaygroundState`.
    """
    settings = dict(
        preset="vertical edges",
        size=3,
        kernel=KERNEL_PRESETS["vertical edges"].tolist(),
        source="digit",
        index=digit_index,
        mode="per_channel",
        padding="valid",
    )
    widget = Playground(settings, photo_size, title="Kernel playground")
    widget.controls["kernel"] = Control(widget, "kernel")
    return widget
