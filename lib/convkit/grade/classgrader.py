"""Grade a class: each notebook in its own sandbox, answers judged here, results written atomically.

The grading process (this module) is the only one that knows the checks' expected
values. It starts one forkserver (:class:`convkit.grade.sandbox.Sandbox`) per run and
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

The results channel is read strictly (:class:`convkit.grade.wire.Reader`): bounded line length and
nesting, new data only searched for line ends, anything else skipped. Checks run one
at a time on the grader's command, and only the reply that repeats the check's index
and a fresh random nonce counts.
"""

from __future__ import annotations

import ast
import concurrent.futures
import hashlib
import importlib.util
import json
import os
import re
import secrets
import signal
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from convkit.grade import classreport, report
from convkit.grade.call import call_text, check_label, not_allowed
from convkit.grade.codec import decode, encode
from convkit.grade.handin import Handin, read_folder
from convkit.grade.history import defines
from convkit.grade.model import NOTEBOOKS, Check, Outcome, Question, diagnosis
from convkit.grade.report import NotebookResult
from convkit.grade.sandbox import Limits, Sandbox
from convkit.grade.wire import (
    CELL,
    CELL_DONE,
    CELLS_DONE,
    FORBIDDEN,
    RESULT,
    SANDBOX_ERROR,
    Reader,
    SandboxBroken,
)

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

#: what ``formats`` may ask for: Markdown feedback, plain-text feedback, Gradescope's results.json
FORMATS = ("markdown", "text", "gradescope")
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


@dataclass
class Submitted:
    """One notebook as read before any student code runs: its code cells, or why it is not graded.

    ``warnings`` holds what reading it made the grader's libraries say (nbformat's
    duplicate cell ids, ...): at most :data:`_MAX_WARNINGS` texts, and ``more`` counts the rest.
    """

    cells: list[str] | None
    note: str = ""
    warnings: list[str] = field(default_factory=list)
    more: int = 0


_MAX_WARNINGS = 1


def read_notebook(text: str | None) -> Submitted:
    """Parse one notebook's JSON text (None: not submitted); its warnings are kept, not printed.

    Call it from the main thread: the warnings filters it sets are process-wide.
    """
    import warnings

    if text is None:
        return Submitted(None, "not submitted")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cells, note = _code_cells(text), ""
        except Exception as error:  # any malformed file scores zero, never stops the run
            cells, note = None, f"the notebook could not be read ({type(error).__name__})"
    said = [f"{type(w.message).__name__}: {str(w.message)[:200]}" for w in caught[:_MAX_WARNINGS]]
    return Submitted(cells, note, said, max(0, len(caught) - _MAX_WARNINGS))


def grade_notebook(
    sandbox: Sandbox,
    text: str | Submitted | None,
    questions: list[Question],
    expected: dict,
    *,
    timeout: float = 10.0,
    notebook_timeout: float = 120.0,
    memory_mb: int | None = None,
    deadline: float | None = None,
    stopper: Stopper | None = None,
    partial_credit: bool = False,
) -> NotebookResult:
    """Run one notebook (its JSON text, or as :func:`read_notebook` read it) in a fresh sandbox
    and judge its answers.

    ``deadline`` is a ``time.monotonic()`` value the notebook may not outlive; a
    ``stopper`` that is stopped kills it at once. With ``partial_credit`` a question earns
    its points times the share of its checks that pass (else all or nothing). Never raises
    for anything the notebook does.
    """
    began = time.monotonic()
    result = _grade_notebook(
        sandbox,
        text,
        questions,
        expected,
        timeout,
        notebook_timeout,
        memory_mb,
        deadline,
        stopper,
        partial_credit,
    )
    result.seconds = round(time.monotonic() - began, 3)
    return result


def _grade_notebook(
    sandbox,
    text,
    questions,
    expected,
    timeout,
    notebook_timeout,
    memory_mb,
    deadline,
    stopper,
    partial_credit,
) -> NotebookResult:
    submitted = text if isinstance(text, Submitted) else read_notebook(text)
    if submitted.cells is None:
        return NotebookResult(_zero(questions, submitted.note), note=submitted.note)
    try:
        return _run_notebook(
            sandbox,
            submitted.cells,
            questions,
            expected,
            timeout,
            notebook_timeout,
            memory_mb,
            deadline,
            stopper,
            partial_credit,
        )
    except SandboxBroken as error:
        message = f"grading failed: {error}; ask your instructor to regrade"
        return NotebookResult(_zero(questions, message), note=message)
    except Exception as error:  # a bug or a broken forkserver must cost one notebook, not the run
        message = f"grading failed ({type(error).__name__}); ask your instructor to regrade"
        return NotebookResult(_zero(questions, message), note=message)


