"""The grader's command line and outputs: a small class, resume, shards and merge, Gradescope,
the isolation level, and forbidden calls through the sandbox (the results channel alone is
in test_wire.py).

Attacks on the grader live in test_redteam.py; here every student is honest, blank,
partial or malformed, and each CSV row is asserted against points computed from the
question list (an honest notebook earns every point, a blank one none).
"""

from __future__ import annotations

import base64
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from convkit.grade import report
from convkit.grade.classgrader import _expected, grade_notebook, load_questions, select_shard
from convkit.grade.cli import main
from convkit.grade.model import NOTEBOOKS, Check, Outcome, Question
from convkit.grade.questions import QUESTIONS

from .conftest import ROOT

FULL = {q.id: q.points for q in QUESTIONS}
MAX = sum(FULL.values())


def _row(points: dict) -> dict:
    row = {q.id: str(points.get(q.id, 0)) for q in QUESTIONS}
    row["total"] = str(sum(points.values()))
    row["max"] = str(MAX)
    return row


def _read(path: Path) -> dict[str, dict]:
    """The CSV's rows without the notebook subtotals (those are pinned by the one-week test)."""
    with open(path, newline="") as handle:
        rows = {r.pop("student"): r for r in csv.DictReader(handle)}
    return {s: {k: v for k, v in r.items() if not k.endswith(".total")} for s, r in rows.items()}


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
        subtotals = [f"{name[:2]}.total" for name in NOTEBOOKS]
        assert next(csv.reader(handle)) == ["student", "total", "max", *subtotals] + [q.id for q in QUESTIONS]


