"""Command line of the grader.

``python -I -m convkit.grade SUBMISSIONS --out grades.csv [--jobs N] [--timeout S] [--shard K/N]``
grades a class; ``python -I -m convkit.grade merge SHARD.csv ... --out grades.csv`` combines
shard runs, after checking each against the grader's record beside it;
``python -I -m convkit.grade --check-sandbox`` prints what isolation this machine supports.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

__all__ = ["main", "parser", "merge_parser", "preload"]


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"shard must look like K/N (for example 3/10), got {text!r}"
        ) from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"shard must be K/N with 1 <= K <= N, got {text!r}")
    return k, n


def _at_least(low: float, kind=int):
    """An argparse type: a number (int or float) no smaller than ``low``; the flag is named by argparse."""

    def convert(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not value >= low:
            raise argparse.ArgumentTypeError(f"must be at least {low:g}, got {text}")
        return value

    convert.__name__ = kind.__name__
    return convert


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _notebooks(text: str) -> tuple[str, ...]:
    """``02,03`` or ``02-04`` (or ``2,3``): those exercise notebooks, by their number."""
    from convkit.grade.model import NOTEBOOKS

    numbers: list[int] = []
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            numbers += range(int(low), int(high or low) + 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must look like 02,03 or 02-04, got {text!r}") from None
    by_number = {int(name[:2]): name for name in NOTEBOOKS}
    unknown = [n for n in numbers if n not in by_number]
    if unknown or not numbers:
        raise argparse.ArgumentTypeError(
            f"must name notebooks among {min(by_number):02d}-{max(by_number):02d}, got {text!r}"
        )
    return tuple(by_number[n] for n in sorted(set(numbers)))


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m convkit.grade``."""
    p = argparse.ArgumentParser(
        prog="python -I -m convkit.grade",
        description="Grade exercise notebooks: SUBMISSIONS holds one folder per student, "
        "each with some or all of the exercise notebooks, under any name, in subfolders or zip files. "
        "Use `python -I -m convkit.grade merge --help` to combine shard runs.",
    )
    p.add_argument("submissions", nargs="?", help="folder of student folders")
    p.add_argument("--out", default="grades.csv", help="CSV to write (default: grades.csv)")
    p.add_argument("--jobs", type=_at_least(1), default=2, help="students graded at once (default: 2)")
    p.add_argument(
        "--timeout", type=_positive, default=10.0, help="seconds for one cell or one check (default: 10)"
    )
    p.add_argument(
        "--notebook-timeout",
        type=_positive,
        default=120.0,
        metavar="SECONDS",
        help="seconds one notebook may take in all, however many cells it has (default: 120)",
    )
    p.add_argument(
        "--deadline",
        type=_positive,
        default=None,
        metavar="SECONDS",
        help="seconds the whole run may take; students not finished are graded by a rerun",
    )
    p.add_argument(
        "--memory",
        type=_at_least(64),
        default=2048,
        metavar="MB",
        help="memory one notebook's sandbox may use (default: 2048)",
    )
    p.add_argument(
        "--checks",
        default=None,
        metavar="DIR",
        help="folder of questions_NN.py with the hidden checks (default: tests/grading)",
    )
    p.add_argument(
        "--feedback",
        default=None,
        metavar="DIR",
        help="folder for the <student>.md feedback files (default: feedback/ next to --out)",
    )
    p.add_argument(
        "--format",
        action="append",
        choices=("markdown", "text", "gradescope"),
        default=None,
        help="feedback format: markdown (<student>.md), text (<student>.txt, plain text with "
        "nothing escaped, for an LMS comment box) or gradescope (gradescope/<student>/results.json "
        "next to --out); repeat to write several (default: markdown)",
    )
    p.add_argument(
        "--hidden-visibility",
        choices=("visible", "after_due_date", "after_published", "hidden"),
        default="after_due_date",
        help="Gradescope visibility of the tests of hidden checks; public checks stay visible "
        "(default: after_due_date, so that resubmitting cannot probe the hidden checks before "
        "the deadline, and students still see them once it has passed)",
    )
    p.add_argument(
        "--notebooks",
        type=_notebooks,
        default=None,
        metavar="LIST",
        help="grade only these notebooks, by number: 02,03 or 02-04 (max and totals count only them)",
    )
    p.add_argument(
        "--shard",
        type=_shard,
        default=None,
        metavar="K/N",
        help="grade only the K-th of N fixed parts of the class (merge them afterwards)",
    )
    p.add_argument(
        "--partial-credit",
        action="store_true",
        help="give a question its points times the share of its checks passed "
        "(default: all or nothing per question)",
    )
    p.add_argument(
        "--restart",
        action="store_true",
        help="grade everyone again instead of keeping students an interrupted run finished",
    )
    p.add_argument(
        "--unsafe-process-sandbox",
        action="store_true",
        help="where Linux namespaces are unavailable, grade with process limits only "
        "(student code can then read the grader's files; every output says so)",
    )
    p.add_argument("--check-sandbox", action="store_true", help="print what isolation this machine supports")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def merge_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -I -m convkit.grade merge",
        description="Combine the CSVs of shard runs (and the feedback/ and gradescope/ folders beside them).",
    )
    p.add_argument("shards", nargs="+", help="the grades CSV of each shard run (its .record.json beside it)")
    p.add_argument("--out", default="grades.csv", help="merged CSV (default: grades.csv)")
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="merge even if some shards of N are missing (they are named on stderr and in the class report)",
    )
    return p


