"""Parameter counter: a dense layer against a convolution on the same image.

A dense layer that maps an ``S × S`` image with ``C`` channels to an image of
the same size with ``D`` channels needs one weight per (input value, output
value) pair; a convolution with ``h × w`` kernels needs ``D C h w`` weights,
whatever ``S``. Sliders set ``S``, ``C``, ``D`` and the kernel size, and the
widget shows both counts, their ratio and their memory in float32.

Three layers, as for every widget of the course:

* :func:`parameter_state` computes the numbers (pure, tested against
  ``nn.Linear`` and ``nn.Conv2d``);
* :func:`draw_parameters` draws them as a log-scale bar chart into a figure
  it reuses;
* :func:`parameter_counter` wires ipywidgets sliders to the two.
"""
from __future__ import annotations

import html
import math
from typing import NamedTuple

import ipywidgets as widgets
from matplotlib.figure import Figure

from convkit import shapes
from convkit.widgets._canvas import image_widget, new_figure, png_bytes

__all__ = ["ParameterState", "parameter_state", "draw_parameters", "parameter_counter"]

_DENSE_COLOR, _CONV_COLOR = "#d1495b", "#2e86ab"
_UNITS = ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"))


class ParameterState(NamedTuple):
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
    if isinstance(image_size, bool) or not isinstance(image_size, int):
        raise TypeError(f"image_size must be an int, got {image_size!r}")
    if image_size < 1:
        raise ValueError(f"image_size must be at least 1, got {image_size}")
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


def _human_bytes(count: int) -> str:
    """Decimal units, as disk and memory sizes are usually quoted: 154618822656 -> '154.6 GB'."""
    for scale, unit in _UNITS:
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def draw_parameters(state: ParameterState, fig: Figure) -> None:
    """Draw the two parameter counts as horizontal bars on a log scale.

    Each bar is labelled with its count and its float32 memory; the title
    gives the image shapes and the ratio. The figure's single axes is created
    on the first call and reused afterwards.

    Parameters
    ----------
    state : ParameterState
        From :func:`parameter_state`.
    fig : matplotlib.figure.Figure
        The figure to draw into (about 7 × 2.6 inches suits it).

    Returns
    -------
    None

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(7, 2.6))
    >>> draw_parameters(parameter_state(256, 3, 3), fig)
    >>> [label.get_text() for label in fig.axes[0].get_yticklabels()]
    ['convolution', 'dense']
    >>> fig.axes[0].get_xscale()
    'log'
    """
    ax = fig.axes[0] if fig.axes else fig.add_axes((0.16, 0.2, 0.8, 0.62))
    ax.clear()
    counts = [state.conv_count, state.dense_count]
    memory = [state.conv_bytes, state.dense_bytes]
    ax.barh([0, 1], counts, color=[_CONV_COLOR, _DENSE_COLOR], height=0.6, log=True)
    ax.set_yticks([0, 1], ["convolution", "dense"])
    right = max(counts) * 20
    ax.set_xlim(0.5, right)
    for y, (count, size) in enumerate(zip(counts, memory)):
        label = f"{count:,}  ({_human_bytes(size)})"
        # A long bar holds its label inside; a short one has room on its right.
        if math.log(count) > 0.6 * math.log(right):
            ax.text(count / 1.6, y, label, va="center", ha="right", fontsize=9, color="white")
        else:
            ax.text(count * 1.6, y, label, va="center", ha="left", fontsize=9)
    ax.set_xlabel("parameters (log scale)")
    ax.set_title(
        f"{state.channels}×{state.image_size}×{state.image_size} image → "
        f"{state.out_channels}×{state.image_size}×{state.image_size}, "
        f"{state.kernel_size}×{state.kernel_size} kernels: dense / conv = {state.ratio:.3g}",
        fontsize=10,
    )


def _describe(state: ParameterState) -> str:
    """The numbers of a state as one HTML line for the widget."""
    C, D, S, k = state.channels, state.out_channels, state.image_size, state.kernel_size
    return (
        f"<p>Dense <code>nn.Linear({state.in_features:,}, {state.out_features:,})</code>: "
        f"<b>{state.dense_count:,}</b> parameters ({_human_bytes(state.dense_bytes)} in float32) "
        f"· Convolution <code>nn.Conv2d({C}, {D}, {k})</code>: "
        f"<b>{state.conv_count:,}</b> parameters ({_human_bytes(state.conv_bytes)}) "
        f"· ratio <b>{state.ratio:.3g}</b>. Image {C}×{S}×{S} → {D}×{S}×{S}.</p>"
    )


def parameter_counter() -> widgets.VBox:
    """The parameter-counter widget.

    Sliders for the image side ``S``, the input and output channels ``C`` and
    ``D``, and the kernel side ``k``; below them the bar chart of
    :func:`draw_parameters` and one line of numbers. A kernel larger than the
    image gives a message instead of a chart.

    Returns
    -------
    ipywidgets.VBox
        The widget. Its sliders are in ``.controls`` (keys ``image_size``,
        ``channels``, ``out_channels``, ``kernel_size``), the picture in
        ``.image`` (PNG bytes), the text in ``.html``, the figure in
        ``.figure`` and the last state in ``.state`` (``None`` after an error).

    Examples
    --------
    >>> w = parameter_counter()
    >>> w.controls["image_size"].value = 512
    >>> w.state.dense_count > parameter_state(256, 3, 3).dense_count
    True
    """
    def slider(description: str, low: int, high: int, value: int, step: int = 1) -> widgets.IntSlider:
        return widgets.IntSlider(
            min=low, max=high, value=value, step=step, description=description,
            continuous_update=False, style={"description_width": "initial"},
            layout=widgets.Layout(width="320px"),
        )

    controls = {
        "image_size": slider("image side S", 8, 1024, 256, step=8),
        "channels": slider("input channels C", 1, 512, 3),
        "out_channels": slider("output channels D", 1, 512, 3),
        "kernel_size": slider("kernel side k", 1, 11, 3),
    }
    image = image_widget()
    text = widgets.HTML()
    fig = new_figure(7.0, 2.6)
    box = widgets.VBox()

    def update(*_) -> None:
        values = {name: control.value for name, control in controls.items()}
        try:
            state = parameter_state(**values)
        except (TypeError, ValueError) as error:
            text.value = f"<p style='color:#9b1c1c'><b>No count:</b> {html.escape(str(error))}</p>"
            image.layout.display = "none"  # a stale chart would contradict the message
            box.state = None
            return
        draw_parameters(state, fig)
        image.layout.display = None
        image.value = png_bytes(fig)
        text.value = _describe(state)
        box.state = state

    for control in controls.values():
        control.observe(update, "value")
    box.children = [
        widgets.HBox([controls["image_size"], controls["kernel_size"]]),
        widgets.HBox([controls["channels"], controls["out_channels"]]),
        image,
        text,
    ]
    box.controls, box.image, box.html, box.figure, box.state = controls, image, text, fig, None
    update()
    return box
