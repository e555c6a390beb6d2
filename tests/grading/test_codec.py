"""The answer codec is the trust boundary: only plain data crosses it, strictly typed, bounded."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from convkit.grade.codec import MAX_ELEMENTS, decode, encode, to_plain


def _round_trip(value):
    return decode(json.loads(json.dumps(encode(value), allow_nan=False)))


@pytest.mark.parametrize(
    "value",
    [None, True, 3, -2.5, "text", [1, [2.0, None]], {"a": [1, 2]}, (1, (2, 3)), float("inf"), float("nan")],
)
def test_plain_values_survive_the_wire(value):
    got = _round_trip(value)
    if isinstance(value, float) and value != value:
        assert got != got
    else:
        assert got == value and type(got) is type(value)


def test_arrays_keep_dtype_shape_and_values():
    for array in (
        np.arange(6, dtype=np.int16).reshape(2, 3),
        np.linspace(0, 1, 5, dtype=np.float32),
        np.array([True, False]),
    ):
        got = _round_trip(array)
        assert type(got) is np.ndarray and got.dtype == array.dtype and np.array_equal(got, array)


def test_tensors_sizes_and_numpy_scalars_become_plain():
    assert to_plain(torch.Size([2, 3])) == [2, 3]
    assert to_plain(np.float32(1.5)) == 1.5 and type(to_plain(np.int64(2))) is int
    got = to_plain(torch.ones(2, 2, requires_grad=True) * 2)
    assert type(got) is np.ndarray and got.tolist() == [[2.0, 2.0], [2.0, 2.0]]


def test_a_convolution_layer_becomes_its_settings_weight_and_bias():
    layer = torch.nn.Conv2d(3, 16, 5, stride=2, padding=1, bias=False)
    got = _round_trip(to_plain(layer))
    assert got["module"] == "Conv2d" and got["kernel_size"] == [5, 5] and got["stride"] == [2, 2]
    assert got["in_channels"] == 3 and got["out_channels"] == 16 and got["bias"] is None
    assert np.array_equal(got["weight"], layer.weight.detach().numpy())


class _Liar:
    def __eq__(self, other):
        return True


class _Array(np.ndarray):
    pass


class _Float(float):
    pass


@pytest.mark.parametrize(
    "value",
    [
        _Liar(),
        _Float(1.0),
        np.zeros(3).view(_Array),
        np.array([object()]),
        np.zeros(2, complex),
        np.zeros(2, "i4,f4"),
        {1: 2},
        lambda: 0,
        torch.nn.Linear(2, 2),
        type("Conv2d", (torch.nn.Conv2d,), {})(1, 1, 1),
    ],
)
def test_anything_else_is_refused_with_its_type_named(value):
    with pytest.raises(TypeError):
        to_plain(value)


@pytest.mark.parametrize(
    "data",
    [
        {"__pickle__": "x"},
        {"__ndarray__": "!!!"},
        {"a": 1, "b": 2},
        {"__float__": "1e999"},
        {"__dict__": [1]},
        {"__tuple__": "ab"},
    ],
)
def test_decode_refuses_what_encode_never_makes(data):
    with pytest.raises(ValueError):
        decode(data)


def test_decode_refuses_deep_nesting_and_huge_or_object_arrays():
    deep = [0]
    for _ in range(40):
        deep = [deep]
    with pytest.raises(ValueError, match="deeply"):
        decode(deep)
    with pytest.raises(ValueError, match="too large"):
        decode(encode(np.zeros(MAX_ELEMENTS + 1, dtype=np.uint8)))
    import base64
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([1, "a"], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        decode({"__ndarray__": base64.b64encode(buffer.getvalue()).decode()})


def test_sets_ranges_and_mappings_cross_as_the_plain_data_they_hold():
    from collections import OrderedDict

    assert to_plain({(5, 1), (4, 0)}) == [[4, 0], [5, 1]]
    assert to_plain(frozenset({3, 1})) == [1, 3] and to_plain(range(2, 5)) == [2, 3, 4]
    got = to_plain(OrderedDict([("weight", (6, 4)), ("bias", (6,))]))
    assert type(got) is dict and got == {"weight": [6, 4], "bias": [6]}


def test_a_mapping_that_lies_about_its_items_is_read_for_what_it_holds():
    class Lying(dict):
        def items(self):
            return [("weight", [1])]

        def __eq__(self, other):
            return True

    got = to_plain(Lying(bias=[6]))
    assert type(got) is dict and got == {"bias": [6]}


def test_a_set_of_objects_that_equal_anything_is_still_refused():
    class Liar:
        def __eq__(self, other):
            return True

        def __hash__(self):
            return 0

    with pytest.raises(TypeError, match="Liar"):
        to_plain({Liar()})


@pytest.mark.parametrize(
    "layer, padding",
    [
        (torch.nn.Conv2d(3, 16, 5, padding="valid"), [0, 0]),
        (torch.nn.Conv2d(3, 16, (5, 3), padding="same"), [2, 1]),
        (torch.nn.Conv2d(3, 16, (4, 3), padding="same", dilation=(1, 2)), [[1, 2], 2]),
        (torch.nn.Conv1d(3, 16, 2, padding="same", dilation=2), [1]),
    ],
)
def test_a_layer_s_padding_is_the_amounts_it_pads_however_it_was_written(layer, padding):
    import torch.nn.functional as F

    assert to_plain(layer)["padding"] == padding
    # the independent truth: padding x by these amounts, then convolving unpadded, is what the layer does
    pairs = [p if type(p) is list else [p, p] for p in padding]
    x = torch.randn((1, 3) + (9,) * len(pairs))
    padded = F.pad(x, [amount for pair in reversed(pairs) for amount in pair])
    conv = {1: F.conv1d, 2: F.conv2d}[len(pairs)]
    again = conv(padded, layer.weight, layer.bias, dilation=layer.dilation)
    assert torch.allclose(again, layer(x), atol=1e-6)
