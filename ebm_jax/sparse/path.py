"""Warm starts along a geometric λ path (FISTA or the working-set solver)."""

from __future__ import annotations

import warnings

import jax.numpy as jnp

from ebm_jax import checks, precision
from ebm_jax.sparse import validation
from ebm_jax.sparse.lasso import fista
from ebm_jax.sparse.prox import lipschitz_constant
from ebm_jax.sparse.result import ConvergenceWarning, SolverInfo, SolverResult
from ebm_jax.sparse.working_set import working_set_lasso

SOLVERS = ("fista", "working_set")


@precision.highest
def lasso_path(x, D, lam, *, num_lams: int = 5, ratio: float = 10.0, tol: float | None = None, path_tol: float = 1e-3,
               solver: str = "fista", **solver_kwargs) -> SolverResult:
    """Warm starts along a geometric λ path from ``ratio·λ`` down to ``λ``: x (batch, n), D (n, k).

    Intermediate problems are solved to ``path_tol``, the last one to ``tol``
    (None: the dtype's default, 1e-4 in float32); each warm-starts the next. ``solver``: ``"fista"`` (:func:`~ebm_jax.sparse.fista`,
    tolerance form) or ``"working_set"`` (:func:`~ebm_jax.sparse.working_set_lasso`).
    Returns the final λ's :class:`SolverResult`; ``info.num_iters`` sums the
    iterations of every solve on the path.
    """
    num_lams = checks.positive_int(num_lams, "num_lams")
    checks.one_of(solver, "solver", SOLVERS)
    ratio = checks.real(ratio, "ratio", ge=1)
    x, D = validation.check_x_D(x, D)
    lam_vec = validation.check_lam(lam, x.shape[0], x.dtype)[:, 0]
    tol = validation.check_tol(tol, x.dtype)
    path_tol = checks.nonnegative_float(path_tol, "path_tol")
    if solver == "fista" and solver_kwargs.get("step") is None:
        solver_kwargs["step"] = 1.0 / lipschitz_constant(D)
    solve = fista if solver == "fista" else working_set_lasso
    z = solver_kwargs.pop("z0", None)
    total = jnp.asarray(0, jnp.int32)
    for i in range(num_lams):
        scale = ratio ** ((num_lams - 1 - i) / max(num_lams - 1, 1))
        last = i == num_lams - 1
        if last:
            result = solve(x, D, lam_vec * scale, tol=tol, z0=z, **solver_kwargs)
        else:  # intermediate problems only warm-start the next: no warning for them
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                result = solve(x, D, lam_vec * scale, tol=path_tol, z0=z, **solver_kwargs)
        z, total = result.codes, total + result.info.num_iters
    return SolverResult(z, result.info._replace(num_iters=total))


__all__ = ["lasso_path", "SolverInfo", "SolverResult"]
