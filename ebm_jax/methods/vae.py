"""VAE and classic autoencoder training: the objective, ``create_state`` and ``make_train_step``.

The model is :class:`ebm_jax.models.vae.Autoencoder`. A batch is ``x`` ``(B, D)``
of floats in ``[0, 1]``; with ``binarization="dynamic"`` every step trains on
a fresh Bernoulli draw of it. The VAE minimises the negative ELBO (or, with
``iwae_k > 1``, the negative IWAE bound −L_k); the AE the reconstruction
cross-entropy alone. Test-set evaluations are in :mod:`ebm_jax.eval.likelihood`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax.training import train_state

from ebm_jax import checks, losses
from ebm_jax.data import transforms
from ebm_jax.models import vae as vae_lib
from ebm_jax.train.optim import make_optimizer


def vae_loss(model: vae_lib.Autoencoder, params, x: jax.Array, key: jax.Array, iwae_k: int = 1):
    """Training loss and its parts, averaged over the batch.

    ``iwae_k == 1``: the negative ELBO ``recon + kl``. ``iwae_k > 1``: the negative
    IWAE bound −L_k (Burda et al. 2015), with ``recon``/``kl`` still reported
    from a single-sample ELBO for comparability.
    """
    iwae_k = checks.positive_int(iwae_k, "iwae_k")
    recon, kl = vae_lib.negative_elbo_terms(model, params, x, key)
    if iwae_k == 1:
        loss = jnp.mean(recon + kl)
    else:
        log_w = vae_lib.log_importance_weights(model, params, x, jax.random.fold_in(key, 1), iwae_k)
        loss = -jnp.mean(losses.iwae_bound(log_w))
    return loss, {"loss": loss, "recon": jnp.mean(recon), "kl": jnp.mean(kl)}


def ae_loss(model: vae_lib.Autoencoder, params, x: jax.Array, key: jax.Array | None = None):
    """Classic AE: mean Bernoulli reconstruction cross-entropy ``−log p(x | μ(x))``."""
    x = vae_lib.check_inputs(model, params, x, key, need_key=False)
    logits, _, _ = model.apply({"params": params}, x)
    recon = jnp.mean(-losses.bernoulli_log_likelihood(logits, x))
    return recon, {"loss": recon, "recon": recon}


def validate_images(x, output_dim: int, name: str = "x") -> None:
    """Require float images ``(N, output_dim)`` with N > 0 and values in ``[0, 1]``."""
    output_dim = checks.positive_int(output_dim, "output_dim")
    x = np.asarray(checks.float_array(x, name, allow_int=False, nonempty=False, finite=False))
    if x.ndim != 2 or x.shape[1] != output_dim:
        raise ValueError(f"{name} must have shape (N, {output_dim}) (flattened images), got {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 images")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name} must be floating point in [0, 1], got {x.dtype} (use ebm_jax.data.to_float)")
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise ValueError(f"{name} must hold finite values in [0, 1]")


def create_state(key: jax.Array, model: vae_lib.Autoencoder, learning_rate, *, optimizer: str = "adam",
                 schedule: str = "constant", total_steps: int | None = None,
                 **optimizer_options) -> train_state.TrainState:
    """Initialise the parameters (``state.params``) and the optimiser.

    The optimiser is :func:`ebm_jax.train.optim.make_optimizer` ``(optimizer,
    learning_rate, schedule=..., total_steps=..., **optimizer_options)``:
    Adam by default; ``schedule="cosine"`` decays the rate to 0 over
    ``total_steps``. The learning rate must be finite and > 0.
    """
    key = checks.prng_key(key)
    checks.instance(model, "model", vae_lib.Autoencoder, "ebm_jax.models.vae.Autoencoder")
    tx = make_optimizer(optimizer, learning_rate, schedule=schedule, total_steps=total_steps, **optimizer_options)
    params = model.init(key, jnp.zeros((1, model.output_dim), jnp.float32), key)["params"]
    return train_state.TrainState.create(apply_fn=model.apply, params=params, tx=tx)


REDUCTIONS = ("mean", "sum")


def _scaled(loss_and_metrics, scale):
    loss, metrics = loss_and_metrics
    return scale * loss, metrics


def make_train_step(model: vae_lib.Autoencoder, *, binarization: str = "dynamic", iwae_k: int = 1,
                    reduction: str = "mean"):
    """``(state, x, key) -> (state, metrics)`` for :func:`ebm_jax.train.fit`.

    ``x`` is a ``(B, D)`` float batch in ``[0, 1]``; with ``binarization="dynamic"``
    each step draws a fresh Bernoulli sample of it. The gradient is that of the
    batch mean of the loss (``reduction="mean"``) or of its batch sum
    (``"sum"``, PyTorch's ``reduction='sum'`` as in the course notebook: B times
    the gradient, which matters to the optimiser only through Adam's ε or a
    rate that is not scale-free). ``metrics`` holds ``loss``, ``recon`` and
    (VAE) ``kl``, batch means in nats per image either way.
    """
    checks.instance(model, "model", vae_lib.Autoencoder, "ebm_jax.models.vae.Autoencoder")
    checks.one_of(binarization, "binarization", transforms.BINARIZATIONS)
    checks.one_of(reduction, "reduction", REDUCTIONS)
    iwae_k = checks.positive_int(iwae_k, "iwae_k")
    if model.kind == "ae" and iwae_k != 1:
        raise ValueError("iwae_k > 1 needs a VAE (kind='vae')")
    loss_fn = (functools.partial(vae_loss, model, iwae_k=iwae_k) if model.kind == "vae"
               else functools.partial(ae_loss, model))

    def step(state, x, key):
        binarize_key, sample_key = jax.random.split(key)
        x = transforms.prepare_inputs(binarize_key, x, binarization)
        scale = x.shape[0] if reduction == "sum" else 1
        grads, metrics = jax.grad(lambda p: _scaled(loss_fn(p, x, sample_key), scale), has_aux=True)(state.params)
        return state.apply_gradients(grads=grads), metrics

    return step
