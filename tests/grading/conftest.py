"""Grading tests: ``pytest tests/grading`` grades solutions/; ``--notebooks DIR`` grades DIR.

The session fixture ``graded`` runs every exercise notebook of the chosen folder once,
through the same sandbox and checks as ``python -m convkit.grade``.

One warm forkserver per session
-------------------------------
Starting the grader's forkserver costs an interpreter that imports torch (seconds);
forking a notebook's sandbox from it costs milliseconds. So the grading tests share
one forkserver per isolation level for the whole session: the ``sandbox`` fixture hands
it to tests that call ``grade_notebook``, and every grading run made in this process
(``convkit.grade.cli.main``, ``classgrader.grade_class``) borrows it instead of starting
its own. Each notebook is still forked into fresh namespaces of its own, exactly as
in a real run; the forkserver never holds a check, an expected value or a student's code,
so nothing passes from one test to the next through it. A forkserver that a test stops
or kills is replaced by the next job, as in a real run.

The red team (``test_redteam.py``) keeps its isolation: it grades in separate
processes from copies of the library, and its forkserver test starts a forkserver of its own.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from convkit.grade import classgrader
from convkit.grade.classgrader import NOTEBOOKS, Sandbox, _expected, grade_notebook, load_questions
from convkit.grade.sandbox import Limits

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def pytest_addoption(parser):
    parser.addoption(
        "--notebooks",
        default=None,
        metavar="DIR",
        help="grade the exercise notebooks in DIR (default: solutions/)",
    )


class LentForkserver:
    """The session's forkserver lent to one grading run, with that run's limits.

    Leaving the run's ``with`` block leaves the forkserver running for the next run;
    everything else is the forkserver's own (:class:`convkit.grade.sandbox.Sandbox`).
    """

    def __init__(self, forkserver: Sandbox, limits: Limits) -> None:
        self._forkserver, self.limits = forkserver, limits

    def start(self, job: dict, limits: Limits | None = None):
        return self._forkserver.start(job, limits or self.limits)

    def __getattr__(self, name: str):
        return getattr(self._forkserver, name)

    def __enter__(self) -> LentForkserver:
        return self

    def __exit__(self, *exc) -> None:
        return None


@pytest.fixture(scope="session")
def forkservers():
    """The session's forkservers by isolation level, each started when first asked for."""
    servers: dict[str, Sandbox] = {}
    yield servers
    with ThreadPoolExecutor() as pool:  # each takes a moment to end: end them together
        list(pool.map(Sandbox.close, servers.values()))


def _forkserver(servers: dict[str, Sandbox], level: str = "namespaces") -> Sandbox:
    if level not in servers:
        servers[level] = Sandbox(level)
    return servers[level]


@pytest.fixture(scope="session")
def sandbox(forkservers) -> Sandbox:
    """The session's forkserver (namespaces): each notebook graded with it gets a fresh sandbox."""
    return _forkserver(forkservers)


@pytest.fixture(scope="session", autouse=True)
def _grading_runs_borrow_the_session_forkserver(forkservers):
    def lend(level: str = "namespaces", limits: Limits | None = None) -> LentForkserver:
        return LentForkserver(_forkserver(forkservers, level), limits or Limits())

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(classgrader, "Sandbox", lend)  # raises if the class grader no longer has that name
        yield


@pytest.fixture(scope="session")
def questions():
    return load_questions(HERE)


def grade_folder(folder: Path, questions, sandbox: Sandbox | None = None) -> dict:
    """Outcome of every question for the notebooks in ``folder`` (a missing one scores 0).

    Graded with ``sandbox`` (the session's forkserver, say), or with a forkserver of its own.
    """
    if sandbox is None:
        with Sandbox() as own:
            return grade_folder(folder, questions, own)
    expected = _expected(questions)
    outcomes = {}
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
def graded(request, questions, sandbox):
    folder = request.config.getoption("notebooks", default=None) or ROOT / "solutions"
    return grade_folder(Path(folder), questions, sandbox)