def test_a_rerun_keeps_what_is_unchanged_and_regrades_a_changed_submission_or_changed_checks(
    tmp_path, capsys
):
    name = NOTEBOOKS[0]
    mine = {q.id: q.points for q in QUESTIONS if q.notebook == name}
    solved = (ROOT / "solutions" / name).read_text()
    submissions = _class(tmp_path, {"ann": {name: solved}, "ben": {name: solved}})
    checks = tmp_path / "checks"
    shutil.copytree(ROOT / "tests" / "grading", checks, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "grades.csv"
    command = [str(submissions), "--out", str(out), "--no-progress", "--checks", str(checks)]
    assert main(command) == 0
    assert _read(out) == {"ann": _row(mine), "ben": _row(mine)}
    capsys.readouterr()
    # the CSV edited by hand is never read back: the grader's own record restores it
    out.write_text("student,total,max\nann,999,70\nmallory,70,70\n")
    assert main(command) == 0
    assert _read(out) == {"ann": _row(mine), "ben": _row(mine)}
    assert "kept 2 student(s) graded before (--restart" in capsys.readouterr().err
    # a fixed (here: emptied) submission is graded again, the other kept
    (submissions / "ann" / name).write_text((ROOT / "exercises" / name).read_text())
    assert main(command) == 0
    assert _read(out) == {"ann": _row({}), "ben": _row(mine)}
    err = capsys.readouterr().err
    assert "kept 1 student(s) graded before; grading 1 again (1: the submission changed)" in err
    assert "graded 1 student(s) (and kept 1 from the last run)" in err
    # any edit of the hidden checks grades everyone again
    with open(checks / f"questions_{name[:2]}.py", "a") as handle:
        handle.write("\n# a comment changes the checks' digest\n")
    assert main(command) == 0
    assert "grading 2 again (2: the hidden checks changed)" in capsys.readouterr().err
    (submissions / "cy").mkdir()
    assert main([*command, "--restart"]) == 0
    assert _read(out) == {"ann": _row({}), "ben": _row(mine), "cy": _row({})}
    assert "kept" not in capsys.readouterr().err


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
    shards_of = {student: s.parent for s in shards for student in _read(s)}
    sizes = [len(_read(s)) for s in shards]
    assert sum(sizes) == 8 and all(sizes)  # a partition: every student in exactly one shard
    merged = tmp_path / "merged" / "grades.csv"
    assert main(["merge", *map(str, shards), "--out", str(merged)]) == 0
    assert merged.read_text() == whole.read_text()
    report_of = {p: (p.parent / "class-report.md").read_text() for p in (merged, whole)}
    assert report_of[merged].split("## Not graded")[0] == report_of[whole].split("## Not graded")[0]

    def untimed(document: dict) -> dict:  # the times are measured, so each run has its own
        del document["execution_time"]
        for test in document["tests"]:
            del test["extra_data"]["execution_time"]
        return document

    for student in students:
        feedback = f"feedback/{student}.md"
        assert (merged.parent / feedback).read_text() == (whole.parent / feedback).read_text()
        results = [
            json.loads((f.parent / "gradescope" / student / "results.json").read_text())
            for f in (merged, whole)
        ]
        assert results[0] == json.loads(
            (shards_of[student] / "gradescope" / student / "results.json").read_text()
        )
        assert untimed(results[0]) == untimed(results[1])
    result = json.loads((whole.parent / "gradescope" / "s01" / "results.json").read_text())
    mine = [q for q in QUESTIONS if q.notebook == first]
    assert result["score"] == sum(q.points for q in mine) and result["max_score"] == MAX
    # a question with hidden checks is two tests, its points on the hidden one's
    names = [
        f"{q.id} {q.name}" + suffix
        for q in load_questions(ROOT / "tests" / "grading")
        for suffix in ((" (public checks)", " (hidden checks)") if any(c.hidden for c in q.checks) else ("",))
    ]
    assert [t["name"] for t in result["tests"]] == names
    assert all(
        set(t) >= {"name", "score", "max_score", "status", "output", "visibility", "extra_data"}
        for t in result["tests"]
    )
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


def test_a_forbidden_call_scores_zero_through_an_alias_and_names_the_call(sandbox):
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


def test_a_justification_is_shown_escaped_and_not_graded(sandbox):
    question = Question(
        "01.q1", NOTEBOOKS[0], "choice", 1, (Check(None, "b", "exact"),), kind="explain", justification="why"
    )
    text = _notebook(["choice = 'b'\nwhy = 'stride **2** <b>skips</b> [rows](x)'"])
    result = grade_notebook(sandbox, text, [question], _expected([question]), timeout=5)
    assert result.outcomes["01.q1"].points == 1
    assert result.justifications == {"01.q1": "stride **2** <b>skips</b> [rows](x)"}
    text = report.feedback("ann", {NOTEBOOKS[0]: result}, [question], {"total": 1, "max": 1})
    assert (
        "justification (not graded): stride \\*\\*2\\*\\* &lt;b&gt;skips&lt;/b&gt; \\[rows\\]\\(x\\)" in text
    )


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


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_run_keeps_the_finished_students_and_the_rerun_completes(tmp_path, signum):
    name = NOTEBOOKS[0]
    # 4.5 s a student: the signal, 2 s into the second student, lands mid-notebook
    slow = _notebook(["import time\ntime.sleep(1.5)"] * 3)
    students = ["s1", "s2", "s3"]  # the rerun grades the two left, side by side
    submissions = _class(tmp_path, {s: {name: slow} for s in students})
    out = tmp_path / "grades.csv"
    command = [sys.executable, "-m", "convkit.grade", str(submissions), "--out", str(out), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib")}
    process = subprocess.Popen(
        [*command, "--jobs", "1"], stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    try:
        started = time.monotonic()
        while not (out.is_file() and len(out.read_text().splitlines()) > 1):  # the first student is in
            assert process.poll() is None and time.monotonic() - started < 180
            time.sleep(0.2)
        time.sleep(2)  # the second student's notebook is running (2.5 s of it left)
        process.send_signal(signum)
        sent = time.monotonic()
        _, err = process.communicate(timeout=30)
        stopped_after = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
    assert stopped_after < 5, stopped_after
    assert process.returncode == 128 + signum
    assert "Traceback" not in err
    message = [line for line in err.splitlines() if line.strip()][-1]
    assert message.startswith("stopped by ") and "run the same command again" in message, err
    rows = _read(out)
    assert rows == {"s1": _row({})}  # jobs 1: the finished student only, nobody cut short
    assert (tmp_path / "feedback" / "s1.md").is_file()
    assert not (tmp_path / "feedback" / "s2.md").exists()
    if signum == signal.SIGINT:
        done = subprocess.run([*command, "--jobs", "2"], capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        assert _read(out) == {s: _row({}) for s in students}


def test_after_a_check_times_out_the_questions_other_checks_are_skipped_with_the_same_score(sandbox):
    spin = Question("01.q1", NOTEBOOKS[0], "spin", 2, tuple(Check((k,), k, "exact") for k in range(3)))
    calls = Question("01.q2", NOTEBOOKS[0], "calls", 1, (Check((), 1, "exact"),))  # spin was called once
    text = _notebook(
        [
            "count = [0]\ndef spin(k):\n    count[0] += 1\n    while True:\n        pass",
            "def calls():\n    return count[0]",
        ]
    )
    result = grade_notebook(sandbox, text, [spin, calls], _expected([spin, calls]), timeout=2)
    assert result.outcomes["01.q2"] == Outcome(1, 1)  # spin was called once: checks 2 and 3 skipped
    assert result.outcomes["01.q1"] == Outcome(
        0, 2, "check 1: spin(0) did not finish within 2 s (an endless loop?)"
    )


def test_a_blank_answer_is_not_answered_and_a_failed_cell_is_named_by_its_first_line(sandbox):
    function = Question("01.q1", NOTEBOOKS[0], "blank_fn", 1, (Check((1,), 1, "exact"),))
    value = Question("01.q2", NOTEBOOKS[0], "blank_value", 1, (Check(None, 3, "exact"),))
    questions = [function, value]
    blank = _notebook(
        [
            "def blank_fn(x):\n    # YOUR CODE HERE\n    raise NotImplementedError",
            "# YOUR CODE HERE\nraise NotImplementedError",
        ]
    )
    broken = _notebook(["def blank_fn(x):\n    return x", "# my answer\nblank_value = undefined_helper(3)"])
    first = grade_notebook(sandbox, blank, questions, _expected(questions), timeout=5)
    second = grade_notebook(sandbox, broken, questions, _expected(questions), timeout=5)
    assert [o.message for o in first.outcomes.values()] == ["not answered", "not answered"]
    assert second.outcomes["01.q1"] == Outcome(1, 1)
    assert "blank_value is not defined" in second.outcomes["01.q2"].message  # a real error, not a blank
    values = {"total": 1, "max": 2}
    text = report.feedback("ann", {NOTEBOOKS[0]: second}, questions, values)
    assert "- the cell starting “blank\\_value = undefined\\_helper\\(3\\)”: NameError" in text
    assert "counted from 0" not in text
    assert "Cells that raised" not in report.feedback("ann", {NOTEBOOKS[0]: first}, questions, values)


def test_plain_text_feedback_escapes_nothing_but_control_characters():
    question = Question("01.q3", NOTEBOOKS[0], "lecture_gigabytes", 1, (Check(None, 1.0),))
    message = "check 1: expected (3×3) windows, got <3P + 2, P> with *stride* \x1b[2J"
    result = report.NotebookResult(
        {"01.q3": Outcome(0, 1, message)}, {4: "ValueError: a_b"}, "", {}, {4: "y = f(`x`) <b>"}
    )
    plain = report.feedback("ann_lee", {NOTEBOOKS[0]: result}, [question], {"total": 0, "max": 1}, plain=True)
    assert "Feedback for ann_lee\n====" in plain
    assert "- ✗ 01.q3 'lecture_gigabytes': 0 / 1 — check 1: expected (3×3) windows, got <3P + 2, P>" in plain
    assert "with *stride* \\x1b[2J" in plain and "\x1b" not in plain
    assert "- the cell starting 'y = f(`x`) <b>': ValueError: a_b" in plain
    assert "\\_" not in plain and "&lt;" not in plain and "**" not in plain
    markdown = report.feedback("ann_lee", {NOTEBOOKS[0]: result}, [question], {"total": 0, "max": 1})
    assert "&lt;3P \\+ 2, P&gt;" in markdown and "\x1b" not in markdown
    assert "- the cell starting “y = f\\(\\`x\\`\\) &lt;b&gt;”: ValueError: a\\_b" in markdown


def test_gitignore_covers_every_file_the_grader_writes_at_the_repository_root():
    written = [
        "grades.csv",
        "grades.csv.record.json",
        "feedback/ann.md",
        "feedback/ann.txt",
        "gradescope/ann/results.json",
        ".grades.csv.state/finished.jsonl",
        "out/3/.grades.csv.state/finished.jsonl",
        "out/3/grades.csv",
        "out/3/grades.csv.record.json",
    ]
    for path in written:
        done = subprocess.run(["git", "check-ignore", "--no-index", "-q", path], cwd=ROOT)
        assert done.returncode == 0, f"{path} is not ignored"


def test_option_errors_name_the_flag(tmp_path, capsys):
    for flag, value, said in (
        ("--jobs", "0", "argument --jobs: must be at least 1, got 0"),
        ("--deadline", "-1", "argument --deadline: must be a positive number of seconds, got -1"),
        ("--timeout", "nan", "argument --timeout: must be a positive number of seconds, got nan"),
        ("--memory", "10", "argument --memory: must be at least 64, got 10"),
    ):
        with pytest.raises(SystemExit):
            main([str(tmp_path), flag, value])
        assert said in capsys.readouterr().err


def test_one_weeks_notebooks_are_graded_alone_and_subtotals_tell_not_submitted_from_zero(tmp_path, capsys):
    first, second = NOTEBOOKS[0], NOTEBOOKS[1]
    week = [q for q in QUESTIONS if q.notebook in (first, second)]
    submissions = _class(
        tmp_path,
        {
            "ann": {
                first: (ROOT / "solutions" / first).read_text(),
                second: (ROOT / "exercises" / second).read_text(),
            },
            "ben": {first: (ROOT / "exercises" / first).read_text()},
            ".drafts": {},
        },
    )
    out = tmp_path / "grades.csv"
    options = ["--no-progress", "--notebooks", "01-02", "--format", "markdown", "--format", "text"]
    assert main([str(submissions), "--out", str(out), *options]) == 0
    with open(out, newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["student", "total", "max", "01.total", "02.total"] + [q.id for q in week]
    rows = {line[0]: dict(zip(table[0], line)) for line in table[1:]}
    points_first = sum(q.points for q in week if q.notebook == first)
    assert rows["ann"]["total"] == rows["ann"]["01.total"] == str(points_first)
    assert rows["ann"]["02.total"] == "0"  # handed in, nothing right
    assert rows["ben"]["01.total"] == "0" and rows["ben"]["02.total"] == ""  # empty: not handed in
    assert rows["ann"]["max"] == str(sum(q.points for q in week))
    feedback = (tmp_path / "feedback" / "ann.md").read_text()
    assert all(name not in feedback for name in NOTEBOOKS[2:])
    plain = (tmp_path / "feedback" / "ann.txt").read_text()
    assert "Feedback for ann\n" in plain and "\\" not in plain and "**" not in plain
    report = (tmp_path / "class-report.md").read_text()
    assert "## Questions, hardest first" in report and "drafts: a hidden folder" in report
    assert [line.split(" | ")[0] for line in report.splitlines() if line.startswith("| 0")] == [
        f"| {q.id}" for q in sorted(week, key=lambda q: (q.notebook == first, q.id))
    ]  # 02 is failed by everyone who handed it in, 01 passed by half the class
    page = (tmp_path / "class-report.html").read_text()
    image = page.split('src="data:image/png;base64,')[1].split('"')[0]
    assert base64.b64decode(image).startswith(b"\x89PNG")
    assert "http" not in page.replace("http-equiv", "")
    with pytest.raises(SystemExit):
        main([str(submissions), "--notebooks", "08"])
    assert "argument --notebooks: must name notebooks among 01-07" in capsys.readouterr().err
