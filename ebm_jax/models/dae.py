"""Denoising autoencoder (Vincent et al. 2008) and its reconstruction-error energy.

A DAE ``r = g ∘ f`` is trained to map a corrupted ``x~ ~ C(x~ | x)`` back to ``x``:

    L(θ) = E_x E_{x~|x} ℓ(r_θ(x~), x)

with ``ℓ`` the Bernoulli cross-entropy on logits (images in [0, 1]) or the squared
error (continuous data). Its energy is the reconstruction error of the clean input,
``E(x) = |x - r(x)|^2``. The contrastive reading (the lecture): corrupted points
are the negatives whose energy is pushed up (through ``r`` mapping them back);
regions that corruption never reaches get no training signal.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax.training import train_state

from ebm_jax.data.corruptions import corrupt, validate_corruption

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


def reconstruct(model: DAE, params, x: jax.Array, loss: str) -> jax.Array:
    """``r(x)``: sigmoid of the logits for ``bce``, the raw output for ``mse``."""
    out = model.apply(params, x)
    return jax.nn.sigmoid(out) if loss == "bce" else out


def reconstruction_energy(model: DAE, params, x: jax.Array, loss: str = "mse") -> jax.Array:
    """``E(x) = sum_d (x_d - r(x)_d)^2``, shape ``(...)``."""
    return jnp.sum(jnp.square(x - reconstruct(model, params, x, loss)), axis=-1)


def _loss(out, target, loss):
    if loss == "bce":
        return jnp.mean(jnp.sum(optax.sigmoid_binary_cross_entropy(out, target), axis=-1))
    return jnp.mean(jnp.sum(jnp.square(out - target), axis=-1))


def make_dae_train_step(model: DAE, kind: str, level: float, loss: str = "bce"):
    """``step_fn(state, batch (B, D), key) -> (state, metrics)``: corrupt, reconstruct, compare to clean.

    Metrics: ``loss`` (per-example sum over dimensions, averaged), ``mse`` (mean squared
    error of ``r(x~)`` vs ``x`` per dimension).
    """
    validate_corruption(kind, level)
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")

    def step_fn(state, batch, key):
        x_tilde = corrupt(key, batch, kind, level)

        def objective(params):
            out = model.apply(params, x_tilde)
            return _loss(out, batch, loss), out

        (value, out), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
        recon = jax.nn.sigmoid(out) if loss == "bce" else out
        state = state.apply_gradients(grads=grads)
        return state, {"loss": value, "mse": jnp.mean(jnp.square(recon - batch))}

    return step_fn


def create_state(key: jax.Array, model: DAE, dim: int, learning_rate: float) -> train_state.TrainState:
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    params = model.init(key, jnp.zeros((1, dim), jnp.float32))
    return train_state.TrainState.create(apply_fn=model.apply, params=params, tx=optax.adam(learning_rate))
