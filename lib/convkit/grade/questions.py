"""Questions, checks, and the plain data that travels between student code and the grader.

A :class:`Question` is something the student writes (a function, or a value bound to
a name) with its points; a :class:`Check` is one probe of it: the arguments to call
the student's function with (or ``None`` to read the value itself), the expected
result, and how to compare.

The expected result is computed in the process that *judges*, from an independent
truth (``convkit.reference``, ``convkit.shapes``, torch, or a constant worked out by
hand), and never from the student's code. Whatever the student returns is first
turned into plain data (:func:`to_plain`: numbers, strings, nested lists, NumPy
arrays of a numeric dtype), then checked for type again on the judging side
(:func:`decode` refuses anything else), and only then compared. An object whose
``__eq__`` always says yes therefore never reaches a comparison.

On the wire, plain data is JSON; an array is an embedded ``.npy`` file (base64), loaded
with ``allow_pickle=False``. Nothing is ever unpickled.
"""
from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

__all__ = ["Check", "Question", "Outcome", "to_plain", "encode", "decode", "compare", "describe"]

#: Largest array a student may return or a check may send (elements).
MAX_ELEMENTS = 5_000_000
_NUMERIC_KINDS = "biuf"


@dataclass(frozen=True)
class Check:
    """One probe of a question.

    Parameters
    ----------
    args : tuple or None
        Positional arguments to call the student's answer with; ``None`` reads the
        value bound to the name. Numbers, strings, tuples, lists and NumPy arrays.
    expected : object or callable
        The right result, or a function of ``*args`` computing it from an
        independent truth (evaluated by the judging process only).
    compare : {"close", "exact", "shape"} or callable
        ``"close"``: numeric arrays/numbers of the same shape, ``np.allclose``;
        ``"exact"``: equal plain data (ints, lists, tuples compared as lists);
        ``"shape"``: the result is an array whose shape is ``expected``;
        a callable ``(got, expected) -> str | None`` returns a message when wrong.
    torch : bool
        Pass array arguments as ``torch.Tensor`` (float32 stays float32).
    note : str
        What the check probes, shown when it fails.
    hidden : bool
        Hidden checks run only when grading; their expected values are never shown.
    """

    args: tuple | None
    expected: Any
    compare: str | Callable = "close"
    torch: bool = False
    note: str = ""
    hidden: bool = False

    def expected_value(self) -> Any:
        """The expected result (calls ``expected`` on ``args`` if it is callable)."""
        if callable(self.expected):
            return self.expected(*(self.args or ()))
        return self.expected


@dataclass(frozen=True)
class Question:
    """A graded question: the name the student defines, its points and its checks.

    ``id`` is ``"NN.qK"`` where ``NN`` is the notebook number; ``notebook`` is the
    exercise file name (``"02_convolution_1d.ipynb"``).
    """

    id: str
    notebook: str
    name: str
    points: int
    checks: tuple[Check, ...] = field(default_factory=tuple)

    def with_hidden(self, hidden: tuple[Check, ...] | list[Check]) -> "Question":
        """This question with ``hidden`` appended (each marked ``hidden=True``)."""
        extra = tuple(replace(c, hidden=True) for c in hidden)
        return replace(self, checks=self.checks + extra)


@dataclass(frozen=True)
class Outcome:
    """The result of one question for one student: points and a message if not full."""

    points: float
    max: int
    message: str = ""


def _tensor_to_numpy(value: Any) -> np.ndarray | None:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return None
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return None


def to_plain(value: Any, depth: int = 0) -> Any:
    """Turn a student's result into plain data: numbers, str, None, lists, numeric arrays.

    Tensors become arrays, NumPy scalars Python numbers, tuples (and ``torch.Size``)
    lists. Only the exact built-in types are accepted, never subclasses.

    Raises
    ------
    TypeError
        For any other type (the message names it), or nesting deeper than 20.

    Examples
    --------
    >>> to_plain((1, 2.5, [True, None]))
    [1, 2.5, [True, None]]
    >>> to_plain(np.int64(3))
    3
    """
    if depth > 20:
        raise TypeError("the result is nested more than 20 levels deep")
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind in (list, tuple):
        return [to_plain(v, depth + 1) for v in value]
    array = _tensor_to_numpy(value)
    if array is None and kind is np.ndarray:
        array = value
    if array is not None:
        if array.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"an array of dtype {array.dtype} is not a numeric result")
        return np.array(array)  # an owned, plain ndarray (not a subclass or view)
    if isinstance(value, np.generic) and value.dtype.kind in _NUMERIC_KINDS:
        return value.item()
    if isinstance(value, tuple) and type(value).__name__ == "Size":  # torch.Size
        return [int(v) for v in tuple.__iter__(value)]
    raise TypeError(f"returned an object of type {kind.__name__}; expected a number, "
                    "a tuple or list, or an array")


