"""Hidden checks of exercises 01 (why convolutions); truths from convkit.shapes, torch and hand counts."""
from __future__ import annotations

import torch.nn as nn

from convkit.grade.public import largest_side_truth
from convkit.grade.model import Check


def _torch_params(c, d, h, w):
    return sum(p.numel() for p in nn.Conv2d(c, d, (h, w)).parameters())


HIDDEN = {
    "01.q1": [Check((28, 28, 1), 784 ** 2, "exact", note="an MNIST digit"),
              Check((1, 1, 5), 25, "exact", note="one pixel with 5 channels")],
    "01.q2": [Check((8, 8, 3, "float64"), 192 ** 2 * 8, "exact"),
              Check((32, 32, 3, "float32"), 3072 ** 2 * 4, "exact", note="a CIFAR image")],
    "01.q3": [Check((1, 1, 1, 1), 2, "exact", note="one weight and one bias"),
              Check((4, 5, 2, 3), _torch_params, "exact", note="rectangular kernel, counted by nn.Conv2d")],
    "01.q4": [Check((4 * 16, 1), 2, "exact", note="exactly at the budget: (2·2)² · 4 bytes = 64"),
              Check((63, 1), 1, "exact", note="one byte short of a 2×2 image"),
              Check((10**12, 3), largest_side_truth, "exact")],
    "01.q5": [Check(None, 154.618822656, "close", note="(256·256·3)² · 4 / 1e9, by hand")],
}
