"""The class report: what an instructor reads before the next lecture (``class-report.md`` / ``.html``).

Computed in the grading process from the CSV rows the run wrote: the distribution of
totals (a histogram drawn with matplotlib's Agg backend, embedded as a PNG so the files
read offline), per question the mean and the shares of full marks and of zeros, the
questions ranked from hardest to easiest with the course notebook to revisit, each
misconception the checks diagnosed with the students who showed it and the section to
revisit, and the folders and files that were not graded, with the reason. Names and reasons
pass through :func:`convkit.grade.report.safe_text` like every other output.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path

from convkit.grade.model import Misconception, Question
from convkit.grade.report import escape_markdown, natural_sorted, number, safe_text, write_atomically

__all__ = [
    "QuestionStats",
    "question_stats",
    "Diagnosed",
    "diagnosed",
    "histogram_png",
    "markdown",
    "html_page",
    "write",
]


@dataclass(frozen=True)
class QuestionStats:
    """One question over the class: mean points, and the shares (0–1) of full marks and of zeros."""

    question: Question
    mean: float
    full: float
    zero: float


def _points(row: dict, qid: str) -> float:
    try:
        return float(row[qid])
    except (KeyError, TypeError, ValueError):
        return 0.0


def question_stats(rows: dict[str, dict], questions: list[Question]) -> list[QuestionStats]:
    """Per question, over the students in ``rows``, hardest first (lowest share of full marks, then mean).

    >>> from convkit.grade.model import Check
    >>> q = Question("01.q1", "01_why_convolutions.ipynb", "f", 2, (Check(None, 1),))
    >>> [s] = question_stats({"a": {"01.q1": 2}, "b": {"01.q1": 0}, "c": {"01.q1": "0"}}, [q])
    >>> round(s.mean, 3), round(s.full, 3), round(s.zero, 3)
    (0.667, 0.333, 0.667)
    """
    count = max(len(rows), 1)
    stats = []
    for q in questions:
        got = [_points(row, q.id) for row in rows.values()]
        stats.append(
            QuestionStats(
                q,
                sum(got) / count,
                sum(p >= q.points for p in got) / count,
                sum(p == 0 for p in got) / count,
            )
        )
    return sorted(stats, key=lambda s: (s.full, s.mean / s.question.points, s.question.id))


@dataclass(frozen=True)
class Diagnosed:
    """One misconception over the class: the idea (None if the questions no longer know its id),
    its id, the question it was diagnosed on, and the students who showed it (in a human order)."""

    idea: Misconception | None
    id: str
    question: Question
    students: tuple[str, ...]


def diagnosed(misconceptions: dict[str, dict[str, list[str]]], questions: list[Question]) -> list[Diagnosed]:
    """Each misconception shown, most students first: ``misconceptions`` maps a student to the ids
    diagnosed per question (as the class grader records them).

    >>> from convkit.grade.model import Check
    >>> q = Question("01.q1", "01_why_convolutions.ipynb", "f", 2, (Check(None, 1),),
    ...              misconceptions=(Misconception("off by one", 2),))
    >>> [(d.id, d.students) for d in diagnosed({"b": {"01.q1": ["01.q1.m1"]}, "a": {"01.q1": ["01.q1.m1"]}}, [q])]
    [('01.q1.m1', ('a', 'b'))]
    """
    by_id = {q.id: q for q in questions}
    ideas = {
        m.id: m for q in questions for m in q.misconceptions + sum((c.misconceptions for c in q.checks), ())
    }
    who: dict[tuple[str, str], list[str]] = {}
    for student, per_question in misconceptions.items():
        for qid, ids in per_question.items():
            if qid in by_id:
                for idea in ids:
                    who.setdefault((qid, idea), []).append(student)
    found = [
        Diagnosed(ideas.get(idea), idea, by_id[qid], tuple(natural_sorted(students)))
        for (qid, idea), students in who.items()
    ]
    return sorted(found, key=lambda d: (-len(d.students), d.question.id, d.id))


_MAX_NAMES = 30  # a misconception shown by more students lists the first ones and counts the rest


def _names(students: tuple[str, ...], esc) -> str:
    shown = ", ".join(esc(s) for s in students[:_MAX_NAMES])
    more = len(students) - _MAX_NAMES
    return shown + (f" and {more} more" if more > 0 else "")


def _section(d: Diagnosed) -> str:
    section = (d.idea.section if d.idea else "") or d.question.section
    return f", section “{section}”" if section else ""


def histogram_png(totals: list[float], maximum: float) -> bytes:
    """A histogram of the totals (one bar per point, 0 to ``maximum``) as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 2.6), dpi=100)
    try:
        bins = [b - 0.5 for b in range(int(maximum) + 2)]
        axes.hist(totals, bins=bins, color="#4477aa", edgecolor="white")
        axes.set_xlim(-0.5, maximum + 0.5)
        axes.set_xlabel(f"total points (of {number(maximum)})")
        axes.set_ylabel("students")
        axes.set_title("Distribution of totals")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        plt.close(figure)
    return buffer.getvalue()


