"""Parameter counter: a dense layer against a convolution on the same image.

A dense layer that maps an ``S × S`` image with ``C`` channels to an image of
the same size with ``D`` channels needs one weight per (input value, output
value) pair; a convolution with ``h × w`` kernels needs ``D C h w`` weights,
whatever ``S``. Sliders set ``S``, ``C``, ``D`` and the kernel size, and the
widget shows both counts, their ratio and their memory in float32.

As for every widget of the course:

* :func:`parameter_state` computes the numbers (pure, tested against
  ``nn.Linear`` and ``nn.Conv2d``);
* :func:`parameter_data` gives the browser those numbers, which
  ``static/params.js`` draws as a log-scale SVG bar chart;
* :func:`parameter_counter` builds the widget.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from convkit import shapes
from convkit._args import as_int
from convkit.widgets.base import ConvWidget, slider
from convkit.widgets.picture import Picture

__all__ = ["ParameterCounter", "ParameterState", "parameter_counter", "parameter_data", "parameter_state"]

_UNITS = ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"))


@dataclass(frozen=True)
class ParameterState:
    """The numbers the parameter counter shows, computed by :func:`parameter_state`.

    Attributes
    ----------
    image_size : int
        Side ``S`` of the square input and output images.
    channels, out_channels : int
        ``C`` (input) and ``D`` (output) channels.
    kernel_size : int
        Side ``k`` of the square kernels.
    in_features, out_features : int
        ``C S²`` and ``D S²``: the image flattened, as a dense layer sees it.
    dense_count : int
        ``C S² · D S² + D S²``: weights and biases of ``nn.Linear(C S², D S²)``.
    conv_count : int
        ``D C k² + D``: weights and biases of ``nn.Conv2d(C, D, k)``.
    ratio : float
        ``dense_count / conv_count``.
    dense_bytes, conv_bytes : int
        Memory of those parameters in float32 (4 bytes each).
    dense_weight_shape : (int, int)
        ``(D S², C S²)``, the shape of ``nn.Linear``'s weight.
    conv_weight_shape : (int, int, int, int)
        ``(D, C, k, k)``, the shape of ``nn.Conv2d``'s weight.
    """

    image_size: int
    channels: int
    kernel_size: int
    out_channels: int
    in_features: int
    out_features: int
    dense_count: int
    conv_count: int
    ratio: float
    dense_bytes: int
    conv_bytes: int
    dense_weight_shape: tuple[int, int]
    conv_weight_shape: tuple[int, int, int, int]


def parameter_state(
    image_size: int, channels: int, kernel_size: int, out_channels: int | None = None
) -> ParameterState:
    """Count the parameters of a dense layer and of a convolution between two images.

    Both layers map a ``C × S × S`` image to a ``D × S × S`` one (the
    convolution padded so that the size is kept). Dense:
    ``(C S²)(D S²) + D S²``; convolution: ``D C k² + D``, independent of ``S``.

    Parameters
    ----------
    image_size : int
        Side ``S`` of the square image, ``>= 1``.
    channels : int
        Input channels ``C``, ``>= 1``.
    kernel_size : int
        Side ``k`` of the square kernel, ``1 <= k <= S``.
    out_channels : int, optional
        Output channels ``D``; default ``C`` (an image of the same shape out).

    Returns
    -------
    ParameterState
        Counts, their ratio, float32 memory and weight shapes.

    Raises
    ------
    TypeError
        If an argument is not an int.
    ValueError
        If an argument is below 1, or the kernel is larger than the image.

    Examples
    --------
    The lecture's 256×256 RGB image, mapped to an image of the same size:

    >>> s = parameter_state(256, 3, 3)
    >>> f"{s.dense_count:.3g}", s.conv_count, f"{s.dense_bytes / 1e9:.0f} GB"
    ('3.87e+10', 84, '155 GB')
    >>> s.conv_weight_shape
    (3, 3, 3, 3)
    """
    if out_channels is None:
        out_channels = channels
    # conv_parameter_count validates the channel and kernel arguments, with their names.
    conv_count = shapes.conv_parameter_count(channels, out_channels, (kernel_size, kernel_size))
    image_size = as_int(image_size, "image_size", minimum=1)
    if kernel_size > image_size:
        raise ValueError(
            f"kernel_size {kernel_size} is larger than the image ({image_size} × {image_size}): "
            f"the kernel must fit in the image"
        )
    pixels = image_size * image_size
    in_features, out_features = channels * pixels, out_channels * pixels
    dense_count = shapes.dense_parameter_count(in_features, out_features)
    return ParameterState(
        image_size=image_size,
        channels=channels,
        kernel_size=kernel_size,
        out_channels=out_channels,
        in_features=in_features,
        out_features=out_features,
        dense_count=dense_count,
        conv_count=conv_count,
        ratio=dense_count / conv_count,
        dense_bytes=shapes.memory_bytes(dense_count, "float32"),
        conv_bytes=shapes.memory_bytes(conv_count, "float32"),
        dense_weight_shape=(out_features, in_features),
        conv_weight_shape=(out_channels, channels, kernel_size, kernel_size),
    )


def parameter_data(state: ParameterState) -> dict[str, Any]:
    """The JSON the browser draws: every number of ``state``, and the memory and ratio as text."""
    return {
        **dataclasses.asdict(state),
        "dense_weight_shape": list(state.dense_weight_shape),
        "conv_weight_shape": list(state.conv_weight_shape),
        "dense_bytes_text": _human_bytes(state.dense_bytes),
        "conv_bytes_text": _human_bytes(state.conv_bytes),
        "ratio_text": f"{state.ratio:.3g}",
    }


def _human_bytes(count: int) -> str:
    """Decimal units, as disk and memory sizes are usually quoted: 154618822656 -> '154.6 GB'."""
    for scale, unit in _UNITS:
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


class ParameterCounter(ConvWidget):
    """The parameter counter (see the module's docstring); build it with :func:`parameter_counter`."""

    module_file = "params.js"

    def controls_spec(self, settings: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            slider("image_size", "image side S", 8, 1024, settings["image_size"], step=8),
            slider("kernel_size", "kernel side k", 1, 11, settings["kernel_size"]),
            slider("channels", "input channels C", 1, 512, settings["channels"]),
            slider("out_channels", "output channels D", 1, 512, settings["out_channels"]),
        ]

    def compute(self, settings: dict[str, Any]) -> tuple[ParameterState, dict[str, Any]]:
        state = parameter_state(
            settings["image_size"], settings["channels"], settings["kernel_size"], settings["out_channels"]
        )
        return state, parameter_data(state)

    def picture(self) -> Picture | None:
        """Both counts as two bars on a log scale, with their numbers."""
        s = self.state
        if s is None:
            return None
        decades = max(1, math.ceil(math.log10(s.dense_count)))
        bars = (
            (f"nn.Linear({s.in_features:,}, {s.out_features:,})", s.dense_count, s.dense_bytes, "#D55E00"),
            (
                f"nn.Conv2d({s.channels}, {s.out_channels}, {s.kernel_size})",
                s.conv_count,
                s.conv_bytes,
                "#0072B2",
            ),
        )
        label = "; ".join(
            f"{call} has {count:,} parameters ({_human_bytes(size)})" for call, count, size, _ in bars
        )
        picture = Picture(700, 150, f"parameter counter, log scale: {label}; ratio {s.ratio:.3g}")
        for i, (call, count, size, color) in enumerate(bars):
            y = 10 + 60 * i
            length = max(2.0, 380 * math.log10(max(count, 1)) / decades)
            picture.text(4, y + 14, call, 12, weight="bold")
            picture.text(4, y + 31, f"{count:,} parameters", 12)
            picture.rect(230, y, length, 34, fill=color, stroke=color)
            picture.text(236 + length, y + 22, _human_bytes(size), 12)
        picture.text(230, 140, f"ratio {s.ratio:.3g} (log scale)", 12)
        return picture


def parameter_counter() -> ParameterCounter:
    """The parameter-counter widget.

    Sliders for the image side ``S``, the input and output channels ``C`` and
    ``D``, and the kernel side ``k``; below them both counts as a log-scale
    bar chart with their float32 memory. A kernel larger than the image gives
    a message and the last chart stays.

    Returns
    -------
    ParameterCounter
        The widget. ``.controls`` holds ``image_size``, ``channels``,
        ``out_channels`` and ``kernel_size``; ``.state`` is the last
        :class:`ParameterState`.

    Examples
    --------
    >>> w = parameter_counter()
    >>> w.controls["image_size"].value = 512
    >>> w.state.dense_count > parameter_state(256, 3, 3).dense_count
    True
    """
    return ParameterCounter(
        dict(image_size=256, channels=3, out_channels=3, kernel_size=3),
        title="Parameters: a dense layer against a convolution",
    )
