"""Hidden checks of exercises 03 (multichannel 2d); truths from torch's F.conv2d and receptive fields by hand."""
from __future__ import annotations

import numpy as np

from convkit.grade.public import _grey, conv2d_truth
from convkit.grade.model import Check

_rng = np.random.default_rng(303)
_x = _rng.standard_normal((4, 5, 7))

HIDDEN = {
    "03.q1": [Check((_x, _rng.standard_normal((3, 4, 2, 2))), lambda x, w: conv2d_truth(x[None], w)[0],
                    note="C=4, D=3"),
              Check((_x, _rng.standard_normal((1, 4, 5, 7))), lambda x, w: conv2d_truth(x[None], w)[0],
                    note="kernel as large as the image")],
    "03.q2": [Check((_x, _rng.standard_normal((4, 3, 3)), 0, 0),
                    lambda x, u, i, j: float(conv2d_truth(x[None], u[None])[0, 0, i, j]), note="top-left corner"),
              Check((_x, _rng.standard_normal((4, 2, 3)), 3, 4),
                    lambda x, u, i, j: float(conv2d_truth(x[None], u[None])[0, 0, i, j]), note="bottom-right corner")],
    "03.q3": [Check(None, None, _grey, note="applied to a random RGB image with F.conv2d")],
    "03.q4": [Check((1, 5), 5, "exact"), Check((4, 3), 9, "exact"), Check((2, 7), 13, "exact")],
}
