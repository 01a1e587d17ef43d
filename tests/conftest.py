"""Shared fixtures. Tests run on the CPU; real MNIST is used where the cache exists."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import shutil  # noqa: E402
import tempfile  # noqa: E402

# Most of the suite's time is XLA compilation, and tests compile many of the same programs (the
# seeds tests rerun experiments the smoke tests run; the SSL methods share their augmentations).
# One persistent compilation cache for the whole run, made by the first process (pytest, or
# pytest-xdist's controller) and inherited through the environment by its workers and by the
# subprocesses of the command-line and multi-process tests; removed at the end. An existing
# JAX_COMPILATION_CACHE_DIR is used as it is and kept.
_OWN_CACHE = None
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _OWN_CACHE = os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="ebm_jax_test_xla_cache_")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ebm_jax.data import mnist  # noqa: E402


def mnist_cache_available() -> bool:
    try:
        return mnist.cache_path().exists()
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture(scope="session")
def mnist_subset():
    """(x_train (2048, 784) float in [0,1], x_test (512, 784), test labels): real MNIST if cached, else generated."""
    if mnist_cache_available():
        xtr, _ = mnist.load_mnist("train", source="cache")
        xte, yte = mnist.load_mnist("test", source="cache")
        return (xtr[:2048].reshape(-1, 784).astype(np.float32) / 255, xte[:512].reshape(-1, 784).astype(np.float32) / 255,
                yte[:512])
    rng = np.random.default_rng(0)
    protos = (rng.random((10, 784)) < 0.2).astype(np.float32)
    ytr, yte = rng.integers(0, 10, 2048), rng.integers(0, 10, 512)
    noisy = lambda y: np.clip(protos[y] * 0.9 + rng.random((len(y), 784)) * 0.1, 0, 1).astype(np.float32)  # noqa: E731
    return noisy(ytr), noisy(yte), yte


def pytest_sessionfinish(session, exitstatus):
    if _OWN_CACHE is not None:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)