class Stopper:
    """Stops a run from another thread or a signal handler: no new sandbox starts, running ones are killed."""

    def __init__(self) -> None:
        self._event, self._lock, self._jobs = threading.Event(), threading.Lock(), set()
        self.signal: int | None = None

    @property
    def stopped(self) -> bool:
        return self._event.is_set()

    def stop(self, signum: int | None = None) -> None:
        self.signal = self.signal or signum
        self._event.set()
        with self._lock:
            jobs = list(self._jobs)
        for job in jobs:
            job.kill()

    def track(self, job) -> None:
        with self._lock:
            self._jobs.add(job)
        if self.stopped:  # stopped while this job was starting
            job.kill()

    def untrack(self, job) -> None:
        with self._lock:
            self._jobs.discard(job)


def _run_notebook(
    sandbox,
    cells,
    questions,
    expected,
    timeout,
    notebook_timeout,
    memory_mb,
    deadline,
    stopper=None,
    partial_credit=False,
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
        if stopper is not None and stopper.stopped:
            note = "the run was stopped"
            break
        job = sandbox.start(
            {"cells": cells, "timeout": timeout, "skip_cells": sorted(skip_cells)}, limits=limits
        )
        if stopper is not None:
            stopper.track(job)
        step, failure = None, None
        try:
            if not job.wait_started(min(_START_SECONDS, max(0.0, notebook_deadline - time.monotonic()))):
                failure = "no start"
            else:
                reader = Reader(job.results)
                step, failure = _run_cells(reader, cell_errors, timeout, grace, notebook_deadline)
                if failure is None:
                    step, failure = _run_checks(
                        job, reader, probes, replies, forbidden, timeout, grace, notebook_deadline
                    )
                    if failure is None:
                        job.send({"end": True}, timeout=1.0)
        finally:
            if stopper is not None:
                stopper.untrack(job)
            job.close()
        if failure is None:
            break
        if stopper is not None and stopper.stopped:
            note = "the run was stopped"
            break
        if failure == "no start":  # the forkserver is stopped or wedged: replace it and try again
            starts += 1
            if starts > 2 or time.monotonic() >= notebook_deadline:
                note = "the sandbox did not start"
                break
            sandbox.replace_forkserver()
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
            replies[index] = ("timeout" if failure == "timeout" else "error", why)
    outcomes, justifications = {}, {}
    blank_only = all(error.startswith(_BLANK) for error in cell_errors.values())
    for q in questions:
        mine = [(k, p) for k, p in enumerate(probes) if p.question is q]
        checks = [(k, p) for k, p in mine if p.check is not None]
        outcomes[q.id] = _judge(q, checks, replies, forbidden, note, timeout, blank_only, partial_credit)
        for k, p in mine:
            if p.check is None and replies.get(k, ("", None))[0] == "value" and type(replies[k][1]) is str:
                justifications[q.id] = replies[k][1]
    cheated = {p.question.id for k, p in enumerate(probes) if k in forbidden}
    outcomes = _with_causes(questions, outcomes, cells, cheated)
    lines = {index: _first_line(cells[index]) for index in cell_errors}
    return NotebookResult(outcomes, cell_errors, note, justifications, lines)


def _calls(cells: list[str], name: str, callee: str) -> bool:
    """Whether the latest cell that defines ``name`` uses the name ``callee`` in its definition
    (in the whole cell for a name not bound by ``def``; as text for a cell that does not parse)."""
    source = next((c for c in reversed(cells) if defines(c, name)), None)
    if source is None:
        return False
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return re.search(rf"\b{re.escape(callee)}\s*\(", source) is not None
    # Its own function's body; the whole cell for a name bound otherwise (a lambda, an alias).
    mine = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name] or [tree]
    return any(isinstance(n, ast.Name) and n.id == callee for body in mine for n in ast.walk(body))


