"""Notebook 04, conv2d in PyTorch: its questions and their public checks.

The students answer them in ``exercises/04_conv2d_in_pytorch.ipynb``; the hidden checks of
the same questions are in the repository's ``tests/grading/questions_04.py``; the truths
both use are in :mod:`convkit.grade.questions.truths`. Nothing is forbidden here: the
notebook is about PyTorch's own layers.
"""

from __future__ import annotations

import math

import numpy as np

from convkit.grade.model import Check, Misconception, Question
from convkit.grade.questions.build import FLIP, PLANTED, VERTICAL_EDGE, choice, question, rng
from convkit.grade.questions.truths import conv_truth, flipped

__all__ = ["QUESTIONS"]


def _adds_a_constant(got, expected, args) -> bool:
    got = np.asarray(got, dtype=np.float64) if type(got) is np.ndarray else None
    if got is None or got.shape != np.shape(expected):
        return False
    difference = got - np.asarray(expected, dtype=np.float64)
    return bool(abs(difference.mean()) > 1e-4 and np.allclose(difference, difference.mean(), atol=1e-4))


def _layer_spec(got, expected) -> str | None:
    """Judge ``layer`` by what it is: an nn.Conv2d with the settings and parameters asked for."""
    if type(got) is not dict or got.get("module") is None:
        return f"`layer` should be an nn.Conv2d, got {type(got).__name__}"
    if got["module"] != "Conv2d":
        return f"`layer` should be an nn.Conv2d, got an nn.{got['module']}"
    for key in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups"):
        have, want = got.get(key), expected[key]
        if (list(have) if type(have) in (list, tuple) else have) != want:
            return f"its `{key}` is not what the question asks (got {have!r})"
    if (got.get("bias") is None) != (expected["bias"] is None):
        return "its bias is not what the question asks"
    weight = got.get("weight")
    if type(weight) is not np.ndarray or list(weight.shape) != expected["weight_shape"]:
        return "its weight does not have the shape such a layer has"
    bound = 1 / math.sqrt(expected["in_channels"] * np.prod(expected["kernel_size"]))
    if not np.all(np.abs(weight) <= bound + 1e-6) or weight.std() == 0:
        return "its weights are not the random initial values nn.Conv2d draws"
    return None


def _swapped_channels(got, expected, args) -> bool:
    return (
        type(got) is dict
        and got.get("in_channels") == expected["out_channels"]
        and got.get("out_channels") == expected["in_channels"]
    )


def _has_bias(got, expected, args) -> bool:
    return type(got) is dict and expected["bias"] is None and got.get("bias") is not None


def _chain_shape():
    """The output shape of the three F.conv2d calls of question 04.q1, measured by torch."""
    import torch
    import torch.nn.functional as F

    x = torch.zeros(8, 3, 32, 32)
    for weight in ((16, 3, 5, 5), (32, 16, 3, 5), (4, 32, 1, 1)):
        x = F.conv2d(x, torch.zeros(weight))
    return list(x.shape)


def _named_shapes(in_channels, out_channels, kernel_size):
    import torch.nn as nn

    layer = nn.Conv2d(in_channels, out_channels, kernel_size)
    return {name: list(p.shape) for name, p in layer.named_parameters()}


QUESTIONS: tuple[Question, ...] = (
    question(
        "04.q1",
        "chain_shape",
        2,
        "predict",
        [Check(None, lambda: _chain_shape(), "exact", note="the shape after the three F.conv2d calls")],
        misconceptions=[
            Misconception(
                "PyTorch puts the channels right after the batch axis: (N, D, H, W)", [8, 26, 24, 4]
            ),
            Misconception(
                "one row and one column short per layer: a kernel that fits exactly still gives one output",
                [8, 4, 23, 21],
            ),
            Misconception(
                "F.conv2d pads nothing unless asked: the output is smaller than the input", [8, 4, 32, 32]
            ),
            Misconception("a kernel_size (3, 5) is (height, width): rows first", [8, 4, 24, 26]),
        ],
        section="3. The function `F.conv2d`",
    ),
    choice(
        "04.q2",
        "conv3d_axes",
        2,
        "ABCD",
        "conv3d_why",
        [
            ("B", "the kernel covers all C input channels at once: it does not slide along them"),
            ("C", "F.conv3d slides along three axes, not two"),
            ("D", "each item of the batch is convolved on its own"),
        ],
        section="3. The function `F.conv2d`",
    ),
    question(
        "04.q3",
        "layer",
        3,
        "implement",
        [
            Check(
                None,
                {
                    "in_channels": 3,
                    "out_channels": 16,
                    "kernel_size": [5, 5],
                    "stride": [1, 1],
                    "padding": [0, 0],
                    "dilation": [1, 1],
                    "groups": 1,
                    "bias": None,
                    "weight_shape": [16, 3, 5, 5],
                },
                _layer_spec,
                note="the layer's settings and parameters",
            )
        ],
        misconceptions=[
            Misconception(
                "in_channels and out_channels are swapped: the input's channels come first",
                test=_swapped_channels,
            ),
            Misconception("this layer has a bias; nn.Conv2d adds one unless told bias=False", test=_has_bias),
        ],
        section="4. The module `nn.Conv2d`",
    ),
    question(
        "04.q4",
        "parameter_shapes",
        2,
        "predict",
        [
            Check(
                None,
                lambda: _named_shapes(4, 6, (3, 2)),
                "exact",
                note="names and shapes from nn.Conv2d(4, 6, (3, 2)).named_parameters()",
            )
        ],
        misconceptions=[
            Misconception(
                "the weight is (out_channels, in_channels, kernel height, kernel width)",
                {"weight": [4, 6, 3, 2], "bias": [6]},
            ),
            Misconception("there is one bias per output channel", {"weight": [6, 4, 3, 2], "bias": [4]}),
            Misconception(
                "nn.Conv2d has a bias too unless it is created with bias=False", {"weight": [6, 4, 3, 2]}
            ),
            Misconception(
                "kernel_size (3, 2) is (height, width): rows first", {"weight": [6, 4, 2, 3], "bias": [6]}
            ),
        ],
        section="4. The module `nn.Conv2d`",
    ),
    question(
        "04.q5",
        "filter_image",
        2,
        "debug",
        [
            Check(
                (rng(41).random((6, 7)), VERTICAL_EDGE),
                lambda x, u: conv_truth(x, u),
                note="a random 6×7 image, the vertical-edge kernel",
            )
        ],
        misconceptions=[
            Misconception(
                "every value is off by the same amount: something is added to the whole output "
                "(" + PLANTED + ")",
                test=_adds_a_constant,
            ),
            Misconception(FLIP, lambda x, u: conv_truth(x, flipped(u))),
        ],
        section="2. Three errors everyone meets",
    ),
)
