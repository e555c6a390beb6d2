"""Notebook 03, multichannel 2d, and 3d: its questions and their public checks.

The students answer them in ``exercises/03_multichannel_2d.ipynb``; the hidden checks of the
same questions are in the repository's ``tests/grading/questions_03.py``; the truths both
use are in :mod:`convkit.grade.questions.truths`.
"""

from __future__ import annotations

import numpy as np

from convkit.grade.model import Check, Misconception, Question
from convkit.grade.questions.build import FLIP, WHY_CONV, WINDOWS, choice, question, rng
from convkit.grade.questions.truths import conv2d_truth, conv_truth, field_truth, flipped

__all__ = ["QUESTIONS"]


def _one_channel(x, weight):
    """Each kernel applied to input channel 0 only: the misconception of summing over one channel."""
    x, weight = np.asarray(x, dtype=np.float64), np.asarray(weight, dtype=np.float64)
    return conv2d_truth(x[None, :1], weight[:, :1])[0]


def _changed_truth(image_shape, kernel_shape, pixel):
    """Output positions whose gradient with respect to ``pixel`` is non-zero (autograd)."""
    import torch
    import torch.nn.functional as F

    x = torch.zeros((1, 1) + tuple(image_shape), dtype=torch.float64, requires_grad=True)
    y = F.conv2d(x, torch.ones((1, 1) + tuple(kernel_shape), dtype=torch.float64))
    changed = []
    for i in range(y.shape[2]):
        for j in range(y.shape[3]):
            (grad,) = torch.autograd.grad(y[0, 0, i, j], x, retain_graph=True)
            if grad[0, 0][pixel] != 0:
                changed.append([i, j])
    return changed


_img3 = rng(3).standard_normal((3, 6, 5))
_bank = rng(4).standard_normal((2, 3, 3, 2))
_video = rng(5).standard_normal((5, 6, 7))
_motion = rng(6).standard_normal((2, 3, 2))


QUESTIONS: tuple[Question, ...] = (
    question(
        "03.q1",
        "conv2d_channels",
        4,
        "implement",
        [
            Check(
                (_img3, _bank),
                lambda x, w: conv2d_truth(x[None], w)[0],
                note="C=3, H×W=6×5, D=2 kernels of 3×2",
            )
        ],
        forbids=WINDOWS,
        why=WHY_CONV,
        misconceptions=[
            Misconception(
                "you summed over one channel only: each kernel covers all C input channels, "
                "and their products add up into one value",
                _one_channel,
            ),
            Misconception(FLIP, lambda x, w: conv2d_truth(x[None], w[:, :, ::-1, ::-1])[0]),
        ],
        section="1. A 2d signal with channels",
    ),
    question(
        "03.q2",
        "changed_outputs",
        2,
        "predict",
        [
            Check(
                None,
                lambda: _changed_truth((8, 9), (2, 4), (5, 1)),
                "set",
                note="pixel (5, 1) of a 2×8×9 input, one kernel of 2×2×4",
            )
        ],
        misconceptions=[
            Misconception(
                "you looked forward from the pixel: the windows that contain it start at or before it",
                [[i, j] for i in (5, 6) for j in range(1, 5)],
                compare="set",
            ),
            Misconception(
                "some of those output positions do not exist: output indices start at 0",
                [[i, j] for i in (4, 5) for j in range(-2, 2)],
                compare="set",
            ),
        ],
        section="3. Two properties that suit images",
    ),
    choice(
        "03.q3",
        "video_choice",
        2,
        "ABCD",
        "video_why",
        [
            (
                "A",
                "a kernel spanning all T frames fits at one time only: the same motion at another "
                "time would need other weights",
            ),
            ("C", "one frame at a time cannot see motion: it happens between frames"),
            ("D", "a kernel along time only cannot see where the dot moves to"),
        ],
        section="4. When the third axis means something: 3d convolutions",
    ),
    question(
        "03.q4",
        "conv3d_single",
        3,
        "implement",
        [Check((_video, _motion), conv_truth, note="5 frames of 6×7, a kernel of 2 frames × 3×2")],
        forbids=WINDOWS,
        why=WHY_CONV,
        misconceptions=[
            Misconception(FLIP, lambda x, u: conv_truth(x, flipped(u))),
            Misconception(
                "only the first frame of the kernel was used: it spans several frames, and "
                "their products add up",
                lambda x, u: conv_truth(x, u * (np.arange(len(u)) == 0)[:, None, None]),
            ),
        ],
        section="4. When the third axis means something: 3d convolutions",
    ),
    question(
        "03.q5",
        "rows_read",
        2,
        "predict",
        [
            Check(
                None,
                lambda: list(range(2, 2 + field_truth([(3, 1, 1)] * 3))),
                "set",
                note="input rows behind output row 2 of three stacked 3×3 layers",
            )
        ],
        misconceptions=[
            Misconception(
                "that is what one layer reads: each layer's window reads several rows of the layer below",
                [2, 3, 4],
                compare="set",
            ),
            Misconception(
                "neighbouring windows overlap: the field does not grow by a whole kernel per layer",
                list(range(2, 11)),
                compare="set",
            ),
            Misconception(
                "the window of output row i starts at row i; it is not centred on it",
                list(range(-1, 6)),
                compare="set",
            ),
        ],
        section="5. Vocabulary",
    ),
)
