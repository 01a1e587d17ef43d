r"""ISTA and FISTA for the lasso, batched as GEMMs.

Shapes: ``x`` (batch, n), ``D`` (n, k) with atoms as columns, ``z`` (batch, k);
λ a scalar or one per example. Energy and free energy::

    E(x, z) = ½‖x − D z‖² + λ‖z‖₁,      F(x) = min_z E(x, z)

ISTA (proximal gradient, step ``η = 1/L`` with ``L = λ_max(DᵀD)``)::

    z ← S_{λη}( z + η (x − z Dᵀ) D )
      = S_{λη}( b + z S ),    b = x (ηD)  (batch, k),   S = I − η DᵀD  (k, k)

The second ("Gram") form costs one (batch, k) x (k, k) GEMM per iteration
instead of two (batch, n) x (n, k) GEMMs; it is used when ``k <= 2n``
(``gram=None``). FISTA adds Nesterov momentum (Beck & Teboulle 2009), optionally
with per-example adaptive gradient restart (O'Donoghue & Candès 2015).

Every solver returns :class:`~ebm_jax.sparse.result.SolverResult`
``(codes, info)``. Fixed-iteration form (``lax.scan``; ``trace=True`` records
the per-iteration energy, and ‖z_t − z_ref‖² when ``z_ref`` is given); FISTA's
tolerance form (``tol=...``, ``lax.while_loop``) stops on the relative duality
gap ``Σ gap_i / Σ E_i ≤ tol``, a certificate that the relative suboptimality
is below ``tol``. ``polish=True`` adds an active-set step (exact solve of the
optimality conditions on the current support and signs, accepted per example
where it lowers the energy), which finishes the problem once FISTA has found
the support.
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
    gap_direct,
    gap_gram,
    ista_operators,
    lipschitz_constant,
    objective,
    relative_gap,
    soft_threshold_kernel,
    stall_update,
    still_running,
)
from ebm_jax.sparse.result import SolverInfo, SolverResult


def _make_prox_grad(x, D, step, thresh, nonneg, gram):
    """Returns y -> S_θ(y − η∇f(y)) in Gram or direct form, and b = x·ηD (Gram form) or None."""
    if gram:
        We, S = ista_operators(D, step)
        b = x @ We
        return (lambda y: soft_threshold_kernel(b + y @ S, thresh, nonneg=nonneg)), b
    Ds = D * step
    return (lambda y: soft_threshold_kernel(y + (x - y @ D.T) @ Ds, thresh, nonneg=nonneg)), None


def prox_grad_scan(x, D, lam2, step, z0, z_ref=None, *, num_iters: int, momentum: bool, restart: bool,
                   nonneg: bool, gram: bool, record: bool):
    """``num_iters`` ISTA (or FISTA, ``momentum``) steps as one ``lax.scan``; a traceable kernel, no checks.

    x (batch, n), D (n, k), lam2 (batch, 1), step (), z0 (batch, k). Returns
    ``(z, trace)``; ``trace`` is None unless ``record``: then ``{"objective": (T, batch)}``
    plus ``"sq_dist"`` ‖z_t − z_ref‖² where ``z_ref`` is given. Also returns b = x·ηD
    (Gram form) for the caller's final certificate.
    """
    prox_grad, b = _make_prox_grad(x, D, step, lam2 * step, nonneg, gram)
    t0 = jnp.ones((x.shape[0],), x.dtype)

    def body(carry, _):
        z, y, t = carry
        z_new = prox_grad(y)
        if momentum:
            y_new, t_new = fista_momentum(z_new, z, y, t, restart)
        else:
            y_new, t_new = z_new, t
        out = None
        if record:
            out = {"objective": objective(x, D, z_new, lam2)}
            if z_ref is not None:
                out["sq_dist"] = jnp.sum((z_new - z_ref) ** 2, axis=-1)
        return (z_new, y_new, t_new), out

    (z, _, _), trace = jax.lax.scan(body, (z0, z0, t0), None, length=num_iters)
    return z, trace, b


@functools.partial(jax.jit, static_argnames=("num_iters", "momentum", "restart", "nonneg", "gram", "record"))
def _scan_solver(x, D, lam2, step, z0, z_ref, *, num_iters, momentum, restart, nonneg, gram, record):
    z, trace, b = prox_grad_scan(x, D, lam2, step, z0, z_ref, num_iters=num_iters, momentum=momentum,
                                 restart=restart, nonneg=nonneg, gram=gram, record=record)
    if gram:  # the certificate at the cost of one more Gram-form iteration
        _, primal, gap = gap_gram(z, D.T @ D, b / step, jnp.sum(x * x, -1), lam2[:, 0], nonneg)
    else:
        primal, gap = gap_direct(x, D, z, lam2[:, 0], nonneg)
    info = SolverInfo(num_iters=jnp.asarray(num_iters, jnp.int32), rel_gap=relative_gap(primal, gap),
                      objective=primal, trace=trace)
    return SolverResult(z, info)


def _polish(x, D, z, lam2, nonneg, max_support):
    """Active-set step: solve the optimality conditions on the support of ``z``.

    On the support S (top ``max_support`` entries of |z|) with signs s, the lasso
    optimum satisfies D_Sᵀ D_S z_S = D_Sᵀ x − λ s_S. Solve it per example
    (batched Cholesky of (batch, p, p) Gram blocks), zero the entries whose sign
    disagrees, and keep the candidate where it lowers the energy.
    """
    B, k = z.shape
    p = min(max_support, k)
    G = D.T @ D
    c = x @ D
    absz, idx = jax.lax.top_k(jnp.abs(z), p)
    valid = absz > 0
    rows = jnp.arange(B)[:, None]
    s = jnp.sign(z[rows, idx])
    Gss = G[idx[:, :, None], idx[:, None, :]]
    vv = valid[:, :, None] & valid[:, None, :]
    eye = jnp.eye(p, dtype=z.dtype)
    M = jnp.where(vv, Gss, eye)
    rhs = jnp.where(valid, c[rows, idx] - lam2 * s, 0.0)
    chol = jnp.linalg.cholesky(M)
    zs = jax.scipy.linalg.cho_solve((chol, True), rhs[..., None])[..., 0]
    ok = valid & (zs * s > 0)
    if nonneg:
        ok = ok & (zs > 0)
    zs = jnp.where(ok & jnp.isfinite(zs), zs, 0.0)
    cand = jnp.zeros_like(z).at[rows, idx].set(zs)
    better = objective(x, D, cand, lam2) < objective(x, D, z, lam2)
    return jnp.where(better[:, None], cand, z), better


@functools.partial(
    jax.jit,
    static_argnames=("max_iters", "check_every", "restart", "nonneg", "gram", "polish", "max_support",
                     "stall_window"),
)
def _while_solver(x, D, lam2, step, z0, tol, *, max_iters, check_every, restart, nonneg, gram, polish, max_support,
                  stall_window):
    prox_grad, _ = _make_prox_grad(x, D, step, lam2 * step, nonneg, gram)
    B = x.shape[0]

    def inner(_, carry):
        z, y, t = carry
        z_new = prox_grad(y)
        y_new, t_new = fista_momentum(z_new, z, y, t, restart)
        return z_new, y_new, t_new

    def cond(state):
        it, rel, gap_ex, since = state[3], state[4], state[6], state[8]
        return (it < max_iters) & (rel > tol) & still_running(gap_ex, since, tol, stall_window)

    def body(state):
        z, y, t, it, _, _, _, best, since = state
        n = jnp.minimum(check_every, max_iters - it)  # the last block stops at max_iters
        z, y, t = jax.lax.fori_loop(0, n, inner, (z, y, t))
        if polish:
            z, moved = _polish(x, D, z, lam2, nonneg, max_support)
            y = jnp.where(moved[:, None], z, y)
            t = jnp.where(moved, jnp.ones_like(t), t)
        primal, gap = gap_direct(x, D, z, lam2[:, 0], nonneg)
        gap_ex = example_gap(primal, gap)
        best, since = stall_update(best, since, gap_ex)
        return z, y, t, it + n, relative_gap(primal, gap), primal, gap_ex, best, since

    inf = jnp.full((B,), jnp.inf, x.dtype)
    init = (z0, z0, jnp.ones((B,), x.dtype), jnp.asarray(0, jnp.int32), jnp.asarray(jnp.inf, x.dtype),
            jnp.full((B,), jnp.nan, x.dtype), inf, inf, jnp.zeros((B,), jnp.int32))
    z, _, _, it, rel, primal, gap_ex, _, _ = jax.lax.while_loop(cond, body, init)
    return SolverResult(z, SolverInfo(num_iters=it, rel_gap=rel, objective=primal, trace=None,
                                      example_gap=gap_ex, converged=gap_ex <= tol))


# ----------------------------------------------------------------------------
# Public solvers
# ----------------------------------------------------------------------------


def _prepare(x, D, lam, step, z0, gram):
    x, D = validation.check_x_D(x, D)
    B, k = x.shape[0], D.shape[1]
    lam2 = validation.check_lam(lam, B, x.dtype)
    step = validation.check_step(step)
    validation.check_step_bound(step, D)
    if step is None:
        step = 1.0 / lipschitz_constant(D)
    step = jnp.asarray(step, x.dtype)
    z0 = jnp.zeros((B, k), x.dtype) if z0 is None else validation.check_codes(z0, "z0", (B, k), x.dtype)
    if gram is None:
        gram = k <= 2 * D.shape[0]
    return x, D, lam2, step, z0, checks.boolean(gram, "gram")


def _check_ref(z_ref, x, D, trace):
    if z_ref is None:
        return None
    if not trace:
        raise ValueError("z_ref is only used with trace=True (it records ‖z_t − z_ref‖² per iteration)")
    return validation.check_codes(z_ref, "z_ref", (x.shape[0], D.shape[1]), x.dtype)


@precision.highest
def ista(x, D, lam, *, num_iters: int, step=None, z0=None, nonneg: bool = False,
         gram: bool | None = None, trace: bool = False, z_ref=None) -> SolverResult:
    """``num_iters`` ISTA steps from ``z0`` (default 0): x (batch, n), D (n, k) -> SolverResult.

    ``result.codes`` (batch, k); ``result.info``: ``num_iters``, ``rel_gap`` and
    ``objective`` (per example) at the returned codes, and with ``trace=True``
    ``info.trace["objective"]`` (num_iters, batch), plus ``info.trace["sq_dist"]``
    ‖z_t − z_ref‖² (num_iters, batch) when ``z_ref`` (batch, k) is given.
    ``lam``: scalar or (batch,). ``step`` defaults to 1/L (power iteration).
    """
    num_iters = checks.positive_int(num_iters, "num_iters")
    nonneg, trace = checks.boolean(nonneg, "nonneg"), checks.boolean(trace, "trace")
    x, D, lam2, step, z0, gram = _prepare(x, D, lam, step, z0, gram)
    z_ref = _check_ref(z_ref, x, D, trace)
    result = _scan_solver(x, D, lam2, step, z0, z_ref, num_iters=num_iters, momentum=False, restart=False,
                          nonneg=nonneg, gram=gram, record=trace)
    return validation.check_converged_finite(result, "ista", step)


@precision.highest
def fista(x, D, lam, *, num_iters: int | None = None, tol: float | None = None, step=None, z0=None,
          nonneg: bool = False, restart: bool = False, gram: bool | None = None, trace: bool = False,
          polish: bool = False, max_support: int = 64, check_every: int = 10, stall_window: int = 20,
          z_ref=None) -> SolverResult:
    """FISTA for the lasso: x (batch, n), D (n, k), lam scalar or (batch,) -> SolverResult.

    * ``tol=None``: exactly ``num_iters`` iterations (``lax.scan``); ``trace`` and
      ``z_ref`` as in :func:`ista`.
    * ``tol`` given: ``lax.while_loop`` until the relative duality gap
      ``Σ_i gap_i / Σ_i E_i ≤ tol`` (checked every ``check_every`` iterations and
      after the last) or ``num_iters`` iterations (default 100_000), whichever comes
      first; ``info.num_iters`` counts them.
      It also stops once every example above ``tol`` has stalled (its relative gap
      improved by less than 1% over ``stall_window`` checks); ``info.example_gap``
      and ``info.converged`` report each example, and a return above ``tol`` emits
      one :class:`~ebm_jax.sparse.result.ConvergenceWarning`. The cap is a safety
      net, not a schedule: on 1,500 MNIST digits coded on 384 atoms (λ a tenth
      of each digit's largest correlation), running into the 100_000-iteration cap
      took more than 9 minutes on a CPU, where :func:`working_set_lasso` certifies
      1e-4 in 5 outer iterations (0.14 s).

    ``restart``: per-example adaptive gradient restart. ``polish`` (tol form
    only): active-set step at each check on the top ``max_support`` entries.
    ``z0``: warm start. ``nonneg``: constrain z ≥ 0.
    """
    nonneg, restart = checks.boolean(nonneg, "nonneg"), checks.boolean(restart, "restart")
    trace, polish = checks.boolean(trace, "trace"), checks.boolean(polish, "polish")
    if tol is None:
        num_iters = checks.positive_int(num_iters, "num_iters")
        if polish:
            raise ValueError("polish=True needs the tolerance-stopped form (give tol)")
    else:
        tol = validation.check_tol(tol)
        num_iters = checks.positive_int(num_iters if num_iters is not None else 100_000, "num_iters")
        stall_window = validation.check_stall_window(stall_window)
        if trace:
            raise ValueError("trace is only available in the fixed-iteration form (tol=None)")
    max_support = checks.positive_int(max_support, "max_support")
    check_every = checks.positive_int(check_every, "check_every")
    x, D, lam2, step, z0, gram = _prepare(x, D, lam, step, z0, gram)
    z_ref = _check_ref(z_ref, x, D, trace)
    if tol is None:
        result = _scan_solver(x, D, lam2, step, z0, z_ref, num_iters=num_iters, momentum=True,
                              restart=restart, nonneg=nonneg, gram=gram, record=trace)
        return validation.check_converged_finite(result, "fista", step)
    result = _while_solver(x, D, lam2, step, z0, jnp.asarray(tol, x.dtype), max_iters=num_iters,
                           check_every=check_every, restart=restart, nonneg=nonneg,
                           gram=gram, polish=polish, max_support=max_support, stall_window=stall_window)
    validation.check_converged_finite(result, "fista", step)
    return validation.warn_unconverged(result, tol, "fista", f"cap num_iters={num_iters}, "
                                       f"stall window {stall_window} checks of {check_every} iterations")


@precision.highest
def free_energy(x, D, lam, *, tol: float | None = None, nonneg: bool = False, **fista_kwargs) -> jax.Array:
    """``F(x) = min_z ½‖x − D z‖² + λ‖z‖₁`` per example, (batch,), via FISTA to relative gap ``tol``.

    ``tol=None``: the dtype's default (:func:`~ebm_jax.sparse.validation.default_tol`:
    1e-4 in float32, 1e-8 in float64).
    """
    if tol is None:
        tol = validation.default_tol(jnp.result_type(checks.array(x, "x").dtype, jnp.float32))
    return fista(x, D, lam, tol=tol, nonneg=nonneg, restart=True, **fista_kwargs).info.objective
