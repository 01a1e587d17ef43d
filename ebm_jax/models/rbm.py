"""Bernoulli–Bernoulli restricted Boltzmann machine: energy, conditionals, its samplers and ``log Z``.

Visible ``v in {0,1}^V``, hidden ``h in {0,1}^H``, parameters ``W (V, H)``,
``b_vis (V,)``, ``b_hid (H,)``::

    E(v, h) = -v.b_vis - h.b_hid - v^T W h
    F(v)    = -log sum_h exp(-E(v, h)) = -v.b_vis - sum_j softplus(b_hid_j + (v W)_j)
    p(h_j = 1 | v) = sigmoid(b_hid_j + (v W)_j)
    p(v_i = 1 | h) = sigmoid(b_vis_i + (W h)_i)
    log p(v) = -F(v) - log Z

The RBM supplies to :mod:`ebm_jax.samplers` its block-Gibbs sampler
(:data:`GIBBS`, ``h ~ p(h | v)`` then ``v' ~ p(v | h)``, which leaves
``p(v) ∝ exp(-F(v))`` invariant) and the tempered target for AIS
(:data:`TEMPERED_TARGET`); ``log Z`` is exact by enumeration for small models
(:func:`exact_log_partition`) and estimated by AIS otherwise
(:func:`ais_log_partition`). Training (CD-k / PCD) is :mod:`ebm_jax.methods.rbm`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import checks, precision
from ebm_jax.samplers import (
    AISResult,
    ChainResult,
    SamplingAlgorithm,
    TemperedTarget,
    ais,
    beta_schedule,
    sample_chains,
)


class RBMParams(NamedTuple):
    """RBM parameters: ``W (V, H)``, ``b_vis (V,)``, ``b_hid (H,)``."""

    W: jax.Array
    b_vis: jax.Array
    b_hid: jax.Array


# --------------------------------------------------------------------------- validation


def validate_params(params) -> tuple[int, int]:
    """Check shapes/dtypes of ``RBMParams`` (or any ``(W, b_vis, b_hid)``); returns ``(V, H)``."""
    if not isinstance(params, tuple) or len(params) != 3:
        raise TypeError(f"params must be RBMParams(W, b_vis, b_hid), got {type(params).__name__}")
    W, b_vis, b_hid = params
    for name, arr in (("W", W), ("b_vis", b_vis), ("b_hid", b_hid)):
        if not hasattr(arr, "shape") or not hasattr(arr, "dtype"):
            raise TypeError(f"{name} must be an array, got {type(arr).__name__}")
        if not jnp.issubdtype(arr.dtype, jnp.floating):
            raise TypeError(f"{name} must be a floating-point array, got dtype {arr.dtype}")
    if W.ndim != 2:
        raise ValueError(f"W must have shape (visible, hidden), got shape {W.shape}")
    V, H = W.shape
    if V < 1 or H < 1:
        raise ValueError(f"W must have at least one visible and one hidden unit, got shape {W.shape}")
    if b_vis.shape != (V,):
        raise ValueError(f"b_vis must have shape ({V},) to match W {W.shape}, got {b_vis.shape}")
    if b_hid.shape != (H,):
        raise ValueError(f"b_hid must have shape ({H},) to match W {W.shape}, got {b_hid.shape}")
    return V, H


def validate_binary(x, name: str = "data") -> None:
    """Raise ``ValueError`` unless every entry of concrete ``x`` is exactly 0 or 1 (NaN is not).

    Tracers are skipped (value checks only where the input is concrete).
    """
    if not checks.is_concrete(x):
        return
    arr = np.asarray(x)
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.issubdtype(arr.dtype, np.number) and arr.dtype != np.bool_:
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    bad = ~((arr == 0) | (arr == 1))
    if bad.any():
        example = arr[bad].ravel()[0]
        raise ValueError(
            f"{name} must be binary (0/1) for a Bernoulli RBM, but {int(bad.sum())} entries are not "
            f"(e.g. {example!r}); binarize it first (ebm_jax.data.binarize_fixed / binarize_dynamic)")


def validate_unit_interval(x, name: str = "data") -> None:
    """Raise unless concrete ``x`` is finite and in ``[0, 1]`` (probabilities to binarize)."""
    if not checks.is_concrete(x):
        return
    arr = np.asarray(x)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    if arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"{name} must lie in [0, 1] (pixel intensities), got range [{arr.min()}, {arr.max()}]")


def _check_visible(v, params, name: str) -> None:
    if np.shape(v)[-1:] != np.shape(params[0])[:1]:
        raise ValueError(f"{name} must have shape (..., {np.shape(params[0])[0]}) to match W, got {np.shape(v)}")
    validate_binary(v, name)


def _units(params, x, name: str, axis: int, domain: str) -> jax.Array:
    """Validate ``params`` and a layer's states ``x (..., n)`` (n = W.shape[axis]) in ``domain``."""
    sizes = validate_params(params)
    x = checks.float_array(x, name, min_ndim=1, domain=domain)
    if x.shape[-1] != sizes[axis]:
        layer = "visible" if axis == 0 else "hidden"
        raise ValueError(f"{name} must have shape (..., {sizes[axis]}) ({layer} units of W {params[0].shape}), "
                         f"got {x.shape}")
    return x


