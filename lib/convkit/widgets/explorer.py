"""Convolution explorer: how padding, stride and dilation shape a ``Conv2d`` layer.

Sliders set the input size, the kernel, the padding, stride and dilation of
each axis, the channels, and one output cell. The widget shows the padded
input with the cells that output reads, the output shape, the input rows and
columns a strided convolution never reads, the receptive field of one output
cell, the equivalent ``nn.Conv2d`` call and its number of parameters.

Three layers, as for every widget of the course:

* :func:`explorer_state` computes every fact shown (pure, tested), with an
  ``error`` message instead of an exception for impossible settings;
* :func:`draw_explorer` draws a state into a figure it reuses;
* :func:`explorer` wires ipywidgets controls to the two.
"""
from __future__ import annotations

import html
import weakref
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path

from convkit import shapes
from convkit.widgets._canvas import image_widget, new_figure, png_bytes
from convkit.plot import (
    _CELL_COLORS,
    _CELL_NAMES,
    FootprintCell,
    _grid_path,
    draw_footprint,
)

__all__ = ["ExplorerState", "PRESETS", "explorer_state", "draw_explorer", "explorer"]

Pair = tuple[int, int]


@dataclass(frozen=True)
class ExplorerState:
    """The facts the explorer shows for one setting of its sliders.

    Pairs are ``(rows, columns)``. When the setting is impossible (the kernel
    does not fit in the padded input, a value is out of range, the selected
    output cell does not exist), ``error`` holds a sentence saying why and the
    derived fields are ``None`` or empty.

    Attributes
    ----------
    height, width : int
        Input size ``H × W``.
    kernel_size, padding, stride, dilation : (int, int)
        The layer's settings.
    in_channels, out_channels : int
        ``C`` and ``D``.
    output_index : (int, int)
        The selected output cell.
    output_shape : (int, int) or None
        ``(H', W')`` with ``H' = floor((H + 2 p - d (h - 1) - 1) / s) + 1``.
    effective_kernel : (int, int) or None
        Span ``1 + (k - 1) d`` of the dilated kernel on each axis: the
        receptive field of one output cell, in input cells.
    footprint_rows, footprint_cols : list of int
        Input rows and columns the selected cell reads (negative or ``>= H``:
        padding).
    unread_rows, unread_cols : list of int
        Input rows and columns no output cell reads.
    unread_message : str
        The same in words, saying why.
    parameter_count : int or None
        ``D C h w + D`` (weights and biases).
    weight_shape : (int, int, int, int) or None
        ``(D, C, h, w)``.
    conv2d_call : str
        The equivalent ``nn.Conv2d(...)`` expression.
    error : str or None
        Why the setting is impossible, or ``None``.
    """

    height: int
    width: int
    kernel_size: Pair
    padding: Pair
    stride: Pair
    dilation: Pair
    in_channels: int
    out_channels: int
    output_index: Pair
    output_shape: Pair | None = None
    effective_kernel: Pair | None = None
    footprint_rows: list[int] | None = None
    footprint_cols: list[int] | None = None
    unread_rows: list[int] | None = None
    unread_cols: list[int] | None = None
    unread_message: str = ""
    parameter_count: int | None = None
    weight_shape: tuple[int, int, int, int] | None = None
    conv2d_call: str = ""
    error: str | None = None


#: One-click settings from the lecture: its padded and strided ``C×3×5``
#: example (output ``3×3``) and its dilated ``20×30`` example (output
#: ``12×22``). Each entry holds :func:`explorer_state`'s arguments.
PRESETS: dict[str, dict[str, Any]] = {
    "lecture: 3×5, padding (2, 1), stride (2, 2)": dict(
        height=3, width=5, kernel_h=3, kernel_w=3, padding=(2, 1), stride=(2, 2),
        dilation=(1, 1), in_channels=1, out_channels=1, output_index=(0, 0),
    ),
    "lecture: 20×30, kernel 3, dilation 4": dict(
        height=20, width=30, kernel_h=3, kernel_w=3, padding=(0, 0), stride=(1, 1),
        dilation=(4, 4), in_channels=1, out_channels=1, output_index=(0, 0),
    ),
}


