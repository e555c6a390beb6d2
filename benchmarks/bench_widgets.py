"""How live do the explorer and the stepper feel? Time slider moves through the real widgets.

Each update goes through the path a notebook user triggers: a slider's value
is set, the widget computes its state, redraws into the figure it keeps,
renders it to PNG bytes for its ``Image`` and rewrites its ``HTML``. The
script prints the median and 90th percentile per widget, then runs 1,000
more updates per widget and compares the number of live Python allocations
and the process RSS before and after (and, with ``--tracemalloc``, the
Python heap), to show nothing accumulates.

Run from the repository root (about a minute)::

    python benchmarks/bench_widgets.py            # 200 timed updates per widget
    python benchmarks/bench_widgets.py --updates 500 --memory-updates 2000
    python benchmarks/bench_widgets.py --tracemalloc   # slower, exact heap growth

The exit status is 1 if a median exceeds the budget (50 ms) or memory grows
by more than the allowed amount, so CI can run it as a check.
"""
from __future__ import annotations

import argparse
import gc
import itertools
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator

import matplotlib

matplotlib.use("Agg")

from convkit.widgets.explorer import explorer  # noqa: E402
from convkit.widgets.stepper import EXAMPLES, stepper  # noqa: E402

BUDGET_MS = 50.0
# One leaked figure per update would add thousands of blocks and megabytes.
BLOCK_GROWTH_LIMIT = 2000
RSS_GROWTH_LIMIT_MB = 5.0
HEAP_GROWTH_LIMIT_MB = 1.0
WARM_UP = 300


def _explorer_moves() -> tuple[object, Iterator[Callable[[], None]]]:
    """Slider moves a user might make: sizes, kernel, padding, stride, dilation, output cell."""
    w = explorer()
    c = w.controls
    script = (
        [("height", v) for v in (8, 12, 16, 20, 24, 20, 16, 12)]
        + [("width", v) for v in (10, 15, 20, 25, 30, 25, 20, 15)]
        + [("kernel_h", 5), ("kernel_w", 5), ("kernel_h", 3), ("kernel_w", 3)]
        + [("padding_h", 1), ("padding_w", 2), ("padding_h", 0), ("padding_w", 0)]
        + [("stride_h", 2), ("stride_w", 3), ("stride_h", 1), ("stride_w", 1)]
        + [("dilation_h", 2), ("dilation_w", 4), ("dilation_h", 1), ("dilation_w", 1)]
        + [("in_channels", 16), ("out_channels", 32), ("in_channels", 3), ("out_channels", 1)]
        + [("row", v) for v in (1, 2, 3, 4, 3, 2)]
        + [("col", v) for v in (1, 2, 3, 4, 3, 2)]
    )

    def moves() -> Iterator[Callable[[], None]]:
        for name, value in itertools.cycle(script):
            def move(name=name, value=value) -> None:
                c[name].value = min(value, c[name].max)
            yield move
    return w, moves()


def _stepper_moves() -> tuple[object, Iterator[Callable[[], None]]]:
    """Play steps through the 2d example, with a stride or padding change now and then."""
    w = stepper()
    c = w.controls
    c["example"].value = list(EXAMPLES)[2]

    def moves() -> Iterator[Callable[[], None]]:
        for k in itertools.count():
            if k % 25 == 24:  # a settings change: new layout, new output size
                def move(k=k) -> None:
                    c["padding_w"].value = 1 + (k // 25) % 2
            else:
                def move() -> None:
                    c["play"].value = (c["play"].value + 1) % (c["play"].max + 1)
            yield move
    return w, moves()


def _time(moves: Iterator[Callable[[], None]], count: int) -> list[float]:
    times = []
    for move in itertools.islice(moves, count):
        start = time.perf_counter()
        move()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _memory(moves: Iterator[Callable[[], None]], count: int,
            trace: bool) -> tuple[int, float, float | None]:
    """Growth over ``count`` updates after a warm-up: allocated blocks, RSS (MB), heap (MB).

    ``sys.getallocatedblocks`` counts live Python allocations at no cost: a
    leaked figure would add thousands per update. The heap is measured with
    tracemalloc only when ``trace`` is set, as tracing slows every update
    several times; it then starts before the warm-up, because bounded caches
    (fonts, text layouts) recycle entries and an entry allocated before
    tracing would look like growth when it is replaced.
    """
    gc.collect()
    if trace:
        tracemalloc.start()
    for move in itertools.islice(moves, WARM_UP):
        move()
    gc.collect()
    blocks, rss = sys.getallocatedblocks(), _rss_mb()
    heap = tracemalloc.get_traced_memory()[0] if trace else 0
    for move in itertools.islice(moves, count):
        move()
    gc.collect()
    blocks, rss = sys.getallocatedblocks() - blocks, _rss_mb() - rss
    if not trace:
        return blocks, rss, None
    heap = (tracemalloc.get_traced_memory()[0] - heap) / 2**20
    tracemalloc.stop()
    return blocks, rss, heap


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=200, help="timed updates per widget")
    parser.add_argument("--memory-updates", type=int, default=1000,
                        help="updates per widget for the memory check")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also measure the Python heap with tracemalloc (slow)")
    args = parser.parse_args(argv)
    makers = (("explorer", _explorer_moves), ("stepper", _stepper_moves))

    print(f"{'widget':<10} {'updates':>7} {'median ms':>10} {'p90 ms':>8} {'max ms':>8}")
    ok = True
    for name, make in makers:
        _, moves = make()
        _time(moves, 20)  # warm caches (fonts, layouts) before measuring
        times = sorted(_time(moves, args.updates))
        median = statistics.median(times)
        p90 = times[int(0.9 * (len(times) - 1))]
        ok &= median < BUDGET_MS
        print(f"{name:<10} {len(times):>7} {median:>10.1f} {p90:>8.1f} {times[-1]:>8.1f}")

    print(f"\nmemory over {args.memory_updates} updates (after {WARM_UP} warm-up updates)")
    print(f"{'widget':<10} {'blocks':>8} {'RSS MB':>8} {'heap MB':>8}")
    for name, make in makers:
        _, moves = make()
        blocks, rss, heap = _memory(moves, args.memory_updates, args.tracemalloc)
        ok &= blocks < BLOCK_GROWTH_LIMIT and rss < RSS_GROWTH_LIMIT_MB
        if heap is not None:
            ok &= heap < HEAP_GROWTH_LIMIT_MB
        heap_text = "-" if heap is None else f"{heap:+.2f}"
        print(f"{name:<10} {blocks:>+8d} {rss:>+8.1f} {heap_text:>8}")

    print(f"\nbudget: median < {BUDGET_MS:.0f} ms per update; growth < "
          f"{BLOCK_GROWTH_LIMIT} blocks, < {RSS_GROWTH_LIMIT_MB} MB RSS"
          + (f", < {HEAP_GROWTH_LIMIT_MB} MB heap" if args.tracemalloc else ""))
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
