"""Convolution explorer: how padding, stride, dilation and groups shape a convolution layer.

Controls set the input size, the kernel, the padding, stride and dilation of
each axis, the channels and groups, and whether the layer is an ordinary or
a transposed convolution, in 1d or 2d. The widget draws the input, the kernel
and the output as grids linked by hover: an output cell lights the input
window it reads, an input cell every output that reads it, a weight every
input it multiplies. The hovered output's dot product is written out, the
output-size formula is evaluated for each axis, and the exact ``nn.Conv2d``
and ``F.conv2d`` calls are shown.

As for every widget of the course:

* :func:`explorer_state` computes every fact shown (pure, tested against
  torch) and refuses an impossible setting with a ``ValueError`` saying why,
  as every state function of the course does;
* :class:`Explorer` turns the state into JSON (:func:`explorer_data`) for
  ``static/explorer.js``, which draws it in the browser;
* :func:`explorer` builds the widget the notebooks show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from convkit import reference, shapes
from convkit._args import per_axis
from convkit.widgets.base import (
    ConvWidget,
    axis_argument,
    axis_settings,
    axis_sliders,
    choice,
    preset,
    slider,
)
from convkit.widgets.picture import Picture, index_span

__all__ = ["ExplorerState", "PRESETS", "explorer_state", "explorer_data", "Explorer", "explorer"]

Pair = tuple[int, int]


@dataclass(frozen=True)
class ExplorerState:
    """The facts the explorer shows for one setting of its controls.

    Pairs are ``(rows, columns)``; a 1d setting is the 2d one with a single
    row (``H = h = 1``, no padding, stride or dilation along rows).

    Attributes
    ----------
    height, width : int
        Input size ``H × W``.
    kernel_size, padding, stride, dilation : (int, int)
        The layer's settings.
    in_channels, out_channels, groups : int
        ``C``, ``D`` and the number of channel groups.
    output_index : (int, int)
        The selected output cell.
    ndim : int
        1 (``Conv1d``) or 2 (``Conv2d``).
    transposed : bool
        Whether the layer is a transposed convolution (``ConvTranspose2d``).
    output_padding : (int, int)
        Extra output cells of a transposed convolution (at the end of each axis).
    output_shape : (int, int) or None
        ``(H', W')``: ``H' = floor((H + 2 p - d (h - 1) - 1) / s) + 1``, or for a
        transposed convolution ``H' = (H - 1) s - 2 p + d (h - 1) + output_padding + 1``.
    effective_kernel : (int, int) or None
        Span ``1 + (k - 1) d`` of the dilated kernel on each axis.
    footprint_rows, footprint_cols : list of int
        Input rows and columns the selected cell reads (negative or ``>= H``:
        padding). For a transposed convolution: the input rows and columns
        whose contributions land on the selected cell.
    reads_rows, reads_cols : list of list of (int, int)
        For every output row (column) ``o``, the ``(input index, tap index)``
        pairs it sums over: ``i = o s - p + j d``; for a transposed convolution
        the pairs with ``i s - p + j d = o``. The browser lights cells from these.
    unread_rows, unread_cols : list of int
        Input rows and columns no output cell reads.
    unread_message : str
        The same in words, saying why.
    parameter_count : int or None
        Weights and biases: ``D (C / g) h w + D``.
    weight_shape : (int, int, int, int) or None
        ``(D, C / g, h, w)``, or ``(C, D / g, h, w)`` when transposed.
    channel_links : list of list of int
        For each output channel, the input channels it reads (``C / g`` of them).
    x, weight, output : numpy.ndarray or None
        The example numbers drawn: one channel of input ``(H, W)``, kernel
        ``(h, w)`` and the output ``(H', W')`` they give.
    conv2d_call, functional_call : str
        The equivalent ``nn.Conv2d(...)`` (``nn.Conv1d``, ``nn.ConvTranspose2d``, ...)
        and ``F.conv2d(...)`` expressions.
    formulas : (str, str)
        The output-size formula with this setting's numbers, per axis.
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
    ndim: int = 2
    transposed: bool = False
    output_padding: Pair = (0, 0)
    groups: int = 1
    output_shape: Pair | None = None
    effective_kernel: Pair | None = None
    footprint_rows: list[int] | None = None
    footprint_cols: list[int] | None = None
    reads_rows: list[list[tuple[int, int]]] | None = None
    reads_cols: list[list[tuple[int, int]]] | None = None
    unread_rows: list[int] | None = None
    unread_cols: list[int] | None = None
    unread_message: str = ""
    parameter_count: int | None = None
    weight_shape: tuple[int, int, int, int] | None = None
    channel_links: list[list[int]] = field(default_factory=list)
    x: np.ndarray | None = field(default=None, repr=False, compare=False)
    weight: np.ndarray | None = field(default=None, repr=False, compare=False)
    output: np.ndarray | None = field(default=None, repr=False, compare=False)
    conv2d_call: str = ""
    functional_call: str = ""
    formulas: tuple[str, ...] = ()