def _with_causes(
    questions: list[Question], outcomes: dict[str, Outcome], cells: list[str], cheated: set[str]
) -> dict[str, Outcome]:
    """Each failed answer that calls the student's own answer to a question it uses
    (:attr:`Question.uses`), when that answer fails too, told so (and its ``cause`` set)."""
    by_id = {q.id: q for q in questions}
    for q in questions:
        outcome = outcomes[q.id]
        if outcome.points >= outcome.max or outcome.message == "not answered" or q.id in cheated:
            continue
        for used in (by_id[u] for u in q.uses if u in by_id):
            if outcomes[used.id].points < used.points and _calls(cells, q.name, used.name):
                message = (
                    f"uses your `{used.name}`, which fails {used.id}: fix that first ({outcome.message})"
                )
                outcomes[q.id] = replace(outcome, message=message, cause=used.id)
                break
    return outcomes


def _first_line(source: str) -> str:
    """The first line of a cell that is code (not blank, not a comment), to name the cell by."""
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    code = [line for line in lines if not line.startswith("#")]
    return (code or lines or [""])[0][:80]


def _run_cells(reader, cell_errors, timeout, grace, notebook_deadline):
    """Follow the cells; returns (step, failure) with failure None once every cell has run."""
    step = None
    step_deadline = time.monotonic() + _START_SECONDS
    while True:
        message = reader.next(min(step_deadline, notebook_deadline))
        if isinstance(message, str):
            return step, message
        event, index = message.get("event"), message.get("index")
        if event == SANDBOX_ERROR and step is None and not cell_errors:
            raise SandboxBroken(str(message.get("error"))[:300])
        if event == CELL and type(index) is int:
            step = ("cell", index)
            step_deadline = time.monotonic() + timeout + grace
        elif event == CELL_DONE and step == ("cell", index):
            if message.get("error"):
                cell_errors[index] = str(message["error"])[:500]
            step = None
            step_deadline = time.monotonic() + timeout + grace
        elif event == CELLS_DONE and step is None:
            return None, None


def _run_checks(job, reader, probes, replies, forbidden, timeout, grace, notebook_deadline):
    """Ask for each check in turn; accept only the reply that repeats its index and nonce.

    Once a check of a question has timed out, the question's other checks are not asked
    (each could cost another timeout): they count as failed, all or nothing or not.
    """
    for index, probe in enumerate(probes):
        if index in replies:
            continue
        if probe.check is not None and any(
            replies.get(k, ("",))[0] == "timeout"
            for k, other in enumerate(probes)
            if other.question is probe.question
        ):
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
            if event == FORBIDDEN and type(message.get("name")) is str:
                forbidden.setdefault(index, message["name"][:200])
            elif event == RESULT:
                if "error" in message:
                    error = str(message["error"])[:500]
                    replies[index] = ("timeout" if error == "timed out" else "error", error)
                else:
                    try:
                        replies[index] = ("value", decode(message.get("value")))
                    except Exception as error:
                        replies[index] = ("error", f"the result could not be read ({type(error).__name__})")
                break
    return None, None


_BLANK = "NotImplementedError"  # what an exercise's untouched answer raises


def _not_answered(question: Question, error: str, blank_only: bool) -> bool:
    """The answer is the exercise's blank (it raises NotImplementedError), or its name was never
    defined while every failing cell was such a blank."""
    undefined = error.startswith("NameError") and f"{question.name} is not defined" in error
    return error.startswith(_BLANK) or (undefined and blank_only)