def _as_pair(value: Any) -> Any:
    # An int means the same on both axes, as nn.Conv2d reads it; anything
    # else is left for the validation below to reject with its message.
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value), int(value))
    return tuple(value) if isinstance(value, (tuple, list)) else value


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _unread_sentence(axis: str, unread: list[int], last_read: int, kernel: int, stride: int,
                     dilation: int) -> str:
    """Say which rows (or columns) are never read and why."""
    if dilation > 1:
        gap_reason = ("{pronoun} between the taps of the dilated kernel, and the stride "
                      "never moves a tap onto {object}.")
    else:
        gap_reason = (f"the stride ({stride}) is longer than the kernel ({kernel}), so "
                      "consecutive windows leave {object} out.")
    sentences = []
    for group, reason in (
        ([i for i in unread if i < last_read], gap_reason),
        ([i for i in unread if i > last_read], "the stride jumps over {object}."),
    ):
        if not group:
            continue
        shown = [str(i) for i in group]
        if len(shown) > 6:
            shown = shown[:3] + ["…", shown[-1]]
            names = f"{axis.capitalize()}s {', '.join(shown)} ({len(group)} {axis}s)"
        else:
            names = f"{axis.capitalize()}{'s' if len(group) > 1 else ''} {_join(shown)}"
        one = len(group) == 1
        why = reason.format(pronoun="it falls" if one else "they fall",
                            object="it" if one else "them")
        sentences.append(f"{names} {'is' if one else 'are'} never read: {why}")
    return " ".join(sentences)


def _conv2d_call(facts: dict[str, Any]) -> str:
    def arg(value: Any) -> str:
        same = isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]
        return str(value[0]) if same else str(value)

    return (
        f"nn.Conv2d(in_channels={facts['in_channels']}, out_channels={facts['out_channels']}, "
        f"kernel_size={facts['kernel_size']}, stride={arg(facts['stride'])}, "
        f"padding={arg(facts['padding'])}, dilation={arg(facts['dilation'])})"
    )


def explorer_state(
    height: int,
    width: int,
    kernel_h: int,
    kernel_w: int,
    padding: int | Pair = (0, 0),
    stride: int | Pair = (1, 1),
    dilation: int | Pair = (1, 1),
    in_channels: int = 1,
    out_channels: int = 1,
    output_index: Pair = (0, 0),
) -> ExplorerState:
    """Compute what the explorer shows for one setting; never raises on bad settings.

    Along each axis the output has ``floor((H + 2 p - d (h - 1) - 1) / s) + 1``
    cells, output cell ``o`` reads the input at ``o s - p + j d``, and the layer
    holds ``D C h w + D`` parameters (weight ``(D, C, h, w)``, bias ``(D,)``).

    Parameters
    ----------
    height, width : int
        Input size ``H × W`` (the input is ``C × H × W``).
    kernel_h, kernel_w : int
        Kernel size ``h × w``.
    padding, stride, dilation : int or (int, int)
        As in ``nn.Conv2d``: one value for both axes or ``(rows, columns)``.
    in_channels, out_channels : int
        ``C`` and ``D``.
    output_index : (int, int)
        The output cell whose footprint is shown.

    Returns
    -------
    ExplorerState
        With ``error`` set (and the derived fields empty) if the setting is
        impossible: kernel wider than the padded input, values out of range,
        or ``output_index`` outside the output.

    Examples
    --------
    The lecture's ``C×3×5`` input, padding ``(2, 1)``, stride ``(2, 2)``, ``3×3`` kernel:

    >>> s = explorer_state(3, 5, 3, 3, padding=(2, 1), stride=(2, 2))
    >>> s.output_shape, s.footprint_rows, s.footprint_cols, s.error
    ((3, 3), [-2, -1, 0], [-1, 0, 1], None)
    >>> s.conv2d_call
    'nn.Conv2d(in_channels=1, out_channels=1, kernel_size=(3, 3), stride=2, padding=(2, 1), dilation=1)'

    A kernel larger than the padded input gives a message, not an exception:

    >>> s = explorer_state(2, 2, 3, 3)
    >>> s.output_shape, s.error is not None
    (None, True)
    """
    facts: dict[str, Any] = dict(
        height=height, width=width, kernel_size=(kernel_h, kernel_w),
        padding=_as_pair(padding), stride=_as_pair(stride), dilation=_as_pair(dilation),
        in_channels=in_channels, out_channels=out_channels, output_index=_as_pair(output_index),
    )
    try:
        if isinstance(facts["padding"], str):
            raise TypeError(
                f"padding must be an int or a pair (rows, columns) of zeros to add, "
                f"got {padding!r}"
            )
        output_shape = shapes.conv_output_shape(
            (height, width), facts["kernel_size"], facts["stride"], facts["padding"],
            facts["dilation"],
        )
        if not (isinstance(facts["output_index"], tuple) and len(facts["output_index"]) == 2):
            raise TypeError(f"output_index must be a pair (row, column), got {output_index!r}")
        if any(not 0 <= o < n for o, n in zip(facts["output_index"], output_shape)):
            raise ValueError(
                f"output cell {facts['output_index']} does not exist: the output is "
                f"{output_shape[0]} × {output_shape[1]}"
            )
        count = shapes.conv_parameter_count(in_channels, out_channels, facts["kernel_size"])
        axes = list(zip((height, width), facts["kernel_size"], facts["stride"],
                        facts["padding"], facts["dilation"]))
        taps = [shapes.footprint(o, k, s, p, d)
                for o, (_, k, s, p, d) in zip(facts["output_index"], axes)]
        unread = [shapes.unread_positions(*a) for a in axes]
        span = [shapes.effective_kernel_size(k, d) for (_, k, _, _, d) in axes]
    except (ValueError, TypeError) as error:
        return ExplorerState(**facts, conv2d_call=_conv2d_call(facts), error=str(error))

    # The last cell the last output reads, per axis: unread cells past it are
    # stepped over by the stride, those before it fall between dilated taps.
    last_read = [(n - 1) * s - p + (k - 1) * d
                 for n, (_, k, s, p, d) in zip(output_shape, axes)]
    sentences = [
        _unread_sentence(axis, cells, last, k, s, d)
        for axis, cells, last, (_, k, s, _, d) in zip(("row", "column"), unread, last_read, axes)
        if cells
    ]
    return ExplorerState(
        **facts,
        output_shape=tuple(output_shape),
        effective_kernel=tuple(span),
        footprint_rows=taps[0],
        footprint_cols=taps[1],
        unread_rows=unread[0],
        unread_cols=unread[1],
        unread_message=" ".join(sentences) or "Every input row and column is read.",
        parameter_count=count,
        weight_shape=(out_channels, in_channels, kernel_h, kernel_w),
        conv2d_call=_conv2d_call(facts),
    )


