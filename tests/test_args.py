"""convkit._args: the one home of "an int", "an int or a tuple per axis" and "an array of numbers"."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from convkit import plot, reference, shapes  # noqa: E402
from convkit._args import as_array, as_bool, as_int, per_axis  # noqa: E402

# ------------------------------------------------------------------------ as_int


def test_as_int_accepts_numpy_integers_and_returns_a_python_int():
    value = as_int(np.int32(7), "size", minimum=1)
    assert value == 7 and type(value) is int


@pytest.mark.parametrize(
    "value, error, message",
    [
        (True, TypeError, "stride must be an int, got True (bool)"),
        (2.0, TypeError, "stride must be an int, got 2.0 (float)"),
        ("2", TypeError, "stride must be an int, got '2' (str)"),
        (0, ValueError, "stride must be >= 1, got 0"),
    ],
)
def test_as_int_names_the_argument(value, error, message):
    with pytest.raises(error) as caught:
        as_int(value, "stride", minimum=1)
    assert str(caught.value) == message


def test_as_int_without_minimum_accepts_negative_numbers():
    assert as_int(-3, "offset") == -3


def test_as_bool_refuses_an_int_stand_in():
    assert as_bool(np.bool_(True), "bias") is True
    with pytest.raises(TypeError, match=r"^bias must be a bool, got 1 \(int\)$"):
        as_bool(1, "bias")


# ---------------------------------------------------------------------- per_axis


def test_per_axis_repeats_an_int_once_per_axis():
    assert per_axis(3, "kernel_size", 3, minimum=1) == (3, 3, 3)


def test_per_axis_keeps_a_sequence_of_the_right_length():
    assert per_axis([2, np.int64(1)], "stride", 2, minimum=1) == (2, 1)


@pytest.mark.parametrize(
    "value, error, message",
    [
        (
            (1, 2, 3),
            ValueError,
            "stride=(1, 2, 3) has 3 entries, but stride must be an int or a tuple of 2 ints, "
            "one per spatial axis",
        ),
        ((1, 0), ValueError, "stride[1] must be >= 1, got 0"),
        ((1, 1.5), TypeError, "stride[1] must be an int, got 1.5 (float)"),
        (1.5, TypeError, "stride must be an int or a tuple of 2 ints, got 1.5 (float)"),
        ("11", TypeError, "stride must be an int or a tuple of 2 ints, got '11' (str)"),
        (False, TypeError, "stride must be an int or a tuple of 2 ints, got False (bool)"),
        (-1, ValueError, "stride must be >= 1, got -1"),
    ],
)
def test_per_axis_names_the_argument_and_the_axis(value, error, message):
    with pytest.raises(error) as caught:
        per_axis(value, "stride", 2, minimum=1)
    assert str(caught.value) == message


def test_per_axis_ends_the_length_message_with_where():
    with pytest.raises(ValueError, match=r"one per spatial axis of input_shape \(4, 4\)$"):
        per_axis((1,), "padding", 2, where=" of input_shape (4, 4)")


# ---------------------------------------------------------------------- as_array


def test_as_array_turns_a_tensor_that_requires_grad_into_numpy():
    tensor = torch.ones(2, 3, requires_grad=True)
    array = as_array(tensor, "input", ndim=2)
    assert isinstance(array, np.ndarray) and array.shape == (2, 3)


def test_as_array_converts_to_the_dtype_asked_for():
    array = as_array([[1, 2], [3, 4]], "image", dtype=np.float64)
    assert array.dtype == np.float64
    np.testing.assert_array_equal(array, [[1.0, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize(
    "value, kwargs, error, message",
    [
        (["a", "b"], {}, TypeError, "x must hold real numbers, got dtype <U1"),
        ([[1, 2], [3]], {}, TypeError, "x must be an array of numbers, got list"),
        (
            np.arange(3),
            dict(floating=True),
            TypeError,
            "x must be a floating-point array (float32 or float64), got dtype int64",
        ),
        (np.ones(3), dict(ndim=2, axes="(H, W)"), ValueError, "x must be a 2d array (H, W), got shape (3,)"),
        (
            np.ones((2, 2, 2)),
            dict(ndim=(1, 2)),
            ValueError,
            "x must be a 1d or 2d array, got shape (2, 2, 2)",
        ),
        (np.ones((0, 3)), dict(nonempty=True), ValueError, "x must not be empty, got shape (0, 3)"),
        (
            np.array([1.0, np.nan]),
            dict(finite=True),
            ValueError,
            "x contains non-finite values (nan or inf), shape (2,)",
        ),
    ],
)
def test_as_array_names_the_argument(value, kwargs, error, message):
    with pytest.raises(error) as caught:
        as_array(value, "x", **kwargs)
    assert str(caught.value).startswith(message)


# ------------------------------------------------------- one rule, one message


def test_a_zero_stride_gets_the_same_message_from_shapes_reference_and_plot():
    expected = "stride must be >= 1, got 0"
    with pytest.raises(ValueError) as from_shapes:
        shapes.conv_output_shape((5, 5), 3, stride=0)
    with pytest.raises(ValueError) as from_reference:
        reference.conv2d(np.ones((1, 5, 5)), np.ones((1, 1, 3, 3)), stride=0)
    fig, ax = plt.subplots()
    try:
        with pytest.raises(ValueError) as from_plot:
            plot.draw_footprint(ax, (5, 5), 3, stride=0)
    finally:
        plt.close(fig)
    assert {str(e.value) for e in (from_shapes, from_reference, from_plot)} == {expected}


def test_reference_takes_its_output_size_from_shapes():
    # an uneven 'same' padding (even kernel) and a stride that skips the last row
    x, w = np.ones((1, 7, 6)), np.ones((1, 1, 4, 3))
    assert (
        reference.conv2d(x, w, padding="same").shape[1:]
        == shapes.conv_output_shape((7, 6), (4, 3), padding="same")
        == (7, 6)
    )
    assert reference.conv2d(x, w, stride=2).shape[1:] == (2, 2)  # floor((7-4)/2)+1, floor((6-3)/2)+1
