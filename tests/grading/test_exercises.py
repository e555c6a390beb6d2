"""exercises/ is exactly what the generator makes from solutions/, and scores zero."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import convkit
from convkit.grade.classgrader import NOTEBOOKS
from convkit.grade.generate import exercise_text, generate, strip_solutions
from convkit.grade.questions import QUESTIONS

from .conftest import ROOT, grade_folder


def test_exercises_are_exactly_the_generated_notebooks(tmp_path):
    generate(ROOT / "solutions", tmp_path)
    made = sorted(p.name for p in tmp_path.glob("*.ipynb"))
    committed = sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb"))
    assert made == committed == list(NOTEBOOKS)
    for name in made:
        assert (ROOT / "exercises" / name).read_text() == (tmp_path / name).read_text(), (
            f"exercises/{name} is stale: run `make exercises`"
        )


def test_exercises_have_no_outputs_and_no_solution_code():
    for name in NOTEBOOKS:
        notebook = json.loads((ROOT / "exercises" / name).read_text())
        for cell in notebook["cells"]:
            source = "".join(cell["source"])
            assert "### BEGIN SOLUTION" not in source
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None


def test_strip_solutions_keeps_indentation_and_rejects_unbalanced_markers():
    source = "x = 1\n    ### BEGIN SOLUTION\n    y = 2\n    ### END SOLUTION\nz = 3"
    assert strip_solutions(source) == "x = 1\n    # YOUR CODE HERE\n    raise NotImplementedError\nz = 3"
    with pytest.raises(ValueError, match="never closed"):
        strip_solutions("### BEGIN SOLUTION\nx = 1")
    with pytest.raises(ValueError, match="without"):
        strip_solutions("x = 1\n### END SOLUTION")


# What JupyterLab writes for the default kernel (tests/test_notebooks.py pins it for the course notebooks).
LAB_KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def test_each_exercise_carries_its_identity_and_the_metadata_jupyterlab_writes():
    versions = set()
    for name in NOTEBOOKS:
        metadata = json.loads((ROOT / "exercises" / name).read_text())["metadata"]
        assert set(metadata) == {"convkit", "kernelspec", "language_info"}, name
        assert metadata["kernelspec"] == LAB_KERNELSPEC, name
        assert "version" not in metadata["language_info"], name  # Lab fills it in from the kernel
        identity = metadata["convkit"]
        assert identity["notebook"] == name.removesuffix(".ipynb")
        assert re.fullmatch(r"[0-9a-f]{12}", identity["version"]), identity
        versions.add(identity["version"])
    assert len(versions) == len(NOTEBOOKS)


def test_an_exercises_version_changes_with_its_text_only():
    text = (ROOT / "solutions" / NOTEBOOKS[1]).read_text()
    stem = NOTEBOOKS[1].removesuffix(".ipynb")

    def version(solution: str) -> str:
        return json.loads(exercise_text(solution, stem))["metadata"]["convkit"]["version"]

    notebook = json.loads(text)
    notebook["metadata"]["kernelspec"]["display_name"] = "Python 3"
    assert version(json.dumps(notebook)) == version(text)
    notebook["cells"][0]["source"] = ["# another title\n"]
    assert version(json.dumps(notebook)) != version(text)


def test_the_generator_writes_the_same_bytes_whatever_the_hash_seed(tmp_path):
    # Two interpreters with different string hashes: an order taken from a set or a dict
    # built from one would differ between them (one process calling twice would not see it).
    library = str(Path(convkit.__file__).resolve().parents[1])
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": library}
        code = "import sys; from convkit.grade.generate import generate; generate(sys.argv[1], sys.argv[2])"
        subprocess.run(
            [sys.executable, "-c", code, str(ROOT / "solutions"), str(tmp_path / seed)], env=env, check=True
        )
    for name in NOTEBOOKS:
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes(), name


@pytest.mark.parametrize("question", QUESTIONS, ids=[q.id for q in QUESTIONS])
def test_each_question_has_its_prompt_answer_region_and_check_call(question):
    cells = json.loads((ROOT / "solutions" / question.notebook).read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells]
    prompt = [s for s in sources if s.startswith(f"## Question {question.id} ")]
    assert len(prompt) == 1 and f"({question.points} points)" in prompt[0]
    assert f'check("{question.id}")' in sources
    answer = next(s for s in sources[sources.index(prompt[0]) :] if "### BEGIN SOLUTION" in s)
    assert re.search(rf"\b{question.name}\b", answer)


def test_untouched_exercises_score_zero_on_every_question(questions, sandbox):
    outcomes = grade_folder(ROOT / "exercises", questions, sandbox)
    assert sorted(outcomes) == sorted(q.id for q in questions)
    scored = {qid: o.points for qid, o in outcomes.items() if o.points}
    assert scored == {}


def _digits_promised(question) -> int | None:
    cells = json.loads((ROOT / "solutions" / question.notebook).read_text())["cells"]
    prompt = next(
        "".join(c["source"]) for c in cells if "".join(c["source"]).startswith(f"## Question {question.id} ")
    )
    found = re.findall(r"(\d+) significant digits", prompt)
    return int(found[0]) if found else None


@pytest.mark.parametrize("question", QUESTIONS, ids=[q.id for q in QUESTIONS])
def test_the_digits_a_question_promises_are_the_digits_it_grades_with(question):
    assert _digits_promised(question) == question.digits


@pytest.mark.parametrize("question", [q for q in QUESTIONS if q.digits], ids=lambda q: q.id)
def test_a_number_rounded_to_the_promised_digits_passes_and_one_digit_fewer_fails(question):
    from convkit.grade.model import verdict

    for item in question.checks:
        truth = float(item.expected_value())
        to_promised, one_fewer = (float(f"{truth:.{n - 1}e}") for n in (question.digits, question.digits - 1))
        assert verdict(question, item, to_promised, truth) is None
        assert verdict(question, item, one_fewer, truth) is not None
