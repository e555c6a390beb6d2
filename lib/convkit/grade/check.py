"""Instant feedback in an exercise notebook: ``check("02.q1")`` after each question.

It runs the question's *public* checks (:mod:`convkit.grade.questions`) in the student's
own kernel and prints one ✓ line, or one ✗ line naming the misconception the result
shows (or, failing that, what is wrong with it), never the expected value. While the
answer runs, the calls the question forbids raise, exactly as when it is graded.
The hidden checks are not in the installed package, so they can neither run nor be
read here; a pass therefore says "public checks".

When the notebook is being graded (``CONVKIT_GRADING=1``, set by the grader) the call
does nothing: the grader judges the answers itself, in another process.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from convkit.grade.call import NotAllowed, call_answer, call_text, check_label, not_allowed
from convkit.grade.model import verdict
from convkit.grade.questions import BY_ID

__all__ = ["check"]

_MISSING = object()


def check(question_id: str, answer: Any = _MISSING) -> None:
    """Run the public checks of one question and print ✓ or ✗ with the reason.

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
    """
    if os.environ.get("CONVKIT_GRADING") == "1":
        return None
    if question_id not in BY_ID:
        raise ValueError(f"question_id {question_id!r} is not a question; known: {', '.join(sorted(BY_ID))}")
    question = BY_ID[question_id]
    head = f"{question.id} {question.name}"
    if answer is _MISSING:
        answer = sys._getframe(1).f_globals.get(question.name, _MISSING)
        if answer is _MISSING:
            print(f"✗ {head}: `{question.name}` is not defined yet (run the cell where you write it)")
            return None
    for number, item in enumerate(question.checks, start=1):
        label = check_label(number, item)
        call = call_text(question.name, item.args)
        expected = item.expected_value()
        if item.args is not None and not callable(answer):
            print(f"✗ {head}: `{question.name}` should be a function")
            return None
        try:
            plain = call_answer(question.name, item.args, answer, question.forbids, as_tensor=item.torch)
        except NotAllowed as error:
            print(f"✗ {head}: {not_allowed(error.name, question.why_forbidden)}")
            return None
        except NotImplementedError:
            print(f"✗ {head}: not answered yet (the cell still raises NotImplementedError)")
            return None
        except Exception as error:  # the student's code failing is feedback, not a crash
            print(f"✗ {head}, {label}: {call} raised {type(error).__name__}: {error}")
            return None
        problem = verdict(question, item, plain, expected)
        if problem:
            print(f"✗ {head}, {label}: {call}: {problem}")
            return None
    count = len(question.checks)
    if question.kind == "explain":  # which letters are right is for the grader to say
        print(f"✓ {head}: a choice the grader can read ({question.points} points if it is the right one)")
    else:
        print(
            f"✓ {head}: {count} public check{'s pass' if count > 1 else ' passes'} "
            f"({question.points} points if the hidden checks pass too)"
        )
    if question.justification:
        reason = sys._getframe(1).f_globals.get(question.justification)
        if type(reason) is not str or not reason.strip():
            print(f"  Now write why in `{question.justification}` (a string): your instructor reads it.")
    return None
