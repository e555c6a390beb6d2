"""Time the grader on a six-student class as it arrives: ``python benchmarks/bench_grading_class.py``.

The class: one student correct throughout, one with a classic mistake in every question
(``tests/grading/answers.py``), one with a notebook missing, one whose browser saved
``02_convolution_1d (1).ipynb``, one who handed in a zip, and one with an endless loop in
an answer (every check of that question would run into the time limit) and a syntax
error in another. Prints the wall time of the whole class and of the endless-loop
student alone, with ``--jobs 2`` and ``--timeout 10`` as in the README.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat

from convkit.grade.classgrader import NOTEBOOKS, grade_class, load_questions

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.grading.answers import WRONG  # noqa: E402


def _answer_cell(notebook, name: str):
    """The solution cell that defines ``name``."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and "### BEGIN SOLUTION" in cell.source:
            if f"def {name}(" in cell.source or f"{name} =" in cell.source:
                return cell
    raise LookupError(name)


def _edited(text: str, replacements: dict[str, str]) -> str:
    notebook = nbformat.reads(text, as_version=4)
    for name, source in replacements.items():
        _answer_cell(notebook, name).source = source
    return nbformat.writes(notebook)


def build_class(folder: Path) -> None:
    """The six students, one folder each."""
    solutions = {name: (ROOT / "solutions" / name).read_text() for name in NOTEBOOKS}
    questions = load_questions()
    mistakes = {
        name: _edited(text, {q.name: WRONG[q.id][0][0] for q in questions if q.notebook == name})
        for name, text in solutions.items()
    }
    loop_question = next(q for q in questions if q.notebook == NOTEBOOKS[1] and q.kind == "implement")
    broken_question = next(q for q in questions if q.notebook == NOTEBOOKS[2])
    endless = dict(solutions)
    endless[NOTEBOOKS[1]] = _edited(
        solutions[NOTEBOOKS[1]],
        {loop_question.name: f"def {loop_question.name}(*args):\n    while True:\n        pass"},
    )
    endless[NOTEBOOKS[2]] = _edited(solutions[NOTEBOOKS[2]], {broken_question.name: "def (:\n    return"})
    classes = {
        "correct": solutions,
        "mistakes": mistakes,
        "missing": {name: text for name, text in solutions.items() if name != NOTEBOOKS[2]},
        "renamed": {
            (name.replace(".ipynb", " (1).ipynb") if name == NOTEBOOKS[1] else name): text
            for name, text in solutions.items()
        },
        "endless": endless,
    }
    for student, notebooks in classes.items():
        (folder / student).mkdir(parents=True)
        for name, text in notebooks.items():
            (folder / student / name).write_text(text)
    (folder / "zipped").mkdir()
    with zipfile.ZipFile(folder / "zipped" / "my-exercises.zip", "w") as archive:
        for name, text in solutions.items():
            archive.writestr(f"my-exercises/{name}", text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        build_class(folder)
        start = time.perf_counter()
        grade_class(
            folder, Path(tmp) / "class" / "grades.csv", jobs=args.jobs, timeout=args.timeout, progress=False
        )
        whole = time.perf_counter() - start
        alone = Path(tmp) / "alone"
        (alone / "endless").mkdir(parents=True)
        for path in (folder / "endless").iterdir():
            (alone / "endless" / path.name).write_bytes(path.read_bytes())
        start = time.perf_counter()
        grade_class(alone, Path(tmp) / "one" / "grades.csv", jobs=1, timeout=args.timeout, progress=False)
        single = time.perf_counter() - start
    print(f"six students, --jobs {args.jobs} --timeout {args.timeout:g}: {whole:.1f} s wall")
    print(f"the endless-loop student alone, --jobs 1: {single:.1f} s wall")


if __name__ == "__main__":
    main()
