"""The answer codec: the plain data that travels from student code to the grader.

This module is the trust boundary. Whatever a student's answer returns is first turned
into plain data inside the sandbox (:func:`to_plain`: numbers, strings, ``None``,
lists, string-keyed dicts, NumPy arrays of a numeric dtype), sent as JSON
(:func:`encode`), and on the judging side checked for type again (:func:`decode`,
which refuses anything else, nesting deeper than a fixed bound, and arrays that are
too large). An object whose ``__eq__`` always says yes therefore never reaches a
comparison.

On the wire an array is an embedded ``.npy`` file (base64), loaded with
``allow_pickle=False``. Nothing is ever unpickled.
"""

from __future__ import annotations

import base64
import io
import math
import sys
from typing import Any

import numpy as np

__all__ = ["to_plain", "encode", "decode", "MAX_ELEMENTS"]

#: Largest array a student may return or a check may send (elements).
MAX_ELEMENTS = 5_000_000
_NUMERIC_KINDS = "biuf"


def _tensor_to_numpy(value: Any) -> np.ndarray | None:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return None
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return None


_CONV_FIELDS = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "padding_mode",
    "weight",
    "bias",
)


def _conv_module(value: Any) -> dict | None:
    """A convolution layer (exactly ``nn.Conv1d/2d/3d`` or ``nn.ConvTranspose1d/2d/3d``) as a dict."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    kinds = {
        getattr(torch.nn, name, None): name
        for name in ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
    }
    name = kinds.get(type(value))
    if name is None:
        return None
    fields = {"module": name}
    fields.update(
        (
            key,
            object.__getattribute__(value, "__dict__").get(key)
            if key not in ("weight", "bias")
            else value._parameters.get(key),
        )
        for key in _CONV_FIELDS
    )
    fields["padding"] = _padding_amounts(fields)
    return fields


def _padding_amounts(fields: dict) -> Any:
    """A layer's padding as the amounts it pads, whichever way it was written.

    ``padding="valid"`` is no padding; ``padding="same"`` is, per axis, the total
    ``dilation·(kernel_size − 1)``, one amount when it splits evenly and the pair
    ``[before, after]`` (PyTorch puts the odd cell after) when it does not. Anything
    else is left as the layer holds it, for the judge to refuse.
    """
    padding, kernels, dilations = fields.get("padding"), fields.get("kernel_size"), fields.get("dilation")
    if type(padding) is not str or type(kernels) is not tuple or type(dilations) is not tuple:
        return padding
    if padding == "valid":
        return tuple(0 for _ in kernels)
    if padding != "same" or not all(type(v) is int for v in kernels + dilations):
        return padding
    amounts = []
    for k, d in zip(kernels, dilations):
        total = d * (k - 1)
        amounts.append(total // 2 if total % 2 == 0 else [total // 2, total - total // 2])
    return tuple(amounts)


def to_plain(value: Any, depth: int = 0) -> Any:
    """Turn a student's result into plain data: numbers, str, None, lists, dicts, numeric arrays.

    Tensors become arrays, NumPy scalars Python numbers, tuples, ranges (and
    ``torch.Size``) lists, sets lists in increasing order, dicts with string keys
    (``OrderedDict`` too, read through ``dict``'s own methods) dicts. A convolution layer (exactly ``nn.Conv2d`` and
    its 1d/3d/transposed siblings) becomes a dict of its settings, weight and bias
    (``{"module": "Conv2d", "in_channels": 3, ..., "weight": array, "bias": array}``),
    its padding as the amounts it pads (``"valid"`` is 0). Numbers, strings, sequences
    and arrays are accepted as the exact built-in types only, never subclasses.

    Raises
    ------
    TypeError
        For any other type (the message names it), or nesting deeper than 20.

    Examples
    --------
    >>> to_plain((1, 2.5, [True, None]))
    [1, 2.5, [True, None]]
    >>> to_plain(np.int64(3))
    3
    >>> to_plain({"weight": (2, 3)})
    {'weight': [2, 3]}
    >>> to_plain({(5, 1), (4, 0)}), to_plain(range(2, 5))
    ([[4, 0], [5, 1]], [2, 3, 4])
    """
    if depth > 20:
        raise TypeError("the result is nested more than 20 levels deep")
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind in (list, tuple, range):
        return [to_plain(v, depth + 1) for v in value]
    if kind in (set, frozenset):
        return _sorted([to_plain(v, depth + 1) for v in value])
    if isinstance(value, dict):  # OrderedDict and other mappings: read with dict's own methods
        items = list(dict.items(value))
        if not all(type(key) is str for key, _ in items):
            raise TypeError("a returned dict may only have string keys")
        return {key: to_plain(v, depth + 1) for key, v in items}
    module = _conv_module(value)
    if module is not None:
        return to_plain(module, depth + 1)
    array = _tensor_to_numpy(value)
    if array is None and kind is np.ndarray:
        array = value
    if array is not None:
        if array.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"an array of dtype {array.dtype} is not a numeric result")
        return np.array(array)  # an owned, plain ndarray (not a subclass or view)
    if isinstance(value, np.generic) and value.dtype.kind in _NUMERIC_KINDS:
        return value.item()
    if isinstance(value, tuple) and type(value).__name__ == "Size":  # torch.Size
        return [int(v) for v in tuple.__iter__(value)]
    raise TypeError(
        f"returned an object of type {kind.__name__}; expected a number, a tuple, list or set, or an array"
    )


def _sorted(items: list) -> list:
    """The items of a set in increasing order when they compare (numbers, lists of numbers), else as met."""
    try:
        return sorted(items, key=lambda item: item.tolist() if type(item) is np.ndarray else item)
    except TypeError:
        return items


def encode(value: Any) -> Any:
    """Plain data (or check arguments) to JSON-ready data; arrays become embedded .npy.

    Tuples are kept as tuples (``{"__tuple__": [...]}``) so that arguments arrive as
    the question says; results are lists anyway after :func:`to_plain`.
    """
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if kind is list:
        return [encode(v) for v in value]
    if kind is tuple:
        return {"__tuple__": [encode(v) for v in value]}
    if kind is dict:
        if not all(type(key) is str for key in value):
            raise TypeError("cannot encode a dict whose keys are not all strings")
        return {"__dict__": {key: encode(v) for key, v in value.items()}}
    if kind is np.ndarray:
        if value.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"cannot send an array of dtype {value.dtype}")
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        return {"__ndarray__": base64.b64encode(buffer.getvalue()).decode("ascii")}
    raise TypeError(f"cannot encode an object of type {kind.__name__}")


def decode(data: Any, depth: int = 0) -> Any:
    """The inverse of :func:`encode`, strict: anything not made by it raises ValueError."""
    if depth > 22:
        raise ValueError("the data is nested too deeply")
    kind = type(data)
    if data is None or kind in (bool, int, float, str):
        return data
    if kind is list:
        return [decode(v, depth + 1) for v in data]
    if kind is dict and len(data) == 1:
        ((key, inner),) = data.items()
        if key == "__tuple__" and type(inner) is list:
            return tuple(decode(v, depth + 1) for v in inner)
        if key == "__dict__" and type(inner) is dict:
            return {str(k): decode(v, depth + 1) for k, v in inner.items()}
        if key == "__float__" and inner in ("nan", "inf", "-inf"):
            return float(inner)
        if key == "__ndarray__" and type(inner) is str:
            raw = base64.b64decode(inner.encode("ascii"), validate=True)
            array = np.load(io.BytesIO(raw), allow_pickle=False)
            if type(array) is not np.ndarray or array.dtype.kind not in _NUMERIC_KINDS:
                raise ValueError("an embedded array is not numeric")
            if array.size > MAX_ELEMENTS:
                raise ValueError(f"an array of {array.size} elements is too large")
            return array
    raise ValueError(f"unexpected data of type {kind.__name__}")
