r"""The course's toy data for latent-variable EBMs (week 15 of the 2020 NYU Deep Learning notes).

The horn (conditional)::

    x ~ U(0, 1),  θ ~ U(0, 2π),  ε ~ N(0, (1/20)²) (one draw per coordinate)
    ρ(x) = [α x + β (1 − x),  β x + α (1 − x)] · exp(2x),     α = 1.5, β = 2
    y = [ρ₁(x) cos θ + ε₁,  ρ₂(x) sin θ + ε₂]

The ellipse (unconditional) fixes ``x = 0``: semi-axes ρ(0) = (2, 1.5); the
course samples 24 points. Its latent grid is ``z ∈ [0, 2π)`` in steps of π/24.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import checks

ALPHA = 1.5
BETA = 2.0
NOISE_STD = 1.0 / 20.0


def rho(x, alpha: float = ALPHA, beta: float = BETA) -> jax.Array:
    """Semi-axes ``ρ(x)`` of the horn at ``x``: ``(...,)`` or ``(..., 1)`` -> ``(..., 2)``; ``alpha, beta > 0``."""
    x = checks.float_array(x, "x", nonempty=False).astype(jnp.float32)
    alpha, beta = checks.positive_float(alpha, "alpha"), checks.positive_float(beta, "beta")
    if x.ndim and x.shape[-1] == 1:
        x = x[..., 0]
    return jnp.stack([alpha * x + beta * (1 - x), beta * x + alpha * (1 - x)], axis=-1) * jnp.exp(2 * x)[..., None]


def sample_horn(key: jax.Array, n: int, *, x=None, noise_std: float = NOISE_STD, x_max: float = 1.0,
                alpha: float = ALPHA, beta: float = BETA) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``n`` horn samples: ``(x (n, 1), y (n, 2), θ (n,))``, float32.

    ``x=None`` draws ``x ~ U(0, x_max)`` (the course: ``x_max = 1``); a number
    fixes every ``x`` to it (``x=0``: the ellipse with semi-axes (2, 1.5)).
    """
    key = checks.prng_key(key)
    n = checks.positive_int(n, "n")
    x_max = checks.real(x_max, "x_max", gt=0, le=1)
    alpha, beta = checks.positive_float(alpha, "alpha"), checks.positive_float(beta, "beta")
    noise_std = checks.nonnegative_float(noise_std, "noise_std")
    k_x, k_theta, k_eps = jax.random.split(key, 3)
    if x is None:
        xs = jax.random.uniform(k_x, (n, 1), maxval=x_max)
    else:
        xs = jnp.full((n, 1), checks.real(x, "x"), jnp.float32)
    theta = jax.random.uniform(k_theta, (n,), maxval=2 * jnp.pi)
    r = rho(xs, alpha, beta)
    y = r * jnp.stack([jnp.cos(theta), jnp.sin(theta)], -1) + noise_std * jax.random.normal(k_eps, (n, 2))
    return xs, y, theta


def sample_ellipse(key: jax.Array, n: int = 24, *, noise_std: float = NOISE_STD) -> jax.Array:
    """The unconditional data: ``n`` points ``(n, 2)`` of the horn at ``x = 0`` (semi-axes 2 and 1.5)."""
    return sample_horn(key, n, x=0.0, noise_std=noise_std)[1]


def course_z_grid(step: float = np.pi / 24) -> jax.Array:
    """The course's latent grid ``[0, 2π)`` in steps of ``step`` (default π/24: 48 points), ``(K, 1)``;
    ``0 < step <= π`` (at least two latents)."""
    step = checks.real(step, "step", gt=0, le=np.pi)
    return jnp.asarray(np.arange(0.0, 2 * np.pi - 1e-9, step), jnp.float32)[:, None]


def uniform_z_grid(num: int, low: float = 0.0, high: float = 2 * np.pi, *, endpoint: bool = False) -> jax.Array:
    """``num`` evenly spaced 1-D latents in ``[low, high)`` (``endpoint=False``), ``(num, 1)``."""
    num = checks.positive_int(num, "num")
    low, high = checks.real(low, "low"), checks.real(high, "high")
    if not high > low:
        raise ValueError(f"high must be > low, got low={low}, high={high}")
    return jnp.asarray(np.linspace(low, high, num, endpoint=checks.boolean(endpoint, "endpoint")), jnp.float32)[:, None]


def box_grid(num: int, half_widths, center=(0.0, 0.0)) -> np.ndarray:
    """A dense ``num × num`` grid of 2-D points over a box: ``(num², 2)`` (row-major, y₂ varying slowest)."""
    num = checks.integer(num, "num", ge=2)
    hw = np.asarray(checks.float_array(half_widths, "half_widths", ndim=1))
    checks.check_shape(hw, "half_widths", (2,))
    if not (hw > 0).all():
        raise ValueError(f"half_widths must be > 0, got {hw.tolist()}")
    c = np.asarray(checks.float_array(center, "center", ndim=1))
    checks.check_shape(c, "center", (2,))
    a = np.linspace(c[0] - hw[0], c[0] + hw[0], num, dtype=np.float32)
    b = np.linspace(c[1] - hw[1], c[1] + hw[1], num, dtype=np.float32)
    g1, g2 = np.meshgrid(a, b)
    return np.stack([g1.ravel(), g2.ravel()], -1)
