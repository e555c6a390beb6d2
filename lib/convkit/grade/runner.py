"""Grade a class of submissions: sandboxed runs, strict comparison, CSV and feedback.

The grading process (this module) is the only one that knows the checks' expected
values. It starts one zygote (:mod:`convkit.grade.sandbox`) per run and sends it one
job per notebook; student code only ever runs in the zygote's forked children.

Limits, all derived from ``timeout`` (seconds, default 10):

- a code cell, or one call of a graded answer, gets ``timeout`` seconds: a ``SIGALRM``
  in the child interrupts it, and if the student code ignores that, the grader kills
  the child at ``timeout + grace`` and starts it again *without* that cell (or from the
  next check), so one bad cell costs only what it breaks;
- a notebook gets ``timeout × (code cells + checks)`` seconds of wall time in total,
  restarts included (and the same in CPU seconds per child, ``RLIMIT_CPU``);
- memory: ``memory_mb`` on top of the address space the child inherits (``RLIMIT_AS``).

Every submission is read into memory before any student code runs, each child works
in its own empty temporary directory, and the CSV and feedback files are rewritten
atomically (``os.replace``) from the grader's own results after every student and
at the end, so a file written by student code next to the grades, or into another
student's folder, changes nothing. A student that already has a complete row in an
existing CSV is not graded again (resume after an interruption).
"""
from __future__ import annotations

import concurrent.futures
import csv
import importlib.util
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from convkit.grade.codec import decode, encode
from convkit.grade.model import NOTEBOOKS, Check, Outcome, Question, describe, verdict

__all__ = ["Sandbox", "load_questions", "default_checks_dir", "grade_notebook", "grade_class",
           "NOTEBOOKS"]

_MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
_MAX_REPLY_BYTES = 256 * 1024 * 1024


def default_checks_dir() -> Path | None:
    """``tests/grading`` of the repository convkit is installed from, if it is there."""
    candidate = Path(__file__).resolve().parents[3] / "tests" / "grading"
    return candidate if candidate.is_dir() else None


def load_questions(checks_dir: str | os.PathLike | None = None) -> list[Question]:
    """Every question with its public checks and, from ``checks_dir``, its hidden ones.

    ``checks_dir`` holds ``questions_NN.py`` files, each defining ``HIDDEN``: a dict from
    question id to a list of :class:`Check`. Without it only the public checks grade.
    """
    from convkit.grade.public import QUESTIONS

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


def _scrubbed_environment(home: str) -> dict[str, str]:
    library = str(Path(__file__).resolve().parents[2])
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home,
        "MPLCONFIGDIR": home, "LANG": "C.UTF-8", "PYTHONPATH": library,
        "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
        "CONVKIT_OFFLINE": "1", "CONVKIT_GRADING": "1",
    }


class Sandbox:
    """The zygote process, and a way to start one job in a fresh child of it.

    Use as a context manager; :meth:`start` returns the read end of the job's pipe.
    """

    def __init__(self) -> None:
        self._home = tempfile.TemporaryDirectory(prefix="convkit-grade-")
        ours, theirs = socket.socketpair()
        self._socket = ours
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "convkit.grade.zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], env=_scrubbed_environment(self._home.name),
            cwd=self._home.name, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        ours.settimeout(300)
        try:
            ready = ours.recv(1)
        except socket.timeout:
            ready = b""
        ours.settimeout(None)
        if ready != b"R":
            self.process.kill()
            raise RuntimeError("the grading sandbox did not start (try: python -m convkit.grade.zygote)")

    def start(self, job: dict) -> int:
        payload = json.dumps(job).encode()
        read_end, write_end = os.pipe()
        try:
            with self._lock:
                socket.send_fds(self._socket, [len(payload).to_bytes(8, "big")], [write_end])
                self._socket.sendall(payload)
        finally:
            os.close(write_end)
        return read_end

    def close(self) -> None:
        self._socket.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._home.cleanup()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _kill_group(pid: int | None) -> None:
    if pid is None:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _Reader:
    """JSON lines from a job's pipe, each within a deadline; untrusted input throughout."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buffer, self.total, self.closed = fd, b"", 0, False

    def next(self, deadline: float) -> dict | str:
        """The next message, or "eof" / "timeout" / "garbage" (too much output); bad lines are skipped."""
        while True:
            while b"\n" not in self.buffer:
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
            line, self.buffer = self.buffer.split(b"\n", 1)
            try:
                message = json.loads(line)
            except ValueError:  # not ours: student code wrote into the pipe
                continue
            if type(message) is dict:
                return message


@dataclass
class _Probe:
    question: Question
    check: Check
    expected: object


@dataclass
class NotebookResult:
    """Outcomes of one notebook: per question, plus what went wrong in which cell."""

    outcomes: dict[str, Outcome]
    cell_errors: dict[int, str] = field(default_factory=dict)
    note: str = ""


def _code_cells(text: str) -> list[str]:
    import nbformat

    notebook = nbformat.reads(text, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def _expected(questions: Iterable[Question]) -> dict[tuple[str, int], object]:
    """Every check's expected value, computed once, in the grading process."""
    return {(q.id, k): c.expected_value() for q in questions for k, c in enumerate(q.checks)}


