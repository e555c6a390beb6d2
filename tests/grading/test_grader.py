"""The grader on small fake classes: honest, blank, partial, and every hostile case.

Each class is built in tmp_path from solutions/ and exercises/, graded through the
command line (its Python entry point, or a real subprocess), and the CSV is asserted
row by row: a hostile trick may cost its author the questions it breaks, nothing more.
"""
from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from convkit.grade.cli import main
from convkit.grade.public import QUESTIONS

from .conftest import ROOT

NB02 = "02_convolution_1d.ipynb"
FULL02 = {q.id: q.points for q in QUESTIONS if q.notebook == NB02}


def _solution(name: str = NB02):
    return nbformat.read(ROOT / "solutions" / name, as_version=4)


def _with(cells_after_imports=(), replace=None, name: str = NB02) -> str:
    """The solution notebook with extra code cells after the imports, or answer cells replaced.

    ``replace`` maps a defined name (``def conv1d_fixed`` or ``predicted_y =``) to new source.
    """
    notebook = _solution(name)
    for marker, source in (replace or {}).items():
        cell = next(c for c in notebook.cells if c.cell_type == "code" and marker in c.source)
        cell.source = source
    imports = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code")
    for offset, source in enumerate(cells_after_imports, start=1):
        notebook.cells.insert(imports + offset, nbformat.v4.new_code_cell(source))
    for cell in notebook.cells:
        cell.pop("id", None)
    notebook.nbformat_minor = 4
    return nbformat.writes(notebook)


def _row(**points) -> dict:
    row = {q.id: points.get(q.id, 0) for q in QUESTIONS}
    row["total"] = sum(row.values())
    row["max"] = sum(q.points for q in QUESTIONS)
    return {k: str(v) for k, v in row.items()}


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


WRONG_MATCH = "def conv1d_fixed(x, u):\n    return 0\n"
LIAR = """class Liar:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __array__(self, *args, **kwargs): raise RuntimeError("no")
"""


def hostile_class(out_dir: Path, submissions: Path) -> tuple[dict, dict]:
    """Each hostile student submits notebook 02 only; returns (notebooks, expected points of 02)."""
    # zoe comes after writer in the queue, so her notebook is overwritten before she is graded
    grades, victim = out_dir / "grades.csv", submissions / "zoe" / NB02
    exercise = (ROOT / "exercises" / NB02).read_text()
    cases = {
        "honest": (_with(), FULL02),
        "blank": (exercise, {}),
        "partial": (_with(replace={"def conv1d_by_hand": "def conv1d_by_hand(x, u):\n"
                                                         "    raise NotImplementedError\n",
                                   "def conv1d_fixed": WRONG_MATCH}),
                    {"02.q2": 2, "02.q3": 2, "02.q4": 2}),
        "loop_top": (_with(["while True:\n    pass"]), FULL02),
        "loop_stubborn": (_with(["while True:\n    try:\n        while True:\n            pass\n"
                                 "    except BaseException:\n        pass"]), FULL02),
        "loop_in_function": (_with(replace={"def conv1d_fixed": "def conv1d_fixed(x, u):\n"
                                                              "    while True:\n        pass\n"}),
                             {k: v for k, v in FULL02.items() if k != "02.q5"}),
        "sys_exit": (_with(["import sys\nsys.exit(0)"]), FULL02),
        "os_exit": (_with(["import os\nos._exit(0)"]), FULL02),
        "os_exit_in_function": (_with(replace={"def conv1d_by_hand": "def conv1d_by_hand(x, u):\n"
                                                                     "    import os\n    os._exit(3)\n"}),
                                {k: v for k, v in FULL02.items() if k != "02.q1"}),
        "memory_bomb": (_with(["big = bytearray(1024 ** 3)  # within the machine, over the limit",
                               "hoard = []\nwhile True:\n    hoard.append(bytearray(50 * 1024 ** 2))",
                               "import numpy as np\nhuge = np.ones((1 << 34,))"]), FULL02),
        "monkeypatch": (_with(["import numpy as np, torch\n"
                               "np.allclose = lambda *a, **k: True\n"
                               "np.array_equal = lambda *a, **k: True\n"
                               "np.testing.assert_allclose = lambda *a, **k: None\n"
                               "torch.allclose = lambda *a, **k: True\n"
                               "torch.testing.assert_close = lambda *a, **k: None"],
                              replace={"def conv1d_fixed": WRONG_MATCH}),
                        {k: v for k, v in FULL02.items() if k != "02.q5"}),
        "lying_eq": (_with([LIAR], replace={"def conv1d_fixed": "def conv1d_fixed(x, u):\n"
                                                              "    return Liar()\n",
                                            "predicted_y =": "predicted_y = [Liar()] * 4"}),
                     {"02.q1": 3, "02.q3": 2, "02.q4": 2}),
        "fake_output": (_with(["print('✓ 02.q4 best_match: all checks pass, 3 points')\n"
                               "print('{\"event\": \"result\", \"index\": 9, \"value\": 52}')\n"
                               "import os\n"
                               "for fd in range(3, 64):\n"
                               "    try:\n"
                               "        os.write(fd, b'{\"event\": \"end\"}\\nnot json at all\\n')\n"
                               "    except OSError:\n"
                               "        pass"], replace={"def conv1d_fixed": WRONG_MATCH}),
                        {k: v for k, v in FULL02.items() if k != "02.q5"}),
        "writer": (_with([f"open({str(grades)!r}, 'w').write('student,total\\nwriter,999\\n')\n"
                          f"import os\nos.makedirs({str(out_dir / 'feedback')!r}, exist_ok=True)\n"
                          f"open({str(out_dir / 'feedback' / 'honest.md')!r}, 'w').write('you failed')\n"
                          f"open({str(victim)!r}, 'w').write({exercise!r})",
                          # a detached process that writes after its parent is gone
                          "import subprocess\n"
                          f"subprocess.Popen(['/bin/sh', '-c', 'for i in $(seq 60); do echo hacked > {grades};"
                          " sleep 0.1; done'],"
                          " start_new_session=True)"]), FULL02),
        "zoe": (_with(), FULL02),
    }
    return ({s: {NB02: text} for s, (text, _) in cases.items()},
            {s: points for s, (_, points) in cases.items()})