# --------------------------------------------------------------------------- model math


def init_rbm(key: jax.Array, num_visible: int, num_hidden: int, *, scale: float = 0.01,
             data_mean: jax.Array | None = None, dtype=jnp.float32) -> RBMParams:
    """``W ~ N(0, scale^2)``, ``b_hid = 0``, ``b_vis = logit(data_mean)`` (Hinton's guide) or 0."""
    num_visible = checks.positive_int(num_visible, "num_visible")
    num_hidden = checks.positive_int(num_hidden, "num_hidden")
    scale = checks.nonnegative_float(scale, "scale")
    W = scale * jax.random.normal(key, (num_visible, num_hidden), dtype)
    if data_mean is None:
        b_vis = jnp.zeros((num_visible,), dtype)
    else:
        data_mean = checks.float_array(data_mean, "data_mean", ndim=1)
        checks.check_shape(data_mean, "data_mean", (num_visible,))
        checks.check_in_range(data_mean, "data_mean", 0.0, 1.0)
        b_vis = base_rate_bias(data_mean).astype(dtype)
    return RBMParams(W, b_vis, jnp.zeros((num_hidden,), dtype))


def base_rate_bias(data_mean: jax.Array, eps: float = 1e-3) -> jax.Array:
    """``logit(clip(p, eps, 1 - eps))``: visible biases of the base-rate model, shape ``(V,)``."""
    data_mean = checks.float_array(data_mean, "data_mean", domain="unit")
    eps = checks.real(eps, "eps", gt=0, lt=0.5)
    p = jnp.clip(data_mean.astype(jnp.float32), eps, 1 - eps)
    return jnp.log(p) - jnp.log1p(-p)


def hidden_logits(params: RBMParams, v: jax.Array) -> jax.Array:
    """``b_hid + v W``: ``(..., V) -> (..., H)``; ``v`` in [0, 1] (binary states or their probabilities)."""
    v = _units(params, v, "v", 0, "unit")
    return v @ params.W + params.b_hid


def visible_logits(params: RBMParams, h: jax.Array) -> jax.Array:
    """``b_vis + W h``: ``(..., H) -> (..., V)``; ``h`` in [0, 1]."""
    h = _units(params, h, "h", 1, "unit")
    return h @ params.W.T + params.b_vis


def hidden_probs(params: RBMParams, v: jax.Array) -> jax.Array:
    """``p(h = 1 | v)``, shape ``(..., H)``."""
    return jax.nn.sigmoid(hidden_logits(params, v))


def visible_probs(params: RBMParams, h: jax.Array) -> jax.Array:
    """``p(v = 1 | h)``, shape ``(..., V)``."""
    return jax.nn.sigmoid(visible_logits(params, h))


def energy(params: RBMParams, v: jax.Array, h: jax.Array) -> jax.Array:
    """Joint energy ``E(v, h)``, shape ``(...)``; ``v`` and ``h`` binary."""
    v = _units(params, v, "v", 0, "binary")
    h = _units(params, h, "h", 1, "binary")
    if v.shape[:-1] != h.shape[:-1]:
        raise ValueError(f"v {v.shape} and h {h.shape} must have the same leading (batch) shape")
    return -(v @ params.b_vis) - (h @ params.b_hid) - jnp.sum((v @ params.W) * h, axis=-1)


