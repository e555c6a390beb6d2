"""The independent truths that the questions and the hidden checks compute their expected values with.

Every expected value comes from an independent truth: torch (``F.conv*``, autograd,
``nn.Conv2d``), ``convkit.shapes`` (itself tested against torch), or a number worked
out by hand in the comment beside it. A misconception's ``wrong`` is the result that
wrong idea produces, computed the same way: the builders of wrong results that more
than one notebook uses are here too, beside the fixtures that the hidden checks
share with the public ones (:func:`planted`, :func:`distracted`).

Both ``convkit.grade.questions.nbNN`` and the hidden checks in the repository's
``tests/grading/questions_NN.py`` import these names; a truth only one notebook's
public questions use stays in that notebook's module.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "conv_truth",
    "conv1d_truth",
    "conv2d_truth",
    "flipped",
    "dense_weights_truth",
    "dense_memory_truth",
    "conv_params_truth",
    "largest_side_truth",
    "output_size_truth",
    "unread_truth",
    "field_truth",
    "grad_truth",
    "dilated_truth",
    "noise_truth",
    "ncc_truth",
    "unread_windows",
    "planted",
    "distracted",
]


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


def dense_weights_truth(h, w, c):
    """Weights (no biases) of a dense layer from an h×w×c image to one of the same size, by convkit.shapes."""
    from convkit import shapes

    return shapes.dense_parameter_count(h * w * c, h * w * c, bias=False)


def dense_memory_truth(h, w, c, dtype="float32"):
    """Bytes those dense weights take in ``dtype``, by convkit.shapes."""
    from convkit import shapes

    return shapes.memory_bytes(dense_weights_truth(h, w, c), dtype)


def conv_params_truth(c, d, h, w):
    """Parameters (weights and biases) of ``nn.Conv2d(c, d, (h, w))``, counted by torch."""
    import torch.nn as nn

    return sum(p.numel() for p in nn.Conv2d(c, d, (h, w)).parameters())


def largest_side_truth(budget_bytes: int, channels: int) -> int:
    """Largest side n with the float32 dense weights of an n×n×channels image within budget."""
    n = 0
    while dense_memory_truth(n + 1, n + 1, channels, "float32") <= budget_bytes:
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


def dilated_truth(u, dilation):
    """The zero-inserted kernel, read off F.conv1d with dilation: its response to each unit impulse."""
    import torch
    import torch.nn.functional as F

    u = torch.as_tensor(np.asarray(u, dtype=np.float64))
    span = dilation * (len(u) - 1) + 1
    impulses = torch.eye(span, dtype=torch.float64)[:, None, :]
    return F.conv1d(impulses, u[None, None], dilation=dilation)[:, 0, 0].numpy()


def noise_truth(kernel, sigma):
    """Standard deviation of one output for independent noise of std ``sigma``: sqrt(sum w²)·σ, by hand."""
    return float(np.sqrt(np.sum(np.square(kernel))) * sigma)


def ncc_truth(window, patch) -> float:
    """Pearson's correlation of two arrays of the same shape (NumPy's corrcoef)."""
    return float(np.corrcoef(np.ravel(window), np.ravel(patch))[0, 1])


# ---------------------------------------------------------------- wrong results of several notebooks


def unread_windows(n, k, s, p, d, windows):
    """Inputs no window reads when ``windows`` windows are computed (some misconceptions count wrong)."""
    read = {o * s - p + j * d for o in range(windows) for j in range(k)}
    return [i for i in range(n) if i not in read]


# ---------------------------------------------------------------- fixtures shared with the hidden checks


def planted(seed: int, shape=(20, 24), where=(7, 13), size=(4, 5)) -> tuple:
    """A noisy non-negative image with a copy of a template pasted at ``where``."""
    rng = np.random.default_rng(seed)
    image = rng.random(shape) * 0.5
    template = rng.random(size)
    r, c = where
    image[r : r + size[0], c : c + size[1]] = template
    return image, template


def distracted(seed: int, shape=(18, 22), where=(10, 3), size=(3, 4), loud=(1, 12)) -> tuple:
    """``planted``, plus a brighter patch elsewhere that plain correlation prefers."""
    image, template = planted(seed, shape, where, size)
    r, c = loud
    bright = 3.0 + np.random.default_rng(seed + 1).random((size[0] + 1, size[1] + 1))
    image[r : r + size[0] + 1, c : c + size[1] + 1] = bright
    return image, template
