"""Time ``convkit.reference.conv2d`` against torch and against its own floor.

Run ``python -m convkit.bench`` (or ``make bench``).  Everything runs in this
process on the same float32 inputs, with the same number of threads for NumPy's
BLAS and for torch (``--threads``, default 1).  On one thread each call is timed
in CPU time of this process (``time.process_time``), which other programs on a
busy machine do not inflate; with more threads, in wall time.  The calls being
compared are timed in turn, round after round, so a slow moment hits all of them;
each figure is a median over ``--repeats`` rounds after a warm-up.

* ``torch``: ``torch.nn.functional.conv2d``.
* ``convkit``: :func:`convkit.reference.conv2d`.
* ``floor``: the bare matrix product convkit's algorithm is built on, at the
  same shapes, ``(D, C k k) @ (N, C k k, H_out W_out)`` on windows already laid
  out: no design that copies windows and then multiplies can beat it.
* ``backward``: :func:`convkit.reference.conv2d_backward` against torch's
  autograd backward of the same call (the graph built once, only the backward timed).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
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


def _time_case(case: Case, rng: np.random.Generator, repeats: int, clock) -> dict[str, float]:
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
    kernels = w.reshape(case.D, -1)
    columns = rng.standard_normal((case.N, kernels.shape[1], gy[0, 0].size)).astype(np.float32)

    def torch_forward():
        with torch.no_grad():
            return F.conv2d(xt, wt, bt, **args)

    return median_seconds(
        {
            "torch": torch_forward,
            "convkit": lambda: conv2d(x, w, b, **args),
            "floor": lambda: kernels @ columns,
            "torch backward": lambda: torch.autograd.grad(yt, (xt, wt, bt), gyt, retain_graph=True),
            "convkit backward": lambda: conv2d_backward(gy, x, w, **args),
        },
        repeats,
        clock,
    )


def run(repeats: int = 20, threads: int = 1) -> list[tuple[Case, dict[str, float]]]:
    """Time every case; print a table and return ``(case, {name: seconds})`` rows."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(threads)
    clock, kind = (time.process_time, "CPU") if threads == 1 else (time.perf_counter, "wall")
    rng = np.random.default_rng(0)
    print(
        f"torch {torch.__version__}, numpy {np.__version__}, {threads} thread(s); "
        f"median of {repeats} rounds, float32, {kind} milliseconds"
    )
    print(
        f"{'case':<24}{'torch':>8}{'convkit':>9}{'floor':>8}{'/floor':>8}{'/torch':>8}"
        f" | {'backward: torch':>16}{'convkit':>9}{'/torch':>8}"
    )
    rows = []
    for case in CASES:
        t = _time_case(case, rng, repeats, clock)
        rows.append((case, t))
        ms = {name: seconds * 1e3 for name, seconds in t.items()}
        print(
            f"{case.name:<24}{ms['torch']:>8.2f}{ms['convkit']:>9.2f}{ms['floor']:>8.2f}"
            f"{t['convkit'] / t['floor']:>8.2f}{t['convkit'] / t['torch']:>8.2f}"
            f" | {ms['torch backward']:>16.2f}{ms['convkit backward']:>9.2f}"
            f"{t['convkit backward'] / t['torch backward']:>8.2f}"
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed rounds per median (default 20)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch threads (default 1)")
    options = parser.parse_args(argv)
    run(options.repeats, options.threads)


if __name__ == "__main__":
    main()
