"""Tests of the kernel playground: presets, the per/across-channel convolution and wiring."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from convkit import data
from convkit.widgets.playground import KERNEL_PRESETS, playground, playground_state


def _torch_conv(image: np.ndarray, weight: np.ndarray, padding: str, groups: int) -> np.ndarray:
    x = torch.from_numpy(image)[None]
    return F.conv2d(x, torch.from_numpy(weight), padding=padding, groups=groups)[0].numpy()


# ----------------------------------------------------------------------------- presets


def test_presets_hold_the_lecture_kernels_exactly():
    # Typed in from the lecture's weight[0..4] listing.
    lecture = {
        "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
        "box blur": [[1, 1, 1], [1, 1, 1], [1, 1, 1]],
        "vertical edges": [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
        "horizontal edges": [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
        "laplacian": [[0, -1, 0], [-1, 4, -1], [0, -1, 0]],
    }
    for name, kernel in lecture.items():
        np.testing.assert_array_equal(KERNEL_PRESETS[name], np.array(kernel, dtype=float), err_msg=name)


def test_gaussian_and_sharpen_presets_have_the_binomial_weights():
    np.testing.assert_allclose(KERNEL_PRESETS["gaussian 3x3"] * 16, [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    row = np.array([1, 4, 6, 4, 1])
    np.testing.assert_allclose(KERNEL_PRESETS["gaussian 5x5"] * 256, np.outer(row, row))
    np.testing.assert_array_equal(KERNEL_PRESETS["sharpen"], [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    sharpen5 = -np.outer(row, row) / 256
    sharpen5[2, 2] += 2
    np.testing.assert_allclose(KERNEL_PRESETS["sharpen 5x5"], sharpen5)
    assert {k.shape for k in KERNEL_PRESETS.values()} == {(3, 3), (5, 5)}


def test_presets_cannot_be_modified_by_accident():
    with pytest.raises(ValueError, match="read-only"):
        KERNEL_PRESETS["identity"][0, 0] = 5.0


# ----------------------------------------------------------------------------- playground_state


def test_vertical_edge_kernel_on_a_step_gives_a_constant_band_of_threes():
    step = np.zeros((5, 8))
    step[:, 4:] = 1.0  # dark left half, bright right half
    state = playground_state(step, KERNEL_PRESETS["vertical edges"])
    # Window j reads columns j..j+2: it straddles the step for j = 2, 3 and
    # then sums three rows of (1 - 0).
    expected = np.array([[0, 0, 3, 3, 0, 0]] * 3, dtype=float)
    np.testing.assert_array_equal(state.output[0], expected)
    assert state.output_shape == (1, 3, 6)


def test_horizontal_edge_kernel_on_a_step_gives_a_constant_band_of_threes():
    step = np.zeros((8, 5))
    step[4:, :] = 1.0
    state = playground_state(step, KERNEL_PRESETS["horizontal edges"])
    expected = np.array([[0, 0, 3, 3, 0, 0]] * 3, dtype=float).T
    np.testing.assert_array_equal(state.output[0], expected)


def test_identity_preset_returns_the_input_interior_and_the_whole_input_with_same_padding():
    image = np.random.default_rng(0).normal(size=(3, 7, 9))
    valid = playground_state(image, KERNEL_PRESETS["identity"])
    np.testing.assert_array_equal(valid.output, image[:, 1:-1, 1:-1])
    same = playground_state(image, KERNEL_PRESETS["identity"], padding="same")
    np.testing.assert_array_equal(same.output, image)


def test_unnormalised_box_blur_multiplies_a_flat_area_by_nine_as_in_the_lecture():
    state = playground_state(np.full((4, 4), 2.0), KERNEL_PRESETS["box blur"])
    np.testing.assert_array_equal(state.output, np.full((1, 2, 2), 18.0))


def test_laplacian_vanishes_on_a_linear_ramp():
    ramp = np.add.outer(np.arange(6.0), 2 * np.arange(7.0))
    state = playground_state(ramp, KERNEL_PRESETS["laplacian"])
    np.testing.assert_array_equal(state.output, np.zeros((1, 4, 5)))


@given(
    channels=st.integers(1, 3),
    height=st.integers(5, 9),
    width=st.integers(5, 9),
    size=st.sampled_from([2, 3, 4, 5]),
    padding=st.sampled_from(["valid", "same"]),
    seed=st.integers(0, 2**16),
)
def test_per_channel_mode_matches_torch_depthwise_conv(channels, height, width, size, padding, seed):
    rng = np.random.default_rng(seed)
    image, kernel = rng.normal(size=(channels, height, width)), rng.normal(size=(size, size))
    state = playground_state(image, kernel, mode="per_channel", padding=padding)
    weight = np.broadcast_to(kernel, (channels, 1, size, size)).copy()
    expected = _torch_conv(image, weight, padding, groups=channels)
    np.testing.assert_allclose(state.output, expected, rtol=1e-10, atol=1e-10)
    assert state.output_shape == expected.shape
    assert state.weight.shape == (channels, 1, size, size)


@given(
    channels=st.integers(1, 3),
    height=st.integers(5, 9),
    width=st.integers(5, 9),
    size=st.sampled_from([2, 3, 5]),
    padding=st.sampled_from(["valid", "same"]),
    seed=st.integers(0, 2**16),
)
def test_across_channels_mode_matches_torch_with_a_c_by_h_by_w_kernel(
    channels, height, width, size, padding, seed
):
    rng = np.random.default_rng(seed)
    image, kernel = rng.normal(size=(channels, height, width)), rng.normal(size=(size, size))
    state = playground_state(image, kernel, mode="across_channels", padding=padding)
    weight = np.broadcast_to(kernel, (1, channels, size, size)).copy()
    expected = _torch_conv(image, weight, padding, groups=1)
    np.testing.assert_allclose(state.output, expected, rtol=1e-10, atol=1e-10)
    assert state.weight.shape == (1, channels, size, size)


def test_valid_output_size_follows_the_lecture_formula_and_is_described():
    state = playground_state(np.zeros((3, 10, 12)), np.ones((5, 5)), mode="across_channels")
    assert state.output_shape == (1, 10 - 5 + 1, 12 - 5 + 1)
    assert "output 1×6×8" in state.description
    assert "weight 1×3×5×5" in state.description
    per_channel = playground_state(np.zeros((3, 10, 12)), np.ones((5, 5)))
    assert "weight 3×1×5×5, groups=3" in per_channel.description


def test_a_torch_tensor_image_is_accepted():
    image = torch.arange(30.0).reshape(1, 5, 6)
    state = playground_state(image, KERNEL_PRESETS["identity"])
    np.testing.assert_array_equal(state.output[0], image[0, 1:-1, 1:-1].numpy())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            dict(image=np.zeros((2, 2)), kernel=np.ones((3, 3))),
            ValueError,
            r"kernel of shape \(3, 3\) is larger than the image",
        ),
        (
            dict(image=np.zeros((5, 5)), kernel=[[1.0, np.nan], [0.0, 1.0]]),
            ValueError,
            r"non-finite.*\(0, 1\)",
        ),
        (
            dict(image=np.zeros((5, 5)), kernel=np.ones(3)),
            ValueError,
            r"kernel must be a 2d array \(h, w\), got shape \(3,\)",
        ),
        (
            dict(image=np.zeros((1, 1, 5, 5)), kernel=np.ones((3, 3))),
            ValueError,
            r"image must be a 2d or 3d array \(H, W\) or \(C, H, W\), got shape \(1, 1, 5, 5\)",
        ),
        (
            dict(image=np.zeros((5, 5)), kernel=[["a", "b"], ["c", "d"]]),
            TypeError,
            "kernel must hold real numbers",
        ),
        (
            dict(image=np.zeros((5, 5)), kernel=np.ones((3, 3)), mode="depthwise"),
            ValueError,
            "mode must be one of.*'depthwise'",
        ),
        (
            dict(image=np.zeros((5, 5)), kernel=np.ones((3, 3)), padding="full"),
            ValueError,
            "padding must be one of.*'full'",
        ),
    ],
)
def test_bad_arguments_raise_with_a_message_naming_them(kwargs, error, match):
    with pytest.raises(error, match=match):
        playground_state(**kwargs)


# ----------------------------------------------------------------------------- the widget


def _fake_digit(index: int = 12, train: bool = True, *, verbose: bool = True) -> torch.Tensor:
    if not 0 <= index < 50:
        raise ValueError(f"index {index} is out of range for the 50 training digits")
    image = torch.zeros(1, 28, 28)
    image[0, 6:22, 8 + index % 5 : 12 + index % 5] = 1.0  # a vertical bar that moves with the index
    return image


def _fake_photo(size: int | None = None) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.rand(3, 18, 15, generator=generator)


@pytest.fixture
def fake_data(monkeypatch):
    monkeypatch.setattr(data, "digit", _fake_digit)
    monkeypatch.setattr(data, "photo", _fake_photo)


def _kernel(widget):
    return np.array(widget.controls["kernel"].value)


def _output(widget):
    d = widget.data["output"]
    return np.frombuffer(d["values"], dtype=np.float32).reshape(d["shape"])


def test_choosing_a_preset_fills_the_kernel_cells_with_its_values(fake_data):
    widget = playground()
    for name in ["laplacian", "gaussian 5x5", "horizontal edges"]:
        widget.controls["preset"].value = name
        n = KERNEL_PRESETS[name].shape[0]
        assert widget.controls["size"].value == n
        np.testing.assert_array_equal(_kernel(widget), KERNEL_PRESETS[name])
        assert widget.data["kernel"] == KERNEL_PRESETS[name].tolist()
        assert widget.data["note"].startswith(name)


def test_changing_the_kernel_size_keeps_the_kernel_centred(fake_data):
    widget = playground()
    widget.controls["preset"].value = "laplacian"
    widget.controls["size"].value = 5
    expected = np.zeros((5, 5))
    expected[1:4, 1:4] = [[0, -1, 0], [-1, 4, -1], [0, -1, 0]]
    np.testing.assert_array_equal(_kernel(widget), expected)
    assert "kernel 5×5" in widget.state.description
    assert widget.controls["preset"].value == ""
    widget.controls["size"].value = 3
    np.testing.assert_array_equal(_kernel(widget), [[0, -1, 0], [-1, 4, -1], [0, -1, 0]])


def test_editing_a_cell_recomputes_the_output(fake_data):
    widget = playground()
    before = _output(widget).copy()
    kernel = widget.controls["kernel"].value
    kernel[1][1] = 7.0
    widget.controls["kernel"].value = kernel
    assert not np.array_equal(_output(widget), before)
    # the cells no longer hold the preset, so the menu stops naming it
    assert widget.controls["preset"].value == ""
    widget.controls["preset"].value = "vertical edges"
    assert widget.controls["kernel"].value[1][1] == 0.0


def test_a_bad_kernel_value_becomes_a_message_and_keeps_the_last_picture(fake_data):
    widget = playground()
    good = widget.data
    kernel = widget.controls["kernel"].value
    kernel[0][2] = float("nan")
    widget.controls["kernel"].value = kernel  # must not raise
    assert "non-finite" in widget.error and widget.data == good
    kernel[0][2] = 1.0
    widget.controls["kernel"].value = kernel
    assert widget.error == ""


def test_an_out_of_range_digit_index_becomes_a_message(fake_data):
    widget = playground()
    widget.controls["index"].value = 1000
    assert "out of range" in widget.error


def test_source_mode_and_padding_controls_change_the_convolution(fake_data):
    widget = playground()
    widget.controls["source"].value = "photo"
    assert "input 3×18×15" in widget.state.description
    assert "weight 3×1×3×3, groups=3" in widget.state.description
    assert any(s["name"] == "index" and s["disabled"] for s in widget.spec)
    widget.controls["mode"].value = "across_channels"
    assert "weight 1×3×3×3" in widget.state.description
    assert widget.data["output"]["shape"] == [1, 16, 13]
    widget.controls["padding"].value = "same"
    assert widget.data["output"]["shape"] == [1, 18, 15]
    widget.controls["source"].value = "digit"
    widget.controls["index"].value = 3
    assert widget.data["input"]["shape"] == [1, 28, 28]


def test_the_default_widget_filters_the_lecture_digit_like_torch(monkeypatch):
    monkeypatch.setenv("CONVKIT_OFFLINE", "1")
    widget = playground()
    x = data.digit(12, verbose=False).double()
    weight = torch.from_numpy(KERNEL_PRESETS["vertical edges"].copy())[None, None]
    expected = F.conv2d(x[None], weight)[0].numpy()
    np.testing.assert_allclose(_output(widget), expected, rtol=1e-6, atol=1e-6)
    lo, hi = widget.data["output_range"]
    assert lo == -hi == -np.abs(expected).max()  # a colour scale centred on 0


def test_the_static_picture_embeds_input_and_output(fake_data):
    svg = playground()._repr_mimebundle_()[0]["image/svg+xml"]
    assert svg.count("<image ") == 2 and "data:image/png;base64," in svg