def preload() -> None:
    """Import everything grading needs before any student code runs (nothing is imported lazily later)."""
    import csv  # noqa: F401
    import warnings

    import matplotlib
    import nbformat
    import nbformat.validator  # noqa: F401
    import tqdm  # noqa: F401
    import traitlets.config  # noqa: F401

    matplotlib.use("Agg")  # the class report's histogram
    import matplotlib.pyplot  # noqa: F401

    import convkit.grade.classgrader  # noqa: F401
    import convkit.grade.classreport  # noqa: F401
    import convkit.grade.questions  # noqa: F401
    import convkit.grade.report  # noqa: F401

    # A notebook with an unknown key takes nbformat's warning and validation paths: walk them now.
    probe = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {
                "cell_type": "code",
                "id": "a",
                "source": "",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
                "unknown_key": 1,
            }
        ],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            nbformat.reads(json.dumps(probe), as_version=4)
        except Exception:
            pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the grader; print where the results are. Returns the exit status."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # before grading began (imports, the forkserver's start): nothing to keep
        print("\nstopped by Ctrl-C before any student was graded", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["merge"]:
        return _merge(argv[1:])
    args = parser().parse_args(argv)
    from convkit.grade.sandbox import SandboxError, capabilities, choose_level

    if args.check_sandbox:
        found = capabilities()
        for key, value in found.items():
            print(f"{key:16} {value}")
        return 0 if found["level"] == "namespaces" else 1
    if args.submissions is None:
        parser().print_usage(sys.stderr)
        print("error: SUBMISSIONS is required", file=sys.stderr)
        return 2
    preload()
    from convkit.grade.classgrader import DeadlinePassed, Interrupted, default_checks_dir, grade_class

    try:
        level = choose_level(args.unsafe_process_sandbox)
    except SandboxError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if level != "namespaces":
        print("warning: grading WITHOUT namespace isolation (--unsafe-process-sandbox)", file=sys.stderr)
    checks = args.checks or default_checks_dir()
    if checks is None:
        print(
            "warning: no hidden checks found (pass --checks DIR); grading with the public checks only",
            file=sys.stderr,
        )
    try:
        grade_class(
            args.submissions,
            args.out,
            jobs=args.jobs,
            timeout=args.timeout,
            memory_mb=args.memory,
            notebook_timeout=args.notebook_timeout,
            deadline=args.deadline,
            checks_dir=checks,
            feedback_dir=args.feedback,
            restart=args.restart,
            progress=not args.no_progress,
            level=level,
            shard=args.shard,
            formats=tuple(args.format or ("markdown",)),
            notebooks=args.notebooks,
            partial_credit=args.partial_credit,
            hidden_visibility=args.hidden_visibility,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except DeadlinePassed as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    except Interrupted as error:
        print(f"\n{error}", file=sys.stderr)
        return 128 + error.signum
    return 0


def _merge(argv: list[str]) -> int:
    from convkit.grade.report import merge

    args = merge_parser().parse_args(argv)
    try:
        merged = merge(args.shards, args.out, allow_partial=args.allow_partial)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # the output folder cannot be written
        print(
            f"error: {error.filename or args.out}: {error.strerror or type(error).__name__}", file=sys.stderr
        )
        return 2
    from pathlib import Path

    from convkit.grade import classreport
    from convkit.grade.classgrader import default_checks_dir, load_questions

    if merged.missing:
        print(
            f"warning: shard(s) {', '.join(merged.missing)} missing: merged without their students",
            file=sys.stderr,
        )
    # The report counts the questions the shards' CSV has columns for.
    questions = [q for q in load_questions(default_checks_dir()) if q.id in merged.record["columns"]]
    classreport.write(
        Path(args.out).resolve().parent,
        merged.rows,
        questions,
        None,
        merged.misconceptions,
        merged.missing,
        partial=merged.record["scoring"] == "partial credit",
    )
    print(
        f"merged {len(merged.rows)} students from {len(args.shards)} shard(s) -> {args.out}", file=sys.stderr
    )
    return 0
