"""A class as it arrives on the instructor's disk: folder names and files that must not stop a run.

One real run grades a class whose folder names are too long for a file name, not UTF-8,
spreadsheet formulas or terminal escapes, with a hidden folder, a linked folder, a huge
notebook, a notebook with thousands of duplicate cell ids and student text holding lone
surrogates and control characters. Every student folder must get a row or be named on
stderr with its reason, and every file written must be valid UTF-8 without control
characters (strict JSON for Gradescope). The other tests pin what the grader refuses
before it starts.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from pathlib import Path

import nbformat
import pytest

from convkit.grade import report
from convkit.grade.classgrader import load_questions
from convkit.grade.cli import main
from convkit.grade.model import NOTEBOOKS

from .conftest import HERE, ROOT

FIRST = NOTEBOOKS[0]
SOLVED = (ROOT / "solutions" / FIRST).read_text()
FIRST_POINTS = sum(q.points for q in load_questions(HERE) if q.notebook == FIRST)
LONG = "x" * 255
FORMULAS = ['=HYPERLINK("evil.example","x")', "+cmd|' -C calc'!A0", "-1+1", "@SUM(1)", "\t=1+1", "\r=1"]
ESCAPES = "bell\x07\x1b[2J\x9bend"
NOT_UTF8 = b"caf\xff"
ALLOWED_CONTROL = {"\n"}


def _with_cells(text: str, sources: list[str]) -> str:
    notebook = nbformat.reads(text, as_version=4)
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    return nbformat.writes(notebook)


def _duplicate_ids(count: int) -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("x = 1") for _ in range(count)]
    document = json.loads(nbformat.writes(notebook))
    for cell in document["cells"]:
        cell["id"] = "same"
    return json.dumps(document)


def _control_characters(text: str) -> set[str]:
    return {c for c in text if (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F) and c not in ALLOWED_CONTROL}


def _strict_json(text: str) -> object:
    def refuse(name):
        raise ValueError(f"not strict JSON: {name}")

    document = json.loads(text, parse_constant=refuse)

    def walk(value):
        if isinstance(value, str):
            value.encode("utf-8")  # a lone surrogate (from a "\udcff" escape) fails here
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(document)
    return document


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    root = tmp_path_factory.mktemp("messy")
    submissions = root / "submissions"
    submissions.mkdir()
    plain = {
        LONG: SOLVED,
        ESCAPES: SOLVED,
        "student2": SOLVED,
        "student10": SOLVED,
        "Student3": SOLVED,
        ".hidden": SOLVED,
        "surrogates": _with_cells(
            SOLVED,
            [
                'sharing_why = "a lone \\udcff surrogate, an \\x1b[31mescape and a \\x9b C1 byte"',
                'raise ValueError("bad \\udcff \\x07 text")',
            ],
        ),
        "dupes": _duplicate_ids(3000),
    }
    plain.update({name: SOLVED for name in FORMULAS})
    for name, text in plain.items():
        (submissions / name).mkdir()
        (submissions / name / FIRST).write_text(text, encoding="utf-8", errors="surrogatepass")
    folder = os.path.join(os.fsencode(submissions), NOT_UTF8)
    os.mkdir(folder)
    with open(os.path.join(folder, os.fsencode(FIRST)), "w", encoding="utf-8") as handle:
        handle.write(SOLVED)
    (submissions / "huge").mkdir()
    with open(submissions / "huge" / FIRST, "wb") as handle:
        handle.truncate(21 * 2**20)  # sparse: larger than the limit without filling the disk
    (submissions / "linked").symlink_to(submissions / "student2")
    (submissions / "notes.txt").write_text("the class list")
    out = root / "out" / "grades.csv"
    captured = io.StringIO()
    with contextlib.redirect_stderr(captured):
        status = main(
            [
                str(submissions),
                "--out",
                str(out),
                "--no-progress",
                "--timeout",
                "5",
                "--format",
                "markdown",
                "--format",
                "gradescope",
            ]
        )
    return {"status": status, "stderr": captured.getvalue(), "out": out}


def _rows(out: Path) -> dict[str, dict]:
    text = out.read_bytes().decode("utf-8")  # strict: the CSV is valid UTF-8
    return {r.pop("student"): r for r in csv.DictReader(io.StringIO(text, newline=""))}


def test_a_messy_class_is_graded_to_the_end_with_a_row_for_every_student_folder(messy):
    assert messy["status"] == 0, messy["stderr"]
    rows = _rows(messy["out"])
    expected = {LONG, report.safe_text(ESCAPES), "caf\\xff", "student2", "student10", "Student3"}
    expected |= {"surrogates", "dupes", "huge"} | {
        report.csv_cell(report.safe_text(name)) for name in FORMULAS
    }
    assert set(rows) == expected
    for name in (LONG, "caf\\xff", "student2", report.csv_cell(FORMULAS[0])):
        assert rows[name]["total"] == str(FIRST_POINTS), name  # graded through its odd name
    assert rows["huge"]["total"] == rows["dupes"]["total"] == "0"


def test_folders_not_graded_are_named_on_stderr_with_the_reason(messy):
    err = messy["stderr"]
    assert "not graded: .hidden: a hidden folder" in err
    assert "not graded: linked: a link, not a folder: refused" in err
    assert "not graded: notes.txt: a file, not a student folder" in err


def test_csv_cells_that_look_like_formulas_start_with_a_quote(messy):
    names = list(_rows(messy["out"]))
    assert {n for n in names if n.startswith("'")} == {"'" + name for name in FORMULAS[:4]}
    assert "\\x09=1+1" in names and "'-1+1" in names  # a tab at the start is shown escaped
    assert not any(n.startswith(("=", "+", "-", "@", "\t", "\r")) for n in names)


def test_the_csv_is_in_a_human_order_of_names(messy):
    names = list(_rows(messy["out"]))
    assert names.index("student2") < names.index("Student3") < names.index("student10")


def test_every_output_file_is_utf8_without_control_characters_and_json_is_strict(messy):
    folder = messy["out"].parent
    files = [p for p in folder.rglob("*") if p.is_file()]
    state = [p for p in files if ".grades.csv.state" in p.parts]
    for line in state[0].read_text().splitlines():  # the resume record: strict JSON lines
        _strict_json(line)
    files = [p for p in files if p not in state]
    graded = len(_rows(messy["out"]))
    feedback = [p for p in files if p.parent.name == "feedback"]
    assert len(feedback) == len([p for p in files if p.name == "results.json"]) == graded
    assert {p.name for p in files if p.parent == folder} == {
        "grades.csv",
        "grades.csv.record.json",
        "class-report.md",
        "class-report.html",
    }
    for path in files:
        assert len(os.fsencode(path.name)) <= 100, path.name
        text = path.read_bytes().decode("utf-8")
        assert not _control_characters(text), (path, _control_characters(text))
        if path.suffix == ".json":
            _strict_json(text)
    text = (folder / "feedback" / "surrogates.md").read_text()
    [justification] = [
        line for line in text.splitlines() if "justification (not graded)" in line and "lone" in line
    ]
    assert "a lone \\\\xff surrogate" in justification  # the byte it stands for, not \\udcff
    assert "ValueError: bad \\\\xff \\\\x07 text" in text  # the exception message, escaped


def test_a_long_name_keeps_its_full_name_inside_its_short_file(messy):
    stem = report.file_stem(LONG)
    assert len(stem) < 60
    assert LONG in (messy["out"].parent / "feedback" / f"{stem}.md").read_text()


def test_an_oversized_notebook_is_called_too_large_with_the_limit(messy):
    text = (messy["out"].parent / "feedback" / "huge.md").read_text()
    assert "too large" in text and "the limit is 20 MB" in text
    assert f"Not found in your submission: `{FIRST}`" not in text


def test_warnings_caused_by_one_notebook_are_capped(messy):
    lines = [line for line in messy["stderr"].splitlines() if "DuplicateCellId" in line]
    assert len(lines) == 1 and "more like it" in lines[0]
    assert len(messy["stderr"]) < 5000


def test_an_output_folder_inside_the_submissions_is_refused_before_grading(tmp_path, capsys):
    submissions = tmp_path / "subs"
    (submissions / "ann").mkdir(parents=True)
    assert main([str(submissions), "--out", str(submissions / "grades.csv"), "--no-progress"]) == 2
    assert "is inside SUBMISSIONS" in capsys.readouterr().err
    assert not (submissions / "grades.csv").exists()
    out = tmp_path / "grades.csv"
    assert main([str(submissions), "--out", str(out), "--feedback", str(submissions / "fb")]) == 2
    assert "is inside SUBMISSIONS" in capsys.readouterr().err


def test_a_folder_with_no_student_folders_or_with_one_students_notebooks_is_refused(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(empty), "--out", str(tmp_path / "g.csv"), "--no-progress"]) == 2
    assert "holds no student folders; expected one folder per student" in capsys.readouterr().err
    assert main([str(ROOT / "exercises"), "--out", str(tmp_path / "g.csv"), "--no-progress"]) == 2
    assert "looks like one student's folder" in capsys.readouterr().err
    assert not (tmp_path / "g.csv").exists()