# ------------------------------------------------------------------------ drawing


class _Panels:
    """The axes and artists of one explorer figure, made once and then updated."""

    def __init__(self, fig: Figure):
        fig.clear()
        self.fig = fig
        self.input = fig.add_axes((0.07, 0.11, 0.6, 0.8))
        self.output = fig.add_axes((0.74, 0.11, 0.24, 0.5))
        self.cells = self.output.imshow(
            np.zeros((1, 1), dtype=np.int8), cmap=_CELL_COLORS, vmin=-0.5,
            vmax=len(FootprintCell) - 0.5, interpolation="nearest",
        )
        self.grid = self.output.add_patch(
            PathPatch(Path(np.zeros((1, 2))), fill=False, edgecolor="0.55", linewidth=0.6)
        )
        self.selected = self.output.add_patch(Rectangle(
            (0, 0), 1, 1, fill=False, edgecolor="#d1495b", linewidth=2.0, gid="selected",
        ))
        self.output.set_xlabel("output column", fontsize=9)
        self.output.set_ylabel("output row", fontsize=9)
        self.output.tick_params(length=2, labelsize=8)
        self.message = fig.text(0.5, 0.5, "", ha="center", va="center", wrap=True,
                                fontsize=11, color="#9b1c1c")


_PANELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def draw_explorer(state: ExplorerState, fig: Figure) -> None:
    """Draw an :class:`ExplorerState` into ``fig``, reusing its axes between calls.

    Left, the padded input with the footprint of the selected output cell and
    the cells no output reads (:func:`convkit.plot.draw_footprint`); right,
    the output grid ``H' × W'`` with the selected cell framed. An impossible
    state hides both and shows its error message instead.

    Parameters
    ----------
    state : ExplorerState
        From :func:`explorer_state`.
    fig : matplotlib.figure.Figure
        The figure to draw into (about 8.5 × 4.2 inches suits it).

    Returns
    -------
    None

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(8.5, 4.2))
    >>> draw_explorer(explorer_state(3, 5, 3, 3, padding=(2, 1), stride=(2, 2)), fig)
    >>> fig.axes[1].get_title()
    'output 1 × 3 × 3'
    """
    panels = _PANELS.get(fig)
    if panels is None or panels.input not in fig.axes:
        panels = _Panels(fig)
        _PANELS[fig] = panels
    valid = state.error is None
    panels.input.set_visible(valid)
    panels.output.set_visible(valid)
    panels.message.set_text("" if valid else f"No output: {state.error}")
    if not valid:
        return
    draw_footprint(
        panels.input, (state.height, state.width), state.kernel_size, stride=state.stride,
        padding=state.padding, dilation=state.dilation, output_index=state.output_index,
    )
    # The colour key is in the widget's text, next to the facts it explains:
    # drawing the legend would cost more than the rest of the panel.
    panels.input.get_legend().set_visible(False)

    rows, cols = state.output_shape
    codes = np.full((rows, cols), FootprintCell.INPUT, dtype=np.int8)
    codes[state.output_index] = FootprintCell.TAP
    panels.cells.set_data(codes)
    panels.cells.set_extent((-0.5, cols - 0.5, rows - 0.5, -0.5))
    panels.grid.set_path(_grid_path(np.arange(cols + 1) - 0.5, np.arange(rows + 1) - 0.5))
    i, j = state.output_index
    panels.selected.set_bounds(j - 0.5, i - 0.5, 1, 1)
    panels.output.set_xlim(-0.5, cols - 0.5)
    panels.output.set_ylim(rows - 0.5, -0.5)
    panels.output.set_aspect("equal")
    # First and last index only: enough to read the size, cheap to draw.
    panels.output.set_xticks(sorted({0, cols - 1}))
    panels.output.set_yticks(sorted({0, rows - 1}))
    panels.output.set_title(f"output {state.out_channels} × {rows} × {cols}", fontsize=10,
                            y=1.0)


