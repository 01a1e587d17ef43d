"""Bernoulli–Bernoulli restricted Boltzmann machine: energy, conditionals, training step.

Visible ``v in {0,1}^V``, hidden ``h in {0,1}^H``, parameters ``W (V, H)``,
``b_vis (V,)``, ``b_hid (H,)``::

    E(v, h) = -v.b_vis - h.b_hid - v^T W h
    F(v)    = -log sum_h exp(-E(v, h)) = -v.b_vis - sum_j softplus(b_hid_j + (v W)_j)
    p(h_j = 1 | v) = sigmoid(b_hid_j + (v W)_j)
    p(v_i = 1 | h) = sigmoid(b_vis_i + (W h)_i)
    log p(v) = -F(v) - log Z

Training minimises the contrastive free-energy gap
``L = mean F(v_data) - mean F(stop_gradient(v_neg))`` whose gradient is the
(Rao-Blackwellised) CD / PCD estimate of the negative log-likelihood gradient;
the negative samples come from :mod:`ebm_jax.samplers` (block Gibbs).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from ebm_jax.data.transforms import binarize_dynamic


class RBMParams(NamedTuple):
    """RBM parameters: ``W (V, H)``, ``b_vis (V,)``, ``b_hid (H,)``."""

    W: jax.Array
    b_vis: jax.Array
    b_hid: jax.Array


# --------------------------------------------------------------------------- validation


def validate_params(W, b_vis, b_hid) -> tuple[int, int]:
    """Check shapes/dtypes of raw RBM arrays; returns ``(V, H)``."""
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
    """Raise ``ValueError`` unless every entry of concrete ``x`` is exactly 0 or 1.

    Tracers are skipped (value checks only where the input is concrete).
    """
    if isinstance(x, jax.core.Tracer):
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
    if isinstance(x, jax.core.Tracer):
        return
    arr = np.asarray(x)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    if arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"{name} must lie in [0, 1] (pixel intensities), got range [{arr.min()}, {arr.max()}]")


# --------------------------------------------------------------------------- model math


def init_rbm(key: jax.Array, num_visible: int, num_hidden: int, *, scale: float = 0.01,
             data_mean: jax.Array | None = None, dtype=jnp.float32) -> RBMParams:
    """``W ~ N(0, scale^2)``, ``b_hid = 0``, ``b_vis = logit(data_mean)`` (Hinton's guide) or 0."""
    if num_visible < 1 or num_hidden < 1:
        raise ValueError(f"num_visible and num_hidden must be >= 1, got {num_visible}, {num_hidden}")
    W = scale * jax.random.normal(key, (num_visible, num_hidden), dtype)
    if data_mean is None:
        b_vis = jnp.zeros((num_visible,), dtype)
    else:
        b_vis = base_rate_bias(data_mean).astype(dtype)
    return RBMParams(W, b_vis, jnp.zeros((num_hidden,), dtype))


def base_rate_bias(data_mean: jax.Array, eps: float = 1e-3) -> jax.Array:
    """``logit(clip(p, eps, 1 - eps))``: visible biases of the base-rate model, shape ``(V,)``."""
    p = jnp.clip(jnp.asarray(data_mean, jnp.float32), eps, 1 - eps)
    return jnp.log(p) - jnp.log1p(-p)


def hidden_logits(params: RBMParams, v: jax.Array) -> jax.Array:
    """``b_hid + v W``: ``(..., V) -> (..., H)``."""
    return v @ params.W + params.b_hid


def visible_logits(params: RBMParams, h: jax.Array) -> jax.Array:
    """``b_vis + W h``: ``(..., H) -> (..., V)``."""
    return h @ params.W.T + params.b_vis


def hidden_probs(params: RBMParams, v: jax.Array) -> jax.Array:
    """``p(h = 1 | v)``, shape ``(..., H)``."""
    return jax.nn.sigmoid(hidden_logits(params, v))


def visible_probs(params: RBMParams, h: jax.Array) -> jax.Array:
    """``p(v = 1 | h)``, shape ``(..., V)``."""
    return jax.nn.sigmoid(visible_logits(params, h))


def energy(params: RBMParams, v: jax.Array, h: jax.Array) -> jax.Array:
    """Joint energy ``E(v, h)``, shape ``(...)``."""
    return -(v @ params.b_vis) - (h @ params.b_hid) - jnp.sum((v @ params.W) * h, axis=-1)


def _softplus(x: jax.Array) -> jax.Array:
    """``max(x, 0) + log(1 + exp(-|x|))``: softplus with ``log`` where ``jax.nn.softplus`` has
    ``log1p``, which XLA:CPU evaluates ~1.6x slower; absolute error below 1e-7 per unit."""
    return jnp.maximum(x, 0.0) + jnp.log(1.0 + jnp.exp(-jnp.abs(x)))


def free_energy(params: RBMParams, v: jax.Array) -> jax.Array:
    """``F(v) = -v.b_vis - sum_j softplus(b_hid_j + (vW)_j)``, shape ``(...)``."""
    return -(v @ params.b_vis) - jnp.sum(_softplus(hidden_logits(params, v)), axis=-1)


def log_likelihood(params: RBMParams, v: jax.Array, log_z: jax.Array) -> jax.Array:
    """``log p(v) = -F(v) - log Z`` per example, shape ``(...)`` (nats)."""
    return -free_energy(params, v) - log_z


def pseudo_log_likelihood(key: jax.Array, params: RBMParams, v: jax.Array, flip_index: jax.Array | None = None
                          ) -> jax.Array:
    """Stochastic pseudo-log-likelihood, as scikit-learn's ``BernoulliRBM.score_samples``.

    For each example flip one uniformly chosen bit ``i`` (or ``flip_index[n]``) to
    get ``v~`` and return ``V * log sigmoid(F(v~) - F(v))`` (an unbiased estimate of
    ``sum_i log p(v_i | v_{-i})``), shape ``(N,)``. ``v`` must be binary ``(N, V)``.
    """
    validate_binary(v, "v")
    n, V = v.shape
    idx = jax.random.randint(key, (n,), 0, V) if flip_index is None else jnp.asarray(flip_index)
    flipped = v.at[jnp.arange(n), idx].set(1 - v[jnp.arange(n), idx])
    return V * jax.nn.log_sigmoid(free_energy(params, flipped) - free_energy(params, v))


# --------------------------------------------------------------------------- training


class RBMTrainState(struct.PyTreeNode):
    """Train state: step, parameters, optimiser state and (for PCD) persistent chains.

    ``chains`` is ``(num_chains, V)`` binary visible states for PCD (checkpointed and
    resumed with the state) and ``None`` for CD.
    """

    step: jax.Array
    params: RBMParams
    opt_state: Any
    chains: jax.Array | None
    tx: optax.GradientTransformation = struct.field(pytree_node=False)

    @classmethod
    def create(cls, params: RBMParams, tx: optax.GradientTransformation, chains: jax.Array | None = None):
        chains = None if chains is None else jnp.asarray(chains, params.W.dtype)
        return cls(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), chains=chains, tx=tx)


