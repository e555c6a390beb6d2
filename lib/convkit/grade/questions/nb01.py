"""Notebook 01, why convolutions: its questions and their public checks.

The students answer them in ``exercises/01_why_convolutions.ipynb``; the hidden checks of
the same questions are in the repository's ``tests/grading/questions_01.py``; the truths
both use are in :mod:`convkit.grade.questions.truths`.
"""

from __future__ import annotations

from convkit.grade.model import Check, Misconception, Question
from convkit.grade.questions.build import FROM_SCRATCH, PLANTED, WHY_SHAPES, choice, question
from convkit.grade.questions.truths import (
    conv_params_truth,
    dense_memory_truth,
    dense_weights_truth,
    largest_side_truth,
)

__all__ = ["QUESTIONS"]


_lecture = (256, 256, 3)


QUESTIONS: tuple[Question, ...] = (
    question(
        "01.q1",
        "dense_weights",
        2,
        "implement",
        [
            Check((2, 2, 1), dense_weights_truth, "exact", note="a 2×2 grey image"),
            Check(_lecture, dense_weights_truth, "exact", note="the lecture's 256×256 RGB image"),
        ],
        forbids=FROM_SCRATCH,
        why=WHY_SHAPES,
        misconceptions=[
            Misconception(
                "that is the number of inputs (or outputs); a dense layer has one weight for "
                "every input–output pair",
                lambda h, w, c: h * w * c,
            ),
            Misconception(
                "you counted one channel only: every colour of every pixel is an input, and an output",
                lambda h, w, c: (h * w) ** 2,
            ),
            Misconception(
                "that counts a bias per output too; the question asks for the weights only",
                lambda h, w, c: (h * w * c) ** 2 + h * w * c,
            ),
        ],
        section="1. A dense layer on an image",
    ),
    question(
        "01.q2",
        "conv_params",
        2,
        "implement",
        [
            Check((3, 8, 3, 3), conv_params_truth, "exact", note="8 kernels of 3×3 on an RGB image"),
            Check((1, 1, 5, 5), conv_params_truth, "exact", note="one 5×5 kernel on a grey image"),
        ],
        forbids=FROM_SCRATCH,
        why=WHY_SHAPES,
        misconceptions=[
            Misconception(
                "the biases are missing: each kernel (output channel) has one",
                lambda c, d, h, w: d * c * h * w,
            ),
            Misconception(
                "each kernel covers all the input channels at once, not one", lambda c, d, h, w: d * h * w + d
            ),
            Misconception(
                "there is one bias per output channel, not per input channel",
                lambda c, d, h, w: d * c * h * w + c,
            ),
        ],
        section="4. Count for yourself",
    ),
    question(
        "01.q3",
        "lecture_gigabytes",
        2,
        "predict",
        [
            Check(
                None,
                lambda: dense_memory_truth(*_lecture) / 1e9,
                "close",
                note="gigabytes (10⁹ bytes) of the lecture's dense layer in float32",
            )
        ],
        misconceptions=[
            Misconception(
                "that counts one byte per weight: a float32 takes 4 bytes",
                lambda: dense_weights_truth(*_lecture) / 1e9,
            ),
            Misconception("that counts bits, not bytes", lambda: dense_memory_truth(*_lecture) * 8 / 1e9),
            Misconception(
                "that is in GiB (2³⁰ bytes); the question asks for GB (10⁹ bytes)",
                lambda: dense_memory_truth(*_lecture) / 2**30,
            ),
            Misconception(
                "you counted one channel only: every colour of every pixel is an input",
                lambda: dense_memory_truth(256, 256, 1) / 1e9,
            ),
            Misconception(
                "that is the memory of the inputs; the weights connect every input to every output",
                lambda: 256 * 256 * 3 * 4 / 1e9,
            ),
        ],
        digits=4,  # the wording: "4 significant digits are enough"
        section="1. A dense layer on an image",
    ),
    choice(
        "01.q4",
        "sharing_choice",
        2,
        "ABCD",
        "sharing_why",
        [
            (
                "B",
                "sharing a kernel as large as the image would still need one weight per pixel: "
                "what keeps the kernel small?",
            ),
            (
                "A",
                "small windows with different weights at every position still need more weights "
                "for a larger image: what else do the positions have in common?",
            ),
        ],
        several=True,
        section="2. The idea: what works here works everywhere",
    ),
    question(
        "01.q5",
        "largest_side",
        2,
        "debug",
        [
            Check((10**9, 3), largest_side_truth, "exact", note="1 GB, RGB"),
            Check((64, 1), largest_side_truth, "exact", note="64 bytes, grey"),
        ],
        forbids=FROM_SCRATCH,
        why=WHY_SHAPES,
        misconceptions=[Misconception(PLANTED, lambda b, c: largest_side_truth(b, c) + 1)],
        section="4. Count for yourself",
    ),
)
