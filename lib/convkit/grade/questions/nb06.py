"""Notebook 06, the filter gallery: its questions and their public checks.

The students answer them in ``exercises/06_filter_gallery.ipynb``; the hidden checks of the
same questions are in the repository's ``tests/grading/questions_06.py``; the truths both
use are in :mod:`convkit.grade.questions.truths`.
"""

from __future__ import annotations

import numpy as np

from convkit.grade.model import Check, Misconception, Question
from convkit.grade.questions.build import (
    FLIP,
    FROM_SCRATCH,
    PLANTED,
    VERTICAL_EDGE,
    WHY_CONV,
    WINDOWS,
    choice,
    question,
    rng,
)
from convkit.grade.questions.truths import conv_truth, distracted, flipped, ncc_truth, noise_truth, planted

__all__ = ["QUESTIONS", "plain_match"]


def _ncc_map(image, template):
    """Normalised cross-correlation at every position, by torch (windows' means and norms by convolution)."""
    image = np.asarray(image, dtype=np.float64)
    t = np.asarray(template, dtype=np.float64)
    t = t - t.mean()
    ones = np.ones_like(t)
    n = t.size
    sums = conv_truth(image, ones)
    squares = conv_truth(image**2, ones)
    spread = np.sqrt(np.maximum(squares - sums**2 / n, 1e-12))
    return conv_truth(image, t) / (spread * np.linalg.norm(t))


def _argmax2(values) -> list[int]:
    return [int(i) for i in np.unravel_index(int(np.argmax(values)), np.shape(values))]


def _ncc_match(image, template):
    return _argmax2(_ncc_map(image, template))


def plain_match(image, template):
    """Where plain (unnormalised) correlation peaks: the misconception 06.q4 must reject."""
    return _argmax2(conv_truth(image, template))


_squares_j = np.tile(np.arange(5.0) ** 2, (5, 1))


QUESTIONS: tuple[Question, ...] = (
    question(
        "06.q1",
        "ramp_response",
        2,
        "predict",
        [
            Check(
                None,
                lambda: conv_truth(_squares_j, VERTICAL_EDGE),
                "close",
                note="the vertical-edge kernel on the 5×5 image x[i, j] = j²",
            )
        ],
        misconceptions=[
            Misconception(FLIP, lambda: conv_truth(_squares_j, flipped(VERTICAL_EDGE))),
            Misconception(
                "the kernel has three rows: each output adds the differences of three rows",
                lambda: conv_truth(_squares_j, VERTICAL_EDGE[:1])[:3],
            ),
        ],
        section="2. Differences are derivatives",
    ),
    question(
        "06.q2",
        "noise_std",
        2,
        "implement",
        [
            Check((np.full((3, 3), 1 / 9), 1.0), lambda k, s: noise_truth(k, s), note="the 3×3 mean, σ = 1"),
            Check(
                (VERTICAL_EDGE, 2.0), lambda k, s: noise_truth(k, s), note="the vertical-edge kernel, σ = 2"
            ),
        ],
        forbids=FROM_SCRATCH,
        why=WHY_CONV,
        misconceptions=[
            Misconception(
                "that is what the kernel does to a flat region; independent noise does not add up "
                "like that (its variances add)",
                lambda k, s: abs(np.sum(k)) * s,
            ),
            Misconception(
                "that is the variance; the question asks for the standard deviation",
                lambda k, s: np.sum(np.square(k)) * s**2,
            ),
            Misconception(
                "independent noise does not add up with the absolute weights: its variances add",
                lambda k, s: np.sum(np.abs(k)) * s,
            ),
        ],
        section="3. Blurs are local averages",
    ),
    choice(
        "06.q3",
        "ncc_choice",
        2,
        "ABCD",
        "ncc_why",
        [
            ("B", "and the normalised cross-correlation at the two places?"),
            ("A", "and the plain correlation ⟨X, P⟩ at the two places?"),
            ("A, C", "the normalisation removes both the brightness and the contrast of a window"),
            ("A, D", "compare ⟨3P + 2, P⟩ with ⟨P, P⟩ for non-negative pixels"),
        ],
        several=True,
        section="5. A patch of the image as a kernel",
    ),
    question(
        "06.q4",
        "find_template",
        3,
        "implement",
        [
            Check(planted(9), [7, 13], "exact", note="the template was pasted at row 7, column 13"),
            Check(distracted(10), [10, 3], "exact", note="a brighter patch elsewhere"),
        ],
        forbids=WINDOWS,
        why=WHY_CONV,
        misconceptions=[
            Misconception(
                "unnormalised correlation: a brighter window beats the real match, because the plain "
                "response grows with brightness as much as with resemblance",
                plain_match,
                compare="exact",
            ),
            Misconception(FLIP, lambda image, t: _ncc_match(image, flipped(t)), compare="exact"),
            Misconception(
                "row and column are swapped", lambda image, t: _ncc_match(image, t)[::-1], compare="exact"
            ),
        ],
        section="5. A patch of the image as a kernel",
    ),
    question(
        "06.q5",
        "ncc_at",
        2,
        "debug",
        [
            Check((rng(51).random((3, 4)) + 2, rng(52).random((3, 4))), ncc_truth, note="a bright window"),
            Check(
                (rng(53).random((2, 2)), rng(53).random((2, 2)) * 3 + 1),
                ncc_truth,
                note="a window and its brighter copy",
            ),
        ],
        forbids=FROM_SCRATCH,
        why=WHY_CONV,
        misconceptions=[
            Misconception(
                PLANTED,
                lambda w, p: float(
                    np.sum(w * (p - p.mean())) / (np.linalg.norm(w) * np.linalg.norm(p - p.mean()))
                ),
            )
        ],
        section="5. A patch of the image as a kernel",
    ),
)
