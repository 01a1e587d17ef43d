"""Train step and evaluation for :class:`ebm_jax.models.vae.Autoencoder`."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state
from tqdm.auto import tqdm

from ebm_jax import losses
from ebm_jax.data import transforms
from ebm_jax.models import vae as vae_lib


def validate_images(x, output_dim: int, name: str = "x") -> None:
    """Require float images ``(N, output_dim)`` with N > 0 and values in ``[0, 1]``."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != output_dim:
        raise ValueError(f"{name} must have shape (N, {output_dim}) (flattened images), got {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 images")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name} must be floating point in [0, 1], got {x.dtype} (use ebm_jax.data.to_float)")
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise ValueError(f"{name} must hold finite values in [0, 1]")


LR_SCHEDULES = ("constant", "cosine")


def create_state(model: vae_lib.Autoencoder, key: jax.Array, learning_rate: float, *,
                 schedule: str = "constant", total_steps: int | None = None) -> train_state.TrainState:
    """Initialise parameters and an Adam optimiser.

    ``schedule="cosine"`` decays the learning rate to 0 over ``total_steps``
    (``optax.cosine_decay_schedule``); ``"constant"`` keeps it fixed.
    """
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"schedule must be one of {LR_SCHEDULES}, got {schedule!r}")
    if schedule == "cosine":
        if not total_steps or total_steps < 1:
            raise ValueError(f"a cosine schedule needs total_steps >= 1, got {total_steps!r}")
        learning_rate = optax.cosine_decay_schedule(learning_rate, total_steps)
    params = model.init(key, jnp.zeros((1, model.output_dim), jnp.float32), key)["params"]
    return train_state.TrainState.create(apply_fn=model.apply, params=params, tx=optax.adam(learning_rate))


def make_train_step(model: vae_lib.Autoencoder, *, binarization: str = "dynamic", iwae_k: int = 1):
    """``(state, x, key) -> (state, metrics)`` for :func:`ebm_jax.train.fit`.

    ``x`` is a ``(B, 784)`` float batch in ``[0, 1]``; with ``binarization="dynamic"``
    each step draws a fresh Bernoulli sample of it.
    """
    if binarization not in transforms.BINARIZATIONS:
        raise ValueError(f"binarization must be one of {transforms.BINARIZATIONS}, got {binarization!r}")
    if not isinstance(iwae_k, int) or iwae_k < 1:
        raise ValueError(f"iwae_k must be a positive integer, got {iwae_k!r}")
    if model.kind == "ae" and iwae_k != 1:
        raise ValueError("iwae_k > 1 needs a VAE (kind='vae')")
    loss_fn = (functools.partial(vae_lib.vae_loss, model, iwae_k=iwae_k) if model.kind == "vae"
               else functools.partial(vae_lib.ae_loss, model))

    def step(state, x, key):
        binarize_key, sample_key = jax.random.split(key)
        x = transforms.prepare_inputs(binarize_key, x, binarization)
        grads, metrics = jax.grad(lambda p: loss_fn(p, x, sample_key), has_aux=True)(state.params)
        return state.apply_gradients(grads=grads), metrics

    return step


@functools.partial(jax.jit, static_argnums=0)
def _elbo_terms(model, params, x, key):
    if model.kind == "ae":
        logits, _, _ = model.apply({"params": params}, x)
        return -losses.bernoulli_log_likelihood(logits, x), jnp.zeros(x.shape[0], x.dtype)
    return vae_lib.negative_elbo_terms(model, params, x, key)


def evaluate(model: vae_lib.Autoencoder, params, x: np.ndarray, key: jax.Array, batch_size: int = 1000) -> dict:
    """Mean −ELBO, reconstruction and KL (nats per image) over ``x`` ``(N, D)``.

    For the AE, ``recon`` is −log p(x | μ(x)) and there is no KL or ELBO.
    """
    recon, kl = [], []
    for i in range(0, len(x), batch_size):
        r, k = _elbo_terms(model, params, jnp.asarray(x[i:i + batch_size]), jax.random.fold_in(key, i))
        recon.append(np.asarray(r))
        kl.append(np.asarray(k))
    recon, kl = np.concatenate(recon), np.concatenate(kl)
    out = {"recon": float(recon.mean())}
    if model.kind == "vae":
        out.update(kl=float(kl.mean()), neg_elbo=float((recon + kl).mean()))
    return out


@functools.partial(jax.jit, static_argnums=(0, 4, 5))
def _log_likelihood_bound(model, params, x, key, num_samples, chunk):
    """log (1/k) Σ_i w_i for a batch, accumulated over chunks of samples: ``(B,)``."""

    def body(running, i):
        log_w = vae_lib.log_importance_weights(model, params, x, jax.random.fold_in(key, i), chunk)
        return jnp.logaddexp(running, jax.nn.logsumexp(log_w, axis=0)), None

    init = jnp.full(x.shape[:1], -jnp.inf, x.dtype)
    total, _ = jax.lax.scan(body, init, jnp.arange(num_samples // chunk))
    return total - jnp.log(num_samples)


def importance_sampled_log_likelihood(model: vae_lib.Autoencoder, params, x: np.ndarray, key: jax.Array, *,
                                      num_samples: int = 5000, batch_size: int = 100, chunk: int = 500,
                                      progress: bool = True) -> np.ndarray:
    """Per-example log p(x) ≈ log (1/k) Σ_{i≤k} p(x, z_i) / q(z_i | x), z_i ~ q(z | x): ``(N,)``.

    This is the IWAE bound L_k (Burda et al. 2015); with k = 5000 it is the
    standard estimate of the test log-likelihood. Samples are drawn ``chunk`` at
    a time to bound memory (``num_samples`` must be a multiple of ``chunk``).
    """
    if model.kind != "vae":
        raise ValueError("importance sampling needs a VAE (kind='vae')")
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    chunk = min(chunk, num_samples)
    if num_samples % chunk:
        raise ValueError(f"num_samples ({num_samples}) must be a multiple of chunk ({chunk})")
    out = []
    for i in tqdm(range(0, len(x), batch_size), desc=f"log p(x), k={num_samples}", disable=None if progress else True):
        out.append(np.asarray(_log_likelihood_bound(model, params, jnp.asarray(x[i:i + batch_size]),
                                                    jax.random.fold_in(key, i), num_samples, chunk)))
    return np.concatenate(out)