def _judge(
    question: Question,
    probes: list[tuple[int, _Probe]],
    replies: dict,
    forbidden: dict,
    note: str,
    timeout: float = 10.0,
    blank_only: bool = False,
    partial_credit: bool = False,
) -> Outcome:
    """The question's outcome from its checks' replies; the message names the first check that fails.

    All or nothing: full points when every check passes. With ``partial_credit``:
    ``points × passed / checks``, rounded as the CSV writes numbers; a check that was
    not run (skipped after a timeout, or the notebook stopped) counts as failed.
    """
    for index, _ in probes:
        if index in forbidden:
            return Outcome(0, question.points, not_allowed(forbidden[index], question.why_forbidden))
    first, passed = None, 0
    for number, (index, probe) in enumerate(probes, start=1):
        label = check_label(number, probe.check)
        call = question.name if probe.check.hidden else call_text(question.name, probe.check.args)
        problem, ideas = None, ()
        if index not in replies:
            problem = f"{label}: not run ({note or 'no answer'})"
        elif replies[index][0] == "timeout":
            problem = f"{label}: {call} did not finish within {timeout:g} s (an endless loop?)"
        elif replies[index][0] == "error":
            value = replies[index][1]
            problem = (
                "not answered"
                if _not_answered(question, value, blank_only)
                else f"{label}: {call} raised {value}"
            )
        else:
            try:
                wrong, ideas = diagnosis(question, probe.check, replies[index][1], probe.expected)
            except Exception as error:  # a strange answer must not crash the comparison
                wrong, ideas = f"the answer could not be compared ({type(error).__name__})", ()
            problem = f"{label}: {call}: {wrong}" if wrong else None
        if problem is None:
            passed += 1
        elif first is None:
            # the first failing check decides the message, its diagnoses and whether it was hidden
            first, first_ideas, hidden = problem, tuple(ideas), probe.check.hidden
            if not partial_credit:
                break
    if first is None:
        return Outcome(question.points, question.points)
    if first == "not answered":
        hidden = False  # nothing of a hidden check is shown by a blank answer
    if not partial_credit or (passed == 0 and first == "not answered"):
        return Outcome(0, question.points, first, misconceptions=first_ideas, hidden=hidden)
    share = f"{passed} of {len(probes)} checks pass"
    return Outcome(
        report.number(question.points * passed / len(probes)),
        question.points,
        f"{first} ({share})",
        misconceptions=first_ideas,
        hidden=hidden,
    )


# --------------------------------------------------------------------------- the class


def _graded_texts(handin: Handin, notebooks: Iterable[str]) -> dict[str, str | Submitted]:
    """Each of ``notebooks``' text as handed in, or a :class:`Submitted` saying why it is not graded."""
    texts: dict[str, str | Submitted] = {}
    for name in notebooks:
        claim = handin.graded.get(name)
        if claim is None:
            texts[name] = Submitted(None, "not submitted")
        else:
            texts[name] = claim.text if claim.text is not None else Submitted(None, claim.problem)
    return texts


@dataclass
class Roll:
    """The student folders of a submissions folder: ``students`` maps the name shown in every
    output (:func:`convkit.grade.report.safe_text` of the folder name) to the folder, and
    ``skipped`` lists each entry not graded with the reason."""

    students: dict[str, Path]
    skipped: list[tuple[str, str]]


def find_students(submissions: Path, outputs: Iterable[Path] = ()) -> Roll:
    """Every student folder in ``submissions``; refuse a folder that holds none, or holds the outputs.

    Raises
    ------
    ValueError
        If ``submissions`` is not a folder, holds an output folder (``outputs``), holds
        notebooks at its top level (one student's folder), or holds no student folder.
    """
    if not submissions.is_dir():
        raise ValueError(f"submissions must be a folder of student folders, got {str(submissions)!r}")
    for output in outputs:
        if output == submissions or output.is_relative_to(submissions):
            raise ValueError(
                f"the output folder {str(output)!r} is inside SUBMISSIONS ({str(submissions)!r}); "
                "write the outputs elsewhere (--out, --feedback), or a rerun would grade them as students"
            )
    students: dict[str, Path] = {}
    skipped: list[tuple[str, str]] = []
    top_notebooks: list[str] = []
    for entry in sorted(os.scandir(submissions), key=lambda e: e.name):
        shown = report.safe_text(entry.name)
        if entry.is_symlink():
            skipped.append((shown, "a link, not a folder: refused (copy the folder in instead)"))
        elif not entry.is_dir():
            if entry.name.endswith(".ipynb"):
                top_notebooks.append(shown)
            elif not entry.name.startswith("."):
                skipped.append((shown, "a file, not a student folder: ignored"))
        elif entry.name.startswith("."):
            skipped.append(
                (shown, "a hidden folder (its name starts with a dot): not graded; rename it to grade it")
            )
        elif shown in students:
            skipped.append((shown, "its name, once escaped, is the same as another folder's: not graded"))
        else:
            students[shown] = Path(entry.path)
    if top_notebooks:
        raise ValueError(
            f"{str(submissions)!r} looks like one student's folder (it holds {', '.join(top_notebooks[:3])}"
            f"{', ...' if len(top_notebooks) > 3 else ''}); pass the folder that holds one folder per student"
        )
    if not students:
        raise ValueError(
            f"{str(submissions)!r} holds no student folders; expected one folder per student, "
            "each holding that student's exercise notebooks"
            + (
                f" ({len(skipped)} entries not graded: {', '.join(n for n, _ in skipped[:3])})"
                if skipped
                else ""
            )
        )
    return Roll(students, skipped)


