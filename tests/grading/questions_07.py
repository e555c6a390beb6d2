"""Hidden checks of exercises 07 (gradients are convolutions); truths from torch autograd."""
from __future__ import annotations

import numpy as np

from convkit.grade.public import grad_truth
from convkit.grade.model import Check

_rng = np.random.default_rng(707)

HIDDEN = {
    "07.q1": [Check((_rng.standard_normal(6), _rng.standard_normal(6)), grad_truth("kernel"), note="1-tap kernel"),
              Check((_rng.standard_normal(9), _rng.standard_normal(2)), grad_truth("kernel"))],
    "07.q2": [Check((_rng.standard_normal(1), _rng.standard_normal(4)), grad_truth("input"), note="a single output"),
              Check((_rng.standard_normal(8), _rng.standard_normal(5)), grad_truth("input"))],
    "07.q3": [Check(None, [3.0, 5.0, 5.0, 2.0], note="by hand: (3, 3 + 2, 3 + 2, 2)")],
    "07.q4": [Check((_rng.standard_normal((4, 4)), _rng.standard_normal((1, 1))), grad_truth("kernel"),
                    note="g of one value"),
              Check((_rng.standard_normal((6, 3)), _rng.standard_normal((2, 3))), grad_truth("kernel"))],
}
