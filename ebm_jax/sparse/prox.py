r"""The pieces every sparse solver shares, written once.

Sparse-coding energy (shapes: ``x`` (batch, n), ``D`` (n, k) with atoms as
columns, ``z`` (batch, k); λ one per example, held as (batch, 1))::

    E(x, z) = ½‖x − D z‖² + λ‖z‖₁

* :func:`soft_threshold`: the proximal operator of ``θ‖·‖₁`` (+ ``z ≥ 0``);
* :func:`objective`: E per example;
* :func:`gap_direct` / :func:`gap_gram`: per-example primal value and duality
  gap, from the residual or from the Gram matrix ``G = DᵀD`` and ``c = x D``;
* :func:`relative_gap`: ``Σ gap / Σ E``, the solvers' stopping certificate;
* :func:`fista_momentum`: Nesterov extrapolation with optional per-example
  adaptive gradient restart (O'Donoghue & Candès 2015);
* :func:`lipschitz_constant`: ``L ≥ λ_max(DᵀD)`` by power iteration, certified;
* :func:`ista_operators`: ISTA written as ``z ← S_θ(x W_e + z S)``.

The functions without a public-boundary check (``soft_threshold_kernel``,
``objective``, ``gap_*``, ``example_gap``, ``stall_update``, ``still_running``,
``relative_gap``, ``fista_momentum``, ``power_iteration``, ``certified_lipschitz``) are traceable kernels for use inside
other jitted code; :func:`lasso_objective`, :func:`duality_gap` and
:func:`lipschitz_constant` validate their inputs.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import checks, precision
from ebm_jax.sparse import validation


def soft_threshold(v: jax.Array, thresh, *, nonneg: bool = False) -> jax.Array:
    r"""Proximal operator of ``thresh·‖·‖₁`` (plus the indicator of ``z ≥ 0`` if ``nonneg``).

    ``S_θ(v) = sign(v) max(|v| − θ, 0)``; non-negative: ``max(v − θ, 0)``.
    ``thresh`` broadcasts against ``v`` (scalar, (batch, 1) or (k,)); it must be
    >= 0 (a negative threshold would widen instead of shrink).
    """
    v = checks.float_array(v, "v", nonempty=False)
    if isinstance(thresh, (int, float, np.generic)) or (hasattr(thresh, "ndim") and thresh.ndim == 0
                                                        and not isinstance(thresh, jax.core.Tracer)):
        thresh = checks.nonnegative_float(thresh, "thresh")
    else:
        thresh = checks.float_array(thresh, "thresh", nonempty=False)
        if checks.is_concrete(thresh) and bool(np.any(np.asarray(thresh) < 0)):
            raise ValueError(f"thresh must be >= 0, got min {float(np.min(np.asarray(thresh)))}")
    return soft_threshold_kernel(v, thresh, nonneg=checks.boolean(nonneg, "nonneg"))


def soft_threshold_kernel(v, thresh, *, nonneg: bool = False):
    """:func:`soft_threshold` without checks: the traceable kernel inside solvers and LISTA layers
    (whose learned thresholds are not validated)."""
    if nonneg:
        return jnp.maximum(v - thresh, 0.0)
    return jnp.sign(v) * jnp.maximum(jnp.abs(v) - thresh, 0.0)


def objective(x, D, z, lam2) -> jax.Array:
    """E per example, (batch,); lam2 (batch, 1). No checks (a kernel)."""
    r = x - z @ D.T
    return 0.5 * jnp.sum(r * r, axis=-1) + lam2[:, 0] * jnp.sum(jnp.abs(z), axis=-1)


def _gap_from_parts(rr, l1, z_corr, cmax, lam):
    r"""Primal value and duality gap from ‖r‖², ‖z‖₁, ⟨z, Dᵀr⟩ and ‖Dᵀr‖_∞ (per example).

    Dual of the lasso: ``max_θ ½‖x‖² − ½‖x − θ‖²`` s.t. ``‖Dᵀθ‖_∞ ≤ λ`` (``max Dᵀθ ≤ λ``
    if non-negative); ``θ = s·r`` with ``s = min(1, λ/‖Dᵀr‖_∞)`` is feasible. Primal −
    dual, rearranged with x = Dz + r so that nothing cancels against ‖x‖²:
    ``gap = ½(1 − s)²‖r‖² + λ‖z‖₁ − s⟨z, Dᵀr⟩``.
    """
    s = jnp.where(cmax > lam, lam / jnp.where(cmax > 0, cmax, 1.0), 1.0)
    primal = 0.5 * rr + lam * l1
    gap = 0.5 * (1.0 - s) ** 2 * rr + lam * l1 - s * z_corr
    return primal, jnp.maximum(gap, 0.0)


def _max_corr(corr, nonneg):
    return jnp.max(corr, axis=-1) if nonneg else jnp.max(jnp.abs(corr), axis=-1)


def gap_direct(x, D, z, lam, nonneg: bool):
    """Per-example ``(primal, gap)`` from the residual r = x − D z; lam (batch,)."""
    r = x - z @ D.T
    corr = r @ D
    return _gap_from_parts(jnp.sum(r * r, -1), jnp.sum(jnp.abs(z), -1), jnp.sum(z * corr, -1),
                           _max_corr(corr, nonneg), lam)


def gap_gram(z, G, c, xx, lam, nonneg: bool):
    """Per-example ``(corr, primal, gap)`` from G = DᵀD (k, k), c = x D (batch, k), xx = ‖x‖² (batch,).

    Costs one (batch, k) x (k, k) GEMM; ``corr = Dᵀr = c − z G`` is returned for
    solvers that use it to pick atoms. ‖r‖² = ‖x‖² − 2⟨c, z⟩ + ⟨z, zG⟩ carries
    rounding of order eps·‖x‖².
    """
    Gz = z @ G
    corr = c - Gz
    rr = jnp.maximum(xx - 2.0 * jnp.sum(c * z, -1) + jnp.sum(z * Gz, -1), 0.0)
    primal, gap = _gap_from_parts(rr, jnp.sum(jnp.abs(z), -1), jnp.sum(z * corr, -1), _max_corr(corr, nonneg), lam)
    return corr, primal, gap


def relative_gap(primal, gap) -> jax.Array:
    """``Σ gap / Σ E`` over the batch (a certificate of relative suboptimality)."""
    return jnp.sum(gap) / jnp.maximum(jnp.sum(primal), jnp.finfo(primal.dtype).tiny)


def example_gap(primal, gap) -> jax.Array:
    """Each example's relative gap ``gap_i / E_i`` (0 where both are 0), shape (batch,)."""
    return gap / jnp.maximum(primal, jnp.finfo(primal.dtype).tiny)


