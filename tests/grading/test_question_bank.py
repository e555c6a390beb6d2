"""The question bank keeps its identity while its code moves: ids, points, checks, values and messages.

This is a safety net for refactoring ``convkit.grade``'s question bank (splitting it
into modules, renaming its helpers): every property a student or the grader can see is
compared with ``question_bank.json``. That file was written once from the bank *before*
it was split into ``convkit/grade/questions/``, so here (and only here) pinning the
current values is the point: the independent truths are tested elsewhere, and this
test proves that moving the code changed none of them.

What is pinned, for every question with its public and hidden checks (as the grader
loads them): id, notebook, name, kind, points, forbidden calls and why, the
justification variable, the questions whose answers it may call, and per check its
arguments, comparison, note, torch and hidden flags and expected value; the course notebook's
section it sends a student back to; the misconceptions' ids (by which reports count them),
messages and comparisons; and the message :func:`verdict` gives for a fixed set of probe answers and for each
misconception's wrong result on that check.

A change that is *meant* to alter the bank regenerates the file on purpose:
``PYTHONPATH=lib python tests/grading/test_question_bank.py`` (and says so in its commit).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
PINNED = HERE / "question_bank.json"


def _probes(expected, how) -> list:
    """Answers every check is asked about: wrong types, near misses, the forms misconceptions test for."""
    probes = [None, 3, "A, B", "Z", ["B", "C"], [[4, 0], [4, 1]], expected]
    if callable(how) or type(expected) is dict:
        probes += [
            {"module": "Conv1d"},
            {"module": "Conv2d", "in_channels": 16, "out_channels": 3},
            {"module": "Conv2d", "in_channels": 3, "out_channels": 16, "kernel_size": [5, 5], "bias": [0.0]},
        ]
    numbers = _numeric(expected)
    if numbers is not None:
        probes += [numbers + 0.5, -numbers, numbers[..., :-1] if numbers.ndim else numbers * 2]
    return probes


def _numeric(value) -> np.ndarray | None:
    if type(value) is bool or type(value) is str or value is None or type(value) is dict:
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


_SMALL = 24  # larger arrays are pinned by a fingerprint, to keep the file small


def _fingerprint(array: np.ndarray) -> list[float]:
    """Sum, sum of squares and a position-weighted sum: any changed, moved or swapped entry shows."""
    values = array.astype(np.float64).ravel()
    weights = np.sin(np.arange(1, values.size + 1))
    return [float(values.sum()), float(np.square(values).sum()), float(values @ weights)]


def plain(value):
    """A JSON form that keeps the type: arrays with dtype, tuples apart from lists, callables by kind."""
    if type(value) is np.ndarray and value.size > _SMALL:
        return {"__array__": _fingerprint(value), "dtype": str(value.dtype), "shape": list(value.shape)}
    if type(value) is np.ndarray:
        return {"__array__": value.tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return {"__scalar__": value.item(), "dtype": str(value.dtype)}
    if type(value) is tuple:
        return {"__tuple__": [plain(v) for v in value]}
    if type(value) is list:
        return [plain(v) for v in value]
    if type(value) is dict:
        return {"__dict__": [[plain(k), plain(v)] for k, v in value.items()]}
    if type(value) is float and not np.isfinite(value):
        return {"__float__": repr(value)}
    if callable(value):
        return {"__callable__": True}
    return value


def _attempt(function, *args):
    try:
        return plain(function(*args))
    except Exception as error:  # what fails must keep failing the same way
        return {"__error__": type(error).__name__}


def _verdict_on_wrong(question, item, idea, expected):
    from convkit.grade.model import verdict

    got = idea.wrong(*(item.args or ())) if callable(idea.wrong) else idea.wrong
    return verdict(question, item, got, expected)


def describe_bank(questions) -> list[dict]:
    """Everything the bank shows, for each question in order."""
    from convkit.grade.model import verdict

    bank = []
    for q in questions:
        checks = []
        for item in q.checks:
            expected = item.expected_value()
            ideas = item.misconceptions + q.misconceptions
            wrong = [
                _attempt(idea.wrong, *(item.args or ())) if callable(idea.wrong) else plain(idea.wrong)
                for idea in ideas
            ]
            shown = [
                None if idea.test else _attempt(_verdict_on_wrong, q, item, idea, expected) for idea in ideas
            ]
            checks.append(
                {
                    "args": plain(item.args),
                    "expected": plain(expected),
                    "compare": item.compare if isinstance(item.compare, str) else "callable",
                    "note": item.note,
                    "torch": item.torch,
                    "hidden": item.hidden,
                    "misconceptions": [
                        {
                            "id": idea.id,
                            "message": idea.message,
                            "compare": idea.compare,
                            "test": idea.test is not None,
                        }
                        for idea in item.misconceptions
                    ],
                    "wrong": wrong,
                    "verdict_on_wrong": shown,
                    "verdict_on_probes": [
                        _attempt(verdict, q, item, p, expected) for p in _probes(expected, item.compare)
                    ],
                }
            )
        bank.append(
            {
                "id": q.id,
                "notebook": q.notebook,
                "name": q.name,
                "kind": q.kind,
                "points": q.points,
                "forbids": list(q.forbids),
                "why_forbidden": q.why_forbidden,
                "justification": q.justification,
                "section": q.section,
                "misconceptions": [
                    {
                        "id": idea.id,
                        "message": idea.message,
                        "compare": idea.compare,
                        "test": idea.test is not None,
                    }
                    for idea in q.misconceptions
                ],
                "checks": checks,
            }
        )
        if q.uses:  # only where a question has some, so the other questions' pinned lines stand
            bank[-1]["uses"] = list(q.uses)
    return bank


def _load_questions():
    from convkit.grade.classgrader import load_questions

    return load_questions(HERE)


def _same(have, want, where: str) -> None:
    """Assert two plain forms agree: numbers with numpy (to 1e-9), all else exactly."""
    if isinstance(want, dict) and "__array__" in want:
        assert isinstance(have, dict) and "__array__" in have, f"{where}: not an array any more"
        assert (have["dtype"], have["shape"]) == (want["dtype"], want["shape"]), f"{where}: dtype or shape"
        a, b = np.array(have["__array__"]), np.array(want["__array__"])
        if a.dtype.kind in "biuf":
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, err_msg=where)
        else:
            assert a.tolist() == b.tolist(), where
        return
    if isinstance(want, float) and isinstance(have, (int, float)) and not isinstance(have, bool):
        np.testing.assert_allclose(have, want, rtol=1e-9, atol=1e-9, err_msg=where)
        return
    if isinstance(want, dict):
        assert isinstance(have, dict) and set(have) == set(want), f"{where}: {have!r} != {want!r}"
        for key in want:
            _same(have[key], want[key], f"{where}.{key}")
        return
    if isinstance(want, list):
        assert isinstance(have, list) and len(have) == len(want), f"{where}: {have!r} != {want!r}"
        for k, (h, w) in enumerate(zip(have, want)):
            _same(h, w, f"{where}[{k}]")
        return
    assert type(have) is type(want) and have == want, f"{where}: {have!r} != {want!r}"


@pytest.fixture(scope="module")
def bank():
    # through JSON, so that both sides have the same form (tuples inside dicts, float keys)
    return json.loads(json.dumps(describe_bank(_load_questions())))


@pytest.fixture(scope="module")
def pinned():
    return json.loads(PINNED.read_text(encoding="utf-8"))


def test_question_ids_names_and_points_are_the_pinned_ones_in_order(bank, pinned):
    def summary(b):
        return [(q["id"], q["notebook"], q["name"], q["kind"], q["points"], len(q["checks"])) for q in b]

    assert summary(bank) == summary(pinned)


def test_forbidden_calls_and_their_reasons_are_the_pinned_ones(bank, pinned):
    def summary(b):
        return [(q["id"], q["forbids"], q["why_forbidden"], q["justification"]) for q in b]

    assert summary(bank) == summary(pinned)


@pytest.mark.parametrize("index", range(35))
def test_each_question_keeps_its_checks_values_and_messages(bank, pinned, index):
    assert len(bank) == len(pinned) == 35
    _same(bank[index], pinned[index], pinned[index]["id"])


def test_the_public_bank_and_its_index_agree():
    from convkit.grade.questions import BY_ID, QUESTIONS

    assert list(BY_ID) == [q.id for q in QUESTIONS]
    assert all(BY_ID[q.id] is q for q in QUESTIONS)


if __name__ == "__main__":  # regenerate the pinned bank, on purpose only (see the module docstring)
    lines = [
        json.dumps(q, ensure_ascii=False, separators=(",", ":")) for q in describe_bank(_load_questions())
    ]
    PINNED.write_text("[\n" + ",\n".join(lines) + "\n]\n", encoding="utf-8")  # one question a line
    print(f"wrote {PINNED} ({PINNED.stat().st_size} bytes)", file=sys.stderr)
