r"""LISTA: learned ISTA (Gregor & LeCun, 2010), as a flax module and its losses.

Training (Adam, checkpoints, resume) is :mod:`ebm_jax.methods.lista`.

T layers; layer 1 is ``z₁ = h_θ(x W_e)``, layers t = 2..T are
``z_t = h_θ(x W_e + z_{t−1} S)``, with ``h_θ`` the soft threshold (one θ per atom).
Shapes: x (batch, n), W_e (n, k), S (k, k), θ (k,), z (batch, k).

Initialisation from ISTA (step η = 1/L): ``W_e = η D``, ``S = I − η DᵀD``,
``θ = λη``. With it, an untrained LISTA with T layers returns exactly the
iterate of T ISTA steps from z = 0 (``ebm_jax.sparse.ista(x, D, λ, num_iters=T)``).
(Gregor & LeCun count the S-multiplications, so their "T iterations" are T + 1 layers here.)

``tied=True`` shares (S, θ) over layers (W_e is shared in both cases);
``tied=False`` gives each layer its own S_t and θ_t.

Training objectives (mean over the batch):
* ``"supervised"``: ½‖z_T(x) − z*(x)‖², with z* the FISTA-optimal codes;
* ``"unsupervised"``: the lasso energy ½‖x − D z_T‖² + λ‖z_T‖₁.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import checks
from ebm_jax.sparse import validation
from ebm_jax.sparse.prox import ista_operators, lipschitz_constant, soft_threshold_kernel


class LISTA(nn.Module):
    """T-layer LISTA initialised from ISTA on ``dictionary`` (n, k) with penalty ``lam``.

    Attributes:
      dictionary: (n, k) array D used for the ISTA initialisation.
      lam: the lasso penalty λ (a python float).
      num_layers: T >= 1.
      step: ISTA step η (default 1/L from :func:`lipschitz_constant`).
      tied: share S and θ across layers.
      nonneg: non-negative soft threshold.
    """

    dictionary: Any
    lam: float
    num_layers: int
    step: Any = None
    tied: bool = True
    nonneg: bool = False

    def __post_init__(self):
        # checked before any tracing: 0 layers would fail with an IndexError inside __call__
        checks.positive_int(self.num_layers, "num_layers")
        checks.nonnegative_float(self.lam, "lam")
        checks.array(self.dictionary, "dictionary", ndim=2, dtype="float")
        super().__post_init__()

    def _operators(self):
        D = jnp.asarray(self.dictionary)
        step = self.step if self.step is not None else 1.0 / lipschitz_constant(D)
        step = jnp.asarray(step, D.dtype)
        We, S = ista_operators(D, step)
        theta = jnp.full((D.shape[1],), jnp.asarray(self.lam, D.dtype) * step, D.dtype)
        return We, S, theta

    @nn.compact
    def __call__(self, x, return_all: bool = False):
        """x (batch, n) -> z_T (batch, k); with ``return_all`` also every layer, (T, batch, k)."""
        We0, S0, theta0 = self._operators()
        We = self.param("W_e", lambda _: We0)
        T = self.num_layers
        if self.tied:
            S = self.param("S", lambda _: S0)
            theta = self.param("theta", lambda _: theta0)
            Ss, thetas = [S] * (T - 1), [theta] * T
        else:
            Ss = [self.param(f"S_{t}", lambda _: S0) for t in range(1, T)]
            thetas = [self.param(f"theta_{t}", lambda _: theta0) for t in range(T)]
        b = x @ We
        z = soft_threshold_kernel(b, thetas[0], nonneg=self.nonneg)
        zs = [z]
        for t in range(1, T):
            z = soft_threshold_kernel(b + z @ Ss[t - 1], thetas[t], nonneg=self.nonneg)
            zs.append(z)
        return (z, jnp.stack(zs)) if return_all else z


def make_lista(D, lam: float, num_layers: int, *, tied: bool = True, nonneg: bool = False, step=None):
    """Validated constructor: returns ``(module, params)`` for a LISTA initialised from ISTA on D (n, k)."""
    D = checks.float_array(D, "D", ndim=2)
    validation.check_nonzero_dictionary(D)
    lam = checks.nonnegative_float(lam, "lam")
    num_layers = checks.positive_int(num_layers, "num_layers")
    tied, nonneg = checks.boolean(tied, "tied"), checks.boolean(nonneg, "nonneg")
    step = validation.check_step(step)
    if step is None:
        step = 1.0 / lipschitz_constant(D)
    module = LISTA(dictionary=D, lam=lam, num_layers=num_layers, step=step, tied=tied, nonneg=nonneg)
    params = module.init(jax.random.PRNGKey(0), jnp.zeros((1, D.shape[0]), D.dtype))["params"]
    return module, params


def lista_loss(module: LISTA, params, x, z_star=None, *, objective: str = "supervised"):
    """Mean training loss over the batch (see module docstring); x (batch, n), z_star (batch, k)."""
    checks.one_of(objective, "objective", ("supervised", "unsupervised"))
    x = _check_x(module, x)
    if objective == "supervised":
        if z_star is None:
            raise ValueError("z_star (the target codes) is required for objective='supervised'")
        z_star = checks.float_array(z_star, "z_star", ndim=2)
        checks.check_shape(z_star, "z_star", (x.shape[0], np.shape(module.dictionary)[1]))
    z = module.apply({"params": params}, x)
    if objective == "supervised":
        return 0.5 * jnp.mean(jnp.sum((z - z_star) ** 2, axis=-1))
    if objective == "unsupervised":
        D = jnp.asarray(module.dictionary)
        r = x - z @ D.T
        return jnp.mean(0.5 * jnp.sum(r * r, -1) + module.lam * jnp.sum(jnp.abs(z), -1))
    raise ValueError(f"objective must be 'supervised' or 'unsupervised', got {objective!r}")


def _check_x(module, x):
    checks.instance(module, "module", LISTA, "LISTA module (from make_lista)")
    x = checks.float_array(x, "x", ndim=2)
    n = np.shape(module.dictionary)[0]
    if x.shape[1] != n:
        raise ValueError(f"x must have shape (batch, {n}) (rows of the dictionary), got {x.shape}")
    return x


def lista_apply_all(module: LISTA, params, x):
    """Every layer's codes, (T, batch, k) (jitted)."""
    x = _check_x(module, x)
    return jax.jit(lambda p, v: module.apply({"params": p}, v, return_all=True)[1])(params, x)