def submission_digest(handin: Handin, notebooks: Iterable[str] = NOTEBOOKS) -> str:
    """A digest of what is graded of one student for ``notebooks``: each file graded (its name,
    how it was recognised, its text, or why it is not graded) and every file not graded."""
    return handin.digest(tuple(notebooks))


def _data_text(value: object) -> str:
    try:
        return json.dumps(encode(value), sort_keys=True)
    except Exception:  # a value the codec does not carry: its repr is stable enough for a digest
        return repr(value)


def check_digests(
    questions: list[Question], expected: dict, checks_dir: str | os.PathLike | None
) -> dict[str, str]:
    """Digests of the question set (with its public checks) and of the hidden checks.

    Each check counts by its data (arguments, expected value, comparison, note); the
    hidden checks also by the bytes of their ``questions_NN.py`` files, so that any edit
    there grades the class again. The question set counts its misconceptions' ids and
    messages too, which the records of graded students hold.
    """

    def ideas(q: Question) -> list:
        return [[m.id, m.message] for m in q.misconceptions + sum((c.misconceptions for c in q.checks), ())]

    def of(hidden: bool) -> list:
        return [
            [q.id, q.name, q.points, q.kind, list(q.forbids), q.justification, q.digits, list(q.uses)]
            + ([ideas(q)] if not hidden else [])
            + [
                [
                    _data_text(c.args),
                    _data_text(expected[(q.id, k)]),
                    c.compare if isinstance(c.compare, str) else getattr(c.compare, "__qualname__", "?"),
                    c.torch,
                    c.note,
                ]
                for k, c in enumerate(q.checks)
                if c.hidden == hidden
            ]
            for q in questions
        ]

    files = sorted(Path(checks_dir).glob("questions_*.py")) if checks_dir is not None else []
    hidden = hashlib.sha256(json.dumps(of(True)).encode())
    for path in files:
        hidden.update(path.name.encode() + hashlib.sha256(path.read_bytes()).digest())
    return {
        "questions": hashlib.sha256(json.dumps(of(False)).encode()).hexdigest(),
        "checks": hidden.hexdigest(),
    }


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


def _say(text: str) -> None:
    from tqdm import tqdm

    tqdm.write(text, file=sys.stderr)


