"""The graded questions of the exercise notebooks, with their public checks.

This file ships with ``convkit`` so that ``check("02.q1")`` works in any student's
notebook: it holds the question ids, kinds, names, points, the calls each question
forbids, its public checks and the misconceptions it recognises. The hidden checks,
which only the grader runs, live outside the package in ``tests/grading/questions_NN.py``.
An *explain* question's public check only looks at the form of the answer (letters
among the choices): which letters are right is in the hidden checks, so a student
cannot try the letters one by one with ``check``, and this package does not hold them.

Every expected value comes from an independent truth: torch (``F.conv*``, autograd,
``nn.Conv2d``), ``convkit.shapes`` (itself tested against torch), or a number worked
out by hand in the comment beside it. A misconception's ``wrong`` is the result that
wrong idea produces, computed the same way.
"""

from __future__ import annotations

import math

import numpy as np

from convkit.grade.model import NOTEBOOKS, Check, Misconception, Question, _letters

__all__ = [
    "QUESTIONS",
    "BY_ID",
    "FROM_SCRATCH",
    "WINDOWS",
    "conv_truth",
    "conv1d_truth",
    "conv2d_truth",
    "flipped",
    "largest_side_truth",
    "output_size_truth",
    "unread_truth",
    "field_truth",
    "grad_truth",
    "ncc_truth",
    "plain_match",
    "planted",
    "distracted",
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

_WHY_CONV = (
    "this question asks you to write the convolution yourself (loops, slicing, "
    "sliding_window_view, einsum or @ are fine); a ready-made one would answer it for you"
)
_WHY_SHAPES = (
    "this question asks you to work the arithmetic out yourself; convkit's own "
    "helpers (and running a convolution to measure it) would answer it for you"
)

FLIP = (
    "your result is the signal-processing convolution: the kernel was visited backwards "
    "(the convolution of deep learning does not flip it)"
)
PLANTED = "this is still what the given implementation computes: the mistake is not fixed yet"


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _q(
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
) -> Question:
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
    )


def _choice(qid, name, points, letters, justification, misconceptions=()) -> Question:
    """An *explain* question: ``letters`` are the choices offered; the right ones are hidden checks."""

    def form(got, expected):
        have = _letters(got)
        if have is None or not set(have.split(",")) <= set(letters):
            return (
                f"expected one or more of the letters {', '.join(letters)} (a string or a list), got {got!r}"
            )
        return None

    return _q(
        qid,
        name,
        points,
        "explain",
        [Check(None, letters, form, note="the form of your choice")],
        justification=justification,
        misconceptions=[Misconception(text, wrong, compare="choice") for wrong, text in misconceptions],
    )


# ---------------------------------------------------------------- independent truths


def conv_truth(x, u, stride=1, padding=0, dilation=1):
    """The deep-learning convolution of one single-channel 1d, 2d or 3d array by one kernel, by torch."""
    import torch
    import torch.nn.functional as F

    # copies: torch refuses the negative strides of reversed views
    x, u = np.array(x, dtype=np.float64), np.array(u, dtype=np.float64)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[x.ndim]
    return conv(
        torch.as_tensor(x)[None, None],
        torch.as_tensor(u)[None, None],
        stride=stride,
        padding=padding,
        dilation=dilation,
    )[0, 0].numpy()


def conv1d_truth(x, u):
    """The deep-learning 1d convolution, by torch."""
    return conv_truth(x, u)


def conv2d_truth(x, weight, bias=None):
    """torch's conv2d on NumPy arrays (batched input ``(N, C, H, W)``), in float64."""
    import torch
    import torch.nn.functional as F

    as64 = lambda a: None if a is None else torch.as_tensor(np.array(a, dtype=np.float64))  # noqa: E731
    return F.conv2d(as64(x), as64(weight), as64(bias)).numpy()


def flipped(u):
    """The kernel reversed along every axis."""
    u = np.asarray(u, dtype=np.float64)
    return u[tuple(slice(None, None, -1) for _ in range(u.ndim))]


def _dense_weights(h, w, c):
    from convkit import shapes

    return shapes.dense_parameter_count(h * w * c, h * w * c, bias=False)


def _dense_memory(h, w, c, dtype="float32"):
    from convkit import shapes

    return shapes.memory_bytes(_dense_weights(h, w, c), dtype)


