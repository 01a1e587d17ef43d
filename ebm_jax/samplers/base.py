"""The sampler protocol (blackjax's ``SamplingAlgorithm``, with the energy parameters explicit).

A sampler moves *one* chain and is a pair of pure functions::

    state = algorithm.init(position, params)
    state, info = algorithm.step(rng_key, state, params)

* ``State`` is a ``NamedTuple`` with at least a ``position`` field (the chain's
  current point, e.g. ``(D,)``) and whatever the step can reuse, such as the
  cached energy of the position (random-walk MH evaluates the energy once per
  step, at the proposal).
* ``Info`` is a ``NamedTuple`` describing the transition; every info has an
  ``acceptance_rate`` field (the acceptance probability of the move; ``1`` for
  a Gibbs sweep, which always moves).
* ``params`` are the parameters of the energy (or of a tempered target). They
  are an argument of ``init`` and ``step`` instead of being closed over,
  because training changes them at every update: a sampler is built once, and
  a state cached under old parameters is initialised again (``init``) under new ones.

:func:`ebm_jax.samplers.run_chain` maps a sampler over chains (``vmap``) and
over steps (``lax.scan``). This package knows no model: a model supplies its
own samplers (the RBM its block-Gibbs sweep) in this shape.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax

Position = jax.Array
Params = Any
EnergyFn = Callable[[Params, jax.Array], jax.Array]


def check_algorithm(algorithm, name: str = "algorithm") -> "SamplingAlgorithm":
    """``algorithm`` if it is a :class:`SamplingAlgorithm` (callable ``init`` and ``step``), else a TypeError."""
    if not (isinstance(algorithm, tuple) and hasattr(algorithm, "init") and hasattr(algorithm, "step")
            and callable(algorithm.init) and callable(algorithm.step)):
        raise TypeError(f"{name} must be a SamplingAlgorithm(init, step) (e.g. ebm_jax.samplers.rwmh(energy_fn, "
                        f"step_size) or ebm_jax.models.rbm.GIBBS), got {type(algorithm).__name__} {algorithm!r}"[:300])
    return algorithm


class SamplingAlgorithm(NamedTuple):
    """``init(position, params) -> State`` and ``step(rng_key, state, params) -> (State, Info)`` for one chain."""

    init: Callable[[Position, Params], Any]
    step: Callable[[jax.Array, Any, Params], tuple[Any, Any]]
