"""Hidden checks of exercises 07 (gradients are convolutions); truths from torch autograd and by hand."""

from __future__ import annotations

import numpy as np

from convkit.grade.model import Check
from convkit.grade.questions.truths import grad_truth

_rng = np.random.default_rng(707)

HIDDEN = {
    "07.q1": [
        Check((_rng.standard_normal(6), _rng.standard_normal(6)), grad_truth("kernel"), note="1-tap kernel"),
        Check(
            (_rng.standard_normal(9), _rng.standard_normal(2)), grad_truth("kernel"), note="x of 9, g of 2"
        ),
        Check(
            (np.array([0.0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4]), np.ones(10)),
            [18.0, 22.0],
            note="the lecture's difference example, by hand",
        ),
    ],
    "07.q2": [
        Check(
            (_rng.standard_normal(1), _rng.standard_normal(4)), grad_truth("input"), note="a single output"
        ),
        Check((_rng.standard_normal(8), _rng.standard_normal(5)), grad_truth("input"), note="g of 8, u of 5"),
        Check(
            (np.ones(10), np.array([-1.0, 1.0])),
            [-1.0] + [0.0] * 9 + [1.0],
            note="the lecture's telescoping sum, by hand",
        ),
    ],
    "07.q3": [
        Check(None, [6.0, 4.0, -3.0, -2.0], note="against a hand computation")
    ],  # (2·3, 2·2, −1·3, −1·2)
    "07.q4": [Check(None, [2, 5, 8, 9], "set", note="against a hand count")],  # windows at 0, 3, 6
    "07.q5": [
        Check(
            (_rng.standard_normal((2, 2)), _rng.standard_normal((3, 3))),
            grad_truth("input"),
            note="g of 2×2, u of 3×3",
        ),
        Check(
            (_rng.standard_normal((4, 1)), _rng.standard_normal((1, 2))),
            grad_truth("input"),
            note="a 1×2 kernel",
        ),
    ],
}
