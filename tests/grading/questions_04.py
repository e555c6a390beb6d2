"""Hidden checks of exercises 04 (conv2d in PyTorch); truths from torch in float64 and the output-size formula."""
from __future__ import annotations

import numpy as np

from convkit.grade.public import conv2d_truth
from convkit.grade.model import Check

_rng = np.random.default_rng(404)
_x = _rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
_w = _rng.standard_normal((3, 2, 5, 1)).astype(np.float32)
_b = _rng.standard_normal(3).astype(np.float32)

HIDDEN = {
    "04.q1": [Check((_x, _w, _b), conv2d_truth, torch=True, note="N=1, kernel 5×1")],
    "04.q2": [Check(((2, 3, 32, 32), (8, 3, 5, 5)), [2, 8, 28, 28], "exact"),
              Check(((1, 1, 7, 4), (1, 1, 7, 4)), [1, 1, 1, 1], "exact", note="kernel as large as the input")],
    "04.q3": [Check((np.zeros((1, 3, 9, 9), np.float32),), (1, 16, 5, 5), "shape", torch=True,
                    note="layer(torch.zeros(1, 3, 9, 9)).shape"),
              Check((np.zeros((2, 3, 5, 6), np.float32),), (2, 16, 1, 2), "shape", torch=True)],
    "04.q4": [Check((_x, _w, _b), conv2d_truth, torch=True, note="N=1, kernel 5×1")],
}
