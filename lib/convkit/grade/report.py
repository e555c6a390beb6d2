"""What the grader writes: the CSV and its record, the feedback, Gradescope's results.json, resume state, merges.

Everything here runs in the grading process on the grader's own results. Text that
came from student code or from the submissions folder (error messages, descriptions of
answers, justifications, folder names) passes through one function, :func:`safe_text`,
on its way into every file: control characters and lone surrogates are shown escaped,
so each file is valid UTF-8 and ``cat`` cannot drive the terminal. On top of it,
:func:`csv_cell` defuses spreadsheet formulas and :func:`escape_markdown` Markdown and
HTML; JSON is written strict (:func:`json_text`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from convkit.grade.handin import Handin
from convkit.grade.model import NOTEBOOKS, Outcome, Question

__all__ = [
    "NotebookResult",
    "safe_text",
    "csv_cell",
    "csv_uncell",
    "json_text",
    "file_stem",
    "escape_markdown",
    "header",
    "row",
    "feedback",
    "gradescope",
    "HIDDEN_VISIBILITIES",
    "with_hidden_visibility",
    "misconceptions",
    "natural_sorted",
    "csv_text",
    "write_atomically",
    "ResumeState",
    "record_path",
    "row_digest",
    "record",
    "Merged",
    "merge",
    "UNSAFE_NOTE",
]

UNSAFE_NOTE = (
    "graded with --unsafe-process-sandbox: student code ran without namespace isolation "
    "and could have read or changed files the grader's user can reach"
)


@dataclass
class NotebookResult:
    """Outcomes of one notebook: per question, what went wrong in which cell, and justifications.

    ``cell_errors`` and ``cell_lines`` are keyed by the code cell's index (from 0): the
    error, and the cell's first line of code, by which the feedback names it. ``seconds``
    is the wall time the notebook took to grade (its cells and every check).
    """

    outcomes: dict[str, Outcome]
    cell_errors: dict[int, str] = field(default_factory=dict)
    note: str = ""
    justifications: dict[str, str] = field(default_factory=dict)
    cell_lines: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0


def safe_text(text: object, keep: str = "") -> str:
    r"""``text`` with every control character and lone surrogate written out as an escape.

    C0 controls (except those in ``keep``, such as ``"\n\t"``), DEL and the C1 controls
    (U+0080–U+009F, which some terminals obey like ESC) become ``\xNN``; a lone
    surrogate becomes ``\xNN`` when it stands for an undecodable byte (Python's
    ``surrogateescape``, as in a folder name that is not UTF-8) and ``\uXXXX`` otherwise.
    The result always encodes as UTF-8.

    >>> print(safe_text("ok\x1b[2J\x9b\udcff\ud800 é"))
    ok\x1b[2J\x9b\xff\ud800 é
    >>> print(safe_text("two\nlines\a", keep="\n"))
    two
    lines\x07
    """
    out = []
    for char in str(text):
        code = ord(char)
        if char in keep:
            out.append(char)
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            out.append(f"\\x{code:02x}")
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


_QUOTED_START = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_cell(value: object) -> object:
    r"""A CSV cell no spreadsheet runs: text that starts like a formula gets a leading ``'`` (OWASP).

    Numbers are left as they are. Text is tested first, then made safe (:func:`safe_text`),
    so a tab or a carriage return at the start still counts. Text that starts with ``'``
    is quoted too, so that :func:`csv_uncell` can always take the quote off again.

    >>> print(csv_cell("=HYPERLINK(1)"), csv_cell("\t=1"), csv_cell("ann"), csv_cell(-1))
    '=HYPERLINK(1) '\x09=1 ann -1
    """
    if not isinstance(value, str):
        return value
    return ("'" if value.startswith(_QUOTED_START) else "") + safe_text(value)


def csv_uncell(text: str) -> str:
    """The text :func:`csv_cell` was given (up to :func:`safe_text`), from the cell it wrote.

    >>> csv_uncell("'=1"), csv_uncell("ann"), csv_uncell("''quoted")
    ('=1', 'ann', "'quoted")
    """
    return text[1:] if text.startswith("'") else text


def _safe_data(value: object) -> object:
    if isinstance(value, str):
        return safe_text(value, keep="\n\t")
    if isinstance(value, dict):
        return {_safe_data(k): _safe_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_safe_data(v) for v in value]
    return value


def json_text(document: object) -> str:
    r"""Strict JSON: every string through :func:`safe_text` (line breaks kept), no NaN, UTF-8 kept readable.

    >>> print(json_text({"output": "café\udcff"}))
    {
     "output": "café\\xff"
    }
    """
    return json.dumps(_safe_data(document), indent=1, ensure_ascii=False, allow_nan=False)


_MAX_PLAIN_STEM = 80


def file_stem(student: str) -> str:
    """The name of a student's feedback files, always short and safe as a path.

    A short plain name (letters, digits, space, ``._-``, starting with a letter or digit)
    is used as it is; any other name becomes its ASCII letters and digits (at most 40)
    and the first 8 hex digits of its SHA-256, so that it stays unique.

    >>> file_stem("alice"), file_stem("Ann Lee-2"), file_stem("../x"), file_stem(".hidden")
    ('alice', 'Ann Lee-2', 'x-d6b96a97', 'hidden-16924190')
    """
    plain = all(c.isalnum() or c in " ._-" for c in student)
    if plain and student[:1].isalnum() and len(student.encode()) <= _MAX_PLAIN_STEM:
        return student
    digest = hashlib.sha256(student.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    readable = "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "_" for c in student)
    readable = readable.strip("_")[:40]
    return f"{readable}-{digest}" if readable else digest


_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|~")


def escape_markdown(text: str, limit: int = 500) -> str:
    """``text`` on one line, every Markdown and HTML special character neutralised.

    >>> escape_markdown("**bold** <script>`x`")
    '\\\\*\\\\*bold\\\\*\\\\* &lt;script&gt;\\\\`x\\\\`'
    """
    text = safe_text(" ".join(str(text).split()))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    out = []
    for char in text:
        if char in _MARKDOWN_SPECIAL:
            out.append("\\" + char)
        elif char == "<":
            out.append("&lt;")
        elif char == ">":
            out.append("&gt;")
        elif char == "&":
            out.append("&amp;")
        else:
            out.append(char)
    return "".join(out)


def number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(float(value), 3)


def _notebook_column(notebook: str) -> str:
    return f"{notebook[:2]}.total"


def header(questions: list[Question], level: str = "namespaces") -> list[str]:
    """``student,total,max``, a subtotal per notebook graded (``01.total``, ...), the question ids,
    then ``isolation`` when graded without namespaces."""
    notebooks = [name for name in NOTEBOOKS if any(q.notebook == name for q in questions)]
    columns = ["student", "total", "max"] + [_notebook_column(name) for name in notebooks]
    columns += [q.id for q in questions]
    return columns + (["isolation"] if level != "namespaces" else [])


def row(
    student: str, results: dict[str, NotebookResult], questions: list[Question], level: str = "namespaces"
) -> dict:
    """One student's CSV row; a notebook not submitted has an empty subtotal (its questions 0)."""
    points = {q.id: results[q.notebook].outcomes[q.id].points for q in questions}
    values = {
        "student": student,
        "total": number(sum(points.values())),
        "max": sum(q.points for q in questions),
    }
    for name in NOTEBOOKS:
        mine = [q for q in questions if q.notebook == name]
        if mine:
            submitted = results[name].note != "not submitted"
            values[_notebook_column(name)] = number(sum(points[q.id] for q in mine)) if submitted else ""
    values.update({qid: number(value) for qid, value in points.items()})
    if level != "namespaces":
        values["isolation"] = f"{level} (unsafe)"
    return values


def _plain(text: str, limit: int = 500) -> str:
    """``text`` on one line for plain-text feedback: nothing escaped but control characters."""
    text = safe_text(" ".join(str(text).split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def feedback(
    student: str,
    results: dict[str, NotebookResult],
    questions: list[Question],
    values: dict,
    level: str = "namespaces",
    plain: bool = False,
    handin: Handin | None = None,
) -> str:
    """One student's feedback: Markdown with student text escaped, or (``plain``) text to paste
    anywhere, such as an LMS comment box, with nothing escaped.

    ``handin`` (what the student's folder held) adds, per notebook, which file was graded
    when that is not plain from its name, the files found when it is missing, and the
    files not graded.
    """
    esc = _plain if plain else escape_markdown

    def code(text: str) -> str:  # the grader's own names only: a code span is not escaped
        return f"'{_plain(text, 80)}'" if plain else f"`{text}`"

    def quoted(text: str) -> str:  # the student's code, escaped like the rest of their text
        return f"'{_plain(text, 80)}'" if plain else f"“{escape_markdown(text, 80)}”"

    def bold(text: str) -> str:
        return text if plain else f"**{text}**"

    def heading(level_: int, text: str) -> list[str]:
        if plain:
            return [text, "=" * len(text) if level_ == 1 else "-" * len(text)]
        return [f"{'#' * level_} {text}"]

    total = f"{values['total']} / {values['max']}"
    lines = heading(1, f"Feedback for {esc(student, 1100)}") + ["", f"Total: {bold(total)}", ""]
    if level != "namespaces":
        lines += [f"Isolation: {bold(level)} — {UNSAFE_NOTE}.", ""]
    for name in NOTEBOOKS:
        mine = [q for q in questions if q.notebook == name]
        if not mine or name not in results:
            continue
        result = results[name]
        got = sum(result.outcomes[q.id].points for q in mine)
        lines += heading(2, f"{name}: {number(got)} / {sum(q.points for q in mine)}") + [""]
        if result.note == "not submitted":
            lines += [f"Not found in your submission: {code(name)} (its questions score 0).", ""]
            if handin is not None:
                lines += [_found_line(handin.found, esc), ""]
            continue
        if handin is not None and name in handin.graded:
            lines += _source_lines(name, handin, esc, code)
        if result.note:
            lines += [f"Note: {esc(result.note)}.", ""]
        for q in mine:
            outcome = result.outcomes[q.id]
            mark = "✓" if outcome.points == outcome.max else "✗"
            text = f"- {mark} {bold(q.id)} {code(q.name)}: {number(outcome.points)} / {outcome.max}"
            if outcome.message:
                text += f" — {esc(outcome.message)}"
            lines.append(text)
            if q.id in result.justifications:
                lines.append(f"  - justification (not graded): {esc(result.justifications[q.id], 2000)}")
        failed = {i: e for i, e in result.cell_errors.items() if not e.startswith("NotImplementedError")}
        if failed:
            lines += ["", "Cells that raised an error:", ""]
            for index, error in sorted(failed.items()):
                first = result.cell_lines.get(index, "")
                where = f"the cell starting {quoted(first)}" if first else f"code cell {index + 1}"
                lines.append(f"- {where}: {esc(error.splitlines()[-1] if error else error)}")
        lines.append("")
    shown = [name for name in NOTEBOOKS if name in results and any(q.notebook == name for q in questions)]
    skipped = handin.files_not_graded(shown) if handin is not None else []
    if skipped:
        lines += heading(2, "Files not graded") + [""]
        lines += [f"- {esc(file, 300)}: {esc(reason)}" for file, reason in skipped] + [""]
    return "\n".join(lines)


_MAX_FOUND = 20


def _found_line(found: list[str], esc) -> str:
    """What a student's folder held, for a notebook not found in it."""
    if not found:
        return "Your folder held no files."
    more = f", and {len(found) - _MAX_FOUND} more" if len(found) > _MAX_FOUND else ""
    return "Files found in your folder: " + ", ".join(esc(f, 200) for f in found[:_MAX_FOUND]) + more + "."


def _source_lines(name: str, handin: Handin, esc, code) -> list[str]:
    """Which file was graded as ``name`` and how it was recognised, when that is worth saying."""
    claim, lines = handin.graded[name], []
    if claim.by == "file name" and claim.text is not None:  # a file not read has its note instead
        lines.append(
            f"Recognised by its file name, {esc(claim.shown, 300)}: its metadata does not carry the "
            "exercise's identity (was the exercise copied into a new notebook?)."
        )
    elif claim.shown != name:
        lines.append(
            f"Graded from {esc(claim.shown, 300)}, recognised by the exercise's identity in its metadata."
        )
    older = handin.passed_over.get(name, [])
    if older:
        others = ", ".join(esc(c.shown, 300) for c in older)
        lines.append(
            f"{len(older) + 1} files are {code(name)}: {esc(claim.shown, 300)} is graded "
            f"({'the newest' if all(c.by == claim.by for c in older) else 'it carries the identity'}); "
            f"not graded: {others}."
        )
    return lines + [""] if lines else []


#: Gradescope's visibilities of a test, most open first
HIDDEN_VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")


def gradescope(
    results: dict[str, NotebookResult],
    questions: list[Question],
    values: dict,
    level: str = "namespaces",
    hidden_visibility: str = "after_due_date",
) -> dict:
    """One student's results in Gradescope's autograder schema (``results.json``).

    Each question is one test for its public checks and, when it has hidden checks, one
    more for them: that one carries the question's points (all or nothing) and has the
    visibility ``hidden_visibility``, marked by ``extra_data["checks"] == "hidden"``; the
    public test is then worth 0 points and always visible, so that students see what
    ``check()`` already told them. Every test has a ``status`` and, in ``extra_data``, the
    ``execution_time`` of its notebook in seconds (the schema has no such field per test);
    the top level has the student's total ``execution_time``.
    """
    if hidden_visibility not in HIDDEN_VISIBILITIES:
        raise ValueError(f"hidden_visibility must be one of {HIDDEN_VISIBILITIES}, got {hidden_visibility!r}")
    tests = []
    for q in questions:
        result = results[q.notebook]
        outcome = result.outcomes[q.id]
        full = outcome.points == outcome.max
        output = outcome.message or ("passed" if full else "")
        if result.note and not outcome.message:
            output = result.note
        if q.id in result.justifications:
            output += f"\nYour justification (not graded): {result.justifications[q.id][:2000]}"
        has_hidden = any(c.hidden for c in q.checks)
        # a hidden check fails only once every public one has passed: they run in that order
        public_passed = full or (has_hidden and outcome.hidden)
        seconds = {"execution_time": result.seconds}
        tests.append(
            {
                "name": f"{q.id} {q.name}" + (" (public checks)" if has_hidden else ""),
                "number": f"{len(tests) + 1}",
                "score": 0 if has_hidden else number(outcome.points),
                "max_score": 0 if has_hidden else q.points,
                "status": "passed" if public_passed else "failed",
                "output": "passed" if has_hidden and public_passed else output,
                "visibility": "visible",
                "extra_data": {"checks": "public", **seconds},
            }
        )
        if has_hidden:
            tests.append(
                {
                    "name": f"{q.id} {q.name} (hidden checks)",
                    "number": f"{len(tests) + 1}",
                    "score": number(outcome.points),
                    "max_score": q.points,
                    "status": "passed" if full else "failed",
                    "output": output
                    if full or outcome.hidden
                    else "not judged: the question already fails its public checks",
                    "visibility": hidden_visibility,
                    "extra_data": {"checks": "hidden", **seconds},
                }
            )
    document = {
        "score": values["total"],
        "max_score": values["max"],
        "execution_time": round(sum(r.seconds for r in results.values()), 3),
        "tests": tests,
        "visibility": "visible",
        "stdout_visibility": "hidden",
    }
    if level != "namespaces":
        document["output"] = UNSAFE_NOTE
    return document


def with_hidden_visibility(document: dict, visibility: str) -> dict:
    """A copy of a :func:`gradescope` document whose hidden-check tests have ``visibility``."""
    if visibility not in HIDDEN_VISIBILITIES:
        raise ValueError(f"visibility must be one of {HIDDEN_VISIBILITIES}, got {visibility!r}")
    tests = [
        {**t, "visibility": visibility} if t.get("extra_data", {}).get("checks") == "hidden" else t
        for t in document["tests"]
    ]
    return {**document, "tests": tests}


def misconceptions(results: dict[str, NotebookResult], questions: list[Question]) -> dict[str, list[str]]:
    """Per question whose failing check diagnosed a misconception, the ids it diagnosed."""
    found = {}
    for q in questions:
        ids = results[q.notebook].outcomes[q.id].misconceptions
        if ids:
            found[q.id] = list(ids)
    return found


def _natural_key(name: str) -> list:
    """Sort key that orders ``student2`` before ``student10`` (digits compared as numbers)."""
    return [
        (0, int(part), part) if part.isdigit() else (1, 0, part.casefold())
        for part in re.split(r"(\d+)", name)
    ]


def natural_sorted(names: Iterable[str]) -> list[str]:
    """Names in a human order: case-insensitive, with runs of digits compared as numbers.

    >>> natural_sorted(["s10", "S2", "s1", "ann"])
    ['ann', 's1', 'S2', 's10']
    """
    return sorted(names, key=lambda name: (_natural_key(name), name))


def csv_text(rows: dict[str, dict], columns: list[str]) -> str:
    """The CSV, one row per student in :func:`natural_sorted` order, every cell through :func:`csv_cell`."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for student in natural_sorted(rows):
        writer.writerow({key: csv_cell(value) for key, value in rows[student].items()})
    return buffer.getvalue()


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` (made valid UTF-8) through a short temporary name in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        temporary.write_text(text.encode("utf-8", "replace").decode("utf-8"), encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


class ResumeState:
    """The grader's own record of finished students, for resuming an interrupted run.

    It lives in a private folder beside the CSV (mode 0700) and is written only by the
    grading process, so a CSV edited by anyone is never read back as a grade. Each
    student's entry carries a digest of the files graded (:func:`convkit.grade.classgrader.submission_digest`),
    and the record as a whole the digests of the question set and of the hidden checks
    (``run``, a dict) and the isolation level: a rerun keeps a student only when all of
    them are unchanged (:meth:`plan`).
    """

    def __init__(self, out: Path, run: dict) -> None:
        self.folder = out.parent / f".{out.name}.state"
        self.run = {"format": 3, **run}
        self.path = self.folder / "finished.jsonl"

    def load(self) -> tuple[dict, dict[str, dict]]:
        """The recorded run's digests, and each finished student's entry (``submission``, ``record``)."""
        finished: dict[str, dict] = {}
        try:
            with open(self.path, encoding="utf-8") as handle:
                try:
                    run = json.loads(handle.readline())
                except ValueError:
                    return {}, {}
                if type(run) is not dict or run.get("format") != 3:
                    return {}, {}
                for line in handle:  # one student a line; a line cut short by a crash is skipped
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if (
                        type(entry) is dict
                        and type(entry.get("student")) is str
                        and type(entry.get("submission")) is str
                        and type(entry.get("record")) is dict
                    ):
                        finished[entry["student"]] = entry
        except OSError:
            return {}, {}
        return run, finished

    def plan(self, digests: dict[str, str]) -> tuple[dict[str, dict], dict[str, str], list[str]]:
        """Who is kept, who is graded again and why, and who is new, for students with these digests.

        Returns ``(kept, again, new)``: the kept students' records, a reason per student
        graded again, and the students never graded before.
        """
        run, finished = self.load()
        kept: dict[str, dict] = {}
        again: dict[str, str] = {}
        new: list[str] = []
        for student, digest in digests.items():
            entry = finished.get(student)
            if entry is None:
                new.append(student)
            elif run.get("level") != self.run["level"]:
                again[student] = "graded at another isolation level"
            elif run.get("questions") != self.run["questions"]:
                again[student] = "the questions changed"
            elif run.get("checks") != self.run["checks"]:
                again[student] = "the hidden checks changed"
            elif run.get("scoring", "all or nothing") != self.run.get("scoring", "all or nothing"):
                again[student] = "the scoring changed (--partial-credit)"
            elif entry["submission"] != digest:
                again[student] = "the submission changed"
            else:
                kept[student] = entry
        return kept, again, new

    def start(self, kept: dict[str, dict]) -> None:
        """Begin the record of this run with the students kept from the last one."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        lines = [json.dumps(self.run)] + [json.dumps(entry) for entry in kept.values()]
        write_atomically(self.path, "\n".join(lines) + "\n")

    def add(self, student: str, submission: str, record: dict) -> None:
        """Record one more finished student (appended and flushed to disk)."""
        with open(self.path, "a", encoding="utf-8") as handle:
            entry = {"student": student, "submission": submission, "record": _safe_data(record)}
            handle.write(json.dumps(entry, allow_nan=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


RECORD_FORMAT = 2
_QUESTION_COLUMN = re.compile(r"\d{2}\.q\d+")
_DIGEST_KEYS = ("level", "questions", "checks", "hidden_checks", "scoring")


def record_path(csv_path: str | os.PathLike) -> Path:
    """Where the grader's record of a CSV lives: beside it, ``grades.csv.record.json``."""
    path = Path(csv_path)
    return path.with_name(f"{path.name}.record.json")


def row_digest(cells: list[str]) -> str:
    """The SHA-256 of one CSV row as written: every cell, the student's name first, as JSON text.

    >>> row_digest(["ann", "3", "5"])[:12]
    '1edff09e1285'
    """
    return hashlib.sha256(json.dumps(list(cells)).encode()).hexdigest()


def record(text: str, run: dict, shard: tuple[int, int] | None, diagnosed: dict[str, dict]) -> dict:
    """The grader's record of the CSV ``text`` it wrote, for ``merge`` to check it against.

    ``run`` holds the isolation level, the digests of the question set and of the hidden
    checks (:func:`convkit.grade.classgrader.check_digests`), whether there were hidden
    checks (``hidden_checks``) and how points were given (``scoring``: ``"all or nothing"``
    or ``"partial credit"``); ``diagnosed`` maps each student to
    :func:`misconceptions`. Per student the record keeps the digest of the row
    (:func:`row_digest`), the stem of the feedback files and the misconceptions.
    """
    lines = list(csv.reader(io.StringIO(text, newline="")))
    students = {}
    for cells in lines[1:]:
        student = csv_uncell(cells[0])
        students[student] = {
            "row": row_digest(cells),
            "file": file_stem(student),
            "misconceptions": diagnosed.get(student, {}),
        }
    return {
        "format": RECORD_FORMAT,
        "shard": list(shard) if shard else None,
        "missing_shards": [],
        **{key: run[key] for key in _DIGEST_KEYS},
        "columns": lines[0] if lines else [],
        "students": students,
    }


@dataclass
class Merged:
    """What :func:`merge` combined: the rows (as read), each student's misconceptions, the shards missing."""

    rows: dict[str, dict]
    misconceptions: dict[str, dict]
    missing: list[str]
    record: dict


@dataclass
class _Shard:
    path: Path
    columns: list[str]
    rows: dict[str, dict]
    record: dict


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header and rows of a grades CSV, or a ValueError that says in one line what is wrong."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(f"{path}: cannot be read ({error.strerror or type(error).__name__})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text (byte {error.start} cannot be decoded)") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header or "student" not in header:
            raise ValueError(f"{path}: not a grades CSV (its header has no 'student' column)")
        for name in ("total", "max"):
            if name not in header:
                raise ValueError(f"{path}: not a grades CSV (its header has no {name!r} column)")
        rows = []
        for cells in reader:
            if len(cells) != len(header):
                raise ValueError(
                    f"{path}, line {reader.line_num}: {len(cells)} cells where the header has "
                    f"{len(header)} (a row cut short or edited?)"
                )
            rows.append(cells)
    except csv.Error as error:
        raise ValueError(f"{path}, line {reader.line_num}: not well-formed CSV ({error})") from None
    return header, rows


def _read_record(path: Path) -> dict:
    where = record_path(path)
    if not where.is_file():
        raise ValueError(
            f"{path}: the grader's record {where.name} is not beside it; merge only CSVs the grader wrote"
        )
    try:
        found = json.loads(where.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        raise ValueError(f"{where}: not a readable grader's record (not JSON)") from None
    kinds = {"shard": (list, type(None)), "missing_shards": list, "columns": list, "students": dict}
    kinds.update({key: (str, bool) for key in _DIGEST_KEYS})
    if type(found) is not dict or found.get("format") != RECORD_FORMAT:
        raise ValueError(f"{where}: not a grader's record of format {RECORD_FORMAT}")
    for key, kind in kinds.items():
        if not isinstance(found.get(key), kind) or (key in _DIGEST_KEYS and key not in found):
            raise ValueError(f"{where}: its {key!r} is missing or malformed")
    shard = found["shard"]
    if shard is not None and not (
        len(shard) == 2 and all(type(v) is int for v in shard) and 1 <= shard[0] <= shard[1]
    ):
        raise ValueError(f"{where}: its shard {shard!r} is not K/N with 1 <= K <= N")
    for student, entry in found["students"].items():
        if type(entry) is not dict or type(entry.get("row")) is not str or type(entry.get("file")) is not str:
            raise ValueError(f"{where}: the entry of {safe_text(student)!r} is malformed")
        seen = entry.get("misconceptions")
        if type(seen) is not dict or not all(
            type(ids) is list and all(type(i) is str for i in ids) for ids in seen.values()
        ):
            raise ValueError(f"{where}: the misconceptions of {safe_text(student)!r} are malformed")
    if not all(type(m) is str for m in found["missing_shards"]):
        raise ValueError(f"{where}: its 'missing_shards' is malformed")
    return found


def _number_cell(path: Path, student: str, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value):  # "nan" would pass any comparison of sums
        raise ValueError(f"{path}: {column} of {safe_text(student)!r} is not a number ({safe_text(text)!r})")
    return value


def _read_shard(path: Path) -> _Shard:
    """One shard's CSV, checked row by row against the grader's record beside it."""
    from convkit.grade.classgrader import select_shard

    if not path.is_file():
        raise ValueError(f"shard output {str(path)!r} is not a file")
    columns, lines = _read_csv(path)
    found = _read_record(path)
    if found["columns"] != columns:
        raise ValueError(f"{path}: its columns are not the ones the grader recorded")
    questions = [c for c in columns if _QUESTION_COLUMN.fullmatch(c)]
    rows: dict[str, dict] = {}
    for cells in lines:
        values = dict(zip(columns, cells))
        student = values["student"] = csv_uncell(values["student"])
        entry = found["students"].get(student)
        if entry is None:
            raise ValueError(
                f"{path}: the row of {safe_text(student)!r} is not in the grader's record (added by hand?)"
            )
        if student in rows:
            raise ValueError(f"{path}: {safe_text(student)!r} has two rows")
        total = _number_cell(path, student, "total", values["total"])
        points = sum(_number_cell(path, student, q, values[q]) for q in questions)
        if abs(total - points) > 1e-6:
            raise ValueError(
                f"{path}: the total of {safe_text(student)!r} ({safe_text(values['total'])}) is not the sum of "
                f"its question columns ({number(points)})"
            )
        if row_digest(cells) != entry["row"]:
            raise ValueError(
                f"{path}: the row of {safe_text(student)!r} differs from the grader's record (a score edited?)"
            )
        if entry["file"] != file_stem(student):
            raise ValueError(f"{path}: the record names an unsafe file for {safe_text(student)!r}")
        rows[student] = values
    lost = [s for s in found["students"] if s not in rows]
    if lost:
        raise ValueError(
            f"{path}: {len(lost)} student(s) of the grader's record have no row, such as "
            f"{safe_text(lost[0])!r} (a CSV cut short or edited?)"
        )
    if found["shard"] is not None:
        strays = sorted(set(rows) - set(select_shard(list(rows), tuple(found["shard"]))))
        if strays:
            k, n = found["shard"]
            raise ValueError(f"{path}: {safe_text(strays[0])!r} does not belong to shard {k}/{n}")
    return _Shard(path, columns, rows, found)


def _check_together(shards: list[_Shard], allow_partial: bool) -> list[str]:
    """Refuse shards that were not graded alike or do not make up one class; returns the shards missing."""
    first = shards[0]
    for shard in shards[1:]:
        if shard.columns != first.columns:
            raise ValueError(f"{shard.path} has other columns than {first.path} (other notebooks graded?)")
        mine, theirs = shard.record, first.record
        if mine["hidden_checks"] != theirs["hidden_checks"]:
            without = shard.path if not mine["hidden_checks"] else first.path
            raise ValueError(f"{without} was graded without the hidden checks and the other shards with them")
        for key, what in (
            ("level", "at another isolation level than"),
            ("questions", "with another question set than"),
            ("checks", "with other hidden checks than"),
            ("scoring", "with other scoring (--partial-credit) than"),
        ):
            if mine[key] != theirs[key]:
                raise ValueError(f"{shard.path} was graded {what} {first.path}")
    counts = {tuple(s.record["shard"] or (1, 1))[1] for s in shards}
    if len(counts) > 1:
        raise ValueError(
            f"the shards were cut into different numbers of parts ({sorted(counts)}): merge one run's shards"
        )
    (n,) = counts
    seen: dict[int, Path] = {}
    for shard in shards:
        k = (shard.record["shard"] or (1, 1))[0]
        if k in seen:
            raise ValueError(f"shard {k}/{n} is given twice: {seen[k]} and {shard.path}")
        seen[k] = shard.path
    missing = [f"{k}/{n}" for k in range(1, n + 1) if k not in seen]
    missing += [m for s in shards for m in s.record["missing_shards"]]
    if missing and not allow_partial:
        raise ValueError(
            f"shard(s) {', '.join(missing)} missing; pass them all, or --allow-partial to merge anyway"
        )
    return missing


def merge(
    shard_csvs: list[str | os.PathLike], out: str | os.PathLike, *, allow_partial: bool = False
) -> Merged:
    """Combine the CSVs (and the ``feedback/`` and ``gradescope/`` folders beside them) of shard runs.

    Each CSV is checked against the grader's record beside it (:func:`record`): every row
    must be recorded and unchanged, every total the sum of its question columns, every
    shard graded with the same questions and hidden checks, and the shards ``1/N`` to
    ``N/N`` all given, once. Feedback files are found by :func:`file_stem` of each
    recorded name, never by the name itself; links are refused. The merged CSV gets its
    own record.

    Raises
    ------
    ValueError
        With a one-line reason naming the file, when any of this fails (or when
        ``allow_partial`` is false and a shard is missing).
    """
    out = Path(out).resolve()
    if not shard_csvs:
        raise ValueError("no shard outputs given")
    shards = [_read_shard(Path(path)) for path in shard_csvs]
    missing = _check_together(shards, allow_partial)
    rows: dict[str, dict] = {}
    sources: dict[str, _Shard] = {}
    for shard in shards:
        for student, values in shard.rows.items():
            if student in rows:
                raise ValueError(
                    f"student {safe_text(student)!r} is in both {sources[student].path} and {shard.path}"
                )
            rows[student], sources[student] = values, shard
    copies = []
    for student, shard in sources.items():
        stem = file_stem(student)
        for name in (f"feedback/{stem}.md", f"feedback/{stem}.txt", f"gradescope/{stem}/results.json"):
            found = shard.path.parent / name
            if found.is_symlink():
                raise ValueError(f"{found} is a link, not the grader's file: refused")
            if found.is_file():
                copies.append((found, out.parent / name))
    for found, target in copies:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found, target)
    diagnosed = {s: sources[s].record["students"][s]["misconceptions"] for s in rows}
    text = csv_text(rows, shards[0].columns)
    run = {key: shards[0].record[key] for key in _DIGEST_KEYS}
    merged = record(text, run, None, diagnosed)
    merged["missing_shards"] = missing
    write_atomically(record_path(out), json_text(merged) + "\n")
    write_atomically(out, text)
    return Merged(rows, diagnosed, missing, merged)
