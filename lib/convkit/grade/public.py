"""The graded questions of the exercise notebooks, with their public checks.

This file ships with ``convkit`` so that ``check("02.q1")`` works in any student's
notebook: it holds what a student may see anyway (question ids, the names to define,
points, and a few worked checks whose expected values are printed on failure). The
hidden checks, which only the grader runs, live outside the package in
``tests/grading/questions_NN.py``; students who install convkit do not receive them.

Every expected value comes from an independent truth: ``convkit.shapes`` or
``convkit.reference`` (themselves tested against torch), torch itself, or a number
worked out by hand in the comment beside it.
"""
from __future__ import annotations

import numpy as np

from convkit.grade.model import NOTEBOOKS, Check, Question

__all__ = ["QUESTIONS", "BY_ID", "largest_side_truth", "edge_behaviour",
           "conv1d_truth", "conv2d_truth", "unread_truth", "grad_truth"]

_NOTEBOOKS = {name[:2]: name for name in NOTEBOOKS}


def _q(qid: str, name: str, points: int, *checks: Check) -> Question:
    return Question(qid, _NOTEBOOKS[qid[:2]], name, points, tuple(checks))


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---------------------------------------------------------------- independent truths


def _dense_weights(h, w, c):
    from convkit import shapes
    return shapes.dense_parameter_count(h * w * c, h * w * c, bias=False)


def _dense_memory(h, w, c, dtype):
    from convkit import shapes
    return shapes.memory_bytes(_dense_weights(h, w, c), dtype)


def _conv_params(c, d, h, w):
    from convkit import shapes
    return shapes.conv_parameter_count(c, d, (h, w))


def largest_side_truth(budget_bytes: int, channels: int) -> int:
    """Largest side n with the float32 dense weights of an n×n×channels image within budget."""
    n = 0
    while _dense_memory(n + 1, n + 1, channels, "float32") <= budget_bytes:
        n += 1
    return n


def conv1d_truth(x, u):
    """The deep-learning 1d convolution, by torch."""
    import torch
    import torch.nn.functional as F
    return F.conv1d(torch.as_tensor(x, dtype=torch.float64)[None, None],
                    torch.as_tensor(u, dtype=torch.float64)[None, None])[0, 0].numpy()


def conv2d_truth(x, weight, bias=None):
    """torch's conv2d on NumPy arrays (batched input ``(N, C, H, W)``), in float64."""
    import torch
    import torch.nn.functional as F
    as64 = lambda a: None if a is None else torch.as_tensor(np.asarray(a), dtype=torch.float64)  # noqa: E731
    return F.conv2d(as64(x), as64(weight), as64(bias)).numpy()


def _best_match(signal, pattern):
    return int(np.argmax(conv1d_truth(signal, pattern)))


def _receptive(layers):
    from convkit import shapes
    return shapes.receptive_field(list(layers)).size


def unread_truth(size, kernel_size, stride, padding, dilation):
    """Input indices whose gradient is zero through a convolution of ones (autograd)."""
    import torch
    import torch.nn.functional as F
    x = torch.ones(1, 1, size, dtype=torch.float64, requires_grad=True)
    F.conv1d(x, torch.ones(1, 1, kernel_size, dtype=torch.float64), stride=stride,
             padding=padding, dilation=dilation).sum().backward()
    return [int(i) for i in torch.nonzero(x.grad[0, 0] == 0).flatten()]


def _output_size(size, kernel_size, stride, padding, dilation):
    import torch
    import torch.nn.functional as F
    y = F.conv1d(torch.zeros(1, 1, size), torch.zeros(1, 1, kernel_size), stride=stride,
                 padding=padding, dilation=dilation)
    return int(y.shape[-1])


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
            weight = torch.as_tensor(u, dtype=torch.float64)
        else:
            x_value, g = args
            nd = np.ndim(g)
            kernel = tuple(a - b + 1 for a, b in zip(np.shape(x_value), np.shape(g)))
            x = torch.as_tensor(x_value, dtype=torch.float64)
            weight = torch.zeros(kernel, dtype=torch.float64, requires_grad=True)
        conv = F.conv1d if nd == 1 else F.conv2d
        y = conv(x[None, None], weight[None, None])[0, 0]
        (y * torch.as_tensor(g, dtype=torch.float64)).sum().backward()
        return (x if which == "input" else weight).grad.numpy()
    return truth