def _conv_params(c, d, h, w):
    import torch.nn as nn

    return sum(p.numel() for p in nn.Conv2d(c, d, (h, w)).parameters())


def largest_side_truth(budget_bytes: int, channels: int) -> int:
    """Largest side n with the float32 dense weights of an n×n×channels image within budget."""
    n = 0
    while _dense_memory(n + 1, n + 1, channels, "float32") <= budget_bytes:
        n += 1
    return n


def output_size_truth(size, kernel_size, stride, padding, dilation):
    """The output length of F.conv1d, measured."""
    import torch
    import torch.nn.functional as F

    y = F.conv1d(
        torch.zeros(1, 1, size),
        torch.zeros(1, 1, kernel_size),
        stride=stride,
        padding=padding,
        dilation=dilation,
    )
    return int(y.shape[-1])


def unread_truth(size, kernel_size, stride, padding, dilation):
    """Input indices whose gradient is zero through a convolution of ones (autograd)."""
    import torch
    import torch.nn.functional as F

    x = torch.ones(1, 1, size, dtype=torch.float64, requires_grad=True)
    F.conv1d(
        x,
        torch.ones(1, 1, kernel_size, dtype=torch.float64),
        stride=stride,
        padding=padding,
        dilation=dilation,
    ).sum().backward()
    return [int(i) for i in torch.nonzero(x.grad[0, 0] == 0).flatten()]


def field_truth(layers):
    """Receptive field of a stack of (kernel_size, stride, dilation) layers, by autograd on one output."""
    import torch
    import torch.nn.functional as F

    size = 1
    for k, s, d in layers:
        size = size * s + d * (k - 1) + s  # generous: the field surely fits
    x = torch.ones(1, 1, size, dtype=torch.float64, requires_grad=True)
    y = x
    for k, s, d in layers:
        y = F.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=d)
    y[0, 0, 0].backward()
    read = torch.nonzero(x.grad[0, 0]).flatten()
    return int(read.max() - read.min() + 1)


def grad_truth(which: str):
    """Autograd's gradient of ``L = sum(g * conv(x, u))`` for x or u (1d or 2d, one channel)."""

    def truth(*args):
        import torch
        import torch.nn.functional as F

        if which == "input":
            g, u = args
            nd = np.ndim(g)
            size = tuple(a + b - 1 for a, b in zip(np.shape(g), np.shape(u)))
            x = torch.zeros(size, dtype=torch.float64, requires_grad=True)
            weight = torch.as_tensor(np.array(u, dtype=np.float64))
        else:
            x_value, g = args
            nd = np.ndim(g)
            kernel = tuple(a - b + 1 for a, b in zip(np.shape(x_value), np.shape(g)))
            x = torch.as_tensor(np.array(x_value, dtype=np.float64))
            weight = torch.zeros(kernel, dtype=torch.float64, requires_grad=True)
        conv = F.conv1d if nd == 1 else F.conv2d
        y = conv(x[None, None], weight[None, None])[0, 0]
        (y * torch.as_tensor(np.array(g, dtype=np.float64))).sum().backward()
        return (x if which == "input" else weight).grad.numpy()

    return truth


def _full_correlation(g, u):
    """g padded with len(u) - 1 zeros on both sides, correlated with u (not flipped): the no-flip mistake."""
    u = np.asarray(u, dtype=np.float64)
    pad = [(k - 1, k - 1) for k in u.shape]
    return conv_truth(np.pad(np.asarray(g, dtype=np.float64), pad), u)


def ncc_truth(window, patch) -> float:
    """Pearson's correlation of two arrays of the same shape (NumPy's corrcoef)."""
    return float(np.corrcoef(np.ravel(window), np.ravel(patch))[0, 1])


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


def planted(seed: int, shape=(20, 24), where=(7, 13), size=(4, 5)) -> tuple:
    """A noisy non-negative image with a copy of a template pasted at ``where``."""
    rng = _rng(seed)
    image = rng.random(shape) * 0.5
    template = rng.random(size)
    r, c = where
    image[r : r + size[0], c : c + size[1]] = template
    return image, template


