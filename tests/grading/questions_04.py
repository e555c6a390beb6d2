"""Hidden checks of exercises 04 (conv2d in PyTorch); truths from torch and hand shapes."""

from __future__ import annotations

import numpy as np

from convkit.grade.model import Check
from convkit.grade.questions.truths import conv_truth

_rng = np.random.default_rng(404)

HIDDEN = {
    "04.q1": [
        Check(None, [8, 4, 26, 24], "exact", note="against a hand count")
    ],  # rows 32 → 28 → 26, columns 32 → 28 → 24
    "04.q2": [Check(None, "A", "choice", note="your choice")],
    "04.q3": [],
    "04.q4": [Check(None, {"weight": [6, 4, 3, 2], "bias": [6]}, "exact", note="against a hand count")],
    "04.q5": [
        Check((_rng.random((5, 5)), np.ones((3, 3))), conv_truth, note="a box filter on a 5×5 image"),
        Check(
            (_rng.random((4, 6)), _rng.standard_normal((4, 1))),
            conv_truth,
            note="a kernel as tall as the image",
        ),
    ],
}
