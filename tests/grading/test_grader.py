"""The grader's command line and outputs: a small class, resume, shards and merge, Gradescope,
the isolation level, forbidden calls through the sandbox, and the results channel.

Attacks on the grader live in test_redteam.py; here every student is honest, blank,
partial or malformed, and each CSV row is asserted against points computed from the
question list (an honest notebook earns every point, a blank one none).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from convkit.grade import report
from convkit.grade.cli import main
from convkit.grade.model import NOTEBOOKS, Check, Question
from convkit.grade.questions import QUESTIONS
from convkit.grade.runner import (
    _expected,
    _Reader,
    grade_notebook,
    loads_bounded,
    select_shard,
)
from convkit.grade.sandbox import Sandbox

from .conftest import ROOT

FULL = {q.id: q.points for q in QUESTIONS}
MAX = sum(FULL.values())


def _row(points: dict) -> dict:
    row = {q.id: str(points.get(q.id, 0)) for q in QUESTIONS}
    row["total"] = str(sum(points.values()))
    row["max"] = str(MAX)
    return row


def _read(path: Path) -> dict[str, dict]:
    with open(path, newline="") as handle:
        return {r.pop("student"): r for r in csv.DictReader(handle)}


def _class(root: Path, students: dict[str, dict[str, str]]) -> Path:
    submissions = root / "submissions"
    for student, notebooks in students.items():
        folder = submissions / student
        folder.mkdir(parents=True)
        for name, text in notebooks.items():
            (folder / name).write_text(text)
    return submissions


def _all(folder: str) -> dict[str, str]:
    return {name: (ROOT / folder / name).read_text() for name in NOTEBOOKS}


def test_a_small_class_through_the_real_command_line(tmp_path):
    first, second = NOTEBOOKS[0], NOTEBOOKS[1]
    submissions = _class(
        tmp_path,
        {
            "alice": _all("solutions"),
            "bob": _all("exercises"),
            "carol": {
                first: (ROOT / "solutions" / first).read_text(),
                second: (ROOT / "exercises" / second).read_text(),
            },
            "dave": {second: "{ this is not a notebook"},
        },
    )
    out = tmp_path / "grades.csv"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "convkit.grade",
            str(submissions),
            "--out",
            str(out),
            "--jobs",
            "2",
            "--timeout",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT / "lib")},
    )
    assert done.returncode == 0, done.stderr
    assert "100%" in done.stderr  # the progress bar
    rows = _read(out)
    assert rows["alice"] == _row(FULL)
    assert rows["bob"] == _row({})
    assert rows["carol"] == _row({q.id: q.points for q in QUESTIONS if q.notebook == first})
    assert rows["dave"] == _row({})
    assert "could not be read" in (tmp_path / "feedback" / "dave.md").read_text()
    with open(out) as handle:
        assert next(csv.reader(handle)) == ["student", "total", "max"] + [q.id for q in QUESTIONS]


def test_an_interrupted_run_resumes_from_its_own_record_and_restart_regrades(tmp_path):
    name = NOTEBOOKS[0]
    mine = {q.id: q.points for q in QUESTIONS if q.notebook == name}
    submissions = _class(tmp_path, {"ann": {name: (ROOT / "solutions" / name).read_text()}})
    out = tmp_path / "grades.csv"
    assert main([str(submissions), "--out", str(out), "--no-progress"]) == 0
    assert _read(out)["ann"] == _row(mine)
    # ann's notebook changes and the CSV is edited by hand: a resumed run keeps the recorded grade
    (submissions / "ann" / name).write_text((ROOT / "exercises" / name).read_text())
    out.write_text("student,total,max\nann,999,70\nmallory,70,70\n")
    assert main([str(submissions), "--out", str(out), "--no-progress"]) == 0
    assert _read(out) == {"ann": _row(mine)}
    assert main([str(submissions), "--out", str(out), "--no-progress", "--restart"]) == 0
    assert _read(out) == {"ann": _row({})}


def test_shards_merged_equal_one_run_and_gradescope_results_follow_the_schema(tmp_path):
    first = NOTEBOOKS[0]
    honest, blank = (ROOT / "solutions" / first).read_text(), (ROOT / "exercises" / first).read_text()
    students = {f"s{i:02d}": {first: honest if i % 2 else blank} for i in range(8)}
    submissions = _class(tmp_path, students)
    whole = tmp_path / "whole" / "grades.csv"
    assert (
        main(
            [
                str(submissions),
                "--out",
                str(whole),
                "--no-progress",
                "--format",
                "markdown",
                "--format",
                "gradescope",
            ]
        )
        == 0
    )
    shards = []
    for k in (1, 2, 3):
        shard = tmp_path / f"shard{k}" / "grades.csv"
        assert (
            main(
                [
                    str(submissions),
                    "--out",
                    str(shard),
                    "--no-progress",
                    "--shard",
                    f"{k}/3",
                    "--format",
                    "markdown",
                    "--format",
                    "gradescope",
                ]
            )
            == 0
        )
        shards.append(shard)
    sizes = [len(_read(s)) for s in shards]
    assert sum(sizes) == 8 and all(sizes)  # a partition: every student in exactly one shard
    merged = tmp_path / "merged" / "grades.csv"
    assert main(["merge", *map(str, shards), "--out", str(merged)]) == 0
    assert merged.read_text() == whole.read_text()
    for student in students:
        for folder in ("feedback", "gradescope"):
            suffix = f"{student}.md" if folder == "feedback" else f"{student}/results.json"
            assert (merged.parent / folder / suffix).read_text() == (
                whole.parent / folder / suffix
            ).read_text()
    result = json.loads((whole.parent / "gradescope" / "s01" / "results.json").read_text())
    mine = [q for q in QUESTIONS if q.notebook == first]
    assert result["score"] == sum(q.points for q in mine) and result["max_score"] == MAX
    assert [t["name"] for t in result["tests"]] == [f"{q.id} {q.name}" for q in QUESTIONS]
    assert all(set(t) >= {"name", "score", "max_score", "output", "visibility"} for t in result["tests"])
    assert main(["merge", str(shards[0]), str(shards[0]), "--out", str(tmp_path / "x.csv")]) == 2


def test_shards_are_a_fixed_partition():
    names = [f"student-{i}" for i in range(500)]
    parts = [select_shard(names, (k, 7)) for k in range(1, 8)]
    assert sorted(sum(parts, [])) == sorted(names)
    assert parts == [select_shard(list(reversed(names)), (k, 7))[::-1] for k in range(1, 8)]
    with pytest.raises(ValueError, match="shard"):
        select_shard(names, (0, 3))


def test_without_namespaces_grading_refuses_unless_unsafe_is_asked(tmp_path, monkeypatch, capsys):
    import convkit.grade.sandbox as sandbox

    monkeypatch.setattr(
        sandbox, "capabilities", lambda: {"level": "process", "root": False, "user_namespaces": False}
    )
    name = NOTEBOOKS[0]
    submissions = _class(tmp_path, {"ann": {name: (ROOT / "solutions" / name).read_text()}})
    out = tmp_path / "grades.csv"
    assert main([str(submissions), "--out", str(out), "--no-progress"]) == 2
    assert "--unsafe-process-sandbox" in capsys.readouterr().err
    assert not out.exists()
    assert main([str(submissions), "--out", str(out), "--no-progress", "--unsafe-process-sandbox"]) == 0
    row = _read(out)["ann"]
    assert row.pop("isolation") == "process (unsafe)"
    assert row == _row({q.id: q.points for q in QUESTIONS if q.notebook == name})
    assert "unsafe-process-sandbox" in (tmp_path / "feedback" / "ann.md").read_text()


def test_check_sandbox_reports_namespaces_on_this_machine(capsys):
    assert main(["--check-sandbox"]) == 0
    printed = capsys.readouterr().out
    assert "level            namespaces" in printed


def test_the_command_line_rejects_a_missing_folder_and_a_bad_shard(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "g.csv"), "--no-progress"]) == 2
    assert "submissions must be a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--shard", "4/3"])
    assert "1 <= K <= N" in capsys.readouterr().err


def _notebook(cells: list[str]) -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    return nbformat.writes(notebook)


def test_a_forbidden_call_scores_zero_through_an_alias_and_names_the_call():
    question = Question(
        "01.q1",
        NOTEBOOKS[0],
        "smooth",
        2,
        (Check(([1.0, 2.0, 3.0], [1.0, 1.0]), [3.0, 5.0]),),
        forbids=("numpy.convolve",),
        why_forbidden="write the sliding sum yourself",
    )
    aliased = _notebook(["from numpy import convolve as c\ndef smooth(x, u):\n    return c(x, u, 'valid')"])
    caught = _notebook(
        [
            "import numpy as np\n"
            "def smooth(x, u):\n    try:\n        return np.convolve(x, u, 'valid')\n"
            "    except BaseException:\n        return [3.0, 5.0]"
        ]
    )
    honest = _notebook(["def smooth(x, u):\n    return [x[i] * u[1] + x[i + 1] * u[0] for i in range(2)]"])
    expected = _expected([question])
    with Sandbox() as sandbox:
        outcomes = [
            grade_notebook(sandbox, text, [question], expected, timeout=5).outcomes["01.q1"]
            for text in (aliased, caught, honest)
        ]
    for outcome in outcomes[:2]:
        assert outcome.points == 0
        assert (
            outcome.message
            == "`numpy.convolve` is not allowed in this question: write the sliding sum yourself"
        )
    assert outcomes[2].points == 2


def test_a_justification_is_shown_escaped_and_not_graded():
    question = Question(
        "01.q1", NOTEBOOKS[0], "choice", 1, (Check(None, "b", "exact"),), kind="explain", justification="why"
    )
    text = _notebook(["choice = 'b'\nwhy = 'stride **2** <b>skips</b> [rows](x)'"])
    with Sandbox() as sandbox:
        result = grade_notebook(sandbox, text, [question], _expected([question]), timeout=5)
    assert result.outcomes["01.q1"].points == 1
    assert result.justifications == {"01.q1": "stride **2** <b>skips</b> [rows](x)"}
    text = report.feedback("ann", {NOTEBOOKS[0]: result}, [question], {"total": 1, "max": 1})
    assert (
        "justification (not graded): stride \\*\\*2\\*\\* &lt;b&gt;skips&lt;/b&gt; \\[rows\\]\\(x\\)" in text
    )


def test_the_results_channel_bounds_depth_and_line_length():
    assert loads_bounded(b'[1, {"a": "[[[["}, [2]]') == [1, {"a": "[[[["}, [2]]
    with pytest.raises(ValueError, match="deeply"):
        loads_bounded(b"[" * 100_000 + b"]" * 100_000)
    read, write = os.pipe()
    try:
        os.write(write, b'{"event": "cell", "index": 0}\nnot json\n' + b"[" * 5000 + b'\n{"event": "x"}\n')
        reader = _Reader(read)
        assert reader.next(time.monotonic() + 1) == {"event": "cell", "index": 0}
        assert reader.next(time.monotonic() + 1) == {"event": "x"}  # the garbage lines skipped
        assert reader.next(time.monotonic() + 0.2) == "timeout"
    finally:
        os.close(read)
        os.close(write)


def test_a_line_without_newline_is_searched_once_then_refused():
    read, write = os.pipe()
    os.set_blocking(write, False)
    reader = _Reader(read)
    try:
        for _ in range(40):  # 40 writes with no newline: the searched prefix grows with the buffer
            os.write(write, b"x" * 4096)
            assert reader.next(time.monotonic() + 0.01) == "timeout"
            assert reader.scanned == len(reader.buffer) == reader.total
    finally:
        os.close(read)
        os.close(write)


def test_a_run_deadline_leaves_unfinished_students_for_the_rerun(tmp_path, capsys):
    name = NOTEBOOKS[0]
    slow = _notebook(["import time\ntime.sleep(1.5)"] * 4)
    submissions = _class(tmp_path, {"ann": {name: slow}, "ben": {name: slow}, "cy": {name: slow}})
    out = tmp_path / "grades.csv"
    assert main([str(submissions), "--out", str(out), "--no-progress", "--jobs", "1", "--deadline", "4"]) == 3
    assert "not graded before the deadline" in capsys.readouterr().err
    first = _read(out)
    assert len(first) < 3  # somebody was left for later, and nobody got a cut-short row
    assert all(row == _row({}) for row in first.values())
    assert main([str(submissions), "--out", str(out), "--no-progress", "--jobs", "2"]) == 0
    assert _read(out) == {s: _row({}) for s in ("ann", "ben", "cy")}
