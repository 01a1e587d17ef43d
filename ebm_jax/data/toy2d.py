"""2-D toy distributions for energy landscapes: rings, two moons, a mixture of Gaussians.

All samplers are pure: ``sample_toy2d(key, name, n) -> (n, 2) float32``, roughly
inside the box ``[-3, 3]^2`` (:data:`TOY2D_BOX`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import checks

TOY2D = ("rings", "two_moons", "gaussians")
TOY2D_BOX = (-3.0, 3.0)


def _rings(key, n, noise):
    """Two concentric circles of radii 1 and 2.2 (half the points each), Gaussian radial noise."""
    k1, k2, k3 = jax.random.split(key, 3)
    radius = jnp.where(jax.random.bernoulli(k1, 0.5, (n,)), 2.2, 1.0)
    theta = jax.random.uniform(k2, (n,), minval=0, maxval=2 * jnp.pi)
    r = radius + noise * jax.random.normal(k3, (n,))
    return jnp.stack([r * jnp.cos(theta), r * jnp.sin(theta)], axis=-1)


def _two_moons(key, n, noise):
    """scikit-learn's two interleaved half circles, centred and scaled by 1.6."""
    k1, k2, k3 = jax.random.split(key, 3)
    upper = jax.random.bernoulli(k1, 0.5, (n,))
    t = jax.random.uniform(k2, (n,), minval=0, maxval=jnp.pi)
    x = jnp.where(upper, jnp.cos(t), 1 - jnp.cos(t))
    y = jnp.where(upper, jnp.sin(t), 0.5 - jnp.sin(t))
    pts = jnp.stack([x - 0.5, y - 0.25], axis=-1) * 1.6
    return pts + noise * jax.random.normal(k3, pts.shape)


def _gaussians(key, n, noise):
    """Eight isotropic Gaussians (std ``noise``) evenly spaced on a circle of radius 2."""
    k1, k2 = jax.random.split(key)
    c = jax.random.randint(k1, (n,), 0, 8)
    angle = c * (2 * jnp.pi / 8)
    centers = 2.0 * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=-1)
    return centers + noise * jax.random.normal(k2, (n, 2))


_SAMPLERS = {"rings": (_rings, 0.08), "two_moons": (_two_moons, 0.08), "gaussians": (_gaussians, 0.15)}


def sample_toy2d(key: jax.Array, name: str, n: int, *, noise: float | None = None) -> jax.Array:
    """Draw ``n`` points ``(n, 2)`` float32 from the toy distribution ``name`` (see :data:`TOY2D`).

    ``noise`` overrides the default spread (radial / Gaussian std: rings 0.08,
    two_moons 0.08, gaussians 0.15).
    """
    key = checks.prng_key(key)
    checks.one_of(name, "name", TOY2D)
    n = checks.positive_int(n, "n")
    fn, default_noise = _SAMPLERS[name]
    noise = default_noise if noise is None else checks.nonnegative_float(noise, "noise")
    return fn(key, int(n), noise).astype(jnp.float32)


def grid_2d(num: int = 100, box: tuple[float, float] = TOY2D_BOX) -> tuple[np.ndarray, np.ndarray]:
    """A ``num x num`` evaluation grid over ``box``: returns ``(axis (num,), points (num*num, 2))``."""
    num = checks.integer(num, "num", ge=2)
    if not isinstance(box, (tuple, list)) or len(box) != 2:
        raise TypeError(f"box must be a (low, high) pair, got {box!r}")
    lo = checks.real(box[0], "box[0]")
    checks.real(box[1], "box[1]", gt=lo)
    axis = np.linspace(box[0], box[1], num, dtype=np.float32)
    xx, yy = np.meshgrid(axis, axis)
    return axis, np.stack([xx.ravel(), yy.ravel()], axis=-1)


def distance_to_data(points: np.ndarray, data: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Euclidean distance from each of ``points (M, 2)`` to its nearest ``data (N, 2)`` point, ``(M,)``."""
    points = np.asarray(checks.float_array(points, "points", ndim=2), np.float32)
    data = np.asarray(checks.float_array(data, "data", ndim=2), np.float32)
    if points.shape[1] != data.shape[1]:
        raise ValueError(f"points {points.shape} and data {data.shape} must have the same width")
    chunk = checks.positive_int(chunk, "chunk")
    out = np.empty(len(points), np.float32)
    for i in range(0, len(points), chunk):
        d = ((points[i:i + chunk, None, :] - data[None, :, :]) ** 2).sum(-1)
        out[i:i + chunk] = np.sqrt(d.min(1))
    return out
