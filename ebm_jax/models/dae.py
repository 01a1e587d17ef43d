"""Denoising autoencoder (Vincent et al. 2008) and its reconstruction-error energy.

A DAE ``r = g ∘ f`` is trained (:mod:`ebm_jax.methods.dae`) to map a corrupted
``x~ ~ C(x~ | x)`` back to ``x``. Its energy is the reconstruction error of the
clean input, ``E(x) = |x - r(x)|^2``. The contrastive reading (the lecture):
corrupted points are the negatives whose energy is pushed up (through ``r``
mapping them back); regions that corruption never reaches get no training signal.

``params`` below is the plain parameter tree (``state.params``).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

LOSSES = ("bce", "mse")


class DAE(nn.Module):
    """MLP autoencoder ``(..., D) -> (..., D)``; returns logits (``bce``) or values (``mse``)."""

    hidden: Sequence[int] = (512,)
    latent: int = 128
    out_dim: int = 784

    def setup(self):
        self.enc = [nn.Dense(w) for w in self.hidden] + [nn.Dense(self.latent)]
        self.dec = [nn.Dense(w) for w in reversed(self.hidden)] + [nn.Dense(self.out_dim)]

    def encode(self, x):
        for layer in self.enc[:-1]:
            x = nn.relu(layer(x))
        return self.enc[-1](x)

    def decode(self, z):
        h = nn.relu(z)
        for layer in self.dec[:-1]:
            h = nn.relu(layer(h))
        return self.dec[-1](h)

    def __call__(self, x):
        return self.decode(self.encode(x))


def output_to_reconstruction(out: jax.Array, loss: str) -> jax.Array:
    """``r(x)`` from the network's output: sigmoid of the logits for ``bce``, the raw output for ``mse``."""
    return jax.nn.sigmoid(out) if loss == "bce" else out


def reconstruct(model: DAE, params, x: jax.Array, loss: str) -> jax.Array:
    """``r(x)``, shape ``(..., D)``."""
    return output_to_reconstruction(model.apply({"params": params}, x), loss)


def reconstruction_energy(model: DAE, params, x: jax.Array, loss: str = "mse") -> jax.Array:
    """``E(x) = sum_d (x_d - r(x)_d)^2``, shape ``(...)``."""
    return jnp.sum(jnp.square(x - reconstruct(model, params, x, loss)), axis=-1)
