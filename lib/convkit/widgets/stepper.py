"""Sliding-window stepper: a 1d or 2d convolution computed one output position at a time.

The kernel is placed on the (padded) input at one output position, the
elementwise products are shown, and their sum lands in the output, which
fills in position by position as Play advances. Stride, padding and dilation
move the window and spread its taps exactly as ``F.conv1d`` and ``F.conv2d``
do. With several input channels (``x`` of shape ``(C, H, W)``, a kernel
``(C, h, w)`` and a bias) each channel gives a partial sum and the ``C``
partial sums plus the bias add up to the output value.

As for every widget of the course:

* :func:`stepper_state` computes every number shown at one position (pure,
  tested against torch);
* :func:`stepper_data` gives the browser the numbers of every position at
  once, so Play, step and scrub never wait for the kernel
  (``static/stepper.js`` draws them);
* :func:`stepper` builds the widget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import traitlets

from convkit import reference, shapes
from convkit._args import as_array, as_int, per_axis
from convkit.widgets.base import ConvWidget, axis_argument, axis_settings, axis_sliders, choice
from convkit.widgets.picture import Picture, index_span

__all__ = ["EXAMPLES", "Stepper", "StepperState", "stepper", "stepper_data", "stepper_state"]


@dataclass(frozen=True, eq=False)
class StepperState:
    """Every number the stepper shows for one output position.

    Shapes below are for a 2d call, ``x`` of shape ``(H, W)`` and kernel
    ``(h, w)``; a 1d call drops the first axis, a multichannel call has ``x``
    ``(C, H, W)`` and kernel ``(C, h, w)`` (and so ``padded``, ``window`` and
    ``products`` gain a leading ``C`` axis). Indices are 0-based; input
    indices are in unpadded coordinates (padding cells are ``< 0`` or ``>= H``).

    Attributes
    ----------
    x : numpy.ndarray, shape (H, W) or (C, H, W)
        The input, as float64.
    kernel : numpy.ndarray, shape (h, w) or (C, h, w)
        The kernel ``u``, as float64.
    bias : float
        Added once to every output value.
    stride, padding, dilation : tuple of int
        One entry per spatial axis.
    padded : numpy.ndarray
        The input inside its frame of zeros.
    position : int
        Flat (row-major) index of the current output position.
    output_index : tuple of int
        The same position as ``(i, j)``.
    taps : tuple of list of int
        Per spatial axis, the input indices the kernel taps read: ``o s - p + j d``.
    window : numpy.ndarray
        The padded input at the taps.
    products : numpy.ndarray
        ``window * kernel``, the terms of the sum.
    partials : numpy.ndarray, shape (C,)
        The sum of the products of each channel (``C = 1`` for one channel).
    value : float
        ``partials.sum() + bias``: the output at ``output_index``.
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
    partials: np.ndarray
    bias: float = 0.0
    multichannel: bool = False

    @property
    def ndim(self) -> int:
        """Spatial dims: 1 or 2."""
        return self.x.ndim - int(self.multichannel)

    @property
    def channels(self) -> int:
        """``C``, the number of input channels (1 unless multichannel)."""
        return self.x.shape[0] if self.multichannel else 1

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of the output, ``(W',)`` or ``(H', W')``."""
        return self.output.shape

    @property
    def positions(self) -> int:
        """Number of output positions the window visits."""
        return self.output.size


#: The examples the widget offers: the lecture's 1d example and its
#: derivative filter, the lecture's padded and strided 3×5 input (with the
#: vertical-edge kernel of its MNIST example), and a 3-channel input whose
#: three partial sums and bias add up to each output value.
EXAMPLES: dict[str, dict[str, Any]] = {
    "1d: (1, 2, 3, 4) ⊛ (3, 2)": dict(
        x=np.array([1.0, 2, 3, 4]),
        kernel=np.array([3.0, 2]),
        stride=1,
        padding=0,
        dilation=1,
    ),
    "1d: a derivative, kernel (-1, 1)": dict(
        x=np.array([0.0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4]),
        kernel=np.array([-1.0, 1]),
        stride=1,
        padding=0,
        dilation=1,
    ),
    "2d: 3×5 input, padding (2, 1), stride (2, 2)": dict(
        x=np.arange(1.0, 16.0).reshape(3, 5),
        kernel=np.array([[-1.0, 0, 1], [-1, 0, 1], [-1, 0, 1]]),
        stride=(2, 2),
        padding=(2, 1),
        dilation=(1, 1),
    ),
    "2d, 3 channels: partial sums + bias": dict(
        x=np.arange(48.0).reshape(3, 4, 4) % 5,
        kernel=np.array([[[1.0, 0], [0, -1]], [[0, 1], [1, 0]], [[1, 1], [-1, 0]]]),
        bias=1.0,
        stride=1,
        padding=0,
        dilation=1,
        multichannel=True,
    ),
}


def stepper_state(
    x: Any,
    kernel: Any,
    *,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    position: int = 0,
    bias: float = 0.0,
    multichannel: bool = False,
) -> StepperState:
    """Compute what the stepper shows at one output position.

    Output position ``o`` reads the padded input at ``o s - p + j d`` for every
    tap ``j`` (per axis) and is ``y_o = sum_c sum_j x_{c, o s - p + j d} u_{c, j} + b``,
    the lecture's ``x ⊛ u`` (no kernel flip), as ``F.conv1d`` / ``F.conv2d``.

    Parameters
    ----------
    x : array_like, shape (W,), (H, W), or (C, W) / (C, H, W) with ``multichannel``
        The input.
    kernel : array_like, shape (w,), (h, w), or (C, w) / (C, h, w) with ``multichannel``
        The kernel ``u``, with as many dims as ``x``.
    stride, padding, dilation : int or tuple of int
        As in ``F.conv1d`` / ``F.conv2d``: one value for every spatial axis,
        or one entry per axis.
    position : int, default 0
        Flat (row-major) index of the output position, ``0 <= position < H' W'``.
    bias : float, default 0
        The bias ``b`` of the one output channel.
    multichannel : bool, default False
        Whether the first axis of ``x`` and ``kernel`` is the channel axis ``C``.

    Returns
    -------
    StepperState
        Padded input, taps, products, partial sums, current value, whole and partial output.

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

    Two channels and a bias: partial sums ``1·1 + 2·1 = 3`` and ``3·2 = 6``, plus 1:

    >>> s = stepper_state([[1, 2], [3, 0]], [[1, 1], [2, 0]], bias=1, multichannel=True)
    >>> s.partials.tolist(), s.value
    ([3.0, 6.0], 10.0)
    """
    extra = int(bool(multichannel))
    axes = "(C, W) or (C, H, W)" if multichannel else "(W,) or (H, W)"
    signal = as_array(x, "x", ndim=(1 + extra, 2 + extra), axes=axes, nonempty=True, dtype=np.float64)
    u = as_array(kernel, "kernel", ndim=(1 + extra, 2 + extra), axes=axes, nonempty=True, dtype=np.float64)
    if u.ndim != signal.ndim or (multichannel and u.shape[0] != signal.shape[0]):
        raise ValueError(
            f"kernel has shape {u.shape} but x has shape {signal.shape}: both must be "
            + ("(C, ...) with the same C and as many dims" if multichannel else "1d or both 2d")
        )
    if isinstance(bias, (bool, np.bool_)) or not isinstance(bias, (int, float, np.number)):
        raise TypeError(f"bias must be a number, got {bias!r}")
    space, kspace = signal.shape[extra:], u.shape[extra:]
    nd = len(space)
    output_shape = shapes.conv_output_shape(space, kspace, stride, padding, dilation)
    s, p, d = (
        per_axis(v, name, nd)
        for v, name in ((stride, "stride"), (padding, "padding"), (dilation, "dilation"))
    )
    count = math.prod(output_shape)
    position = as_int(position, "position")
    if not 0 <= position < count:
        raise ValueError(
            f"position={position} is outside 0..{count - 1}: the output of shape "
            f"{output_shape} has {count} positions"
        )
    output_index = tuple(int(i) for i in np.unravel_index(position, output_shape))
    taps = tuple(
        shapes.footprint(o, k, s_, p_, d_) for o, k, s_, p_, d_ in zip(output_index, kspace, s, p, d)
    )
    channels = signal if multichannel else signal[np.newaxis]
    kernels = u if multichannel else u[np.newaxis]
    padded = np.pad(channels, [(0, 0)] + [(p_, p_) for p_ in p])
    window = padded[np.ix_(range(len(channels)), *[np.asarray(t) + p_ for t, p_ in zip(taps, p)])]
    products = window * kernels
    partials = products.reshape(len(channels), -1).sum(axis=1)
    conv = reference.conv1d if nd == 1 else reference.conv2d
    # One output channel: weight (D = 1, C, ...), bias (1,).
    output = conv(channels, kernels[np.newaxis], np.array([float(bias)]), stride=s, padding=p, dilation=d)[0]
    done = np.arange(count).reshape(output_shape) <= position
    squeeze = (lambda a: a) if multichannel else (lambda a: a[0])
    return StepperState(
        x=signal,
        kernel=u,
        stride=s,
        padding=p,
        dilation=d,
        padded=squeeze(padded),
        position=position,
        output_index=output_index,
        taps=taps,
        window=squeeze(window),
        products=squeeze(products),
        value=float(partials.sum() + bias),
        output=output,
        partial=np.where(done, output, np.nan),
        partials=partials,
        bias=float(bias),
        multichannel=bool(multichannel),
    )


def _ndim(example: dict[str, Any]) -> int:
    """Spatial dims of an example: 1 or 2."""
    return np.ndim(example["x"]) - int(example.get("multichannel", False))


def _moved(state: StepperState, position: int) -> StepperState:
    """``state``'s setting at another output position."""
    return stepper_state(
        state.x,
        state.kernel,
        stride=state.stride,
        padding=state.padding,
        dilation=state.dilation,
        position=position,
        bias=state.bias,
        multichannel=state.multichannel,
    )


def stepper_data(state: StepperState) -> dict[str, Any]:
    """The JSON the browser draws: the numbers of every position of ``state``'s setting.

    ``products[k]`` (``C × h × w``, rows first) and ``partials[k]`` (``C``) are
    those of position ``k`` in row-major order; ``reads`` gives, per spatial
    axis, the input indices each output index reads (``shapes.footprint``).
    A 1d setting is sent as 2d with one row.
    """
    x = state.x if state.multichannel else state.x[np.newaxis]
    u = state.kernel if state.multichannel else state.kernel[np.newaxis]
    one = state.ndim == 1
    if one:
        x, u = x[:, np.newaxis], u[:, np.newaxis]
    s, p, d = ((1,) * one + t for t in (state.stride, state.padding, state.dilation))
    if one:
        p = (0, p[1])
    output = state.output.reshape(1, -1) if one else state.output
    reads = [
        [shapes.footprint(o, k, s_, p_, d_) for o in range(n)]
        for n, k, s_, p_, d_ in zip(output.shape, u.shape[1:], s, p, d)
    ]
    padded = np.pad(x, [(0, 0), (p[0], p[0]), (p[1], p[1])])
    products, partials = [], []
    for rows in reads[0]:
        for cols in reads[1]:
            window = padded[:, np.asarray(rows)[:, None] + p[0], np.asarray(cols)[None, :] + p[1]]
            terms = window * u
            products.append(terms.tolist())
            partials.append(terms.reshape(len(u), -1).sum(axis=1).tolist())
    return dict(
        ndim=state.ndim,
        channels=len(x),
        x=x.tolist(),
        kernel=u.tolist(),
        bias=state.bias,
        input_shape=list(x.shape[1:]),
        output_shape=list(output.shape),
        padding=list(p),
        stride=list(s),
        dilation=list(d),
        reads=reads,
        products=products,
        partials=partials,
        output=output.tolist(),
    )


def _described(state: StepperState) -> str:
    """The saved picture's text alternative: shapes, settings, and the position drawn, in numbers."""

    def dims(shape: Sequence[int]) -> str:
        return " × ".join(map(str, shape))

    settings = ", ".join(
        f"{name} {value[0] if len(value) == 1 else value}"
        for name, value in (
            ("stride", state.stride),
            ("padding", state.padding),
            ("dilation", state.dilation),
        )
    )
    channels = f"{state.channels} channels of " if state.multichannel else ""
    if state.ndim == 1:
        window = f"input x[{index_span(state.taps[0])}]"
    else:
        window = f"input rows {index_span(state.taps[0])}, columns {index_span(state.taps[1])}"
    where = ", ".join(map(str, state.output_index))
    return (
        f"input {channels}{dims(state.x.shape[-state.ndim :])}, kernel {dims(state.kernel.shape[-state.ndim :])}, "
        f"{settings}, output {dims(state.output_shape)}; position {state.position} of 0–{state.positions - 1}: "
        f"y[{where}] = {state.value:g} from {window}"
    )


class Stepper(ConvWidget):
    """The stepper (see the module's docstring); build it with :func:`stepper`."""

    module_file = "stepper.js"
    #: The output position shown, row-major. The browser moves it (Play, step, scrub) without
    #: waiting; Python follows to keep ``.state`` at that position.
    position = traitlets.Int(0).tag(sync=True)

    def __init__(self, examples: dict[str, dict[str, Any]], **kwargs: Any):
        self.examples = examples
        first = next(iter(examples))
        super().__init__(self._settings_for(first), **kwargs)
        self.observe(self._on_position, "position")
        self.controls["position"] = _PositionControl(self)

    def _settings_for(self, name: str) -> dict[str, Any]:
        example = self.examples[name]
        nd = _ndim(example)
        settings: dict[str, Any] = {"example": name}
        for key, neutral in (("stride", 1), ("padding", 0), ("dilation", 1)):
            settings.update(axis_settings(key, example[key], nd, neutral))
        return settings

    def settle(self, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        if old.get("example") not in (None, new["example"]):
            # A new example brings its own stride, padding and dilation.
            return self._settings_for(new["example"])
        return new

    def changing(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if old.get("example") not in (None, new["example"]):
            self.position = 0  # a new example starts at its first position

    def refresh(self) -> None:
        """Recompute, then keep the position inside the output (a larger stride has fewer)."""
        super().refresh()
        if self.state is None:
            return
        position = min(self.position, self.state.positions - 1)
        if position != self.position:
            self.position = position  # observed: the state moves there
        elif position != self.state.position:
            # A state computed ahead, before the position last moved.
            self.state = _moved(self.state, position)

    def _arguments(self, settings: dict[str, Any]) -> dict[str, Any]:
        example = self.examples[settings["example"]]
        return dict(
            x=example["x"],
            kernel=example["kernel"],
            bias=example.get("bias", 0.0),
            multichannel=example.get("multichannel", False),
            **{
                key: axis_argument(settings, key, _ndim(example)) for key in ("stride", "padding", "dilation")
            },
        )

    def controls_spec(self, settings: dict[str, Any]) -> list[dict[str, Any]]:
        one = _ndim(self.examples[settings["example"]]) == 1
        spec = [choice("example", "example", [(name, name) for name in self.examples], settings["example"])]
        for key, low, high in (("stride", 1, 4), ("padding", 0, 3), ("dilation", 1, 4)):
            spec += axis_sliders(key, key, low, high, settings, one=one)
        return spec

    def compute(self, settings: dict[str, Any]) -> tuple[StepperState, dict[str, Any]]:
        # Pure: the state at the current position, or the last one if this setting has fewer.
        # Writing the position here would move the stepper whenever lookahead computes a neighbour.
        arguments = self._arguments(settings)
        first = stepper_state(**arguments)
        position = min(max(self.position, 0), first.positions - 1)
        state = stepper_state(**arguments, position=position) if position else first
        return state, stepper_data(state)

    def _on_position(self, change: dict[str, Any]) -> None:
        if self.state is None:
            return
        position = min(max(change["new"], 0), self.state.positions - 1)
        if position != change["new"]:
            self.position = position
            return
        if position != self.state.position:
            # The picture shown is the last good state: move within it.
            self.state = _moved(self.state, position)

    def picture(self) -> Picture | None:
        """The input with the window of the current position, and the output so far."""
        state = self.state
        if state is None:
            return None
        cell, top = 30, 26
        x = state.x if state.multichannel else state.x[np.newaxis]
        x = x if state.ndim == 2 else x[:, np.newaxis]
        (H, W), partial = x.shape[1:], np.atleast_2d(state.partial)
        (Ho, Wo), (rows, cols) = partial.shape, (state.taps if state.ndim == 2 else ([0], *state.taps))
        where = ", ".join(map(str, state.output_index))
        out_top = top + H * cell + 30
        width = max(8 + len(x) * (W * cell + 20), 8 + Wo * cell + 8, 380)
        picture = Picture(width, out_top + Ho * cell + 8, f"convolution stepper: {_described(state)}")
        picture.text(
            8,
            16,
            f"y[{where}] = {state.value:g}: position {state.position} of 0–{state.positions - 1}",
            14,
            weight="bold",
        )
        for c, grid in enumerate(x):
            picture.grid(
                8 + c * (W * cell + 20),
                top,
                range(H),
                range(W),
                cell,
                lambda r, k: "#56B4E9" if r in rows and k in cols else "#ffffff",
                lambda r, k, grid=grid: grid[r, k],
            )
        picture.text(8, out_top - 8, "output so far", 13)
        picture.grid(
            8,
            out_top,
            range(Ho),
            range(Wo),
            cell,
            lambda r, k: "#cfe8dc" if np.isfinite(partial[r, k]) else "#ffffff",
            lambda r, k: partial[r, k] if np.isfinite(partial[r, k]) else None,
        )
        return picture


class _PositionControl:
    """``controls["position"]``: the output position, as the scrub slider shows it."""

    def __init__(self, widget: Stepper):
        self._widget = widget

    @property
    def value(self) -> int:
        return self._widget.position

    @value.setter
    def value(self, value: int) -> None:
        self._widget.position = value

    @property
    def min(self) -> int:
        return 0

    @property
    def max(self) -> int:
        return self._widget.state.positions - 1 if self._widget.state is not None else 0


def stepper(
    x: Any = None,
    kernel: Any = None,
    *,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    bias: float = 0.0,
    multichannel: bool = False,
) -> Stepper:
    """A play/step widget that slides a kernel over a 1d or 2d input, one or several channels.

    Play, ◀ step and step ▶ buttons and a position slider (scrub) move the
    window through the output positions in the browser; controls set stride,
    padding and dilation per axis; a menu picks one of :data:`EXAMPLES` (or
    the ``x`` and ``kernel`` you pass). Impossible settings (the kernel no
    longer fits) show a message and keep the last picture.

    Parameters
    ----------
    x : array_like, shape (W,) or (H, W) (or (C, ...) with ``multichannel``), optional
        Your own input; then ``kernel`` is required. Keep it small (about
        12×12) so that every number stays readable.
    kernel : array_like, shape (w,) or (h, w) (or (C, ...)), optional
        Your own kernel.
    stride, padding, dilation : int or tuple of int
        Initial settings for your own input (examples carry their own).
    bias, multichannel
        As in :func:`stepper_state`, for your own input.

    Returns
    -------
    Stepper
        The widget. ``.controls`` holds ``example``, ``position``,
        ``stride_h``, ``stride_w``, ``padding_h``, ``padding_w``,
        ``dilation_h`` and ``dilation_w``; ``.state`` is the
        :class:`StepperState` at the current position.

    Raises
    ------
    ValueError
        If only one of ``x`` and ``kernel`` is given, or they do not make a convolution.

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
        own = dict(
            x=x,
            kernel=kernel,
            stride=stride,
            padding=padding,
            dilation=dilation,
            bias=bias,
            multichannel=multichannel,
        )
        state = stepper_state(**own)  # refuse a bad input here, with its message
        own.update(
            x=state.x,
            kernel=state.kernel,
            stride=state.stride,
            padding=state.padding,
            dilation=state.dilation,
        )
        examples = {"your input": own, **examples}
    return Stepper(examples, title="Sliding the kernel, one output at a time")
