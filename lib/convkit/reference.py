r"""Reference convolutions you can read and trust.

The deep-learning "convolution" of the course, in three forms:

* :func:`vector_conv` -- the lecture's definition on plain vectors,
  :math:`(x \circledast u)_i = \sum_j x_{i+j}\, u_j` (0-based), beside
  :func:`flipped_conv`, the signal-processing convolution that flips ``u``;
* :func:`conv1d_loops`, :func:`conv2d_loops`, :func:`conv3d_loops` -- explicit
  loops over every index, the teaching versions;
* :func:`conv1d`, :func:`conv2d`, :func:`conv3d` -- the same numbers from one
  vectorised N-d routine: the windows, laid out a cache-sized block at a time,
  times the kernels as one matrix product per block.

All of them follow ``torch.nn.functional.conv{1,2,3}d`` exactly: batched
``(N, C, *spatial)`` or unbatched ``(C, *spatial)`` input, weight
``(D, C / groups, *kernel)``, optional bias ``(D,)``, and ``stride``,
``padding`` (ints, tuples, ``'valid'`` or ``'same'``), ``dilation`` and
``groups``.  The backward functions :func:`conv1d_backward` & co. return the
gradients with respect to input, weight and bias.  Each gradient is a convolution
you can point at (another call to ``conv{1,2,3}d`` with the helpers :func:`pad`,
:func:`dilate` and :func:`flip`, as ``_conv_backward`` spells out); they are
computed on the forward's own windows: the weight gradient as one matrix product
per block, the input gradient as the transposed convolution
(:func:`conv_transpose1d` & co., as ``F.conv_transpose{1,2,3}d``), whose columns
are added back into the windows they stand for.

A call large enough to fill several cache-sized blocks shares them out to one
thread per core NumPy's BLAS may use, each multiplying on one BLAS thread, so
that copying the windows uses every core as the products do.

Output size along each spatial axis, for input size ``H``, kernel ``h``,
padding ``p``, stride ``s`` and dilation ``d``::

    H_out = floor((H + 2p - d (h - 1) - 1) / s) + 1
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import threadpoolctl
from numpy.lib.stride_tricks import sliding_window_view

from convkit import shapes
from convkit._args import as_array, as_int, per_axis

__all__ = [
    "vector_conv",
    "flipped_conv",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv1d_loops",
    "conv2d_loops",
    "conv3d_loops",
    "conv1d_backward",
    "conv2d_backward",
    "conv3d_backward",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "pad",
    "dilate",
    "flip",
]


# ---------------------------------------------------------------------------
# The lecture's definition on plain vectors
# ---------------------------------------------------------------------------
def vector_conv(x, u) -> np.ndarray:
    r"""The lecture's 1d convolution of a vector by a kernel, no flip.

    :math:`(x \circledast u)_i = \sum_{j=0}^{w-1} x_{i+j}\, u_j
    = (x_i, \dots, x_{i+w-1}) \cdot u` for ``i = 0 .. W - w``.

    Parameters
    ----------
    x : array_like, shape (W,)
        The signal.
    u : array_like, shape (w,)
        The kernel, ``w <= W``.

    Returns
    -------
    numpy.ndarray, shape (W - w + 1,)

    Raises
    ------
    ValueError
        If ``x`` or ``u`` is not a non-empty vector, or ``u`` is longer than ``x``.
    TypeError
        If either holds something other than numbers.

    Examples
    --------
    >>> vector_conv([1, 2, 3, 4], [3, 2])
    array([ 7, 12, 17])
    >>> vector_conv([0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4], [-1, 1])
    array([0, 0, 0, 1, 1, 1, 1, 0, 0, 0])
    """
    x = as_array(x, "x", ndim=1, axes="(W,)", nonempty=True)
    u = as_array(u, "u", ndim=1, axes="(w,)", nonempty=True)
    W, w = len(x), len(u)
    if w > W:
        raise ValueError(f"kernel u (width {w}) is wider than signal x (length {W})")
    return np.array([x[i : i + w] @ u for i in range(W - w + 1)])


def flipped_conv(x, u) -> np.ndarray:
    r"""The signal-processing convolution: the kernel is visited backwards.

    :math:`(x * u)_i = \sum_{j=0}^{w-1} x_{i+j}\, u_{w-1-j}`, which is
    ``vector_conv(x, u[::-1])`` and ``np.convolve(x, u, mode='valid')``.

    Parameters
    ----------
    x : array_like, shape (W,)
    u : array_like, shape (w,), ``w <= W``

    Returns
    -------
    numpy.ndarray, shape (W - w + 1,)

    Examples
    --------
    >>> flipped_conv([1, 2, 3, 4], [3, 2])
    array([ 8, 13, 18])
    >>> np.convolve([1, 2, 3, 4], [3, 2], mode="valid")
    array([ 8, 13, 18])
    """
    u = as_array(u, "u", ndim=1, axes="(w,)", nonempty=True)
    return vector_conv(x, u[::-1])


# ---------------------------------------------------------------------------
# Argument checking, shared by every N-d function
# ---------------------------------------------------------------------------
class _Call(NamedTuple):
    """A validated convolution call, everything batched and as tuples."""

    input: np.ndarray  # (N, C, *spatial)
    weight: np.ndarray  # (D, C // groups, *kernel)
    bias: np.ndarray | None  # (D,)
    stride: tuple[int, ...]
    pad_before: tuple[int, ...]
    pad_after: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    output_shape: tuple[int, ...]  # spatial
    batched: bool


def _arrays(input, weight, nd: int, layout: str, kind: str = "convolution"):
    """Check the two arrays of a call as torch does; return ``(input batched, weight, batched)``."""
    input = as_array(input, "input", floating=True)
    weight = as_array(weight, "weight", floating=True)
    if input.dtype != weight.dtype:
        raise TypeError(f"input dtype {input.dtype} and weight dtype {weight.dtype} differ")
    if weight.ndim != nd + 2:
        raise ValueError(
            f"weight must have {nd + 2} dims {layout} for a {nd}d {kind}, got shape {weight.shape}"
        )
    if input.ndim not in (nd + 1, nd + 2):
        raise ValueError(
            f"input must have {nd + 1} dims (unbatched) or {nd + 2} dims (batched) "
            f"for a {nd}d {kind}, got shape {input.shape}"
        )
    batched = input.ndim == nd + 2
    return (input if batched else input[np.newaxis]), weight, batched


def _bias(bias, channels: int, input: np.ndarray, weight: np.ndarray) -> np.ndarray | None:
    """Check an optional bias ``(channels,)``, one value per output channel."""
    if bias is None:
        return None
    bias = as_array(bias, "bias", floating=True)
    if bias.shape != (channels,):
        raise ValueError(
            f"bias must have shape ({channels},), one value per output channel, "
            f"got shape {bias.shape} (weight shape {weight.shape})"
        )
    if bias.dtype != input.dtype:
        raise TypeError(f"bias dtype {bias.dtype} differs from input dtype {input.dtype}")
    return bias


def _validate(input, weight, bias, stride, padding, dilation, groups, nd: int) -> _Call:
    """Check a ``conv{nd}d`` call as torch does; return it in normal form."""
    input, weight, batched = _arrays(input, weight, nd, "(D, C/groups, *kernel)")
    given = f"(input shape {input.shape if batched else input.shape[1:]}, weight shape {weight.shape})"
    groups = as_int(groups, "groups", minimum=1)
    D, Cg = weight.shape[:2]
    C = input.shape[1]
    if D % groups:
        raise ValueError(f"groups={groups} must divide the {D} output channels of weight {given}")
    if Cg * groups != C:
        raise ValueError(
            f"weight expects {Cg * groups} input channels ({Cg} per group x groups={groups}) "
            f"but input has {C} {given}"
        )
    bias = _bias(bias, D, input, weight)
    stride = per_axis(stride, "stride", nd, minimum=1)
    dilation = per_axis(dilation, "dilation", nd, minimum=1)
    kernel = weight.shape[2:]
    before, after = shapes.padding_before_after(padding, kernel, stride, dilation)
    try:
        out = shapes.conv_output_shape(input.shape[2:], kernel, stride, padding, dilation)
    except ValueError as error:
        raise ValueError(f"{error} {given}") from None
    return _Call(input, weight, bias, stride, before, after, dilation, groups, out, batched)


# ---------------------------------------------------------------------------
# Three small operations the gradients are made of
# ---------------------------------------------------------------------------
def pad(x: np.ndarray, before: Sequence[int], after: Sequence[int]) -> np.ndarray:
    """Add ``before[k]`` zeros before and ``after[k]`` zeros after spatial axis ``k`` of ``(N, C, *spatial)``.

    Examples
    --------
    >>> pad(np.array([[[1.0, 2.0]]]), before=(1,), after=(2,))
    array([[[0., 1., 2., 0., 0.]]])
    """
    if not any(before) and not any(after):
        return x
    padded = np.zeros(x.shape[:2] + tuple(b + n + a for b, n, a in zip(before, x.shape[2:], after)), x.dtype)
    padded[(slice(None),) * 2 + tuple(slice(b, b + n) for b, n in zip(before, x.shape[2:]))] = x
    return padded


def dilate(y: np.ndarray, factor: Sequence[int]) -> np.ndarray:
    """Insert ``factor[k] - 1`` zeros between neighbours along spatial axis ``k`` of ``(N, C, *spatial)``.

    A spatial size ``n`` becomes ``(n - 1) factor + 1``.

    Examples
    --------
    >>> dilate(np.array([[[1.0, 2.0, 3.0]]]), (2,))
    array([[[1., 0., 2., 0., 3.]]])
    """
    if all(f == 1 for f in factor):
        return y
    spread = np.zeros(y.shape[:2] + tuple((n - 1) * f + 1 for n, f in zip(y.shape[2:], factor)), y.dtype)
    spread[(slice(None),) * 2 + tuple(slice(None, None, f) for f in factor)] = y
    return spread


def flip(weight: np.ndarray) -> np.ndarray:
    """Visit each kernel backwards along every spatial axis of ``(D, C, *kernel)``.

    In 2d this is ``weight[:, :, ::-1, ::-1]``.

    Examples
    --------
    >>> flip(np.array([[[1.0, 2.0, 3.0]]]))
    array([[[3., 2., 1.]]])
    """
    return weight[(slice(None),) * 2 + (slice(None, None, -1),) * (weight.ndim - 2)]


# ---------------------------------------------------------------------------
# The vectorised core: windows, then a matrix product
# ---------------------------------------------------------------------------
# Windows are copied this many bytes at a time: a block small enough to stay in a
# core's cache while the matrix product reads it back, so that copying the windows
# costs one pass over the cache rather than a round trip through main memory.
_BLOCK_BYTES = 1 << 20


def _windows(
    xp: np.ndarray, kernel: Sequence[int], stride, dilation, groups: int, writeable: bool = False
) -> np.ndarray:
    """Every window of a padded batch ``(N, C, *Hp)``, as a view ``(N, G, C/G, *kernel, *out)``.

    ``windows[n, g, c, *j, *i] = xp[n, g C/G + c, i * s + j * dil]``: taps before
    positions, so that ``kernels @ windows`` lands in the output's ``(N, D, positions)`` order.
    With ``writeable``, adding to one tap ``windows[:, :, :, *j]`` adds into ``xp``
    (the windows of one tap never overlap).
    """
    nd = len(kernel)
    N, C = xp.shape[:2]
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    windows = sliding_window_view(xp, span, axis=tuple(range(2, 2 + nd)), writeable=writeable)
    windows = windows[
        (slice(None),) * 2
        + tuple(slice(None, None, s) for s in stride)
        + tuple(slice(None, None, d) for d in dilation)
    ]
    out = windows.shape[2 : 2 + nd]
    windows = windows.reshape(N, groups, C // groups, *out, *kernel)  # splits one axis: still a view
    return windows.transpose(0, 1, 2, *range(3 + nd, 3 + 2 * nd), *range(3, 3 + nd))


class _Block(NamedTuple):
    """Images ``n .. n + count`` and, of those, output rows ``i .. i + rows`` (first spatial axis)."""

    n: int
    count: int
    i: int
    rows: int


def _blocks(N: int, out: Sequence[int], weight: np.ndarray, groups: int) -> list[_Block]:
    """Cut the ``N`` images of positions ``out`` into blocks whose windows fill about ``_BLOCK_BYTES``.

    A block is a few images, or a few rows of one image; its windows are weighed at
    ``groups * weight[0].size`` numbers per position (``C prod(kernel)`` for a
    convolution whose ``weight`` is ``(D, C/G, *kernel)``).
    """
    row_bytes = groups * weight[0].size * math.prod(out[1:]) * weight.itemsize
    # (when the kernels outweigh a cache-sized block, blocks as big as the kernels keep
    # the product from reading the kernels more often than the windows)
    block_bytes = max(_BLOCK_BYTES, weight.nbytes)
    rows = min(out[0], max(1, block_bytes // row_bytes))
    images = max(1, min(N, block_bytes // (row_bytes * out[0]))) if rows == out[0] else 1
    # as many blocks, of sizes as equal as they can be, so that threads share them out evenly
    rows, images = -(-out[0] // -(-out[0] // rows)), -(-N // -(-N // images))
    return [
        _Block(n, min(images, N - n), i, min(rows, out[0] - i))
        for n in range(0, N, images)
        for i in range(0, out[0], rows)
    ]


def _columns(call: _Call, blocks: Sequence[_Block]):
    """Copy the windows of each block in turn; yield ``(block, columns)``.

    ``columns``, shape ``(count, G, C/G * prod(kernel), rows * prod(out[1:]))``, is
    one buffer reused for every block: use it before asking for the next one. Each
    block of images is first copied into a padded buffer whose border stays zero.
    """
    x, G, out = call.input, call.groups, call.output_shape
    N, C, *size = x.shape
    kernel = call.weight.shape[2:]
    images, rows = max(b.count for b in blocks), max(b.rows for b in blocks)
    padded = pad(np.zeros((images, C, *size), x.dtype), call.pad_before, call.pad_after)
    inside = (slice(None),) * 2 + tuple(slice(b, b + n) for b, n in zip(call.pad_before, size))
    windows = _windows(padded, kernel, call.stride, call.dilation, G)  # a view: follows padded
    buffer = np.empty(images * C * math.prod(kernel) * rows * math.prod(out[1:]), x.dtype)
    loaded = None
    for block in blocks:
        n, count, i, rows = block
        if loaded != (n, count):
            padded[:count][inside] = x[n : n + count]
            loaded = (n, count)
        view = windows[(slice(0, count), Ellipsis, slice(i, i + rows)) + (slice(None),) * (len(out) - 1)]
        columns = buffer[: view.size].reshape(view.shape)
        np.copyto(columns, view)
        yield block, columns.reshape(count, G, -1, rows * math.prod(out[1:]))


@functools.cache
def _blas():
    """NumPy's BLAS, through threadpoolctl: its thread count, and a way to lower it."""
    return threadpoolctl.ThreadpoolController().select(user_api="blas")


