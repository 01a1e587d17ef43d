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
from ebm_jax.sparse import validation
from ebm_jax.sparse.lasso import fista, ista
from ebm_jax.sparse.prox import lasso_objective


@precision.highest
def code_error(z, z_star) -> float:
    """``Σ‖z − z*‖² / Σ‖z*‖²`` over all examples (z* not all zero)."""
    z, z_star = checks.float_array(z, "z"), checks.float_array(z_star, "z_star")
    checks.check_shape(z_star, "z_star", z.shape)
    if checks.is_concrete(z_star) and not np.any(np.asarray(z_star) != 0):
        raise ValueError("z_star is all zeros: the relative code error is undefined")
    return float(jnp.sum((z - z_star) ** 2) / jnp.sum(z_star ** 2))


@precision.highest
def relative_energy_gap(x, D, z, lam, free_energy_sum: float) -> float:
    """``max(Σ E(x, z) − F, 0) / F`` with ``F = free_energy_sum`` (> 0)."""
    free_energy_sum = checks.positive_float(free_energy_sum, "free_energy_sum")
    return max(float(jnp.sum(lasso_objective(x, D, z, lam))) - free_energy_sum, 0.0) / free_energy_sum


@precision.highest
def solver_curves(x, D, lam, z_star, num_iters: int) -> dict[str, dict[str, np.ndarray]]:
    """``{"ISTA"|"FISTA": {"code_error": (T,), "rel_energy": (T,)}}`` after every iteration 1..T from z = 0."""
    num_iters = checks.positive_int(num_iters, "num_iters")
    x, D = validation.check_x_D(x, D)
    z_star = validation.check_codes(z_star, "z_star", (x.shape[0], D.shape[1]), x.dtype)
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
    curve = np.asarray(checks.float_array(curve, "curve", ndim=1))
    level = checks.real(level, "level")
    hit = np.flatnonzero(curve <= level)
    return int(hit[0]) + 1 if len(hit) else None