# ------------------------------------------------------------------------ wiring


def _key() -> str:
    """The figure's colour key as HTML swatches (the figure itself has no legend)."""
    items = []
    for cell in FootprintCell:
        hatch = ("background-image: repeating-linear-gradient(45deg, #c0392b 0 1px, "
                 "transparent 1px 4px);" if cell == FootprintCell.UNREAD else "")
        items.append(
            f"<span style='display:inline-block; width:12px; height:12px; "
            f"background-color:{to_hex(_CELL_COLORS(int(cell)))}; {hatch} "
            f"border:1px solid #888; vertical-align:middle'></span> {_CELL_NAMES[cell]}"
        )
    return "<p style='font-size:small'>" + " &nbsp; ".join(items) + "</p>"


_KEY = _key()


def _describe(state: ExplorerState) -> str:
    """The facts of a state as HTML, for the widget's text panel."""
    if state.error is not None:
        return f"<p style='color:#9b1c1c'><b>No output:</b> {html.escape(state.error)}</p>"
    (h, w), (ph, pw), (sh, sw), (dh, dw) = (
        state.kernel_size, state.padding, state.stride, state.dilation
    )
    rows, cols = state.output_shape
    eh, ew = state.effective_kernel
    D, C = state.out_channels, state.in_channels
    weights = D * C * h * w
    formula = (
        f"H' = ⌊({state.height} + 2·{ph} − {dh}·({h} − 1) − 1) / {sh}⌋ + 1 = {rows}, "
        f"W' = ⌊({state.width} + 2·{pw} − {dw}·({w} − 1) − 1) / {sw}⌋ + 1 = {cols}"
    )
    return (
        f"{_KEY}"
        f"<p>Input <b>{C} × {state.height} × {state.width}</b> → output "
        f"<b>{D} × {rows} × {cols}</b><br><span style='font-family:monospace'>{formula}</span></p>"
        f"<p>Receptive field of one output cell: <b>{eh} × {ew}</b> input cells "
        f"(1 + (k − 1)·d on each axis), of which {h * w} are read.</p>"
        f"<p>{html.escape(state.unread_message)}</p>"
        f"<pre>{html.escape(state.conv2d_call)}</pre>"
        f"<p>Parameters: weight {D}×{C}×{h}×{w} = {weights:,} plus {D} bias"
        f"{'es' if D > 1 else ''} = <b>{state.parameter_count:,}</b>, "
        f"whatever the input size.</p>"
    )