def encode(value: Any) -> Any:
    """Plain data (or check arguments) to JSON-ready data; arrays become embedded .npy.

    Tuples are kept as tuples (``{"__tuple__": [...]}``) so that arguments arrive as
    the question says; results are lists anyway after :func:`to_plain`.
    """
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if kind is list:
        return [encode(v) for v in value]
    if kind is tuple:
        return {"__tuple__": [encode(v) for v in value]}
    if kind is np.ndarray:
        if value.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"cannot send an array of dtype {value.dtype}")
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        return {"__ndarray__": base64.b64encode(buffer.getvalue()).decode("ascii")}
    raise TypeError(f"cannot encode an object of type {kind.__name__}")


def decode(data: Any, depth: int = 0) -> Any:
    """The inverse of :func:`encode`, strict: anything not made by it raises ValueError."""
    if depth > 22:
        raise ValueError("the data is nested too deeply")
    kind = type(data)
    if data is None or kind in (bool, int, float, str):
        return data
    if kind is list:
        return [decode(v, depth + 1) for v in data]
    if kind is dict and len(data) == 1:
        (key, inner), = data.items()
        if key == "__tuple__" and type(inner) is list:
            return tuple(decode(v, depth + 1) for v in inner)
        if key == "__float__" and inner in ("nan", "inf", "-inf"):
            return float(inner)
        if key == "__ndarray__" and type(inner) is str:
            raw = base64.b64decode(inner.encode("ascii"), validate=True)
            array = np.load(io.BytesIO(raw), allow_pickle=False)
            if type(array) is not np.ndarray or array.dtype.kind not in _NUMERIC_KINDS:
                raise ValueError("an embedded array is not numeric")
            if array.size > MAX_ELEMENTS:
                raise ValueError(f"an array of {array.size} elements is too large")
            return array
    raise ValueError(f"unexpected data of type {kind.__name__}")


def describe(value: Any, limit: int = 120) -> str:
    """A short text for a plain value: small values in full, arrays by shape and dtype."""
    if type(value) is np.ndarray:
        if value.size <= 12:
            text = np.array2string(value, precision=4, separator=", ").replace("\n", "")
            return f"array({text})"
        return f"array of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _as_float_array(value: Any) -> np.ndarray | None:
    """A numeric array from plain data, or None if it is not numeric (lists must be rectangular)."""
    if type(value) is np.ndarray:
        return value.astype(np.float64)
    if type(value) is bool or value is None or type(value) is str:
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def _lists(value: Any) -> Any:
    """Tuples to lists, arrays to lists, recursively: the form "exact" compares."""
    if type(value) in (list, tuple):
        return [_lists(v) for v in value]
    if type(value) is np.ndarray:
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def compare(got: Any, expected: Any, how: str | Callable = "close") -> str | None:
    """Compare plain data ``got`` with ``expected``; return None if right, else a message.

    ``got`` must already be plain (from :func:`decode`); it is never trusted beyond that.

    Examples
    --------
    >>> compare([7.0, 12.0, 17.0], np.array([7, 12, 17])) is None
    True
    >>> compare(3, 4, "exact")
    'expected 4, got 3'
    """
    if callable(how):
        return how(got, expected)
    if how == "exact":
        if type(got) is bool and type(expected) is not bool:
            return f"expected {describe(expected)}, got the boolean {got}"
        want = _lists(expected)
        have = _lists(got)
        if type(have) is float and type(want) is int and have.is_integer():
            have = int(have)
        return None if have == want else f"expected {describe(expected)}, got {describe(got)}"
    if how == "shape":
        if type(got) is not np.ndarray:
            return f"expected an array of shape {tuple(expected)}, got {describe(got)}"
        if tuple(got.shape) != tuple(expected):
            return f"expected shape {tuple(expected)}, got shape {tuple(got.shape)}"
        return None
    if how == "close":
        have = _as_float_array(got)
        want = np.asarray(expected, dtype=np.float64)
        if have is None:
            return f"expected numbers like {describe(expected)}, got {describe(got)}"
        if have.shape != want.shape:
            return f"expected shape {want.shape}, got shape {have.shape}"
        if not np.allclose(have, want, rtol=1e-4, atol=1e-5):
            worst = np.unravel_index(np.argmax(np.abs(have - want)), want.shape) if want.ndim else ()
            return (f"expected {describe(expected)}, got {describe(got)}"
                    + (f" (first large difference at index {tuple(int(i) for i in worst)})"
                       if want.ndim else ""))
        return None
    raise ValueError(f"unknown comparison {how!r}; use 'close', 'exact', 'shape' or a callable")
