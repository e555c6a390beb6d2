r"""Reference convolutions you can read and trust.

The deep-learning "convolution" of the course, in three forms:

* :func:`vector_conv` -- the lecture's definition on plain vectors,
  :math:`(x \circledast u)_i = \sum_j x_{i+j}\, u_j` (0-based), beside
  :func:`flipped_conv`, the signal-processing convolution that flips ``u``;
* :func:`conv1d_loops`, :func:`conv2d_loops`, :func:`conv3d_loops` -- explicit
  loops over every index, the teaching versions;
* :func:`conv1d`, :func:`conv2d`, :func:`conv3d` -- the same numbers from one
  vectorised N-d routine (sliding windows, then a single matrix product).

All of them follow ``torch.nn.functional.conv{1,2,3}d`` exactly: batched
``(N, C, *spatial)`` or unbatched ``(C, *spatial)`` input, weight
``(D, C / groups, *kernel)``, optional bias ``(D,)``, and ``stride``,
``padding`` (ints, tuples, ``'valid'`` or ``'same'``), ``dilation`` and
``groups``.  The backward functions :func:`conv1d_backward` & co. return the
gradients with respect to input, weight and bias, each computed as another
convolution.

Output size along each spatial axis, for input size ``H``, kernel ``h``,
padding ``p``, stride ``s`` and dilation ``d``::

    H_out = floor((H + 2p - d (h - 1) - 1) / s) + 1
"""
from __future__ import annotations

import itertools
from typing import NamedTuple, Sequence, Union

import numpy as np
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
]

IntOrTuple = Union[int, Sequence[int]]
Padding = Union[int, Sequence[int], str]


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


def _validate(input, weight, bias, stride, padding, dilation, groups, nd: int) -> _Call:
    """Check a ``conv{nd}d`` call as torch does; return it in normal form."""
    input = as_array(input, "input", floating=True)
    weight = as_array(weight, "weight", floating=True)
    given = f"(input shape {input.shape}, weight shape {weight.shape})"
    if input.dtype != weight.dtype:
        raise TypeError(f"input dtype {input.dtype} and weight dtype {weight.dtype} differ")
    if weight.ndim != nd + 2:
        raise ValueError(
            f"weight must have {nd + 2} dims (D, C/groups, *kernel) for a {nd}d "
            f"convolution, got shape {weight.shape}"
        )
    if input.ndim not in (nd + 1, nd + 2):
        raise ValueError(
            f"input must have {nd + 1} dims (unbatched) or {nd + 2} dims (batched) "
            f"for a {nd}d convolution, got shape {input.shape}"
        )
    batched = input.ndim == nd + 2
    if not batched:
        input = input[np.newaxis]
    groups = as_int(groups, "groups", minimum=1)
    D, Cg = weight.shape[:2]
    C = input.shape[1]
    if D % groups:
        raise ValueError(
            f"groups={groups} must divide the {D} output channels of weight {given}"
        )
    if Cg * groups != C:
        raise ValueError(
            f"weight expects {Cg * groups} input channels ({Cg} per group x groups={groups}) "
            f"but input has {C} {given}"
        )
    if bias is not None:
        bias = as_array(bias, "bias", floating=True)
        if bias.shape != (D,):
            raise ValueError(
                f"bias must have shape ({D},), one value per output channel, "
                f"got shape {bias.shape} (weight shape {weight.shape})"
            )
        if bias.dtype != input.dtype:
            raise TypeError(f"bias dtype {bias.dtype} differs from input dtype {input.dtype}")
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
# The vectorised core: windows, then one matrix product
# ---------------------------------------------------------------------------
def _pad(x: np.ndarray, before: Sequence[int], after: Sequence[int]) -> np.ndarray:
    if not any(before) and not any(after):
        return x
    return np.pad(x, [(0, 0), (0, 0), *zip(before, after)])