def distracted(seed: int, shape=(18, 22), where=(10, 3), size=(3, 4), loud=(1, 12)) -> tuple:
    """``planted``, plus a brighter patch elsewhere that plain correlation prefers."""
    image, template = planted(seed, shape, where, size)
    r, c = loud
    image[r : r + size[0] + 1, c : c + size[1] + 1] = 3.0 + _rng(seed + 1).random((size[0] + 1, size[1] + 1))
    return image, template


def _one_channel(x, weight):
    """Each kernel applied to input channel 0 only: the misconception of summing over one channel."""
    x, weight = np.asarray(x, dtype=np.float64), np.asarray(weight, dtype=np.float64)
    return conv2d_truth(x[None, :1], weight[:, :1])[0]


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


def _dilated_truth(u, dilation):
    """The zero-inserted kernel, read off F.conv1d with dilation: its response to each unit impulse."""
    import torch
    import torch.nn.functional as F

    u = torch.as_tensor(np.asarray(u, dtype=np.float64))
    span = dilation * (len(u) - 1) + 1
    impulses = torch.eye(span, dtype=torch.float64)[:, None, :]
    return F.conv1d(impulses, u[None, None], dilation=dilation)[:, 0, 0].numpy()


def _unread_windows(n, k, s, p, d, windows):
    """Inputs no window reads when ``windows`` windows are computed (some misconceptions count wrong)."""
    read = {o * s - p + j * d for o in range(windows) for j in range(k)}
    return [i for i in range(n) if i not in read]


def _unread_padded(n, k, s, p, d):
    """The padded-coordinate mistake: windows' positions not shifted back by the padding."""
    read = {o * s + j * d for o in range(output_size_truth(n, k, s, p, d)) for j in range(k)}
    return [i for i in range(n) if i not in read]


def _field_own_stride(layers):
    """The mistake of multiplying in a layer's own stride before adding its window."""
    field, jump = 1, 1
    for k, s, d in layers:
        jump *= s
        field += d * (k - 1) * jump
    return field


def _noise_truth(kernel, sigma):
    """Standard deviation of one output for independent noise of std ``sigma``: sqrt(sum w²)·σ, by hand."""
    return float(np.sqrt(np.sum(np.square(kernel))) * sigma)


# ---------------------------------------------------------------------- the questions

_x4, _u2 = np.array([1.0, 2, 3, 4]), np.array([3.0, 2])
_img3 = _rng(3).standard_normal((3, 6, 5))
_bank = _rng(4).standard_normal((2, 3, 3, 2))
_video = _rng(5).standard_normal((5, 6, 7))
_motion = _rng(6).standard_normal((2, 3, 2))
_squares_j = np.tile(np.arange(5.0) ** 2, (5, 1))
_edge = np.array([[-1.0, 0, 1]] * 3)
_lecture = (256, 256, 3)


