"""Shape arithmetic of convolution layers: output sizes, footprints, receptive fields, counts.

Everything here works on plain integers, along one spatial axis unless a function
says otherwise, with 0-based indices. The rules are those of ``torch.nn.functional``:

* a kernel of ``k`` taps with dilation ``d`` covers ``1 + (k - 1) d`` input cells;
* along an axis of ``size`` cells with ``padding`` zeros on each side and step
  ``stride``, the output has ``floor((size + 2 padding - d (k - 1) - 1) / stride) + 1``
  positions;
* output position ``o`` reads the input cells ``o stride - padding + j d`` for
  ``j = 0, ..., k - 1`` (negative indices, and indices ``>= size``, are padding);
* a transposed convolution runs that map backwards: input ``i`` adds into
  outputs ``i stride - padding + j d``, which makes
  ``(size - 1) stride - 2 padding + d (k - 1) + output_padding + 1`` positions.

The figures of the lecture (a dense layer on a 256×256 RGB image, the
``117×4×10×3`` example, the padded and strided ``C×3×5`` example, the dilated
``20×30`` example) are computed by these functions, not typed in by hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from convkit._args import as_bool, as_int, per_axis

__all__ = [
    "ReceptiveField",
    "effective_kernel_size",
    "conv_output_size",
    "conv_output_shape",
    "conv_transpose_output_size",
    "padding_before_after",
    "footprint",
    "unread_positions",
    "receptive_field",
    "dense_parameter_count",
    "conv_parameter_count",
    "conv_multiply_adds",
    "memory_bytes",
]

IntOrTuple = int | Sequence[int]


class ReceptiveField(NamedTuple):
    """Receptive field of one unit at the top of a stack of convolutions, along one axis.

    Attributes
    ----------
    size : int
        Number of input cells between the first and the last cell that can
        influence the unit (both included). Dilation and stride may leave holes
        inside that span; they are counted.
    stride : int
        Distance, in input cells, between the receptive fields of two
        neighbouring units of the last layer (the product of the strides).
    """

    size: int
    stride: int


# ----------------------------------------------------------------------- one axis


def _check_layer_args(
    kernel_size: Any, stride: Any, padding: Any, dilation: Any
) -> tuple[int, int, int, int]:
    return (
        as_int(kernel_size, "kernel_size", 1),
        as_int(stride, "stride", 1),
        as_int(padding, "padding", 0),
        as_int(dilation, "dilation", 1),
    )


def effective_kernel_size(kernel_size: int, dilation: int = 1) -> int:
    """Number of input cells spanned by a dilated kernel: ``1 + (k - 1) d``.

    A kernel of ``k`` taps with dilation ``d`` acts like a kernel of that width
    whose coefficients are zero except every ``d``-th one.

    Parameters
    ----------
    kernel_size : int
        Number of taps ``k >= 1``.
    dilation : int, default 1
        Gap ``d >= 1`` between two consecutive taps (1: no gap).

    Returns
    -------
    int
        The span ``1 + (k - 1) d``.

    Raises
    ------
    TypeError
        If an argument is not an int.
    ValueError
        If ``kernel_size < 1`` or ``dilation < 1``.

    Examples
    --------
    The lecture's dilated kernel, ``k = 3`` and ``d = 4``, spans 9 cells, so the
    output map is ``9 - 1 = 8`` cells smaller than the input map:

    >>> effective_kernel_size(3, dilation=4)
    9
    >>> effective_kernel_size(3)
    3
    """
    k = as_int(kernel_size, "kernel_size", 1)
    d = as_int(dilation, "dilation", 1)
    return 1 + (k - 1) * d


def _output_size(
    size: int, k: int, s: int, p: int, d: int, where: str = "", *, p_after: int | None = None
) -> int:
    # The one home of the formula; p_after differs from p only for an uneven padding='same'.
    p_after = p if p_after is None else p_after
    span = 1 + (k - 1) * d
    padded = size + p + p_after
    if padded < span:
        padding = p if p == p_after else (p, p_after)
        raise ValueError(
            f"kernel_size={k} with dilation={d} spans {span} cells but the padded input "
            f"has only {padded} (size={size}, padding={padding}){where}: no output position fits"
        )
    return (padded - span) // s + 1


def conv_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """Number of output positions of a convolution along one axis.

    ``floor((size + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1``,
    as ``torch.nn.functional.conv1d`` computes it for an input ``(N, C, size)``.

    Parameters
    ----------
    size : int
        Input length ``>= 1`` along the axis (without padding).
    kernel_size : int
        Number of taps ``>= 1``.
    stride : int, default 1
        Step ``>= 1`` between two output positions.
    padding : int, default 0
        Zeros ``>= 0`` added at each end.
    dilation : int, default 1
        Gap ``>= 1`` between two taps.

    Returns
    -------
    int
        The output length, at least 1.

    Raises
    ------
    TypeError
        If an argument is not an int (bools and floats are refused).
    ValueError
        If an argument is out of range, or if the dilated kernel is wider than
        the padded input (torch refuses the call then; no output position fits).

    Examples
    --------
    The lecture's ``F.conv2d`` example: an input ``117×4×10×3`` and a weight
    ``5×4×2×3`` give ``10 - 2 + 1 = 9`` rows and ``3 - 3 + 1 = 1`` column:

    >>> conv_output_size(10, 2), conv_output_size(3, 3)
    (9, 1)

    Rows of the ``C×3×5`` example with padding 2, stride 2 and a 3×3 kernel:

    >>> conv_output_size(3, 3, stride=2, padding=2)
    3
    """
    n = as_int(size, "size", 1)
    k, s, p, d = _check_layer_args(kernel_size, stride, padding, dilation)
    return _output_size(n, k, s, p, d)


def _transposed_output_size(n: int, k: int, s: int, p: int, op: int, d: int, where: str = "") -> int:
    # The one home of the transposed formula; `where` names the axis in messages.
    if not 0 <= op < max(s, d):
        raise ValueError(
            f"output_padding{where} = {op} must be >= 0 and smaller than the stride ({s}) or the "
            f"dilation ({d}), as for F.conv_transpose2d"
        )
    size = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
    if size < 1:
        raise ValueError(
            f"padding{where} = {p} crops the whole output: (n − 1)·s − 2p + d·(k − 1) + "
            f"output_padding + 1 = {size} (n={n}, k={k}, s={s}, d={d})"
        )
    return size


def conv_transpose_output_size(
    size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """Number of output positions of a transposed convolution along one axis.

    ``(size - 1) stride - 2 padding + dilation (kernel_size - 1) + output_padding + 1``,
    as ``torch.nn.functional.conv_transpose1d`` computes it: input ``i`` adds
    tap ``j`` into output ``i stride - padding + j dilation``. ``output_padding``
    picks among the sizes a convolution with that stride maps to the same
    length, so it must be smaller than the stride (or the dilation).

    Parameters
    ----------
    size : int
        Input length ``>= 1`` along the axis.
    kernel_size, stride, padding, dilation : int
        As for :func:`conv_output_size` (``padding`` here crops the output).
    output_padding : int, default 0
        Cells ``>= 0`` added at the far end, smaller than ``stride`` or ``dilation``.

    Returns
    -------
    int
        The output length, at least 1.

    Raises
    ------
    TypeError
        If an argument is not an int.
    ValueError
        If an argument is out of range, or the padding crops the whole output.

    Examples
    --------
    A 4×4 input upsampled by a 3×3 kernel with stride 2, padding 1 and
    output_padding 1 gives 8 per axis, twice the input (``conv_output_size``
    maps 8 back to 4):

    >>> conv_transpose_output_size(4, 3, stride=2, padding=1, output_padding=1)
    8
    >>> conv_output_size(8, 3, stride=2, padding=1)
    4
    """
    n = as_int(size, "size", 1)
    k, s, p, d = _check_layer_args(kernel_size, stride, padding, dilation)
    op = as_int(output_padding, "output_padding", 0)
    return _transposed_output_size(n, k, s, p, op, d)


def footprint(
    output_index: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> list[int]:
    """Input indices read by one output position: ``[o s - p + j d for j in range(k)]``.

    Indices are in the coordinates of the unpadded input, so a negative index
    (or one ``>= size``) is a padding cell, whose value is zero.

    Parameters
    ----------
    output_index : int
        Output position ``o >= 0``.
    kernel_size, stride, padding, dilation : int
        As in :func:`conv_output_size`.

    Returns
    -------
    list of int
        The ``k`` input indices, in increasing order, matching taps ``j = 0 ... k - 1``.

    Raises
    ------
    TypeError
        If an argument is not an int.
    ValueError
        If an argument is out of range.

    Examples
    --------
    In the lecture's ``C×3×5`` example (padding ``(2, 1)``, stride ``(2, 2)``,
    kernel ``3×3``) the top-left output cell reads rows -2..0 and columns -1..1,
    so most of what it sees is padding:

    >>> footprint(0, 3, stride=2, padding=2), footprint(0, 3, stride=2, padding=1)
    ([-2, -1, 0], [-1, 0, 1])

    A dilated kernel reads every ``d``-th cell:

    >>> footprint(1, 3, dilation=4)
    [1, 5, 9]
    """
    o = as_int(output_index, "output_index", 0)
    k, s, p, d = _check_layer_args(kernel_size, stride, padding, dilation)
    return [o * s - p + j * d for j in range(k)]


def unread_positions(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> list[int]:
    """Input indices in ``range(size)`` that no output position reads.

    A stride larger than one can step over the last cells; a dilation larger
    than the stride can jump over cells between taps. Those inputs get a zero
    gradient whatever the weights.

    Parameters
    ----------
    size, kernel_size, stride, padding, dilation : int
        As in :func:`conv_output_size`.

    Returns
    -------
    list of int
        The unread indices, sorted (empty when every cell is read).

    Raises
    ------
    TypeError
        If an argument is not an int.
    ValueError
        If an argument is out of range or no output position fits.

    Examples
    --------
    On 20 cells a width-3 kernel with stride 2 reads cells 0..18 and never 19:

    >>> unread_positions(20, 3, stride=2)
    [19]

    Two taps 3 apart, moved by 3: outputs read cells 0, 3 and 3, 6 of 9 cells:

    >>> unread_positions(9, 2, stride=3, dilation=3)
    [1, 2, 4, 5, 7, 8]
    """
    n = as_int(size, "size", 1)
    k, s, p, d = _check_layer_args(kernel_size, stride, padding, dilation)
    read = set()
    for o in range(_output_size(n, k, s, p, d)):
        read.update(o * s - p + j * d for j in range(k))
    return [i for i in range(n) if i not in read]


# -------------------------------------------------------------------- several axes


def conv_output_shape(
    input_shape: Sequence[int],
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: IntOrTuple | str = 0,
    dilation: IntOrTuple = 1,
) -> tuple[int, ...]:
    """Spatial output shape of a convolution, e.g. ``(H, W) -> (H', W')``.

    Along each axis, ``H' = floor((H + 2 p - d (h - 1) - 1) / s) + 1``. Only the
    spatial dims are handled: an input ``(N, C, H, W)`` with a weight
    ``(D, C, h, w)`` gives ``(N, D) + conv_output_shape((H, W), (h, w), ...)``.

    Parameters
    ----------
    input_shape : sequence of int
        Spatial sizes, one per axis (``(W,)``, ``(H, W)``, ``(T, H, W)``, ...).
    kernel_size, stride, dilation : int or sequence of int
        One value for every axis, or one entry per axis.
    padding : int, sequence of int, ``'valid'`` or ``'same'``
        ``'valid'`` means no padding. ``'same'`` pads so that the output shape
        equals ``input_shape`` (torch splits an odd total unevenly between the
        two ends); like torch, it requires stride 1 on every axis.

    Returns
    -------
    tuple of int
        The output's spatial shape, one entry per axis.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If a value is out of range, a tuple does not have one entry per axis,
        ``padding='same'`` comes with a stride above 1, or the kernel does not
        fit in the padded input along some axis.

    Examples
    --------
    The lecture's ``nn.Conv2d(4, 5, (2, 3))`` on an input ``117×4×10×3``:

    >>> (117, 5) + conv_output_shape((10, 3), (2, 3))
    (117, 5, 9, 1)

    The ``C×3×5`` input with padding ``(2, 1)``, stride ``(2, 2)`` and a ``3×3`` kernel:

    >>> conv_output_shape((3, 5), 3, stride=(2, 2), padding=(2, 1))
    (3, 3)

    A ``3×3`` kernel with dilation 4 on ``20×30``:

    >>> conv_output_shape((20, 30), 3, dilation=4)
    (12, 22)
    >>> conv_output_shape((20, 30), 4, padding="same")
    (20, 30)
    """
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence):
        raise TypeError(f"input_shape must be a sequence of ints (spatial dims only), got {input_shape!r}")
    if len(input_shape) == 0:
        raise ValueError("input_shape must have at least one spatial dim, got ()")
    sizes = tuple(as_int(v, f"input_shape[{i}]", 1) for i, v in enumerate(input_shape))
    ndim, where = len(sizes), f" of input_shape {sizes}"
    ks = per_axis(kernel_size, "kernel_size", ndim, 1, where=where)
    ss = per_axis(stride, "stride", ndim, 1, where=where)
    ds = per_axis(dilation, "dilation", ndim, 1, where=where)
    before, after = padding_before_after(padding, ks, ss, ds, where=where)
    return tuple(
        _output_size(n, k, s, b, d, f" along axis {axis}{where}", p_after=a)
        for axis, (n, k, s, b, a, d) in enumerate(zip(sizes, ks, ss, before, after, ds))
    )


def padding_before_after(
    padding: IntOrTuple | str,
    kernel_size: Sequence[int],
    stride: IntOrTuple = 1,
    dilation: IntOrTuple = 1,
    *,
    where: str = "",
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Zeros added before and after the input along each spatial axis, as torch reads ``padding``.

    An int or a tuple pads both ends alike; ``'valid'`` pads nothing; ``'same'``
    pads ``d (k - 1)`` zeros in total so that the output keeps the input's size,
    with the odd one after (as torch does), and needs stride 1.

    Parameters
    ----------
    padding : int, sequence of int, ``'valid'`` or ``'same'``
    kernel_size : sequence of int
        One entry per spatial axis; its length gives the number of axes.
    stride, dilation : int or sequence of int
        As in :func:`conv_output_shape`.
    where : str, optional
        Ends the message of a tuple of the wrong length, e.g. ``" of input_shape (10, 3)"``.

    Returns
    -------
    (before, after) : two tuples of int, one entry per axis

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or range, or ``'same'`` comes with a stride above 1.

    Examples
    --------
    >>> padding_before_after(1, (3, 3))
    ((1, 1), (1, 1))
    >>> padding_before_after("same", (4, 3), dilation=(1, 2))
    ((1, 2), (2, 2))
    """
    if isinstance(kernel_size, (str, bytes)) or not isinstance(kernel_size, Sequence):
        raise TypeError(f"kernel_size must be a sequence of ints, one per axis, got {kernel_size!r}")
    ndim = len(kernel_size)
    ks = per_axis(kernel_size, "kernel_size", ndim, 1, where=where)
    ss = per_axis(stride, "stride", ndim, 1, where=where)
    ds = per_axis(dilation, "dilation", ndim, 1, where=where)
    if not isinstance(padding, str):
        ps = per_axis(padding, "padding", ndim, 0, where=where)
        return ps, ps
    if padding == "valid":
        return (0,) * ndim, (0,) * ndim
    if padding != "same":
        raise ValueError(f"padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
    if any(s != 1 for s in ss):
        raise ValueError(f"padding='same' needs stride 1 on every axis, as in torch, got stride={ss}")
    totals = [d * (k - 1) for k, d in zip(ks, ds)]
    return tuple(t // 2 for t in totals), tuple(t - t // 2 for t in totals)


_LAYER_KEYS = ("kernel_size", "stride", "dilation")


def _layer_triple(position: int, layer: Any) -> tuple[int, int, int]:
    name = f"layers[{position}]"
    if isinstance(layer, Mapping):
        # padding moves the field but leaves its size alone, so a dict copied
        # from an nn.Conv1d call may keep it.
        unknown = set(layer) - set(_LAYER_KEYS) - {"padding"}
        if unknown:
            raise ValueError(f"{name} has unknown keys {sorted(unknown)}; expected {list(_LAYER_KEYS)}")
        if "kernel_size" not in layer:
            raise ValueError(f"{name} has no 'kernel_size' key: {dict(layer)!r}")
        values = [layer.get(key, 1) for key in _LAYER_KEYS]
    elif isinstance(layer, Sequence) and not isinstance(layer, (str, bytes)):
        if not 1 <= len(layer) <= 3:
            raise ValueError(
                f"{name} must be (kernel_size, stride, dilation), got {tuple(layer)!r} "
                f"with {len(layer)} entries"
            )
        values = list(layer) + [1] * (3 - len(layer))
    else:
        raise TypeError(
            f"{name} must be a (kernel_size, stride, dilation) tuple or a dict, "
            f"got {layer!r} ({type(layer).__name__})"
        )
    k, s, d = (as_int(v, f"{name} {key}", 1) for key, v in zip(_LAYER_KEYS, values))
    return k, s, d


def receptive_field(layers: Sequence) -> ReceptiveField:
    """Receptive field size and stride of one output unit of a stack of convolutions.

    Going up the stack, with ``r = 1`` and ``J = 1`` before the first layer,
    each layer ``(k, s, d)`` does ``r += (1 + (k - 1) d - 1) J`` then ``J *= s``:
    a layer widens the field by its span minus one, counted in the input cells
    between two of its own inputs. Padding plays no part.

    Parameters
    ----------
    layers : sequence
        The layers from the input upwards, each a ``(kernel_size, stride,
        dilation)`` tuple (``stride`` and ``dilation`` may be left out and are
        then 1) or a dict with those keys (``padding`` is accepted and ignored).

    Returns
    -------
    ReceptiveField
        ``(size, stride)`` along one axis; an empty stack gives ``(1, 1)``.

    Raises
    ------
    TypeError
        If a layer is neither a tuple nor a dict, or a value is not an int.
    ValueError
        If a value is below 1, a tuple has too many entries, or a dict has an
        unknown key.

    Examples
    --------
    Two ``3×3`` layers see ``5×5``, as a single ``5×5`` layer would:

    >>> receptive_field([(3, 1, 1), (3, 1, 1)])
    ReceptiveField(size=5, stride=1)

    A stride-2 layer doubles what every layer above it adds:

    >>> receptive_field([(3, 2, 1), (3, 1, 1)])
    ReceptiveField(size=7, stride=2)

    Dilations 1, 2, 4 grow the field exponentially with depth at constant cost:

    >>> receptive_field([dict(kernel_size=3, dilation=d) for d in (1, 2, 4)])
    ReceptiveField(size=15, stride=1)
    """
    if isinstance(layers, (str, bytes, Mapping)) or not isinstance(layers, Sequence):
        raise TypeError(
            f"layers must be a sequence of (kernel_size, stride, dilation) tuples or dicts, got {layers!r}"
        )
    size, jump = 1, 1
    for position, layer in enumerate(layers):
        k, s, d = _layer_triple(position, layer)
        size += (k - 1) * d * jump
        jump *= s
    return ReceptiveField(size, jump)


# ------------------------------------------------------------------------- counts


def dense_parameter_count(in_features: int, out_features: int, bias: bool = True) -> int:
    """Number of parameters of a dense (fully connected) layer: ``in out + out``.

    The weight is ``(out_features, in_features)`` and the bias ``(out_features,)``,
    as in ``torch.nn.Linear``.

    Parameters
    ----------
    in_features, out_features : int
        Input and output sizes, ``>= 1``.
    bias : bool, default True
        Whether the layer has a bias.

    Returns
    -------
    int
        ``in_features * out_features`` plus ``out_features`` if ``bias``.

    Raises
    ------
    TypeError
        If a size is not an int or ``bias`` is not a bool.
    ValueError
        If a size is below 1.

    Examples
    --------
    A dense layer from a 256×256 RGB image to an image of the same size:

    >>> n = dense_parameter_count(256 * 256 * 3, 256 * 256 * 3, bias=False)
    >>> n
    38654705664
    >>> f"{n:.2e}"
    '3.87e+10'
    """
    n_in = as_int(in_features, "in_features", 1)
    n_out = as_int(out_features, "out_features", 1)
    return n_in * n_out + (n_out if as_bool(bias, "bias") else 0)


def conv_parameter_count(
    in_channels: int,
    out_channels: int,
    kernel_size: IntOrTuple,
    groups: int = 1,
    bias: bool = True,
) -> int:
    """Number of parameters of a convolution layer: ``D (C / groups) prod(kernel) + D``.

    The weight is ``(D, C / groups, *kernel_size)`` and the bias ``(D,)``, as in
    ``torch.nn.Conv1d/2d/3d`` with ``C = in_channels`` and ``D = out_channels``.
    The count does not depend on the input size: that is the whole point.

    Parameters
    ----------
    in_channels, out_channels : int
        ``C`` and ``D``, both ``>= 1`` and divisible by ``groups``.
    kernel_size : int or sequence of int
        An int is a 1d kernel; a tuple ``(h, w)`` or ``(t, h, w)`` a 2d or 3d one.
    groups : int, default 1
        Number of independent channel groups.
    bias : bool, default True
        Whether the layer has a bias.

    Returns
    -------
    int
        The number of scalars in weight and bias.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If a value is out of range or the channels are not divisible by ``groups``.

    Examples
    --------
    The lecture's ``nn.Conv2d(4, 5, (2, 3))``: a ``5×4×2×3`` weight and 5 biases.

    >>> conv_parameter_count(4, 5, (2, 3))
    125

    A ``3×3`` convolution from 3 to 3 channels replaces the 3.87e10 weights of
    the dense layer on a 256×256 RGB image:

    >>> conv_parameter_count(3, 3, (3, 3), bias=False)
    81
    """
    c_in = as_int(in_channels, "in_channels", 1)
    c_out = as_int(out_channels, "out_channels", 1)
    g = as_int(groups, "groups", 1)
    if isinstance(kernel_size, Sequence) and not isinstance(kernel_size, (str, bytes)):
        if len(kernel_size) == 0:
            raise ValueError("kernel_size must have at least one entry, got ()")
        taps = [as_int(v, f"kernel_size[{i}]", 1) for i, v in enumerate(kernel_size)]
    else:
        taps = [as_int(kernel_size, "kernel_size", 1)]
    if c_in % g or c_out % g:
        raise ValueError(f"in_channels={c_in} and out_channels={c_out} must both be divisible by groups={g}")
    weights = c_out * (c_in // g) * math.prod(taps)
    return weights + (c_out if as_bool(bias, "bias") else 0)


def _itemsize(dtype: Any) -> int:
    # torch is optional here: recognise its dtypes without importing it.
    if type(dtype).__module__ == "torch" and type(dtype).__name__ == "dtype":
        return int(dtype.itemsize)
    try:
        np_dtype = np.dtype(dtype)
    except TypeError as error:
        if isinstance(dtype, str):
            import torch

            torch_dtype = getattr(torch, dtype, None)
            if isinstance(torch_dtype, torch.dtype):
                return int(torch_dtype.itemsize)
            raise ValueError(f"dtype {dtype!r} is neither a numpy nor a torch dtype") from error
        raise TypeError(f"dtype must be a str, a numpy dtype or a torch dtype, got {dtype!r}") from error
    if np_dtype.kind == "O" or np_dtype.itemsize == 0:
        raise ValueError(f"dtype {dtype!r} has no fixed size per element")
    return int(np_dtype.itemsize)


def memory_bytes(count: int, dtype: Any = "float32") -> int:
    """Bytes taken by ``count`` numbers of a given dtype: ``count * itemsize``.

    Parameters
    ----------
    count : int
        Number of scalars, ``>= 0`` (e.g. a parameter count).
    dtype : str, numpy dtype or torch dtype, default ``"float32"``
        ``"float32"``, ``np.float16``, ``torch.bfloat16``, ...

    Returns
    -------
    int
        Size in bytes. Divide by ``1e9`` for (decimal) GB, by ``2**30`` for GiB.

    Raises
    ------
    TypeError
        If ``count`` is not an int or ``dtype`` is not a dtype.
    ValueError
        If ``count < 0`` or ``dtype`` has no fixed size.

    Examples
    --------
    The 3.87e10 weights of the dense layer on a 256×256 RGB image, in float32,
    take about 155 GB in decimal units, which is exactly 144 GiB (the lecture
    rounds to about 150 GB):

    >>> n = memory_bytes(38654705664)
    >>> n
    154618822656
    >>> round(n / 1e9, 1), n / 2**30
    (154.6, 144.0)
    >>> memory_bytes(1000, "float16")
    2000
    """
    n = as_int(count, "count", 0)
    return n * _itemsize(dtype)


def conv_multiply_adds(
    input_shape: Sequence[int],
    in_channels: int,
    out_channels: int,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: IntOrTuple | str = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> int:
    """Multiply-adds of one convolution on one input: ``prod(output_shape) D (C / groups) prod(kernel)``.

    Every weight of the ``(D, C / groups, *kernel_size)`` weight is used once at
    every output position, so the cost is the weight count times the number of
    output positions ``H' W'`` (from :func:`conv_output_shape`). Unlike the
    parameter count it grows with the image. The bias additions are not counted,
    and the taps that fall on padding zeros are counted, as in
    ``torch.utils.flop_counter.FlopCounterMode``, which reports ``2 ×`` this
    number as FLOPs (one multiplication and one addition each). For a batch of
    ``N`` inputs, multiply by ``N``.

    Parameters
    ----------
    input_shape : sequence of int
        Spatial sizes of one input, ``(W,)``, ``(H, W)`` or ``(T, H, W)``.
    in_channels, out_channels : int
        ``C`` and ``D``, both divisible by ``groups``.
    kernel_size, stride, padding, dilation
        As in :func:`conv_output_shape` (``padding`` may be ``'same'``).
    groups : int, default 1
        Number of independent channel groups.

    Returns
    -------
    int
        Number of multiply-adds (MACs) for one input of shape ``(C, *input_shape)``.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If a value is out of range, the channels are not divisible by
        ``groups``, or the kernel does not fit in the padded input.

    Examples
    --------
    A ``3×3`` convolution from 3 to 3 channels has 84 parameters, yet on a
    ``256×256`` image (no padding, so the output is ``254×254``) it performs
    about 5.2 million multiply-adds:

    >>> conv_multiply_adds((256, 256), 3, 3, 3)
    5225796

    A ``3×3`` layer from 256 to 256 channels on ``56×56`` maps, padded to keep
    the size: 590 thousand parameters, 1.85 billion multiply-adds:

    >>> conv_multiply_adds((56, 56), 256, 256, 3, padding=1)
    1849688064
    """
    output = conv_output_shape(input_shape, kernel_size, stride, padding, dilation)
    taps = kernel_size if isinstance(kernel_size, Sequence) else [kernel_size] * len(output)
    weights = conv_parameter_count(in_channels, out_channels, tuple(taps), groups=groups, bias=False)
    return math.prod(output) * weights
