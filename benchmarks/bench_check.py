"""Time ``check()`` as a student meets it: ``python benchmarks/bench_check.py [--checks 100]``.

A student runs ``check`` again and again in one kernel. Each call watches the answer
for forbidden calls, and Python's audit hooks can never be removed, so a watcher that
added a hook per call would slow every later ``open``, ``import`` and ``exec`` in the
kernel. This prints the time of the first and of the last of ``--checks`` calls
(medians of five), the number of audit hooks the calls installed, and the time of
2,000 audit events (``compile`` calls) before the first and after the last call.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import time

import numpy as np


def _conv1d_by_hand(x, u):
    return np.array([np.dot(x[i : i + len(u)], u) for i in range(len(x) - len(u) + 1)])


def _audit_events(count: int = 2000) -> float:
    start = time.perf_counter()
    for _ in range(count):
        compile("1", "<bench>", "eval")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=100)
    args = parser.parse_args()

    installed = [0]
    add = sys.addaudithook

    def counting(hook):
        installed[0] += 1
        add(hook)

    sys.addaudithook = counting
    from convkit.grade.check import check

    events_before = statistics.median(_audit_events() for _ in range(5))
    times = []
    for _ in range(args.checks):
        with contextlib.redirect_stdout(io.StringIO()):
            start = time.perf_counter()
            check("02.q1", _conv1d_by_hand)
            times.append(time.perf_counter() - start)
    events_after = statistics.median(_audit_events() for _ in range(5))
    first, last = statistics.median(times[1:6]), statistics.median(times[-5:])
    print(
        f"check('02.q1') calls 2-6: median {first * 1000:.2f} ms; last five of {args.checks}: {last * 1000:.2f} ms"
    )
    print(f"audit hooks installed by {args.checks} checks: {installed[0]}")
    print(
        f"2,000 audit events: {events_before * 1000:.2f} ms before the first check, "
        f"{events_after * 1000:.2f} ms after the last"
    )


if __name__ == "__main__":
    main()
