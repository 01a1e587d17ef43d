"""Corruptions for denoising autoencoders: additive Gaussian noise, masking, salt-and-pepper.

All are pure ``(key, x, level) -> x~`` with ``x~`` of the shape and dtype of ``x``:

* ``gaussian``:        ``x~ = x + σ ε``, ``ε ~ N(0, I)``                    (level = σ > 0)
* ``masking``:         each entry set to 0 with probability ``p``           (level = p in [0, 1])
* ``salt_and_pepper``: each entry, with probability ``p``, set to 0 or 1
                       (equally likely), else kept                          (level = p in [0, 1])
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ebm_jax import checks

CORRUPTIONS = ("gaussian", "masking", "salt_and_pepper")


def _check(key, x):
    return checks.prng_key(key), checks.float_array(x, "x", min_ndim=1)


def gaussian_noise(key: jax.Array, x: jax.Array, sigma: float) -> jax.Array:
    """``x + σ ε``, ε ~ N(0, 1); σ > 0."""
    key, x = _check(key, x)
    sigma = checks.real_or_traced(sigma, "sigma", gt=0)
    return x + sigma * jax.random.normal(key, x.shape, x.dtype)


def masking_noise(key: jax.Array, x: jax.Array, p: float) -> jax.Array:
    """Each entry set to 0 with probability ``p``."""
    key, x = _check(key, x)
    p = checks.real_or_traced(p, "p", ge=0, le=1)
    return jnp.where(jax.random.bernoulli(key, p, x.shape), jnp.zeros_like(x), x)


def salt_and_pepper(key: jax.Array, x: jax.Array, p: float) -> jax.Array:
    """Each entry set to 0 or 1 (equally likely) with probability ``p``."""
    key, x = _check(key, x)
    p = checks.real_or_traced(p, "p", ge=0, le=1)
    k1, k2 = jax.random.split(key)
    hit = jax.random.bernoulli(k1, p, x.shape)
    salt = jax.random.bernoulli(k2, 0.5, x.shape).astype(x.dtype)
    return jnp.where(hit, salt, x)


def validate_corruption(kind: str, level: float) -> None:
    """Raise ``ValueError`` for an unknown ``kind`` or an out-of-range ``level``."""
    checks.one_of(kind, "kind", CORRUPTIONS)
    if kind == "gaussian":
        checks.real(level, "level (gaussian sigma)", gt=0)
    else:
        checks.probability(level, f"level ({kind} probability)")


def corrupt(key: jax.Array, x: jax.Array, kind: str, level: float) -> jax.Array:
    """Apply corruption ``kind`` at ``level`` (validated before tracing)."""
    validate_corruption(kind, level)
    fn = {"gaussian": gaussian_noise, "masking": masking_noise, "salt_and_pepper": salt_and_pepper}[kind]
    return fn(key, x, level)
