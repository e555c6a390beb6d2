"""Notebook 02, the 1d convolution: its questions and their public checks.

The students answer them in ``exercises/02_convolution_1d.ipynb``; the hidden checks of the
same questions are in the repository's ``tests/grading/questions_02.py``; the truths both
use are in :mod:`convkit.grade.questions.truths`.
"""

from __future__ import annotations

from convkit.grade.model import Check, Misconception, Question
from convkit.grade.questions.build import (
    FLIP,
    LECTURE_KERNEL,
    LECTURE_SIGNAL,
    PLANTED,
    WHY_CONV,
    WINDOWS,
    choice,
    question,
    rng,
)
from convkit.grade.questions.truths import conv1d_truth, conv_truth, flipped

__all__ = ["QUESTIONS"]

#: The section of the course notebook on the flipped kernel, where every FLIP is set right.
NOT_FLIPPED = "3. Not the convolution of signal processing"


QUESTIONS: tuple[Question, ...] = (
    question(
        "02.q1",
        "conv1d_by_hand",
        3,
        "implement",
        [
            Check((LECTURE_SIGNAL, LECTURE_KERNEL), conv1d_truth, note="the lecture's example"),
            Check(
                (rng(1).standard_normal(9), rng(2).standard_normal(4)),
                conv1d_truth,
                note="random signal of 9, kernel of 4",
            ),
        ],
        forbids=WINDOWS,
        why=WHY_CONV,
        misconceptions=[
            Misconception(FLIP, lambda x, u: conv1d_truth(x, flipped(u)), section=NOT_FLIPPED),
            Misconception(
                "the last position is missing: the window also fits with its last tap on the last sample",
                lambda x, u: conv1d_truth(x, u)[:-1],
            ),
            Misconception(
                "that is the full convolution, which slides the kernel partly off the signal; "
                "here every window lies inside it",
                lambda x, u: conv_truth(x, u, padding=len(u) - 1),
            ),
        ],
        section="1. Definition",
    ),
    question(
        "02.q2",
        "predicted_y",
        2,
        "predict",
        [
            Check(
                None,
                lambda: conv1d_truth([2.0, 0, -1, 3, 1], [1.0, -2]),
                "close",
                note="(2, 0, −1, 3, 1) ⊛ (1, −2), by hand",
            )
        ],
        misconceptions=[
            Misconception(FLIP, lambda: conv1d_truth([2.0, 0, -1, 3, 1], [-2.0, 1]), section=NOT_FLIPPED),
            Misconception(
                "that is the full convolution, which slides the kernel partly off the signal; "
                "here every window lies inside it",
                lambda: conv_truth([2.0, 0, -1, 3, 1], [1.0, -2], padding=1),
            ),
        ],
        section="2. The worked example, by hand",
    ),
    question(
        "02.q3",
        "difference_kernel",
        2,
        "predict",
        [Check(None, [-1.0, 0.0, 1.0], "close", note="a kernel u with (x ⊛ u)_i = x_{i+2} − x_i")],
        misconceptions=[
            Misconception(FLIP + "; it computes x_i − x_{i+2}", [1.0, 0.0, -1.0], section=NOT_FLIPPED),
            Misconception(
                "that kernel reads neighbours one apart; x_i and x_{i+2} are two apart", [-1.0, 1.0]
            ),
        ],
        section="4. A kernel that differentiates",
    ),
    choice(
        "02.q4",
        "shift_choice",
        2,
        "ABCD",
        "shift_why",
        [
            ("A", "that would be invariance: the same output whatever the shift"),
            ("C", "look at the first outputs of z ⊛ u: what do their windows contain?"),
            ("D", "the output moves with the input, not against it"),
        ],
        section="6. Equivariance to translation",
    ),
    question(
        "02.q5",
        "conv1d_fixed",
        2,
        "debug",
        [
            Check((LECTURE_SIGNAL, LECTURE_KERNEL), conv1d_truth, note="the lecture's example"),
            Check(
                (rng(21).standard_normal(7), rng(22).standard_normal(3)),
                conv1d_truth,
                note="random signal of 7, kernel of 3",
            ),
        ],
        forbids=WINDOWS,
        why=WHY_CONV,
        misconceptions=[
            Misconception(PLANTED, lambda x, u: conv1d_truth(x, u)[:-1]),
            Misconception(FLIP, lambda x, u: conv1d_truth(x, flipped(u)), section=NOT_FLIPPED),
        ],
        section="1. Definition",
    ),
)
