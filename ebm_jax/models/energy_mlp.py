"""A small MLP energy ``E_θ: R^D -> R`` trained by CD-k / PCD on Metropolis–Hastings chains.

    E_θ(x) = f_θ(x) + |x|^2 / (2 s^2)

``f_θ`` is an MLP (swish activations); the optional quadratic term (``s =
prior_scale``, 0 disables it) keeps ``exp(-E)`` normalisable so that MH chains
cannot drift to infinity. The training loss is

    L(θ) = mean E(x+) - mean E(sg(x-)) + α (mean E(x+)^2 + mean E(x-)^2)

(the contrastive CD/PCD loss of :mod:`ebm_jax.samplers` plus Du & Mordatch's
energy-magnitude regulariser ``α``), with ``x-`` from random-walk MH chains started at
the data (CD-k) or persistent chains kept in the train state (PCD).
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state

from ebm_jax.samplers import cd_k, make_rwmh_kernel, pcd


class EnergyMLP(nn.Module):
    """``(..., D) -> (...)`` scalar energy."""

    hidden: Sequence[int] = (128, 128)
    prior_scale: float = 0.0

    @nn.compact
    def __call__(self, x):
        h = x
        for width in self.hidden:
            h = nn.swish(nn.Dense(width)(h))
        e = nn.Dense(1)(h)[..., 0]
        if self.prior_scale:
            e = e + 0.5 * jnp.sum(jnp.square(x), axis=-1) / self.prior_scale ** 2
        return e


class EBMTrainState(train_state.TrainState):
    """Flax TrainState plus ``chains (C, D)``: PCD's persistent chains (``None`` for CD)."""

    chains: jax.Array | None = None


def energy_fn_of(model: EnergyMLP) -> Callable:
    """``energy_fn(params, x (..., D)) -> (...)`` for the samplers."""
    return lambda params, x: model.apply(params, x)


def make_ebm_train_step(model: EnergyMLP, method: str, k: int, step_size: float, alpha: float = 0.1):
    """``step_fn(state, batch (B, D), key) -> (state, metrics)`` for :func:`ebm_jax.train.fit`.

    Metrics: ``loss`` (total), ``cd_loss``, ``e_data``, ``e_neg``, ``accept_rate``.
    """
    if method not in ("cd", "pcd"):
        raise ValueError(f"method must be 'cd' or 'pcd', got {method!r}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0, got {alpha!r}")
    energy = energy_fn_of(model)
    kernel = make_rwmh_kernel(energy, step_size)

    def reg(params, x_pos, x_neg):
        return alpha * (jnp.mean(jnp.square(energy(params, x_pos))) +
                        jnp.mean(jnp.square(energy(params, jax.lax.stop_gradient(x_neg)))))

    def step_fn(state: EBMTrainState, batch, key):
        if method == "cd":
            cd_loss, grads, x_neg, (e_data, e_neg) = cd_k(key, state.params, batch, energy_fn=energy, kernel=kernel,
                                                          k=k, return_energies=True)
            start, chains = batch, state.chains
        else:
            if state.chains is None:
                raise ValueError("method='pcd' needs EBMTrainState(chains=(C, D) array)")
            cd_loss, grads, x_neg, (e_data, e_neg) = pcd(key, state.params, batch, state.chains, energy_fn=energy,
                                                         kernel=kernel, k=k, return_energies=True)
            start, chains = state.chains, x_neg
        r, rgrads = jax.value_and_grad(reg)(state.params, batch, x_neg)
        grads = jax.tree.map(jnp.add, grads, rgrads)
        finite = jnp.all(jnp.isfinite(x_neg))
        metrics = {"loss": jnp.where(finite, cd_loss + r, jnp.nan), "cd_loss": cd_loss,
                   "e_data": e_data, "e_neg": e_neg,
                   # a continuous proposal changes the state iff accepted (lower bound over k steps)
                   "moved_frac": jnp.mean(jnp.any(x_neg != start, axis=-1).astype(jnp.float32))}
        state = state.apply_gradients(grads=grads)
        return state.replace(chains=chains), metrics

    return step_fn


def create_state(key: jax.Array, model: EnergyMLP, dim: int, learning_rate: float,
                 chains: jax.Array | None = None) -> EBMTrainState:
    """Adam-trained state with parameters initialised from ``key``."""
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    params = model.init(key, jnp.zeros((1, dim), jnp.float32))
    return EBMTrainState.create(apply_fn=model.apply, params=params, tx=optax.adam(learning_rate, b1=0.5),
                                chains=chains)
