"""Input checks of :mod:`ebm_jax.sparse`, built on the shared :mod:`ebm_jax.checks`.

Shape and dtype checks always run; value checks (λ ≥ 0, finite inputs, a
non-zero dictionary) run only on concrete arrays, so nothing here forces a host
sync inside ``jax.jit``.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import checks
from ebm_jax.sparse.result import ConvergenceWarning, SolverResult


def check_nonzero_dictionary(D) -> None:
    """ValueError for a concrete all-zero dictionary (its Lipschitz step 1/L is undefined)."""
    if checks.is_concrete(D) and not np.any(np.asarray(D) != 0):
        raise ValueError("D is the zero dictionary: the lasso step 1/L is undefined")


def check_x_D(x, D) -> tuple[jax.Array, jax.Array]:
    """Validate ``x`` (batch, n) and ``D`` (n, k); returns both in a common float dtype."""
    x = checks.float_array(x, "x", ndim=2)
    D = checks.float_array(D, "D", ndim=2)
    if x.shape[1] != D.shape[0]:
        raise ValueError(
            f"shape mismatch: x has {x.shape[1]} features (x.shape={x.shape}) but D has "
            f"{D.shape[0]} rows (D.shape={D.shape}); D must be (n, k) with atoms as columns"
        )
    check_nonzero_dictionary(D)
    dtype = jnp.result_type(x.dtype, D.dtype)
    return x.astype(dtype), D.astype(dtype)


def check_lam(lam, batch: int, dtype, *, unit: str = "example") -> jax.Array:
    """λ ≥ 0 as a scalar or one per ``unit`` (example, image) -> an array of shape (batch, 1)."""
    lam = checks.float_array(lam, "lam").astype(dtype)
    if lam.ndim == 0:
        out = lam.reshape(1, 1)
    elif lam.shape in ((batch,), (batch, 1)):
        out = lam.reshape(batch, 1)
    else:
        raise ValueError(f"lam must be a scalar or have shape ({batch},) (one per {unit}), got shape {lam.shape}")
    if checks.is_concrete(out) and bool(np.any(np.asarray(out) < 0)):
        raise ValueError(f"lam must be >= 0, got min {float(np.min(np.asarray(out)))}")
    return jnp.broadcast_to(out, (batch, 1))


def check_step(step):
    """A positive step (a Python float, or a concrete-or-traced scalar array), or None."""
    if step is None:
        return None
    if isinstance(step, (int, float, np.number)) and not isinstance(step, bool):
        return checks.positive_float(step, "step")
    arr = checks.float_array(step, "step", ndim=0)
    if checks.is_concrete(arr) and not float(np.asarray(arr)) > 0:
        raise ValueError(f"step must be a finite number > 0, got {float(arr)}")
    return arr


def default_tol(dtype) -> float:
    """The default relative-gap tolerance: 1e-4 in float32 (or narrower), 1e-8 in float64.

    Float32 certifies relative gaps near 1e-6 on average but not on every example:
    on 1,500 MNIST digits coded on 384 atoms, a few examples stall between 1e-6 and
    1e-4 (rounding in the correlations c − zG), while at 1e-4 the codes agree with
    a float64 solution to ~2e-7 relative suboptimality.
    """
    return 1e-8 if jnp.finfo(dtype).eps < 1e-10 else 1e-4


def check_tol(tol, dtype=jnp.float32) -> float:
    """``tol`` >= 0, or the dtype's :func:`default_tol` when None."""
    if tol is None:
        return default_tol(dtype)
    return checks.nonnegative_float(tol, "tol")


def check_stall_window(window) -> int:
    return checks.positive_int(window, "stall_window")


def _power_iteration_np(D: np.ndarray, num_iters: int = 100) -> float:
    """Rayleigh quotient of DᵀD after ``num_iters`` power iterations, in numpy (a lower bound on λ_max;
    host code, so that it also runs where the caller is being traced)."""
    G = D.T @ D
    v = np.random.default_rng(0).standard_normal(G.shape[0])
    for _ in range(num_iters):
        w = G @ v
        norm = np.linalg.norm(w)
        if norm == 0:
            return 0.0
        v = w / norm
    return float(v @ G @ v)


def check_step_bound(step, D, *, limit: float = 2.0) -> None:
    """DivergenceError for a concrete ``step`` above ``limit / L`` (L ≈ λ_max(DᵀD)).

    Proximal gradient steps diverge beyond 2/L (the gradient step expands the
    quadratic part); FISTA is only guaranteed below 1/L, which the finiteness check
    of :func:`check_converged_finite` backs up. Skipped for traced steps or dictionaries.
    """
    if step is None or not (checks.is_concrete(step) and checks.is_concrete(D)):
        return
    L = _power_iteration_np(np.asarray(D, np.float64))
    if float(step) * L > limit:
        raise checks.DivergenceError(
            f"step={float(step):.4g} is above the safe bound {limit:g}/L = {limit / L:.4g} "
            f"(L = λ_max(DᵀD) ≈ {L:.4g}): the iteration diverges; use step <= 1/L (or leave step=None)")


def check_converged_finite(result: SolverResult, solver: str, step=None) -> SolverResult:
    """DivergenceError where a concrete result has non-finite codes or energies (inputs were finite)."""
    info = result.info
    if not checks.is_concrete((result.codes, info.objective)):
        return result
    bad = ~np.isfinite(np.asarray(info.objective))
    if bad.any() or not np.isfinite(np.asarray(result.codes)).all():
        hint = f"step={float(step):.4g} is too large for D" if step is not None and checks.is_concrete(step) \
            else "the step is too large for D"
        raise checks.DivergenceError(
            f"{solver} diverged: non-finite codes or energy for {int(bad.sum())} example(s) from finite inputs; "
            f"{hint} (use step <= 1/L, L = λ_max(DᵀD), or step=None)")
    return result


def warn_unconverged(result: SolverResult, tol: float, solver: str, cap: str) -> SolverResult:
    """One :class:`ConvergenceWarning` when a concrete result stopped with its relative gap above ``tol``.

    The message says how many examples missed ``tol`` and the worst ones (index and
    relative gap); ``info.converged`` / ``info.example_gap`` hold them all.
    """
    info = result.info
    if info.example_gap is None or not checks.is_concrete((info.rel_gap, info.example_gap)):
        return result
    rel = float(info.rel_gap)
    if rel <= tol:
        return result
    gaps = np.asarray(info.example_gap)
    missed = np.flatnonzero(~(gaps <= tol))
    worst = missed[np.argsort(-np.nan_to_num(gaps[missed], nan=np.inf))][:5]
    listing = ", ".join(f"#{i}: {gaps[i]:.2e}" for i in worst)
    warnings.warn(
        f"{solver} stopped after {int(np.max(np.asarray(info.num_iters)))} iterations with relative gap {rel:.3g} "
        f"> tol={tol:g} ({cap}): {missed.size} of {gaps.size} example(s) did not reach tol (worst: {listing}); "
        f"they stalled (float32 rounding, or a support too large for the solver) or ran out of iterations; "
        f"info.converged and info.example_gap list them all",
        ConvergenceWarning, stacklevel=4)  # warn_unconverged < solver < precision.highest < caller
    return result


def check_codes(z, name: str, shape: tuple[int, ...], dtype, *, what: str = "") -> jax.Array:
    """Codes (a warm start, a reference) of ``shape`` ((batch, k), or (batch, K, H, W) for
    convolutional codes): float, finite, the right shape; ``what`` says what the shape matches."""
    z = checks.float_array(z, name, ndim=len(shape)).astype(dtype)
    if z.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}{what}, got {z.shape}")
    return z
