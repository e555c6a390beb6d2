"""Hidden checks of exercises 05 (padding, stride, dilation); truths from torch (shapes, autograd) and by hand."""
from __future__ import annotations

from convkit.grade.public import _output_size, unread_truth
from convkit.grade.model import Check

HIDDEN = {
    "05.q1": [Check((28, 5, 1, 4, 2), _output_size, "exact", note="dilation 2"),
              Check((7, 3, 3, 1, 1), _output_size, "exact", note="the stride does not fit exactly"),
              Check((3, 3, 2, 2, 1), _output_size, "exact", note="the lecture's height 3, padding 2")],
    "05.q2": [Check((3, 4), 4, "exact"), Check((7, 3), 9, "exact"), Check((1, 1), 0, "exact")],
    "05.q3": [Check((20, 3, 3, 0, 1), unread_truth, "exact", note="the last one left out"),
              Check((9, 2, 1, 0, 4), unread_truth, "exact", note="dilation 4"),
              Check((11, 3, 2, 1, 3), unread_truth, "exact", note="padding, stride and dilation together")],
    "05.q4": [Check(([(3, 1, 1), (3, 1, 2), (3, 1, 4), (3, 1, 8)],), 31, "exact", note="dilations 1, 2, 4, 8"),
              Check(([(2, 2, 1)] * 3,), 8, "exact", note="three 2×2 layers of stride 2"),
              Check(([(5, 1, 1)],), 5, "exact")],
}
