"""Grade a class: each notebook in its own sandbox, answers judged here, results written atomically.

The grading process (this module) is the only one that knows the checks' expected
values. It starts one warm helper (:class:`convkit.grade.sandbox.Sandbox`) per run and
asks it for one sandbox per notebook; student code only ever runs in those.

Time limits, from ``timeout`` (seconds, default 10) and ``notebook_timeout``:

- a code cell, or one call of a graded answer, gets ``timeout`` seconds: a ``SIGALRM``
  in the sandbox interrupts it, and if the student code ignores that, the grader kills
  the sandbox at ``timeout + grace`` and starts it again *without* that cell (or from
  the next check), so one bad cell costs only what it breaks;
- a notebook gets at most ``notebook_timeout`` seconds of wall time in total, restarts
  included, however many cells it has;
- the whole run may get a ``deadline``: students not finished by then are not
  recorded, and a rerun grades them (resume).

The results channel is read strictly (:class:`_Reader`): bounded line length and
nesting, new data only searched for line ends, anything else skipped. Checks run one
at a time on the grader's command, and only the reply that repeats the check's index
and a fresh random nonce counts.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import importlib.util
import json
import os
import secrets
import select
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from convkit.grade import report
from convkit.grade.call import call_text, check_label, not_allowed
from convkit.grade.codec import decode, encode
from convkit.grade.model import NOTEBOOKS, Check, Outcome, Question, verdict
from convkit.grade.report import NotebookResult
from convkit.grade.sandbox import Limits, Sandbox

__all__ = [
    "load_questions",
    "default_checks_dir",
    "grade_notebook",
    "grade_class",
    "select_shard",
    "NOTEBOOKS",
    "NotebookResult",
    "Sandbox",
]

_MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
_MAX_REPLY_BYTES = 256 * 1024 * 1024
_MAX_LINE_BYTES = 96 * 1024 * 1024
_START_SECONDS = 10.0  # the fork and the mounts take well under a second, even under load


def default_checks_dir() -> Path | None:
    """``tests/grading`` of the repository convkit is installed from, if it is there."""
    candidate = Path(__file__).resolve().parents[3] / "tests" / "grading"
    return candidate if candidate.is_dir() else None


def load_questions(checks_dir: str | os.PathLike | None = None) -> list[Question]:
    """Every question with its public checks and, from ``checks_dir``, its hidden ones.

    ``checks_dir`` holds ``questions_NN.py`` files, each defining ``HIDDEN``: a dict from
    question id to a list of :class:`Check`. Without it only the public checks grade.
    """
    from convkit.grade.questions import QUESTIONS

    hidden: dict[str, list[Check]] = {}
    if checks_dir is not None:
        for path in sorted(Path(checks_dir).glob("questions_*.py")):
            spec = importlib.util.spec_from_file_location(f"_convkit_checks_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            for qid, checks in getattr(module, "HIDDEN", {}).items():
                hidden.setdefault(qid, []).extend(checks)
    known = {q.id for q in QUESTIONS}
    unknown = sorted(set(hidden) - known)
    if unknown:
        raise ValueError(f"hidden checks name unknown questions {unknown} (known: {sorted(known)})")
    return [q.with_hidden(hidden.get(q.id, [])) for q in QUESTIONS]


class SandboxBroken(RuntimeError):
    """The sandbox itself failed before any student code ran."""


# --------------------------------------------------------------------------- the results channel


def loads_bounded(line: bytes) -> object:
    """``json.loads`` for untrusted lines: refuses lines too long or nested too deeply (ValueError).

    The C decoder guards its own recursion, so a line nested 100,000 deep ends in a
    ``RecursionError`` at once, turned here into a refusal. (A regular expression that
    skips strings to measure the nesting first would need memory in proportion to the
    longest string: gigabytes for an embedded array.)

    >>> loads_bounded(b'{"a": [1, 2]}')
    {'a': [1, 2]}
    """
    if len(line) > _MAX_LINE_BYTES:
        raise ValueError("line too long")
    try:
        return json.loads(line)
    except RecursionError as error:
        raise ValueError("nested too deeply") from error


class _Reader:
    """JSON lines from a job's results pipe, each within a deadline; untrusted input throughout."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buffer, self.scanned, self.total, self.closed = fd, bytearray(), 0, 0, False

    def next(self, deadline: float) -> dict | str:
        """The next message, or "eof" / "timeout" / "garbage" (too much output); bad lines are skipped."""
        while True:
            end = self.buffer.find(b"\n", self.scanned)
            while end < 0:
                self.scanned = len(self.buffer)  # never search the same bytes twice
                if self.scanned > _MAX_LINE_BYTES:
                    return "garbage"
                if self.closed:
                    return "eof"
                left = deadline - time.monotonic()
                if left <= 0:
                    return "timeout"
                ready, _, _ = select.select([self.fd], [], [], left)
                if not ready:
                    return "timeout"
                chunk = os.read(self.fd, 1 << 20)
                if not chunk:
                    self.closed = True
                    continue
                self.total += len(chunk)
                if self.total > _MAX_REPLY_BYTES:
                    return "garbage"
                self.buffer += chunk
                end = self.buffer.find(b"\n", self.scanned)
            line = bytes(self.buffer[:end])
            del self.buffer[: end + 1]
            self.scanned = 0
            try:
                message = loads_bounded(line)
            except ValueError:  # not ours: student code wrote into the pipe
                continue
            if type(message) is dict:
                return message


