"""Pixel transforms: uint8 -> [0, 1] floats, and the two binarizations.

Every reported likelihood says which input it used:

* ``"continuous"``: ``x = uint8 / 255`` in ``[0, 1]``.
* ``"dynamic"``: a fresh Bernoulli draw ``x_b ~ Bernoulli(x)`` per batch
  (training on binarized MNIST, as in Burda et al. 2015).
* ``"fixed"``: one Bernoulli draw with a fixed seed (the evaluation set).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.random import threefry_2x32

from ebm_jax import checks

BINARIZATIONS = ("dynamic", "continuous")
FIXED_TEST_SEED = 0


def to_float(images: np.ndarray, *, flatten: bool = True) -> np.ndarray:
    """uint8 ``(N, 28, 28)`` -> float32 in ``[0, 1]``, ``(N, 784)`` when ``flatten``.

    ``images`` is a batch: ``(N, H, W)`` or already flat ``(N, D)``. A single
    image (``(784,)`` or ``(28, 28)`` without the batch axis) is ambiguous and
    refused for ``(784,)``: pass ``images[None]``.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"images must be uint8, got {images.dtype}")
    if images.ndim < 2:
        raise ValueError(f"images must be a batch (N, H, W) or (N, D), got shape {images.shape}; "
                         "for one image pass images[None]")
    x = images.astype(np.float32) / 255.0
    return x.reshape(len(x), -1) if checks.boolean(flatten, "flatten") else x


def uniform_bits16(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Independent uniform integers in ``[0, 65536)`` (int32) of the given shape.

    Only the bits the draw needs: every 32-bit word gives two, and with the
    default threefry key one threefry-2x32 hash gives two words, so a draw of
    ``n`` costs ``n / 4`` hashes where ``jax.random.uniform`` (or ``bits`` of any
    width) costs ``n``. Other key implementations use ``jax.random.bits``.
    """
    key = checks.prng_key(key)
    shape = tuple(checks.nonnegative_int(n, f"shape[{i}]") for i, n in enumerate(
        checks.instance(shape, "shape", (tuple, list), "tuple of sizes")))
    n = math.prod(shape)
    words = (n + 1) // 2
    if str(jax.random.key_impl(key)) == "threefry2x32":
        w = threefry_2x32(jax.random.key_data(key), jax.lax.iota(jnp.uint32, words))
    else:
        w = jax.random.bits(key, (words,), jnp.uint32)
    u = jnp.concatenate([w >> 16, w & 0xFFFF])[:n]
    return u.astype(jnp.int32).reshape(shape)


def bernoulli16(key: jax.Array, p: jax.Array) -> jax.Array:
    """Bernoulli samples with probabilities ``p`` as floats of ``p``'s dtype and shape.

    Drawn as ``u < round(65536 p)`` with ``u`` a 16-bit uniform integer
    (:func:`uniform_bits16`): ``P(1)`` is ``p`` to within 2^-17 (exactly 0 and 1 at
    ``p = 0`` and ``p = 1``), at a quarter of the hashes of
    ``jax.random.bernoulli``'s 32-bit uniforms.
    """
    key = checks.prng_key(key)
    p = checks.float_array(p, "p", allow_int=False, domain="unit")
    threshold = jnp.floor(p * 65536.0 + 0.5).astype(jnp.int32)
    return (uniform_bits16(key, p.shape) < threshold).astype(p.dtype)


def binarize_dynamic(key: jax.Array, x: jax.Array) -> jax.Array:
    """A fresh Bernoulli sample with probabilities ``x`` (same shape, same dtype): :func:`bernoulli16`
    (MNIST's levels ``k / 255`` are 8-bit, so 16-bit uniforms lose nothing that matters).

    ``x``: floats in [0, 1] (checked where concrete; integer images are refused:
    convert them with :func:`to_float`)."""
    key = checks.prng_key(key)
    x = checks.float_array(x, "x", allow_int=False, domain="unit")
    return bernoulli16(key, x)


def binarize_fixed(x: np.ndarray, seed: int = FIXED_TEST_SEED) -> np.ndarray:
    """One Bernoulli draw with a fixed numpy seed: the evaluation binarization.

    ``x`` holds probabilities in ``[0, 1]``; NaN or values outside are errors.
    """
    x = np.asarray(checks.float_array(x, "x", allow_int=False, domain="unit"), np.float32)
    seed = checks.nonnegative_int(seed, "seed")
    rng = np.random.default_rng(seed)
    return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)


def prepare_inputs(key: jax.Array, x: jax.Array, binarization: str) -> jax.Array:
    """Per-batch input transform used inside a jitted train step."""
    checks.one_of(binarization, "binarization", BINARIZATIONS)
    if binarization == "dynamic":
        return binarize_dynamic(key, x)
    if binarization == "continuous":
        return x
    raise ValueError(f"binarization must be one of {BINARIZATIONS}, got {binarization!r}")