#: One-click settings from the lecture: its padded and strided ``C×3×5``
#: example (output ``3×3``), its dilated ``20×30`` example (output ``12×22``),
#: its 1d example ``(1, 2, 3, 4) ⊛ (3, 2)``, and two layers it names: a
#: transposed convolution that doubles the size and a depthwise convolution.
#: Each entry holds :func:`explorer_state`'s arguments.
PRESETS: dict[str, dict[str, Any]] = {
    "lecture: 3×5, padding (2, 1), stride (2, 2)": dict(
        height=3,
        width=5,
        kernel_h=3,
        kernel_w=3,
        padding=(2, 1),
        stride=(2, 2),
        dilation=(1, 1),
        in_channels=1,
        out_channels=1,
        output_index=(0, 0),
    ),
    "lecture: 20×30, kernel 3, dilation 4": dict(
        height=20,
        width=30,
        kernel_h=3,
        kernel_w=3,
        padding=(0, 0),
        stride=(1, 1),
        dilation=(4, 4),
        in_channels=1,
        out_channels=1,
        output_index=(0, 0),
    ),
    "1d: 4 inputs, kernel 2": dict(
        height=1,
        width=4,
        kernel_h=1,
        kernel_w=2,
        in_channels=1,
        out_channels=1,
        ndim=1,
    ),
    "transposed: 4×4 → 8×8": dict(
        height=4,
        width=4,
        kernel_h=3,
        kernel_w=3,
        padding=(1, 1),
        stride=(2, 2),
        output_padding=(1, 1),
        in_channels=1,
        out_channels=1,
        transposed=True,
    ),
    "depthwise: 8 channels, groups 8": dict(
        height=7,
        width=9,
        kernel_h=3,
        kernel_w=3,
        padding=(1, 1),
        in_channels=8,
        out_channels=8,
        groups=8,
    ),
}

# The example numbers drawn in the cells: small integers, the same cell keeping
# its value when the size changes, so that a dot product can be checked by eye.
_MAX_SIDE = 64
_X_TABLE = (np.arange(_MAX_SIDE)[:, None] * 3 + np.arange(_MAX_SIDE)[None, :] * 2) % 5 + 1
_W_TABLE = (np.arange(_MAX_SIDE)[:, None] + np.arange(_MAX_SIDE)[None, :]) % 3 - 1
_ARGUMENTS = ("kernel_size", "stride", "padding", "output_padding", "dilation")


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _unread_sentence(
    axis: str, unread: list[int], last_read: int, kernel: int, stride: int, dilation: int
) -> str:
    """Say which rows (or columns) are never read and why."""
    if dilation > 1:
        gap_reason = (
            "{pronoun} between the taps of the dilated kernel, and the stride "
            "never moves a tap onto {object}."
        )
    else:
        gap_reason = (
            f"the stride ({stride}) is longer than the kernel ({kernel}), so "
            "consecutive windows leave {object} out."
        )
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
        why = reason.format(pronoun="it falls" if one else "they fall", object="it" if one else "them")
        sentences.append(f"{names} {'is' if one else 'are'} never read: {why}")
    return " ".join(sentences)


