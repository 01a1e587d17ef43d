"""Random-walk Metropolis–Hastings for a continuous energy ``E`` (target ``p(x) ∝ exp(-E(x))``).

From ``x`` propose ``x' = x + σ ε`` with ``ε ~ N(0, I)`` and accept with
probability ``min(1, exp(E(x) - E(x')))``. The state caches ``E(x)``, so one
step evaluates the energy once (at the proposal). A proposal whose energy is
NaN is rejected. The same transition as blackjax's
``normal_random_walk(lambda x: -E(x), σ)`` (same key split, same decision; see
``tests/test_samplers.py``).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ebm_jax import checks
from ebm_jax.samplers.base import EnergyFn, SamplingAlgorithm


class RWMHState(NamedTuple):
    """``position (D,)`` and its cached ``energy`` (scalar) under the params it was computed with."""

    position: jax.Array
    energy: jax.Array


class RWMHInfo(NamedTuple):
    """``acceptance_rate = min(1, exp(E(x) - E(x')))``; ``is_accepted``; the proposal's ``proposal_energy``."""

    acceptance_rate: jax.Array
    is_accepted: jax.Array
    proposal_energy: jax.Array


def rwmh(energy_fn: EnergyFn, step_size) -> SamplingAlgorithm:
    """Random-walk MH sampler for ``energy_fn(params, x (..., D)) -> (...)``, proposal std ``step_size > 0``.

    Returns a :class:`~ebm_jax.samplers.base.SamplingAlgorithm` over one chain:
    ``init(x (D,), params) -> RWMHState`` and
    ``step(key, state, params) -> (RWMHState, RWMHInfo)``.
    """
    if not callable(energy_fn):
        raise TypeError(f"energy_fn must be callable, got {type(energy_fn).__name__}")
    step_size = checks.positive_float(step_size, "step_size")

    def init(position, params) -> RWMHState:
        position = jnp.asarray(position)
        return RWMHState(position, energy_fn(params, position))

    def step(rng_key, state: RWMHState, params):
        key_proposal, key_accept = jax.random.split(rng_key)
        x = state.position
        proposal = x + step_size * jax.random.normal(key_proposal, x.shape, x.dtype)
        proposal_energy = energy_fn(params, proposal)
        log_ratio = state.energy - proposal_energy
        log_ratio = jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio)   # NaN energy: reject
        accept = jnp.log(jax.random.uniform(key_accept, (), x.dtype)) < log_ratio
        new = RWMHState(jnp.where(accept, proposal, x), jnp.where(accept, proposal_energy, state.energy))
        info = RWMHInfo(jnp.minimum(1.0, jnp.exp(log_ratio)), accept, proposal_energy)
        return new, info

    return SamplingAlgorithm(init, step)