def _softplus(x: jax.Array) -> jax.Array:
    """``max(x, 0) + log(1 + exp(-|x|))``: softplus with ``log`` where ``jax.nn.softplus`` has
    ``log1p``, which XLA:CPU evaluates ~1.6x slower; absolute error below 1e-7 per unit."""
    return jnp.maximum(x, 0.0) + jnp.log(1.0 + jnp.exp(-jnp.abs(x)))


def free_energy(params: RBMParams, v: jax.Array) -> jax.Array:
    """``F(v) = -v.b_vis - sum_j softplus(b_hid_j + (vW)_j)``, shape ``(...)``; ``v`` binary (checked where concrete)."""
    v = _units(params, v, "v", 0, "binary")
    return -(v @ params.b_vis) - jnp.sum(_softplus(hidden_logits(params, v)), axis=-1)


@precision.highest
def log_likelihood(params: RBMParams, v: jax.Array, log_z) -> jax.Array:
    """``log p(v) = -F(v) - log Z`` per example, shape ``(...)`` (nats); ``v`` binary."""
    v = _units(params, v, "v", 0, "binary")
    log_z = checks.real_or_traced(log_z, "log_z")
    return -free_energy(params, v) - log_z


@precision.highest
def pseudo_log_likelihood(key: jax.Array, params: RBMParams, v: jax.Array, flip_index: jax.Array | None = None
                          ) -> jax.Array:
    """Stochastic pseudo-log-likelihood, as scikit-learn's ``BernoulliRBM.score_samples``.

    For each example flip one uniformly chosen bit ``i`` (or ``flip_index[n]``) to
    get ``v~`` and return ``V * log sigmoid(F(v~) - F(v))`` (an unbiased estimate of
    ``sum_i log p(v_i | v_{-i})``), shape ``(N,)``. ``v`` must be binary ``(N, V)``.
    """
    v = _units(params, v, "v", 0, "binary")
    if v.ndim != 2:
        raise ValueError(f"v must have shape (N, V), got {v.shape}")
    n, V = v.shape
    if flip_index is None:
        key = checks.prng_key(key)  # only needed to draw the flipped bits
        idx = jax.random.randint(key, (n,), 0, V)
    else:
        idx = checks.array(flip_index, "flip_index", ndim=1)
        if not jnp.issubdtype(idx.dtype, jnp.integer):
            raise TypeError(f"flip_index must hold integers, got dtype {idx.dtype}")
        if idx.shape != (n,):
            raise ValueError(f"flip_index must have shape ({n},) (one index per example), got {idx.shape}")
        if checks.is_concrete(idx) and not np.all((np.asarray(idx) >= 0) & (np.asarray(idx) < V)):
            raise ValueError(f"flip_index must lie in [0, {V}), got values in [{int(np.min(np.asarray(idx)))}, {int(np.max(np.asarray(idx)))}]")
    flipped = v.at[jnp.arange(n), idx].set(1 - v[jnp.arange(n), idx])
    return V * jax.nn.log_sigmoid(free_energy(params, flipped) - free_energy(params, v))


# --------------------------------------------------------------------------- block Gibbs


class GibbsState(NamedTuple):
    """``position``: the visible state ``v (V,)`` in {0, 1}."""

    position: jax.Array


class GibbsInfo(NamedTuple):
    """A Gibbs sweep always moves: ``acceptance_rate = 1``."""

    acceptance_rate: jax.Array


def gibbs_init(v: jax.Array, params: RBMParams) -> GibbsState:
    """The sampler state of a visible vector (binary; checked where concrete)."""
    return GibbsState(_units(params, v, "v", 0, "binary"))


def gibbs_step(key: jax.Array, state: GibbsState, params: RBMParams) -> tuple[GibbsState, GibbsInfo]:
    """One block-Gibbs sweep ``v -> h ~ p(h | v) -> v' ~ p(v | h)`` for one chain."""
    kh, kv = jax.random.split(key)
    v = state.position
    h = jax.random.bernoulli(kh, hidden_probs(params, v)).astype(v.dtype)
    v = jax.random.bernoulli(kv, visible_probs(params, h)).astype(v.dtype)
    return GibbsState(v), GibbsInfo(jnp.ones((), v.dtype))


#: The RBM's block-Gibbs sampler (``params`` = :class:`RBMParams`), for ``run_chain`` / ``cd_k`` / ``pcd``.
GIBBS = SamplingAlgorithm(gibbs_init, gibbs_step)


