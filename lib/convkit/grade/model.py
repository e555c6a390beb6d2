"""The question data model: notebooks, questions, checks, outcomes, and how a result is judged.

A :class:`Question` is something the student writes (a function, or a value bound to
a name) with its points, its kind, the library calls it forbids while the answer
runs, and its checks. A :class:`Check` is one probe of it: the arguments to call the
student's function with (or ``None`` to read the value itself), the expected result,
and how to compare. A :class:`Misconception` is a classic wrong idea together with
the result that idea produces, so that a wrong answer can be *named* ("the kernel was
visited backwards") instead of being contradicted with the right one.

The expected result is computed in the process that *judges*, from an independent
truth (torch, or a constant worked out by hand), and never from the student's code.
What travels from the student's code is plain data (:mod:`convkit.grade.codec`);
:func:`verdict` turns one plain result into the message a student reads. No message
ever contains an expected value: a wrong answer gets the name of its misconception,
or else a neutral description of the first property that fails (type, shape, first
wrong index, sign).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

__all__ = [
    "NOTEBOOKS",
    "KINDS",
    "Misconception",
    "Check",
    "Question",
    "Outcome",
    "choice_letters",
    "compare",
    "describe",
    "tolerance",
    "verdict",
    "diagnosis",
]

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

_COMPARISONS = ("close", "exact", "shape", "set", "choice")


@dataclass(frozen=True)
class Misconception:
    """A classic wrong idea and the result it produces.

    Parameters
    ----------
    message : str
        What the student is told when their result is the one this idea produces. It
        names the idea ("the kernel was visited backwards") and never the answer.
    wrong : object or callable, optional
        The result of the wrong idea: a value, or a function of the check's ``*args``
        computing it (evaluated by the judging process only).
    test : callable, optional
        Instead of ``wrong``: ``test(got, expected, args) -> bool`` says whether ``got``
        shows the idea (for ideas with a family of results, such as "a constant was
        added everywhere").
    compare : str, optional
        How ``got`` is compared with ``wrong`` (default: as the check compares, or
        ``"close"`` when the check's comparison is a function).
    id : str, optional
        A stable name for the idea, by which reports count it. Left empty, the question
        that holds it names it by position: ``"02.q1.m1"`` for its first misconception,
        ``"02.q1.c2.m1"`` for the first of its second check's (so add new ones at the end).
    section : str, optional
        The heading of the course notebook's section that sets this idea right, when it is
        not the question's own :attr:`Question.section`.
    """

    message: str
    wrong: Any = None
    test: Callable | None = None
    compare: str | None = None
    id: str = ""
    section: str = ""

    def shown_by(
        self, got: Any, expected: Any, args: tuple | None, how: str | Callable, digits: int | None = None
    ) -> bool:
        """Whether the plain result ``got`` is what this idea gives (and the right answer is not)."""
        try:
            if self.test is not None:
                return bool(self.test(got, expected, args))
            wrong = self.wrong(*(args or ())) if callable(self.wrong) else self.wrong
            mode = self.compare or (how if isinstance(how, str) else "close")
            if (
                compare(wrong, expected, mode, digits) is None
            ):  # on this input the idea gives the right answer
                return False
            return compare(got, wrong, mode, digits) is None
        except Exception:  # a wrong idea that cannot be evaluated on this input says nothing
            return False


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
    compare : {"close", "exact", "shape", "set", "choice"} or callable
        ``"close"``: numeric arrays/numbers of the same shape, ``np.allclose``;
        ``"exact"``: equal plain data (ints, lists, tuples compared as lists);
        ``"shape"``: the result is an array whose shape is ``expected``;
        ``"set"``: the same collection of items in any order (pairs as tuples);
        ``"choice"``: the letters of a multiple-choice answer, in any order and case
        (``"a, c"``, ``"AC"``, ``["C", "A"]``);
        a callable ``(got, expected) -> str | None`` returns a message when wrong.
    torch : bool
        Pass array arguments as ``torch.Tensor`` (float32 stays float32).
    note : str
        What the check probes, shown when it fails.
    hidden : bool
        Hidden checks run only when grading.
    misconceptions : tuple of Misconception
        Wrong ideas recognised on this check only (the question's own apply to every check).
    """

    args: tuple | None
    expected: Any
    compare: str | Callable = "close"
    torch: bool = False
    note: str = ""
    hidden: bool = False
    misconceptions: tuple[Misconception, ...] = ()

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
    #: wrong ideas recognised on every check of the question
    misconceptions: tuple[Misconception, ...] = ()
    #: the significant digits the wording promises are enough for a number (its ``"close"``
    #: checks then pass a result rounded to that many digits), or ``None`` for the default tolerance
    digits: int | None = None
    #: ids of questions of the same notebook whose answer this one may call (``unread`` calls
    #: the student's ``output_size``): when both fail, the feedback says which to fix first
    uses: tuple[str, ...] = ()
    #: the heading of the course notebook's section that teaches it (``"3. Not the convolution
    #: of signal processing"``), where the class report sends a class that got it wrong
    section: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r} (question {self.id})")

        def named(ideas: tuple[Misconception, ...], prefix: str) -> tuple[Misconception, ...]:
            return tuple(
                idea if idea.id else replace(idea, id=f"{prefix}.m{k}") for k, idea in enumerate(ideas, 1)
            )

        # frozen: the ids are filled in once, here, so every copy of the question agrees on them
        object.__setattr__(self, "misconceptions", named(self.misconceptions, self.id))
        checks = tuple(
            replace(c, misconceptions=named(c.misconceptions, f"{self.id}.c{k}")) if c.misconceptions else c
            for k, c in enumerate(self.checks, 1)
        )
        object.__setattr__(self, "checks", checks)

    def with_hidden(self, hidden: tuple[Check, ...] | list[Check]) -> Question:
        """This question with ``hidden`` appended (each marked ``hidden=True``)."""
        extra = tuple(replace(c, hidden=True) for c in hidden)
        return replace(self, checks=self.checks + extra)


@dataclass(frozen=True)
class Outcome:
    """The result of one question for one student: points and a message if not full.

    ``cause`` is the id of a question this one uses (:attr:`Question.uses`) whose answer
    fails in the same grading, when this one's answer calls it: fixing that may fix both.
    ``misconceptions`` holds the ids of the misconceptions the failing check diagnosed
    (:attr:`Misconception.id`; two when both ideas give that result), and ``hidden`` says
    whether that check was a hidden one.
    """

    points: float
    max: int
    message: str = ""
    cause: str | None = None
    misconceptions: tuple[str, ...] = ()
    hidden: bool = False


def describe(value: Any, limit: int = 120) -> str:
    """A short text for a plain value: small values in full, arrays by shape and dtype."""
    if type(value) is np.ndarray:
        if value.size <= 12:
            text = np.array2string(value, precision=4, separator=", ").replace("\n", "")
            return f"array({text})"
        return f"array of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _number(value: float) -> str:
    return f"{value:.6g}"


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
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is dict:
        return {k: _lists(v) for k, v in value.items()}
    return value


def _exact(have: Any, want: Any, where: str = "") -> str | None:
    """The first difference between two plain values, described without showing ``want``."""
    at = f" {where}" if where else ""
    if type(want) is dict:
        if type(have) is not dict:
            return f"expected a dict{at}, got {describe(have)}"
        if set(have) != set(want):
            extra, missing = sorted(set(have) - set(want)), sorted(set(want) - set(have))
            parts = ([f"{', '.join(map(repr, extra))} should not be there"] if extra else []) + (
                [f"{len(missing)} name(s) are missing"] if missing else []
            )
            return f"the names{at} are not right: " + "; ".join(parts)
        for key in want:
            problem = _exact(have[key], want[key], f"under {key!r}")
            if problem:
                return problem
        return None
    if type(want) is list:
        if type(have) is not list:
            return f"expected a list or tuple{at}, got {describe(have)}"
        if len(have) != len(want):
            return f"got {len(have)} items{at}, expected {len(want)}"
        for position, (h, w) in enumerate(zip(have, want)):
            if _exact(h, w) is not None:
                return f"item {position}{at} is not right (got {describe(h, 40)})"
        return None
    if type(have) is bool and type(want) is not bool:
        return f"expected a number{at}, got the boolean {have}"
    if type(want) is bool and type(have) is not bool:
        return f"expected True or False{at}, got {describe(have)}"
    if have == want and type(have) is not list and type(have) is not dict:
        return None
    return f"{describe(have)}{at} is not the right value"


def _items(value: Any) -> set | None:
    """The items of an "any order" answer as a set: a list, tuple or array's elements (an array's rows).

    Each item may itself be a list, tuple or array (a pair of indices); ``None`` when
    ``value`` is not a collection or its items are not plain numbers or sequences of them.

    >>> sorted(_items(np.array([[5, 1], [4, 0]]))), sorted(_items([np.array([4, 0]), (5, 1)]))
    ([(4, 0), (5, 1)], [(4, 0), (5, 1)])
    """
    if type(value) is np.ndarray:
        if value.ndim == 0:
            return None
        value = list(value)
    if type(value) not in (list, tuple):
        return None
    try:
        return {tuple(_lists(v)) if type(v) in (list, tuple, np.ndarray) else _lists(v) for v in value}
    except TypeError:
        return None


def choice_letters(value: Any) -> str | None:
    """The canonical form of a multiple-choice answer: sorted upper-case letters joined by commas.

    >>> choice_letters("c, a"), choice_letters(["A"]), choice_letters("AC"), choice_letters(3)
    ('A,C', 'A', 'A,C', None)
    """
    if type(value) is str:
        parts = [p for p in value.replace(",", " ").split()]
        if len(parts) == 1 and len(parts[0]) > 1 and parts[0].isalpha():
            parts = list(parts[0])
    elif type(value) in (list, tuple) and all(type(v) is str for v in value):
        parts = list(value)
    else:
        return None
    letters = sorted({p.strip().upper() for p in parts if p.strip()})
    if not letters or not all(len(letter) == 1 and letter.isalpha() for letter in letters):
        return None
    return ",".join(letters)


def tolerance(expected: Any, digits: int | None) -> tuple[float, np.ndarray | float]:
    """``(rtol, atol)`` for ``np.isclose`` against ``expected``: the default, or N significant digits.

    A value rounded to ``digits`` significant digits is at most half a unit of its last
    digit away: ``0.5·10^(e − digits + 1)`` where ``e`` is the exponent of ``expected``.

    >>> round(tolerance(154.62, 4)[1], 9)
    0.05
    """
    if digits is None:
        return 1e-4, 1e-5
    if type(digits) is not int or digits < 1:
        raise ValueError(f"digits must be a positive int, got {digits!r}")
    want = np.abs(np.asarray(expected, dtype=np.float64))
    exponent = np.floor(np.log10(np.where(want > 0, want, 1.0)))
    atol = 0.5 * 10.0 ** (exponent - digits + 1) * (1 + 1e-9)  # 1e-9: the rounding of the bound itself
    return 0.0, float(atol) if atol.ndim == 0 else atol


def compare(got: Any, expected: Any, how: str | Callable = "close", digits: int | None = None) -> str | None:
    """Compare plain data ``got`` with ``expected``; return None if right, else a message.

    ``got`` must already be plain (from :func:`decode`); it is never trusted beyond that.
    The message describes what is wrong with ``got`` and never shows ``expected``
    (except the shape of an array, which the question's contract states anyway).

    Examples
    --------
    >>> compare([7.0, 12.0, 17.0], np.array([7, 12, 17])) is None
    True
    >>> compare(3, 4, "exact")
    '3 is not the right value'
    >>> compare([1.0, 5.0, 3.0], [1.0, 2.0, 3.0])
    'first wrong value at index (1,): got 5'
    """
    if callable(how):
        return how(got, expected)
    if how == "exact":
        return _exact(_lists(got), _lists(expected))
    if how == "set":
        have, want = _items(got), _items(expected)
        if have is None:
            return f"expected a collection of items (a list, tuple, set or array), got {describe(got)}"
        if have == want:
            return None
        extra = sorted(have - want, key=repr)
        if extra:
            return f"{describe(extra[0], 40)} should not be in it"
        return "some items are missing"
    if how == "choice":
        have = choice_letters(got)
        if have is None:
            return f"expected a letter such as 'B' (or a list of letters), got {describe(got, 40)}"
        return (
            None if have == choice_letters(expected) else f"{have.replace(',', ', ')} is not the right choice"
        )
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
            return f"expected numbers, got {describe(got)}"
        if have.shape != want.shape:
            return f"wrong shape: got {have.shape}, expected {want.shape}"
        if not np.all(np.isfinite(have)):
            return "the result contains nan or inf"
        rtol, atol = tolerance(want, digits)
        wrong = ~np.isclose(have, want, rtol=rtol, atol=atol)
        if not wrong.any():
            return None
        if want.ndim == 0:
            text = f"{_number(float(have))} is not the right value"
            index = ()
        else:
            index = tuple(int(i) for i in np.argwhere(wrong)[0])
            got_there = _number(float(have[index]))
            text = f"first wrong value at index {index}: got {got_there}"
        opposite = np.sign(have[index]) == -np.sign(want[index]) != 0
        if opposite and np.isclose(abs(have[index]), abs(want[index]), rtol=rtol, atol=np.max(atol)):
            text += " (the sign is wrong)"
        return text
    raise ValueError(f"unknown comparison {how!r}; use one of {_COMPARISONS} or a callable")


def verdict(question: Question, check: Check, got: Any, expected: Any) -> str | None:
    """The message for one plain result of one check, or ``None`` if it is right.

    A result that a known misconception produces gets that misconception's message
    (both, when two ideas give the same result on this input); any other wrong result a
    neutral description of what fails. Neither shows the
    expected value.
    """
    return diagnosis(question, check, got, expected)[0]


def diagnosis(
    question: Question, check: Check, got: Any, expected: Any
) -> tuple[str | None, tuple[str, ...]]:
    """:func:`verdict`'s message, and the ids of the misconceptions it names (``()`` for none)."""
    problem = compare(got, expected, check.compare, question.digits)
    if problem is None:
        return None, ()
    shown: dict[str, str] = {}  # message -> id: an idea stated twice is named (and counted) once
    for idea in check.misconceptions + question.misconceptions:
        if idea.message not in shown and idea.shown_by(
            got, expected, check.args, check.compare, question.digits
        ):
            shown[idea.message] = idea.id
    ideas, ids = list(shown), tuple(shown.values())
    if len(ideas) > 1:  # on this input two wrong ideas give the same result: name both
        return "either " + "; or ".join(ideas), ids
    if ideas:
        return ideas[0], ids
    return (_form_only(got, expected, check.compare) if question.kind == "predict" else problem), ()


#: What a wrong prediction is told when no misconception names it: right or wrong, nothing more.
NOT_RIGHT = "this is not the right answer"


def _form_only(got: Any, expected: Any, how: str | Callable) -> str:
    """The message for a wrong *predict* answer: its form if that is wrong, else only that it is wrong.

    A prediction is a value to work out, so saying which entry is wrong, how many items
    are missing or how long the answer should be would let it be found by trial.
    """
    if how == "close" and _as_float_array(got) is None:
        return f"expected numbers, got {describe(got, 40)}"
    if how == "set" and _items(got) is None:
        return f"expected a collection of items (a list, tuple, set or array), got {describe(got, 40)}"
    if how == "exact":
        have, want = _lists(got), _lists(expected)
        if type(want) is dict and type(have) is not dict:
            return f"expected a dict, got {describe(got, 40)}"
        if type(want) is list and type(have) is not list:
            return f"expected a list or tuple, got {describe(got, 40)}"
    return NOT_RIGHT