# ----------------------------------------------------------------------------
# Unrolled LISTA with one parameter set per layer: untied LISTA and ALISTA,
# both with support selection (Chen et al. 2018; Liu et al. 2019).
# ----------------------------------------------------------------------------
#
# Parameters are a tuple of per-layer dicts, so that a T-layer network is the
# prefix of a deeper one (layer-wise training grows it one layer at a time).
#
# * ``"untied"``: layer 1 is ``z_1 = h_1(x W_e)`` (its own W_e (n, k)), layer t > 1 is
#   ``z_t = h_t(b + z_{t−1} S_t)`` with the fixed ``b = x·ηD`` and its own S_t (k, k);
#   every layer has a per-atom threshold θ_t (k,); the ISTA
#   initialisation (W_e = ηD, S = I − ηDᵀD, θ = λη) makes the untrained network
#   T ISTA steps exactly.
# * ``"alista"``: layer t is ``z_t = h_t(z_{t−1} + γ_t (x − z_{t−1} Dᵀ) W)`` with the
#   analytic W of :func:`analytic_weights` and two learned scalars (γ_t, θ_t).
# * ``"lfista"``: learned FISTA, the untied layers with a per-atom momentum β_t (k,):
#   layer t > 1 is ``z_t = h_t(b + (z_{t−1} + β_t ⊙ (z_{t−1} − z_{t−2})) S_t)`` (z_0 = 0);
#   initialised from FISTA (β_t = (τ_{t−1} − 1)/τ_t with τ_1 = 1, τ_{t+1} = (1 + √(1 + 4τ_t²))/2),
#   the untrained network is T FISTA steps. Its fixed points are still the lasso solutions.
#
# ``h_t`` is the soft threshold with support selection: the ``num_pass[t]``
# entries of largest magnitude per example (if above θ) pass unchanged instead of
# being shrunk (LISTA-CPSS's ``η^ss``).

KINDS = ("untied", "alista", "lfista")


