r"""Metrics of approximate sparse codes against the optimal ones.

Shapes: x (N, n), D (n, k), codes z and the optimum z* (N, k), F = Σ_i E(x_i, z*_i).

* code error ``Σ‖z − z*‖² / Σ‖z*‖²`` (the LISTA papers' NMSE, here pooled over examples);
* relative energy gap ``(Σ E(x, z) − F) / F`` (clipped at 0);
* the curves of both for ISTA and FISTA over iterations 1..T, and the smallest
  iteration count that reaches a given level.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ebm_jax import checks, precision
from ebm_jax.sparse.lasso import fista, ista
from ebm_jax.sparse.prox import lasso_objective


@precision.highest
def code_error(z, z_star) -> float:
    """``Σ‖z − z*‖² / Σ‖z*‖²`` over all examples."""
    z, z_star = jnp.asarray(z), jnp.asarray(z_star)
    checks.check_shape(z, "z", z_star.shape)
    return float(jnp.sum((z - z_star) ** 2) / jnp.sum(z_star ** 2))


@precision.highest
def relative_energy_gap(x, D, z, lam, free_energy_sum: float) -> float:
    """``max(Σ E(x, z) − F, 0) / F`` with ``F = free_energy_sum``."""
    return max(float(jnp.sum(lasso_objective(x, D, z, lam))) - free_energy_sum, 0.0) / free_energy_sum


@precision.highest
def solver_curves(x, D, lam, z_star, num_iters: int) -> dict[str, dict[str, np.ndarray]]:
    """``{"ISTA"|"FISTA": {"code_error": (T,), "rel_energy": (T,)}}`` after every iteration 1..T from z = 0."""
    num_iters = checks.positive_int(num_iters, "num_iters")
    F = float(jnp.sum(lasso_objective(x, D, z_star, lam)))
    zz = float(jnp.sum(jnp.asarray(z_star) ** 2))
    curves = {}
    for name, solver in (("ISTA", ista), ("FISTA", fista)):
        trace = solver(x, D, lam, num_iters=num_iters, trace=True, z_ref=z_star).info.trace
        curves[name] = {"code_error": np.asarray(jnp.sum(trace["sq_dist"], -1)) / zz,
                        "rel_energy": np.maximum(np.asarray(jnp.sum(trace["objective"], -1)) - F, 0.0) / F}
    return curves


def first_reaching(curve, level: float) -> int | None:
    """Smallest 1-based iteration whose value is <= ``level``, or None."""
    hit = np.flatnonzero(np.asarray(curve) <= level)
    return int(hit[0]) + 1 if len(hit) else None
