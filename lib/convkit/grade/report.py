"""What the grader writes: the CSV, the Markdown feedback, Gradescope's results.json, resume state, merges.

Everything here runs in the grading process on the grader's own results. Text that
came from student code (error messages, descriptions of answers, justifications,
folder names) is escaped before it goes into Markdown (:func:`escape_markdown`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from convkit.grade.model import NOTEBOOKS, Outcome, Question

__all__ = [
    "NotebookResult",
    "escape_markdown",
    "header",
    "row",
    "feedback",
    "gradescope",
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
    """Outcomes of one notebook: per question, what went wrong in which cell, and justifications."""

    outcomes: dict[str, Outcome]
    cell_errors: dict[int, str] = field(default_factory=dict)
    note: str = ""
    justifications: dict[str, str] = field(default_factory=dict)


_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|~")


def escape_markdown(text: str, limit: int = 500) -> str:
    """``text`` on one line, every Markdown and HTML special character neutralised.

    >>> escape_markdown("**bold** <script>`x`")
    '\\\\*\\\\*bold\\\\*\\\\* &lt;script&gt;\\\\`x\\\\`'
    """
    text = " ".join(str(text).split())
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


def header(questions: list[Question], level: str = "namespaces") -> list[str]:
    """``student,total,max,<question ids>``, plus ``isolation`` when graded without namespaces."""
    columns = ["student", "total", "max"] + [q.id for q in questions]
    return columns + (["isolation"] if level != "namespaces" else [])


def row(
    student: str, results: dict[str, NotebookResult], questions: list[Question], level: str = "namespaces"
) -> dict:
    points = {q.id: results[q.notebook].outcomes[q.id].points for q in questions}
    values = {
        "student": student,
        "total": number(sum(points.values())),
        "max": sum(q.points for q in questions),
    }
    values.update({qid: number(value) for qid, value in points.items()})
    if level != "namespaces":
        values["isolation"] = f"{level} (unsafe)"
    return values


def feedback(
    student: str,
    results: dict[str, NotebookResult],
    questions: list[Question],
    values: dict,
    level: str = "namespaces",
) -> str:
    """The Markdown feedback of one student."""
    lines = [
        f"# Feedback for {escape_markdown(student, 200)}",
        "",
        f"Total: **{values['total']} / {values['max']}**",
        "",
    ]
    if level != "namespaces":
        lines += [f"Isolation: **{level}** — {UNSAFE_NOTE}.", ""]
    for name in NOTEBOOKS:
        mine = [q for q in questions if q.notebook == name]
        if not mine or name not in results:
            continue
        result = results[name]
        got = sum(result.outcomes[q.id].points for q in mine)
        lines += [f"## {name}: {number(got)} / {sum(q.points for q in mine)}", ""]
        if result.note == "not submitted":
            lines += [f"Not found in your submission: `{name}` (its questions score 0).", ""]
            continue
        if result.note:
            lines += [f"Note: {escape_markdown(result.note)}.", ""]
        for q in mine:
            outcome = result.outcomes[q.id]
            mark = "✓" if outcome.points == outcome.max else "✗"
            text = f"- {mark} **{q.id}** `{q.name}`: {number(outcome.points)} / {outcome.max}"
            if outcome.message:
                text += f" — {escape_markdown(outcome.message)}"
            lines.append(text)
            if q.id in result.justifications:
                lines.append(
                    f"  - justification (not graded): {escape_markdown(result.justifications[q.id], 2000)}"
                )
        if result.cell_errors:
            lines += ["", "Cells that failed (code cells counted from 0):", ""]
            lines += [
                f"- cell {index}: {escape_markdown(error.splitlines()[-1] if error else error)}"
                for index, error in sorted(result.cell_errors.items())
            ]
        lines.append("")
    return "\n".join(lines)


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


def csv_text(rows: dict[str, dict], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for student in sorted(rows):
        writer.writerow(rows[student])
    return buffer.getvalue()


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


class ResumeState:
    """The grader's own record of finished students, for resuming an interrupted run.

    It lives in a private folder beside the CSV (mode 0700), is written only by the
    grading process and is keyed by a fingerprint of the questions and the isolation
    level, so a CSV edited by anyone is never read back as a grade.
    """

    def __init__(self, out: Path, questions: list[Question], level: str) -> None:
        self.folder = out.parent / f".{out.name}.state"
        digest = hashlib.sha256(
            json.dumps(
                [header(questions, level), [q.points for q in questions], [len(q.checks) for q in questions]]
            ).encode()
        )
        self.fingerprint = digest.hexdigest()
        self.path = self.folder / "finished.jsonl"

    def load(self) -> dict[str, dict]:
        """Finished students (row, feedback, Gradescope document), or nothing if absent or foreign."""
        finished: dict[str, dict] = {}
        try:
            with open(self.path, encoding="utf-8") as handle:
                if handle.readline().strip() != self.fingerprint:
                    return {}
                for line in handle:  # one student a line; a line cut short by a crash is skipped
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if (
                        type(entry) is dict
                        and type(entry.get("student")) is str
                        and type(entry.get("record")) is dict
                    ):
                        finished[entry["student"]] = entry["record"]
        except OSError:
            return {}
        return finished

    def start(self, finished: dict[str, dict]) -> None:
        """Begin the record of this run with the students already finished."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        lines = [self.fingerprint] + [json.dumps({"student": s, "record": r}) for s, r in finished.items()]
        write_atomically(self.path, "\n".join(lines) + "\n")

    def add(self, student: str, record: dict) -> None:
        """Record one more finished student (appended and flushed to disk)."""
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"student": student, "record": record}) + "\n")
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
                student = values["student"]
                if student in rows:
                    raise ValueError(f"student {student!r} is in both {sources[student]} and {path}")
                rows[student], sources[student] = values, path
    if columns is None:
        raise ValueError("no shard outputs given")
    for student, source in sources.items():
        for folder, suffix in (("feedback", f"{student}.md"), ("gradescope", f"{student}/results.json")):
            found = source.parent / folder / suffix
            if found.is_file():
                target = out.parent / folder / suffix
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(found, target)
    write_atomically(out, csv_text(rows, columns))
    return rows
