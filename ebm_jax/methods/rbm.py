"""Training a Bernoulli RBM with CD-k or PCD: ``create_state`` and ``make_train_step``.

Training minimises the contrastive free-energy gap
``L = mean F(v_data) - mean F(stop_gradient(v_neg))`` whose gradient is the
(Rao-Blackwellised) CD / PCD estimate of the negative log-likelihood gradient;
the negatives come from the RBM's block-Gibbs sampler
(:data:`ebm_jax.models.rbm.GIBBS`) through :func:`ebm_jax.samplers.cd_k` /
:func:`ebm_jax.samplers.pcd`. The optimizer is SGD with momentum, L2 weight
decay on ``W`` only and an optional linear decay of the learning rate::

    tx = make_optimizer("sgd", lr, momentum=0.5, weight_decay=1e-4, decay_mask=WEIGHT_DECAY_MASK,
                        schedule="linear", total_steps=steps)   # ebm_jax.train.optim
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import struct

from ebm_jax import checks
from ebm_jax.data.transforms import binarize_dynamic
from ebm_jax.models.rbm import GIBBS, RBMParams, free_energy, init_rbm, validate_binary
from ebm_jax.samplers import ESTIMATORS, check_k, contrastive_step

#: Weight decay applies to ``W`` only (Hinton's guide); biases are not decayed.
WEIGHT_DECAY_MASK = RBMParams(W=True, b_vis=False, b_hid=False)


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
        if chains is not None:
            chains = checks.float_array(chains, "chains", ndim=2)
            if chains.shape[1] != params.W.shape[0]:
                raise ValueError(f"chains must have shape (num_chains, {params.W.shape[0]}), got {chains.shape}")
            validate_binary(chains, "chains")
            chains = jnp.asarray(chains, params.W.dtype)
        return cls(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), chains=chains, tx=tx)


def create_state(key: jax.Array, tx: optax.GradientTransformation, *, num_visible: int, num_hidden: int,
                 data_mean=None, chains=None, init_scale: float = 0.01) -> RBMTrainState:
    """A fresh train state: parameters from :func:`~ebm_jax.models.rbm.init_rbm` (``key``),
    and for PCD the ``(C, V)`` binary ``chains`` (``None`` for CD)."""
    checks.optimizer(tx)
    init_scale = checks.nonnegative_float(init_scale, "init_scale")
    params = init_rbm(checks.prng_key(key), num_visible, num_hidden, scale=init_scale, data_mean=data_mean)
    return RBMTrainState.create(params, tx, chains)


def make_train_step(method: str, k: int, *, binarize: bool = True) -> Callable:
    """``step_fn(state, batch, key) -> (state, metrics)`` for :func:`ebm_jax.train.fit`.

    Args:
      method: ``"cd"`` (chains start at the data, ``k`` Gibbs sweeps) or
        ``"pcd"`` (``state.chains`` advance ``k`` sweeps and persist).
      k: Gibbs sweeps per update, ``1 <= k <=`` :data:`ebm_jax.samplers.MAX_K`.
      binarize: draw a fresh Bernoulli binarization of the ``[0, 1]`` batch
        (dynamic binarization); ``False`` expects a binary batch.

    The batch is ``(B, V)``. Metrics: ``loss`` (free-energy gap
    ``mean F(data) - mean F(neg)``), ``fe_data``, ``fe_neg``, ``chains_finite``
    (no extra matrix products beyond the gradient's: 6 of size ``B x V x H`` per step for k = 1).
    """
    checks.one_of(method, "method", ESTIMATORS)
    binarize = checks.boolean(binarize, "binarize")
    k = check_k(k)

    def step_fn(state: RBMTrainState, batch: jax.Array, key: jax.Array):
        bkey, ckey = jax.random.split(key)
        v = binarize_dynamic(bkey, batch) if binarize else batch
        result, chains = contrastive_step(method, ckey, state.params, v, state.chains, energy_fn=free_energy,
                                          algorithm=GIBBS, k=k)
        updates, opt_state = state.tx.update(result.grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        finite = jnp.all(jnp.isfinite(result.negatives))
        # A chain that went non-finite makes the loss NaN so the loop stops loudly.
        loss = jnp.where(finite, result.loss, jnp.nan)
        metrics = {"loss": loss, "fe_data": result.info.energy_data, "fe_neg": result.info.energy_neg,
                   "chains_finite": finite.astype(jnp.float32)}
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state, chains=chains), metrics

    return step_fn