# --------------------------------------------------------------------------- one notebook


@dataclass
class _Probe:
    question: Question
    check: Check | None  # None: read the question's free-text justification
    expected: object


def _code_cells(text: str) -> list[str]:
    import nbformat

    notebook = nbformat.reads(text, as_version=4)
    cells = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    if not all(type(source) is str for source in cells):
        raise ValueError("a code cell's source is not text")
    return cells


def _expected(questions: Iterable[Question]) -> dict[tuple[str, int], object]:
    """Every check's expected value, computed once, in the grading process."""
    return {(q.id, k): c.expected_value() for q in questions for k, c in enumerate(q.checks)}


def _zero(questions: list[Question], message: str) -> dict[str, Outcome]:
    return {q.id: Outcome(0, q.points, message) for q in questions}


def grade_notebook(
    sandbox: Sandbox,
    text: str | None,
    questions: list[Question],
    expected: dict,
    *,
    timeout: float = 10.0,
    notebook_timeout: float = 120.0,
    memory_mb: int | None = None,
    deadline: float | None = None,
) -> NotebookResult:
    """Run one notebook (its JSON text) in a fresh sandbox and judge its answers.

    ``deadline`` is a ``time.monotonic()`` value the notebook may not outlive.
    Never raises for anything the notebook does.
    """
    if text is None:
        return NotebookResult(_zero(questions, "notebook not submitted"), note="not submitted")
    try:
        cells = _code_cells(text)
    except Exception as error:  # any malformed file scores zero, never stops the run
        message = f"the notebook could not be read ({type(error).__name__})"
        return NotebookResult(_zero(questions, message), note=message)
    try:
        return _run_notebook(
            sandbox, cells, questions, expected, timeout, notebook_timeout, memory_mb, deadline
        )
    except SandboxBroken as error:
        message = f"grading failed: {error}; ask your instructor to regrade"
        return NotebookResult(_zero(questions, message), note=message)
    except Exception as error:  # a bug or a broken helper must cost one notebook, not the run
        message = f"grading failed ({type(error).__name__}); ask your instructor to regrade"
        return NotebookResult(_zero(questions, message), note=message)


