r"""The lasso energy, its proximal operator, ISTA and FISTA, batched as GEMMs.

Sparse-coding energy of a regularized latent-variable EBM (shapes:
``x`` (batch, n), ``D`` (n, k) with atoms as columns, ``z`` (batch, k))::

    E(x, z) = ½‖x − D z‖² + λ‖z‖₁            (per example; λ scalar or one per example)
    z*(x)   = argmin_z E(x, z)                (inference)
    F(x)    = min_z E(x, z) = E(x, z*(x))     (free energy)

Row-major batched form: the reconstruction of a batch is ``z @ D.T``.

ISTA (proximal gradient, step ``η = 1/L`` with ``L = λ_max(DᵀD)``)::

    z ← S_{λη}( z + η (x − z Dᵀ) D )
      = S_{λη}( b + z S ),    b = x (ηD)  (batch, k),   S = I − η DᵀD  (k, k)

The second ("Gram") form costs one (batch, k) x (k, k) GEMM per iteration
instead of two (batch, n) x (n, k) GEMMs; it is used when ``k <= 2n``
(``gram=None``). FISTA adds Nesterov momentum (Beck & Teboulle 2009), optionally
with per-example adaptive gradient restart (O'Donoghue & Candès 2015).

Every solver has a fixed-iteration form (``lax.scan``, optionally returning
the per-iteration objective, shape (num_iters, batch)) and FISTA has a
tolerance-stopped form (``lax.while_loop``) that stops on the relative
duality gap ``Σ gap_i / Σ E_i ≤ tol``, a certificate that the relative
suboptimality is below ``tol``. ``polish=True`` adds an active-set step
(exact solve of the lasso's optimality conditions on the current support and
signs, accepted per example where it lowers the energy), which finishes the
problem exactly once FISTA has identified the support.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from ebm_jax.sparse import _checks

# ----------------------------------------------------------------------------
# Elementary pieces
# ----------------------------------------------------------------------------


def soft_threshold(v: jax.Array, thresh, *, nonneg: bool = False) -> jax.Array:
    r"""Proximal operator of ``thresh·‖·‖₁`` (plus the indicator of ``z ≥ 0`` if ``nonneg``).

    ``S_θ(v) = sign(v) max(|v| − θ, 0)``; non-negative: ``max(v − θ, 0)``.
    ``thresh`` broadcasts against ``v`` (scalar, (batch, 1) or (k,)).
    """
    if nonneg:
        return jnp.maximum(v - thresh, 0.0)
    return jnp.sign(v) * jnp.maximum(jnp.abs(v) - thresh, 0.0)


def _objective(x, D, z, lam2):
    r = x - z @ D.T
    return 0.5 * jnp.sum(r * r, axis=-1) + lam2[:, 0] * jnp.sum(jnp.abs(z), axis=-1)


def lasso_objective(x, D, z, lam) -> jax.Array:
    """Per-example energy ``½‖x − D z‖² + λ‖z‖₁``: x (batch, n), D (n, k), z (batch, k) -> (batch,)."""
    x, D = _checks.check_x_D(x, D)
    z = _checks.as_float_array(z, "z", ndim=2).astype(x.dtype)
    if z.shape != (x.shape[0], D.shape[1]):
        raise ValueError(f"z must have shape {(x.shape[0], D.shape[1])}, got {z.shape}")
    lam2 = jnp.broadcast_to(_checks.check_lam(lam, x.shape[0], x.dtype), (x.shape[0], 1))
    return _objective(x, D, z, lam2)


def _duality_gap(x, D, z, lam2, nonneg):
    """Per-example (primal, gap) with the rescaled-residual dual point.

    Dual of the lasso: max_θ ½‖x‖² − ½‖x − θ‖²  s.t. ‖Dᵀθ‖_∞ ≤ λ (``max Dᵀθ ≤ λ`` if
    non-negative); θ = s·r with r = x − D z and s = min(1, λ/‖Dᵀr‖_∞) is feasible.
    """
    r = x - z @ D.T
    corr = r @ D
    cmax = jnp.max(corr, axis=-1) if nonneg else jnp.max(jnp.abs(corr), axis=-1)
    lam = lam2[:, 0]
    s = jnp.where(cmax > lam, lam / jnp.where(cmax > 0, cmax, 1.0), 1.0)
    rr = jnp.sum(r * r, -1)
    l1 = jnp.sum(jnp.abs(z), -1)
    primal = 0.5 * rr + lam * l1
    # primal − dual, rearranged (x = Dz + r) so that nothing cancels against ‖x‖²:
    gap = 0.5 * (1.0 - s) ** 2 * rr + lam * l1 - s * jnp.sum(z * corr, -1)
    return primal, jnp.maximum(gap, 0.0)


def duality_gap(x, D, z, lam, *, nonneg: bool = False) -> jax.Array:
    """Per-example duality gap (an upper bound on ``E(x, z) − F(x)``), shape (batch,)."""
    x, D = _checks.check_x_D(x, D)
    z = _checks.as_float_array(z, "z", ndim=2).astype(x.dtype)
    lam2 = jnp.broadcast_to(_checks.check_lam(lam, x.shape[0], x.dtype), (x.shape[0], 1))
    return _duality_gap(x, D, z, lam2, nonneg)[1]


@functools.partial(jax.jit, static_argnames=("num_iters",))
def _power_iteration(D, num_iters):
    G = D.T @ D
    v = jax.random.normal(jax.random.PRNGKey(0), (G.shape[0],), G.dtype)
    v = v / jnp.linalg.norm(v)

    def body(_, v):
        w = G @ v
        return w / jnp.maximum(jnp.linalg.norm(w), jnp.finfo(G.dtype).tiny)

    v = jax.lax.fori_loop(0, num_iters, body, v)
    return jnp.vdot(v, G @ v)


def lipschitz_constant(D, *, num_iters: int = 100, safety: float = 1.001) -> jax.Array:
    """``L ≈ λ_max(DᵀD)`` (the Lipschitz constant of ∇_z ½‖x − Dz‖²) by power iteration.

    The Rayleigh quotient after ``num_iters`` iterations is a lower bound; it is
    multiplied by ``safety`` so that ``1/L`` is a safe step. D: (n, k) -> scalar.
    """
    D = _checks.as_float_array(D, "D", ndim=2)
    num_iters = _checks.check_num_iters(num_iters)
    if _checks._is_concrete(D) and not bool(jnp.any(D != 0)):
        raise ValueError("D is the zero dictionary: the lasso step 1/L is undefined")
    return _power_iteration(D, num_iters) * jnp.asarray(safety, D.dtype)


@jax.jit
def ista_operators(D, step):
    """``(W_e, S) = (η D, I − η DᵀD)``: ISTA as ``z ← S_θ(x W_e + z S)``. D (n, k) -> (n, k), (k, k).

    LISTA's initialisation calls this very function, so that an untrained LISTA
    reproduces ISTA bit for bit.
    """
    G = D.T @ D
    return D * step, jnp.eye(G.shape[0], dtype=G.dtype) - step * G


# ----------------------------------------------------------------------------
# Prox-gradient iterations
# ----------------------------------------------------------------------------


def _make_prox_grad(x, D, step, thresh, nonneg, gram):
    """Returns y -> S_θ(y − η∇f(y)) in Gram or direct form."""
    if gram:
        We, S = ista_operators(D, step)
        b = x @ We
        return lambda y: soft_threshold(b + y @ S, thresh, nonneg=nonneg)
    Ds = D * step
    return lambda y: soft_threshold(y + (x - y @ D.T) @ Ds, thresh, nonneg=nonneg)


def _momentum(z_new, z, y, t, restart):
    """FISTA extrapolation with optional per-example gradient restart; t: (batch,)."""
    if restart:
        bad = jnp.sum((y - z_new) * (z_new - z), axis=-1) > 0
        t = jnp.where(bad, jnp.ones_like(t), t)
    t_new = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t))
    y_new = z_new + ((t - 1.0) / t_new)[:, None] * (z_new - z)
    return y_new, t_new


@functools.partial(jax.jit, static_argnames=("num_iters", "momentum", "restart", "nonneg", "gram", "record"))
def _scan_solver(x, D, lam2, step, z0, z_ref=None, *, num_iters, momentum, restart, nonneg, gram, record):
    prox_grad = _make_prox_grad(x, D, step, lam2 * step, nonneg, gram)
    t0 = jnp.ones((x.shape[0],), x.dtype)

    def body(carry, _):
        z, y, t = carry
        z_new = prox_grad(y)
        if momentum:
            y_new, t_new = _momentum(z_new, z, y, t, restart)
        else:
            y_new, t_new = z_new, t
        out = None
        if record:
            out = _objective(x, D, z_new, lam2)
            if z_ref is not None:
                out = (out, jnp.sum((z_new - z_ref) ** 2, axis=-1))
        return (z_new, y_new, t_new), out

    (z, _, _), objs = jax.lax.scan(body, (z0, z0, t0), None, length=num_iters)
    return z, objs


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
    better = _objective(x, D, cand, lam2) < _objective(x, D, z, lam2)
    return jnp.where(better[:, None], cand, z), better


@functools.partial(
    jax.jit,
    static_argnames=("max_iters", "check_every", "restart", "nonneg", "gram", "polish", "max_support"),
)
def _while_solver(x, D, lam2, step, z0, tol, *, max_iters, check_every, restart, nonneg, gram, polish, max_support):
    prox_grad = _make_prox_grad(x, D, step, lam2 * step, nonneg, gram)
    B = x.shape[0]

    def inner(_, carry):
        z, y, t = carry
        z_new = prox_grad(y)
        y_new, t_new = _momentum(z_new, z, y, t, restart)
        return z_new, y_new, t_new

    def cond(state):
        _, _, _, it, rel_gap = state
        return (it < max_iters) & (rel_gap > tol)

    def body(state):
        z, y, t, it, _ = state
        z, y, t = jax.lax.fori_loop(0, check_every, inner, (z, y, t))
        if polish:
            z, moved = _polish(x, D, z, lam2, nonneg, max_support)
            y = jnp.where(moved[:, None], z, y)
            t = jnp.where(moved, jnp.ones_like(t), t)
        primal, gap = _duality_gap(x, D, z, lam2, nonneg)
        rel = jnp.sum(gap) / jnp.maximum(jnp.sum(primal), jnp.finfo(x.dtype).tiny)
        return z, y, t, it + check_every, rel

    init = (z0, z0, jnp.ones((B,), x.dtype), jnp.asarray(0, jnp.int32), jnp.asarray(jnp.inf, x.dtype))
    z, _, _, it, rel = jax.lax.while_loop(cond, body, init)
    return z, it, rel


# ----------------------------------------------------------------------------
# Public solvers
# ----------------------------------------------------------------------------


def _prepare(x, D, lam, step, z0, gram):
    x, D = _checks.check_x_D(x, D)
    B, k = x.shape[0], D.shape[1]
    lam2 = jnp.broadcast_to(_checks.check_lam(lam, B, x.dtype), (B, 1))
    step = _checks.check_step(step)
    if step is None:
        step = 1.0 / lipschitz_constant(D)
    step = jnp.asarray(step, x.dtype)
    z0 = _checks.check_z0(z0, B, k, x.dtype)
    if z0 is None:
        z0 = jnp.zeros((B, k), x.dtype)
    if gram is None:
        gram = k <= 2 * D.shape[0]
    return x, D, lam2, step, z0, bool(gram)


def _check_ref(z_ref, x, D, return_objective):
    if z_ref is None:
        return None
    if not return_objective:
        raise ValueError("z_ref is only used with return_objective=True")
    z_ref = _checks.as_float_array(z_ref, "z_ref", ndim=2).astype(x.dtype)
    if z_ref.shape != (x.shape[0], D.shape[1]):
        raise ValueError(f"z_ref must have shape {(x.shape[0], D.shape[1])}, got {z_ref.shape}")
    return z_ref


def ista(x, D, lam, *, num_iters: int, step=None, z0=None, nonneg: bool = False,
         gram: bool | None = None, return_objective: bool = False, z_ref=None):
    """``num_iters`` ISTA steps from ``z0`` (default 0): x (batch, n), D (n, k) -> z (batch, k).

    ``lam``: scalar or (batch,). ``step`` defaults to 1/L (power iteration).
    With ``return_objective`` also returns the per-iteration energy, (num_iters, batch),
    and, when ``z_ref`` (batch, k) is given, the per-iteration ‖z_t − z_ref‖², (num_iters, batch):
    ``(z, objs, dists)``.
    """
    num_iters = _checks.check_num_iters(num_iters)
    x, D, lam2, step, z0, gram = _prepare(x, D, lam, step, z0, gram)
    z_ref = _check_ref(z_ref, x, D, return_objective)
    z, objs = _scan_solver(x, D, lam2, step, z0, z_ref, num_iters=num_iters, momentum=False, restart=False,
                           nonneg=bool(nonneg), gram=gram, record=bool(return_objective))
    if not return_objective:
        return z
    return (z, *objs) if z_ref is not None else (z, objs)


def fista(x, D, lam, *, num_iters: int | None = None, tol: float | None = None, step=None, z0=None,
          nonneg: bool = False, restart: bool = False, gram: bool | None = None,
          return_objective: bool = False, polish: bool = False, max_support: int = 64,
          check_every: int = 10, return_info: bool = False, z_ref=None):
    """FISTA for the lasso: x (batch, n), D (n, k), lam scalar or (batch,) -> z (batch, k).

    * ``tol=None``: exactly ``num_iters`` iterations (``lax.scan``); with
      ``return_objective`` returns ``(z, objs)``, objs (num_iters, batch), or
      ``(z, objs, dists)`` with the per-iteration ‖z_t − z_ref‖² when ``z_ref`` is given.
    * ``tol`` given: ``lax.while_loop`` until the relative duality gap
      ``Σ_i gap_i / Σ_i E_i ≤ tol`` (checked every ``check_every`` iterations),
      at most ``num_iters`` iterations (default 100_000). ``return_info``
      returns ``(z, iterations, relative_gap)``.

    ``restart``: per-example adaptive gradient restart. ``polish`` (tol form
    only): active-set step at each check on the top ``max_support`` entries.
    ``z0``: warm start. ``nonneg``: constrain z ≥ 0.
    """
    if tol is None:
        num_iters = _checks.check_num_iters(num_iters)
        if polish:
            raise ValueError("polish=True needs the tolerance-stopped form (give tol)")
    else:
        if not isinstance(tol, (int, float)) or isinstance(tol, bool) or not tol >= 0:
            raise ValueError(f"tol must be a non-negative number, got {tol!r}")
        num_iters = _checks.check_num_iters(num_iters if num_iters is not None else 100_000)
        check_every = _checks.check_num_iters(check_every, "check_every")
        if return_objective:
            raise ValueError("return_objective is only available in the fixed-iteration form (tol=None)")
    max_support = _checks.check_num_iters(max_support, "max_support")
    x, D, lam2, step, z0, gram = _prepare(x, D, lam, step, z0, gram)
    z_ref = _check_ref(z_ref, x, D, return_objective)
    if tol is None:
        z, objs = _scan_solver(x, D, lam2, step, z0, z_ref, num_iters=num_iters, momentum=True,
                               restart=bool(restart), nonneg=bool(nonneg), gram=gram, record=bool(return_objective))
        if not return_objective:
            return z
        return (z, *objs) if z_ref is not None else (z, objs)
    max_iters = -(-num_iters // check_every) * check_every
    z, it, rel = _while_solver(x, D, lam2, step, z0, jnp.asarray(tol, x.dtype), max_iters=max_iters,
                               check_every=check_every, restart=bool(restart), nonneg=bool(nonneg),
                               gram=gram, polish=bool(polish), max_support=max_support)
    return (z, it, rel) if return_info else z


def free_energy(x, D, lam, *, tol: float = 1e-6, nonneg: bool = False, **fista_kwargs) -> jax.Array:
    """``F(x) = min_z ½‖x − D z‖² + λ‖z‖₁`` per example, (batch,), via FISTA to relative gap ``tol``."""
    z = fista(x, D, lam, tol=tol, nonneg=nonneg, restart=True, **fista_kwargs)
    return lasso_objective(x, D, z, lam)


def lasso_path(x, D, lam, *, num_lams: int = 5, ratio: float = 10.0, tol: float = 1e-6, path_tol: float = 1e-3,
               solver: str = "fista", **solver_kwargs):
    """Warm starts along a geometric λ path from ``ratio·λ`` down to ``λ``.

    Intermediate problems are solved to ``path_tol``, the last one to ``tol``;
    each warm-starts the next. ``solver``: ``"fista"`` (:func:`fista`, tol form)
    or ``"working_set"`` (:func:`ebm_jax.sparse.working_set_lasso`).
    Returns z (batch, k) for the final λ.
    """
    from ebm_jax.sparse.working_set import working_set_lasso

    num_lams = _checks.check_num_iters(num_lams, "num_lams")
    if solver not in ("fista", "working_set"):
        raise ValueError(f"solver must be 'fista' or 'working_set', got {solver!r}")
    if not ratio >= 1:
        raise ValueError(f"ratio must be >= 1, got {ratio}")
    x, D = _checks.check_x_D(x, D)
    lam2 = _checks.check_lam(lam, x.shape[0], x.dtype)
    lam_vec = jnp.broadcast_to(lam2, (x.shape[0], 1))[:, 0]
    if solver == "fista" and solver_kwargs.get("step") is None:
        solver_kwargs["step"] = 1.0 / lipschitz_constant(D)
    solve = fista if solver == "fista" else working_set_lasso
    z = solver_kwargs.pop("z0", None)
    for i in range(num_lams):
        scale = ratio ** ((num_lams - 1 - i) / max(num_lams - 1, 1))
        last = i == num_lams - 1
        z = solve(x, D, lam_vec * scale, tol=tol if last else path_tol, z0=z, **solver_kwargs)
    return z