STALL_PROGRESS = 0.99  # an example progresses when its relative gap falls below 99% of its last record


def stall_update(best, since, gap_ex):
    """Per-example stall counters: ``best`` relative gap at the last progress, ``since`` checks without progress.

    A check progresses where ``gap_ex < STALL_PROGRESS · best`` (1% below the last
    record); ``since`` counts the checks since then. Start from ``best = inf``,
    ``since = 0``.
    """
    improved = gap_ex < STALL_PROGRESS * best
    return jnp.where(improved, gap_ex, best), jnp.where(improved, 0, since + 1)


def still_running(gap_ex, since, tol, window: int):
    """True while some example is above ``tol`` and has progressed within the last ``window`` checks."""
    return jnp.any((gap_ex > tol) & (since < window))


def fista_momentum(z_new, z, y, t, restart: bool):
    """FISTA extrapolation ``y ← z_new + (t − 1)/t' (z_new − z)``; codes (batch, ...), t: (batch,).

    With ``restart``, per-example adaptive gradient restart: t is reset to 1 where
    ``⟨y − z_new, z_new − z⟩ > 0`` (the step went against the gradient map).
    The codes may carry any trailing shape (k,) or (K, H, W); t broadcasts over it.
    """
    per_example = tuple(range(1, z_new.ndim))
    if restart:
        bad = jnp.sum((y - z_new) * (z_new - z), axis=per_example) > 0
        t = jnp.where(bad, jnp.ones_like(t), t)
    t_new = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t))
    y_new = z_new + jnp.expand_dims((t - 1.0) / t_new, per_example) * (z_new - z)
    return y_new, t_new


@functools.partial(jax.jit, static_argnames=("num_iters",))
def power_iteration(D, num_iters: int):
    """Rayleigh quotient of DᵀD after ``num_iters`` power iterations (a lower bound on λ_max)."""
    return _rayleigh(D.T @ D, num_iters)


def _rayleigh(G, num_iters: int):
    v = jax.random.normal(jax.random.PRNGKey(0), (G.shape[0],), G.dtype)
    v = v / jnp.linalg.norm(v)

    def body(_, v):
        w = G @ v
        return w / jnp.maximum(jnp.linalg.norm(w), jnp.finfo(G.dtype).tiny)

    v = jax.lax.fori_loop(0, num_iters, body, v)
    return jnp.vdot(v, G @ v)


