"""One call of an answer on a check (convkit.grade.call): the same steps for check() and the sandbox."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from convkit.grade.call import NotAllowed, call_answer, call_text, check_label, not_allowed
from convkit.grade.model import Check


def test_an_answer_that_writes_into_its_input_leaves_the_checks_arguments_alone():
    x = np.array([1.0, 2.0, 3.0])

    def spoil(values):
        values[:] = 0
        return values.sum()

    assert call_answer("spoil", (x,), spoil) == 0.0
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


def test_the_torch_flag_passes_tensors_and_the_result_comes_back_as_plain_numpy():
    seen = []

    def double(x):
        seen.append(type(x))
        return 2 * x

    got = call_answer("double", (np.array([1.0, 2.0]),), double, as_tensor=True)
    assert seen == [torch.Tensor]
    assert type(got) is np.ndarray and got.tolist() == [2.0, 4.0]


def test_a_value_is_read_without_calling_it():
    assert call_answer("predicted_y", None, [2.0, 2.0, -7.0]) == [2.0, 2.0, -7.0]


def test_a_value_where_a_function_is_asked_for_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="conv1d_by_hand is not a function"):
        call_answer("conv1d_by_hand", (1,), 3)


def test_a_forbidden_call_raises_not_allowed_once_reported_even_if_the_answer_catches_it():
    hits = []

    def sneaky(x):
        try:
            return np.convolve(x, [1.0])
        except BaseException:
            raise ValueError("hidden") from None

    with pytest.raises(NotAllowed) as caught:
        call_answer(
            "f", (np.ones(3),), lambda x: np.convolve(x, [1.0]), ["numpy.convolve"], on_hit=hits.append
        )
    assert caught.value.name == "numpy.convolve" and hits == ["numpy.convolve"]
    hits.clear()
    with pytest.raises(ValueError):
        call_answer("f", (np.ones(3),), sneaky, ["numpy.convolve"], on_hit=hits.append)
    assert hits == ["numpy.convolve"]  # what the grader counts, whatever the answer does next


def test_run_performs_both_the_call_and_the_conversion():
    steps = []

    def run(function, *args):
        steps.append(getattr(function, "__name__", "?"))
        return function(*args)

    call_answer("f", (2,), lambda n: n + 1, run=run)
    call_answer("g", None, 5, run=run)
    assert steps == ["<lambda>", "to_plain", "to_plain"]


def test_the_messages_around_a_call_read_the_same_in_check_and_in_the_grader():
    assert call_text("unread", (20, 3, 4, 0, 1)) == "unread(20, 3, 4, 0, 1)"
    assert call_text("x", (np.array([1.0, 2.0]),)) == "x(array([1., 2.]))"
    assert check_label(1, Check((1,), 1)) == "check 1"
    assert (
        check_label(2, Check((1,), 1, note="a 1-tap kernel", hidden=True))
        == "hidden check 2 (a 1-tap kernel)"
    )
    assert not_allowed("os.system") == "`os.system` is not allowed in this question"
    assert not_allowed("numpy.convolve", "why") == "`numpy.convolve` is not allowed in this question: why"