def _step_image(direction: str, size: int = 8) -> np.ndarray:
    image = np.zeros((size, size))
    if direction == "right":     # dark on the left, bright on the right
        image[:, size // 2:] = 1
    elif direction == "left":
        image[:, :size // 2] = 1
    elif direction == "down":    # dark on top, bright below
        image[size // 2:, :] = 1
    return image


def edge_behaviour(got, expected=None) -> str | None:
    """Judge a 3×3 vertical-edge kernel by what it does, not by its exact numbers."""
    kernel = np.asarray(got, dtype=np.float64) if type(got) in (list, np.ndarray) else None
    if kernel is None or kernel.shape != (3, 3):
        return "expected a 3×3 array of numbers"
    respond = lambda image: conv2d_truth(image[None, None], kernel[None, None])[0, 0]  # noqa: E731
    if not np.allclose(respond(np.full((8, 8), 0.7)), 0, atol=1e-6):
        return "a constant image should give zero everywhere (make the weights sum to 0)"
    if respond(_step_image("right")).max() <= 1e-6 or respond(_step_image("right")).min() < -1e-6:
        return "a dark-to-bright edge from left to right should give a positive response, and nowhere a negative one"
    if not np.allclose(respond(_step_image("down")), 0, atol=1e-6):
        return "a horizontal edge (dark above, bright below) should give zero"
    return None


def _grey(got, expected=None) -> str | None:
    weight = got if type(got) is np.ndarray else None
    if weight is None or weight.shape != (1, 3, 1, 1):
        return f"expected an array of shape (1, 3, 1, 1), got {type(got).__name__}"
    rgb = _rng(6).random((1, 3, 5, 4))
    want = 0.299 * rgb[0, 0] + 0.587 * rgb[0, 1] + 0.114 * rgb[0, 2]
    got_grey = conv2d_truth(rgb, weight)[0, 0]
    return None if np.allclose(got_grey, want, atol=1e-6) else "F.conv2d(image, grey_kernel) is not the grey level"


def _planted(seed: int, shape=(20, 24), where=(7, 13), size=(4, 5)) -> tuple:
    rng = _rng(seed)
    image = rng.standard_normal(shape) * 0.3
    template = rng.standard_normal(size)
    r, c = where
    image[r:r + size[0], c:c + size[1]] = template
    return image, template


# ---------------------------------------------------------------------- the questions

_x4, _u2 = np.array([1.0, 2, 3, 4]), np.array([3.0, 2])
_signal = _rng(0).standard_normal(80)
_pattern = np.array([1.0, 2, 3, 2, 1, -1, -2, -3, -2, -1])
_signal[52:62] += _pattern
_img3 = _rng(3).standard_normal((3, 6, 5))
_bank = _rng(4).standard_normal((2, 3, 3, 2))
_img_t = _rng(5).standard_normal((2, 3, 7, 6)).astype(np.float32)
_w_t = _rng(7).standard_normal((4, 3, 3, 2)).astype(np.float32)
_b_t = _rng(8).standard_normal(4).astype(np.float32)
_image, _template = _planted(9)

QUESTIONS: tuple[Question, ...] = (
    # 01 · why convolutions
    _q("01.q1", "dense_weights", 2,
       Check((2, 2, 1), 16, "exact", note="a 2×2 grey image: (2·2·1)² = 16"),
       Check((256, 256, 3), _dense_weights, "exact", note="the lecture's 256×256 RGB image")),
    _q("01.q2", "dense_memory", 2,
       Check((4, 4, 1, "float16"), 512, "exact", note="(4·4)² weights × 2 bytes = 512"),
       Check((256, 256, 3, "float32"), _dense_memory, "exact")),
    _q("01.q3", "conv_params", 2,
       Check((3, 3, 3, 3), 84, "exact", note="3·3·3·3 weights + 3 biases = 84"),
       Check((256, 256, 3, 3), _conv_params, "exact")),
    _q("01.q4", "largest_side", 2,
       Check((10**9, 3), largest_side_truth, "exact", note="1 GB, RGB")),
    _q("01.q5", "lecture_gigabytes", 2,
       Check(None, lambda: _dense_memory(256, 256, 3, "float32") / 1e9, "close",
             note="gigabytes (10⁹ bytes) of the lecture's dense layer in float32")),
    # 02 · the 1d convolution
    _q("02.q1", "conv1d_by_hand", 3,
       Check((_x4, _u2), [7, 12, 17], note="the lecture's example, by hand"),
       Check((_rng(1).standard_normal(9), _rng(2).standard_normal(4)), conv1d_truth)),
    _q("02.q2", "flipped_conv1d", 2,
       Check((_x4, _u2), [8, 13, 18], note="(1·2 + 2·3, 2·2 + 3·3, 3·2 + 4·3)")),
    _q("02.q3", "second_difference", 2,
       Check(None, [2, 2, 2], note="applied to the squares (0, 1, 4, 9, 16) it gives (2, 2, 2)",
             compare=lambda got, want: _apply_kernel_1d(got, np.array([0.0, 1, 4, 9, 16]), want))),
    _q("02.q4", "best_match", 3,
       Check((_signal, _pattern), _best_match, "exact", note="the notebook's noisy signal")),
    # 03 · multichannel 2d
    _q("03.q1", "conv2d_channels", 4,
       Check((_img3, _bank), lambda x, w: conv2d_truth(x[None], w)[0],
             note="C=3, H×W=6×5, D=2 kernels of 3×2")),
    _q("03.q2", "one_entry", 2,
       Check((_img3, _bank[1], 2, 3), lambda x, u, i, j: float(conv2d_truth(x[None], u[None])[0, 0, i, j]))),
    _q("03.q3", "grey_kernel", 2,
       Check(None, np.array([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1))),
    _q("03.q4", "stacked_field", 2,
       Check((3, 3), lambda n, k: _receptive([(k, 1, 1)] * n), "exact",
             note="three 3×3 layers see a 7×7 block")),
    # 04 · conv2d in PyTorch
    _q("04.q1", "apply_conv2d", 3,
       Check((_img_t, _w_t, _b_t), conv2d_truth, torch=True)),
    _q("04.q2", "conv2d_output_shape", 2,
       Check(((117, 4, 10, 3), (5, 4, 2, 3)), [117, 5, 9, 1], "exact", note="the lecture's example")),
    _q("04.q3", "layer", 3,
       Check((np.zeros((8, 3, 32, 32), np.float32),), (8, 16, 28, 28), "shape", torch=True,
             note="layer(torch.zeros(8, 3, 32, 32)).shape")),
    _q("04.q4", "conv_with_module", 2,
       Check((_img_t, _w_t, _b_t), conv2d_truth, torch=True)),
    # 05 · padding, stride, dilation
    _q("05.q1", "output_size", 3,
       Check((5, 3, 2, 1, 1), _output_size, "exact", note="the lecture's width: 5 cells, padding 1, stride 2"),
       Check((20, 3, 4, 0, 1), _output_size, "exact")),
    _q("05.q2", "same_padding", 2,
       Check((5, 1), 2, "exact", note="(5 - 1)·1 / 2"),
       Check((5, 2), 4, "exact", note="(5 - 1)·2 / 2")),
    _q("05.q3", "unread", 3,
       Check((20, 3, 4, 0, 1), unread_truth, "exact", note="stride 4 skips inputs"),
       Check((10, 3, 1, 1, 1), [], "exact", note="stride 1 reads everything")),
    _q("05.q4", "stack_field", 2,
       Check(([(3, 1, 1), (3, 1, 1)],), 5, "exact", note="two 3×3 layers: 5"),
       Check(([(3, 2, 1), (3, 1, 2)],), _receptive, "exact")),
    # 06 · filter gallery
    _q("06.q1", "vertical_edge", 3,
       Check(None, None, edge_behaviour, note="responds to vertical edges only")),
    _q("06.q2", "box_blur", 2,
       Check((3,), np.full((3, 3), 1 / 9), note="3×3, every weight 1/9")),
    _q("06.q3", "sharpen", 2,
       Check(None, np.array([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
             note="the identity plus the laplacian")),
    _q("06.q4", "find_template", 3,
       Check((_image, _template), [7, 13], "exact", note="the template was pasted at row 7, column 13")),
    # 07 · gradients
    _q("07.q1", "grad_kernel_1d", 3,
       Check((_x4, np.ones(3)), [6, 9], note="x = (1, 2, 3, 4), L = y0 + y1 + y2"),
       Check((_rng(10).standard_normal(7), _rng(11).standard_normal(5)), grad_truth("kernel"))),
    _q("07.q2", "grad_input_1d", 3,
       Check((np.ones(3), _u2), [3, 5, 5, 2], note="u = (3, 2), L = y0 + y1 + y2"),
       Check((_rng(12).standard_normal(6), _rng(13).standard_normal(3)), grad_truth("input"))),
    _q("07.q3", "grad_at_example", 2,
       Check(None, lambda: grad_truth("input")(np.ones(3), _u2), note="∂L/∂x for the lecture's example")),
    _q("07.q4", "grad_kernel_2d", 2,
       Check((_rng(14).standard_normal((5, 6)), _rng(15).standard_normal((3, 4))), grad_truth("kernel"))),
)

BY_ID: dict[str, Question] = {q.id: q for q in QUESTIONS}


def _apply_kernel_1d(got, x, want) -> str | None:
    """A 1d kernel judged by its effect on ``x`` (the result of ``x ⊛ got`` must be ``want``)."""
    kernel = np.asarray(got, dtype=np.float64) if type(got) in (list, np.ndarray) else None
    if kernel is None or kernel.ndim != 1 or not 1 <= kernel.size <= x.size:
        return f"expected a 1d kernel of at most {x.size} numbers, got {got!r}"
    response = conv1d_truth(x, kernel)
    if response.shape != np.shape(want) or not np.allclose(response, want):
        return f"x ⊛ kernel should be {list(want)} for x = {x.tolist()}, got {response.round(4).tolist()}"
    return None
