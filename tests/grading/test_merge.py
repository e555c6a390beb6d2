"""``merge`` trusts only what the grader recorded, Gradescope's results carry status, times and
visibility, and the class report counts the misconceptions the checks diagnosed.

One small class (notebook 02 only) is graded once for the module, as one run and as three
shards; every test that tampers with an output works on its own copy. Which student made
which mistake is known from the answers the test hands in (``answers.py``), not from the
grader: ben and cy flip the kernel in 02.q1, ben also in 02.q2, and ben picks the letter
of the "invariance" idea in 02.q4, which only a hidden check tells apart.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest

from convkit.grade import report
from convkit.grade.cli import main, parser
from convkit.grade.model import Check, Misconception, Outcome, Question

from .answers import WRONG
from .conftest import HERE, ROOT
from .test_misconceptions import notebook_with

NAME = "02_convolution_1d.ipynb"
FLIP_Q1, FLIP_Q2 = WRONG["02.q1"][0][0], WRONG["02.q2"][0][0]
INVARIANCE = WRONG["02.q4"][0][0]
STUDENTS = {
    "ann": {},
    "ben": {"02.q1": FLIP_Q1, "02.q2": FLIP_Q2, "02.q4": INVARIANCE},
    "cy": {"02.q1": FLIP_Q1},
    "dee": None,  # the blank exercise
}
# the points of notebook 02's questions, from its exercise notebook's titles
POINTS = {"02.q1": 3, "02.q2": 2, "02.q3": 2, "02.q4": 2, "02.q5": 2}
SECTION_OF_FLIP = "3. Not the convolution of signal processing"


def _run(args: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main(args)
    return status, err.getvalue()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The class graded as one run (``whole/``) and as shards 1/3, 2/3, 3/3 (``s1/`` …)."""
    root = tmp_path_factory.mktemp("merge")
    submissions = root / "submissions"
    for student, answers in STUDENTS.items():
        (submissions / student).mkdir(parents=True)
        if answers is None:
            text = (ROOT / "exercises" / NAME).read_text()
        else:
            text = notebook_with(NAME, answers)
        (submissions / student / NAME).write_text(text)
    common = [str(submissions), "--notebooks", "02", "--no-progress"]
    formats = ["--format", "markdown", "--format", "text", "--format", "gradescope"]
    outs = {"whole": root / "whole" / "grades.csv"}
    status, err = _run([*common, "--out", str(outs["whole"]), *formats])
    assert status == 0, err
    for k in (1, 2, 3):
        outs[f"s{k}"] = root / f"s{k}" / "grades.csv"
        status, err = _run([*common, "--out", str(outs[f"s{k}"]), "--shard", f"{k}/3", *formats])
        assert status == 0, err
    return {"root": root, "submissions": submissions, "common": common, **outs}


def _copy(graded, tmp_path: Path, *names: str) -> list[Path]:
    """Copies of these outputs' folders in ``tmp_path``; returns their CSVs."""
    return [
        Path(shutil.copytree(graded[n].parent, tmp_path / n, symlinks=True)) / "grades.csv" for n in names
    ]


def _merge(tmp_path: Path, shards: list[Path], *extra: str) -> tuple[int, str]:
    return _run(["merge", *map(str, shards), "--out", str(tmp_path / "merged" / "grades.csv"), *extra])


def _refused(status: int, err: str, *said: str) -> None:
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err  # one line, never a traceback
    for text in said:
        assert text in lines[0], (text, lines[0])


