"""Datasets: MNIST (tfds or a verified offline cache) and pixel transforms."""

from ebm_jax.data.mnist import (
    CacheIntegrityError,
    MnistUnavailableError,
    build_mnist_cache,
    cache_path,
    data_dir,
    load_mnist,
    load_mnist_train_test,
)
from ebm_jax.data.transforms import (
    BINARIZATIONS,
    binarize_dynamic,
    binarize_fixed,
    prepare_inputs,
    to_float,
)

__all__ = [
    "BINARIZATIONS",
    "CacheIntegrityError",
    "MnistUnavailableError",
    "binarize_dynamic",
    "binarize_fixed",
    "build_mnist_cache",
    "cache_path",
    "data_dir",
    "load_mnist",
    "load_mnist_train_test",
    "prepare_inputs",
    "to_float",
]