class _Signals:
    """SIGINT and SIGTERM stop the run (:class:`Stopper`) instead of raising, while in the block."""

    def __init__(self, stopper: Stopper) -> None:
        self.stopper, self.previous = stopper, {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, lambda n, _: self.stopper.stop(n))
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


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
    notebooks: Iterable[str] | None = None,
    partial_credit: bool = False,
    hidden_visibility: str = "after_due_date",
    say=_say,
) -> dict[str, dict]:
    """Grade every student folder in ``submissions``; write the CSV and the feedback files.

    Parameters
    ----------
    submissions : path
        One folder per student, holding some or all of the exercise notebooks, under any
        name, in subfolders or zip files (:mod:`convkit.grade.handin`).
    out : path
        The CSV: ``student,total,max`` then one column per question id, rewritten
        (atomically) after every student graded, with the grader's record beside it
        (:func:`convkit.grade.report.record`, ``<out>.record.json``) for ``merge`` to check.
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
    formats : tuple of {"markdown", "text", "gradescope"}
        ``markdown`` writes ``<student>.md`` in the feedback folder, ``text`` the same
        feedback as plain text (``<student>.txt``, nothing escaped, for an LMS comment box),
        ``gradescope`` writes ``gradescope/<student>/results.json`` next to ``out``.
    notebooks : iterable of str, optional
        Grade only these notebooks (file names from :data:`NOTEBOOKS`): the CSV's ``max``,
        totals and columns, and the feedback, count only them. Default: every notebook.
    partial_credit : bool
        Give a question its points times the share of its checks passed, instead of all
        or nothing.
    hidden_visibility : {"visible", "after_due_date", "after_published", "hidden"}
        The Gradescope visibility of the tests of hidden checks (public ones are visible).
    say : callable
        Where the run's messages go (folders not graded, warnings); default stderr.

    Returns
    -------
    dict
        Student name to CSV row (values as written).

    Raises
    ------
    ValueError
        Bad arguments, or a submissions folder that holds no student folders.
    DeadlinePassed, Interrupted
        The run stopped early (its deadline, or SIGINT / SIGTERM); every student finished
        so far is written and recorded, and the same command resumes.
    """
    from tqdm import tqdm

    submissions, out = Path(submissions).resolve(), Path(out).resolve()
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if timeout <= 0 or notebook_timeout <= 0 or (deadline is not None and deadline <= 0):
        raise ValueError(
            f"timeout, notebook_timeout and deadline must be positive, got {timeout}, "
            f"{notebook_timeout}, {deadline}"
        )
    if memory_mb < 64:
        raise ValueError(f"memory_mb must be at least 64, got {memory_mb}")
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"formats must be among {FORMATS}, got {sorted(unknown)}")
    if hidden_visibility not in report.HIDDEN_VISIBILITIES:
        raise ValueError(
            f"hidden_visibility must be one of {report.HIDDEN_VISIBILITIES}, got {hidden_visibility!r}"
        )
    began = time.monotonic()
    run_deadline = None if deadline is None else began + deadline
    feedback_dir = Path(feedback_dir).resolve() if feedback_dir else out.parent / "feedback"
    gradescope_dir = out.parent / "gradescope"
    roll = find_students(submissions, [out.parent, feedback_dir])
    for name, reason in roll.skipped:
        say(f"not graded: {name}: {reason}")
    if checks_dir is None:
        checks_dir = default_checks_dir()
    chosen = NOTEBOOKS if notebooks is None else tuple(notebooks)
    if not chosen or set(chosen) - set(NOTEBOOKS):
        raise ValueError(f"notebooks must be among {NOTEBOOKS}, got {list(chosen)}")
    questions = [q for q in load_questions(checks_dir) if q.notebook in chosen]
    columns = report.header(questions, level)
    students = report.natural_sorted(select_shard(list(roll.students), shard))
    expected = _expected(questions)
    scoring = "partial credit" if partial_credit else "all or nothing"
    digests_of_run = check_digests(questions, expected, checks_dir)
    state = report.ResumeState(out, {"level": level, "scoring": scoring, **digests_of_run})
    hidden_checks = any(c.hidden for q in questions for c in q.checks)
    run = {"level": level, "hidden_checks": hidden_checks, "scoring": scoring, **digests_of_run}
    if restart:
        state.clear()
    # Read every submission before any student code runs: later writes change nothing.
    # Parsed here, in the main thread, so that the warnings each notebook causes are counted.
    handins = {s: read_folder(roll.students[s]) for s in students}
    files = {s: _graded_texts(handins[s], chosen) for s in students}
    digests = {s: submission_digest(handins[s], chosen) for s in students}
    kept, again, new = state.plan(digests)
    finished = {s: entry["record"] for s, entry in kept.items()}
    todo = [s for s in students if s not in finished]
    if kept or again:
        say(_resume_summary(len(kept), again, len(new)))
    texts = {}
    for s in todo:
        texts[s] = {}
        for name, text in files[s].items():
            texts[s][name] = text if isinstance(text, Submitted) else read_notebook(text)
            for warning in texts[s][name].warnings:
                more, shown = texts[s][name].more, report.safe_text(handins[s].graded[name].shown)
                say(f"warning: {s}/{shown}: {warning}" + (f" (and {more} more like it)" if more else ""))
    stopper = Stopper()

    def grade_one(student: str):
        results = {}
        for name in [n for n in NOTEBOOKS if n in chosen]:
            results[name] = grade_notebook(
                sandbox,
                texts[student][name],
                [q for q in questions if q.notebook == name],
                expected,
                timeout=timeout,
                notebook_timeout=notebook_timeout,
                deadline=run_deadline,
                stopper=stopper,
                partial_credit=partial_credit,
            )
            if stopper.stopped or (run_deadline is not None and time.monotonic() >= run_deadline):
                return student, None
        values = report.row(student, results, questions, level)
        handin = handins[student]
        return student, {
            "row": values,
            "feedback": report.feedback(student, results, questions, values, level, handin=handin),
            "text": report.feedback(student, results, questions, values, level, plain=True, handin=handin),
            "gradescope": report.gradescope(results, questions, values, level),
            "misconceptions": report.misconceptions(results, questions),
        }

    def write_student(student: str) -> None:
        record, stem = finished[student], report.file_stem(student)
        if "markdown" in formats:
            report.write_atomically(feedback_dir / f"{stem}.md", record["feedback"])
        if "text" in formats:
            report.write_atomically(feedback_dir / f"{stem}.txt", record["text"])
        if "gradescope" in formats:
            document = report.with_hidden_visibility(record["gradescope"], hidden_visibility)
            report.write_atomically(gradescope_dir / stem / "results.json", report.json_text(document))

    def write_csv() -> None:
        text = report.csv_text({s: r["row"] for s, r in finished.items()}, columns)
        diagnosed = {s: r["misconceptions"] for s, r in finished.items()}
        written = report.record(text, run, shard, diagnosed)
        report.write_atomically(report.record_path(out), report.json_text(written) + "\n")
        report.write_atomically(out, text)

    state.start(kept)
    for student in finished:
        write_student(student)
    write_csv()
    with _Signals(stopper):
        with (
            Sandbox(level, Limits(memory_mb=memory_mb)) as sandbox,
            tqdm(
                total=len(todo), desc="grading", unit="student", disable=not progress, file=sys.stderr
            ) as bar,
        ):
            pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
            try:
                pending = {pool.submit(grade_one, s) for s in todo}
                while pending and not stopper.stopped:
                    done, pending = concurrent.futures.wait(
                        pending, timeout=0.2, return_when=concurrent.futures.FIRST_COMPLETED
                    )
                    for future in done:
                        student, record = future.result()
                        if record is not None:
                            finished[student] = record
                            state.add(student, digests[student], record)
                            write_student(student)
                            write_csv()
                            bar.update(1)
            finally:
                interrupted = stopper.signal is not None
                stopper.stop()  # nothing is left running when the block ends, however it ends
                pool.shutdown(wait=True, cancel_futures=True)
                if interrupted:
                    sandbox.kill_forkserver()
    write_csv()
    rows = {s: finished[s]["row"] for s in students if s in finished}
    files_skipped = [
        (f"{s}/{shown}", reason) for s in students for shown, reason in handins[s].files_not_graded(chosen)
    ]
    diagnosed = {s: finished[s]["misconceptions"] for s in rows}
    classreport.write(
        out.parent, rows, questions, roll.skipped + files_skipped, diagnosed, partial=partial_credit
    )
    missing = [s for s in students if s not in finished]
    if stopper.signal is not None:
        raise Interrupted(stopper.signal, len(finished), missing)
    if missing:
        raise DeadlinePassed(missing)
    kept_text = f" (and kept {len(kept)} from the last run)" if kept else ""
    say(f"graded {len(todo)} student(s){kept_text} in {time.monotonic() - began:.1f} s -> {out}")
    return rows


