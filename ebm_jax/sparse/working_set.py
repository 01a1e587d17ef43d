r"""Working-set FISTA for batched lasso problems with sparse solutions.

Same problem and conventions as :mod:`ebm_jax.sparse.lasso` (shared pieces in
:mod:`ebm_jax.sparse.prox`): x (batch, n),
D (n, k), λ scalar or (batch,), z (batch, k). Precomputes the Gram matrix
G = DᵀD (k, k) and c = x D (batch, k), then repeats (outer ``lax.while_loop``):

1. full optimality check with one (batch, k) x (k, k) GEMM: the correlations
   Dᵀr = c − z G, the primal energy and the duality gap
   ``gap = ½(1−s)²‖r‖² + λ‖z‖₁ − s⟨z, Dᵀr⟩`` with ``s = min(1, λ/‖Dᵀr‖_∞)``
   (this form has no cancellation against ‖x‖², so it certifies small gaps in float32);
   stop when ``Σ gap / Σ E ≤ tol``;
2. a per-example working set W of ``p`` atoms: the current support first, then the
   atoms that violate the optimality condition ``|Dᵀr|_j ≤ λ`` the most (picked by
   bisecting a threshold, not by top_k, which is slow on XLA:CPU);
3. the sub-problem on W, a batch of small (p, p) lassos held as (batch, p, p) Gram
   blocks: ``inner_iters`` FISTA steps with adaptive restart (per-example step
   1/min(L, Gershgorin bound)), then an active-set polish (conjugate gradient on
   the support's optimality conditions, accepted per example where it lowers the
   energy), which solves the problem exactly once the support and signs are right.
   After the first pass only the rows whose own gap is still above ``tol`` are
   re-solved, gathered into a batch of B/8 or B/2 rows when they fit.

An iteration of the sub-problem costs a batched (p x p) matvec instead of a
(k x k) GEMM. Examples whose support exceeds ``p`` atoms cannot be solved
exactly: pick ``working_set_size`` above the largest expected support.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from ebm_jax import checks, precision
from ebm_jax.sparse import validation
from ebm_jax.sparse.prox import (
    example_gap,
    fista_momentum,
    gap_gram,
    lipschitz_constant,
    relative_gap,
    soft_threshold_kernel,
    stall_update,
    still_running,
)
from ebm_jax.sparse.result import SolverInfo, SolverResult


def _bmv(v, M):
    """Batched row-vector times matrix: v (B, p), M (B, p, p) -> (B, p).

    Written as a broadcast multiply and sum, which XLA:CPU fuses into one loop that
    it splits across cores: at p = 32 it is ~1.7x faster than the batched dot an
    einsum lowers to on two cores (~15% slower on one).
    """
    return jnp.sum(v[:, :, None] * M, axis=1)


def _largest_within(v, cap, steps: int = 16):
    """Mask of the largest entries of each row of ``v``, at most ``cap`` of them (bisection on a threshold).

    v: (B, k), entries to skip set below 0; cap: (B,) int. Bisects a per-row threshold
    t in (0, max v] for ``steps`` halvings, keeping count(v ≥ t) ≤ cap, and returns
    ``v ≥ t``: the top-cap set up to entries within max(v)·2^-steps of the threshold
    (empty where even the row's maximum alone is over the cap). XLA:CPU's top_k costs
    ~0.25 ms per selected entry on a (2000, 256) batch; these 16 masked row counts
    cost ~1.6 ms in all, whatever the cap.
    """
    hi = jnp.max(v, -1)
    lo = jnp.zeros_like(hi)

    def halve(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        fits = jnp.sum(jnp.where(v >= mid[:, None], 1.0, 0.0), -1) <= cap
        return jnp.where(fits, lo, mid), jnp.where(fits, mid, hi)

    _, hi = jax.lax.fori_loop(0, steps, halve, (lo, hi))
    mask = v >= hi[:, None]
    return mask & (jnp.sum(mask, -1, keepdims=True) <= cap[:, None])  # rows whose max alone is over cap


def _column_slots(first, second, p):
    """Working-set slots: the ``first`` atoms, then the ``second`` atoms, then the rest, each in column order.

    first, second: disjoint (B, k) bool masks. Returns idx (B, p) int32 of distinct
    column indices (slots past p are dropped). The column-order ranks come from one
    prefix sum of ``first + (k + 1)·second``, which carries both counts at once.
    """
    B, k = first.shape
    packed = first.astype(jnp.int32) + (k + 1) * second.astype(jnp.int32)
    csum = jax.lax.associative_scan(jnp.add, packed, axis=1)  # inclusive; ~1.5x faster than cumsum on CPU
    n1_upto, n2_upto = csum % (k + 1), csum // (k + 1)
    n1, n2 = n1_upto[:, -1:], n2_upto[:, -1:]
    rest_rank = jnp.arange(k, dtype=jnp.int32) - n1_upto - n2_upto
    slot = jnp.where(first, n1_upto - 1, jnp.where(second, n1 + n2_upto - 1, n1 + n2 + rest_rank))
    cols = jnp.broadcast_to(jnp.arange(k, dtype=jnp.int32), (B, k))
    return jnp.zeros((B, p), jnp.int32).at[jnp.arange(B)[:, None], slot].set(cols, mode="drop")


def _sub_objective_diff(a, b, Gw, cw, lam):
    """f(a) − f(b) for f(z) = ½zᵀGz − cᵀz + λ‖z‖₁ on each row, without forming f."""
    d = a - b
    return 0.5 * jnp.sum(d * _bmv(a + b, Gw), -1) - jnp.sum(cw * d, -1) + lam * (
        jnp.sum(jnp.abs(a), -1) - jnp.sum(jnp.abs(b), -1))


def _cg_polish(zw, Gw, cw, lam, nonneg, cg_iters):
    """Solve G_SS u = c_S − λ s_S on the support S of zw by CG (warm-started at zw)."""
    m = (zw != 0).astype(zw.dtype)
    s = jnp.sign(zw)
    rhs = m * (cw - lam[:, None] * s)

    def A(v):
        return m * _bmv(m * v, Gw) + (1.0 - m) * v

    r = rhs - A(zw)
    tiny = jnp.finfo(zw.dtype).tiny

    def body(_, st):
        u, r, p, rs = st
        Ap = A(p)
        alpha = rs / jnp.maximum(jnp.sum(p * Ap, -1), tiny)
        u = u + alpha[:, None] * p
        r = r - alpha[:, None] * Ap
        rs_new = jnp.sum(r * r, -1)
        p = r + (rs_new / jnp.maximum(rs, tiny))[:, None] * p
        return u, r, p, rs_new

    u, _, _, _ = jax.lax.fori_loop(0, cg_iters, body, (zw, r, r, jnp.sum(r * r, -1)))
    ok = (m > 0) & (u * s > 0) & jnp.isfinite(u)
    cand = jnp.where(ok, u, 0.0)
    if nonneg:
        cand = jnp.maximum(cand, 0.0)
    better = _sub_objective_diff(cand, zw, Gw, cw, lam) < 0
    return jnp.where(better[:, None], cand, zw)


@functools.partial(jax.jit, static_argnames=("p", "inner_iters", "max_outer", "nonneg", "cg_iters",
                                             "polish", "stall_window"))
def _ws_solver(x, D, lam, z0, tol, L, *, p, inner_iters, max_outer, nonneg, cg_iters, polish, stall_window):
    B, k = x.shape[0], D.shape[1]
    G = D.T @ D
    c = x @ D
    xx = jnp.sum(x * x, -1)
    lam_safe = jnp.where(lam > 0, lam, 1.0)

    def stats(z):
        # correlations, global relative gap, which rows still miss the tolerance, energies, per-row gaps
        corr, primal, gap = gap_gram(z, G, c, xx, lam, nonneg)
        return corr, relative_gap(primal, gap), gap > tol * primal, primal, example_gap(primal, gap)

    def violation(corr):
        return (corr if nonneg else jnp.abs(corr)) / lam_safe[:, None]

    def working_set(z, corr):
        # The support (in column order; it came from the last working set, so it
        # fits, except perhaps a warm start's), then the largest violations of
        # |Dᵀr|_j ≤ λ outside it, then filler atoms that stay at zero.
        if p == k:
            return jnp.broadcast_to(jnp.arange(k, dtype=jnp.int32), (B, k))
        supp = z != 0
        free = p - jnp.sum(supp, -1, dtype=jnp.int32)
        return _column_slots(supp, _largest_within(jnp.where(supp, -1.0, violation(corr)), free), p)

    def cond(st):
        it, rel, gap_ex, since = st[3], st[4], st[7], st[9]
        return (it < max_outer) & (rel > tol) & still_running(gap_ex, since, tol, stall_window)

    def solve_rows(z, idx, r):
        """Re-solve the working-set sub-problems of rows ``r`` (m,), leaving the other rows as they are."""
        idx_r = idx[r]
        m_rows = jnp.arange(r.shape[0])[:, None]
        Gw = G[idx_r[:, :, None], idx_r[:, None, :]]
        cw = c[r[:, None], idx_r]
        zw = z[r[:, None], idx_r]
        lam_r = lam[r]
        Lw = jnp.minimum(jnp.max(jnp.sum(jnp.abs(Gw), 1), -1), L)  # Gershgorin bound (Gw is symmetric)
        step = (1.0 / Lw)[:, None]
        thresh = lam_r[:, None] * step

        def fista_step(_, carry):
            u, y, t = carry
            u_new = soft_threshold_kernel(y - step * (_bmv(y, Gw) - cw), thresh, nonneg=nonneg)
            y_new, t_new = fista_momentum(u_new, u, y, t, restart=True)
            return u_new, y_new, t_new

        zw, _, _ = jax.lax.fori_loop(0, inner_iters, fista_step, (zw, zw, jnp.ones(r.shape, x.dtype)))
        if polish:
            zw = _cg_polish(zw, Gw, cw, lam_r, nonneg, cg_iters)
        return z.at[r].set(jnp.zeros((r.shape[0], k), z.dtype).at[m_rows, idx_r].set(zw))

    # After the first pass most rows are solved: re-solve only the open ones, padded
    # (with solved rows, re-solved harmlessly) to the smallest static batch that holds them.
    sizes = sorted({m for m in (B // 8, B // 2) if m >= 1} | {B})

    def body(st):
        z, corr, idx, it, _, open_rows, _, _, best, since = st

        def solve_first(m):
            if m == B:
                return lambda z: solve_rows(z, idx, jnp.arange(B, dtype=jnp.int32))
            return lambda z: solve_rows(z, idx, _column_slots(open_rows[None], jnp.zeros((1, B), bool), m)[0])

        n_open = jnp.where(it > 0, jnp.sum(open_rows), B)
        which = jnp.sum(n_open > jnp.asarray(sizes[:-1], jnp.int32))
        z = jax.lax.switch(which, [solve_first(m) for m in sizes], z)
        corr, rel, open_rows, primal, gap_ex = stats(z)
        best, since = stall_update(best, since, gap_ex)
        return z, corr, working_set(z, corr), it + 1, rel, open_rows, primal, gap_ex, best, since

    corr0, rel0, open0, primal0, gap0 = stats(z0)
    idx0 = working_set(z0, corr0)
    init = (z0, corr0, idx0, jnp.asarray(0, jnp.int32), rel0, open0, primal0, gap0,
            jnp.full((B,), jnp.inf, x.dtype), jnp.zeros((B,), jnp.int32))
    z, _, _, it, rel, _, primal, gap_ex, _, _ = jax.lax.while_loop(cond, body, init)
    return SolverResult(z, SolverInfo(num_iters=it, rel_gap=rel, objective=primal, trace=None,
                                      example_gap=gap_ex, converged=gap_ex <= tol))


@precision.highest
def working_set_lasso(x, D, lam, *, tol: float | None = None, working_set_size: int = 32, inner_iters: int = 50,
                      cg_iters: int | None = None, max_outer: int = 200, z0=None, nonneg: bool = False,
                      polish: bool = True, stall_window: int = 5) -> SolverResult:
    """Lasso codes by working-set FISTA with active-set polishing (see module docstring).

    x (batch, n), D (n, k), lam scalar or (batch,) -> z (batch, k). Stops when the
    relative duality gap ``Σ gap / Σ E ≤ tol`` or after ``max_outer`` outer
    iterations. Returns :class:`~ebm_jax.sparse.result.SolverResult`: the codes and
    ``info`` (``num_iters`` = outer iterations, ``rel_gap``, ``objective`` per example).
    ``polish=False`` drops the active-set step (plain working-set FISTA).

    ``tol=None`` is the dtype's default (1e-4 in float32, 1e-8 in float64;
    :func:`~ebm_jax.sparse.validation.default_tol`). In float32 the gap itself is
    only accurate to about 1e-6 relative (the correlations c − zG carry rounding of
    order ``eps·|c|``), and single examples stall above that: ask for float64 inputs
    (with ``jax_enable_x64``) to certify smaller tolerances. The solver also stops
    once every example above ``tol`` has stalled (relative gap improved by less than
    1% over ``stall_window`` outer iterations; e.g. a support larger than
    ``working_set_size``); ``info.example_gap`` and ``info.converged`` report each
    example, and a return above ``tol`` emits one
    :class:`~ebm_jax.sparse.result.ConvergenceWarning`. The ``max_outer`` cap: on
    1,500 MNIST digits coded on 384 atoms (λ a tenth of each digit's largest
    correlation) the 200 outer iterations took 2.8 s on a CPU, where 1e-4 is
    reached in 5 (0.14 s).
    """
    x, D = validation.check_x_D(x, D)
    B, k = x.shape[0], D.shape[1]
    lam = validation.check_lam(lam, B, x.dtype)[:, 0]
    tol = validation.check_tol(tol, x.dtype)
    stall_window = validation.check_stall_window(stall_window)
    p = min(checks.positive_int(working_set_size, "working_set_size"), k)
    inner_iters = checks.positive_int(inner_iters, "inner_iters")
    max_outer = checks.positive_int(max_outer, "max_outer")
    cg_iters = p if cg_iters is None else checks.positive_int(cg_iters, "cg_iters")
    z0 = jnp.zeros((B, k), x.dtype) if z0 is None else validation.check_codes(z0, "z0", (B, k), x.dtype)
    L = lipschitz_constant(D)
    result = _ws_solver(x, D, lam, z0, jnp.asarray(tol, x.dtype), L, p=p, inner_iters=inner_iters,
                        max_outer=max_outer, nonneg=checks.boolean(nonneg, "nonneg"), cg_iters=cg_iters,
                        polish=checks.boolean(polish, "polish"),
                        stall_window=stall_window)
    validation.check_converged_finite(result, "working_set_lasso")
    return validation.warn_unconverged(result, tol, "working_set_lasso",
                                       f"cap max_outer={max_outer}, stall window {stall_window} outer iterations")
