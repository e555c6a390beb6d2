"""Command line of the grader: ``python -m convkit.grade SUBMISSIONS --out grades.csv``."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Sequence

__all__ = ["main", "parser"]


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m convkit.grade``."""
    p = argparse.ArgumentParser(
        prog="python -m convkit.grade",
        description="Grade exercise notebooks: SUBMISSIONS holds one folder per student, "
                    "each with some or all of the exercise notebooks under their file names.")
    p.add_argument("submissions", help="folder of student folders")
    p.add_argument("--out", default="grades.csv", help="CSV to write (default: grades.csv)")
    p.add_argument("--jobs", type=int, default=2, help="students graded at once (default: 2)")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds for one cell or one check; a notebook gets this times "
                        "(code cells + checks) (default: 10)")
    p.add_argument("--memory", type=int, default=2048, metavar="MB",
                   help="memory a student's process may allocate (default: 2048)")
    p.add_argument("--checks", default=None, metavar="DIR",
                   help="folder of questions_NN.py with the hidden checks (default: tests/grading)")
    p.add_argument("--feedback", default=None, metavar="DIR",
                   help="folder for the <student>.md feedback files (default: feedback/ next to --out)")
    p.add_argument("--restart", action="store_true",
                   help="grade everyone again instead of keeping complete rows already in --out")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the grader; print where the results are. Returns the exit status."""
    from convkit.grade.runner import default_checks_dir, grade_class

    args = parser().parse_args(argv)
    checks = args.checks or default_checks_dir()
    if checks is None:
        print("warning: no hidden checks found (pass --checks DIR); grading with the public checks only",
              file=sys.stderr)
    start = time.perf_counter()
    try:
        rows = grade_class(args.submissions, args.out, jobs=args.jobs, timeout=args.timeout,
                           memory_mb=args.memory, checks_dir=checks, feedback_dir=args.feedback,
                           restart=args.restart, progress=not args.no_progress)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"graded {len(rows)} students in {time.perf_counter() - start:.1f} s -> {args.out}",
          file=sys.stderr)
    return 0