def grade_notebook(sandbox: Sandbox, text: str | None, questions: list[Question],
                   expected: dict, *, timeout: float = 10.0, memory_mb: int = 2048) -> NotebookResult:
    """Run one notebook (its JSON text) in a fresh child and judge its answers."""
    if text is None:
        return NotebookResult({q.id: Outcome(0, q.points, "notebook not submitted") for q in questions},
                              note="not submitted")
    try:
        cells = _code_cells(text)
    except Exception as error:  # any malformed file scores zero, never stops the run
        message = f"the notebook could not be read ({type(error).__name__})"
        return NotebookResult({q.id: Outcome(0, q.points, message) for q in questions}, note=message)

    probes = [_Probe(q, c, expected[(q.id, k)]) for q in questions for k, c in enumerate(q.checks)]
    budget = timeout * (len(cells) + len(probes))
    job = {"cells": cells, "timeout": timeout, "memory_mb": memory_mb,
           "cpu_seconds": int(budget) + 1,
           "checks": [{"name": p.question.name, "torch": p.check.torch,
                       "args": None if p.check.args is None else encode(tuple(p.check.args))}
                      for p in probes]}
    replies: dict[int, tuple[str, object]] = {}
    cell_errors: dict[int, str] = {}
    skip_cells: set[int] = set()
    grace = 1.0 + 0.25 * timeout
    notebook_deadline = time.monotonic() + budget
    note = ""
    while True:
        job.update(skip_cells=sorted(skip_cells), skip_checks=sorted(replies))
        fd = sandbox.start(job)
        reader, pid, step, finished = _Reader(fd), None, None, False
        try:
            step_deadline = time.monotonic() + 30.0  # the fork itself; generous under load
            while True:
                message = reader.next(min(step_deadline, notebook_deadline))
                if isinstance(message, str):
                    break
                event = message.get("event")
                if event == "start" and pid is None and type(message.get("pid")) is int:
                    pid = message["pid"]
                elif event in ("cell", "check") and type(message.get("index")) is int:
                    step = (event, message["index"])
                    step_deadline = time.monotonic() + timeout + grace
                elif event == "cell_done" and step == ("cell", message.get("index")):
                    if message.get("error"):
                        cell_errors[step[1]] = str(message["error"])[:500]
                    step = None
                elif event == "result" and step == ("check", message.get("index")):
                    index = step[1]
                    if "error" in message:
                        replies[index] = ("error", str(message["error"])[:500])
                    else:
                        try:
                            replies[index] = ("value", decode(message.get("value")))
                        except Exception as error:
                            replies[index] = ("error", f"the result could not be read: {error}")
                    step = None
                elif event == "end" and len(replies) == len(probes):
                    finished = True  # an "end" forged by student code earlier is ignored
                    break
        finally:
            _kill_group(pid)
            os.close(fd)
        if finished:
            break
        if time.monotonic() >= notebook_deadline:
            note = f"the notebook went over its time limit of {budget:.0f} s"
            break
        why = {"timeout": f"timed out (over {timeout:g} s, killed)",
               "eof": "ended the process", "garbage": "sent unreadable output"}[message]
        if step is None:  # died between steps: nothing left to skip, so stop retrying
            note = f"the notebook {why} outside any cell"
            break
        kind, index = step
        if kind == "cell":
            skip_cells.add(index)
            cell_errors[index] = why
        else:
            replies[index] = ("error", why)
    outcomes = {q.id: _judge(q, [(k, p) for k, p in enumerate(probes) if p.question is q], replies, note)
                for q in questions}
    return NotebookResult(outcomes, cell_errors, note)


def _call_text(name: str, args) -> str:
    if args is None:
        return name
    return f"{name}({', '.join(describe(a, 40) for a in args)})"


def _judge(question: Question, probes: list[tuple[int, _Probe]], replies: dict, note: str) -> Outcome:
    for number, (index, probe) in enumerate(probes, start=1):
        label = ("hidden check" if probe.check.hidden else "check") + f" {number}"
        if probe.check.note:
            label += f" ({probe.check.note})"
        call = _call_text(question.name, probe.check.args)
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


def _header(questions: list[Question]) -> list[str]:
    return ["student", "total", "max"] + [q.id for q in questions]


def _row(student: str, results: dict[str, NotebookResult], questions: list[Question]) -> dict:
    points = {q.id: results[q.notebook].outcomes[q.id].points for q in questions}
    row = {"student": student, "total": _number(sum(points.values())),
           "max": sum(q.points for q in questions)}
    row.update({qid: _number(value) for qid, value in points.items()})
    return row


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(float(value), 3)


