"""Training a denoising autoencoder: corrupt the batch, reconstruct, compare with the clean batch.

    L(θ) = E_x E_{x~|x} ℓ(r_θ(x~), x)

with ``ℓ`` the Bernoulli cross-entropy on logits (``"bce"``, images in [0, 1]) or
the squared error (``"mse"``, continuous data), summed over dimensions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax.training import train_state

from ebm_jax import checks
from ebm_jax.data.corruptions import corrupt, validate_corruption
from ebm_jax.models.dae import DAE, LOSSES, output_to_reconstruction


def create_state(key: jax.Array, model: DAE, tx: optax.GradientTransformation, *, dim: int
                 ) -> train_state.TrainState:
    """Parameters initialised from ``key`` (``state.params`` is the plain tree) and optimiser ``tx``."""
    key = checks.prng_key(key)
    checks.instance(model, "model", DAE, "ebm_jax.models.dae.DAE")
    checks.optimizer(tx)
    dim = checks.positive_int(dim, "dim")
    params = model.init(key, jnp.zeros((1, dim), jnp.float32))["params"]
    return train_state.TrainState.create(apply_fn=model.apply, params=params, tx=tx)


def reconstruction_loss(out: jax.Array, target: jax.Array, loss: str) -> jax.Array:
    """Per-example loss summed over dimensions, averaged over the batch (scalar).

    ``out`` and ``target`` ``(B, D)`` of the same shape; for ``"bce"`` the target lies in [0, 1]
    (checked where concrete)."""
    checks.one_of(loss, "loss", LOSSES)
    out = checks.float_array(out, "out", min_ndim=1)
    target = checks.float_array(target, "target", min_ndim=1, domain="unit" if loss == "bce" else None)
    checks.check_shape(target, "target", out.shape)
    if loss == "bce":
        return jnp.mean(jnp.sum(optax.sigmoid_binary_cross_entropy(out, target), axis=-1))
    return jnp.mean(jnp.sum(jnp.square(out - target), axis=-1))


def make_train_step(model: DAE, kind: str, level, loss: str = "bce"):
    """``step_fn(state, batch (B, D), key) -> (state, metrics)``: corrupt, reconstruct, compare to clean.

    Metrics: ``loss`` (per-example sum over dimensions, averaged), ``mse`` (mean squared
    error of ``r(x~)`` vs ``x`` per dimension).
    """
    checks.instance(model, "model", DAE, "ebm_jax.models.dae.DAE")
    level = checks.real(level, "level")
    validate_corruption(kind, level)
    checks.one_of(loss, "loss", LOSSES)

    def step_fn(state, batch, key):
        x_tilde = corrupt(key, batch, kind, level)

        def objective(params):
            out = model.apply({"params": params}, x_tilde)
            return reconstruction_loss(out, batch, loss), out

        (value, out), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
        recon = output_to_reconstruction(out, loss)
        state = state.apply_gradients(grads=grads)
        return state, {"loss": value, "mse": jnp.mean(jnp.square(recon - batch))}

    return step_fn