def _lines(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _write_lines(path: Path, lines: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(lines)


def _digest(cells: list[str]) -> str:
    """A row's digest as the README states it, computed here on its own."""
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def _shard_with(graded, tmp_path: Path, student: str) -> Path:
    """A copy of the shard that holds ``student``."""
    for k in (1, 2, 3):
        rows = _lines(graded[f"s{k}"])
        if any(cells[0] == student for cells in rows[1:]):
            return _copy(graded, tmp_path, f"s{k}")[0]
    raise AssertionError(f"{student} is in no shard")


# ---------------------------------------------------------------- merging what the grader wrote


def test_merged_shards_equal_one_run_with_the_same_misconceptions_in_the_report(graded, tmp_path):
    shards = _copy(graded, tmp_path, "s1", "s2", "s3")
    status, err = _merge(tmp_path, shards)
    assert status == 0, err
    merged, whole = tmp_path / "merged", graded["whole"].parent
    assert (merged / "grades.csv").read_bytes() == (whole / "grades.csv").read_bytes()
    assert (merged / "grades.csv.record.json").read_bytes() == (whole / "grades.csv.record.json").read_bytes()
    mine, theirs = ((f / "class-report.md").read_text() for f in (merged, whole))
    assert "## Misconceptions diagnosed" in mine
    assert mine.split("## Not graded")[0] == theirs.split("## Not graded")[0]
    for student in STUDENTS:
        for name in (f"feedback/{student}.md", f"feedback/{student}.txt"):
            assert (merged / name).read_bytes() == (whole / name).read_bytes()


def test_each_shard_carries_a_record_with_its_rows_digests_and_k_of_n(graded):
    for k in (1, 2, 3):
        found = json.loads(report.record_path(graded[f"s{k}"]).read_text())
        assert found["shard"] == [k, 3] and found["hidden_checks"] is True
        lines = _lines(graded[f"s{k}"])
        assert found["columns"] == lines[0]
        assert {s: e["row"] for s, e in found["students"].items()} == {c[0]: _digest(c) for c in lines[1:]}
    assert json.loads(report.record_path(graded["whole"]).read_text())["shard"] is None


# ---------------------------------------------------------------- what merge refuses


def test_a_forged_extra_row_is_refused(graded, tmp_path):
    shards = _copy(graded, tmp_path, "s1", "s2", "s3")
    lines = _lines(shards[2])
    _write_lines(shards[2], lines + [["mallory", "11", "11", "11", "3", "2", "2", "2", "2"]])
    _refused(*_merge(tmp_path, shards), str(shards[2]), "'mallory'", "not in the grader's record")


def test_a_raised_score_is_refused_even_with_its_total_raised(graded, tmp_path):
    shard = _shard_with(graded, tmp_path, "ben")
    lines = _lines(shard)
    header = lines[0]
    for cells in lines[1:]:
        if cells[0] == "ben":
            cells[header.index("02.q1")] = "3"
            for column in ("total", "02.total"):
                cells[header.index(column)] = str(int(cells[header.index(column)]) + 3)
    _write_lines(shard, lines)
    others = [
        p for p in _copy(graded, tmp_path / "others", "s1", "s2", "s3") if p.parent.name != shard.parent.name
    ]
    _refused(*_merge(tmp_path, [shard, *others]), str(shard), "'ben'", "differs from the grader's record")


@pytest.mark.parametrize(
    "total, said", [("11", "is not the sum of its question columns"), ("nan", "is not a number")]
)
def test_a_total_that_is_not_the_sum_of_its_questions_is_refused_even_with_a_forged_digest(
    graded, tmp_path, total, said
):
    [whole] = _copy(graded, tmp_path, "whole")
    lines = _lines(whole)
    header = lines[0]
    record_file = report.record_path(whole)
    found = json.loads(record_file.read_text())
    for cells in lines[1:]:
        if cells[0] == "dee":
            cells[header.index("total")] = total
            found["students"]["dee"]["row"] = _digest(cells)  # someone who rewrites the record too
    _write_lines(whole, lines)
    record_file.write_text(json.dumps(found))
    _refused(*_merge(tmp_path, [whole]), str(whole), "'dee'", said)


def test_a_csv_cut_short_by_whole_rows_is_refused(graded, tmp_path):
    [whole] = _copy(graded, tmp_path, "whole")
    _write_lines(whole, _lines(whole)[:-2])
    _refused(*_merge(tmp_path, [whole]), str(whole), "2 student(s) of the grader's record have no row")


def test_a_shard_graded_with_other_hidden_checks_is_refused(graded, tmp_path):
    checks = tmp_path / "checks"
    shutil.copytree(HERE, checks, ignore=shutil.ignore_patterns("__pycache__"))
    with open(checks / "questions_02.py", "a") as handle:
        handle.write("\n# any edit makes another check set\n")
    other = tmp_path / "other" / "grades.csv"
    status, err = _run([*graded["common"], "--out", str(other), "--shard", "2/3", "--checks", str(checks)])
    assert status == 0, err
    shards = [*_copy(graded, tmp_path, "s1", "s3"), other]
    _refused(*_merge(tmp_path, shards), str(other), "with other hidden checks than")


def test_a_shard_graded_without_the_hidden_checks_is_refused(graded, tmp_path):
    (tmp_path / "none").mkdir()
    other = tmp_path / "other" / "grades.csv"
    status, err = _run(
        [*graded["common"], "--out", str(other), "--shard", "2/3", "--checks", str(tmp_path / "none")]
    )
    assert status == 0, err
    shards = [*_copy(graded, tmp_path, "s1", "s3"), other]
    _refused(*_merge(tmp_path, shards), str(other), "without the hidden checks")


def test_shards_graded_with_other_scoring_are_refused_and_alike_ones_report_it(graded, tmp_path):
    partial = {}
    for k in (1, 2, 3):
        partial[k] = tmp_path / f"p{k}" / "grades.csv"
        status, err = _run(
            [*graded["common"], "--out", str(partial[k]), "--shard", f"{k}/3", "--partial-credit"]
        )
        assert status == 0, err
    mixed = [*_copy(graded, tmp_path, "s1", "s3"), partial[2]]
    _refused(*_merge(tmp_path, mixed), str(partial[2]), "with other scoring (--partial-credit)")
    status, err = _merge(tmp_path, list(partial.values()))
    assert status == 0, err
    for name in ("class-report.md", "class-report.html"):
        assert (
            "Points are given per check passed (--partial-credit)."
            in (tmp_path / "merged" / name).read_text()
        )


def test_a_missing_shard_is_refused_and_allow_partial_merges_naming_it(graded, tmp_path):
    shards = _copy(graded, tmp_path, "s1", "s3")
    _refused(*_merge(tmp_path, shards), "shard(s) 2/3 missing", "--allow-partial")
    status, err = _merge(tmp_path, shards, "--allow-partial")
    assert status == 0, err
    assert "warning: shard(s) 2/3 missing" in err
    merged = tmp_path / "merged"
    expected = {cells[0] for p in shards for cells in _lines(p)[1:]}
    assert {cells[0] for cells in _lines(merged / "grades.csv")[1:]} == expected
    for name in ("class-report.md", "class-report.html"):
        assert "Shard(s) 2/3 missing from this merge" in (merged / name).read_text()
    # the partial merge says so in its own record: merging it again needs --allow-partial too
    _refused(
        *_run(["merge", str(merged / "grades.csv"), "--out", str(tmp_path / "again.csv")]), "2/3 missing"
    )


def test_a_duplicated_shard_is_refused(graded, tmp_path):
    shards = _copy(graded, tmp_path, "s1", "s2", "s3")
    twin = _copy(graded, tmp_path / "twin", "s1")[0]
    _refused(*_merge(tmp_path, [*shards, twin]), "shard 1/3 is given twice", str(twin))


def test_a_csv_without_its_record_is_refused(graded, tmp_path):
    [whole] = _copy(graded, tmp_path, "whole")
    report.record_path(whole).unlink()
    _refused(*_merge(tmp_path, [whole]), str(whole), "grades.csv.record.json is not beside it")


def _forge(graded, tmp_path: Path, names: dict[str, str]) -> Path:
    """The one run's output with a row per ``names`` entry (name -> the file the record names),
    recorded with digests computed as the grader would: the record is no signature."""
    [whole] = _copy(graded, tmp_path, "whole")
    lines = _lines(whole)
    found = json.loads(report.record_path(whole).read_text())
    for name, file in names.items():
        cells = [name, "11", "11", "11", "3", "2", "2", "2", "2"]
        lines.append(cells)
        found["students"][name] = {"row": _digest(cells), "file": file, "misconceptions": {}}
    _write_lines(whole, lines)
    report.record_path(whole).write_text(json.dumps(found))
    return whole


def test_names_like_paths_never_lead_merge_outside_its_output_folder(graded, tmp_path):
    evil = {
        "../../evil": report.file_stem("../../evil"),
        "/tmp/absolute-evil": report.file_stem("/tmp/absolute-evil"),
    }
    whole = _forge(graded, tmp_path / "forged", evil)
    # files where a name taken as a path would point, from the shard's feedback/ folder
    bait = (whole.parent / "feedback" / "../../evil.md").resolve()
    bait.write_text("not the grader's")
    before = sorted(p for p in tmp_path.rglob("*"))
    out = tmp_path / "out" / "deep" / "grades.csv"
    status, err = _run(["merge", str(whole), "--out", str(out)])
    assert status == 0, err  # the forged rows are merged: a digest is not a signature
    written = sorted(set(tmp_path.rglob("*")) - set(before))
    assert all(p.is_relative_to(out.parent) or p in out.parents for p in written), written
    assert not (out.parent / "../../evil.md").resolve().exists()
    assert not Path("/tmp/absolute-evil.md").exists()
    # a record that names a path for a student's files is refused
    whole = _forge(graded, tmp_path / "forged-file", {"eve": "../../evil"})
    _refused(*_merge(tmp_path, [whole]), "unsafe file", "'eve'")


def test_a_feedback_file_that_is_a_link_is_refused(graded, tmp_path):
    [whole] = _copy(graded, tmp_path, "whole")
    target = whole.parent / "feedback" / "ann.md"
    target.unlink()
    target.symlink_to("/etc/hostname")
    _refused(*_merge(tmp_path, [whole]), "ann.md is a link")


@pytest.mark.parametrize(
    "case",
    ["no student column", "truncated row", "wrong column count", "not UTF-8", "unclosed quote", "empty"],
)
def test_a_malformed_csv_gets_a_one_line_message(graded, tmp_path, case):
    [whole] = _copy(graded, tmp_path, "whole")
    text = whole.read_bytes()
    broken = {
        "no student column": text.replace(b"student,", b"name,", 1),
        "truncated row": text[: text.rindex(b",")],
        "wrong column count": text.rstrip(b"\n") + b",7\n",
        "not UTF-8": text.replace(b"ann", b"\xffnn", 1),
        "unclosed quote": text + b'"zed,1,2\n',
        "empty": b"",
    }[case]
    whole.write_bytes(broken)
    said = {
        "no student column": "no 'student' column",
        "truncated row": "cells where the header has",
        "wrong column count": "cells where the header has",
        "not UTF-8": "not UTF-8",
        "unclosed quote": "not well-formed CSV",
        "empty": "no 'student' column",
    }[case]
    _refused(*_merge(tmp_path, [whole]), str(whole), said)


def test_a_malformed_record_gets_a_one_line_message(graded, tmp_path):
    [whole] = _copy(graded, tmp_path, "whole")
    for text, said in (
        ("{not json", "not JSON"),
        (json.dumps({"format": report.RECORD_FORMAT}), "is missing or malformed"),
        (json.dumps({"format": report.RECORD_FORMAT - 1}), "not a grader's record of format"),
        ("[]", "format"),
    ):
        report.record_path(whole).write_text(text)
        _refused(*_merge(tmp_path, [whole]), said)


# ---------------------------------------------------------------- Gradescope


def _results(folder: Path, student: str) -> dict:
    return json.loads((folder / "gradescope" / student / "results.json").read_text())


def test_gradescope_tests_have_a_status_a_time_and_hidden_ones_are_shown_after_the_due_date(graded):
    folder = graded["whole"].parent
    for student in STUDENTS:
        result = _results(folder, student)
        assert result["execution_time"] > 0
        for test in result["tests"]:
            assert test["status"] in ("passed", "failed")
            assert test["extra_data"]["execution_time"] > 0
            hidden = test["name"].endswith("(hidden checks)")
            assert test["visibility"] == ("after_due_date" if hidden else "visible"), test["name"]
        # every question's points sit on one test; the totals agree with the CSV
        assert sum(t["max_score"] for t in result["tests"]) == sum(POINTS.values()) == result["max_score"]
        assert sum(t["score"] for t in result["tests"]) == result["score"]
    ann = {t["name"]: t["status"] for t in _results(folder, "ann")["tests"]}
    assert set(ann.values()) == {"passed"}
    ben = {t["name"]: t for t in _results(folder, "ben")["tests"]}
    # 02.q4's letters are judged by a hidden check only: the public one (the form) passed
    assert ben["02.q4 shift_choice (public checks)"]["status"] == "passed"
    assert ben["02.q4 shift_choice (hidden checks)"]["status"] == "failed"
    assert "invariance" in ben["02.q4 shift_choice (hidden checks)"]["output"]
    assert ben["02.q1 conv1d_by_hand (public checks)"]["status"] == "failed"
    assert ben["02.q1 conv1d_by_hand (hidden checks)"]["status"] == "failed"


@pytest.mark.parametrize("visibility", ["visible", "after_due_date", "after_published", "hidden"])
def test_hidden_visibility_sets_only_the_hidden_checks_tests(graded, tmp_path, visibility):
    [whole] = _copy(graded, tmp_path, "whole")  # with its resume record: nothing is graded again
    args = [
        *graded["common"],
        "--out",
        str(whole),
        "--format",
        "gradescope",
        "--hidden-visibility",
        visibility,
    ]
    status, err = _run(args)
    assert status == 0 and "kept 4 student(s)" in err, err
    tests = _results(whole.parent, "ben")["tests"]
    hidden = {t["visibility"] for t in tests if t["name"].endswith("(hidden checks)")}
    public = {t["visibility"] for t in tests if not t["name"].endswith("(hidden checks)")}
    assert hidden == {visibility} and public == {"visible"}


def test_the_help_gives_the_default_visibility_and_why():
    text = " ".join(parser().format_help().split())
    assert "--hidden-visibility {visible,after_due_date,after_published,hidden}" in text
    assert "default: after_due_date, so that resubmitting cannot probe the hidden checks" in text


def test_gradescope_marks_a_hidden_check_failure_on_the_hidden_test_only():
    public, hidden = Check((1,), 1, note="public"), Check((2,), 2, note="hidden", hidden=True)
    q = Question("02.q1", "02_convolution_1d.ipynb", "f", 3, (public, hidden))
    for outcome, statuses in (
        (Outcome(3, 3), ["passed", "passed"]),
        (Outcome(0, 3, "check 2 (hidden): wrong", hidden=True), ["passed", "failed"]),
        (Outcome(0, 3, "check 1: wrong"), ["failed", "failed"]),
    ):
        result = report.NotebookResult({"02.q1": outcome}, seconds=1.5)
        values = {"total": outcome.points, "max": 3}
        document = report.gradescope({q.notebook: result}, [q], values, hidden_visibility="after_published")
        assert [t["status"] for t in document["tests"]] == statuses
        assert [t["visibility"] for t in document["tests"]] == ["visible", "after_published"]
        assert [t["max_score"] for t in document["tests"]] == [0, 3]
        assert [t["extra_data"]["execution_time"] for t in document["tests"]] == [1.5, 1.5]
        assert document["execution_time"] == 1.5
    with pytest.raises(ValueError, match="hidden_visibility"):
        report.gradescope({q.notebook: result}, [q], values, hidden_visibility="later")


# ---------------------------------------------------------------- misconceptions in the class report


def test_the_class_report_counts_each_misconception_with_its_students_question_and_section(graded):
    folder = graded["whole"].parent
    text = (folder / "class-report.md").read_text()
    section = text.split("## Misconceptions diagnosed")[1].split("## Not graded")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`02." in line]
    by_id = {line.split("(`")[1].split("`)")[0]: line for line in rows}
    assert set(by_id) == {"02.q1.m1", "02.q2.m1", "02.q4.m1"}
    assert "| 2: ben, cy | 02.q1 `conv1d_by_hand` |" in by_id["02.q1.m1"]
    assert f"`notebooks/{NAME}`, section “{SECTION_OF_FLIP}”" in by_id["02.q1.m1"]
    assert "visited backwards" in by_id["02.q1.m1"]
    assert "| 1: ben | 02.q2 `predicted_y` |" in by_id["02.q2.m1"]
    assert "| 1: ben | 02.q4 `shift_choice` |" in by_id["02.q4.m1"] and "invariance" in by_id["02.q4.m1"]
    assert rows[0] == by_id["02.q1.m1"]  # the most common first
    page = (folder / "class-report.html").read_text()
    assert "<td>2: ben, cy</td>" in page and f"section “{SECTION_OF_FLIP}”" in page
    recorded = json.loads(report.record_path(graded["whole"]).read_text())["students"]
    assert recorded["ben"]["misconceptions"] == {
        "02.q1": ["02.q1.m1"],
        "02.q2": ["02.q2.m1"],
        "02.q4": ["02.q4.m1"],
    }
    assert recorded["ann"]["misconceptions"] == recorded["dee"]["misconceptions"] == {}


def test_names_in_the_misconception_table_are_escaped():
    from convkit.grade import classreport

    q = Question("02.q1", NAME, "f", 1, (Check(None, 1),), misconceptions=(Misconception("off by one", 2),))
    rows = {"a|b": {"02.q1": 0, "total": 0}, "<x>\x1b": {"02.q1": 0, "total": 0}}
    seen = {"a|b": {"02.q1": ["02.q1.m1"]}, "<x>\x1b": {"02.q1": ["02.q1.m1"]}}
    text = classreport.markdown(rows, [q], [], b"", seen)
    [line] = [line for line in text.splitlines() if "off by one" in line]
    assert "a\\|b" in line and "&lt;x&gt;" in line and "\x1b" not in line
    page = classreport.html_page(rows, [q], [], b"", seen)
    assert "&lt;x&gt;\\x1b" in page and "<x>" not in page


def test_misconception_ids_are_given_by_position_and_kept_when_explicit():
    ideas = (Misconception("a", 1), Misconception("b", 2, id="named"), Misconception("c", 3))
    checks = (Check(None, 0), Check(None, 0, misconceptions=(Misconception("d", 4),)))
    q = Question("02.q9", NAME, "f", 1, checks, misconceptions=ideas)
    assert [m.id for m in q.misconceptions] == ["02.q9.m1", "named", "02.q9.m3"]
    assert [m.id for c in q.checks for m in c.misconceptions] == ["02.q9.c2.m1"]
    assert [m.id for m in q.with_hidden([Check(None, 0)]).misconceptions] == ["02.q9.m1", "named", "02.q9.m3"]


def test_the_readme_example_of_the_misconception_table_is_this_class_report(graded):
    readme = (ROOT / "README.md").read_text()
    example = readme.split("```\n## Misconceptions diagnosed\n")[1].split("```")[0]
    rows = [line for line in example.splitlines() if line.startswith("| ") and "(`" in line]
    report_lines = (graded["whole"].parent / "class-report.md").read_text().splitlines()
    assert len(rows) == 2
    for row in rows:
        start, _, tail = row.partition(" … (`")  # the README shortens the message
        assert any(line.startswith(start) and line.endswith(f"(`{tail}") for line in report_lines), row


def test_every_section_a_question_sends_back_to_is_a_heading_of_its_course_notebook():
    import nbformat

    from convkit.grade.classgrader import load_questions

    for q in load_questions(HERE):
        notebook = nbformat.read(ROOT / "notebooks" / q.notebook, as_version=4)
        headings = {
            line[3:].strip()
            for cell in notebook.cells
            if cell.cell_type == "markdown"
            for line in cell.source.splitlines()
            if line.startswith("## ")
        }
        ideas = q.misconceptions + sum((c.misconceptions for c in q.checks), ())
        for section in [q.section] + [m.section for m in ideas if m.section]:
            assert section in headings, (q.id, section)
