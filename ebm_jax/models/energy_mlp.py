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

from ebm_jax import checks


class EnergyMLP(nn.Module):
    """``(..., D) -> (...)`` scalar energy."""

    hidden: Sequence[int] = (128, 128)
    prior_scale: float = 0.0

    def __post_init__(self):
        # checked where the module is built, before any tracing (a zero-width layer or a NaN
        # prior scale would otherwise give a silently constant or NaN energy)
        if isinstance(self.hidden, (str, bytes)) or not isinstance(self.hidden, (tuple, list)):
            raise TypeError(f"hidden must be a tuple of widths, got {type(self.hidden).__name__} {self.hidden!r}")
        for i, width in enumerate(self.hidden):
            checks.positive_int(width, f"hidden[{i}]")
        checks.nonnegative_float(self.prior_scale, "prior_scale")
        super().__post_init__()

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
    checks.instance(model, "model", EnergyMLP, "ebm_jax.models.energy_mlp.EnergyMLP")
    return lambda params, x: model.apply({"params": params}, x)