def sample_gibbs(key: jax.Array, params: RBMParams, v0, num_steps: int, *, num_saved: int = 0,
                 chunk_steps: int = 1000) -> ChainResult:
    """``num_steps`` Gibbs sweeps of every chain in ``v0 (C, V)`` (binary), in interruptible pieces.

    Returns :class:`~ebm_jax.samplers.ChainResult`; the samples are ``result.state.position``.
    """
    v0 = _units(params, v0, "v0", 0, "binary")
    if v0.ndim != 2:
        raise ValueError(f"v0 must have shape (num_chains, V), got {v0.shape}")
    return sample_chains(GIBBS, key, v0, params, num_steps, num_saved=num_saved, chunk_steps=chunk_steps)


# --------------------------------------------------------------------------- log Z


def _tempered_init(v, params_beta):
    return GibbsState(v)


def _tempered_step(key, state, params_beta):
    """Block Gibbs leaving ``p*_β(v) ∝ exp((1-β) v.b_A + β v.b_vis) prod_j (1 + exp(β (c_j + (vW)_j)))``."""
    (p, base_b_vis), beta = params_beta
    v = state.position
    kh, kv = jax.random.split(key)
    h = jax.random.bernoulli(kh, jax.nn.sigmoid(beta * hidden_logits(p, v))).astype(v.dtype)
    logits = (1 - beta) * base_b_vis + beta * visible_logits(p, h)
    return GibbsState(jax.random.bernoulli(kv, jax.nn.sigmoid(logits)).astype(v.dtype)), GibbsInfo(
        jnp.ones((), v.dtype))


def _sample_base(key, target_params):
    p, base_b_vis = target_params
    return jax.random.bernoulli(key, jax.nn.sigmoid(base_b_vis)).astype(p.W.dtype)


def _log_z_base(target_params) -> float:
    """``log Z_0 = sum_i softplus(b_A,i) + H log 2`` (float64, on the host)."""
    p, base_b_vis = target_params
    return float(np.sum(np.logaddexp(0.0, np.asarray(base_b_vis, np.float64))) + p.W.shape[1] * np.log(2.0))


def _log_weight_increment(target_params, v, beta_prev, beta):
    """``log p*_β(v) - log p*_β'(v) = (β - β') v.(b_vis - b_A) + sum_j log1p(σ(β' x_j) expm1((β - β') x_j))``
    with ``x = c + vW``: exact, and without the cancellation of a difference of softplus in float32."""
    p, base_b_vis = target_params
    x = hidden_logits(p, v)
    return (beta - beta_prev) * (v @ (p.b_vis - base_b_vis)) + jnp.sum(
        jnp.log1p(jax.nn.sigmoid(beta_prev * x) * jnp.expm1((beta - beta_prev) * x)), axis=-1)


#: The AIS path of Salakhutdinov & Murray (2008), from the base-rate model ``b_A`` (no hidden units)
#: to the RBM; target params are ``(RBMParams, base_b_vis)``.
TEMPERED_TARGET = TemperedTarget(_sample_base, _log_z_base, _log_weight_increment,
                                 SamplingAlgorithm(_tempered_init, _tempered_step))