def _cores() -> int:
    """How many threads NumPy's BLAS may use now: as many parts as a call is cut into."""
    return max((lib["num_threads"] for lib in _blas().info()), default=1)


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(workers, thread_name_prefix="convkit")


# a forked child (a DataLoader worker, the grader's sandbox) inherits the pools but not
# their threads: it starts its own
os.register_at_fork(after_in_child=_pool.cache_clear)


def _in_parallel(work, blocks: Sequence[_Block]) -> list:
    """``work(part)`` for consecutive parts of ``blocks``, one part per core NumPy's BLAS may use.

    The parts run on threads, each BLAS call on one thread: NumPy lets go of the GIL
    while it copies and multiplies, so the copies use every core, not only the products.
    With one BLAS thread (or one block) everything runs here, in order. Returns the
    results of ``work`` in the order of the parts.
    """
    workers = min(len(blocks), _cores())
    if workers == 1:
        return [work(blocks)]
    parts = [blocks[k * len(blocks) // workers : (k + 1) * len(blocks) // workers] for k in range(workers)]
    with _blas().limit(limits=1):
        return list(_pool(workers).map(work, parts))


def _transpose(g: np.ndarray, weight: np.ndarray, stride, dilation, groups: int, before, size) -> np.ndarray:
    """The transposed convolution of a batch ``g`` ``(N, D, *out)`` by ``weight`` ``(D, C/G, *kernel)``.

    ``x[n, g C/G + c, i * s + j * dil - before] += sum_d g[n, d, i] w[d, c, j]``, kept for
    positions ``0 .. size - 1``: returns ``(N, C, *size)``.  A block at a time, the
    columns ``W.T @ g`` are added back into the windows they stand for, one kernel tap
    at a time: the copy of :func:`_columns`, run backwards.
    """
    N, D, *out = g.shape
    kernel = weight.shape[2:]
    G, C = groups, groups * weight.shape[1]
    kernels = weight.reshape(G, D // G, -1).swapaxes(-1, -2)  # (G, C/G prod(kernel), D/G)
    g = g.reshape(N, G, D // G, math.prod(out))
    row = math.prod(out[1:])
    # every position a window reaches, and every position kept
    reach = tuple(
        max((o - 1) * s + d * (k - 1) + 1, b + n)
        for o, s, d, k, b, n in zip(out, stride, dilation, kernel, before, size)
    )
    inside = (slice(None),) * 2 + tuple(slice(b, b + n) for b, n in zip(before, size))
    x = np.zeros((N, C, *size), g.dtype)
    adding = threading.Lock()  # two parts may hold rows of the same image

    def work(blocks):
        images = max(b.count for b in blocks)
        spread = np.zeros((images, C, *reach), g.dtype)
        windows = _windows(spread, kernel, stride, dilation, G, writeable=True)
        buffer = np.empty(images * C * math.prod(kernel) * max(b.rows for b in blocks) * row, g.dtype)
        loaded = None

        def add_to_x():
            n, count = loaded
            with adding:
                x[n : n + count] += spread[:count][inside]
            spread.fill(0)

        for n, count, i, rows in blocks:
            if loaded not in (None, (n, count)):
                add_to_x()
            loaded = (n, count)
            view = windows[
                (slice(0, count), Ellipsis, slice(i, i + rows)) + tuple(slice(0, o) for o in out[1:])
            ]
            columns = buffer[: view.size].reshape(count, G, -1, rows * row)
            np.matmul(kernels, g[n : n + count, :, :, i * row : (i + rows) * row], out=columns)
            columns = columns.reshape(view.shape)
            for tap in np.ndindex(*kernel):
                view[(slice(None),) * 3 + tap] += columns[(slice(None),) * 3 + tap]
        add_to_x()

    _in_parallel(work, _blocks(N, out, weight, G))
    return x


def _conv(nd: int, input, weight, bias, stride, padding, dilation, groups) -> np.ndarray:
    """``conv{nd}d``: one matrix product per block of windows, each block small enough for the cache.

    ``y[n, d, i] = b[d] + sum_{c, j} xp[n, g C/G + c, i * s + j * dil] w[d, c, j]``, where
    ``xp`` is the padded input and ``g`` the group of kernel ``d``.
    """
    call = _validate(input, weight, bias, stride, padding, dilation, groups, nd)
    N, G, out = call.input.shape[0], call.groups, call.output_shape
    D = call.weight.shape[0]
    kernels = call.weight.reshape(G, D // G, -1)  # (G, D/G, C/G * prod(kernel))
    bias = 0 if call.bias is None else call.bias.reshape(G, D // G, 1)
    y = np.empty((N, G, D // G, math.prod(out)), dtype=call.input.dtype)
    row = math.prod(out[1:])  # output positions per step along the first spatial axis

    def work(blocks):
        for (n, count, i, rows), columns in _columns(call, blocks):
            product = y[n : n + count, :, :, i * row : (i + rows) * row]  # the block's slice of y
            np.matmul(kernels, columns, out=product)
            product += bias  # while the block is still in the cache

    _in_parallel(work, _blocks(N, out, call.weight, G))
    y = y.reshape(N, D, *out)
    return y if call.batched else y[0]


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    r"""2d convolution of a batch of multichannel images, as ``F.conv2d``.

    .. math::

        y_{n,d,i,j} = b_d + \sum_{c,a,b}
            x_{n,\,c,\,i s_1 + a \delta_1 - p_1,\, j s_2 + b \delta_2 - p_2}\; w_{d,c,a,b}

    Parameters
    ----------
    input : numpy.ndarray, shape (N, C, H, W) or unbatched (C, H, W)
        Floating point (a list or a CPU torch tensor is turned into an array).
    weight : numpy.ndarray, shape (D, C / groups, h, w)
        One kernel per output channel, same dtype as ``input``.
    bias : numpy.ndarray, shape (D,), optional
    stride : int or tuple of 2 ints, default 1
    padding : int, tuple of 2 ints, 'valid' or 'same', default 0
        Zeros added on both sides of each spatial axis.  ``'same'`` keeps the
        size (stride 1 only) and puts the extra zero after when the dilated
        kernel span is even, as torch does.
    dilation : int or tuple of 2 ints, default 1
        Spacing between kernel taps.
    groups : int, default 1
        Channels split into ``groups`` independent convolutions; ``groups = C``
        with ``D = C`` is a depthwise convolution.

    Returns
    -------
    numpy.ndarray, shape (N, D, H_out, W_out) or (D, H_out, W_out)
        ``H_out = floor((H + 2p - dilation (h - 1) - 1) / stride) + 1``, same for W
        (:func:`convkit.shapes.conv_output_shape`).

    Raises
    ------
    ValueError, TypeError
        Wherever torch refuses the same call; the message names the argument.

    Examples
    --------
    The lecture's shapes: 117 images of 4 channels, 5 kernels of size 2 x 3.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((117, 4, 10, 3))
    >>> w = rng.standard_normal((5, 4, 2, 3))
    >>> conv2d(x, w, rng.standard_normal(5)).shape
    (117, 5, 9, 1)
    """
    return _conv(2, input, weight, bias, stride, padding, dilation, groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    r"""1d convolution of a batch of multichannel signals, as ``F.conv1d``.

    :math:`y_{n,d,i} = b_d + \sum_{c,j} x_{n,\,c,\,i s + j \delta - p}\; w_{d,c,j}`

    The arguments of :func:`conv2d` with one spatial axis: ``input`` ``(N, C, W)``
    or ``(C, W)``, ``weight`` ``(D, C / groups, w)``; ``stride``, ``padding`` and
    ``dilation`` an int or a 1-tuple.  Returns ``(N, D, W_out)`` or ``(D, W_out)``.

    Examples
    --------
    >>> x = np.array([[[1., 2., 3., 4.]]])          # N=1, C=1, W=4
    >>> conv1d(x, np.array([[[3., 2.]]]))
    array([[[ 7., 12., 17.]]])
    """
    return _conv(1, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    r"""3d convolution (e.g. a video: time, rows, columns), as ``F.conv3d``.

    The formula of :func:`conv2d` with one more spatial index, and its arguments
    with three spatial axes: ``input`` ``(N, C, T, H, W)`` or ``(C, T, H, W)``,
    ``weight`` ``(D, C / groups, t, h, w)``.  Returns ``(N, D, T_out, H_out, W_out)``
    or ``(D, T_out, H_out, W_out)``.

    Examples
    --------
    >>> conv3d(np.ones((1, 4, 5, 6)), np.ones((2, 1, 2, 2, 2))).shape
    (2, 3, 4, 5)
    """
    return _conv(3, input, weight, bias, stride, padding, dilation, groups)


# ---------------------------------------------------------------------------
# The transposed convolution: each input value spreads a copy of the kernel
# ---------------------------------------------------------------------------
def _conv_transpose(nd: int, input, weight, bias, stride, padding, output_padding, groups, dilation):
    """Check a ``conv_transpose{nd}d`` call as torch does, then compute it with :func:`_transpose`."""
    x, w, batched = _arrays(input, weight, nd, "(C, D/groups, *kernel)", "transposed convolution")
    given = f"(input shape {x.shape if batched else x.shape[1:]}, weight shape {w.shape})"
    groups = as_int(groups, "groups", minimum=1)
    C, Dg, *kernel = w.shape
    if C % groups:
        raise ValueError(f"groups={groups} must divide the {C} input channels of weight {given}")
    if x.shape[1] != C:
        raise ValueError(f"weight expects {C} input channels but input has {x.shape[1]} {given}")
    bias = _bias(bias, Dg * groups, x, w)
    stride = per_axis(stride, "stride", nd, minimum=1)
    padding = per_axis(padding, "padding", nd, minimum=0)
    output_padding = per_axis(output_padding, "output_padding", nd, minimum=0)
    dilation = per_axis(dilation, "dilation", nd, minimum=1)
    size = []
    for axis, (n, k, s, p, op, d) in enumerate(
        zip(x.shape[2:], kernel, stride, padding, output_padding, dilation)
    ):
        try:
            size.append(shapes.conv_transpose_output_size(n, k, s, p, op, d))
        except ValueError as error:
            raise ValueError(f"{error} along axis {axis} {given}") from None
    y = _transpose(x, w, stride, dilation, groups, padding, size)
    if bias is not None:
        y += bias.reshape(-1, *(1,) * nd)
    return y if batched else y[0]


def conv_transpose2d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
) -> np.ndarray:
    r"""2d transposed convolution, as ``F.conv_transpose2d``: every input value adds a scaled kernel.

    .. math::

        y_{n,\,g D/G + d,\; i s_1 + a \delta_1 - p_1,\; j s_2 + b \delta_2 - p_2}
            \mathrel{+}= x_{n,c,i,j}\; w_{c,d,a,b}

    for every input channel ``c`` of group ``g``, plus ``b_d``. It sends an output of
    :func:`conv2d` back to the shape of its input, and with the same weight it is the
    gradient of :func:`conv2d` with respect to its input (:func:`conv2d_backward`).

    Parameters
    ----------
    input : numpy.ndarray, shape (N, C, H, W) or unbatched (C, H, W)
    weight : numpy.ndarray, shape (C, D / groups, h, w)
        Note the order: input channels first, as in torch.
    bias : numpy.ndarray, shape (D,), optional
    stride, dilation : int or tuple of 2 ints, default 1
    padding : int or tuple of 2 ints, default 0
        Cells cropped from both ends of each axis of the result.
    output_padding : int or tuple of 2 ints, default 0
        Cells added at the far end, smaller than the stride or the dilation.
    groups : int, default 1

    Returns
    -------
    numpy.ndarray, shape (N, D, H_out, W_out) or (D, H_out, W_out)
        ``H_out = (H - 1) stride - 2 padding + dilation (h - 1) + output_padding + 1``
        (:func:`convkit.shapes.conv_transpose_output_size`), same for W.

    Raises
    ------
    ValueError, TypeError
        Wherever torch refuses the same call; the message names the argument.

    Examples
    --------
    One value 1 with stride 2: each input cell stamps the kernel two cells from the last.

    >>> conv_transpose2d(np.ones((1, 1, 2)), np.array([[[[1., 10.]]]]), stride=2)
    array([[[ 1., 10.,  1., 10.]]])
    """
    return _conv_transpose(2, input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose1d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
) -> np.ndarray:
    r"""1d transposed convolution, as ``F.conv_transpose1d``.

    :math:`y_{n,\,d,\; i s + j \delta - p} \mathrel{+}= x_{n,c,i}\, w_{c,d,j}`, plus ``b_d``: the
    arguments of :func:`conv_transpose2d` with one spatial axis, ``input`` ``(N, C, W)`` or
    ``(C, W)``, ``weight`` ``(C, D / groups, w)``.  Returns ``(N, D, W_out)`` or ``(D, W_out)``.

    Examples
    --------
    The lecture's difference kernel, transposed: each value becomes ``(-x, x)`` one step on.

    >>> conv_transpose1d(np.array([[[1., 2., 3.]]]), np.array([[[-1., 1.]]]))
    array([[[-1., -1., -1.,  3.]]])
    """
    return _conv_transpose(1, input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose3d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
) -> np.ndarray:
    r"""3d transposed convolution, as ``F.conv_transpose3d``.

    The formula of :func:`conv_transpose2d` with one more spatial index: ``input``
    ``(N, C, T, H, W)`` or ``(C, T, H, W)``, ``weight`` ``(C, D / groups, t, h, w)``.

    Examples
    --------
    >>> conv_transpose3d(np.ones((1, 2, 2, 2)), np.ones((1, 3, 2, 2, 2)), stride=2).shape
    (3, 4, 4, 4)
    """
    return _conv_transpose(3, input, weight, bias, stride, padding, output_padding, groups, dilation)


# ---------------------------------------------------------------------------
# The teaching versions: every index spelled out
# ---------------------------------------------------------------------------
def conv1d_loops(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    r""":func:`conv1d` computed by explicit loops over every index (slow, readable).

    :math:`y_{n,d,i} = b_d + \sum_{c} \sum_{j} x_{n,\,c,\,i s + j \delta}\; w_{d,c,j}` on the
    padded input: the lecture's :math:`\sum_j x_{i-1+j} u_j`, 0-based, for every
    signal ``n``, kernel ``d`` and input channel ``c``.  Same arguments, shapes and
    errors as :func:`conv1d`.

    Examples
    --------
    >>> conv1d_loops(np.array([[1., 2., 3., 4.]]), np.array([[[3., 2.]]]))
    array([[ 7., 12., 17.]])
    """
    call = _validate(input, weight, bias, stride, padding, dilation, groups, nd=1)
    x = pad(call.input, call.pad_before, call.pad_after)
    w, (s,), (dil,), (W_out,) = call.weight, call.stride, call.dilation, call.output_shape
    N, (D, Cg, k) = x.shape[0], w.shape
    y = np.zeros((N, D, W_out), dtype=x.dtype)
    for n in range(N):
        for d in range(D):
            first = d // (D // call.groups) * Cg  # kernel d sees its group's channels only
            for i in range(W_out):
                total = 0.0 if call.bias is None else call.bias[d]
                for c in range(Cg):
                    for j in range(k):
                        total += x[n, first + c, i * s + j * dil] * w[d, c, j]
                y[n, d, i] = total
    return y if call.batched else y[0]


def conv2d_loops(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    r""":func:`conv2d` computed by explicit loops over every index (slow, readable).

    .. math::

        y_{n,d,i,j} = b_d + \sum_{c} \sum_{a} \sum_{b}
            x_{n,\,c,\,i s_1 + a \delta_1,\, j s_2 + b \delta_2}\; w_{d,c,a,b}

    on the padded input: for every image ``n``, kernel ``d`` and output position
    ``(i, j)``, the kernel's ``C x h x w`` numbers times the window they cover.
    Same arguments, shapes and errors as :func:`conv2d`.

    Examples
    --------
    >>> conv2d_loops(np.arange(9.).reshape(1, 3, 3), np.ones((1, 1, 2, 2)))
    array([[[ 8., 12.],
            [20., 24.]]])
    """
    call = _validate(input, weight, bias, stride, padding, dilation, groups, nd=2)
    x = pad(call.input, call.pad_before, call.pad_after)
    w, (s1, s2), (d1, d2) = call.weight, call.stride, call.dilation
    N, (D, Cg, h, w_), (H_out, W_out) = x.shape[0], w.shape, call.output_shape
    y = np.zeros((N, D, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for d in range(D):
            first = d // (D // call.groups) * Cg  # kernel d sees its group's channels only
            for i in range(H_out):
                for j in range(W_out):
                    total = 0.0 if call.bias is None else call.bias[d]
                    for c in range(Cg):
                        for a in range(h):
                            for b in range(w_):
                                total += x[n, first + c, i * s1 + a * d1, j * s2 + b * d2] * w[d, c, a, b]
                    y[n, d, i, j] = total
    return y if call.batched else y[0]


def conv3d_loops(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    r""":func:`conv3d` computed as a loop of 2d convolutions (slow, readable).

    :math:`y_{n,d,t} = b_d + \sum_{e} \mathrm{conv2d}(x_{:,:,\,t s + e \delta},\, w_{:,:,e})_{n,d}`
    on the padded input: output frame ``t`` adds up, over the kernel's time taps
    ``e``, the 2d convolution (:func:`conv2d_loops`) of the frame that tap reads
    with that slice of the kernel.  Same arguments, shapes and errors as :func:`conv3d`.

    Examples
    --------
    >>> conv3d_loops(np.ones((1, 2, 2, 2)), np.ones((1, 1, 2, 2, 2)))
    array([[[[8.]]]])
    """
    call = _validate(input, weight, bias, stride, padding, dilation, groups, nd=3)
    x = pad(call.input, call.pad_before, call.pad_after)
    w, (s, *s_hw), (dil, *dil_hw) = call.weight, call.stride, call.dilation
    y = np.zeros((x.shape[0], w.shape[0], *call.output_shape), dtype=x.dtype)
    for t in range(call.output_shape[0]):
        for e in range(w.shape[2]):
            y[:, :, t] += conv2d_loops(
                x[:, :, t * s + e * dil], w[:, :, e], stride=s_hw, dilation=dil_hw, groups=call.groups
            )
    if call.bias is not None:
        y += call.bias.reshape(-1, 1, 1, 1)
    return y if call.batched else y[0]


# ---------------------------------------------------------------------------
# Backward: each gradient is again a convolution
# ---------------------------------------------------------------------------
def _validate_backward(nd: int, grad_output, input, weight, stride, padding, dilation, groups):
    """Check a ``conv{nd}d_backward`` call; return it in normal form and ``grad_output`` batched."""
    call = _validate(input, weight, None, stride, padding, dilation, groups, nd)
    N, D = call.input.shape[0], call.weight.shape[0]
    gy = as_array(grad_output, "grad_output", floating=True)
    expected = (N, D, *call.output_shape) if call.batched else (D, *call.output_shape)
    if gy.shape != expected:
        raise ValueError(f"grad_output must have the output's shape {expected}, got {gy.shape}")
    if gy.dtype != call.input.dtype:
        raise TypeError(f"grad_output dtype {gy.dtype} differs from input dtype {call.input.dtype}")
    return call, (gy if call.batched else gy[np.newaxis])


def _conv_backward(nd: int, grad_output, input, weight, stride, padding, dilation, groups):
    """The three gradients, each one call to ``conv{nd}d``: the form notebook 07 works through.

    :func:`conv2d_backward` computes the same numbers block by block
    (:func:`_conv_backward_blocks`); the tests hold the two equal.
    """
    call, gy = _validate_backward(nd, grad_output, input, weight, stride, padding, dilation, groups)
    conv = (conv1d, conv2d, conv3d)[nd - 1]
    x, w, s, dil, G = call.input, call.weight, call.stride, call.dilation, call.groups
    N, C, *size = x.shape
    D, Cg, *kernel = w.shape
    out = call.output_shape

    # dL/db_d: every output position of channel d adds b_d once.
    grad_bias = gy.sum(axis=(0, *range(2, 2 + nd)))

    # dL/dx: the stride-dilated gradient convolved, with "full" padding, by the
    # flipped kernels, input and output channels swapped within each group.
    swapped = flip(w).reshape(G, D // G, Cg, *kernel).swapaxes(1, 2).reshape(C, D // G, *kernel)
    full = tuple(d * (k - 1) for k, d in zip(kernel, dil))
    grad_padded = conv(dilate(gy, s), swapped, padding=full, dilation=dil, groups=G)
    # the last rows that no window reached (stride) get no gradient; then drop the padding
    padded = tuple(n + b + a for n, b, a in zip(size, call.pad_before, call.pad_after))
    unreached = tuple(p - g for p, g in zip(padded, grad_padded.shape[2:]))
    grad_padded = pad(grad_padded, (0,) * nd, unreached)
    grad_input = grad_padded[
        (slice(None),) * 2 + tuple(slice(b, b + n) for b, n in zip(call.pad_before, size))
    ]

    # dL/dw: the padded input correlated with grad_output used as the kernel;
    # stride and dilation swap roles, and the batch becomes the summed channel axis.
    xp = pad(x, call.pad_before, call.pad_after)
    images = xp.reshape(N, G, Cg, *padded).transpose(2, 1, 0, *range(3, 3 + nd))
    kernels = gy.reshape(N, G, D // G, *out).transpose(1, 2, 0, *range(3, 3 + nd))
    grad_weight = conv(
        images.reshape(Cg, G * N, *padded), kernels.reshape(D, N, *out), stride=dil, dilation=s, groups=G
    )  # (C/G, D, at least the kernel)
    grad_weight = grad_weight[(slice(None),) * 2 + tuple(slice(0, k) for k in kernel)].swapaxes(0, 1)

    if not call.batched:
        grad_input = grad_input[0]
    return np.ascontiguousarray(grad_input), np.ascontiguousarray(grad_weight), grad_bias


def _conv_backward_blocks(nd: int, grad_output, input, weight, stride, padding, dilation, groups):
    """The three gradients from the forward's windows, a block of images or rows at a time.

    With ``X`` the block's windows ``(C/G prod(kernel), positions)`` as the forward copies
    them, ``W`` the kernels ``(D/G, C/G prod(kernel))`` and ``g`` the block's ``grad_output``
    ``(D/G, positions)``, group by group:

    * ``grad_weight = sum over blocks of g @ X.T``;
    * ``grad_input``: the transposed convolution of ``grad_output`` (:func:`_transpose`),
      the columns ``W.T @ g`` added back where each window came from;
    * ``grad_bias``: ``grad_output`` summed over batch and positions.
    """
    call, gy = _validate_backward(nd, grad_output, input, weight, stride, padding, dilation, groups)
    N, G, out = call.input.shape[0], call.groups, call.output_shape
    D, Cg, *kernel = call.weight.shape
    gy_blocks = gy.reshape(N, G, D // G, math.prod(out))
    row = math.prod(out[1:])

    def work(blocks):
        grad_weight = np.zeros((G, D // G, Cg * math.prod(kernel)), gy.dtype)
        for (n, count, i, rows), columns in _columns(call, blocks):
            g = gy_blocks[n : n + count, :, :, i * row : (i + rows) * row]  # (count, G, D/G, positions)
            grad_weight += (g @ columns.swapaxes(-1, -2)).sum(axis=0)
        return grad_weight

    grad_weight = sum(_in_parallel(work, _blocks(N, out, call.weight, G)))
    grad_input = _transpose(
        gy, call.weight, call.stride, call.dilation, G, call.pad_before, call.input.shape[2:]
    )
    grad_bias = gy.sum(axis=(0, *range(2, 2 + nd)))
    return (grad_input if call.batched else grad_input[0]), grad_weight.reshape(D, Cg, *kernel), grad_bias


def conv2d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1) -> tuple:
    """Gradients of :func:`conv2d` with respect to input, weight and bias.

    For a loss ``L`` and ``grad_output = dL/dy`` where
    ``y = conv2d(input, weight, bias, stride, padding, dilation, groups)``,
    each gradient is a call to :func:`conv2d`:

    * ``grad_input``: ``conv2d(dilate(grad_output, stride), flip(weight) with input and
      output channels swapped, padding = dilation (kernel - 1), dilation)``, cropped to
      the input (a transposed convolution);
    * ``grad_weight``: the padded input correlated with ``grad_output`` used as the
      kernel (``stride`` and ``dilation`` swap roles, the batch is summed over);
    * ``grad_bias``: ``grad_output`` summed over batch and positions.

    The same numbers come out faster from the windows :func:`conv2d` lays out,
    ``X`` of shape ``(C k k, N H_out W_out)`` per group, with the kernels ``W`` as
    ``(D, C k k)`` and ``g`` the output gradient as ``(D, N H_out W_out)``: the weight
    gradient is ``g @ X.T``, and the input gradient is ``W.T @ g`` added back into
    the windows it came from.  That is what this function computes, a block of
    images or rows at a time.

    Parameters
    ----------
    grad_output : numpy.ndarray, shape of the output, (N, D, H_out, W_out) or (D, H_out, W_out)
    input, weight, stride, padding, dilation, groups
        As in :func:`conv2d`.

    Returns
    -------
    grad_input : numpy.ndarray, shape of ``input``
    grad_weight : numpy.ndarray, shape of ``weight``
    grad_bias : numpy.ndarray, shape (D,)

    Examples
    --------
    A 2 x 2 kernel of ones on a 3 x 3 image: each input cell gets one unit of
    gradient per window that covers it.

    >>> gx, gw, gb = conv2d_backward(np.ones((1, 2, 2)), np.arange(9.).reshape(1, 3, 3),
    ...                              np.ones((1, 1, 2, 2)))
    >>> gx[0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> gw[0, 0], gb
    (array([[ 8., 12.],
           [20., 24.]]), array([4.]))
    """
    return _conv_backward_blocks(2, grad_output, input, weight, stride, padding, dilation, groups)


def conv1d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1) -> tuple:
    """Gradients of :func:`conv1d`: :func:`conv2d_backward` with one spatial axis.

    Returns ``(grad_input, grad_weight, grad_bias)``, shaped like ``input``,
    ``weight`` and ``(D,)``.

    Examples
    --------
    The lecture's difference kernel (-1, 1): each input gets minus its right
    neighbour's gradient plus its own.

    >>> x = np.array([[[0., 1., 2., 3.]]])
    >>> gx, gw, gb = conv1d_backward(np.ones((1, 1, 3)), x, np.array([[[-1., 1.]]]))
    >>> gx
    array([[[-1.,  0.,  0.,  1.]]])
    >>> gw, gb
    (array([[[3., 6.]]]), array([3.]))
    """
    return _conv_backward_blocks(1, grad_output, input, weight, stride, padding, dilation, groups)


def conv3d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1) -> tuple:
    """Gradients of :func:`conv3d`: :func:`conv2d_backward` with three spatial axes.

    Returns ``(grad_input, grad_weight, grad_bias)``, shaped like ``input``,
    ``weight`` and ``(D,)``.

    Examples
    --------
    >>> gx, gw, gb = conv3d_backward(np.ones((1, 1, 1, 1)), np.ones((1, 2, 2, 2)),
    ...                              np.ones((1, 1, 2, 2, 2)))
    >>> gx.shape, gw.ravel(), gb
    ((1, 2, 2, 2), array([1., 1., 1., 1., 1., 1., 1., 1.]), array([1.]))
    """
    return _conv_backward_blocks(3, grad_output, input, weight, stride, padding, dilation, groups)
