"""Hidden checks of exercises 02 (the 1d convolution); truths from torch and np.convolve."""
from __future__ import annotations

import numpy as np

from convkit.grade.public import conv1d_truth
from convkit.grade.model import Check

_rng = np.random.default_rng(202)


def _noisy(seed: int, where: int):
    rng = np.random.default_rng(seed)
    pattern = rng.standard_normal(7)
    signal = rng.standard_normal(60) * 0.5
    signal[where:where + 7] += 3 * pattern
    return signal, pattern


HIDDEN = {
    "02.q1": [Check((_rng.standard_normal(5), _rng.standard_normal(5)), conv1d_truth, note="kernel as long as the signal"),
              Check((_rng.standard_normal(12), _rng.standard_normal(1)), conv1d_truth, note="a 1-tap kernel"),
              Check((np.arange(6.0), np.array([-1.0, 1.0])), [1.0] * 5, note="differences of a ramp")],
    "02.q2": [Check((_rng.standard_normal(10), _rng.standard_normal(3)),
                    lambda x, u: np.convolve(x, u, "valid"), note="against np.convolve")],
    "02.q3": [Check(None, [1.0, -2.0, 1.0], "close")],
    "02.q4": [Check(_noisy(1, 5), 5, "exact", note="pattern near the start"),
              Check(_noisy(2, 50), 50, "exact", note="pattern at the very end")],
}