def _run_notebook(
    sandbox, cells, questions, expected, timeout, notebook_timeout, memory_mb, deadline
) -> NotebookResult:
    probes = [_Probe(q, c, expected[(q.id, k)]) for q in questions for k, c in enumerate(q.checks)]
    probes += [_Probe(q, None, None) for q in questions if q.justification]
    cap = min(timeout * (len(cells) + len(probes)) + 5.0, notebook_timeout)
    notebook_deadline = time.monotonic() + cap
    if deadline is not None:
        notebook_deadline = min(notebook_deadline, deadline)
    limits = sandbox.limits if memory_mb is None else replace(sandbox.limits, memory_mb=memory_mb)
    limits = replace(limits, cpu_seconds=int(cap) + 1)
    replies: dict[int, tuple[str, object]] = {}
    forbidden: dict[int, str] = {}
    cell_errors: dict[int, str] = {}
    skip_cells: set[int] = set()
    grace = 1.0 + 0.25 * timeout
    note, starts = "", 0
    while True:
        job = sandbox.start(
            {"cells": cells, "timeout": timeout, "skip_cells": sorted(skip_cells)}, limits=limits
        )
        step, failure = None, None
        try:
            if not job.wait_started(min(_START_SECONDS, max(0.0, notebook_deadline - time.monotonic()))):
                failure = "no start"
            else:
                reader = _Reader(job.results)
                step, failure = _run_cells(reader, cell_errors, timeout, grace, notebook_deadline)
                if failure is None:
                    step, failure = _run_checks(
                        job, reader, probes, replies, forbidden, timeout, grace, notebook_deadline
                    )
                    if failure is None:
                        job.send({"end": True}, timeout=1.0)
        finally:
            job.close()
        if failure is None:
            break
        if failure == "no start":  # the helper is stopped or wedged: replace it and try again
            starts += 1
            if starts > 2 or time.monotonic() >= notebook_deadline:
                note = "the sandbox did not start"
                break
            sandbox.replace_helper()
            continue
        if time.monotonic() >= notebook_deadline:
            note = (
                f"the notebook went over its time limit of {cap:.0f} s"
                if deadline is None or time.monotonic() < deadline
                else "the run's deadline passed"
            )
            break
        why = {
            "timeout": f"timed out (over {timeout:g} s, killed)",
            "eof": "ended the process",
            "garbage": "sent unreadable output",
        }[failure]
        if step is None:  # died between steps: nothing left to skip, so stop retrying
            note = f"the notebook {why} outside any cell"
            break
        kind, index = step
        if kind == "cell":
            skip_cells.add(index)
            cell_errors[index] = why
        else:
            replies[index] = ("error", why)
    outcomes, justifications = {}, {}
    for q in questions:
        mine = [(k, p) for k, p in enumerate(probes) if p.question is q]
        outcomes[q.id] = _judge(q, [(k, p) for k, p in mine if p.check is not None], replies, forbidden, note)
        for k, p in mine:
            if p.check is None and replies.get(k, ("", None))[0] == "value" and type(replies[k][1]) is str:
                justifications[q.id] = replies[k][1]
    return NotebookResult(outcomes, cell_errors, note, justifications)


def _run_cells(reader, cell_errors, timeout, grace, notebook_deadline):
    """Follow the cells; returns (step, failure) with failure None once every cell has run."""
    step = None
    step_deadline = time.monotonic() + _START_SECONDS
    while True:
        message = reader.next(min(step_deadline, notebook_deadline))
        if isinstance(message, str):
            return step, message
        event, index = message.get("event"), message.get("index")
        if event == "sandbox_error" and step is None and not cell_errors:
            raise SandboxBroken(str(message.get("error"))[:300])
        if event == "cell" and type(index) is int:
            step = ("cell", index)
            step_deadline = time.monotonic() + timeout + grace
        elif event == "cell_done" and step == ("cell", index):
            if message.get("error"):
                cell_errors[index] = str(message["error"])[:500]
            step = None
            step_deadline = time.monotonic() + timeout + grace
        elif event == "cells_done" and step is None:
            return None, None


def _run_checks(job, reader, probes, replies, forbidden, timeout, grace, notebook_deadline):
    """Ask for each check in turn; accept only the reply that repeats its index and nonce."""
    for index, probe in enumerate(probes):
        if index in replies:
            continue
        nonce = secrets.token_hex(16)
        question = probe.question
        command = {"check": index, "nonce": nonce, "torch": False, "forbid": list(question.forbids)}
        if probe.check is None:
            command.update(name=question.justification, args=None)
        else:
            command.update(
                name=question.name,
                torch=probe.check.torch,
                args=None if probe.check.args is None else encode(tuple(probe.check.args)),
            )
        step = ("check", index)
        if not job.send(command, timeout=min(5.0, max(0.1, notebook_deadline - time.monotonic()))):
            return step, "timeout"
        step_deadline = time.monotonic() + 2 * timeout + grace  # the call, then its conversion
        while True:
            message = reader.next(min(step_deadline, notebook_deadline))
            if isinstance(message, str):
                return step, message
            if message.get("index") != index or message.get("nonce") != nonce:
                continue
            event = message.get("event")
            if event == "forbidden" and type(message.get("name")) is str:
                forbidden.setdefault(index, message["name"][:200])
            elif event == "result":
                if "error" in message:
                    replies[index] = ("error", str(message["error"])[:500])
                else:
                    try:
                        replies[index] = ("value", decode(message.get("value")))
                    except Exception as error:
                        replies[index] = ("error", f"the result could not be read ({type(error).__name__})")
                break
    return None, None


