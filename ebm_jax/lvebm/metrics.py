r"""How shaped is a free energy? The measures of the collapse study.

* :func:`low_energy_fraction`: the *volume of low energy*, the fraction of a
  dense grid of ``y`` whose free energy is within ``ε`` of the data's
  (``F(y) ≤ median_data F + ε``). A well-shaped energy is low only near the
  data manifold (a thin band: a small fraction); a collapsed one is low
  everywhere (a fraction near 1).
* :func:`contrast`: ``median_grid F − median_data F``, how far the typical
  point of the box sits above the data.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ebm_jax import checks


def low_energy_fraction(f_grid, f_data, epsilon) -> float:
    """Fraction of ``f_grid`` ``(G,)`` with ``F ≤ median(f_data) + epsilon``; ``epsilon >= 0``."""
    epsilon = checks.nonnegative_float(epsilon, "epsilon")
    f_grid = np.asarray(checks.float_array(f_grid, "f_grid", ndim=1))
    f_data = np.asarray(checks.float_array(f_data, "f_data", ndim=1))
    return float(np.mean(f_grid <= np.median(f_data) + epsilon))


def contrast(f_grid, f_data) -> float:
    """``median(f_grid) − median(f_data)``: how much higher the box is than the data."""
    f_grid = checks.float_array(f_grid, "f_grid", ndim=1)
    f_data = checks.float_array(f_data, "f_data", ndim=1)
    return float(jnp.median(f_grid) - jnp.median(f_data))


def distance_to_horn(x, y, *, num_z: int = 2048) -> np.ndarray:
    """Squared distance of ``y`` ``(B, 2)`` to the true horn's ellipse at ``x`` ``(B, 1)``: ``(B,)``.

    ``min_θ ‖y − ρ(x) ∘ [cos θ, sin θ]‖²`` over ``num_z`` angles (exact to ``O((ρ π / num_z)²)``):
    how far a prediction or a sample lies from the data manifold.
    """
    from ebm_jax.lvebm.data import rho

    x = checks.float_array(x, "x", ndim=2)
    y = checks.float_array(y, "y", ndim=2)
    num_z = checks.positive_int(num_z, "num_z")
    theta = jnp.linspace(0, 2 * jnp.pi, num_z, endpoint=False)
    circle = jnp.stack([jnp.cos(theta), jnp.sin(theta)], -1)                     # (Z, 2)
    points = rho(x)[:, None, :] * circle[None]                                      # (B, Z, 2)
    return np.asarray(jnp.min(jnp.sum(jnp.square(y[:, None, :] - points), -1), -1))
