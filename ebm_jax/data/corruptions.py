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

CORRUPTIONS = ("gaussian", "masking", "salt_and_pepper")


def gaussian_noise(key: jax.Array, x: jax.Array, sigma: float) -> jax.Array:
    return x + sigma * jax.random.normal(key, x.shape, x.dtype)


def masking_noise(key: jax.Array, x: jax.Array, p: float) -> jax.Array:
    return jnp.where(jax.random.bernoulli(key, p, x.shape), jnp.zeros_like(x), x)


def salt_and_pepper(key: jax.Array, x: jax.Array, p: float) -> jax.Array:
    k1, k2 = jax.random.split(key)
    hit = jax.random.bernoulli(k1, p, x.shape)
    salt = jax.random.bernoulli(k2, 0.5, x.shape).astype(x.dtype)
    return jnp.where(hit, salt, x)


def validate_corruption(kind: str, level: float) -> None:
    """Raise ``ValueError`` for an unknown ``kind`` or an out-of-range ``level``."""
    if kind not in CORRUPTIONS:
        raise ValueError(f"corruption kind must be one of {CORRUPTIONS}, got {kind!r}")
    if not isinstance(level, (int, float)) or isinstance(level, bool):
        raise TypeError(f"corruption level must be a number, got {type(level).__name__}")
    if kind == "gaussian" and not level > 0:
        raise ValueError(f"gaussian corruption needs sigma > 0, got level={level}")
    if kind != "gaussian" and not 0 <= level <= 1:
        raise ValueError(f"{kind} corruption needs a probability in [0, 1], got level={level}")


def corrupt(key: jax.Array, x: jax.Array, kind: str, level: float) -> jax.Array:
    """Apply corruption ``kind`` at ``level`` (validated before tracing)."""
    validate_corruption(kind, level)
    fn = {"gaussian": gaussian_noise, "masking": masking_noise, "salt_and_pepper": salt_and_pepper}[kind]
    return fn(key, x, level)