def _judge(
    question: Question, probes: list[tuple[int, _Probe]], replies: dict, forbidden: dict, note: str
) -> Outcome:
    for index, _ in probes:
        if index in forbidden:
            return Outcome(0, question.points, not_allowed(forbidden[index], question.why_forbidden))
    for number, (index, probe) in enumerate(probes, start=1):
        label = check_label(number, probe.check)
        call = question.name if probe.check.hidden else call_text(question.name, probe.check.args)
        if index not in replies:
            return Outcome(0, question.points, f"{label}: not run ({note or 'no answer'})")
        kind, value = replies[index]
        if kind == "error":
            return Outcome(0, question.points, f"{label}: {call} raised {value}")
        try:
            problem = verdict(question, probe.check, value, probe.expected)
        except Exception as error:  # a strange answer must not crash the comparison
            problem = f"the answer could not be compared ({type(error).__name__})"
        if problem:
            return Outcome(0, question.points, f"{label}: {call}: {problem}")
    return Outcome(question.points, question.points)


# --------------------------------------------------------------------------- the class


def _read_submission(folder: Path) -> dict[str, str | None]:
    texts: dict[str, str | None] = {}
    for name in NOTEBOOKS:
        path = folder / name
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_size <= _MAX_NOTEBOOK_BYTES:
                texts[name] = path.read_text(encoding="utf-8", errors="replace")
            else:
                texts[name] = None
        except OSError:
            texts[name] = None
    return texts


def select_shard(students: list[str], shard: tuple[int, int] | None) -> list[str]:
    """The students of shard ``(k, n)`` (1 ≤ k ≤ n): a fixed 1/n of them, by a hash of the name.

    >>> sorted(select_shard(["a", "b", "c"], (1, 2)) + select_shard(["a", "b", "c"], (2, 2)))
    ['a', 'b', 'c']
    """
    if shard is None:
        return list(students)
    k, n = shard
    if not (type(k) is int and type(n) is int and 1 <= k <= n):
        raise ValueError(f"shard must be K/N with 1 <= K <= N, got {k}/{n}")
    return [
        s for s in students if int.from_bytes(hashlib.sha256(s.encode()).digest()[:8], "big") % n == k - 1
    ]