def _correlate(xp: np.ndarray, w: np.ndarray, stride, dilation, groups: int) -> np.ndarray:
    """Correlate an already padded batch with a kernel bank.

    ``y[n, d, i] = sum_{c, j} xp[n, g(d) C/G + c, i * s + j * dil] w[d, c, j]``
    for ``xp`` of shape ``(N, C, *Hp)`` and ``w`` of shape ``(D, C/G, *k)``;
    returns ``(N, D, *out)``.  No argument checking: callers have done it.
    """
    nd = w.ndim - 2
    N, C = xp.shape[:2]
    D, Cg = w.shape[:2]
    kernel = w.shape[2:]
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    axes = tuple(range(2, 2 + nd))
    # (N, C, *positions, *span) -> keep every stride-th position and every dilation-th tap
    windows = sliding_window_view(xp, span, axis=axes)
    windows = windows[(slice(None),) * 2 + tuple(slice(None, None, s) for s in stride)
                      + tuple(slice(None, None, d) for d in dilation)]
    out = windows.shape[2 : 2 + nd]
    G, Dg = groups, D // groups
    P, K = int(np.prod(out)), int(np.prod(kernel))
    # One copy laid out as (N, G, C/G * taps, positions): positions innermost makes
    # the copy stream through memory, and the contraction is then a single matrix
    # product broadcast over the batch and the groups, which lands directly in
    # the (N, D, positions) order of the output.
    windows = windows.reshape(N, G, Cg, *out, *kernel)
    order = (0, 1, 2, *range(3 + nd, 3 + 2 * nd), *range(3, 3 + nd))
    columns = np.ascontiguousarray(windows.transpose(order)).reshape(N, G, Cg * K, P)
    y = w.reshape(G, Dg, Cg * K) @ columns  # (N, G, D/G, positions)
    return y.reshape(N, D, *out)


def _conv(nd: int, input, weight, bias, stride, padding, dilation, groups) -> np.ndarray:
    call = _validate(input, weight, bias, stride, padding, dilation, groups, nd)
    xp = _pad(call.input, call.pad_before, call.pad_after)
    y = _correlate(xp, call.weight, call.stride, call.dilation, call.groups)
    if call.bias is not None:
        y += call.bias.reshape(-1, *(1,) * nd)
    return y if call.batched else y[0]


_SHAPES = """
    Parameters
    ----------
    input : numpy.ndarray, shape (N, C, {sp}) or unbatched (C, {sp})
        Floating point.
    weight : numpy.ndarray, shape (D, C / groups, {kr})
        One kernel per output channel, same dtype as ``input``.
    bias : numpy.ndarray, shape (D,), optional
    stride : int or tuple of {nd} ints, default 1
    padding : int, tuple of {nd} ints, 'valid' or 'same', default 0
        Zeros added on both sides of each spatial axis.  ``'same'`` keeps the
        size (stride 1 only) and puts the extra zero after when the dilated
        kernel span is even, as torch does.
    dilation : int or tuple of {nd} ints, default 1
        Spacing between kernel taps.
    groups : int, default 1
        Channels split into ``groups`` independent convolutions; ``groups = C``
        with ``D = C`` is a depthwise convolution.
"""


def _document(nd: int, sp: str, kr: str):
    def decorate(func):
        func.__doc__ = func.__doc__.replace("{params}", _SHAPES.format(nd=nd, sp=sp, kr=kr))
        return func

    return decorate


@_document(1, "W", "w")
def conv1d(input, weight, bias=None, stride: IntOrTuple = 1, padding: Padding = 0,
           dilation: IntOrTuple = 1, groups: int = 1) -> np.ndarray:
    r"""1d convolution of a batch of multichannel signals, as ``F.conv1d``.

    :math:`y_{n,d,i} = b_d + \sum_{c,j} x_{n,c,\,i s + j \delta - p}\; w_{d,c,j}`
    {params}
    Returns
    -------
    numpy.ndarray, shape (N, D, W_out) or (D, W_out)
        ``W_out = floor((W + 2p - dilation (w - 1) - 1) / stride) + 1``.

    Raises
    ------
    ValueError, TypeError
        Wherever torch refuses the same call; the message names the argument.

    Examples
    --------
    >>> x = np.array([[[1., 2., 3., 4.]]])          # N=1, C=1, W=4
    >>> conv1d(x, np.array([[[3., 2.]]]))
    array([[[ 7., 12., 17.]]])
    """
    return _conv(1, input, weight, bias, stride, padding, dilation, groups)


