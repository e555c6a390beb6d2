"""Exercises and their grading.

- :func:`check` (in :mod:`convkit.grade.check`): the one-line call after each question
  of an exercise notebook; runs the public checks and shows ✓, ✗ or ○
  (:mod:`convkit.grade.mark`), and refuses to check an answer whose cell failed the
  last time it ran (:mod:`convkit.grade.history`, which starts watching the kernel's
  cells when this package is imported).
- :mod:`convkit.grade.questions`: the questions (id, name to define, points) and their
  public checks, one module per notebook, with the truths they and the hidden checks
  share. Hidden checks live in the repository's ``tests/grading/questions_NN.py``.
- :mod:`convkit.grade.call`: one call of an answer on one check, returning plain data,
  and the messages about it; used by :func:`check` and by the sandboxed job alike.
- :mod:`convkit.grade.model`: notebooks, questions, checks, outcomes and :func:`verdict`,
  which turns one result into the student's message (:func:`diagnosis` also gives the
  ids of the misconceptions it names); :mod:`convkit.grade.codec`: the
  plain data that crosses from student code to the grader (the trust boundary).
- :mod:`convkit.grade.cli` and :mod:`convkit.grade.classgrader`: the grader
  (``python -I -m convkit.grade SUBMISSIONS``); :mod:`convkit.grade.forbid`: forbidden calls
  noticed by identity; :mod:`convkit.grade.report`: the CSV and the grader's record of it,
  feedback, Gradescope results, resume state, merges checked against the records;
  :mod:`convkit.grade.classreport`: the class report, misconceptions included.
- The sandbox, one module per process its code runs in: :mod:`convkit.grade.sandbox` in the
  grader (start a notebook, its cgroups, what the machine supports);
  :mod:`convkit.grade.forkserver`, the warm process that imports torch once and forks one
  jail per notebook; :mod:`convkit.grade.jail` in that child (namespaces, a read-only root,
  privileges dropped, rlimits, then the notebook's cells and checks); and
  :mod:`convkit.grade.wire`, the frames, bounds and event names both sides share.
- :mod:`convkit.grade.generate`: ``make exercises`` (solutions/ → exercises/).
"""

from __future__ import annotations

from convkit.grade.check import check
from convkit.grade.history import watch

watch()  # in IPython: record from now on whether each cell runs without error (nothing elsewhere)

__all__ = ["check"]