def grade_class(
    submissions: str | os.PathLike,
    out: str | os.PathLike = "grades.csv",
    *,
    jobs: int = 2,
    timeout: float = 10.0,
    memory_mb: int = 2048,
    notebook_timeout: float = 120.0,
    deadline: float | None = None,
    checks_dir: str | os.PathLike | None = None,
    feedback_dir: str | os.PathLike | None = None,
    restart: bool = False,
    progress: bool = True,
    level: str = "namespaces",
    shard: tuple[int, int] | None = None,
    formats: tuple[str, ...] = ("markdown",),
) -> dict[str, dict]:
    """Grade every student folder in ``submissions``; write the CSV and the feedback files.

    Parameters
    ----------
    submissions : path
        One folder per student, holding some or all of the exercise notebooks.
    out : path
        The CSV: ``student,total,max`` then one column per question id.
    jobs : int
        Students graded at once.
    timeout : float
        Seconds for one cell or one call of a graded answer.
    memory_mb : int
        Memory one notebook's sandbox may use.
    notebook_timeout : float
        Seconds of wall time one notebook may take in all, however many cells it has.
    deadline : float, optional
        Seconds the whole run may take; students not finished are left for a rerun.
    checks_dir : path, optional
        Where the hidden checks are (default: the repository's ``tests/grading``).
    feedback_dir : path, optional
        One ``<student>.md`` per student (default: ``feedback/`` next to ``out``).
    restart : bool
        Grade everyone again instead of keeping the students an interrupted run finished.
    progress : bool
        Show a progress bar (tqdm) on stderr.
    level : {"namespaces", "process"}
        The isolation level (:mod:`convkit.grade.sandbox`); "process" is stated in every output.
    shard : (k, n), optional
        Grade only shard k of n (:func:`select_shard`); merge the outputs with
        ``python -m convkit.grade merge``.
    formats : tuple of {"markdown", "gradescope"}
        ``gradescope`` also writes ``gradescope/<student>/results.json`` next to ``out``.

    Returns
    -------
    dict
        Student name to CSV row (values as written).
    """
    from tqdm import tqdm

    submissions, out = Path(submissions).resolve(), Path(out).resolve()
    if not submissions.is_dir():
        raise ValueError(f"submissions must be a folder of student folders, got {str(submissions)!r}")
    if jobs < 1 or timeout <= 0 or memory_mb < 64 or notebook_timeout <= 0:
        raise ValueError(
            f"need jobs >= 1, timeout > 0, notebook_timeout > 0 and memory_mb >= 64 "
            f"(got jobs={jobs}, timeout={timeout}, notebook_timeout={notebook_timeout}, "
            f"memory_mb={memory_mb})"
        )
    unknown = set(formats) - {"markdown", "gradescope"}
    if unknown:
        raise ValueError(f"formats must be 'markdown' or 'gradescope', got {sorted(unknown)}")
    run_deadline = None if deadline is None else time.monotonic() + deadline
    feedback_dir = Path(feedback_dir).resolve() if feedback_dir else out.parent / "feedback"
    gradescope_dir = out.parent / "gradescope"
    if checks_dir is None:
        checks_dir = default_checks_dir()
    questions = load_questions(checks_dir)
    columns = report.header(questions, level)
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    students = select_shard(students, shard)
    state = report.ResumeState(out, questions, level)
    if restart:
        state.clear()
    finished = {s: v for s, v in state.load().items() if s in students}
    todo = [s for s in students if s not in finished]
    # Read every submission before any student code runs: later writes change nothing.
    texts = {s: _read_submission(submissions / s) for s in todo}
    expected = _expected(questions)

    def grade_one(student: str):
        results = {}
        for name in NOTEBOOKS:
            results[name] = grade_notebook(
                sandbox,
                texts[student][name],
                [q for q in questions if q.notebook == name],
                expected,
                timeout=timeout,
                notebook_timeout=notebook_timeout,
                deadline=run_deadline,
            )
            if run_deadline is not None and time.monotonic() >= run_deadline:
                return student, None
        values = report.row(student, results, questions, level)
        return student, {
            "row": values,
            "feedback": report.feedback(student, results, questions, values, level),
            "gradescope": report.gradescope(results, questions, values, level),
        }

    def write_student(student: str) -> None:
        record = finished[student]
        if "markdown" in formats:
            report.write_atomically(feedback_dir / f"{student}.md", record["feedback"])
        if "gradescope" in formats:
            report.write_atomically(
                gradescope_dir / student / "results.json", json.dumps(record["gradescope"], indent=1)
            )

    def write_csv() -> None:
        report.write_atomically(out, report.csv_text({s: r["row"] for s, r in finished.items()}, columns))

    state.start(finished)
    for student in finished:
        write_student(student)
    write_csv()
    with (
        Sandbox(level, Limits(memory_mb=memory_mb)) as sandbox,
        tqdm(total=len(todo), desc="grading", unit="student", disable=not progress, file=sys.stderr) as bar,
    ):
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            for count, future in enumerate(
                concurrent.futures.as_completed([pool.submit(grade_one, s) for s in todo]), start=1
            ):
                student, record = future.result()
                if record is not None:
                    finished[student] = record
                    state.add(student, record)
                    write_student(student)
                    if count % 20 == 0:
                        write_csv()
                bar.update(1)
    write_csv()
    missing = [s for s in students if s not in finished]
    if missing:
        raise DeadlinePassed(missing)
    return {s: finished[s]["row"] for s in students}


class DeadlinePassed(RuntimeError):
    """The run's deadline passed before every student was graded (the others are recorded)."""

    def __init__(self, students: list[str]) -> None:
        super().__init__(
            f"{len(students)} student(s) not graded before the deadline; "
            "run the same command again to grade them (finished students are kept)"
        )
        self.students = students
