"""Generate the exercise notebooks from the solutions: ``make exercises``.

In a code cell of ``solutions/NN_name.ipynb``, the lines between ``### BEGIN SOLUTION``
and ``### END SOLUTION`` (nbgrader's markers, at any indentation) are replaced by
``# YOUR CODE HERE`` and ``raise NotImplementedError`` at the marker's indentation.
Outputs are cleared, execution counts set to None, cell ids kept as in the solution, so
the result is byte-for-byte the same on every run and a test can compare ``exercises/``
with a fresh generation.

The notebook metadata is what JupyterLab writes (its kernelspec, the language without
the Python version, which Lab fills in from the running kernel), so that opening an
exercise does not change it, plus the notebook's identity, which the grader reads to
recognise a notebook whatever the student named the file::

    "convkit": {"notebook": "02_convolution_1d", "version": "3f2a9c0d1b7e"}

``version`` is the first 12 hex digits of the SHA-256 of the exercise's cells (their
types and sources): two students with the same version worked on the same text.

``python -m convkit.grade.generate [SOLUTIONS] [EXERCISES]`` (defaults ``solutions``
and ``exercises``); ``--check`` only reports whether EXERCISES is up to date.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["IDENTITY", "LAB_KERNELSPEC", "strip_solutions", "exercise_text", "generate", "main"]

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
#: the key of the notebook metadata that holds an exercise's identity
IDENTITY = "convkit"
#: the kernelspec JupyterLab writes for the default Python kernel (any other value is rewritten on save)
LAB_KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


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


def exercise_text(solution_text: str, stem: str) -> str:
    """The exercise notebook (JSON text) for a solution notebook (JSON text) named ``stem`` (no ``.ipynb``)."""
    import nbformat

    notebook = nbformat.reads(solution_text, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source)
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    notebook.metadata.get("language_info", {}).pop("version", None)
    notebook.metadata["kernelspec"] = dict(LAB_KERNELSPEC)
    cells = json.dumps([[cell.cell_type, cell.source] for cell in notebook.cells], ensure_ascii=False)
    version = hashlib.sha256(cells.encode("utf-8")).hexdigest()[:12]
    notebook.metadata[IDENTITY] = {"notebook": stem, "version": version}
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
        text = exercise_text(path.read_text(encoding="utf-8"), path.stem)
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