def _call_texts(facts: dict[str, Any]) -> tuple[str, str]:
    """The ``nn`` layer and the ``F`` call of a setting, as a student would type them."""
    nd, transposed = facts["ndim"], facts["transposed"]

    def arg(value: Any) -> str:
        if nd == 1:
            return str(value[1])
        same = isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]
        return str(value[0]) if same else str(value)

    names = ["kernel_size", "stride", "padding"]
    if transposed:
        names.append("output_padding")
    names.append("dilation")
    kernel = str(facts["kernel_size"][1]) if nd == 1 else str(facts["kernel_size"])
    layer_args = [
        f"in_channels={facts['in_channels']}",
        f"out_channels={facts['out_channels']}",
        f"kernel_size={kernel}",
    ]
    layer_args += [f"{name}={arg(facts[name])}" for name in names[1:]]
    if facts["groups"] != 1:
        layer_args.append(f"groups={facts['groups']}")
    kind = f"ConvTranspose{nd}d" if transposed else f"Conv{nd}d"
    call_args = [f"{name}={arg(facts[name])}" for name in names[1:]]
    if facts["groups"] != 1:
        call_args.append(f"groups={facts['groups']}")
    function = f"conv_transpose{nd}d" if transposed else f"conv{nd}d"
    return f"nn.{kind}({', '.join(layer_args)})", f"F.{function}(x, weight, {', '.join(call_args)})"


def _transposed_size(n: int, k: int, s: int, p: int, op: int, d: int, axis: str) -> int:
    """One axis of a transposed convolution (``shapes``' formula), with the axis in messages."""
    try:
        return shapes.conv_transpose_output_size(n, k, s, p, op, d)
    except ValueError as error:
        raise ValueError(f"along the {axis}: {error}") from None


def _reads(transposed: bool, n: int, out: int, k: int, s: int, p: int, d: int) -> list[list[tuple[int, int]]]:
    """Per output index, the ``(input index, tap)`` pairs it sums over."""
    if not transposed:
        return [list(zip(shapes.footprint(o, k, s, p, d), range(k))) for o in range(out)]
    reads: list[list[tuple[int, int]]] = [[] for _ in range(out)]
    for i in range(n):
        for j in range(k):
            o = i * s - p + j * d
            if 0 <= o < out:
                reads[o].append((i, j))
    return [sorted(r) for r in reads]


