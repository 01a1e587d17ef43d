"""Training an MLP energy by CD-k / PCD on random-walk Metropolis–Hastings chains.

The loss is

    L(θ) = mean E(x+) - mean E(sg(x-)) + α (mean E(x+)^2 + mean E(x-)^2)

(the contrastive loss of :mod:`ebm_jax.samplers` plus Du & Mordatch's
energy-magnitude regulariser ``α``), with ``x-`` from random-walk MH chains
(:func:`ebm_jax.samplers.rwmh`) started at the data (CD-k) or persistent chains
kept in the train state (PCD).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax.training import train_state

from ebm_jax import checks
from ebm_jax.models.energy_mlp import EnergyMLP, energy_fn_of
from ebm_jax.samplers import ESTIMATORS, check_k, contrastive_step, rwmh


class EBMTrainState(train_state.TrainState):
    """Flax TrainState plus ``chains (C, D)``: PCD's persistent chains (``None`` for CD)."""

    chains: jax.Array | None = None


def create_state(key: jax.Array, model: EnergyMLP, tx: optax.GradientTransformation, *, dim: int,
                 chains=None) -> EBMTrainState:
    """Parameters initialised from ``key`` (``state.params`` is the plain tree), optimiser ``tx``
    (e.g. ``make_optimizer("adam", 1e-3, b1=0.5)``), and PCD's ``(C, dim)`` ``chains`` (``None`` for CD)."""
    key = checks.prng_key(key)
    checks.instance(model, "model", EnergyMLP, "ebm_jax.models.energy_mlp.EnergyMLP")
    checks.optimizer(tx)
    dim = checks.positive_int(dim, "dim")
    if chains is not None:
        chains = checks.float_array(chains, "chains", ndim=2)
        checks.check_shape(chains, "chains", (None, dim))
    params = model.init(key, jnp.zeros((1, dim), jnp.float32))["params"]
    return EBMTrainState.create(apply_fn=model.apply, params=params, tx=tx, chains=chains)


def make_train_step(model: EnergyMLP, method: str, k: int, step_size, alpha=0.1):
    """``step_fn(state, batch (B, D), key) -> (state, metrics)`` for :func:`ebm_jax.train.fit`.

    Metrics: ``loss`` (total), ``cd_loss``, ``e_data``, ``e_neg``, ``accept_rate`` (the MH acceptance
    rate of this update's chains, averaged over chains and the ``k`` steps).
    """
    checks.one_of(method, "method", ESTIMATORS)
    k = check_k(k)
    alpha = checks.nonnegative_float(alpha, "alpha")
    energy = energy_fn_of(model)
    sampler = rwmh(energy, step_size)

    def reg(params, x_pos, x_neg):
        return alpha * (jnp.mean(jnp.square(energy(params, x_pos))) +
                        jnp.mean(jnp.square(energy(params, jax.lax.stop_gradient(x_neg)))))

    def step_fn(state: EBMTrainState, batch, key):
        result, chains = contrastive_step(method, key, state.params, batch, state.chains, energy_fn=energy,
                                          algorithm=sampler, k=k)
        r, rgrads = jax.value_and_grad(reg)(state.params, batch, result.negatives)
        grads = jax.tree.map(jnp.add, result.grads, rgrads)
        finite = jnp.all(jnp.isfinite(result.negatives))
        metrics = {"loss": jnp.where(finite, result.loss + r, jnp.nan), "cd_loss": result.loss,
                   "e_data": result.info.energy_data, "e_neg": result.info.energy_neg,
                   "accept_rate": result.info.acceptance_rate}
        state = state.apply_gradients(grads=grads)
        return state.replace(chains=chains), metrics

    return step_fn