def certified_lipschitz(D, num_iters: int, safety: float):
    """An upper bound on ``λ_max(DᵀD)``, certified whether or not power iteration converged.

    The candidate is ``safety`` times the Rayleigh quotient after ``num_iters`` power
    iterations. It is returned when a Cholesky factorisation of ``(L − δ) I − DᵀD``
    succeeds (``δ = k·eps·L`` covers the factorisation's own rounding), i.e. when
    ``L I − DᵀD`` is positive definite. Otherwise ``L`` is found by bisection between
    the Rayleigh quotient (at most λ_max) and ``safety · min(Gershgorin, trace)`` (both
    upper bounds of λ_max), each midpoint tested by the same factorisation, until the
    bracket is within the factor ``safety``. D: (n, k) -> scalar. A traceable kernel;
    ``DᵀD`` is formed at ``Precision.HIGHEST`` whatever the caller's precision, since
    the certificate rests on it.
    """
    G = jnp.matmul(D.T, D, precision=jax.lax.Precision.HIGHEST)
    k = G.shape[0]
    eye = jnp.eye(k, dtype=G.dtype)
    eps = jnp.finfo(G.dtype).eps
    safety = jnp.asarray(safety, G.dtype)

    def certified(L):
        chol = jnp.linalg.cholesky((L - k * eps * L) * eye - G)
        return jnp.all(jnp.isfinite(chol))

    lo = _rayleigh(G, num_iters)
    candidate = lo * safety
    gershgorin = jnp.max(jnp.sum(jnp.abs(G), axis=1))
    upper = jnp.minimum(gershgorin, jnp.trace(G)) * safety
    hi = jnp.where(certified(candidate), candidate, upper)

    def cond(bracket):
        lo, hi = bracket
        return hi > lo * safety

    def body(bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        ok = certified(mid)
        return jnp.where(ok, lo, mid), jnp.where(ok, mid, hi)

    return jax.lax.while_loop(cond, body, (lo, hi))[1]


_certified_lipschitz_jit = jax.jit(certified_lipschitz, static_argnames=("num_iters",))


@precision.highest
def lipschitz_constant(D, *, num_iters: int = 100, safety: float = 1.001) -> jax.Array:
    """An upper bound ``L ≥ λ_max(DᵀD)`` (the Lipschitz constant of ∇_z ½‖x − Dz‖²), so that ``1/L`` is a safe step.

    ``safety`` times the power-iteration estimate after ``num_iters`` iterations
    when a factorisation certifies it, otherwise the certified bound that
    :func:`certified_lipschitz` finds. D: (n, k) -> scalar; ``safety`` >= 1.
    """
    D = checks.float_array(D, "D", ndim=2)
    num_iters = checks.positive_int(num_iters, "num_iters")
    safety = checks.real(safety, "safety", ge=1)
    validation.check_nonzero_dictionary(D)
    return _certified_lipschitz_jit(D, num_iters, safety)


def ista_operators(D, step):
    """``(W_e, S) = (η D, I − η DᵀD)``: ISTA as ``z ← S_θ(x W_e + z S)``. D (n, k) -> (n, k), (k, k).

    LISTA's initialisation calls this very function, so that an untrained LISTA
    reproduces ISTA bit for bit. ``step`` > 0 (a number, or a concrete-or-traced scalar).
    """
    D = checks.float_array(D, "D", ndim=2)
    step = validation.check_step(step)
    return _ista_operators(D, step)


@jax.jit
def _ista_operators(D, step):
    G = D.T @ D
    return D * step, jnp.eye(G.shape[0], dtype=G.dtype) - step * G


@precision.highest
def lasso_objective(x, D, z, lam) -> jax.Array:
    """Per-example energy ``½‖x − D z‖² + λ‖z‖₁``: x (batch, n), D (n, k), z (batch, k) -> (batch,)."""
    x, D = validation.check_x_D(x, D)
    z = validation.check_codes(z, "z", (x.shape[0], D.shape[1]), x.dtype)
    return objective(x, D, z, validation.check_lam(lam, x.shape[0], x.dtype))


@precision.highest
def duality_gap(x, D, z, lam, *, nonneg: bool = False) -> jax.Array:
    """Per-example duality gap (an upper bound on ``E(x, z) − F(x)``), shape (batch,)."""
    x, D = validation.check_x_D(x, D)
    z = validation.check_codes(z, "z", (x.shape[0], D.shape[1]), x.dtype)
    lam2 = validation.check_lam(lam, x.shape[0], x.dtype)
    return gap_direct(x, D, z, lam2[:, 0], checks.boolean(nonneg, "nonneg"))[1]