def _formula(facts: dict[str, Any], axis: int, out: int) -> str:
    name, n = (("H", facts["height"]), ("W", facts["width"]))[axis]
    k, s, p, d, op = (
        facts[a][axis] for a in ("kernel_size", "stride", "padding", "dilation", "output_padding")
    )
    if facts["transposed"]:
        return (
            f"{name}' = ({name} − 1)·s − 2p + d·(k − 1) + output_padding + 1 = "
            f"({n} − 1)·{s} − 2·{p} + {d}·({k} − 1) + {op} + 1 = {out}"
        )
    return (
        f"{name}' = ⌊({name} + 2p − d·(k − 1) − 1) / s⌋ + 1 = "
        f"⌊({n} + 2·{p} − {d}·({k} − 1) − 1) / {s}⌋ + 1 = {out}"
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
    *,
    ndim: int = 2,
    transposed: bool = False,
    output_padding: int | Pair = (0, 0),
    groups: int = 1,
) -> ExplorerState:
    """Compute what the explorer shows for one setting.

    Along each axis the output has ``floor((H + 2 p - d (h - 1) - 1) / s) + 1``
    cells and output cell ``o`` reads the input at ``o s - p + j d``; a
    transposed convolution instead adds input ``i`` times tap ``j`` into output
    ``i s - p + j d``, giving ``(H - 1) s - 2 p + d (h - 1) + output_padding + 1``
    cells. The layer holds ``D (C / g) h w + D`` parameters.

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
        The output cell whose footprint is given in ``footprint_rows/cols``.
    ndim : {1, 2}
        1 for ``Conv1d``: only ``width``, ``kernel_w`` and the column entries count.
    transposed : bool
        ``ConvTranspose2d`` instead of ``Conv2d``.
    output_padding : int or (int, int)
        Only for a transposed convolution; smaller than the stride or the dilation.
    groups : int
        Channel groups; ``C`` and ``D`` must be multiples of it (``groups = C``: depthwise).

    Returns
    -------
    ExplorerState

    Raises
    ------
    ValueError
        If the setting is impossible: the kernel does not fit in the padded
        input, a value is out of range, the channels do not split into the
        groups, or the selected output cell does not exist. The message says why.
    TypeError
        If an argument has the wrong type.

    Examples
    --------
    The lecture's ``C×3×5`` input, padding ``(2, 1)``, stride ``(2, 2)``, ``3×3`` kernel:

    >>> s = explorer_state(3, 5, 3, 3, padding=(2, 1), stride=(2, 2))
    >>> s.output_shape, s.footprint_rows, s.footprint_cols
    ((3, 3), [-2, -1, 0], [-1, 0, 1])
    >>> s.conv2d_call
    'nn.Conv2d(in_channels=1, out_channels=1, kernel_size=(3, 3), stride=2, padding=(2, 1), dilation=1)'

    A transposed convolution with stride 2 doubles a ``4×4`` input:

    >>> explorer_state(4, 4, 3, 3, padding=1, stride=2, output_padding=1, transposed=True).output_shape
    (8, 8)

    A kernel larger than the padded input is refused, with the reason:

    >>> explorer_state(2, 2, 3, 3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: kernel_size=3 ... spans 3 cells but the padded input has only 2 ...
    """
    facts: dict[str, Any] = dict(
        height=height,
        width=width,
        kernel_size=(kernel_h, kernel_w),
        padding=padding,
        stride=stride,
        dilation=dilation,
        in_channels=in_channels,
        out_channels=out_channels,
        output_index=output_index,
        ndim=ndim,
        transposed=transposed,
        output_padding=output_padding,
        groups=groups,
    )
    if ndim not in (1, 2):
        raise ValueError(f"ndim must be 1 or 2, got {ndim!r}")
    if not isinstance(transposed, (bool, np.bool_)):
        raise TypeError(f"transposed must be True or False, got {transposed!r}")
    for name in ("padding", "stride", "dilation", "output_padding", "output_index"):
        # An int means the same on both axes, as nn.Conv2d reads it.
        facts[name] = per_axis(facts[name], name, 2)
    if ndim == 1:
        # One row: the rows axis is a kernel of one tap that reads row 0.
        facts.update(height=1, kernel_size=(1, kernel_w))
        for name, neutral in (
            ("padding", 0),
            ("stride", 1),
            ("dilation", 1),
            ("output_padding", 0),
            ("output_index", 0),
        ):
            facts[name] = (neutral, facts[name][1])
    size = (facts["height"], facts["width"])
    if transposed:
        for a in range(2):
            shapes.conv_output_size(  # validates stride, padding and dilation, by name
                1, 1, facts["stride"][a], facts["padding"][a], facts["dilation"][a]
            )
        output_shape = tuple(
            _transposed_size(
                size[a],
                facts["kernel_size"][a],
                facts["stride"][a],
                facts["padding"][a],
                facts["output_padding"][a],
                facts["dilation"][a],
                ("rows", "columns")[a],
            )
            for a in range(2)
        )
    else:
        if any(facts["output_padding"]):
            raise ValueError(
                "output_padding exists only for a transposed convolution "
                f"(got output_padding={facts['output_padding']})"
            )
        output_shape = shapes.conv_output_shape(
            size, facts["kernel_size"], facts["stride"], facts["padding"], facts["dilation"]
        )
    if any(not 0 <= o < n for o, n in zip(facts["output_index"], output_shape)):
        raise ValueError(
            f"output cell {facts['output_index']} does not exist: the output is "
            f"{output_shape[0]} × {output_shape[1]}"
        )
    C, D = in_channels, out_channels
    kernel = facts["kernel_size"] if ndim == 2 else facts["kernel_size"][1]
    # The same count either way: D (C / g) h w weights for a convolution, C (D / g) h w
    # for a transposed one, and D biases.
    count = shapes.conv_parameter_count(C, D, kernel, groups=groups)
    if transposed:
        weight_shape = (C, D // groups, *facts["kernel_size"])
    else:
        weight_shape = (D, C // groups, *facts["kernel_size"])
    axes = [
        (size[a], facts["kernel_size"][a], facts["stride"][a], facts["padding"][a], facts["dilation"][a])
        for a in range(2)
    ]
    reads = [_reads(transposed, n, out, k, s, p, d) for (n, k, s, p, d), out in zip(axes, output_shape)]
    span = [shapes.effective_kernel_size(k, d) for (_, k, _, _, d) in axes]

    if transposed:
        unread = [
            sorted(set(range(n)) - {i for r in reads[a] for i, _ in r}) for a, (n, *_) in enumerate(axes)
        ]
        sentences = [
            f"Input {axis}s {', '.join(map(str, cells))} reach only output cells that the padding crops away."
            for axis, cells in zip(("row", "column"), unread)
            if cells
        ]
    else:
        unread = [shapes.unread_positions(*a) for a in axes]
        # The last cell the last output reads, per axis: unread cells past it are
        # stepped over by the stride, those before it fall between dilated taps.
        last_read = [(n - 1) * s - p + (k - 1) * d for n, (_, k, s, p, d) in zip(output_shape, axes)]
        sentences = [
            _unread_sentence(axis, cells, last, k, s, d)
            for axis, cells, last, (_, k, s, _, d) in zip(("row", "column"), unread, last_read, axes)
            if cells
        ]
    x = _X_TABLE[: size[0], : size[1]].astype(np.float64)
    w = _W_TABLE[: facts["kernel_size"][0], : facts["kernel_size"][1]].astype(np.float64)
    layer = dict(stride=facts["stride"], padding=facts["padding"], dilation=facts["dilation"])
    if transposed:
        y = reference.conv_transpose2d(
            x[None, None], w[None, None], output_padding=facts["output_padding"], **layer
        )[0, 0]
    else:
        y = reference.conv2d(x[None, None], w[None, None], **layer)[0, 0]
    per_group_in, per_group_out = C // groups, D // groups
    links = [
        list(range((d // per_group_out) * per_group_in, (d // per_group_out + 1) * per_group_in))
        for d in range(D)
    ]
    calls = _call_texts(facts)
    o = facts["output_index"]
    return ExplorerState(
        **facts,
        output_shape=tuple(output_shape),
        effective_kernel=tuple(span),
        footprint_rows=sorted({i for i, _ in reads[0][o[0]]}),
        footprint_cols=sorted({i for i, _ in reads[1][o[1]]}),
        reads_rows=reads[0],
        reads_cols=reads[1],
        unread_rows=unread[0],
        unread_cols=unread[1],
        unread_message=" ".join(sentences) or "Every input row and column is read.",
        parameter_count=count,
        weight_shape=weight_shape,
        channel_links=links,
        x=x,
        weight=w,
        output=np.asarray(y, dtype=np.float64),
        conv2d_call=calls[0],
        functional_call=calls[1],
        formulas=tuple(_formula(facts, a, output_shape[a]) for a in range(2)),
    )


def explorer_data(state: ExplorerState) -> dict[str, Any]:
    """The JSON the browser draws for a valid :class:`ExplorerState`.

    Grids are nested lists (rows first); ``reads`` holds ``reads_rows`` and
    ``reads_cols``, from which the browser lights the cells of any hovered
    output, input or weight without asking the kernel.
    """
    rows, cols = state.output_shape
    D, C = state.out_channels, state.in_channels
    if state.ndim == 1:
        shape_in, shape_out = f"{C} × {state.width}", f"{D} × {cols}"
    else:
        shape_in, shape_out = f"{C} × {state.height} × {state.width}", f"{D} × {rows} × {cols}"
    return dict(
        ndim=state.ndim,
        transposed=bool(state.transposed),
        input_shape=[state.height, state.width],
        output_shape=[rows, cols],
        kernel_size=list(state.kernel_size),
        padding=list(state.padding),
        stride=list(state.stride),
        dilation=list(state.dilation),
        output_padding=list(state.output_padding),
        in_channels=C,
        out_channels=D,
        groups=state.groups,
        channel_links=state.channel_links,
        weight_shape=list(state.weight_shape),
        reads=[
            [[list(p) for p in r] for r in state.reads_rows],
            [[list(p) for p in r] for r in state.reads_cols],
        ],
        x=state.x.tolist(),
        weight=state.weight.tolist(),
        output=state.output.tolist(),
        formulas=list(state.formulas if state.ndim == 2 else state.formulas[1:]),
        calls=[state.conv2d_call, state.functional_call],
        unread=[state.unread_rows, state.unread_cols],
        unread_message=state.unread_message,
        effective_kernel=list(state.effective_kernel),
        parameter_count=state.parameter_count,
        summary=f"Input {shape_in} → output {shape_out}",
    )


def _described(d: dict[str, Any]) -> str:
    """The saved picture's text alternative: the layer, its shapes, and the window of ``y[0, 0]``.

    ``d`` is :func:`explorer_data`'s JSON.
    """
    one = d["ndim"] == 1

    def axes(name: str) -> str:
        value = d[name]
        return str(value[1]) if one else f"({value[0]}, {value[1]})"

    kernel = str(d["kernel_size"][1]) if one else " × ".join(map(str, d["kernel_size"]))
    names = ["padding", "stride", "dilation"] + ["output_padding"] * d["transposed"]
    settings = ", ".join(f"{name.replace('_', ' ')} {axes(name)}" for name in names)
    rows, cols = ([i for i, _ in d["reads"][a][0]] for a in range(2))
    where = (
        "input x[" + index_span(cols) + "]"
        if one
        else f"input rows {index_span(rows)}, columns {index_span(cols)}"
    )
    return (
        f"{'transposed convolution' if d['transposed'] else 'convolution'}, {d['summary']}; "
        f"kernel {kernel}, {settings}; output {'y[0]' if one else 'y[0, 0]'} = "
        f"{d['output'][0][0]:g} {'sums' if d['transposed'] else 'reads'} {where}"
    )


def _settings_of(arguments: dict[str, Any]) -> dict[str, Any]:
    """Control values for :func:`explorer_state` arguments (a preset)."""
    settings = dict(
        ndim=arguments.get("ndim", 2),
        mode="transposed" if arguments.get("transposed") else "conv",
        height=arguments["height"],
        width=arguments["width"],
        kernel_h=arguments["kernel_h"],
        kernel_w=arguments["kernel_w"],
        in_channels=arguments.get("in_channels", 1),
        out_channels=arguments.get("out_channels", 1),
        groups=arguments.get("groups", 1),
    )
    for name, default in (("padding", 0), ("stride", 1), ("dilation", 1), ("output_padding", 0)):
        settings.update(axis_settings(name, arguments.get(name, default), 2, default))
    return settings


_DEFAULTS = _settings_of(dict(height=7, width=9, kernel_h=3, kernel_w=3, in_channels=3, out_channels=1))


class Explorer(ConvWidget):
    """The convolution explorer (see the module's docstring); build it with :func:`explorer`."""

    module_file = "explorer.js"

    def controls_spec(self, settings: dict[str, Any]) -> list[dict[str, Any]]:
        one = settings["ndim"] == 1
        plain = settings["mode"] != "transposed"
        common = np.gcd(settings["in_channels"], settings["out_channels"])
        divisors = sorted({g for g in range(1, common + 1) if common % g == 0} | {settings["groups"]})

        # As in the best visualizers, a kernel slider stops where the dilated kernel still
        # fits in the padded input (a convolution), and output padding below max(s, d).
        def kernel_max(axis: str) -> int:
            if not plain:
                return 9
            n = settings["height" if axis == "_h" else "width"]
            p, d = settings[f"padding{axis}"], settings[f"dilation{axis}"]
            return max(1, min(9, (n + 2 * p - 1) // max(d, 1) + 1), settings[f"kernel{axis}"])

        spec = [
            choice("ndim", "dimensions", [("2d", 2), ("1d", 1)], settings["ndim"]),
            choice(
                "mode",
                "layer",
                [("convolution", "conv"), ("transposed convolution", "transposed")],
                settings["mode"],
            ),
            slider("height", "input height H", 1, 32, settings["height"], hidden=one),
            slider("width", "input width W", 1, 32, settings["width"]),
            slider("kernel_h", "kernel height h", 1, kernel_max("_h"), settings["kernel_h"], hidden=one),
            slider("kernel_w", "kernel width w", 1, kernel_max("_w"), settings["kernel_w"]),
        ]
        for name, low, high in (
            ("padding", 0, 6),
            ("stride", 1, 6),
            ("dilation", 1, 6),
            ("output_padding", 0, 5),
        ):
            hidden = name == "output_padding" and plain
            spec += axis_sliders(name, name.replace("_", " "), low, high, settings, one=one, hidden=hidden)
        spec += [
            slider("in_channels", "in channels C", 1, 16, settings["in_channels"]),
            slider("out_channels", "out channels D", 1, 16, settings["out_channels"]),
            choice("groups", "groups g", [(str(g), g) for g in divisors], settings["groups"]),
        ]
        spec += [preset(name, _settings_of(values)) for name, values in PRESETS.items()]
        return spec

    def compute(self, settings: dict[str, Any]) -> tuple[ExplorerState, dict[str, Any]]:
        s = settings
        transposed = s["mode"] == "transposed"
        pair = {
            name: axis_argument(s, name, 2) for name in ("padding", "stride", "dilation", "output_padding")
        }
        state = explorer_state(
            s["height"],
            s["width"],
            s["kernel_h"],
            s["kernel_w"],
            padding=pair["padding"],
            stride=pair["stride"],
            dilation=pair["dilation"],
            in_channels=s["in_channels"],
            out_channels=s["out_channels"],
            ndim=s["ndim"],
            transposed=transposed,
            output_padding=pair["output_padding"] if transposed else (0, 0),
            groups=s["groups"],
        )
        return state, explorer_data(state)

    def picture(self) -> Picture | None:
        """The input with the first output's window, the output, the formulas and the call."""
        if not self.data:
            return None
        d = self.data
        (H, W), (Ho, Wo) = d["input_shape"], d["output_shape"]
        pad = [0, 0] if d["transposed"] else d["padding"]
        cell = max(8, min(22, 300 // max(W + 2 * pad[1], Wo, 1)))
        lit = {(i, k) for i, _ in d["reads"][0][0] for k, _ in d["reads"][1][0]}
        top, left = 40, 30 + (W + 2 * pad[1]) * cell
        bottom = top + max(H + 2 * pad[0], Ho) * cell + 22
        lines = [*d["formulas"], *d["calls"]]
        width = max(left + Wo * cell + 10, 10 + 7.5 * max(len(t) for t in lines))
        picture = Picture(width, bottom + 18 * len(lines), f"convolution explorer: {_described(d)}")
        picture.text(10, 18, d["summary"], 14, weight="bold")
        picture.grid(
            10,
            top,
            range(-pad[0], H + pad[0]),
            range(-pad[1], W + pad[1]),
            cell,
            lambda r, c: (
                "#56B4E9" if (r, c) in lit else ("#ffffff" if 0 <= r < H and 0 <= c < W else "#eeeeee")
            ),
        )
        picture.grid(
            left, top, range(Ho), range(Wo), cell, lambda r, c: "#E69F00" if (r, c) == (0, 0) else "#ffffff"
        )
        for k, line in enumerate(lines):
            picture.text(10, bottom + 18 * k, line, 13)
        return picture


def explorer(preset: str | None = None) -> Explorer:
    """The convolution explorer widget.

    Controls for 1d or 2d, convolution or transposed convolution, the input
    size, kernel, padding, stride, dilation (and output padding) per axis, the
    channels and groups, and one button per entry of :data:`PRESETS`. Hovering
    (or moving with the arrow keys over) the output lights the input window
    each cell reads and writes its dot product out; hovering the input or the
    kernel lights the outputs and inputs they meet. Impossible settings show a
    message and keep the last picture.

    Parameters
    ----------
    preset : str, optional
        A key of :data:`PRESETS` to start from.

    Returns
    -------
    Explorer
        The widget. ``.controls`` holds its controls by name (``height``,
        ``width``, ``kernel_h``, ``kernel_w``, ``padding_h``, ``padding_w``,
        ``stride_h``, ``stride_w``, ``dilation_h``, ``dilation_w``,
        ``output_padding_h``, ``output_padding_w``, ``in_channels``,
        ``out_channels``, ``groups``, ``ndim``, ``mode``), ``.presets`` the
        preset buttons, ``.state`` the last :class:`ExplorerState` and
        ``.error`` the message for a refused setting.

    Examples
    --------
    >>> w = explorer()
    >>> w.presets["lecture: 20×30, kernel 3, dilation 4"].click()
    >>> w.state.output_shape
    (12, 22)
    >>> w.controls["kernel_w"].value = 9   # spans 33 columns of 30: refused, picture kept
    >>> w.error.startswith("kernel_size=9 with dilation=4 spans 33 cells"), w.state.output_shape
    (True, (12, 22))
    """
    settings = dict(_DEFAULTS)
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {list(PRESETS)}, got {preset!r}")
        settings = _settings_of(PRESETS[preset])
    return Explorer(settings, title="Convolution explorer")