@precision.highest
def ais_log_partition(key: jax.Array, params: RBMParams, *, num_betas: int = 14500, num_runs: int = 100,
                      betas=None, schedule: str = "sm08", data=None, base_b_vis=None) -> AISResult:
    r"""AIS estimate of ``log Z`` (Salakhutdinov & Murray 2008, "On the quantitative analysis of deep belief networks").

    The base model ``A`` has no hidden units and visible biases ``b_A`` (the base-rate
    model ``b_A = logit(data marginals)``), so ``log Z_A = sum_i softplus(b_A,i)``; the
    intermediate distributions are, for ``0 = β_0 < ... < β_K = 1``,

        log p*_k(v) = (1 - β_k) v.b_A + β_k v.b_vis + sum_j softplus(β_k (b_hid_j + (v W)_j))

    with block Gibbs at ``β_k`` as transition (:data:`TEMPERED_TARGET`, run by
    :func:`ebm_jax.samplers.ais`).

    Args:
      key: PRNG key.
      params: :class:`RBMParams`.
      num_betas: number of inverse temperatures (``K + 1``) when ``betas`` is not given.
      num_runs: number of independent AIS runs ``M`` (run in parallel).
      betas: explicit schedule (1-D, strictly increasing from 0 to 1); overrides
        ``num_betas`` / ``schedule``.
      schedule: ``"sm08"`` (default), ``"linear"`` or ``"sigmoid"``; see :func:`ebm_jax.samplers.beta_schedule`.
      data: ``(N, V)`` data in ``[0, 1]`` whose marginals define ``b_A = logit(clip(mean(data), 1e-3, 1 - 1e-3))``.
      base_b_vis: ``(V,)`` base-model visible biases (instead of ``data``); default 0 (uniform base).

    Returns:
      :class:`~ebm_jax.samplers.AISResult` ``(log_z, log_z_std, log_weights, acceptance_rate)``.
    """
    V, _ = validate_params(params)
    W = params[0]
    if betas is None:
        num_betas = checks.integer(num_betas, "num_betas", ge=2)
        checks.one_of(schedule, "schedule", ("sm08", "linear", "sigmoid"))
        betas = beta_schedule(num_betas, schedule)
    if data is not None and base_b_vis is not None:
        raise ValueError("give at most one of data and base_b_vis")
    if data is not None:
        data = np.asarray(data)
        if data.ndim != 2 or data.shape[1] != V or data.shape[0] < 1:
            raise ValueError(f"data must have shape (N, {V}) with N >= 1, got {data.shape}")
        if not np.isfinite(data).all() or data.min() < 0 or data.max() > 1:
            raise ValueError("data must be finite and in [0, 1] (its marginals define the base-rate model)")
        base_b_vis = base_rate_bias(data.mean(0))
    elif base_b_vis is None:
        base_b_vis = jnp.zeros((V,), W.dtype)
    base_b_vis = jnp.asarray(base_b_vis, W.dtype)
    if base_b_vis.shape != (V,):
        raise ValueError(f"base_b_vis must have shape ({V},), got {base_b_vis.shape}")
    params = RBMParams(*(jnp.asarray(a) for a in params))
    return ais(key, TEMPERED_TARGET, (params, base_b_vis), betas, num_runs)


@precision.highest
def exact_log_partition(params: RBMParams, *, max_units: int = 24, chunk_size: int = 4096) -> float:
    """Exact ``log Z`` by enumerating the smaller layer (``2^min(V, H)`` states, ``chunk_size`` at a time).

    With ``H <= V``: ``log Z = logsumexp_h [h.b_hid + sum_i softplus(b_vis_i + (W h)_i)]``;
    otherwise ``log Z = logsumexp_v [-F(v)]``. The last chunk is masked when
    ``chunk_size`` does not divide ``2^n``, so every state is counted exactly once.

    Raises:
      ValueError: ``min(V, H) > max_units`` (enumeration would be too large), bad ``chunk_size``.
    """
    V, H = validate_params(params)
    max_units = checks.integer(max_units, "max_units", ge=1, le=30)
    chunk_size = checks.positive_int(chunk_size, "chunk_size")
    n = min(V, H)
    if n > max_units:
        raise ValueError(f"exact_log_partition enumerates 2^min(V, H) states; min(V, H) = {n} > max_units = "
                         f"{max_units}. Use ais_log_partition instead.")
    W, b_vis, b_hid = (jnp.asarray(a) for a in params)
    if H <= V:
        M, a, b = W.T, b_hid, b_vis          # enumerate h: term = h.a + sum softplus(b + h M)
    else:
        M, a, b = W, b_vis, b_hid            # enumerate v
    total = 1 << n
    chunk = min(chunk_size, total)
    num_chunks = -(-total // chunk)
    bits = jnp.arange(n, dtype=jnp.uint32)

    def chunk_lse(i):
        idx = i * chunk + jnp.arange(chunk, dtype=jnp.uint32)
        s = ((idx[:, None] >> bits) & 1).astype(W.dtype)
        terms = s @ a + jnp.sum(jax.nn.softplus(s @ M + b), axis=-1)
        return jax.nn.logsumexp(jnp.where(idx < total, terms, -jnp.inf))

    lses = jax.lax.map(chunk_lse, jnp.arange(num_chunks, dtype=jnp.uint32))
    return float(jax.nn.logsumexp(lses))
