"""The question data model: notebooks, questions, checks, outcomes, and how a result is judged.

A :class:`Question` is something the student writes (a function, or a value bound to
a name) with its points, its kind, the library calls it forbids while the answer
runs, and its checks. A :class:`Check` is one probe of it: the arguments to call the
student's function with (or ``None`` to read the value itself), the expected result,
and how to compare.

The expected result is computed in the process that *judges*, from an independent
truth (``convkit.reference``, ``convkit.shapes``, torch, or a constant worked out by
hand), and never from the student's code. What travels from the student's code is
plain data (:mod:`convkit.grade.codec`); :func:`verdict` turns one plain result into
the message a student reads.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

__all__ = ["NOTEBOOKS", "KINDS", "Check", "Question", "Outcome", "compare", "describe", "verdict"]

#: The exercise notebooks, in course order (the same file names as the course notebooks).
NOTEBOOKS = (
    "01_why_convolutions.ipynb",
    "02_convolution_1d.ipynb",
    "03_multichannel_2d.ipynb",
    "04_conv2d_in_pytorch.ipynb",
    "05_padding_stride_dilation.ipynb",
    "06_filter_gallery.ipynb",
    "07_gradients_are_convolutions.ipynb",
)

#: The kinds of question: write it from scratch, work out a value, choose and justify, fix a bug.
KINDS = ("implement", "predict", "explain", "debug")


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
    #: one of :data:`KINDS`
    kind: str = "implement"
    #: dotted names of functions, classes or whole modules that must not be called while
    #: the answer runs (``"convkit.reference"``, ``"torch.nn.functional.conv2d"``, ...)
    forbids: tuple[str, ...] = ()
    #: why they are forbidden, said to the student who called one
    why_forbidden: str = ""
    #: the name of a string variable holding the student's free-text justification
    #: (shown to the instructor in the feedback, not graded), or ``None``
    justification: str | None = None

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


def verdict(question: Question, check: Check, got: Any, expected: Any) -> str | None:
    """The message for one plain result of one check, or ``None`` if it is right.

    A hidden check never shows its expected value.
    """
    problem = compare(got, expected, check.compare)
    if problem and check.hidden:
        problem = f"wrong result, got {describe(got)}"
    return problem
