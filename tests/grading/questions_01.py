"""Hidden checks of exercises 01 (why convolutions); truths from convkit.shapes, nn.Conv2d and hand counts."""

from __future__ import annotations

from convkit.grade.model import Check
from convkit.grade.questions.truths import conv_params_truth, largest_side_truth

HIDDEN = {
    "01.q1": [
        Check((28, 28, 1), 784**2, "exact", note="an MNIST digit, counted by hand"),
        Check((1, 1, 5), 25, "exact", note="one pixel with 5 channels"),
        Check((3, 4, 2), 24**2, "exact", note="a 3×4 image with 2 channels"),
    ],
    "01.q2": [
        Check((1, 1, 1, 1), 2, "exact", note="one weight and one bias"),
        Check((4, 5, 2, 3), conv_params_truth, "exact", note="rectangular kernel, counted by nn.Conv2d"),
        Check((16, 32, 3, 3), conv_params_truth, "exact", note="16 to 32 channels"),
    ],
    "01.q3": [  # (256·256·3)² weights × 4 bytes / 10⁹, by hand
        Check(None, 154.618822656, "close", note="the lecture's dense layer, against a hand count")
    ],
    "01.q4": [Check(None, "A, B", "choice", note="your choice")],
    "01.q5": [
        Check((4 * 16, 1), 2, "exact", note="a budget that a 2×2 image fills exactly"),
        Check((63, 1), 1, "exact", note="one byte short of a 2×2 image"),
        Check((3, 1), 0, "exact", note="not even one pixel fits"),
        Check((10**12, 3), largest_side_truth, "exact", note="1 TB, RGB"),
    ],
}
