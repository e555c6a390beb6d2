"""Generate the exercise notebooks from the solutions: ``make exercises``.

In a code cell of ``solutions/NN_name.ipynb``, the lines between ``### BEGIN SOLUTION``
and ``### END SOLUTION`` (nbgrader's markers, at any indentation) are replaced by
``# YOUR CODE HERE`` and ``raise NotImplementedError`` at the marker's indentation.
Outputs are cleared, execution counts set to None, cell ids and notebook metadata kept
as in the solution (minus the Python version), so the result is byte-for-byte the
same on every run and a test can compare ``exercises/`` with a fresh generation.

``python -m convkit.grade.generate [SOLUTIONS] [EXERCISES]`` (defaults ``solutions``
and ``exercises``); ``--check`` only reports whether EXERCISES is up to date.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["strip_solutions", "exercise_text", "generate", "main"]

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def strip_solutions(source: str) -> str:
    """Replace every marked region of one cell's source by the student's placeholder.

    Raises
    ------
    ValueError
        If the markers are unbalanced (an END without BEGIN, or a BEGIN never closed).

    Examples
    --------
    >>> print(strip_solutions("def f(x):\\n    ### BEGIN SOLUTION\\n    return 2 * x\\n    ### END SOLUTION"))
    def f(x):
        # YOUR CODE HERE
        raise NotImplementedError
    """
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.split("\n"), start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"line {number}: {BEGIN} inside another solution region")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError"]
        elif stripped == END:
            if not inside:
                raise ValueError(f"line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} never closed by {END}")
    return "\n".join(out)


def exercise_text(solution_text: str) -> str:
    """The exercise notebook (JSON text) for a solution notebook (JSON text)."""
    import nbformat

    notebook = nbformat.reads(solution_text, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source)
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    notebook.metadata.get("language_info", {}).pop("version", None)
    return nbformat.writes(notebook) + "\n"


def generate(
    solutions: str | Path = "solutions", exercises: str | Path = "exercises", *, check: bool = False
) -> list[str]:
    """Write (or with ``check``, compare) ``exercises/NN_name.ipynb`` for every solution.

    Returns the names of the notebooks that were out of date (all of them written
    unless ``check``).
    """
    solutions, exercises = Path(solutions), Path(exercises)
    stale = []
    for path in sorted(solutions.glob("[0-9][0-9]_*.ipynb")):
        text = exercise_text(path.read_text(encoding="utf-8"))
        target = exercises / path.name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            stale.append(path.name)
            if not check:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m convkit.grade.generate", description=__doc__.split("\n")[0])
    p.add_argument("solutions", nargs="?", default="solutions")
    p.add_argument("exercises", nargs="?", default="exercises")
    p.add_argument("--check", action="store_true", help="only report notebooks that are out of date")
    args = p.parse_args(argv)
    stale = generate(args.solutions, args.exercises, check=args.check)
    verb = "out of date" if args.check else "written"
    print(f"{len(stale)} exercise notebook(s) {verb}" + (f": {', '.join(stale)}" if stale else ""))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
