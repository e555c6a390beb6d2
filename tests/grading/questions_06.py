"""Hidden checks of exercises 06 (designing filters); judged by behaviour, or planted locations."""
from __future__ import annotations

import numpy as np

from convkit.grade.public import _planted, conv2d_truth, edge_behaviour
from convkit.grade.model import Check


def _mirror_negative(got, expected=None):
    problem = edge_behaviour(got)
    if problem:
        return problem
    step = np.zeros((6, 6))
    step[:, :3] = 1     # bright on the left, dark on the right
    response = conv2d_truth(step[None, None], np.asarray(got, dtype=float)[None, None])[0, 0]
    return None if response.min() < -1e-6 else "the mirrored edge (bright to dark) should respond negatively"


def _bright_distractor():
    image, template = _planted(61, shape=(18, 18), where=(10, 2), size=(3, 4))
    image[1:5, 9:15] += 8 * np.abs(template).max()   # a loud patch that plain correlation prefers
    image[1:5, 9:15] += np.random.default_rng(62).standard_normal((4, 6))
    return image, template


HIDDEN = {
    "06.q1": [Check(None, None, _mirror_negative, note="the opposite edge")],
    "06.q2": [Check((1,), [[1.0]]), Check((5,), np.full((5, 5), 0.04))],
    "06.q3": [Check(None, [[0, -1, 0], [-1, 5, -1], [0, -1, 0]], "close")],
    "06.q4": [Check(_planted(60, shape=(15, 11), where=(0, 7), size=(5, 4)), [0, 7], "exact",
                    note="template at the right border"),
              Check(_bright_distractor(), [10, 2], "exact", note="a brighter but different patch elsewhere")],
}
