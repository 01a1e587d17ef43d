"""Shared fixtures. Tests run on the CPU; real MNIST is used where the cache exists.

``EBM_JAX_TEST_PLATFORM=gpu`` (or ``tpu``) runs the suite on that backend instead. The GPU's memory
is then allocated as needed rather than preallocated (``XLA_PYTHON_CLIENT_PREALLOCATE=false``), so
that the pytest-xdist workers share one GPU; the tests that simulate several CPU devices or processes
keep doing so on the CPU.
"""

import os

TEST_PLATFORM = os.environ.get("EBM_JAX_TEST_PLATFORM", "cpu").strip().lower()
if TEST_PLATFORM not in ("cpu", "gpu", "cuda", "tpu"):
    raise RuntimeError(f"EBM_JAX_TEST_PLATFORM must be cpu, gpu or tpu, got {TEST_PLATFORM!r}")
if TEST_PLATFORM == "cpu":
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
else:
    os.environ["JAX_PLATFORMS"] = "cuda" if TEST_PLATFORM in ("gpu", "cuda") else "tpu"
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

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


def pytest_sessionfinish():
    if _OWN_CACHE is not None:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)