def _feedback(student: str, results: dict[str, NotebookResult], questions: list[Question], row: dict) -> str:
    lines = [f"# Feedback for {student}", "", f"Total: **{row['total']} / {row['max']}**", ""]
    for name in NOTEBOOKS:
        result = results[name]
        mine = [q for q in questions if q.notebook == name]
        if not mine:
            continue
        got = sum(result.outcomes[q.id].points for q in mine)
        lines += [f"## {name}: {_number(got)} / {sum(q.points for q in mine)}", ""]
        if result.note == "not submitted":
            lines += [f"Not found in your submission: `{name}` (its questions score 0).", ""]
            continue
        if result.note:
            lines += [f"Note: {result.note}.", ""]
        for q in mine:
            outcome = result.outcomes[q.id]
            mark = "✓" if outcome.points == outcome.max else "✗"
            text = f"- {mark} **{q.id}** `{q.name}`: {_number(outcome.points)} / {outcome.max}"
            if outcome.message:
                text += f" — {outcome.message}"
            lines.append(text)
        if result.cell_errors:
            lines += ["", "Cells that failed (code cells counted from 0):", ""]
            lines += [f"- cell {index}: `{error.splitlines()[-1] if error else error}`"
                      for index, error in sorted(result.cell_errors.items())]
        lines.append("")
    return "\n".join(lines)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _csv_text(rows: dict[str, dict], header: list[str]) -> str:
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for student in sorted(rows):
        writer.writerow(rows[student])
    return buffer.getvalue()


def _previous_rows(out: Path, header: list[str], questions: list[Question]) -> dict[str, dict]:
    """Complete, consistent rows of an earlier run with the same questions (else nothing)."""
    try:
        with open(out, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames != header:
                return {}
            rows = {}
            for row in reader:
                try:
                    points = [float(row[q.id]) for q in questions]
                    consistent = (abs(sum(points) - float(row["total"])) < 1e-6
                                  and int(row["max"]) == sum(q.points for q in questions))
                except (TypeError, ValueError, KeyError):
                    continue
                if consistent and row["student"]:
                    rows[row["student"]] = {k: row[k] for k in header}
            return rows
    except (OSError, csv.Error, UnicodeDecodeError):
        return {}


def grade_class(submissions: str | os.PathLike, out: str | os.PathLike = "grades.csv", *,
                jobs: int = 2, timeout: float = 10.0, memory_mb: int = 2048,
                checks_dir: str | os.PathLike | None = None, feedback_dir: str | os.PathLike | None = None,
                restart: bool = False, progress: bool = True) -> dict[str, dict]:
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
        Memory a student's process may allocate.
    checks_dir : path, optional
        Where the hidden checks are (default: the repository's ``tests/grading``).
    feedback_dir : path, optional
        One ``<student>.md`` per student (default: ``feedback/`` next to ``out``).
    restart : bool
        Grade everyone again instead of keeping the complete rows already in ``out``.
    progress : bool
        Show a progress bar (tqdm) on stderr.

    Returns
    -------
    dict
        Student name to CSV row (values as written).
    """
    from tqdm import tqdm

    submissions, out = Path(submissions).resolve(), Path(out).resolve()
    if not submissions.is_dir():
        raise ValueError(f"submissions must be a folder of student folders, got {str(submissions)!r}")
    if jobs < 1 or timeout <= 0 or memory_mb < 64:
        raise ValueError(f"need jobs >= 1, timeout > 0 and memory_mb >= 64 "
                         f"(got jobs={jobs}, timeout={timeout}, memory_mb={memory_mb})")
    feedback_dir = Path(feedback_dir).resolve() if feedback_dir else out.parent / "feedback"
    if checks_dir is None:
        checks_dir = default_checks_dir()
    questions = load_questions(checks_dir)
    header = _header(questions)
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    rows = {} if restart else {s: r for s, r in _previous_rows(out, header, questions).items()
                               if s in students}
    todo = [s for s in students if s not in rows]
    # Read every submission before any student code runs: later writes change nothing.
    texts = {s: _read_submission(submissions / s) for s in todo}
    expected = _expected(questions)
    feedback: dict[str, str] = {}

    def grade_one(student: str):
        results = {name: grade_notebook(sandbox, texts[student][name],
                                        [q for q in questions if q.notebook == name], expected,
                                        timeout=timeout, memory_mb=memory_mb)
                   for name in NOTEBOOKS}
        row = _row(student, results, questions)
        return student, row, _feedback(student, results, questions, row)

    _write_atomically(out, _csv_text(rows, header))
    with Sandbox() as sandbox, tqdm(total=len(todo), desc="grading", unit="student",
                                    disable=not progress, file=sys.stderr) as bar:
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            for future in concurrent.futures.as_completed([pool.submit(grade_one, s) for s in todo]):
                student, row, text = future.result()
                rows[student], feedback[student] = row, text
                _write_atomically(feedback_dir / f"{student}.md", text)
                _write_atomically(out, _csv_text(rows, header))
                bar.update(1)
    # Every child is dead now: write once more over anything student code wrote meanwhile.
    for student, text in feedback.items():
        _write_atomically(feedback_dir / f"{student}.md", text)
    _write_atomically(out, _csv_text(rows, header))
    return rows
