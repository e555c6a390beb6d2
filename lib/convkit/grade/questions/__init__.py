"""The graded questions of the exercise notebooks, with their public checks: one module per notebook.

This package ships with ``convkit`` so that ``check("02.q1")`` works in any student's
notebook: it holds the question ids, kinds, names, points, the calls each question
forbids, its public checks and the misconceptions it recognises. The hidden checks,
which only the grader runs, live outside the package in ``tests/grading/questions_NN.py``.
An *explain* question's public check only looks at the form of the answer (letters
among the choices): which letters are right is in the hidden checks, so a student
cannot try the letters one by one with ``check``, and this package does not hold them.

- ``nb01`` … ``nb07``: each notebook's questions (``QUESTIONS``), and the fixtures and
  wrong results only they use, beside ``tests/grading/questions_01.py`` … ``_07.py``;
- :mod:`~convkit.grade.questions.truths`: the independent truths, and the wrong results
  and fixtures more than one notebook (or a hidden check) uses;
- :mod:`~convkit.grade.questions.build`: the question builders, the forbidden calls
  and why, and the recurring misconceptions.

>>> [q.id for q in QUESTIONS][:3], BY_ID["02.q1"].name, len(QUESTIONS)
(['01.q1', '01.q2', '01.q3'], 'conv1d_by_hand', 35)
"""

from __future__ import annotations

from convkit.grade.model import Question
from convkit.grade.questions import nb01, nb02, nb03, nb04, nb05, nb06, nb07

__all__ = ["QUESTIONS", "BY_ID"]

#: Every question, in course order: notebook by notebook, then as numbered in the notebook.
QUESTIONS: tuple[Question, ...] = (
    nb01.QUESTIONS
    + nb02.QUESTIONS
    + nb03.QUESTIONS
    + nb04.QUESTIONS
    + nb05.QUESTIONS
    + nb06.QUESTIONS
    + nb07.QUESTIONS
)

BY_ID: dict[str, Question] = {q.id: q for q in QUESTIONS}
