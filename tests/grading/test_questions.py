"""Every question of every exercise notebook, graded on solutions/ (or on ``--notebooks DIR``).

With the default folder each test asserts full marks; pointed at a student's folder the
failures are that student's missing points, with the failing check's message.
"""

from __future__ import annotations

import pytest

from convkit.grade.questions import QUESTIONS


@pytest.mark.parametrize("qid", [q.id for q in QUESTIONS])
def test_question_scores_full_marks(graded, qid):
    outcome = graded[qid]
    assert outcome.points == outcome.max, outcome.message
