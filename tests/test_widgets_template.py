"""Tests of the template matcher: normalised cross-correlation, the state, drawing and wiring."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

from convkit import data
from convkit.widgets.template import normalized_cross_correlation, template_matcher, template_state


def _brute_force_ncc(image: np.ndarray, patch: np.ndarray) -> np.ndarray:
    """One window at a time, with NumPy's Pearson correlation (0 where it is undefined)."""
    h, w = patch.shape
    out = np.zeros((image.shape[0] - h + 1, image.shape[1] - w + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            window = image[i : i + h, j : j + w]
            if np.ptp(window) > 0 and np.ptp(patch) > 0:
                out[i, j] = np.corrcoef(window.ravel(), patch.ravel())[0, 1]
    return out


def _torch_correlate(image: np.ndarray, patch: np.ndarray) -> np.ndarray:
    return F.conv2d(torch.from_numpy(image)[None, None], torch.from_numpy(patch)[None, None])[0, 0].numpy()


# ----------------------------------------------------------------------------- normalized_cross_correlation


def test_ncc_of_a_rising_patch_on_a_rise_and_fall_is_plus_then_minus_one():
    # Pairs (1, 2), (2, 3) rise like the patch (1, 2); (3, 2), (2, 1) fall.
    np.testing.assert_allclose(normalized_cross_correlation([[1, 2, 3, 2, 1]], [[1, 2]]), [[1, 1, -1, -1]])


def test_ncc_of_a_diagonal_patch_against_its_mirror_is_minus_one():
    image = [[1, 0, 1], [0, 1, 0]]
    # The first window is the patch itself, the second is 1 - patch.
    np.testing.assert_allclose(normalized_cross_correlation(image, [[1, 0], [0, 1]]), [[1, -1]])


def test_ncc_hand_computed_on_a_three_pixel_case():
    # Window (0, 1, 1) against patch (0, 1, 2): both centred, (-2/3, 1/3, 1/3) and (-1, 0, 1);
    # dot = 2/3 + 1/3 = 1, norms sqrt(6/9) and sqrt(2), so NCC = 1 / sqrt(4/3) = sqrt(3)/2.
    ncc = normalized_cross_correlation([[0, 1, 1, 0]], [[0, 1, 2]])
    np.testing.assert_allclose(ncc[0, 0], np.sqrt(3) / 2)
    # Window (1, 1, 0) centred is (1/3, 1/3, -2/3): dot = -1/3 - 2/3 = -1, so -sqrt(3)/2.
    np.testing.assert_allclose(ncc[0, 1], -np.sqrt(3) / 2)


@given(
    height=st.integers(3, 8),
    width=st.integers(3, 8),
    h=st.integers(1, 3),
    w=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_ncc_equals_a_brute_force_loop_of_pearson_correlations(height, width, h, w, seed):
    assume(h * w > 1)
    rng = np.random.default_rng(seed)
    image, patch = rng.normal(size=(height, width)), rng.normal(size=(h, w))
    # A window whose values differ by less than about 1e-4 of their size is flat to the sums
    # the NCC is computed from (rounding swamps its spread); it gets 0, pinned below.
    windows = np.lib.stride_tricks.sliding_window_view(image, (h, w)).reshape(-1, h * w)
    assume(np.all(windows.var(axis=1) > 1e-8 * (windows**2).mean(axis=1)))
    np.testing.assert_allclose(
        normalized_cross_correlation(image, patch), _brute_force_ncc(image, patch), atol=1e-9
    )


def test_a_window_flat_to_rounding_gets_zero_not_the_sign_of_its_noise():
    # (2.1871961, 2.1871961 + 2.3e-5) against a falling pair: exactly -1 in exact arithmetic,
    # but its spread (2.7e-10) is below 1e-9 of its energy (9.6), the level at which
    # sum(x²) - (sum x)² / n is rounding; so the map says "no evidence" (0), as for a flat window.
    image = np.array([[2.1871961, 2.1871961 + 2.3e-5, 0.0]])
    ncc = normalized_cross_correlation(image, [[1.0, 0.0]])
    assert ncc[0, 0] == 0.0 and ncc[0, 1] == pytest.approx(1.0)


@given(data_=st.data(), seed=st.integers(0, 2**16))
def test_ncc_is_one_at_the_patch_location_and_never_above(data_, seed):
    image = np.random.default_rng(seed).random((9, 11))
    h, w = data_.draw(st.integers(2, 5)), data_.draw(st.integers(2, 5))
    top, left = data_.draw(st.integers(0, 9 - h)), data_.draw(st.integers(0, 11 - w))
    ncc = normalized_cross_correlation(image, image[top : top + h, left : left + w])
    assert ncc[top, left] == pytest.approx(1.0, abs=1e-9)
    assert ncc.max() <= 1.0 and ncc.min() >= -1.0


@pytest.mark.parametrize(("a", "b"), [(3.0, 0.0), (0.25, 7.0), (2.0, -5.0), (100.0, 40.0)])
def test_ncc_ignores_affine_brightness_changes(a, b):
    rng = np.random.default_rng(3)
    image, patch = rng.random((12, 10)), rng.random((4, 3))
    reference = _brute_force_ncc(image, patch)
    np.testing.assert_allclose(normalized_cross_correlation(a * image + b, patch), reference, atol=1e-9)
    np.testing.assert_allclose(normalized_cross_correlation(image, a * patch + b), reference, atol=1e-9)


def test_ncc_flips_sign_when_the_image_is_inverted():
    rng = np.random.default_rng(4)
    image, patch = rng.random((8, 8)), rng.random((3, 3))
    np.testing.assert_allclose(
        normalized_cross_correlation(1 - image, patch), -_brute_force_ncc(image, patch), atol=1e-9
    )


def test_flat_windows_and_a_constant_patch_give_zero():
    image = np.zeros((6, 6))
    image[3:, 3:] = np.arange(9.0).reshape(3, 3)
    ncc = normalized_cross_correlation(image, [[0.0, 1.0], [2.0, 3.0]])
    assert ncc[0, 0] == 0.0  # an all-zero window has no spread
    np.testing.assert_array_equal(normalized_cross_correlation(image, np.full((2, 2), 5.0)), np.zeros((5, 5)))


def test_a_flat_window_of_an_inexact_value_gives_zero_not_rounding_noise():
    # 0.1 has no exact binary form: sum(x²) - (sum x)² / n leaves ~1e-17 instead of 0.
    image = np.full((8, 9), 0.1)
    image[5:, 6:] = np.random.default_rng(6).random((3, 3))
    ncc = normalized_cross_correlation(image, [[0, 1, 2], [3, 4, 5], [6, 7, 9]])
    np.testing.assert_array_equal(ncc[:3, :4], np.zeros((3, 4)))


def test_ncc_rejects_a_patch_larger_than_the_image():
    with pytest.raises(ValueError, match=r"patch of shape \(4, 2\) is larger than image2d of shape \(3, 5\)"):
        normalized_cross_correlation(np.zeros((3, 5)), np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"patch must be a 2d array \(H, W\).*\(2, 2, 2\)"):
        normalized_cross_correlation(np.zeros((3, 5)), np.ones((2, 2, 2)))


# ----------------------------------------------------------------------------- template_state


def test_plain_correlation_prefers_a_bright_square_while_ncc_finds_the_dim_copy():
    image = np.zeros((6, 10))
    image[1:4, 1:4] = 9.0  # bright, flat
    image[1:4, 6:9] = 1.0  # dim, with a dark dot: the patch
    image[2, 7] = 0.0
    state = template_state(image, 1, 6, 3, 3)
    # Hand count: at (1, 1) the window is all 9 and the patch holds eight 1s -> 72;
    # on the patch itself the sum of squares is 8.
    assert state.plain[1, 1] == 72.0 and state.plain[1, 6] == 8.0
    assert state.plain_peak == (1, 1)
    assert state.ncc_peak == (1, 6)
    assert state.ncc[1, 6] == pytest.approx(1.0)
    assert "away from the patch" in state.description


def test_template_state_maps_match_torch_and_the_brute_force_ncc():
    image = np.random.default_rng(5).random((10, 13))
    state = template_state(image, 2, 4, 3, 5)
    np.testing.assert_array_equal(state.patch, image[2:5, 4:9])
    expected_plain = _torch_correlate(image, image[2:5, 4:9])
    np.testing.assert_allclose(state.plain, expected_plain, rtol=1e-12)
    np.testing.assert_allclose(state.ncc, _brute_force_ncc(image, image[2:5, 4:9]), atol=1e-9)
    assert state.plain_peak == np.unravel_index(expected_plain.argmax(), expected_plain.shape)
    assert state.ncc_peak == (2, 4)
    assert "response maps (H − h + 1)×(W − w + 1) = 8×9" in state.description


def test_a_constant_patch_is_described_not_raised():
    state = template_state(np.zeros((5, 5)), 0, 0, 2, 2)
    assert "constant" in state.description
    np.testing.assert_array_equal(state.ncc, np.zeros((4, 4)))


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (
            (np.zeros((5, 6)), 3, 0, 3, 2),
            ValueError,
            r"patch rows 3\.\.5 .* do not fit in the image of shape \(5, 6\)",
        ),
        ((np.zeros((5, 6)), 0, 4, 2, 3), ValueError, r"columns 4\.\.6 .* do not fit"),
        ((np.zeros((5, 6)), -1, 0, 2, 2), ValueError, r"top must be >= 0, got -1"),
        ((np.zeros((5, 6)), 0, 0, 0, 2), ValueError, r"height must be >= 1, got 0"),
        ((np.zeros((5, 6)), 0, 1.5, 2, 2), TypeError, r"left must be an int, got 1\.5"),
        ((np.zeros((2, 5, 6)), 0, 0, 2, 2), ValueError, r"image2d must be a 2d array \(H, W\).*\(2, 5, 6\)"),
    ],
)
def test_bad_patch_arguments_raise_with_a_message_naming_them(args, error, match):
    with pytest.raises(error, match=match):
        template_state(*args)


# ----------------------------------------------------------------------------- the widget


def _fake_photo(size: int | None = None) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.rand(3, 24, 20, generator=generator)


def _fake_mnist(train: bool = True, *, verbose: bool = True):
    images = torch.zeros(8, 28, 28, dtype=torch.uint8)
    for k in range(8):
        images[k, 5:23, 6 : 8 + 2 * k] = 255 - 10 * k  # bars of growing width
    return images, torch.arange(8) % 10


@pytest.fixture
def fake_data(monkeypatch):
    monkeypatch.setattr(data, "photo", _fake_photo)
    monkeypatch.setattr(data, "mnist", _fake_mnist)


def _map(widget, name):
    d = widget.data[name]
    return np.frombuffer(d["values"], dtype=np.float32).reshape(d["shape"])


def test_moving_the_patch_recomputes_the_maps_and_the_text(fake_data):
    widget = template_matcher()
    assert "image 24×20, patch 10×10 at (row 6, col 1)" in widget.state.description
    before = _map(widget, "ncc").copy()
    widget.controls["left"].value = 5
    assert not np.array_equal(_map(widget, "ncc"), before)
    assert "at (row 6, col 5)" in widget.data["description"]
    assert widget.data["patch"] == [6, 5, 10, 10]


def test_slider_ranges_keep_the_patch_inside_the_image(fake_data):
    widget = template_matcher()
    controls = widget.controls
    assert (controls["height"].max, controls["width"].max) == (24, 20)
    controls["height"].value = 20
    assert controls["top"].max == 4 and controls["top"].value <= 4
    controls["left"].value = controls["left"].max
    controls["width"].value = 20
    assert controls["left"].value == 0
    assert widget.error == ""


def test_switching_to_digits_shows_the_sheet_with_the_thinnest_digit_as_patch(fake_data):
    widget = template_matcher()
    widget.controls["source"].value = "digits"
    # The thinnest fake digit is bar 0 (2 columns wide, rows 5..22, columns 6..7),
    # placed in the second row of the sheet: top = 28 + 5.
    assert "image 56×84, patch 18×2 at (row 33, col 6)" in widget.state.description
    assert [widget.controls[k].value for k in ("top", "left", "height", "width")] == [33, 6, 18, 2]
    widget.controls["source"].value = "photo"
    assert "image 24×20" in widget.state.description


def test_the_maps_sent_to_the_browser_are_torchs_and_the_ncc_peak_is_marked(fake_data):
    widget = template_matcher()
    state = widget.state
    image = _map(widget, "image").astype(float)
    np.testing.assert_allclose(image, state.image, rtol=1e-6)
    truth = _torch_correlate(state.image, state.patch)
    np.testing.assert_allclose(_map(widget, "plain"), truth, rtol=1e-5, atol=1e-5)
    assert widget.data["ncc_peak"] == list(np.unravel_index(state.ncc.argmax(), state.ncc.shape))


def test_the_real_defaults_show_plain_correlation_missing_the_patch_and_ncc_finding_it(monkeypatch):
    monkeypatch.setenv("CONVKIT_OFFLINE", "1")
    widget = template_matcher()
    for source in ["photo", "digits"]:
        widget.controls["source"].value = source
        c = {k: widget.controls[k].value for k in ("top", "left", "height", "width")}
        image = widget.state.image
        state = template_state(image, c["top"], c["left"], c["height"], c["width"])
        truth = _torch_correlate(
            image, image[c["top"] : c["top"] + c["height"], c["left"] : c["left"] + c["width"]]
        )
        assert np.unravel_index(truth.argmax(), truth.shape) != (c["top"], c["left"]), source
        assert state.ncc_peak == (c["top"], c["left"]), source
        assert state.ncc[c["top"], c["left"]] == pytest.approx(1.0), source
        assert "away from the patch" in widget.state.description