def _percent(share: float) -> str:
    return f"{100 * share:.0f}%"


def _summary(rows: dict[str, dict], maximum: float) -> tuple[int, str]:
    totals = sorted(_points(row, "total") for row in rows.values())
    if not totals:
        return 0, "no student graded"
    middle = len(totals) // 2
    median = totals[middle] if len(totals) % 2 else (totals[middle - 1] + totals[middle]) / 2
    mean = sum(totals) / len(totals)
    return len(totals), f"mean {number(mean)} / {number(maximum)}, median {number(median)}"


def _scoring(partial: bool) -> str:
    if partial:
        return "Points are given per check passed (--partial-credit)."
    return "Points are all or nothing per question."


_UNKNOWN = "Not known after a merge: each shard's own class-report lists the folders it did not grade."


def markdown(
    rows: dict[str, dict],
    questions: list[Question],
    skipped: list[tuple[str, str]] | None,
    png: bytes,
    misconceptions: dict[str, dict] | None = None,
    missing_shards: list[str] = (),
    partial: bool = False,
) -> str:
    """The report as Markdown (the histogram as an embedded data URI)."""
    maximum = sum(q.points for q in questions)
    count, summary = _summary(rows, maximum)
    lines = [
        "# Class report",
        "",
        f"{count} student(s) graded; totals: {summary}. {_scoring(partial)}",
        "",
        f"![Distribution of totals](data:image/png;base64,{base64.b64encode(png).decode()})",
        "",
        "## Questions, hardest first",
        "",
        "| question | answer | kind | mean | full marks | zero | revisit |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in question_stats(rows, questions):
        q = s.question
        lines.append(
            f"| {q.id} | `{q.name}` | {q.kind} | {number(s.mean)} / {q.points} | {_percent(s.full)} | "
            f"{_percent(s.zero)} | `notebooks/{q.notebook}` |"
        )
    lines += ["", "## Misconceptions diagnosed", ""]
    found = diagnosed(misconceptions or {}, questions)
    if found:
        lines += [
            "| misconception | students | question | revisit |",
            "|---|---|---|---|",
        ]
        for d in found:
            idea = escape_markdown(d.idea.message if d.idea else "(no longer among the questions)")
            lines.append(
                f"| {idea} (`{d.id}`) | {len(d.students)}: {_names(d.students, escape_markdown)} | "
                f"{d.question.id} `{d.question.name}` | `notebooks/{d.question.notebook}`{_section(d)} |"
            )
    else:
        lines.append("No wrong answer matched a known misconception.")
    lines += ["", "## Not graded", ""]
    if missing_shards:
        lines += [
            f"Shard(s) {', '.join(missing_shards)} missing from this merge: their students are not here.",
            "",
        ]
    if skipped is None:
        lines.append(_UNKNOWN)
    elif skipped:
        lines += [f"- {escape_markdown(name, 1100)}: {escape_markdown(reason)}" for name, reason in skipped]
    else:
        lines.append("Every folder in SUBMISSIONS was graded.")
    return "\n".join(lines) + "\n"


def html_page(
    rows: dict[str, dict],
    questions: list[Question],
    skipped: list[tuple[str, str]] | None,
    png: bytes,
    misconceptions: dict[str, dict] | None = None,
    missing_shards: list[str] = (),
    partial: bool = False,
) -> str:
    """The report as one self-contained HTML page (no script, nothing loaded from the web)."""

    def esc(text: object) -> str:
        return html.escape(safe_text(text))

    maximum = sum(q.points for q in questions)
    count, summary = _summary(rows, maximum)
    body = [
        "<h1>Class report</h1>",
        f"<p>{count} student(s) graded; totals: {esc(summary)}. {esc(_scoring(partial))}</p>",
        f'<img alt="Distribution of totals" src="data:image/png;base64,{base64.b64encode(png).decode()}">',
        "<h2>Questions, hardest first</h2>",
        "<table><tr><th>question</th><th>answer</th><th>kind</th><th>mean</th><th>full marks</th>"
        "<th>zero</th><th>revisit</th></tr>",
    ]
    for s in question_stats(rows, questions):
        q = s.question
        body.append(
            f"<tr><td>{esc(q.id)}</td><td><code>{esc(q.name)}</code></td><td>{esc(q.kind)}</td>"
            f"<td>{number(s.mean)} / {q.points}</td><td>{_percent(s.full)}</td><td>{_percent(s.zero)}</td>"
            f"<td><code>notebooks/{esc(q.notebook)}</code></td></tr>"
        )
    body += ["</table>", "<h2>Misconceptions diagnosed</h2>"]
    found = diagnosed(misconceptions or {}, questions)
    if found:
        body.append(
            "<table><tr><th>misconception</th><th>students</th><th>question</th><th>revisit</th></tr>"
        )
        for d in found:
            idea = esc(d.idea.message if d.idea else "(no longer among the questions)")
            body.append(
                f"<tr><td>{idea} (<code>{esc(d.id)}</code>)</td>"
                f"<td>{len(d.students)}: {_names(d.students, esc)}</td>"
                f"<td>{esc(d.question.id)} <code>{esc(d.question.name)}</code></td>"
                f"<td><code>notebooks/{esc(d.question.notebook)}</code>{esc(_section(d))}</td></tr>"
            )
        body.append("</table>")
    else:
        body.append("<p>No wrong answer matched a known misconception.</p>")
    body.append("<h2>Not graded</h2>")
    if missing_shards:
        body.append(
            f"<p>Shard(s) {esc(', '.join(missing_shards))} missing from this merge: their students are not here.</p>"
        )
    if skipped is None:
        body.append(f"<p>{esc(_UNKNOWN)}</p>")
    elif skipped:
        body.append("<ul>" + "".join(f"<li>{esc(n)}: {esc(r)}</li>" for n, r in skipped) + "</ul>")
    else:
        body.append("<p>Every folder in SUBMISSIONS was graded.</p>")
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:.2em .6em;text-align:left}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Class report</title>'
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write(
    folder: Path,
    rows: dict[str, dict],
    questions: list[Question],
    skipped: list[tuple[str, str]] | None,
    misconceptions: dict[str, dict] | None = None,
    missing_shards: list[str] = (),
    partial: bool = False,
) -> list[Path]:
    """Write ``class-report.md`` and ``class-report.html`` in ``folder``; returns their paths.

    ``skipped`` lists the folders and files not graded, with the reason; None after a merge,
    where each shard's own report has them. ``misconceptions`` maps each student to the ids
    diagnosed per question (:func:`diagnosed`); ``missing_shards`` names the shards a
    partial merge lacks (``"3/4"``). ``partial``: graded with partial credit.
    """
    maximum = sum(q.points for q in questions)
    png = histogram_png([_points(row, "total") for row in rows.values()], maximum)
    paths = [folder / "class-report.md", folder / "class-report.html"]
    extra = (misconceptions, list(missing_shards), partial)
    write_atomically(paths[0], markdown(rows, questions, skipped, png, *extra))
    write_atomically(paths[1], html_page(rows, questions, skipped, png, *extra))
    return paths
