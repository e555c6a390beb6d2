"""One call of a student's answer on one check, returning plain data; and what is said about it.

Two places run a student's answer: :func:`convkit.grade.check.check` in the student's
own kernel, and the jailed job of :mod:`convkit.grade.jail` when a class is
graded. Both go through :func:`call_answer`: it passes the check's arguments (copies,
as tensors if the check asks), calls the answer while watching for the calls its
question forbids (or reads the value when the check has no arguments), and turns the
result into plain data (:func:`convkit.grade.codec.to_plain`). What the sandbox adds,
a timer around each step and a report of a forbidden call on its trusted channel,
comes in as the parameters ``run`` and ``on_hit``: this module imports nothing from
the sandbox, and stays light enough for the student's kernel.

The words around a call live here too, so that ``check()`` and the grader's feedback
say the same thing: :func:`call_text` (``conv1d_by_hand(array([1., 2.]), 3)``),
:func:`check_label` (``check 2 (a 1-tap kernel)``, ``hidden check 4``) and
:func:`not_allowed` (```numpy.convolve` is not allowed in this question: ...``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from convkit.grade.codec import to_plain
from convkit.grade.forbid import ForbiddenCall, watching
from convkit.grade.model import Check, describe

__all__ = ["call_answer", "NotAllowed", "call_text", "check_label", "not_allowed"]


class NotAllowed(Exception):
    """The answer called something its question forbids; ``name`` says what (a dotted name or an event)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"called {name}, which this question does not allow")
        self.name = name


def _direct(function: Callable, *args: Any) -> Any:
    return function(*args)


def _argument(value: Any, as_tensor: bool) -> Any:
    """A fresh copy of one argument, so an answer that writes into its inputs cannot spoil the next check."""
    import numpy as np

    if type(value) is np.ndarray:
        if as_tensor:
            import torch

            return torch.from_numpy(value.copy())
        return value.copy()
    return value


def call_answer(
    name: str,
    args: tuple | None,
    answer: Any,
    forbid: Iterable[str] = (),
    *,
    as_tensor: bool = False,
    run: Callable = _direct,
    on_hit: Callable[[str], None] | None = None,
) -> Any:
    """The plain result of ``answer(*args)``, or of ``answer`` itself when ``args`` is None.

    Parameters
    ----------
    name : str
        The name the question asks for (said in the error when ``answer`` is not callable).
    args : tuple or None
        The check's arguments (numbers, strings, tuples, lists, NumPy arrays), or
        ``None`` to read the value.
    answer : object
        What the student bound to ``name``.
    forbid : iterable of str
        Dotted names the answer must not call while it runs (:func:`convkit.grade.forbid.watching`).
    as_tensor : bool
        Pass array arguments as ``torch.Tensor`` (the check's ``torch`` flag).
    run : callable, optional
        ``run(function, *args)`` performs each step (the call, then the conversion to
        plain data); the sandbox passes one that runs it under a timer.
    on_hit : callable, optional
        Told the name of the first forbidden call at once, before student code can
        catch anything (the sandbox reports it on its trusted channel).

    Returns
    -------
    object
        Plain data (:func:`convkit.grade.codec.to_plain`).

    Raises
    ------
    NotAllowed
        If the answer called something in ``forbid`` (or started a thread or a process).
    TypeError
        If ``args`` is given and ``answer`` is not callable, or the result is not plain data.
    Exception
        Whatever the answer itself raises.

    Examples
    --------
    >>> import numpy as np
    >>> call_answer("double", (np.array([1.0, 2.0]),), lambda x: 2 * x)
    array([2., 4.])
    >>> call_answer("double", (np.array([1.0, 2.0]),), lambda x: np.convolve(x, [2.0]), ["numpy.convolve"])
    Traceback (most recent call last):
        ...
    convkit.grade.call.NotAllowed: called numpy.convolve, which this question does not allow
    """
    if args is not None:
        args = tuple(_argument(a, as_tensor) for a in args)
        if not callable(answer):
            raise TypeError(f"{name} is not a function")
        try:
            with watching(forbid, on_hit=on_hit):
                answer = run(answer, *args)
        except ForbiddenCall as caught:
            raise NotAllowed(str(caught)) from None
    return run(to_plain, answer)


def call_text(name: str, args: tuple | None) -> str:
    """How a call of the answer reads in a message: the name, and small arguments in full.

    >>> call_text("output_size", (5, 3, 2, 1, 1)), call_text("predicted_y", None)
    ('output_size(5, 3, 2, 1, 1)', 'predicted_y')
    """
    if args is None:
        return name
    return f"{name}({', '.join(describe(a, 40) for a in args)})"


def check_label(number: int, check: Check) -> str:
    """``check N (note)``, or ``hidden check N (note)``: which check a message is about (N from 1).

    >>> check_label(2, Check((1,), 1, note="one pixel")), check_label(3, Check(None, 1, hidden=True))
    ('check 2 (one pixel)', 'hidden check 3')
    """
    label = ("hidden check" if check.hidden else "check") + f" {number}"
    return label + (f" ({check.note})" if check.note else "")


def not_allowed(name: str, why: str = "") -> str:
    """What a student reads when the answer called ``name``, which the question forbids.

    >>> not_allowed("numpy.convolve", "write it yourself")
    '`numpy.convolve` is not allowed in this question: write it yourself'
    """
    return f"`{name}` is not allowed in this question" + (f": {why}" if why else "")
