"""Contrastive-divergence gradient estimators over any kernel: CD-k and persistent CD.

For an energy ``E_θ`` (the free energy ``F`` for an RBM) the negative
log-likelihood gradient is ``E_data[∇E_θ(x)] - E_model[∇E_θ(x)]``. Both
estimators minimise the contrastive loss

    L(θ) = mean_b E_θ(x_b^+) - mean_c E_θ(stop_gradient(x_c^-))

pushing the energy of data ``x^+`` down and of negative samples ``x^-`` up:

* CD-k (Hinton 2002): ``x^-`` = ``k`` kernel steps started *at the data batch*;
* PCD  (Tieleman 2008): ``x^-`` = ``k`` kernel steps from persistent chains
  carried across updates (the caller keeps them in its train state).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax.samplers.chains import run_chain
from ebm_jax.samplers.kernels import Kernel

EnergyFn = Callable[[object, jax.Array], jax.Array]


def _check_k(k) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k (number of MCMC steps) must be an integer >= 1, got {k!r}")


def contrastive_loss(energy_fn: EnergyFn, params, x_pos: jax.Array, x_neg: jax.Array) -> jax.Array:
    """``mean E(x_pos) - mean E(stop_gradient(x_neg))`` (scalar).

    The energy is evaluated once on the concatenation ``[x_pos; x_neg]`` so that a
    linear first layer (the RBM's ``v W``) is one larger matrix product forward and
    one backward instead of two small ones each.
    """
    return _loss_and_mean_energies(energy_fn, params, x_pos, x_neg)[0]


def _loss_and_mean_energies(energy_fn, params, x_pos, x_neg):
    b = x_pos.shape[0]
    e = energy_fn(params, jnp.concatenate([x_pos, jax.lax.stop_gradient(x_neg)], axis=0))
    e_pos, e_neg = jnp.mean(e[:b]), jnp.mean(e[b:])
    return e_pos - e_neg, (e_pos, e_neg)


def _contrastive_grad(energy_fn, params, x_pos, x_neg, return_energies):
    (loss, energies), grads = jax.value_and_grad(
        lambda p: _loss_and_mean_energies(energy_fn, p, x_pos, x_neg), has_aux=True)(params)
    return (loss, grads, x_neg, energies) if return_energies else (loss, grads, x_neg)


def cd_k(key: jax.Array, params, x_data: jax.Array, *, energy_fn: EnergyFn, kernel: Kernel, k: int,
         return_energies: bool = False):
    """CD-k: ``k`` kernel steps from the data, then the contrastive gradient.

    Args:
      key: PRNG key.
      params: energy/kernel parameters (any pytree).
      x_data: ``(B, ...)`` data batch; also the chains' starting point.
      energy_fn: ``(params, x (..., D)) -> (...)``.
      kernel: ``(key, x, params) -> x`` for one chain.
      k: number of kernel steps, ``>= 1``.
      return_energies: also return ``(mean E(x_data), mean E(x_neg))``, taken from the
        loss's own forward pass (recomputing them would cost two more energy passes).

    Returns:
      ``(loss, grads, x_neg)``: the contrastive loss, its gradient w.r.t. ``params``
      (same pytree structure), and the ``(B, ...)`` negative samples; with
      ``return_energies``, ``(loss, grads, x_neg, (e_data, e_neg))``.
    """
    _check_k(k)
    x_neg = run_chain(kernel, key, x_data, params, k)
    return _contrastive_grad(energy_fn, params, x_data, x_neg, return_energies)


def pcd(key: jax.Array, params, x_data: jax.Array, chains: jax.Array, *, energy_fn: EnergyFn,
        kernel: Kernel, k: int = 1, return_energies: bool = False):
    """Persistent CD: advance the persistent ``chains (C, ...)`` by ``k`` steps, then the gradient.

    Returns ``(loss, grads, new_chains)`` (plus the two mean energies with
    ``return_energies``, as :func:`cd_k`); store ``new_chains`` back in the train
    state. The number of chains ``C`` need not equal the batch size.
    """
    _check_k(k)
    if chains.ndim < 1 or chains.shape[0] < 1:
        raise ValueError(f"chains must have shape (num_chains, ...) with num_chains >= 1, got {chains.shape}")
    if chains.shape[1:] != x_data.shape[1:]:
        raise ValueError(f"chains {chains.shape} and x_data {x_data.shape} must agree after the leading axis")
    new_chains = run_chain(kernel, key, chains, params, k)
    return _contrastive_grad(energy_fn, params, x_data, new_chains, return_energies)
