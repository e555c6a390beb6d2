"""Notebook 05, padding, stride, dilation: its questions and their public checks.

The students answer them in ``exercises/05_padding_stride_dilation.ipynb``; the hidden
checks of the same questions are in the repository's ``tests/grading/questions_05.py``; the
truths both use are in :mod:`convkit.grade.questions.truths`.
"""

from __future__ import annotations

import math

import numpy as np

from convkit.grade.model import Check, Misconception, Question
from convkit.grade.questions.build import FROM_SCRATCH, WHY_CONV, WHY_SHAPES, choice, question
from convkit.grade.questions.truths import (
    dilated_truth,
    field_truth,
    output_size_truth,
    unread_truth,
    unread_windows,
)

__all__ = ["QUESTIONS"]


def _lists_a_padding_cell(got, size) -> bool:
    """Whether an ``unread`` result names a cell outside the input (a padding cell, index < 0 or >= size)."""
    return type(got) is list and any(type(i) is int and not 0 <= i < size for i in got)


def _unread_padded(n, k, s, p, d):
    """The padded-coordinate mistake: windows' positions not shifted back by the padding."""
    read = {o * s + j * d for o in range(output_size_truth(n, k, s, p, d)) for j in range(k)}
    return [i for i in range(n) if i not in read]


def _field_own_stride(layers):
    """The mistake of multiplying in a layer's own stride before adding its window."""
    field, jump = 1, 1
    for k, s, d in layers:
        jump *= s
        field += d * (k - 1) * jump
    return field


QUESTIONS: tuple[Question, ...] = (
    question(
        "05.q1",
        "output_size",
        3,
        "implement",
        [
            Check(
                (5, 3, 2, 1, 1),
                output_size_truth,
                "exact",
                note="the lecture's width: 5 cells, padding 1, stride 2",
            ),
            Check((20, 3, 4, 0, 1), output_size_truth, "exact", note="stride 4 does not fit exactly"),
            Check((28, 5, 1, 4, 2), output_size_truth, "exact", note="dilation 2, padding 4"),
        ],
        forbids=FROM_SCRATCH,
        why=WHY_SHAPES,
        misconceptions=[
            Misconception(
                "you rounded up: a last window that would stick out past the padded input is not "
                "a position, so the division rounds down (floor, not ceil)",
                lambda n, k, s, p, d: math.ceil((n + 2 * p - d * (k - 1) - 1) / s) + 1,
            ),
            Misconception(
                "one position short: count the first window position too (the + 1)",
                lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s,
            ),
            Misconception(
                "the padding goes on both sides of the input, not on one side only",
                lambda n, k, s, p, d: (n + p - d * (k - 1) - 1) // s + 1,
            ),
            Misconception(
                "a dilated kernel spans more cells than it has taps",
                lambda n, k, s, p, d: (n + 2 * p - k) // s + 1,
            ),
            Misconception(
                "a dilated kernel has no gap after its last tap",
                lambda n, k, s, p, d: (n + 2 * p - d * k) // s + 1,
            ),
        ],
        section="2. How big is the output?",
    ),
    question(
        "05.q2",
        "dilate_kernel",
        2,
        "implement",
        [
            Check((np.array([1.0, 2, 3]), 2), dilated_truth, note="u = (1, 2, 3), dilation 2"),
            Check((np.array([4.0, 5]), 3), dilated_truth, note="u = (4, 5), dilation 3"),
        ],
        forbids=FROM_SCRATCH,
        why=WHY_CONV,
        misconceptions=[
            Misconception(
                "no zeros come after the last tap: the kernel ends with it",
                lambda u, d: np.pad(dilated_truth(u, d), (0, d - 1)),
            ),
            Misconception(
                "dilation 1 is the ordinary kernel: count the zeros between neighbouring taps again",
                lambda u, d: dilated_truth(u, d + 1),
            ),
        ],
        section="6. Dilation",
    ),
    question(
        "05.q3",
        "unread",
        3,
        "implement",
        [
            Check((20, 3, 4, 0, 1), unread_truth, "exact", note="stride 4 skips inputs"),
            Check((10, 3, 1, 1, 1), unread_truth, "exact", note="stride 1 reads everything"),
            Check((11, 3, 2, 1, 3), unread_truth, "exact", note="padding, stride and dilation together"),
            Check((10, 2, 3, 1, 1), unread_truth, "exact", note="padding 1, stride 3"),
        ],
        forbids=FROM_SCRATCH,
        why=WHY_SHAPES,
        misconceptions=[
            Misconception(
                "padding cells are not inputs: only the indices 0 to size - 1 can be unread",
                test=lambda got, expected, args: _lists_a_padding_cell(got, args[0]),
            ),
            Misconception(
                "those are positions in the padded input: input index 0 sits `padding` cells in",
                lambda n, k, s, p, d: _unread_padded(n, k, s, p, d),
            ),
            Misconception(
                "a dilated window reads its taps `dilation` cells apart",
                lambda n, k, s, p, d: unread_truth(n, k, s, p, 1),
            ),
            Misconception(
                "one window too many: a window that sticks out past the padded input is not computed",
                lambda n, k, s, p, d: unread_windows(n, k, s, p, d, output_size_truth(n, k, s, p, d) + 1),
            ),
        ],
        uses=["05.q1"],
        section="5. Inputs that nobody reads",
    ),
    question(
        "05.q4",
        "stack_field",
        2,
        "implement",
        [
            Check(([(3, 1, 1), (3, 1, 1)],), field_truth, "exact", note="two layers of 3 taps"),
            Check(([(3, 2, 1), (3, 1, 2)],), field_truth, "exact", note="a stride 2, then a dilation 2"),
        ],
        forbids=FROM_SCRATCH,
        why=WHY_SHAPES,
        misconceptions=[
            Misconception(
                "the strides of the layers below spread each later window out: they count too",
                lambda layers: 1 + sum(d * (k - 1) for k, s, d in layers),
            ),
            Misconception(
                "a layer's own stride does not widen its own window, only the windows of the layers above",
                lambda layers: _field_own_stride(layers),
            ),
        ],
        section="6. Dilation",
    ),
    choice(
        "05.q5",
        "stride_choice",
        2,
        "ABCD",
        "stride_why",
        [
            (
                "A",
                "with stride 2 the windows sit at every other position: where do they fall after a "
                "shift by one?",
            ),
            ("C", "stride does not make a layer invariant: try it on a signal with one spike"),
            ("D", "the windows move by the stride, but the input moved by one"),
        ],
        section="1. Three more knobs",
    ),
)
