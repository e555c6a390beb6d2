"""Hidden checks of exercises 05 (padding, stride, dilation); truths from torch (shapes, autograd) and by hand."""

from __future__ import annotations

import numpy as np

from convkit.grade.model import Check
from convkit.grade.questions.truths import dilated_truth, field_truth, output_size_truth, unread_truth

HIDDEN = {
    "05.q1": [
        Check((7, 3, 3, 1, 1), output_size_truth, "exact", note="the stride does not fit exactly"),
        Check((3, 3, 2, 2, 1), output_size_truth, "exact", note="the lecture's height 3, padding 2"),
        Check((10, 4, 3, 2, 3), output_size_truth, "exact", note="all four knobs"),
        Check((4, 4, 1, 0, 1), 1, "exact", note="kernel as large as the input, by hand"),
    ],
    "05.q2": [
        Check((np.array([1.0, -1.0]), 1), [1.0, -1.0], note="dilation 1, by hand"),
        Check((np.array([7.0]), 5), [7.0], note="a single tap"),
        Check((np.array([1.0, 2, 3, 4]), 4), dilated_truth, note="u of 4, dilation 4"),
    ],
    "05.q3": [
        Check((20, 3, 3, 0, 1), unread_truth, "exact", note="the last one left out"),
        Check((9, 2, 1, 0, 4), unread_truth, "exact", note="dilation 4"),
        Check((12, 2, 5, 2, 2), unread_truth, "exact", note="padding 2, stride 5, dilation 2"),
    ],
    "05.q4": [
        Check(([(3, 1, 1), (3, 1, 2), (3, 1, 4), (3, 1, 8)],), 31, "exact", note="dilations 1, 2, 4, 8"),
        Check(([(2, 2, 1)] * 3,), 8, "exact", note="three layers of 2 taps and stride 2"),
        Check(([(5, 1, 1)],), 5, "exact", note="one layer"),
        Check(([(3, 2, 1), (3, 2, 1), (3, 1, 1)],), field_truth, "exact", note="two strides 2, then 3 taps"),
    ],
    "05.q5": [Check(None, "B", "choice", note="your choice")],
}