def support_select(v, theta, num_pass: int, *, nonneg: bool = False):
    r"""Soft threshold ``S_θ(v)`` except the ``num_pass`` largest-magnitude entries of each row, kept as ``v``.

    v (batch, k); θ broadcasts against v. An entry passes unchanged when it is
    among the row's ``num_pass`` largest ``|v|`` (largest v if ``nonneg``) and
    exceeds θ in magnitude; ``num_pass = 0`` is the plain soft threshold.
    """
    shrunk = soft_threshold_kernel(v, theta, nonneg=nonneg)
    if num_pass <= 0:
        return shrunk
    mag = v if nonneg else jnp.abs(v)
    kth = jax.lax.top_k(jax.lax.stop_gradient(mag), num_pass)[0][..., -1:]
    keep = (mag >= kth) & (mag > theta)
    return jnp.where(keep, v, shrunk)


def support_counts(num_layers: int, k: int, percent_per_layer: float, max_percent: float) -> tuple[int, ...]:
    """Entries that bypass the threshold at each layer: ``⌊min(p·t, p_max)·k/100⌋`` for t = 1..T."""
    num_layers = checks.positive_int(num_layers, "num_layers")
    k = checks.positive_int(k, "k")
    percent_per_layer = checks.real(percent_per_layer, "percent_per_layer", ge=0, le=100)
    max_percent = checks.real(max_percent, "max_percent", ge=0, le=100)
    return tuple(int(min(percent_per_layer * t, max_percent) * k / 100.0) for t in range(1, num_layers + 1))


def analytic_weights(D) -> jax.Array:
    r"""ALISTA's W (n, k): ``argmin ‖WᵀD‖_F`` subject to ``diag(WᵀD) = 1`` (columns decouple).

    Column i minimises ``wᵀ(DDᵀ)w`` subject to ``d_iᵀw = 1``:
    ``w_i = M⁺d_i / (d_iᵀM⁺d_i)`` with ``M = DDᵀ`` (pseudo-inverse where D has fewer atoms than rows).
    """
    D = checks.float_array(D, "D", ndim=2)
    validation.check_nonzero_dictionary(D)
    Minv = jnp.linalg.pinv(D @ D.T, hermitian=True)
    W = Minv @ D
    return W / jnp.sum(D * W, axis=0, keepdims=True)


class UnrolledContext(NamedTuple):
    """The fixed (not learned) arrays of an unrolled LISTA: D (n, k), W_e or W (n, k), the ISTA step."""

    kind: str
    D: jax.Array
    W: jax.Array          # "untied", "lfista": W_e = ηD; "alista": the analytic W
    step: jax.Array       # ISTA step η = 1/L ("untied", "lfista") or the initial γ ("alista")
    lam: float
    nonneg: bool = False


def make_context(D, lam, kind: str = "untied", *, nonneg: bool = False) -> UnrolledContext:
    """Validated :class:`UnrolledContext` for ``kind`` in :data:`KINDS` on D (n, k) with penalty λ."""
    checks.one_of(kind, "kind", KINDS)
    nonneg = checks.boolean(nonneg, "nonneg")
    D = checks.float_array(D, "D", ndim=2)
    validation.check_nonzero_dictionary(D)
    lam = checks.nonnegative_float(lam, "lam")
    if kind in ("untied", "lfista"):
        step = 1.0 / lipschitz_constant(D)
        W = ista_operators(D, step)[0]
    else:
        W = analytic_weights(D)
        # γ₀ = 1/‖WᵀD‖₂, the analogue of ISTA's 1/L for the operator z ↦ z DᵀW
        step = 1.0 / jnp.linalg.norm(W.T @ D, ord=2)
    return UnrolledContext(kind, D, W, jnp.asarray(step, D.dtype), lam, bool(nonneg))


def fista_momentum_schedule(num_layers: int) -> tuple[float, ...]:
    """FISTA's extrapolation weights ``(τ_{t−1} − 1)/τ_t`` before layers t = 1..T (0 for the first two)."""
    num_layers = checks.positive_int(num_layers, "num_layers")
    taus = [1.0]
    for _ in range(num_layers):
        taus.append(0.5 * (1.0 + (1.0 + 4.0 * taus[-1] ** 2) ** 0.5))
    return (0.0,) + tuple((taus[t - 1] - 1.0) / taus[t] for t in range(1, num_layers))


