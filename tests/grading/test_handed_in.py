"""Notebooks as students hand them in: renamed, in subfolders, zipped, twice, without their metadata.

Most tests read a student folder with :func:`convkit.grade.handin.read_folder`, which runs
nothing: the identity in the metadata, the file-name fallback, the newest of two copies, and
zip files that try to leave the archive, follow a link, unpack a gigabyte or are broken.
The judging tests call the grader's judge on made-up replies: partial credit, a timeout's
skipped checks, and the message for an answer that calls a failing answer of the student's.
Two class runs through the real command line and sandbox (notebooks 02 and 05 only) prove
that the pieces meet: a module-scoped class of handed-in forms and of the 05.q3 cascade, and a
one-student class graded again after a rename and then with ``--partial-credit``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import random
import stat
import struct
import time
import tracemalloc
import zipfile
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest

from convkit.grade import classgrader, handin, report
from convkit.grade.cli import main
from convkit.grade.handin import read_folder
from convkit.grade.model import NOTEBOOKS, Outcome
from convkit.grade.questions import BY_ID

from .answers import USES, WRONG
from .conftest import HERE, ROOT

N01, N02, N03, N05 = NOTEBOOKS[0], NOTEBOOKS[1], NOTEBOOKS[2], NOTEBOOKS[4]
MB = 2**20


def _notebook(stem: str | None, marker: str = "") -> str:
    """A small notebook whose metadata names exercise ``stem`` (None: no identity), with one cell."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(f"x = {marker!r}")]
    if stem is not None:
        notebook.metadata["convkit"] = {"notebook": stem, "version": "0"}
    return nbformat.writes(notebook)


def _stem(name: str) -> str:
    return name[: -len(".ipynb")]


