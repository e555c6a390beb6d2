"""Grading tests: ``pytest tests/grading`` grades solutions/; ``--notebooks DIR`` grades DIR.

The session fixture ``graded`` runs every exercise notebook of the chosen folder once,
through the same sandbox and checks as ``python -m convkit.grade``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from convkit.grade.runner import NOTEBOOKS, Sandbox, _expected, grade_notebook, load_questions

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def pytest_addoption(parser):
    parser.addoption(
        "--notebooks",
        default=None,
        metavar="DIR",
        help="grade the exercise notebooks in DIR (default: solutions/)",
    )


@pytest.fixture(scope="session")
def questions():
    return load_questions(HERE)


def grade_folder(folder: Path, questions) -> dict:
    """Outcome of every question for the notebooks in ``folder`` (a missing one scores 0)."""
    expected = _expected(questions)
    outcomes = {}
    with Sandbox() as sandbox:
        for name in NOTEBOOKS:
            path = folder / name
            text = path.read_text(encoding="utf-8") if path.is_file() else None
            result = grade_notebook(
                sandbox,
                text,
                [q for q in questions if q.notebook == name],
                expected,
                timeout=20.0,
                memory_mb=1024,
            )
            outcomes.update(result.outcomes)
    return outcomes


@pytest.fixture(scope="session")
def graded(request, questions):
    folder = request.config.getoption("notebooks", default=None) or ROOT / "solutions"
    return grade_folder(Path(folder), questions)
