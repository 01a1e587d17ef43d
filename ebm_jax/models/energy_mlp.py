"""A small MLP energy ``E_θ: R^D -> R`` for continuous data (trained by :mod:`ebm_jax.methods.energy_mlp`).

    E_θ(x) = f_θ(x) + ‖x‖^2 / (2 s^2)

``f_θ`` is an MLP (swish activations); the optional quadratic term (``s =
prior_scale``, 0 disables it) keeps ``exp(-E)`` normalisable so that MH chains
cannot drift to infinity.
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp


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


def energy_fn_of(model: EnergyMLP) -> Callable:
    """``energy_fn(params, x (..., D)) -> (...)`` for the samplers; ``params`` is the plain parameter tree."""
    return lambda params, x: model.apply({"params": params}, x)