def init_layer(ctx: UnrolledContext, first: bool = False, layer: int | None = None) -> dict:
    """One layer's ISTA (FISTA for "lfista") initial parameters ("untied"/"lfista": the first layer holds W_e,
    the others S). ``layer`` (0-based) picks FISTA's momentum for "lfista" (default: the first layer if
    ``first``, else the second, momentum 0)."""
    dtype = ctx.D.dtype
    if ctx.kind in ("untied", "lfista"):
        k = ctx.D.shape[1]
        theta = jnp.full((k,), ctx.lam * ctx.step, dtype)
        if first:
            return {"W_e": ctx.W, "theta": theta}
        p = {"S": ista_operators(ctx.D, ctx.step)[1], "theta": theta}
        if ctx.kind == "lfista":
            t = checks.positive_int(layer if layer is not None else 1, "layer")
            p["beta"] = jnp.full((k,), fista_momentum_schedule(t + 1)[t], dtype)
        return p
    return {"gamma": jnp.asarray(ctx.step, dtype), "theta": jnp.asarray(ctx.lam * ctx.step, dtype)}


def init_layers(ctx: UnrolledContext, num_layers: int) -> tuple[dict, ...]:
    """The untrained T-layer network: T ISTA steps ("untied"), T FISTA steps ("lfista"), ALISTA at γ₀."""
    num_layers = checks.positive_int(num_layers, "num_layers")
    return tuple(init_layer(ctx, first=(t == 0), layer=t) for t in range(num_layers))


def layer_input(ctx: UnrolledContext, x):
    """What layers 2..T read from x: ``b = x·ηD`` ("untied", "lfista"; fixed, so that ISTA's S keeps z* a fixed point
    whatever the first layer learned), x itself ("alista")."""
    return x if ctx.kind == "alista" else x @ ctx.W


def apply_layer(ctx: UnrolledContext, p: dict, inp, z, num_pass: int, first: bool = False, z_prev=None):
    """One layer: codes z (batch, k) -> next codes.

    ``inp`` is x for the first layer and :func:`layer_input` for the others
    ("alista": always x); the first layer starts from z = 0. ``z_prev`` (the codes
    before z; None for 0) feeds the momentum of "lfista".
    """
    if ctx.kind == "alista":
        v = inp @ (p["gamma"] * ctx.W) if first else z + p["gamma"] * ((inp - z @ ctx.D.T) @ ctx.W)
    elif first:
        v = inp @ p["W_e"]
    else:
        if ctx.kind == "lfista":
            z = z + p["beta"] * (z - (z_prev if z_prev is not None else jnp.zeros_like(z)))
        v = inp + z @ p["S"]
    return support_select(v, p["theta"], num_pass, nonneg=ctx.nonneg)


def unrolled_apply(ctx: UnrolledContext, params, x, num_pass=None, *, return_all: bool = False):
    """T = len(params) layers from z = 0: x (batch, n) -> z_T (batch, k) (and every layer, (T, batch, k))."""
    checks.instance(ctx, "ctx", UnrolledContext, "UnrolledContext (from make_context)")
    return_all = checks.boolean(return_all, "return_all")
    if not isinstance(params, (tuple, list)) or not params:
        raise ValueError(f"params must be a non-empty tuple of per-layer dicts, got {type(params).__name__} "
                         f"of length {len(params) if hasattr(params, '__len__') else '?'}")
    x = checks.float_array(x, "x", ndim=2)
    if x.shape[1] != ctx.D.shape[0]:
        raise ValueError(f"x must have shape (batch, {ctx.D.shape[0]}) (rows of D), got {x.shape}")
    num_pass = num_pass if num_pass is not None else (0,) * len(params)
    if len(num_pass) < len(params):
        raise ValueError(f"num_pass must give one count per layer ({len(params)}), got {len(num_pass)}")
    z = apply_layer(ctx, params[0], x, None, num_pass[0], first=True)
    zs, z_prev = [z], None
    inp = layer_input(ctx, x)
    for t in range(1, len(params)):
        z_prev, z = z, apply_layer(ctx, params[t], inp, z, num_pass[t], z_prev=z_prev)
        zs.append(z)
    return (z, jnp.stack(zs)) if return_all else z
