"""Shared fixtures. Tests run on the CPU; real MNIST is used where the cache exists."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

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