QUESTIONS: tuple[Question, ...] = (
    # ------------------------------------------------------------ 01 · why convolutions
    _q(
        "01.q1",
        "dense_weights",
        2,
        "implement",
        [
            Check((2, 2, 1), _dense_weights, "exact", note="a 2×2 grey image"),
            Check(_lecture, _dense_weights, "exact", note="the lecture's 256×256 RGB image"),
        ],
        forbids=FROM_SCRATCH,
        why=_WHY_SHAPES,
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
    ),
    _q(
        "01.q2",
        "conv_params",
        2,
        "implement",
        [
            Check((3, 8, 3, 3), _conv_params, "exact", note="8 kernels of 3×3 on an RGB image"),
            Check((1, 1, 5, 5), _conv_params, "exact", note="one 5×5 kernel on a grey image"),
        ],
        forbids=FROM_SCRATCH,
        why=_WHY_SHAPES,
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
    ),
    _q(
        "01.q3",
        "lecture_gigabytes",
        2,
        "predict",
        [
            Check(
                None,
                lambda: _dense_memory(*_lecture) / 1e9,
                "close",
                note="gigabytes (10⁹ bytes) of the lecture's dense layer in float32",
            )
        ],
        misconceptions=[
            Misconception(
                "that counts one byte per weight: a float32 takes 4 bytes",
                lambda: _dense_weights(*_lecture) / 1e9,
            ),
            Misconception("that counts bits, not bytes", lambda: _dense_memory(*_lecture) * 8 / 1e9),
            Misconception(
                "that is in GiB (2³⁰ bytes); the question asks for GB (10⁹ bytes)",
                lambda: _dense_memory(*_lecture) / 2**30,
            ),
            Misconception(
                "you counted one channel only: every colour of every pixel is an input",
                lambda: _dense_memory(256, 256, 1) / 1e9,
            ),
            Misconception(
                "that is the memory of the inputs; the weights connect every input to every output",
                lambda: 256 * 256 * 3 * 4 / 1e9,
            ),
        ],
        digits=4,  # the wording: "4 significant digits are enough"
    ),
    _choice(
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
    ),
    _q(
        "01.q5",
        "largest_side",
        2,
        "debug",
        [
            Check((10**9, 3), largest_side_truth, "exact", note="1 GB, RGB"),
            Check((64, 1), largest_side_truth, "exact", note="64 bytes, grey"),
        ],
        forbids=FROM_SCRATCH,
        why=_WHY_SHAPES,
        misconceptions=[Misconception(PLANTED, lambda b, c: largest_side_truth(b, c) + 1)],
    ),
    # ------------------------------------------------------------ 02 · the 1d convolution
    _q(
        "02.q1",
        "conv1d_by_hand",
        3,
        "implement",
        [
            Check((_x4, _u2), conv1d_truth, note="the lecture's example"),
            Check(
                (_rng(1).standard_normal(9), _rng(2).standard_normal(4)),
                conv1d_truth,
                note="random signal of 9, kernel of 4",
            ),
        ],
        forbids=WINDOWS,
        why=_WHY_CONV,
        misconceptions=[
            Misconception(FLIP, lambda x, u: conv1d_truth(x, flipped(u))),
            Misconception(
                "the last position is missing: the window also fits with its last tap on the last sample",
                lambda x, u: conv1d_truth(x, u)[:-1],
            ),
            Misconception(
                "that is the full convolution, which slides the kernel partly off the signal; "
                "here every window lies inside it",
                lambda x, u: conv_truth(x, u, padding=len(u) - 1),
            ),
        ],
    ),
    _q(
        "02.q2",
        "predicted_y",
        2,
        "predict",
        [
            Check(
                None,
                lambda: conv1d_truth([2.0, 0, -1, 3, 1], [1.0, -2]),
                "close",
                note="(2, 0, −1, 3, 1) ⊛ (1, −2), by hand",
            )
        ],
        misconceptions=[
            Misconception(FLIP, lambda: conv1d_truth([2.0, 0, -1, 3, 1], [-2.0, 1])),
            Misconception(
                "that is the full convolution, which slides the kernel partly off the signal; "
                "here every window lies inside it",
                lambda: conv_truth([2.0, 0, -1, 3, 1], [1.0, -2], padding=1),
            ),
        ],
    ),
    _q(
        "02.q3",
        "difference_kernel",
        2,
        "predict",
        [Check(None, [-1.0, 0.0, 1.0], "close", note="a kernel u with (x ⊛ u)_i = x_{i+2} − x_i")],
        misconceptions=[
            Misconception(FLIP + "; it computes x_i − x_{i+2}", [1.0, 0.0, -1.0]),
            Misconception(
                "that kernel reads neighbours one apart; x_i and x_{i+2} are two apart", [-1.0, 1.0]
            ),
        ],
    ),
    _choice(
        "02.q4",
        "shift_choice",
        2,
        "ABCD",
        "shift_why",
        [
            ("A", "that would be invariance: the same output whatever the shift"),
            ("C", "look at the first outputs of z ⊛ u: what do their windows contain?"),
            ("D", "the output moves with the input, not against it"),
        ],
    ),
    _q(
        "02.q5",
        "conv1d_fixed",
        2,
        "debug",
        [
            Check((_x4, _u2), conv1d_truth, note="the lecture's example"),
            Check(
                (_rng(21).standard_normal(7), _rng(22).standard_normal(3)),
                conv1d_truth,
                note="random signal of 7, kernel of 3",
            ),
        ],
        forbids=WINDOWS,
        why=_WHY_CONV,
        misconceptions=[
            Misconception(PLANTED, lambda x, u: conv1d_truth(x, u)[:-1]),
            Misconception(FLIP, lambda x, u: conv1d_truth(x, flipped(u))),
        ],
    ),
    # ------------------------------------------------------------ 03 · multichannel 2d
    _q(
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
        why=_WHY_CONV,
        misconceptions=[
            Misconception(
                "you summed over one channel only: each kernel covers all C input channels, "
                "and their products add up into one value",
                _one_channel,
            ),
            Misconception(FLIP, lambda x, w: conv2d_truth(x[None], w[:, :, ::-1, ::-1])[0]),
        ],
    ),
    _q(
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
    ),
    _choice(
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
    ),
    _q(
        "03.q4",
        "conv3d_single",
        3,
        "implement",
        [Check((_video, _motion), conv_truth, note="5 frames of 6×7, a kernel of 2 frames × 3×2")],
        forbids=WINDOWS,
        why=_WHY_CONV,
        misconceptions=[
            Misconception(FLIP, lambda x, u: conv_truth(x, flipped(u))),
            Misconception(
                "only the first frame of the kernel was used: it spans several frames, and "
                "their products add up",
                lambda x, u: conv_truth(x, u * (np.arange(len(u)) == 0)[:, None, None]),
            ),
        ],
    ),
    _q(
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
    ),
    # ------------------------------------------------------------ 04 · conv2d in PyTorch (nothing forbidden)
    _q(
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
    ),
    _choice(
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
    ),
    _q(
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
    ),
    _q(
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
    ),
    _q(
        "04.q5",
        "filter_image",
        2,
        "debug",
        [
            Check(
                (_rng(41).random((6, 7)), _edge),
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
    ),
    # ------------------------------------------------------------ 05 · padding, stride, dilation
    _q(
        "05.q1",
        "output_size",
        3,
        "implement",
        [
            Check(
                (5, 3, 2, 1, 1),
                output_size_truth,
                "exact",
                note="the lecture's width: 5 cells, padding 1, stride 2",
            ),
            Check((20, 3, 4, 0, 1), output_size_truth, "exact", note="stride 4 does not fit exactly"),
            Check((28, 5, 1, 4, 2), output_size_truth, "exact", note="dilation 2, padding 4"),
        ],
        forbids=FROM_SCRATCH,
        why=_WHY_SHAPES,
        misconceptions=[
            Misconception(
                "you rounded up: a last window that would stick out past the padded input is not "
                "a position, so the division rounds down (floor, not ceil)",
                lambda n, k, s, p, d: math.ceil((n + 2 * p - d * (k - 1) - 1) / s) + 1,
            ),
            Misconception(
                "one position short: count the first window position too (the + 1)",
                lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s,
            ),
            Misconception(
                "the padding goes on both sides of the input, not on one side only",
                lambda n, k, s, p, d: (n + p - d * (k - 1) - 1) // s + 1,
            ),
            Misconception(
                "a dilated kernel spans more cells than it has taps",
                lambda n, k, s, p, d: (n + 2 * p - k) // s + 1,
            ),
            Misconception(
                "a dilated kernel has no gap after its last tap",
                lambda n, k, s, p, d: (n + 2 * p - d * k) // s + 1,
            ),
        ],
    ),
    _q(
        "05.q2",
        "dilate_kernel",
        2,
        "implement",
        [
            Check((np.array([1.0, 2, 3]), 2), _dilated_truth, note="u = (1, 2, 3), dilation 2"),
            Check((np.array([4.0, 5]), 3), _dilated_truth, note="u = (4, 5), dilation 3"),
        ],
        forbids=FROM_SCRATCH,
        why=_WHY_CONV,
        misconceptions=[
            Misconception(
                "no zeros come after the last tap: the kernel ends with it",
                lambda u, d: np.pad(_dilated_truth(u, d), (0, d - 1)),
            ),
            Misconception(
                "dilation 1 is the ordinary kernel: count the zeros between neighbouring taps again",
                lambda u, d: _dilated_truth(u, d + 1),
            ),
        ],
    ),
    _q(
        "05.q3",
        "unread",
        3,
        "implement",
        [
            Check((20, 3, 4, 0, 1), unread_truth, "exact", note="stride 4 skips inputs"),
            Check((10, 3, 1, 1, 1), unread_truth, "exact", note="stride 1 reads everything"),
            Check((11, 3, 2, 1, 3), unread_truth, "exact", note="padding, stride and dilation together"),
        ],
        forbids=FROM_SCRATCH,
        why=_WHY_SHAPES,
        misconceptions=[
            Misconception(
                "those are positions in the padded input: input index 0 sits `padding` cells in",
                lambda n, k, s, p, d: _unread_padded(n, k, s, p, d),
            ),
            Misconception(
                "a dilated window reads its taps `dilation` cells apart",
                lambda n, k, s, p, d: unread_truth(n, k, s, p, 1),
            ),
            Misconception(
                "one window too many: a window that sticks out past the padded input is not computed",
                lambda n, k, s, p, d: _unread_windows(n, k, s, p, d, output_size_truth(n, k, s, p, d) + 1),
            ),
        ],
    ),
    _q(
        "05.q4",
        "stack_field",
        2,
        "implement",
        [
            Check(([(3, 1, 1), (3, 1, 1)],), field_truth, "exact", note="two 3×3 layers"),
            Check(([(3, 2, 1), (3, 1, 2)],), field_truth, "exact", note="a stride 2, then a dilation 2"),
        ],
        forbids=FROM_SCRATCH,
        why=_WHY_SHAPES,
        misconceptions=[
            Misconception(
                "the strides of the layers below spread each later window out: they count too",
                lambda layers: 1 + sum(d * (k - 1) for k, s, d in layers),
            ),
            Misconception(
                "a layer's own stride does not widen its own window, only the windows of the layers above",
                lambda layers: _field_own_stride(layers),
            ),
        ],
    ),
    _choice(
        "05.q5",
        "stride_choice",
        2,
        "ABCD",
        "stride_why",
        [
            (
                "A",
                "with stride 2 the windows sit at every other position: where do they fall after a "
                "shift by one?",
            ),
            ("C", "stride does not make a layer invariant: try it on a signal with one spike"),
            ("D", "the windows move by the stride, but the input moved by one"),
        ],
    ),
    # ------------------------------------------------------------ 06 · filter gallery
    _q(
        "06.q1",
        "ramp_response",
        2,
        "predict",
        [
            Check(
                None,
                lambda: conv_truth(_squares_j, _edge),
                "close",
                note="the vertical-edge kernel on the 5×5 image x[i, j] = j²",
            )
        ],
        misconceptions=[
            Misconception(FLIP, lambda: conv_truth(_squares_j, flipped(_edge))),
            Misconception(
                "the kernel has three rows: each output adds the differences of three rows",
                lambda: conv_truth(_squares_j, _edge[:1])[:3],
            ),
        ],
    ),
    _q(
        "06.q2",
        "noise_std",
        2,
        "implement",
        [
            Check((np.full((3, 3), 1 / 9), 1.0), lambda k, s: _noise_truth(k, s), note="the 3×3 mean, σ = 1"),
            Check((_edge, 2.0), lambda k, s: _noise_truth(k, s), note="the vertical-edge kernel, σ = 2"),
        ],
        forbids=FROM_SCRATCH,
        why=_WHY_CONV,
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
    ),
    _choice(
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
    ),
    _q(
        "06.q4",
        "find_template",
        3,
        "implement",
        [
            Check(planted(9), [7, 13], "exact", note="the template was pasted at row 7, column 13"),
            Check(distracted(10), [10, 3], "exact", note="a brighter patch elsewhere"),
        ],
        forbids=WINDOWS,
        why=_WHY_CONV,
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
    ),
    _q(
        "06.q5",
        "ncc_at",
        2,
        "debug",
        [
            Check((_rng(51).random((3, 4)) + 2, _rng(52).random((3, 4))), ncc_truth, note="a bright window"),
            Check(
                (_rng(53).random((2, 2)), _rng(53).random((2, 2)) * 3 + 1),
                ncc_truth,
                note="a window and its brighter copy",
            ),
        ],
        forbids=FROM_SCRATCH,
        why=_WHY_CONV,
        misconceptions=[
            Misconception(
                PLANTED,
                lambda w, p: float(
                    np.sum(w * (p - p.mean())) / (np.linalg.norm(w) * np.linalg.norm(p - p.mean()))
                ),
            )
        ],
    ),
    # ------------------------------------------------------------ 07 · gradients
    _q(
        "07.q1",
        "grad_kernel_1d",
        3,
        "implement",
        [
            Check(
                (_x4, np.array([1.0, -1, 2])), grad_truth("kernel"), note="x = (1, 2, 3, 4), g = (1, −1, 2)"
            ),
            Check(
                (_rng(10).standard_normal(7), _rng(11).standard_normal(5)),
                grad_truth("kernel"),
                note="random x of 7, g of 5",
            ),
        ],
        forbids=WINDOWS,
        why=_WHY_CONV,
        misconceptions=[
            Misconception(
                "the output gradient was visited backwards: ∂L/∂u_j pairs g_i with x_{i+j}, "
                "in the same direction",
                lambda x, g: conv1d_truth(x, flipped(g)),
            ),
            Misconception(
                "that is the bias gradient (the sum of g); the kernel's gradient has one value per tap",
                lambda x, g: float(np.sum(g)),
            ),
        ],
    ),
    _q(
        "07.q2",
        "grad_input_1d",
        3,
        "implement",
        [
            Check((np.array([1.0, -1, 2]), _u2), grad_truth("input"), note="g = (1, −1, 2), u = (3, 2)"),
            Check(
                (_rng(12).standard_normal(6), _rng(13).standard_normal(3)),
                grad_truth("input"),
                note="random g of 6, u of 3",
            ),
        ],
        forbids=WINDOWS,
        why=_WHY_CONV,
        misconceptions=[
            Misconception(
                "no flip in the input gradient: input x_m meets u_j through output g_{m−j}, so the "
                "kernel is visited backwards",
                _full_correlation,
            ),
            Misconception(
                "g was padded on one side only: an input near either end is read by fewer windows",
                lambda g, u: conv1d_truth(np.pad(g, (len(u) - 1, 0)), flipped(u)),
            ),
            Misconception(
                "g was padded on one side only: an input near either end is read by fewer windows",
                lambda g, u: conv1d_truth(np.pad(g, (0, len(u) - 1)), flipped(u)),
            ),
            Misconception(
                "there is one gradient per input, and the input is longer than g: pad g before sliding",
                lambda g, u: conv1d_truth(g, flipped(u)),
            ),
        ],
    ),
    _q(
        "07.q3",
        "grad_example",
        2,
        "predict",
        [
            Check(
                None,
                lambda: grad_truth("input")(np.array([2.0, 0, -1]), _u2),
                "close",
                note="∂L/∂x for x = (1, 2, 3, 4), u = (3, 2), L = 2·y₀ − y₂",
            )
        ],
        misconceptions=[
            Misconception(
                "no flip in the input gradient: the kernel is visited backwards",
                lambda: _full_correlation(np.array([2.0, 0, -1]), _u2),
            ),
            Misconception(
                "that is ∂L/∂u; the question asks for ∂L/∂x",
                lambda: grad_truth("kernel")(_x4, np.array([2.0, 0, -1])),
            ),
        ],
    ),
    _q(
        "07.q4",
        "zero_grad_inputs",
        2,
        "predict",
        [
            Check(
                None,
                lambda: unread_truth(10, 2, 3, 0, 1),
                "set",
                note="inputs with zero gradient: length 10, kernel 2, stride 3",
            )
        ],
        misconceptions=[
            Misconception(
                "one window too many: a window that would stick out past the end is not computed",
                lambda: _unread_windows(10, 2, 3, 0, 1, 4),
                compare="set",
            ),
            Misconception(
                "one window too few: the first window position counts too",
                lambda: _unread_windows(10, 2, 3, 0, 1, 2),
                compare="set",
            ),
        ],
    ),
    _q(
        "07.q5",
        "grad_input_2d",
        2,
        "debug",
        [
            Check(
                (_rng(71).standard_normal((3, 4)), _rng(72).standard_normal((2, 3))),
                grad_truth("input"),
                note="random g of 3×4, u of 2×3",
            )
        ],
        forbids=WINDOWS,
        why=_WHY_CONV,
        misconceptions=[
            Misconception(PLANTED, lambda g, u: _full_correlation(g, np.asarray(u)[::-1])),
            Misconception(
                "no flip in the input gradient: the kernel is visited backwards", _full_correlation
            ),
        ],
    ),
)

BY_ID: dict[str, Question] = {q.id: q for q in QUESTIONS}
