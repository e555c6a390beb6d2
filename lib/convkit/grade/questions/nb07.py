"""Notebook 07, gradients are convolutions: its questions and their public checks.

The students answer them in ``exercises/07_gradients_are_convolutions.ipynb``; the hidden
checks of the same questions are in the repository's ``tests/grading/questions_07.py``; the
truths both use are in :mod:`convkit.grade.questions.truths`.
"""

from __future__ import annotations

import numpy as np

from convkit.grade.model import Check, Misconception, Question
from convkit.grade.questions.build import (
    LECTURE_KERNEL,
    LECTURE_SIGNAL,
    PLANTED,
    WHY_CONV,
    WINDOWS,
    question,
    rng,
)
from convkit.grade.questions.truths import (
    conv1d_truth,
    conv_truth,
    flipped,
    grad_truth,
    unread_truth,
    unread_windows,
)

__all__ = ["QUESTIONS"]


def _full_correlation(g, u):
    """g padded with len(u) - 1 zeros on both sides, correlated with u (not flipped): the no-flip mistake."""
    u = np.asarray(u, dtype=np.float64)
    pad = [(k - 1, k - 1) for k in u.shape]
    return conv_truth(np.pad(np.asarray(g, dtype=np.float64), pad), u)


QUESTIONS: tuple[Question, ...] = (
    question(
        "07.q1",
        "grad_kernel_1d",
        3,
        "implement",
        [
            Check(
                (LECTURE_SIGNAL, np.array([1.0, -1, 2])),
                grad_truth("kernel"),
                note="x = (1, 2, 3, 4), g = (1, −1, 2)",
            ),
            Check(
                (rng(10).standard_normal(7), rng(11).standard_normal(5)),
                grad_truth("kernel"),
                note="random x of 7, g of 5",
            ),
        ],
        forbids=WINDOWS,
        why=WHY_CONV,
        misconceptions=[
            Misconception(
                "the output gradient was visited backwards: ∂L/∂u_j pairs g_i with x_{i+j}, "
                "in the same direction",
                lambda x, g: conv1d_truth(x, flipped(g)),
            ),
            Misconception(
                "that is the bias gradient (the sum of g); the kernel's gradient has one value per tap",
                lambda x, g: float(np.sum(g)),
            ),
        ],
        section="1. One dimension, by hand",
    ),
    question(
        "07.q2",
        "grad_input_1d",
        3,
        "implement",
        [
            Check(
                (np.array([1.0, -1, 2]), LECTURE_KERNEL),
                grad_truth("input"),
                note="g = (1, −1, 2), u = (3, 2)",
            ),
            Check(
                (rng(12).standard_normal(6), rng(13).standard_normal(3)),
                grad_truth("input"),
                note="random g of 6, u of 3",
            ),
        ],
        forbids=WINDOWS,
        why=WHY_CONV,
        misconceptions=[
            Misconception(
                "no flip in the input gradient: input x_m meets u_j through output g_{m−j}, so the "
                "kernel is visited backwards",
                _full_correlation,
            ),
            Misconception(
                "g was padded on one side only: an input near either end is read by fewer windows",
                lambda g, u: conv1d_truth(np.pad(g, (len(u) - 1, 0)), flipped(u)),
            ),
            Misconception(
                "g was padded on one side only: an input near either end is read by fewer windows",
                lambda g, u: conv1d_truth(np.pad(g, (0, len(u) - 1)), flipped(u)),
            ),
            Misconception(
                "there is one gradient per input, and the input is longer than g: pad g before sliding",
                lambda g, u: conv1d_truth(g, flipped(u)),
            ),
        ],
        section="1. One dimension, by hand",
    ),
    question(
        "07.q3",
        "grad_example",
        2,
        "predict",
        [
            Check(
                None,
                lambda: grad_truth("input")(np.array([2.0, 0, -1]), LECTURE_KERNEL),
                "close",
                note="∂L/∂x for x = (1, 2, 3, 4), u = (3, 2), L = 2·y₀ − y₂",
            )
        ],
        misconceptions=[
            Misconception(
                "no flip in the input gradient: the kernel is visited backwards",
                lambda: _full_correlation(np.array([2.0, 0, -1]), LECTURE_KERNEL),
            ),
            Misconception(
                "that is ∂L/∂u; the question asks for ∂L/∂x",
                lambda: grad_truth("kernel")(LECTURE_SIGNAL, np.array([2.0, 0, -1])),
            ),
        ],
        section="1. One dimension, by hand",
    ),
    question(
        "07.q4",
        "zero_grad_inputs",
        2,
        "predict",
        [
            Check(
                None,
                lambda: unread_truth(10, 2, 3, 0, 1),
                "set",
                note="inputs with zero gradient: length 10, kernel 2, stride 3",
            )
        ],
        misconceptions=[
            Misconception(
                "one window too many: a window that would stick out past the end is not computed",
                lambda: unread_windows(10, 2, 3, 0, 1, 4),
                compare="set",
            ),
            Misconception(
                "one window too few: the first window position counts too",
                lambda: unread_windows(10, 2, 3, 0, 1, 2),
                compare="set",
            ),
        ],
        section="2. Stride spreads the gradient out",
    ),
    question(
        "07.q5",
        "grad_input_2d",
        2,
        "debug",
        [
            Check(
                (rng(71).standard_normal((3, 4)), rng(72).standard_normal((2, 3))),
                grad_truth("input"),
                note="random g of 3×4, u of 2×3",
            )
        ],
        forbids=WINDOWS,
        why=WHY_CONV,
        misconceptions=[
            Misconception(PLANTED, lambda g, u: _full_correlation(g, np.asarray(u)[::-1])),
            Misconception(
                "no flip in the input gradient: the kernel is visited backwards", _full_correlation
            ),
        ],
        section="3. Two dimensions, channels, and PyTorch",
    ),
)