def _zip(path: Path, members: dict, *, when=(2020, 1, 1, 12, 0, 0)) -> Path:
    """A zip file of ``members`` (name -> text, or a ZipInfo -> bytes), written by zipfile itself."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in members.items():
            info = name if isinstance(name, zipfile.ZipInfo) else zipfile.ZipInfo(name, when)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, body)
    return path


def _reasons(found: handin.Handin) -> dict[str, str]:
    return dict(found.files_not_graded())


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.parent.rglob("*")}


# --------------------------------------------------------------------------- identity and names


def test_a_notebook_is_recognised_by_its_metadata_whatever_its_name_or_folder(tmp_path):
    (tmp_path / "hw").mkdir()
    (tmp_path / "02_convolution_1d (1).ipynb").write_text(_notebook(_stem(N02), "two"))
    (tmp_path / "week3.ipynb").write_text(_notebook(_stem(N03), "three"))
    (tmp_path / "hw" / "mine.ipynb").write_text(_notebook(_stem(N05), "five"))
    found = read_folder(tmp_path)
    assert {name: (c.shown, c.by) for name, c in found.graded.items()} == {
        N02: ("02_convolution_1d (1).ipynb", "metadata"),
        N03: ("week3.ipynb", "metadata"),
        N05: ("hw/mine.ipynb", "metadata"),
    }
    assert "'five'" in found.graded[N05].text
    assert found.files_not_graded() == []


def test_the_metadata_wins_over_the_file_name(tmp_path):
    (tmp_path / N02).write_text(_notebook(_stem(N03)))
    found = read_folder(tmp_path)
    assert list(found.graded) == [N03]
    assert found.graded[N03].shown == N02


def test_without_the_identity_only_the_file_name_decides_and_the_graded_claim_says_so(tmp_path):
    (tmp_path / N02).write_text(_notebook(None))
    (tmp_path / "03_multichannel_2d-Copy1.ipynb").write_text(_notebook(None))
    (tmp_path / "week5.ipynb").write_text(_notebook(None))
    (tmp_path / "old.ipynb").write_text(_notebook("99_not_a_course_notebook"))
    found = read_folder(tmp_path)
    assert {name: (c.shown, c.by) for name, c in found.graded.items()} == {
        N02: (N02, "file name"),
        N03: ("03_multichannel_2d-Copy1.ipynb", "file name"),
    }
    reasons = _reasons(found)
    assert set(reasons) == {"week5.ipynb", "old.ipynb"}
    assert "not an exercise notebook" in reasons["week5.ipynb"]
    assert "does not have (99_not_a_course_notebook)" in reasons["old.ipynb"]


def test_a_zipped_folder_of_notebooks_is_read_as_if_handed_in_loose(tmp_path):
    two, three = _notebook(_stem(N02), "two"), _notebook(_stem(N03), "three")
    _zip(
        tmp_path / "hw.zip",
        {"my-exercises/week2.ipynb": two, "my-exercises/x.ipynb": three, "notes.txt": "hi"},
    )
    found = read_folder(tmp_path)
    assert {name: c.shown for name, c in found.graded.items()} == {
        N02: "hw.zip/my-exercises/week2.ipynb",
        N03: "hw.zip/my-exercises/x.ipynb",
    }
    assert found.graded[N02].text == two and found.graded[N03].text == three
    assert _reasons(found) == {"hw.zip/notes.txt": "not a notebook"}


def test_the_newest_of_two_copies_is_graded_and_the_other_named(tmp_path):
    (tmp_path / "old.ipynb").write_text(_notebook(_stem(N02), "old"))
    (tmp_path / "new.ipynb").write_text(_notebook(_stem(N02), "new"))
    os.utime(tmp_path / "old.ipynb", (1_600_000_000, 1_600_000_000))
    os.utime(tmp_path / "new.ipynb", (1_700_000_000, 1_700_000_000))
    found = read_folder(tmp_path)
    assert found.graded[N02].shown == "new.ipynb"
    assert [c.shown for c in found.passed_over[N02]] == ["old.ipynb"]
    assert "older copy" in _reasons(found)["old.ipynb"] and "new.ipynb" in _reasons(found)["old.ipynb"]
    os.utime(tmp_path / "old.ipynb", (1_800_000_000, 1_800_000_000))
    assert read_folder(tmp_path).graded[N02].shown == "old.ipynb"


def test_a_copy_with_the_identity_is_graded_before_a_newer_one_named_like_it(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "course").mkdir()
    (tmp_path / "mine" / "week2.ipynb").write_text(_notebook(_stem(N02), "mine"))
    (tmp_path / "course" / N02).write_text(_notebook(None, "the course's copy"))
    os.utime(tmp_path / "mine" / "week2.ipynb", (1_600_000_000, 1_600_000_000))
    found = read_folder(tmp_path)
    assert found.graded[N02].shown == "mine/week2.ipynb"
    reason = _reasons(found)[f"course/{N02}"]
    assert (
        reason
        == f"also named as {N02}, but mine/week2.ipynb, which is graded, carries the exercise's identity"
    )


def test_a_zip_members_date_decides_against_a_loose_copy(tmp_path):
    (tmp_path / N02).write_text(_notebook(_stem(N02), "loose"))
    os.utime(tmp_path / N02, (time.mktime((2021, 6, 1, 12, 0, 0, 0, 0, -1)),) * 2)
    _zip(tmp_path / "late.zip", {N02: _notebook(_stem(N02), "zipped")}, when=(2022, 1, 1, 0, 0, 0))
    assert read_folder(tmp_path).graded[N02].shown == f"late.zip/{N02}"
    _zip(tmp_path / "late.zip", {N02: _notebook(_stem(N02), "zipped")}, when=(2020, 1, 1, 0, 0, 0))
    found = read_folder(tmp_path)
    assert found.graded[N02].shown == N02 and [c.shown for c in found.passed_over[N02]] == [f"late.zip/{N02}"]


def test_links_are_never_followed_and_hidden_entries_are_listed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / N02).write_text(_notebook(_stem(N02)))
    student = tmp_path / "ann"
    student.mkdir()
    (student / N02).symlink_to(outside / N02)
    (student / "week3.ipynb").symlink_to(outside / N02)
    (student / "more").symlink_to(outside)
    (student / ".ipynb_checkpoints").mkdir()
    (student / ".ipynb_checkpoints" / "x.ipynb").write_text(_notebook(_stem(N03)))
    found = read_folder(student)
    assert found.graded[N02].text is None and "is a link, not a file" in found.graded[N02].problem
    assert N03 not in found.graded
    reasons = _reasons(found)
    assert reasons["week3.ipynb"] == "a link, not a file" and reasons["more"] == "a link: not followed"
    assert reasons[".ipynb_checkpoints"].startswith("hidden")


# --------------------------------------------------------------------------- zip files that attack


def test_zip_members_whose_path_leaves_the_archive_are_not_used(tmp_path):
    student = tmp_path / "ann"
    student.mkdir()
    text = _notebook(_stem(N02))
    escapes = ["../" + N02, "/tmp/" + N02, "C:\\" + N02, "c:" + N02, "a/../../" + N02, "..\\" + N02]
    _zip(student / "hw.zip", {name: text for name in escapes})
    before = _files_under(student)
    found = read_folder(student)
    assert found.graded == {}
    reasons = _reasons(found)
    assert len(reasons) == len(escapes)
    assert all("leaves the zip" in r for r in reasons.values()), reasons
    assert _files_under(student) == before  # nothing was written anywhere


def test_a_link_inside_a_zip_is_not_followed(tmp_path):
    link = zipfile.ZipInfo(N02, (2020, 1, 1, 0, 0, 0))
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    _zip(tmp_path / "hw.zip", {link: b"../../solutions/" + N02.encode()})
    found = read_folder(tmp_path)
    assert found.graded == {}
    assert _reasons(found) == {f"hw.zip/{N02}": "a link inside the zip: not followed"}


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """A zip holding one 1 GiB notebook of zeros, about 1 MB on disk, written as a stream."""
    folder = tmp_path_factory.mktemp("bomb")
    with zipfile.ZipFile(folder / "hw.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(N02, (2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            chunk = bytes(MB)
            for _ in range(1024):
                member.write(chunk)
    assert (folder / "hw.zip").stat().st_size < 2 * MB
    return folder


def test_a_zip_bomb_is_refused_before_anything_is_unpacked(bomb):
    tracemalloc.start()
    try:
        found = read_folder(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * MB, peak  # the 1 MB file was read; nothing of its 1 GiB unpacked
    assert found.graded == {}
    [(shown, reason)] = found.files_not_graded()
    assert shown == "hw.zip" and "would unpack to 1024 MB" in reason and "limit is 200 MB" in reason


def test_a_member_over_the_notebook_limit_or_compressed_too_far_is_not_unpacked(tmp_path):
    _zip(tmp_path / "a.zip", {N02: "{" + " " * (4 * MB) + "}"})  # 4 MB that deflate to a few kB
    _zip(tmp_path / "b.zip", {N03: "{" + " " * (21 * MB) + "}"})
    found = read_folder(tmp_path)
    assert found.graded[N02].text is None and "compressed more than 100:1" in found.graded[N02].problem
    assert (
        found.graded[N03].text is None
        and "too large (21 MB; the limit is 20 MB)" in found.graded[N03].problem
    )


def test_a_member_whose_header_understates_its_size_is_read_no_further(tmp_path):
    body = _notebook(_stem(N02)).encode() + b" " * MB
    data = bytearray((_zip(tmp_path / "hw.zip", {N02: body})).read_bytes())
    for signature, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header, central directory
        start = data.index(signature)
        struct.pack_into("<I", data, start + at, 100)
    (tmp_path / "hw.zip").write_bytes(bytes(data))
    found = read_folder(tmp_path)
    assert found.graded[N02].text is None
    assert "could not be read from the zip (BadZipFile)" in found.graded[N02].problem


def test_too_many_members_or_too_much_to_unpack_refuses_the_whole_zip(tmp_path, monkeypatch):
    monkeypatch.setattr(handin, "LIMITS", replace(handin.LIMITS, zip_members=3, zip_unpacked=5000))
    many = tmp_path / "many"
    many.mkdir()
    _zip(many / "hw.zip", {f"{k}.txt": "x" for k in range(4)})
    assert _reasons(read_folder(many)) == {"hw.zip": "a zip of 4 entries (the limit is 3): not opened"}
    big = tmp_path / "big"
    big.mkdir()
    _zip(big / "hw.zip", {N02: _notebook(_stem(N02)) + " " * 3000, N03: _notebook(_stem(N03)) + " " * 3000})
    found = read_folder(big)
    assert found.graded == {} and "would unpack to" in _reasons(found)["hw.zip"]


def test_what_is_read_of_one_folder_is_capped_in_all(tmp_path, monkeypatch):
    texts = {name: _notebook(_stem(name)) + " " * 1000 for name in (N01, N02, N03)}
    size = len(texts[N01])  # each is about 1.4 kB
    monkeypatch.setattr(handin, "LIMITS", replace(handin.LIMITS, folder_bytes=2 * size + 10))
    (tmp_path / "a.ipynb").write_text(texts[N01])
    _zip(tmp_path / "b.zip", {"b.ipynb": texts[N02]})  # the zip's own bytes count, then its member's
    (tmp_path / "c.ipynb").write_text(texts[N03])
    found = read_folder(tmp_path)
    assert list(found.graded) == [N01]
    reasons = _reasons(found)
    assert set(reasons) == {"b.zip/b.ipynb", "c.ipynb"}
    assert all(
        r == "not read: the files before it reach the limit of 0 MB for one folder" for r in reasons.values()
    )


def test_a_corrupt_zip_is_one_line_and_a_damaged_member_another(tmp_path):
    random.seed(5)
    (tmp_path / "noise.zip").write_bytes(bytes(random.randrange(256) for _ in range(3000)))
    good = _zip(tmp_path / "cut.zip", {N02: _notebook(_stem(N02))}).read_bytes()
    (tmp_path / "cut.zip").write_bytes(good[: len(good) // 2])
    data = bytearray(_zip(tmp_path / "crc.zip", {N03: _notebook(_stem(N03)) * 20}).read_bytes())
    data[60] ^= 0xFF  # inside the compressed data of the only member
    (tmp_path / "crc.zip").write_bytes(bytes(data))
    found = read_folder(tmp_path)
    reasons = _reasons(found)
    assert reasons["noise.zip"].startswith("a zip file that could not be opened (BadZipFile)")
    assert reasons["cut.zip"].startswith("a zip file that could not be opened")
    assert found.graded[N03].text is None and "could not be read from the zip" in found.graded[N03].problem


def test_a_zip_inside_a_zip_is_listed_and_not_opened(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr(N02, _notebook(_stem(N02)))
    _zip(tmp_path / "outer.zip", {"inner.zip": inner.getvalue(), "__MACOSX/._x.ipynb": "junk"})
    found = read_folder(tmp_path)
    assert found.graded == {}
    assert _reasons(found) == {
        "outer.zip/inner.zip": "a zip inside the zip: not opened",
        "outer.zip/__MACOSX": "hidden (its name starts with a dot, or is __MACOSX): not graded",
    }


# --------------------------------------------------------------------------- what the record keeps


def test_the_digest_changes_with_a_rename_a_new_zip_or_a_new_file_and_with_nothing_else(tmp_path):
    (tmp_path / "week2.ipynb").write_text(_notebook(_stem(N02)))

    def digest() -> str:  # of notebook 02 alone, which is there: the files found are not part of it
        return read_folder(tmp_path).digest([N02])

    first = digest()
    assert digest() == first
    os.utime(tmp_path / "week2.ipynb", (1_700_000_000, 1_700_000_000))
    assert digest() == first  # the same file graded: nothing to grade again
    (tmp_path / "week2.ipynb").rename(tmp_path / "two.ipynb")
    renamed = digest()
    assert renamed != first
    _zip(tmp_path / "late.zip", {"notes.txt": "hi"})
    with_zip = digest()
    assert with_zip != renamed
    (tmp_path / "two.ipynb").write_text(_notebook(_stem(N02), "changed"))
    assert digest() != with_zip


def test_for_a_missing_notebook_the_digest_covers_the_files_found(tmp_path):
    (tmp_path / "week2.ipynb").write_text(_notebook(_stem(N02)))
    first = read_folder(tmp_path).digest([N03])  # the feedback on 03 lists week2.ipynb as found
    (tmp_path / "week2.ipynb").rename(tmp_path / "two.ipynb")
    assert read_folder(tmp_path).digest([N03]) != first


def test_the_feedback_names_the_graded_file_its_copies_the_files_found_and_those_not_graded(tmp_path):
    (tmp_path / "old.ipynb").write_text(_notebook(_stem(N02)))
    (tmp_path / "week2.ipynb").write_text(_notebook(_stem(N02)))
    os.utime(tmp_path / "old.ipynb", (1_600_000_000, 1_600_000_000))
    (tmp_path / N03).write_text(_notebook(None))
    (tmp_path / "notes.txt").write_text("hi")
    found = read_folder(tmp_path)
    questions = [q for q in BY_ID.values() if q.notebook in (N02, N03, N05)]
    results = {
        name: report.NotebookResult(
            {q.id: Outcome(0, q.points, "x") for q in questions if q.notebook == name}
        )
        for name in (N02, N03)
    }
    results[N05] = report.NotebookResult(
        {q.id: Outcome(0, q.points) for q in questions if q.notebook == N05}, note="not submitted"
    )
    values = report.row("ann", results, questions)
    text = report.feedback("ann", results, questions, values, handin=found, plain=True)
    assert "Graded from week2.ipynb, recognised by the exercise's identity in its metadata." in text
    assert (
        "2 files are '02_convolution_1d.ipynb': week2.ipynb is graded (the newest); not graded: old.ipynb."
        in text
    )
    assert f"Recognised by its file name, {N03}: its metadata does not carry the exercise's identity" in text
    assert f"Files found in your folder: {N03}, notes.txt, old.ipynb, week2.ipynb." in text
    tail = text[text.index("Files not graded") :]
    assert "- old.ipynb: an older copy of 02_convolution_1d.ipynb than week2.ipynb" in tail
    assert "- notes.txt: not a notebook" in tail


# --------------------------------------------------------------------------- judging


def _probes(qid: str):
    question = classgrader.load_questions(HERE)
    question = next(q for q in question if q.id == qid)
    expected = classgrader._expected([question])
    return question, [
        (k, classgrader._Probe(question, c, expected[(qid, k)])) for k, c in enumerate(question.checks)
    ]


def _right(probes, k):
    return ("value", probes[k][1].expected)


def test_partial_credit_is_the_points_times_the_share_of_checks_passed():
    question, probes = _probes("05.q3")  # 3 points
    total = len(probes)
    replies = {k: _right(probes, k) for k in range(total)}
    replies[1] = ("value", [-1])
    everything = classgrader._judge(question, probes, replies, {}, "", partial_credit=True)
    assert (
        everything.points == round(3 * (total - 1) / total, 3)
        and f"{total - 1} of {total} checks pass" in everything.message
    )
    assert classgrader._judge(question, probes, replies, {}, "").points == 0  # the default: all or nothing
    blank = {k: ("error", "NotImplementedError: ") for k in range(total)}
    assert classgrader._judge(question, probes, blank, {}, "", partial_credit=True) == Outcome(
        0, 3, "not answered"
    )
    assert (
        classgrader._judge(question, probes, replies, {2: "convkit.shapes"}, "", partial_credit=True).points
        == 0
    )


def test_under_partial_credit_checks_skipped_after_a_timeout_count_as_failed():
    question, probes = _probes("05.q3")
    total = len(probes)
    skipped = {0: _right(probes, 0), 1: ("timeout", "timed out")}  # the others never asked
    ran = {0: _right(probes, 0), **{k: ("value", [-1]) for k in range(1, total)}}
    after_timeout = classgrader._judge(question, probes, skipped, {}, "", partial_credit=True)
    assert (
        after_timeout.points == classgrader._judge(question, probes, ran, {}, "", partial_credit=True).points
    )
    assert after_timeout.points == round(3 / total, 3)


def test_the_bank_says_which_answer_a_question_may_call():
    assert BY_ID["05.q3"].uses == ("05.q1",) and USES == {"05.q3": "05.q1"}


def test_an_answer_is_said_to_call_a_function_only_if_its_own_cell_calls_it():
    cells = ["def output_size(n):\n    return n", "def unread(n):\n    return list(range(output_size(n)))"]
    assert classgrader._calls(cells, "unread", "output_size")
    assert not classgrader._calls(
        ["def unread(n):\n    return []\nx = output_size(3)"], "unread", "output_size"
    )
    assert classgrader._calls(["unread = lambda n: output_size(n)"], "unread", "output_size")
    assert classgrader._calls(
        ["def unread(n:\n    output_size(n)"], "unread", "output_size"
    )  # does not parse
    assert not classgrader._calls(["def other():\n    output_size(1)"], "unread", "output_size")


# --------------------------------------------------------------------------- through the real grader


def _solved(name: str, answers: dict[str, str] | None = None) -> str:
    """The solution notebook with the exercise's metadata (its identity), some answer cells replaced."""
    notebook = nbformat.read(ROOT / "solutions" / name, as_version=4)
    notebook.metadata = nbformat.read(ROOT / "exercises" / name, as_version=4).metadata
    for qid, source in (answers or {}).items():
        start = next(i for i, c in enumerate(notebook.cells) if c.source.startswith(f"## Question {qid} "))
        cell = next(
            c for c in notebook.cells[start:] if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source
        )
        cell.source = source
    return nbformat.writes(notebook)


