"""Time ``convkit.reference`` against torch and against its own floor, as a student meets it.

Run ``python -m convkit.bench`` (or ``make bench``).  Everything runs in this
process on the same float32 inputs, twice: on one thread (NumPy's BLAS and torch
alike), timed in CPU time of this process (``time.process_time``), which other
programs on a busy machine do not inflate; then with the threads both libraries
start with on this machine, timed on the wall clock, which is what a student
waits for.  The calls being compared are timed in turn, round after round, so a
slow moment hits all of them; each figure is a median over ``--repeats`` rounds
after a warm-up.

* ``torch``: ``torch.nn.functional.conv2d``; for the backward, torch's autograd
  backward of the same call (the graph built once, only the backward timed).
* ``convkit``: :func:`convkit.reference.conv2d` and :func:`convkit.reference.conv2d_backward`.
* ``floor``: the bare matrix products convkit's algorithm is built on, at the
  same shapes, on windows already laid out: no design that copies windows and
  then multiplies can beat them.  Forward ``(D, C k k) @ (N, C k k, H_out W_out)``;
  backward the weight gradient ``(D, N H_out W_out) @ (N H_out W_out, C k k)``
  and the input's columns ``(C k k, D) @ (D, N H_out W_out)``.
* ``training step``: one step of notebook 07's capstone, the small CNN
  (a 5 x 5 convolution with stride 2 from 1 to 4 channels, a ReLU, a linear layer to
  10 classes) on a batch of 16 digits: forward, cross-entropy, backward and a
  gradient-descent update, with its convolution by ``convkit.reference`` inside a
  ``torch.autograd.Function`` as in the notebook, or by ``nn.Conv2d``.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np

__all__ = ["Case", "CASES", "median_seconds", "run"]


class Case(NamedTuple):
    """One benchmark call: input ``(N, C, H, W)``, ``D`` kernels of size ``k x k``."""

    name: str
    N: int
    C: int
    D: int
    H: int
    W: int
    k: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1


CASES = (
    Case("64x16->32 28x28 k3 p1", 64, 16, 32, 28, 28, 3, padding=1),
    Case("  ... stride 2", 64, 16, 32, 28, 28, 3, stride=2, padding=1),
    Case("  ... dilation 2", 64, 16, 32, 28, 28, 3, padding=2, dilation=2),
    Case("1x3->8 256x256 k5", 1, 3, 8, 256, 256, 5),
)


def median_seconds(
    calls: dict[str, Callable[[], object]], repeats: int, clock: Callable[[], float] = time.perf_counter
) -> dict[str, float]:
    """Median time of each call over ``repeats`` rounds, the calls timed in turn each round.

    Every call runs once first, untimed, as a warm-up.
    """
    for call in calls.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = clock()
            call()
            times[name].append(clock() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


@contextlib.contextmanager
def _threads(count: int | None) -> Iterator[None]:
    """Run NumPy's BLAS and torch on ``count`` threads (``None``: as they start)."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    with threadpool_limits(count, user_api="blas"):
        torch.set_num_threads(count or before)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def _case_calls(case: Case, rng: np.random.Generator) -> dict[str, Callable[[], object]]:
    import torch
    import torch.nn.functional as F

    from convkit.reference import conv2d, conv2d_backward

    x = rng.standard_normal((case.N, case.C, case.H, case.W)).astype(np.float32)
    w = rng.standard_normal((case.D, case.C, case.k, case.k)).astype(np.float32)
    b = rng.standard_normal(case.D).astype(np.float32)
    args = dict(stride=case.stride, padding=case.padding, dilation=case.dilation)
    xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    yt = F.conv2d(xt, wt, bt, **args)
    gy = rng.standard_normal(yt.shape).astype(np.float32)
    gyt = torch.from_numpy(gy)
    kernels = w.reshape(case.D, -1)  # (D, C k k)
    positions = gy[0, 0].size
    columns = rng.standard_normal((case.N, kernels.shape[1], positions)).astype(np.float32)
    gy_rows = np.ascontiguousarray(gy.transpose(1, 0, 2, 3)).reshape(case.D, -1)  # (D, N positions)
    windows = rng.standard_normal((case.N * positions, kernels.shape[1])).astype(np.float32)

    def torch_forward():
        with torch.no_grad():
            return F.conv2d(xt, wt, bt, **args)

    return {
        "torch": torch_forward,
        "convkit": lambda: conv2d(x, w, b, **args),
        "floor": lambda: kernels @ columns,
        "torch backward": lambda: torch.autograd.grad(yt, (xt, wt, bt), gyt, retain_graph=True),
        "convkit backward": lambda: conv2d_backward(gy, x, w, **args),
        "floor backward": lambda: (gy_rows @ windows, kernels.T @ gy_rows),
    }


