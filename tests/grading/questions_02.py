"""Hidden checks of exercises 02 (the 1d convolution); truths from torch and hand computations."""

from __future__ import annotations

import numpy as np

from convkit.grade.model import Check
from convkit.grade.questions.truths import conv1d_truth

_rng = np.random.default_rng(202)

HIDDEN = {
    "02.q1": [
        Check(
            (_rng.standard_normal(5), _rng.standard_normal(5)),
            conv1d_truth,
            note="kernel as long as the signal",
        ),
        Check((_rng.standard_normal(12), _rng.standard_normal(1)), conv1d_truth, note="a 1-tap kernel"),
        Check((np.arange(6.0), np.array([-1.0, 1.0])), [1.0] * 5, note="differences of a ramp, by hand"),
        Check(
            (np.arange(5.0), np.array([1.0, 0.0, 0.0])),
            [0.0, 1.0, 2.0],
            note="a kernel that picks the first tap",
        ),
    ],
    "02.q2": [Check(None, [2.0, 2.0, -7.0, 1.0], note="against a hand computation")],  # x_i − 2·x_{i+1}
    "02.q3": [Check(None, [-1.0, 0.0, 1.0], note="against a hand computation")],
    "02.q4": [Check(None, "B", "choice", note="your choice")],
    "02.q5": [
        Check(
            (_rng.standard_normal(6), _rng.standard_normal(6)),
            conv1d_truth,
            note="kernel as long as the signal",
        ),
        Check(
            (np.arange(4.0), np.array([0.0, 1.0])), [1.0, 2.0, 3.0], note="a kernel that picks the second tap"
        ),
    ],
}
