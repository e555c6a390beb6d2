"""Time ``convkit.reference.conv2d`` against ``torch.nn.functional.conv2d``.

Run ``python -m convkit.bench`` (or ``make bench``).  Both run in this process
on the same float32 inputs; each figure is the median over ``--repeats`` calls
after a warm-up, and the ratio is convkit's median over torch's.

The ``GEMM ms`` column times the matrix product alone, at the shapes convkit's
single contraction uses ``(D, C k k) @ (N, C k k, H_out W_out)``: no design
that copies windows and then multiplies can be faster than it.
"""
from __future__ import annotations

import argparse
import time
from typing import Callable, NamedTuple

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
    Case("3x3, padding 1", 64, 16, 32, 28, 28, 3, padding=1),
    Case("3x3, stride 2", 64, 16, 32, 28, 28, 3, stride=2, padding=1),
    Case("3x3, dilation 2", 64, 16, 32, 28, 28, 3, padding=2, dilation=2),
)


def median_seconds(call: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``call()`` over ``repeats`` runs, after one warm-up run."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def run(repeats: int = 50) -> list[tuple[Case, float, float]]:
    """Return ``(case, convkit seconds, torch seconds)`` for every case, and print a table."""
    import torch
    import torch.nn.functional as F

    from convkit.reference import conv2d

    rng = np.random.default_rng(0)
    rows = []
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {repeats} calls")
    print(f"{'case':<18} {'convkit ms':>11} {'torch ms':>9} {'ratio':>6} {'GEMM ms':>8}")
    for case in CASES:
        x = rng.standard_normal((case.N, case.C, case.H, case.W)).astype(np.float32)
        w = rng.standard_normal((case.D, case.C, case.k, case.k)).astype(np.float32)
        b = rng.standard_normal(case.D).astype(np.float32)
        args = dict(stride=case.stride, padding=case.padding, dilation=case.dilation)
        xt, wt, bt = map(torch.from_numpy, (x, w, b))
        ours = median_seconds(lambda: conv2d(x, w, b, **args), repeats)
        with torch.no_grad():
            theirs = median_seconds(lambda: F.conv2d(xt, wt, bt, **args), repeats)
        positions = int(np.prod(F.conv2d(xt[:1], wt, **args).shape[2:]))
        kernels = w.reshape(case.D, -1)
        columns = rng.standard_normal((case.N, kernels.shape[1], positions)).astype(np.float32)
        gemm = median_seconds(lambda: kernels @ columns, repeats)
        rows.append((case, ours, theirs))
        print(f"{case.name:<18} {ours * 1e3:>11.2f} {theirs * 1e3:>9.2f} {ours / theirs:>6.2f}"
              f" {gemm * 1e3:>8.2f}")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50, help="calls per median (default 50)")
    run(parser.parse_args(argv).repeats)


if __name__ == "__main__":
    main()
