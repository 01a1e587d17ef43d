"""MCMC transition kernels, as pure functions ``kernel(key, x, params) -> x``.

A kernel moves *one* chain; :func:`ebm_jax.samplers.run_chain` ``vmap``s it over
chains (a batched matrix product for the RBM) and ``lax.scan``s it over steps.

* :func:`rbm_gibbs_kernel`: one block-Gibbs sweep of a Bernoulli RBM,
  ``h ~ p(h | v)``, then ``v' ~ p(v | h)``. It leaves ``p(v) ∝ exp(-F(v))`` invariant.
* :func:`make_rwmh_kernel`: random-walk Metropolis–Hastings for a continuous
  energy ``E``: propose ``x' = x + σ ε`` with ``ε ~ N(0, I)`` and accept with
  probability ``min(1, exp(E(x) - E(x')))``; it leaves ``p(x) ∝ exp(-E(x))``
  invariant. A proposal whose energy is NaN is rejected.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from ebm_jax.models.rbm import RBMParams, hidden_probs, visible_probs

Kernel = Callable[[jax.Array, jax.Array, object], jax.Array]
EnergyFn = Callable[[object, jax.Array], jax.Array]


def rbm_gibbs_kernel(key: jax.Array, v: jax.Array, params: RBMParams) -> jax.Array:
    """One block-Gibbs sweep ``v -> h -> v'`` of a Bernoulli RBM; ``v`` is ``(V,)`` in {0,1}."""
    kh, kv = jax.random.split(key)
    h = jax.random.bernoulli(kh, hidden_probs(params, v)).astype(v.dtype)
    return jax.random.bernoulli(kv, visible_probs(params, h)).astype(v.dtype)


def make_rwmh_kernel(energy_fn: EnergyFn, step_size: float) -> Kernel:
    """Random-walk Metropolis–Hastings kernel for ``energy_fn(params, x) -> scalar``.

    Args:
      energy_fn: ``(params, x (..., D)) -> (...)`` energy, lower is more probable.
      step_size: proposal standard deviation ``σ > 0``.

    Returns:
      ``kernel(key, x (D,), params) -> x' (D,)``. A chain changed iff the move was
      accepted, so the acceptance rate is ``mean(x' != x)``.
    """
    if not callable(energy_fn):
        raise TypeError(f"energy_fn must be callable, got {type(energy_fn).__name__}")
    if not isinstance(step_size, (int, float)) or not step_size > 0:
        raise ValueError(f"step_size must be a positive number, got {step_size!r}")

    def kernel(key: jax.Array, x: jax.Array, params) -> jax.Array:
        kp, ku = jax.random.split(key)
        proposal = x + step_size * jax.random.normal(kp, x.shape, x.dtype)
        log_ratio = energy_fn(params, x) - energy_fn(params, proposal)
        accept = jnp.log(jax.random.uniform(ku, (), x.dtype)) < log_ratio  # NaN -> False (reject)
        return jnp.where(accept, proposal, x)

    return kernel
