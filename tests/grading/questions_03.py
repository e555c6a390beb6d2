"""Hidden checks of exercises 03 (multichannel 2d, 3d); truths from torch and hand counts."""

from __future__ import annotations

import numpy as np

from convkit.grade.model import Check
from convkit.grade.questions.truths import conv2d_truth, conv_truth

_rng = np.random.default_rng(303)
_x = _rng.standard_normal((4, 5, 7))


def _channels(x, w):
    return conv2d_truth(x[None], w)[0]


HIDDEN = {
    "03.q1": [
        Check((_x, _rng.standard_normal((3, 4, 2, 2))), _channels, note="C=4, D=3"),
        Check((_x, _rng.standard_normal((1, 4, 5, 7))), _channels, note="kernel as large as the image"),
        Check(
            (_rng.standard_normal((1, 4, 4)), _rng.standard_normal((2, 1, 1, 1))),
            _channels,
            note="one channel, 1×1 kernels",
        ),
    ],
    "03.q2": [
        Check(None, [[4, 0], [4, 1], [5, 0], [5, 1]], "set", note="against a hand count")
    ],  # rows 4–5, columns 0–1
    "03.q3": [Check(None, "B", "choice", note="your choice")],
    "03.q4": [
        Check(
            (_rng.standard_normal((4, 5, 3)), _rng.standard_normal((4, 1, 1))),
            conv_truth,
            note="a kernel as long as the video, 1×1 in space",
        ),
        Check(
            (_rng.standard_normal((6, 4, 4)), _rng.standard_normal((3, 2, 2))),
            conv_truth,
            note="6 frames of 4×4, kernel 3×2×2",
        ),
    ],
    "03.q5": [Check(None, list(range(2, 9)), "set", note="against a hand count")],  # 2 + 3·(3 − 1) = 8
}