@_document(2, "H, W", "h, w")
def conv2d(input, weight, bias=None, stride: IntOrTuple = 1, padding: Padding = 0,
           dilation: IntOrTuple = 1, groups: int = 1) -> np.ndarray:
    r"""2d convolution of a batch of multichannel images, as ``F.conv2d``.

    :math:`y_{n,d,i,k} = b_d + \sum_{c,j,l} x_{n,c,\,i s_1 + j \delta_1 - p_1,\, k s_2 + l \delta_2 - p_2}\; w_{d,c,j,l}`
    {params}
    Returns
    -------
    numpy.ndarray, shape (N, D, H_out, W_out) or (D, H_out, W_out)
        ``H_out = floor((H + 2p - dilation (h - 1) - 1) / stride) + 1``, same for W.

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


@_document(3, "T, H, W", "t, h, w")
def conv3d(input, weight, bias=None, stride: IntOrTuple = 1, padding: Padding = 0,
           dilation: IntOrTuple = 1, groups: int = 1) -> np.ndarray:
    r"""3d convolution (e.g. a video: time, rows, columns), as ``F.conv3d``.

    Same formula as :func:`conv2d` with one more spatial index.
    {params}
    Returns
    -------
    numpy.ndarray, shape (N, D, T_out, H_out, W_out) or (D, T_out, H_out, W_out)

    Raises
    ------
    ValueError, TypeError
        Wherever torch refuses the same call; the message names the argument.

    Examples
    --------
    >>> conv3d(np.ones((1, 4, 5, 6)), np.ones((2, 1, 2, 2, 2))).shape
    (2, 3, 4, 5)
    """
    return _conv(3, input, weight, bias, stride, padding, dilation, groups)


# ---------------------------------------------------------------------------
# The teaching versions: every index spelled out
# ---------------------------------------------------------------------------
def _conv_loops(nd: int, input, weight, bias, stride, padding, dilation, groups) -> np.ndarray:
    call = _validate(input, weight, bias, stride, padding, dilation, groups, nd)
    x = _pad(call.input, call.pad_before, call.pad_after)
    w, s, dil = call.weight, call.stride, call.dilation
    N, D, Cg = x.shape[0], w.shape[0], w.shape[1]
    kernel, out = w.shape[2:], call.output_shape
    y = np.zeros((N, D, *out), dtype=x.dtype)
    for n in range(N):
        for d in range(D):
            g = d // (D // call.groups)  # the group, hence the input channels, of kernel d
            for i in itertools.product(*map(range, out)):
                total = 0.0 if call.bias is None else call.bias[d]
                for c in range(Cg):
                    for j in itertools.product(*map(range, kernel)):
                        # the lecture's x_{i-1+j} u_j, 0-based, with stride and dilation
                        position = tuple(ia * sa + ja * da for ia, ja, sa, da in zip(i, j, s, dil))
                        total += x[(n, g * Cg + c, *position)] * w[(d, c, *j)]
                y[(n, d, *i)] = total
    return y if call.batched else y[0]


def conv1d_loops(input, weight, bias=None, stride: IntOrTuple = 1, padding: Padding = 0,
                 dilation: IntOrTuple = 1, groups: int = 1) -> np.ndarray:
    """:func:`conv1d` computed by explicit loops over every index (slow, readable).

    Same arguments, shapes and errors as :func:`conv1d`.

    Examples
    --------
    >>> conv1d_loops(np.array([[1., 2., 3., 4.]]), np.array([[[3., 2.]]]))
    array([[ 7., 12., 17.]])
    """
    return _conv_loops(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d_loops(input, weight, bias=None, stride: IntOrTuple = 1, padding: Padding = 0,
                 dilation: IntOrTuple = 1, groups: int = 1) -> np.ndarray:
    """:func:`conv2d` computed by explicit loops over every index (slow, readable).

    Same arguments, shapes and errors as :func:`conv2d`.

    Examples
    --------
    >>> conv2d_loops(np.arange(9.).reshape(1, 3, 3), np.ones((1, 1, 2, 2)))
    array([[[ 8., 12.],
            [20., 24.]]])
    """
    return _conv_loops(2, input, weight, bias, stride, padding, dilation, groups)


def conv3d_loops(input, weight, bias=None, stride: IntOrTuple = 1, padding: Padding = 0,
                 dilation: IntOrTuple = 1, groups: int = 1) -> np.ndarray:
    """:func:`conv3d` computed by explicit loops over every index (slow, readable).

    Same arguments, shapes and errors as :func:`conv3d`.

    Examples
    --------
    >>> conv3d_loops(np.ones((1, 2, 2, 2)), np.ones((1, 1, 2, 2, 2)))
    array([[[[8.]]]])
    """
    return _conv_loops(3, input, weight, bias, stride, padding, dilation, groups)


# ---------------------------------------------------------------------------
# Backward: each gradient is again a convolution
# ---------------------------------------------------------------------------
def _dilate(y: np.ndarray, factor: Sequence[int]) -> np.ndarray:
    """Insert ``factor - 1`` zeros between neighbours along each spatial axis."""
    if all(f == 1 for f in factor):
        return y
    out = tuple((n - 1) * f + 1 for n, f in zip(y.shape[2:], factor))
    z = np.zeros(y.shape[:2] + out, dtype=y.dtype)
    z[(slice(None),) * 2 + tuple(slice(None, None, f) for f in factor)] = y
    return z


def _conv_backward(nd: int, grad_output, input, weight, stride, padding, dilation, groups):
    call = _validate(input, weight, None, stride, padding, dilation, groups, nd)
    x, w, s, dil, G = call.input, call.weight, call.stride, call.dilation, call.groups
    xp = _pad(x, call.pad_before, call.pad_after)
    out = call.output_shape
    gy = as_array(grad_output, "grad_output", floating=True)
    expected = (x.shape[0], w.shape[0], *out)
    if gy.shape != (expected if call.batched else expected[1:]):
        raise ValueError(
            f"grad_output must have the output's shape "
            f"{expected if call.batched else expected[1:]}, got {gy.shape}"
        )
    if gy.dtype != x.dtype:
        raise TypeError(f"grad_output dtype {gy.dtype} differs from input dtype {x.dtype}")
    if not call.batched:
        gy = gy[np.newaxis]
    N, C = x.shape[:2]
    D, Cg = w.shape[:2]
    Dg = D // G
    kernel = w.shape[2:]

    # dL/db_d: every output position of channel d adds b_d once.
    grad_bias = gy.sum(axis=(0, *range(2, 2 + nd)))

    # dL/dx: a "full" convolution of the stride-dilated gradient with the flipped
    # kernels, input and output channels swapped inside each group.
    flipped = w[(slice(None),) * 2 + (slice(None, None, -1),) * nd]
    flipped = flipped.reshape(G, Dg, Cg, *kernel).swapaxes(1, 2).reshape(C, Dg, *kernel)
    full = tuple(d * (k - 1) for k, d in zip(kernel, dil))
    gxp = _correlate(_pad(_dilate(gy, s), full, full), flipped, (1,) * nd, dil, G)
    # rows the stride never reached get no gradient; then drop the padding
    missing = [(0, Hp - g) for Hp, g in zip(xp.shape[2:], gxp.shape[2:])]
    gxp = np.pad(gxp, [(0, 0), (0, 0), *missing])
    grad_input = gxp[(slice(None),) * 2 + tuple(
        slice(b, b + H) for b, H in zip(call.pad_before, x.shape[2:]))]

    # dL/dw: correlate the padded input with the output gradient used as the kernel;
    # stride and dilation swap roles, the batch becomes the summed channel axis.
    xs = xp.reshape(N, G, Cg, *xp.shape[2:]).transpose(2, 1, 0, *range(3, 3 + nd))
    xs = xs.reshape(Cg, G * N, *xp.shape[2:])
    gk = gy.reshape(N, G, Dg, *out).transpose(1, 2, 0, *range(3, 3 + nd)).reshape(D, N, *out)
    gw = _correlate(xs, gk, dil, s, G)  # (C/G, D, *>= kernel)
    gw = gw[(slice(None),) * 2 + tuple(slice(0, k) for k in kernel)]
    grad_weight = np.ascontiguousarray(gw.swapaxes(0, 1))

    if not call.batched:
        grad_input = grad_input[0]
    return np.ascontiguousarray(grad_input), grad_weight, grad_bias


_BACKWARD_DOC = """Gradients of :func:`conv{nd}d` with respect to input, weight and bias.

    For a loss ``L`` and ``grad_output = dL/dy`` where
    ``y = conv{nd}d(input, weight, bias, stride, padding, dilation, groups)``:

    * ``grad_input``: a transposed convolution, i.e. the stride-dilated
      ``grad_output`` convolved ("full") with the flipped kernels;
    * ``grad_weight``: the padded input correlated with ``grad_output`` used
      as the kernel (stride and dilation swap roles);
    * ``grad_bias``: ``grad_output`` summed over batch and positions.

    Parameters
    ----------
    grad_output : numpy.ndarray, shape of the output, (N, D, *out) or (D, *out)
    input, weight, stride, padding, dilation, groups
        As in :func:`conv{nd}d`.

    Returns
    -------
    grad_input : numpy.ndarray, shape of ``input``
    grad_weight : numpy.ndarray, shape of ``weight``
    grad_bias : numpy.ndarray, shape (D,)
"""


def conv1d_backward(grad_output, input, weight, stride: IntOrTuple = 1, padding: Padding = 0,
                    dilation: IntOrTuple = 1, groups: int = 1):
    return _conv_backward(1, grad_output, input, weight, stride, padding, dilation, groups)


def conv2d_backward(grad_output, input, weight, stride: IntOrTuple = 1, padding: Padding = 0,
                    dilation: IntOrTuple = 1, groups: int = 1):
    return _conv_backward(2, grad_output, input, weight, stride, padding, dilation, groups)


def conv3d_backward(grad_output, input, weight, stride: IntOrTuple = 1, padding: Padding = 0,
                    dilation: IntOrTuple = 1, groups: int = 1):
    return _conv_backward(3, grad_output, input, weight, stride, padding, dilation, groups)


for _nd, _f in enumerate((conv1d_backward, conv2d_backward, conv3d_backward), start=1):
    _f.__doc__ = _BACKWARD_DOC.format(nd=_nd)
conv1d_backward.__doc__ += """
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