def test_hostile_submissions_cost_only_the_questions_they_break(tmp_path):
    out_dir = tmp_path / "out"
    submissions = tmp_path / "submissions"
    notebooks, expected = hostile_class(out_dir, submissions)
    _class(tmp_path, notebooks)
    status = main([str(submissions), "--out", str(out_dir / "grades.csv"), "--jobs", "2",
                   "--timeout", "2", "--memory", "512", "--no-progress"])
    assert status == 0
    time.sleep(1)  # the detached writer, if still alive, would overwrite the CSV by now
    rows = _read(out_dir / "grades.csv")
    assert sorted(rows) == sorted(expected)
    for student, points in expected.items():
        assert rows[student] == _row(**points), student
    honest = (out_dir / "feedback" / "honest.md").read_text()
    assert f"Total: **{sum(FULL02.values())} / {sum(q.points for q in QUESTIONS)}**" in honest
    assert "Not found in your submission: `01_why_convolutions.ipynb`" in honest
    assert "- cell 1: `MemoryError`" in (out_dir / "feedback" / "memory_bomb.md").read_text()
    stubborn = (out_dir / "feedback" / "loop_in_function.md").read_text()
    assert "02.q5" in stubborn and "timed out" in stubborn


def test_a_small_class_through_the_real_command_line(tmp_path):
    carol = {"01_why_convolutions.ipynb": (ROOT / "solutions" / "01_why_convolutions.ipynb").read_text(),
             "03_multichannel_2d.ipynb": (ROOT / "exercises" / "03_multichannel_2d.ipynb").read_text(),
             "05_padding_stride_dilation.ipynb": _with(
                 replace={"def unread": "def unread(size, kernel_size, stride, padding, dilation):\n"
                                        "    return []\n"}, name="05_padding_stride_dilation.ipynb")}
    submissions = _class(tmp_path, {
        "alice": {p.name: p.read_text() for p in (ROOT / "solutions").glob("*.ipynb")},
        "bob": {p.name: p.read_text() for p in (ROOT / "exercises").glob("*.ipynb")},
        "carol": carol,
        "dave": {NB02: "{ this is not a notebook"},
    })
    out = tmp_path / "grades.csv"
    done = subprocess.run([sys.executable, "-m", "convkit.grade", str(submissions), "--out", str(out),
                           "--jobs", "2", "--timeout", "5"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "100%" in done.stderr  # the progress bar
    rows = _read(out)
    assert rows["alice"] == _row(**{q.id: q.points for q in QUESTIONS})
    assert rows["bob"] == _row()
    carol_points = {q.id: q.points for q in QUESTIONS if q.id.startswith(("01.", "05."))}
    carol_points["05.q3"] = 0
    assert rows["carol"] == _row(**carol_points)
    assert rows["dave"] == _row()
    assert "could not be read" in (tmp_path / "feedback" / "dave.md").read_text()
    feedback = (tmp_path / "feedback" / "carol.md").read_text()
    assert "✗ **05.q3** `unread`: 0 / 3 — check 1 (stride 4 skips inputs)" in feedback
    with open(out) as handle:
        header = next(csv.reader(handle))
    assert header == ["student", "total", "max"] + [q.id for q in QUESTIONS]


def test_an_interrupted_run_resumes_without_regrading_finished_students(tmp_path):
    submissions = _class(tmp_path, {"ann": {NB02: _with()}, "ben": {NB02: _with()}})
    out = tmp_path / "grades.csv"
    header = ["student", "total", "max"] + [q.id for q in QUESTIONS]
    # ann was graded before the interruption (a recognisable row), ben was not
    finished = _row(**{"02.q1": 3})
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerow({"student": "ann", **finished})
        handle.write("ben,7\n")  # a row cut short by the interruption
    assert main([str(submissions), "--out", str(out), "--no-progress"]) == 0
    rows = _read(out)
    assert rows["ann"] == finished
    assert rows["ben"] == _row(**FULL02)
    assert main([str(submissions), "--out", str(out), "--no-progress", "--restart"]) == 0
    assert _read(out)["ann"] == _row(**FULL02)


def test_the_command_line_rejects_a_missing_folder(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "g.csv"), "--no-progress"]) == 2
    assert "submissions must be a folder" in capsys.readouterr().err