def _training_steps(rng: np.random.Generator) -> dict[str, Callable[[], object]]:
    """One step of notebook 07's capstone CNN, its convolution by convkit or by ``nn.Conv2d``."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    from convkit import reference

    class ReferenceConv2dFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, weight, bias, stride):
            ctx.save_for_backward(x, weight)
            ctx.stride = stride
            y = reference.conv2d(x.numpy(), weight.detach().numpy(), bias.detach().numpy(), stride=stride)
            return torch.from_numpy(y)

        @staticmethod
        def backward(ctx, grad_y):
            x, weight = ctx.saved_tensors
            grads = reference.conv2d_backward(grad_y.numpy(), x.numpy(), weight.numpy(), stride=ctx.stride)
            return *(torch.from_numpy(g) for g in grads), None

    class ReferenceConv2d(nn.Conv2d):
        def forward(self, x):
            return ReferenceConv2dFunction.apply(x, self.weight, self.bias, self.stride)

    def small_cnn(conv_class):
        torch.manual_seed(0)
        return nn.Sequential(
            conv_class(1, 4, kernel_size=5, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 12 * 12, 10)
        )

    digits = torch.from_numpy(rng.random((16, 1, 28, 28), dtype=np.float32))
    labels = torch.from_numpy(rng.integers(0, 10, 16))

    def step(net):
        loss = F.cross_entropy(net(digits), labels)
        net.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in net.parameters():
                p -= 0.01 * p.grad

    nets = {"step convkit": small_cnn(ReferenceConv2d), "step torch": small_cnn(nn.Conv2d)}
    return {name: (lambda net=net: step(net)) for name, net in nets.items()}


def _table(rows: list[tuple[str, dict[str, float]]], kind: str) -> None:
    print(
        f"{'':<24}{'forward: torch':>15}{'convkit':>9}{'floor':>8}{'/floor':>8}{'/torch':>8}"
        f" | {'backward: torch':>16}{'convkit':>9}{'floor':>8}{'/floor':>8}{'/torch':>8}"
    )
    for name, t in rows:
        ms = {key: seconds * 1e3 for key, seconds in t.items()}
        print(
            f"{name:<24}{ms['torch']:>15.2f}{ms['convkit']:>9.2f}{ms['floor']:>8.2f}"
            f"{t['convkit'] / t['floor']:>8.2f}{t['convkit'] / t['torch']:>8.2f}"
            f" | {ms['torch backward']:>16.2f}{ms['convkit backward']:>9.2f}{ms['floor backward']:>8.2f}"
            f"{t['convkit backward'] / t['floor backward']:>8.2f}{t['convkit backward'] / t['torch backward']:>8.2f}"
        )


def run(repeats: int = 20) -> dict[str, list[tuple[str, dict[str, float]]]]:
    """Time every case and the training step on one thread, then on the default threads.

    Prints one table per setting and returns ``{setting: [(case name, {call: seconds})]}``.
    """
    import torch
    from threadpoolctl import threadpool_info

    blas = max((lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"), default=1)
    settings = {
        "1 thread": (1, time.process_time, "CPU"),
        f"default threads (torch {torch.get_num_threads()}, NumPy's BLAS {blas})": (
            None,
            time.perf_counter,
            "wall",
        ),
    }
    print(f"torch {torch.__version__}, numpy {np.__version__}; median of {repeats} rounds, float32")
    results = {}
    for setting, (count, clock, kind) in settings.items():
        rng = np.random.default_rng(0)
        rows = []
        with _threads(count):
            for case in CASES:
                rows.append((case.name, median_seconds(_case_calls(case, rng), repeats, clock)))
            steps = median_seconds(_training_steps(rng), repeats, clock)
        print(f"\n{setting}, {kind} milliseconds")
        _table(rows, kind)
        print(
            f"training step, notebook 07's CNN on 16 digits: convkit {steps['step convkit'] * 1e3:.2f},"
            f" nn.Conv2d {steps['step torch'] * 1e3:.2f} ({steps['step convkit'] / steps['step torch']:.2f}x)"
        )
        results[setting] = rows + [("training step", steps)]
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed rounds per median (default 20)")
    options = parser.parse_args(argv)
    run(options.repeats)


if __name__ == "__main__":
    main()
