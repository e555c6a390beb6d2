"""Exercises and their grading.

- :func:`check` (in :mod:`convkit.grade.check`): the one-line call after each question
  of an exercise notebook; runs the public checks and prints ✓ or ✗.
- :mod:`convkit.grade.public`: the questions (id, name to define, points) and their
  public checks. Hidden checks live in the repository's ``tests/grading/``.
- :mod:`convkit.grade.runner`: the grader (``python -m convkit.grade SUBMISSIONS``),
  which runs student notebooks in :mod:`convkit.grade.sandbox` and writes the CSV and
  the feedback files.
- :mod:`convkit.grade.generate`: ``make exercises`` (solutions/ → exercises/).
"""
from __future__ import annotations

from convkit.grade.check import check

__all__ = ["check"]
