"""Hidden checks of exercises 06 (the filter gallery); truths from torch, NumPy's corrcoef and planted locations."""

from __future__ import annotations

import numpy as np

from convkit.grade.model import Check
from convkit.grade.questions.truths import distracted, ncc_truth, noise_truth, planted

_rng = np.random.default_rng(606)

HIDDEN = {
    "06.q1": [Check(None, [[12.0, 24.0, 36.0]] * 3, note="against a hand computation")],  # 3·((j + 2)² − j²)
    "06.q2": [
        Check((np.ones((1, 1)), 3.0), 3.0, note="the identity keeps the noise, by hand"),
        Check((np.ones((5, 5)) / 25, 1.0), 0.2, note="the 5×5 mean, by hand"),
        Check((_rng.standard_normal((2, 3)), 0.5), noise_truth, note="a random kernel"),
    ],
    "06.q3": [Check(None, "A, B", "choice", note="your choice")],
    "06.q4": [
        Check(
            planted(60, shape=(15, 11), where=(0, 7), size=(5, 4)),
            [0, 7],
            "exact",
            note="the template at the right border",
        ),
        Check(
            distracted(61, shape=(16, 16), where=(12, 0), size=(4, 3), loud=(2, 8)),
            [12, 0],
            "exact",
            note="the template in the bottom-left corner, a brighter patch elsewhere",
        ),
    ],
    "06.q5": [
        Check((_rng.random((4, 4)), _rng.random((4, 4))), ncc_truth, note="two random patches"),
        Check(
            (-2 * np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(2, 3)),
            -1.0,
            note="a negated, scaled copy",
        ),
    ],  # −1 by hand
}
