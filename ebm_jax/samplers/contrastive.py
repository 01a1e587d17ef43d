"""Contrastive-divergence gradient estimators over any sampler: CD-k and persistent CD.

For an energy ``E_θ`` (the free energy ``F`` for an RBM) the negative
log-likelihood gradient is ``E_data[∇E_θ(x)] - E_model[∇E_θ(x)]``. Both
estimators minimise the contrastive loss

    L(θ) = mean_b E_θ(x_b^+) - mean_c E_θ(stop_gradient(x_c^-))

pushing the energy of data ``x^+`` down and of negative samples ``x^-`` up:

* CD-k (Hinton 2002): ``x^-`` = ``k`` sampler steps started *at the data batch*;
* PCD  (Tieleman 2008): ``x^-`` = ``k`` sampler steps from persistent chains
  carried across updates (the caller keeps their positions in its train state;
  they are re-``init``-ed under the current parameters at every update).

The sampler is any :class:`~ebm_jax.samplers.base.SamplingAlgorithm`; a method
name such as ``"cd1"`` or ``"pcd10"`` is read by :func:`parse_method`.
"""

from __future__ import annotations

import re
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from ebm_jax import checks
from ebm_jax.samplers.base import EnergyFn, SamplingAlgorithm, check_algorithm
from ebm_jax.samplers.chains import run_chain

#: Largest number of sampler steps per update (one compiled train step); more would run for hours.
MAX_K = 10_000
ESTIMATORS = ("cd", "pcd")


def check_k(k) -> int:
    """``k`` as an ``int`` in ``[1, MAX_K]`` (numpy integers accepted)."""
    return checks.integer(k, "k (number of sampler steps per update)", ge=1, le=MAX_K)


def parse_method(name: str, error: Callable[[str], Exception] = ValueError) -> tuple[str, int]:
    """``"cd1"`` -> ``("cd", 1)``, ``"pcd10"`` -> ``("pcd", 10)``: the estimator and its ``k``."""
    m = re.fullmatch(r"(p?cd)(\d+)", name) if isinstance(name, str) else None
    if not m:
        raise error(f"a contrastive method must be 'cd<k>' or 'pcd<k>' (e.g. 'cd1', 'pcd10'), got {name!r}")
    kind, k = m.group(1), int(m.group(2))
    if not 1 <= k <= MAX_K:
        raise error(f"{name!r}: k must be in [1, {MAX_K}], got {k}")
    return kind, k


class ContrastiveInfo(NamedTuple):
    """Mean energy of the data and of the negatives (from the loss's own forward pass), and the
    sampler's acceptance rate averaged over chains and steps."""

    energy_data: jax.Array
    energy_neg: jax.Array
    acceptance_rate: jax.Array


class ContrastiveResult(NamedTuple):
    """``loss``, its ``grads`` (same pytree as the params), the ``negatives (C, ...)`` and an ``info``."""

    loss: jax.Array
    grads: Any
    negatives: jax.Array
    info: ContrastiveInfo


def _check_batch(x, name: str) -> jax.Array:
    """A finite (where concrete), non-empty float batch ``(B, ...)`` with a feature axis."""
    return checks.float_array(x, name, min_ndim=2)


def _loss_and_mean_energies(energy_fn, params, x_pos, x_neg):
    """``(mean E(x_pos) - mean E(stop_gradient(x_neg)), (mean E(x_pos), mean E(x_neg)))``.

    The energy is evaluated once on the concatenation ``[x_pos; x_neg]`` so that a
    linear first layer (the RBM's ``v W``) is one larger matrix product forward and
    one backward instead of two small ones each.
    """
    b = x_pos.shape[0]
    e = energy_fn(params, jnp.concatenate([x_pos, jax.lax.stop_gradient(x_neg)], axis=0))
    e_pos, e_neg = jnp.mean(e[:b]), jnp.mean(e[b:])
    return e_pos - e_neg, (e_pos, e_neg)


def _estimate(key, params, x_data, start, energy_fn, algorithm, k):
    chain = run_chain(algorithm, key, start, params, k)
    x_neg = chain.state.position
    (loss, (e_pos, e_neg)), grads = jax.value_and_grad(
        lambda p: _loss_and_mean_energies(energy_fn, p, x_data, x_neg), has_aux=True)(params)
    return ContrastiveResult(loss, grads, x_neg,
                             ContrastiveInfo(e_pos, e_neg, jnp.mean(chain.info.acceptance_rate)))


def cd_k(key: jax.Array, params, x_data: jax.Array, *, energy_fn: EnergyFn, algorithm: SamplingAlgorithm,
         k: int) -> ContrastiveResult:
    """CD-k: ``k`` sampler steps from the data, then the contrastive gradient.

    Args:
      key: PRNG key.
      params: energy/sampler parameters (any pytree).
      x_data: ``(B, ...)`` data batch; also the chains' starting point.
      energy_fn: ``(params, x (..., D)) -> (...)``.
      algorithm: sampler for one chain (``init(x, params)``, ``step(key, state, params)``).
      k: sampler steps, ``1 <= k <=`` :data:`MAX_K`.

    Returns:
      :class:`ContrastiveResult` ``(loss, grads, negatives (B, ...), info)``.
    """
    k = check_k(k)
    key, x_data = _check_common(key, x_data, energy_fn, algorithm)
    return _estimate(key, params, x_data, x_data, energy_fn, algorithm, k)


def _check_common(key, x_data, energy_fn, algorithm):
    checks.function(energy_fn, "energy_fn")
    check_algorithm(algorithm)
    return checks.prng_key(key), _check_batch(x_data, "x_data")


def pcd(key: jax.Array, params, x_data: jax.Array, chains: jax.Array, *, energy_fn: EnergyFn,
        algorithm: SamplingAlgorithm, k: int = 1) -> ContrastiveResult:
    """Persistent CD: advance the persistent ``chains (C, ...)`` by ``k`` steps, then the gradient.

    ``result.negatives`` are the new chain positions: store them back in the train
    state. The number of chains ``C`` need not equal the batch size.
    """
    k = check_k(k)
    key, x_data = _check_common(key, x_data, energy_fn, algorithm)
    chains = _check_batch(chains, "chains")
    if chains.shape[1:] != x_data.shape[1:]:
        raise ValueError(f"chains {chains.shape} and x_data {x_data.shape} must agree after the leading axis")
    return _estimate(key, params, x_data, chains, energy_fn, algorithm, k)


def contrastive_step(method: str, key: jax.Array, params, x_data: jax.Array, chains, *, energy_fn: EnergyFn,
                     algorithm: SamplingAlgorithm, k: int) -> tuple[ContrastiveResult, Any]:
    """:func:`cd_k` (``method="cd"``, ``chains`` passed through) or :func:`pcd` (``"pcd"``, the negatives
    become the new chains): ``(result, chains to store in the train state)``."""
    if method == "cd":
        return cd_k(key, params, x_data, energy_fn=energy_fn, algorithm=algorithm, k=k), chains
    if method != "pcd":
        raise ValueError(f"method must be one of {ESTIMATORS}, got {method!r}")
    if chains is None:
        raise ValueError("method='pcd' needs persistent chains: create the train state with chains=(C, ...) array")
    result = pcd(key, params, x_data, chains, energy_fn=energy_fn, algorithm=algorithm, k=k)
    return result, result.negatives