def _resume_summary(kept: int, again: dict[str, str], new: int) -> str:
    """One line: how many students a rerun keeps, grades again (and why) and grades for the first time."""
    reasons: dict[str, int] = {}
    for reason in again.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    why = ", ".join(f"{count}: {reason}" for reason, count in sorted(reasons.items()))
    parts = [f"kept {kept} student(s) graded before"]
    if again:
        parts.append(f"grading {len(again)} again ({why})")
    if new:
        parts.append(f"grading {new} for the first time")
    return "; ".join(parts) + " (--restart grades everyone again)"


class DeadlinePassed(RuntimeError):
    """The run's deadline passed before every student was graded (the others are recorded)."""

    def __init__(self, students: list[str]) -> None:
        super().__init__(
            f"{len(students)} student(s) not graded before the deadline; "
            "run the same command again to grade them (finished students are kept)"
        )
        self.students = students


class Interrupted(RuntimeError):
    """SIGINT or SIGTERM stopped the run; the students finished before it are written and recorded."""

    def __init__(self, signum: int, graded: int, students: list[str]) -> None:
        name = "Ctrl-C (SIGINT)" if signum == signal.SIGINT else signal.Signals(signum).name
        super().__init__(
            f"stopped by {name}: {graded} student(s) graded and kept, {len(students)} left; "
            "run the same command again to grade the rest"
        )
        self.signum, self.students = signum, students