def explorer() -> widgets.VBox:
    """The convolution explorer widget.

    Sliders for the input size, kernel, padding, stride and dilation (rows
    and columns), channels, and the selected output cell (whose ranges follow
    the output shape); one button per entry of :data:`PRESETS`. Impossible
    settings show a message instead of a figure.

    Returns
    -------
    ipywidgets.VBox
        The widget. Its sliders are in ``.controls`` (keys ``height``,
        ``width``, ``kernel_h``, ``kernel_w``, ``padding_h``, ``padding_w``,
        ``stride_h``, ``stride_w``, ``dilation_h``, ``dilation_w``,
        ``in_channels``, ``out_channels``, ``row``, ``col``), the preset
        buttons in ``.presets``, the picture in ``.image`` (PNG bytes), the
        text in ``.html``, the figure in ``.figure`` and the last state in
        ``.state``.

    Examples
    --------
    >>> w = explorer()
    >>> w.presets["lecture: 20×30, kernel 3, dilation 4"].click()
    >>> w.state.output_shape
    (12, 22)
    """
    def slider(description: str, low: int, high: int, value: int) -> widgets.IntSlider:
        return widgets.IntSlider(
            min=low, max=high, value=value, description=description, continuous_update=False,
            style={"description_width": "125px"}, layout=widgets.Layout(width="265px"),
        )

    controls = {
        "height": slider("input height H", 1, 32, 7),
        "width": slider("input width W", 1, 32, 9),
        "kernel_h": slider("kernel height h", 1, 9, 3),
        "kernel_w": slider("kernel width w", 1, 9, 3),
        "padding_h": slider("padding (rows)", 0, 6, 0),
        "padding_w": slider("padding (columns)", 0, 6, 0),
        "stride_h": slider("stride (rows)", 1, 6, 1),
        "stride_w": slider("stride (columns)", 1, 6, 1),
        "dilation_h": slider("dilation (rows)", 1, 6, 1),
        "dilation_w": slider("dilation (columns)", 1, 6, 1),
        "in_channels": slider("in channels C", 1, 64, 3),
        "out_channels": slider("out channels D", 1, 64, 1),
        "row": slider("output row", 0, 0, 0),
        "col": slider("output column", 0, 0, 0),
    }
    for name in ("row", "col"):
        controls[name].continuous_update = True
    presets = {name: widgets.Button(description=name, layout=widgets.Layout(width="auto"))
               for name in PRESETS}
    image = image_widget()
    text = widgets.HTML()
    fig = new_figure(8.5, 4.2)
    box = widgets.VBox()
    busy = [False]

    def current(cell: Pair | None = None) -> ExplorerState:
        c = {name: control.value for name, control in controls.items()}
        return explorer_state(
            c["height"], c["width"], c["kernel_h"], c["kernel_w"],
            padding=(c["padding_h"], c["padding_w"]), stride=(c["stride_h"], c["stride_w"]),
            dilation=(c["dilation_h"], c["dilation_w"]), in_channels=c["in_channels"],
            out_channels=c["out_channels"],
            output_index=(c["row"], c["col"]) if cell is None else cell,
        )

    def update(*_) -> None:
        if busy[0]:
            return
        busy[0] = True
        try:
            # Fit the output-cell sliders to the output first (their values
            # follow); cell (0, 0) exists whenever the output is not empty.
            shape = current().output_shape or current(cell=(0, 0)).output_shape
            if shape is not None:
                controls["row"].max, controls["col"].max = shape[0] - 1, shape[1] - 1
            state = current()
        finally:
            busy[0] = False
        draw_explorer(state, fig)
        image.value = png_bytes(fig)
        text.value = _describe(state)
        box.state = state

    def load(name: str) -> None:
        preset = PRESETS[name]
        busy[0] = True
        try:
            values = dict(
                height=preset["height"], width=preset["width"], kernel_h=preset["kernel_h"],
                kernel_w=preset["kernel_w"], in_channels=preset["in_channels"],
                out_channels=preset["out_channels"],
            )
            for key in ("padding", "stride", "dilation"):
                values[f"{key}_h"], values[f"{key}_w"] = preset[key]
            values["row"], values["col"] = preset["output_index"]
            # Widen the cell sliders first so the preset's cell is not clamped.
            controls["row"].max = max(controls["row"].max, values["row"])
            controls["col"].max = max(controls["col"].max, values["col"])
            for key, value in values.items():
                controls[key].value = value
        finally:
            busy[0] = False
        update()

    for control in controls.values():
        control.observe(update, "value")
    for name, button in presets.items():
        button.on_click(lambda _button, name=name: load(name))

    def row(*names: str) -> widgets.HBox:
        return widgets.HBox([controls[name] for name in names])

    box.children = [
        widgets.HBox(list(presets.values())),
        row("height", "width", "in_channels", "out_channels"),
        row("kernel_h", "padding_h", "stride_h", "dilation_h"),
        row("kernel_w", "padding_w", "stride_w", "dilation_w"),
        row("row", "col"),
        image,
        text,
    ]
    box.controls, box.presets, box.image, box.html, box.figure, box.state = (
        controls, presets, image, text, fig, None
    )
    update()
    return box
