"""Argument checks shared by every convkit module: one home for each rule.

* :func:`as_int` -- "must be an int" (bools refused, NumPy integers accepted), with a minimum;
* :func:`as_bool` -- "must be a bool";
* :func:`per_axis` -- "an int or a tuple per axis", as ``nn.Conv2d`` reads ``stride=2``;
* :func:`as_array` -- "turn this into an array of numbers" (lists, NumPy arrays, torch tensors).

Every function takes the value first and its name second, and every error names
the argument, so a student sees ``stride must be >= 1, got 0`` rather than a
traceback from deep inside NumPy.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["as_int", "as_bool", "per_axis", "as_array"]


def as_int(value: Any, name: str, minimum: int | None = None) -> int:
    """Return ``value`` as a Python int, refusing floats, bools and anything below ``minimum``.

    Examples
    --------
    >>> as_int(np.int64(3), "stride", minimum=1)
    3
    >>> as_int(0, "stride", minimum=1)
    Traceback (most recent call last):
        ...
    ValueError: stride must be >= 1, got 0
    """
    # bool is an int subclass, but `stride=True` is always a mistake.
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def as_bool(value: Any, name: str) -> bool:
    """Return ``value`` as a Python bool, refusing ``0``, ``1`` and other stand-ins."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r} ({type(value).__name__})")
    return bool(value)


def per_axis(
    value: Any, name: str, ndim: int, minimum: int | None = None, *, where: str = ""
) -> tuple[int, ...]:
    """Expand an int to one copy per spatial axis, or check a sequence has one int per axis.

    ``where`` ends the length message, e.g. ``" of input_shape (10, 3)"``.

    Examples
    --------
    >>> per_axis(2, "stride", 2, minimum=1)
    (2, 2)
    >>> per_axis([1, 3], "dilation", 2, minimum=1)
    (1, 3)
    >>> per_axis((1, 2, 3), "stride", 2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: stride=(1, 2, 3) has 3 entries, but stride must be an int or a tuple of 2 ints, ...
    """
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        if len(value) != ndim:
            raise ValueError(
                f"{name}={tuple(value)!r} has {len(value)} entries, but {name} must be "
                f"an int or a tuple of {ndim} ints, one per spatial axis{where}"
            )
        return tuple(as_int(v, f"{name}[{axis}]", minimum) for axis, v in enumerate(value))
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an int or a tuple of {ndim} ints, got {value!r} ({type(value).__name__})"
        )
    return (as_int(value, name, minimum),) * ndim


def as_array(
    value: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    axes: str = "",
    floating: bool = False,
    nonempty: bool = False,
    finite: bool = False,
    dtype: Any = None,
) -> np.ndarray:
    """Turn a list, NumPy array or torch tensor into a NumPy array of real numbers.

    Parameters
    ----------
    value : array_like or torch.Tensor
        A tensor is detached and moved to the CPU first.
    name : str
        The argument's name, for the error messages.
    ndim : int or tuple of int, optional
        The allowed numbers of dimensions.
    axes : str, optional
        The expected layout, quoted in the error message, e.g. ``"(H, W)"``.
    floating : bool, default False
        Require a floating-point dtype (no silent conversion of integers).
    nonempty, finite : bool, default False
        Refuse an empty array, or one holding nan or inf.
    dtype : numpy dtype, optional
        Convert to this dtype (after the checks above).

    Raises
    ------
    TypeError
        If ``value`` does not hold real numbers (or floats, with ``floating``).
    ValueError
        If it has the wrong number of dimensions, is empty or is not finite.

    Examples
    --------
    >>> as_array([[1, 2], [3, 4]], "image", ndim=2, axes="(H, W)").shape
    (2, 2)
    >>> as_array([1, 2], "image", ndim=2, axes="(H, W)")
    Traceback (most recent call last):
        ...
    ValueError: image must be a 2d array (H, W), got shape (2,)
    """
    if hasattr(value, "detach"):  # a torch tensor, possibly on a GPU or requiring grad
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except ValueError as error:  # ragged nested lists
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}: {error}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if floating and array.dtype.kind != "f":
        raise TypeError(
            f"{name} must be a floating-point array (float32 or float64), got dtype {array.dtype}"
        )
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if array.ndim not in allowed:
            dims = " or ".join(f"{n}d" for n in allowed)
            layout = f" {axes}" if axes else ""
            raise ValueError(f"{name} must be a {dims} array{layout}, got shape {array.shape}")
    if nonempty and array.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    if finite and not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains non-finite values (nan or inf), shape {array.shape}")
    return array if dtype is None else array.astype(dtype, copy=False)
