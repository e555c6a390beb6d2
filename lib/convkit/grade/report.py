"""What the grader writes: the CSV, the Markdown feedback, Gradescope's results.json, resume state, merges.

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
    "natural_sorted",
    "csv_text",
    "write_atomically",
    "ResumeState",
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
    error, and the cell's first line of code, by which the feedback names it.
    """

    outcomes: dict[str, Outcome]
    cell_errors: dict[int, str] = field(default_factory=dict)
    note: str = ""
    justifications: dict[str, str] = field(default_factory=dict)
    cell_lines: dict[int, str] = field(default_factory=dict)


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


def gradescope(
    results: dict[str, NotebookResult], questions: list[Question], values: dict, level: str = "namespaces"
) -> dict:
    """One student's results in Gradescope's autograder schema (``results.json``)."""
    tests = []
    for number_, q in enumerate(questions, start=1):
        result = results[q.notebook]
        outcome = result.outcomes[q.id]
        output = outcome.message or ("passed" if outcome.points == outcome.max else "")
        if result.note and not outcome.message:
            output = result.note
        if q.id in result.justifications:
            output += f"\nYour justification (not graded): {result.justifications[q.id][:2000]}"
        tests.append(
            {
                "name": f"{q.id} {q.name}",
                "number": str(number_),
                "score": number(outcome.points),
                "max_score": q.points,
                "output": output,
                "visibility": "visible",
            }
        )
    document = {
        "score": values["total"],
        "max_score": values["max"],
        "tests": tests,
        "visibility": "visible",
        "stdout_visibility": "hidden",
    }
    if level != "namespaces":
        document["output"] = UNSAFE_NOTE
    return document


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
    student's entry carries a digest of the files graded (:func:`convkit.grade.runner.submission_digest`),
    and the record as a whole the digests of the question set and of the hidden checks
    (``run``, a dict) and the isolation level: a rerun keeps a student only when all of
    them are unchanged (:meth:`plan`).
    """

    def __init__(self, out: Path, run: dict) -> None:
        self.folder = out.parent / f".{out.name}.state"
        self.run = {"format": 2, **run}
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
                if type(run) is not dict or run.get("format") != 2:
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


def merge(shard_csvs: list[str | os.PathLike], out: str | os.PathLike) -> dict[str, dict]:
    """Combine the CSVs (and the ``feedback/`` and ``gradescope/`` folders beside them) of shard runs.

    Raises
    ------
    ValueError
        If a shard CSV is missing, the shards' columns differ, or a student appears twice.
    """
    out = Path(out).resolve()
    rows: dict[str, dict] = {}
    columns: list[str] | None = None
    sources: dict[str, Path] = {}
    for path in map(Path, shard_csvs):
        if not path.is_file():
            raise ValueError(f"shard output {str(path)!r} is not a file")
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if columns is None:
                columns = list(reader.fieldnames or [])
            elif list(reader.fieldnames or []) != columns:
                raise ValueError(f"{path} has columns {reader.fieldnames}, expected {columns}")
            for values in reader:
                student = values["student"] = csv_uncell(values["student"])
                if student in rows:
                    raise ValueError(f"student {student!r} is in both {sources[student]} and {path}")
                rows[student], sources[student] = values, path
    if columns is None:
        raise ValueError("no shard outputs given")
    for student, source in sources.items():
        stem = file_stem(student)
        for folder, suffix in (("feedback", f"{stem}.md"), ("gradescope", f"{stem}/results.json")):
            found = source.parent / folder / suffix
            if found.is_file():
                target = out.parent / folder / suffix
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(found, target)
    write_atomically(out, csv_text(rows, columns))
    return rows