def make_optimizer(learning_rate: float, momentum: float = 0.0, weight_decay: float = 0.0,
                   decay_steps: int | None = None) -> optax.GradientTransformation:
    """SGD with optional momentum and L2 weight decay on ``W`` only (biases undecayed).

    With ``decay_steps`` the learning rate decays linearly to 0 over that many steps.
    """
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
    mask = RBMParams(W=True, b_vis=False, b_hid=False)
    parts = []
    if weight_decay:
        parts.append(optax.masked(optax.add_decayed_weights(weight_decay), mask))
    lr = learning_rate if not decay_steps else optax.linear_schedule(learning_rate, 0.0, int(decay_steps))
    parts.append(optax.sgd(lr, momentum=momentum or None))
    return optax.chain(*parts)


def make_train_step(method: str, k: int, *, binarize: bool = True) -> Callable:
    """``step_fn(state, batch, key) -> (state, metrics)`` for :func:`ebm_jax.train.fit`.

    Args:
      method: ``"cd"`` (chains start at the data, ``k`` Gibbs sweeps) or
        ``"pcd"`` (``state.chains`` advance ``k`` sweeps and persist).
      k: Gibbs sweeps per update, ``>= 1``.
      binarize: draw a fresh Bernoulli binarization of the ``[0, 1]`` batch
        (dynamic binarization); ``False`` expects a binary batch.

    The batch is ``(B, V)``. Metrics: ``loss`` (free-energy gap
    ``mean F(data) - mean F(neg)``), ``fe_data``, ``fe_neg``, ``chains_finite``
    (no extra matrix products beyond the gradient's: 6 of size ``B x V x H`` per step for k = 1).
    """
    from ebm_jax.samplers import cd_k, pcd, rbm_gibbs_kernel

    if method not in ("cd", "pcd"):
        raise ValueError(f"method must be 'cd' or 'pcd', got {method!r}")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")

    def step_fn(state: RBMTrainState, batch: jax.Array, key: jax.Array):
        bkey, ckey = jax.random.split(key)
        v = binarize_dynamic(bkey, batch) if binarize else batch
        if method == "pcd" and state.chains is None:
            raise ValueError("method='pcd' needs persistent chains: RBMTrainState.create(..., chains=(C, V) array)")
        if method == "cd":
            loss, grads, v_neg, (fe_data, fe_neg) = cd_k(ckey, state.params, v, energy_fn=free_energy,
                                                         kernel=rbm_gibbs_kernel, k=k, return_energies=True)
            chains = state.chains
        else:
            loss, grads, v_neg, (fe_data, fe_neg) = pcd(ckey, state.params, v, state.chains, energy_fn=free_energy,
                                                        kernel=rbm_gibbs_kernel, k=k, return_energies=True)
            chains = v_neg
        updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        finite = jnp.all(jnp.isfinite(v_neg))
        # A chain that went non-finite makes the loss NaN so the loop stops loudly.
        loss = jnp.where(finite, loss, jnp.nan)
        metrics = {"loss": loss, "fe_data": fe_data, "fe_neg": fe_neg, "chains_finite": finite.astype(jnp.float32)}
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state, chains=chains), metrics

    return step_fn
