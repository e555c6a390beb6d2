"""Instant feedback in an exercise notebook: ``check("02.q1")`` after each question.

It runs the question's *public* checks (:mod:`convkit.grade.questions`) in the student's
own kernel and shows one line (:mod:`convkit.grade.mark`): ✓ when they pass, ✗ naming
the misconception the result shows (or, failing that, what is wrong with it, never the
expected value), and ○ for the choice of an *explain* question, which is read but not
judged. While the answer runs, the calls the question forbids raise, exactly as when it
is graded. The hidden checks are not in the installed package, so they can neither run
nor be read here; a pass therefore says "public checks".

Before checking, the answer is looked up the way the grader will see it: if the cell
that sets it failed the last time it ran, the variable still holds an earlier run's
object, and ``check`` says so instead of checking that (:mod:`convkit.grade.history`).

When the notebook is being graded (``CONVKIT_GRADING=1``, set by the grader) the call
does nothing: the grader judges the answers itself, in another process.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from convkit.grade.call import NotAllowed, call_answer, call_text, check_label, not_allowed
from convkit.grade.history import stale_reason
from convkit.grade.mark import FAIL, PASS, READ, Mark, show
from convkit.grade.model import Question, choice_letters, verdict
from convkit.grade.questions import BY_ID

__all__ = ["check", "judge"]

_MISSING = object()


def check(question_id: str, answer: Any = _MISSING) -> None:
    """Run the public checks of one question and show ✓, ✗ or ○ with the reason.

    Parameters
    ----------
    question_id : str
        The id in the question's title, e.g. ``"02.q1"``.
    answer : object, optional
        The function or value to check; by default the name the question asks for is
        looked up among the notebook's variables.

    Raises
    ------
    ValueError
        If ``question_id`` is not a question.

    Examples
    --------
    >>> def dense_weights(height, width, channels):
    ...     return (height * width * channels) ** 2
    >>> check("01.q1", dense_weights)
    ✓ 01.q1 dense_weights: 2 public checks pass (2 points if the hidden checks pass too)
    >>> check("01.q1", lambda h, w, c: (h * w) ** 2)  # doctest: +NORMALIZE_WHITESPACE
    ✗ 01.q1 dense_weights, check 2 (the lecture's 256×256 RGB image): dense_weights(256, 256, 3):
      you counted one channel only: every colour of every pixel is an input, and an output
    >>> check("05.q5", "a")  # doctest: +NORMALIZE_WHITESPACE
    ○ 05.q5 stride_choice: your choice A is read, not judged: the grader says whether it is right
      (2 points if it is)
      Now write why in `stride_why` (a string): your instructor reads it.
    """
    if os.environ.get("CONVKIT_GRADING") == "1":
        return None
    if type(question_id) is not str or question_id not in BY_ID:
        raise ValueError(f"question_id {question_id!r} is not a question; known: {', '.join(sorted(BY_ID))}")
    show(judge(BY_ID[question_id], answer, sys._getframe(1).f_globals))
    return None


def judge(question: Question, answer: Any = _MISSING, namespace: dict | None = None) -> Mark:
    """The mark of ``answer`` (by default ``namespace[question.name]``) on the public checks of ``question``."""
    namespace = {} if namespace is None else namespace
    head = f"{question.id} {question.name}"
    if answer is _MISSING:
        answer = namespace.get(question.name, _MISSING)
        if answer is _MISSING:
            return Mark(FAIL, head, f"`{question.name}` is not defined yet (run the cell where you write it)")
        stale = stale_reason(question.name, answer)
        if stale:
            return Mark(FAIL, head, stale)
    plain = None
    for number, item in enumerate(question.checks, start=1):
        label = check_label(number, item)
        call = call_text(question.name, item.args)
        if item.args is not None and not callable(answer):
            return Mark(FAIL, head, f"`{question.name}` should be a function")
        try:
            plain = call_answer(question.name, item.args, answer, question.forbids, as_tensor=item.torch)
        except NotAllowed as error:
            return Mark(FAIL, head, not_allowed(error.name, question.why_forbidden))
        except NotImplementedError:
            return Mark(FAIL, head, "not answered yet (the cell still raises NotImplementedError)")
        except Exception as error:  # the student's code failing is feedback, not a crash
            return Mark(FAIL, f"{head}, {label}", f"{call} raised {type(error).__name__}: {error}")
        problem = verdict(question, item, plain, item.expected_value())
        if problem:
            return Mark(FAIL, f"{head}, {label}", f"{call}: {problem}")
    notes = ()
    if question.justification:
        reason = namespace.get(question.justification)
        if type(reason) is not str or not reason.strip():
            notes = (f"Now write why in `{question.justification}` (a string): your instructor reads it.",)
    if question.kind == "explain":  # which letters are right is for the grader to say
        letters = (choice_letters(plain) or "").replace(",", ", ")
        choice = f"choice {letters} is" if "," not in letters else f"choices {letters} are"
        return Mark(
            READ,
            head,
            f"your {choice} read, not judged: the grader says whether it is right "
            f"({question.points} points if it is)",
            notes,
        )
    count = len(question.checks)
    return Mark(
        PASS,
        head,
        f"{count} public check{'s pass' if count > 1 else ' passes'} "
        f"({question.points} points if the hidden checks pass too)",
        notes,
    )
