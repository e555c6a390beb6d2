"""Time the grader on a synthetic class: ``python benchmarks/bench_grading.py [--students 100] [--jobs 2]``.

Builds a class in a temporary folder (six students in ten submit the solutions, two
the untouched exercises, two a partly done copy with one answer of each notebook
blanked), grades it with every exercise notebook and the hidden checks, and prints the
wall time, the time per student and per notebook, the time to start the sandbox's
forkserver, and the set-up cost of one notebook's sandbox (fork, namespaces, mounts, limits:
from the request to the empty notebook's end, median of 30).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import nbformat

from convkit.grade import wire
from convkit.grade.classgrader import NOTEBOOKS, Sandbox, grade_class
from convkit.grade.generate import strip_solutions

ROOT = Path(__file__).resolve().parents[1]


def _partly_done(text: str) -> str:
    """The solution with its first answer blanked."""
    notebook = nbformat.reads(text, as_version=4)
    cell = next(c for c in notebook.cells if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source)
    cell.source = strip_solutions(cell.source)
    return nbformat.writes(notebook)


def build_class(folder: Path, students: int) -> None:
    solutions = {name: (ROOT / "solutions" / name).read_text() for name in NOTEBOOKS}
    exercises = {name: (ROOT / "exercises" / name).read_text() for name in NOTEBOOKS}
    partial = {name: _partly_done(text) for name, text in solutions.items()}
    for number in range(students):
        kind = number % 10
        notebooks = solutions if kind < 6 else exercises if kind < 8 else partial
        student = folder / f"student{number:03d}"
        student.mkdir(parents=True)
        for name, text in notebooks.items():
            (student / name).write_text(text)


def setup_cost(repeats: int = 30) -> tuple[float, float]:
    """Median and 90th percentile (seconds) of one empty notebook's sandbox, start to finish."""
    times = []
    with Sandbox() as sandbox:
        for _ in range(repeats):
            start = time.perf_counter()
            job = sandbox.start({"cells": [], "timeout": 5.0, "skip_cells": []})
            try:
                assert job.wait_started(10.0), "the sandbox did not start"
                reader = wire.Reader(job.results)
                while True:
                    message = reader.next(time.monotonic() + 10)
                    assert not isinstance(message, str), message
                    if message.get("event") == wire.CELLS_DONE:
                        break
            finally:
                job.close()
            times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()

    start = time.perf_counter()
    with Sandbox():
        pass
    startup = time.perf_counter() - start

    median, p90 = setup_cost()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        build_class(folder, args.students)
        start = time.perf_counter()
        rows = grade_class(folder, Path(tmp) / "grades.csv", jobs=args.jobs, timeout=args.timeout)
        wall = time.perf_counter() - start
    assert len(rows) == args.students
    notebooks = args.students * len(NOTEBOOKS)
    print(f"sandbox forkserver start (imports torch once per run): {startup:.1f} s")
    print(
        f"one notebook's sandbox (fork, namespaces, mounts, limits): median {median * 1000:.0f} ms, "
        f"p90 {p90 * 1000:.0f} ms"
    )
    print(f"{args.students} students x {len(NOTEBOOKS)} notebooks, --jobs {args.jobs}: {wall:.1f} s wall")
    print(
        f"per student: {wall / args.students * args.jobs:.2f} s of a worker; "
        f"per notebook: {wall / notebooks * args.jobs * 1000:.0f} ms of a worker"
    )


if __name__ == "__main__":
    main()
