"""What the notebooks' question modules are written with: question builders, forbidden calls, shared texts.

:func:`question` and :func:`choice` build a :class:`~convkit.grade.model.Question`
from its id (``"02.q1"`` names its notebook); :data:`FROM_SCRATCH` and :data:`WINDOWS`
are what implement questions forbid, with :data:`WHY_CONV` and :data:`WHY_SHAPES`
saying why; :data:`FLIP` and :data:`PLANTED` are the two misconceptions that recur
across notebooks; the fixtures at the end are the arrays more than one notebook uses.
"""

from __future__ import annotations

import numpy as np

from convkit.grade.model import NOTEBOOKS, Check, Misconception, Question, choice_letters

__all__ = [
    "FROM_SCRATCH",
    "WINDOWS",
    "WHY_CONV",
    "WHY_SHAPES",
    "FLIP",
    "PLANTED",
    "rng",
    "question",
    "choice",
    "LECTURE_SIGNAL",
    "LECTURE_KERNEL",
    "VERTICAL_EDGE",
]

_NOTEBOOKS = {name[:2]: name for name in NOTEBOOKS}

#: What an implement question forbids: the course's library and every ready-made convolution.
FROM_SCRATCH = (
    "convkit.reference",
    "convkit.shapes",
    "convkit.widgets",
    "torch.nn.functional.conv1d",
    "torch.nn.functional.conv2d",
    "torch.nn.functional.conv3d",
    "torch.nn.functional.conv_transpose1d",
    "torch.nn.functional.conv_transpose2d",
    "torch.nn.functional.conv_transpose3d",
    "torch.nn.Conv1d",
    "torch.nn.Conv2d",
    "torch.nn.Conv3d",
    "torch.nn.ConvTranspose1d",
    "torch.nn.ConvTranspose2d",
    "torch.nn.ConvTranspose3d",
    "numpy.convolve",
    "numpy.correlate",
    "scipy.signal",
    "scipy.ndimage",
)
#: ... and, where the question is the sliding window itself, torch's ready-made windows too.
WINDOWS = FROM_SCRATCH + ("torch.nn.functional.unfold",)

#: Why a question that asks for a convolution forbids the ready-made ones.
WHY_CONV = (
    "this question asks you to write the convolution yourself (loops, slicing, "
    "sliding_window_view, einsum or @ are fine); a ready-made one would answer it for you"
)
#: Why a question that asks for arithmetic forbids convkit's helpers.
WHY_SHAPES = (
    "this question asks you to work the arithmetic out yourself; convkit's own "
    "helpers (and running a convolution to measure it) would answer it for you"
)

FLIP = (
    "your result is the signal-processing convolution: the kernel was visited backwards "
    "(the convolution of deep learning does not flip it)"
)
PLANTED = "this is still what the given implementation computes: the mistake is not fixed yet"


def rng(seed: int) -> np.random.Generator:
    """The random generator a check's fixture is drawn from (one seed per fixture)."""
    return np.random.default_rng(seed)


def question(
    qid: str,
    name: str,
    points: int,
    kind: str,
    checks,
    *,
    forbids=(),
    why="",
    justification=None,
    misconceptions=(),
    digits=None,
    uses=(),
    section="",
) -> Question:
    """A question of the notebook its id names (``"02.q1"``: notebook 02); ``digits``, ``uses`` and
    ``section`` (the course notebook's heading that teaches it) as in :class:`Question`."""
    return Question(
        qid,
        _NOTEBOOKS[qid[:2]],
        name,
        points,
        tuple(checks),
        kind=kind,
        forbids=tuple(forbids),
        why_forbidden=why,
        justification=justification,
        misconceptions=tuple(misconceptions),
        digits=digits,
        uses=tuple(uses),
        section=section,
    )


def choice(
    qid, name, points, letters, justification, misconceptions=(), *, several=False, section=""
) -> Question:
    """An *explain* question: ``letters`` are the choices offered; the right ones are hidden checks.

    ``several`` says what the wording asks for: the letters of all the true statements
    (``True``), or the one letter of the right answer (``False``, when the public check
    refuses more than one letter, as the wording does).
    """
    offered = ", ".join(letters)
    if several:
        wanted = f'one or more of the letters {offered} (a string such as "A, C", or a list)'
    else:
        wanted = f'one of the letters {offered} (a string such as "B")'

    def form(got, expected):
        have = choice_letters(got)
        if have is None or not set(have.split(",")) <= set(letters):
            return f"expected {wanted}, got {got!r}"
        if not several and "," in have:
            return f"choose one letter only: the question asks for the one right answer, got {got!r}"
        return None

    return question(
        qid,
        name,
        points,
        "explain",
        [Check(None, letters, form, note="the form of your choice")],
        justification=justification,
        misconceptions=[Misconception(text, wrong, compare="choice") for wrong, text in misconceptions],
        section=section,
    )


# ---------------------------------------------------------------- fixtures of several notebooks

#: The lecture's 1d example, x = (1, 2, 3, 4) and u = (3, 2).
LECTURE_SIGNAL, LECTURE_KERNEL = np.array([1.0, 2, 3, 4]), np.array([3.0, 2])
#: The vertical-edge kernel, shape (3, 3).
VERTICAL_EDGE = np.array([[-1.0, 0, 1]] * 3)