ONE_SHORT = WRONG["05.q1"][1][0]  # output_size without the + 1
CALLS_BUT_PADDED = (  # unread through output_size, with positions in the padded input
    "def unread(n, k, s, p, d):\n    read = {o * s + j * d for o in range(output_size(n, k, s, p, d))"
    " for j in range(k)}\n    return [i for i in range(n) if i not in read]"
)
INLINE_PADDED = WRONG["05.q3"][1][0]  # the same mistake, with the output size worked out inline


def _run(submissions: Path, out: Path, *extra: str) -> tuple[int, str]:
    captured = io.StringIO()
    with contextlib.redirect_stderr(captured):
        status = main([str(submissions), "--out", str(out), "--no-progress", "--notebooks", "02,05", *extra])
    return status, captured.getvalue()


def _rows(out: Path) -> dict[str, dict]:
    with open(out, newline="") as handle:
        return {r.pop("student"): r for r in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def handed_in(tmp_path_factory):
    root = tmp_path_factory.mktemp("handed_in")
    subs = root / "subs"
    folders = {
        s: subs / s for s in ("renamed", "zipped", "twice", "nameless", "cascade", "right", "own", "inline")
    }
    for folder in folders.values():
        folder.mkdir(parents=True)
    (folders["renamed"] / "week 2").mkdir()
    (folders["renamed"] / "week 2" / "02_convolution_1d (1).ipynb").write_text(_solved(N02))
    _zip(folders["zipped"] / "hw.zip", {"my-exercises/" + N02: _solved(N02), "my-exercises/notes.txt": "x"})
    (folders["twice"] / "blank.ipynb").write_text((ROOT / "exercises" / N02).read_text())
    (folders["twice"] / "done.ipynb").write_text(_solved(N02))
    os.utime(folders["twice"] / "blank.ipynb", (1_600_000_000, 1_600_000_000))
    (folders["nameless"] / N02).write_text((ROOT / "solutions" / N02).read_text())  # no identity
    (folders["cascade"] / "w5.ipynb").write_text(_solved(N05, {"05.q1": ONE_SHORT}))
    (folders["right"] / "w5.ipynb").write_text(_solved(N05))
    (folders["own"] / "w5.ipynb").write_text(_solved(N05, {"05.q3": CALLS_BUT_PADDED}))
    (folders["inline"] / "w5.ipynb").write_text(_solved(N05, {"05.q1": ONE_SHORT, "05.q3": INLINE_PADDED}))
    out = root / "out" / "grades.csv"
    status, err = _run(subs, out)
    assert status == 0, err
    feedback = {s: (out.parent / "feedback" / f"{s}.md").read_text() for s in folders}
    report_text = (out.parent / "class-report.md").read_text()
    return {"rows": _rows(out), "feedback": feedback, "report": report_text, "subs": subs, "out": out}


def _points(notebook: str) -> int:
    return sum(q.points for q in BY_ID.values() if q.notebook == notebook)


@pytest.mark.parametrize("student", ["renamed", "zipped", "twice", "nameless"])
def test_a_solved_notebook_scores_full_marks_however_it_was_handed_in(handed_in, student):
    assert handed_in["rows"][student]["02.total"] == str(_points(N02))


def test_the_feedback_says_where_each_notebook_came_from_and_what_was_not_graded(handed_in):
    feedback = handed_in["feedback"]
    assert "Graded from week 2/02\\_convolution\\_1d \\(1\\)\\.ipynb, recognised by" in feedback["renamed"]
    assert "Graded from hw\\.zip/my\\-exercises/02\\_convolution\\_1d\\.ipynb" in feedback["zipped"]
    assert "hw\\.zip/my\\-exercises/notes\\.txt: not a notebook" in feedback["zipped"]
    assert "done\\.ipynb is graded (the newest); not graded: blank\\.ipynb" in feedback["twice"]
    assert (
        "Recognised by its file name, 02\\_convolution\\_1d\\.ipynb: its metadata does not carry"
        in (feedback["nameless"])
    )
    assert "Files found in your folder: w5\\.ipynb." in feedback["cascade"]  # for the missing 02
    assert "- twice/blank\\.ipynb: an older copy of 02\\_convolution\\_1d\\.ipynb" in handed_in["report"]
    assert "- zipped/hw\\.zip/my\\-exercises/notes\\.txt: not a notebook" in handed_in["report"]


CASCADE = "uses your \\`output\\_size\\`, which fails 05\\.q1"


def _line(feedback: str, qid: str) -> str:
    return next(line for line in feedback.splitlines() if f"**{qid}**" in line)


def test_an_answer_that_fails_only_through_a_failing_answer_it_calls_says_which(handed_in):
    line = _line(handed_in["feedback"]["cascade"], "05.q3")
    assert "0 / 3" in line and CASCADE in line
    assert handed_in["rows"]["cascade"]["05.q1"] == handed_in["rows"]["cascade"]["05.q3"] == "0"


def test_with_both_answers_right_both_score_full_marks(handed_in):
    assert handed_in["rows"]["right"]["05.total"] == str(_points(N05))


def test_a_wrong_answer_whose_called_answer_is_right_gets_no_cascade_message(handed_in):
    line = _line(handed_in["feedback"]["own"], "05.q3")
    assert "0 / 3" in line and "uses your" not in line and "padded input" in line
    assert handed_in["rows"]["own"]["05.q1"] == "3"


def test_a_wrong_answer_that_does_not_call_the_failing_one_gets_no_cascade_message(handed_in):
    line = _line(handed_in["feedback"]["inline"], "05.q3")
    assert "0 / 3" in line and "uses your" not in line
    assert handed_in["rows"]["inline"]["05.q1"] == "0"


def _output_size(n, k, s, p, d):  # the lecture's formula, written out again here
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _unread(n, k, s, p, d, windows):
    read = {o * s - p + j * d for o in range(windows) for j in range(k)}
    return [i for i in range(n) if i not in read]


def test_a_rename_or_a_new_zip_grades_that_student_again_and_no_one_else(handed_in):
    subs, out = handed_in["subs"], handed_in["out"]
    (subs / "twice" / "done.ipynb").rename(subs / "twice" / "done (1).ipynb")
    _zip(subs / "right" / "late.zip", {"notes.txt": "x"})
    status, err = _run(subs, out)
    assert status == 0, err
    assert "kept 6 student(s) graded before; grading 2 again (2: the submission changed)" in err
    feedback = (out.parent / "feedback" / "twice.md").read_text()
    assert "done \\(1\\)\\.ipynb is graded (the newest)" in feedback
    assert "late\\.zip/notes\\.txt: not a notebook" in (out.parent / "feedback" / "right.md").read_text()


def test_a_change_of_scoring_grades_everyone_again_and_says_why(tmp_path):
    out = tmp_path / "grades.csv"
    before = report.ResumeState(
        out, {"level": "namespaces", "scoring": "all or nothing", "questions": "q", "checks": "c"}
    )
    before.start({})
    before.add("ann", "digest", {"row": {}})
    after = report.ResumeState(
        out, {"level": "namespaces", "scoring": "partial credit", "questions": "q", "checks": "c"}
    )
    assert after.plan({"ann": "digest"}) == ({}, {"ann": "the scoring changed (--partial-credit)"}, [])
    assert before.plan({"ann": "digest"})[0].keys() == {"ann"}


def _output_size(n, k, s, p, d):  # the lecture's formula, written out again here
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _unread(n, k, s, p, d, windows):
    read = {o * s - p + j * d for o in range(windows) for j in range(k)}
    return [i for i in range(n) if i not in read]


def test_partial_credit_gives_a_question_its_points_times_the_share_of_checks_passed(tmp_path):
    subs = tmp_path / "subs"
    (subs / "ann").mkdir(parents=True)
    (subs / "ann" / "w5.ipynb").write_text(_solved(N05, {"05.q1": ONE_SHORT}))
    out = tmp_path / "out" / "grades.csv"
    status, err = _run(subs, out, "--partial-credit")
    assert status == 0, err
    questions = {q.id: q for q in classgrader.load_questions(HERE)}
    # The share of checks the answers pass, worked out here with the lecture's formula: the
    # output size one short everywhere, and the model unread through it.
    q1 = [c.args for c in questions["05.q1"].checks]
    q1_share = sum(_output_size(*a) - 1 == _output_size(*a) for a in q1) / len(q1)
    q3 = [c.args for c in questions["05.q3"].checks]
    q3_share = sum(_unread(*a, _output_size(*a) - 1) == _unread(*a, _output_size(*a)) for a in q3) / len(q3)
    assert 0 < q3_share < 1  # some checks pass and some fail: partial differs from all or nothing
    row = _rows(out)["ann"]
    assert float(row["05.q1"]) == round(3 * q1_share, 3)
    assert float(row["05.q3"]) == round(3 * q3_share, 3)
    assert float(row["total"]) == round(float(row["05.q1"]) + float(row["05.q3"]) + 6, 3)
    line = _line((out.parent / "feedback" / "ann.md").read_text(), "05.q3")
    assert (
        f"{round(3 * q3_share, 3)} / 3" in line
        and f"of {len(q3)} checks pass" in line
        and "uses your" in line
    )
    assert (
        "Points are given per check passed (--partial-credit)."
        in (out.parent / "class-report.md").read_text()
    )


def test_every_grading_command_in_the_readme_and_the_makefile_runs_python_isolated():
    import re

    lines = [
        line
        for path in (ROOT / "README.md", ROOT / "Makefile", ROOT / "tools" / "grade_on_slurm.sbatch")
        for line in path.read_text().splitlines()
        if re.search(r"-m convkit\.grade(?![.\w])", line)
    ]
    assert len(lines) >= 6
    bare = [
        line
        for line in lines
        if not re.search(r"(?:python|PYTHON\"?|\(BIN\)/python) -I -m convkit\.grade", line)
    ]
    assert bare == []
