"""Test-set likelihood estimates of a trained (variational) autoencoder.

* :func:`evaluate_elbo`: mean −ELBO = recon + KL (nats per image), one sample of
  ``z`` per image;
* :func:`importance_sampled_log_likelihood`: log p(x) ≈ L_k, the IWAE bound with
  ``k`` importance samples (k = 5000 is the standard test estimate);
* :func:`evaluate_at_mean`: the course notebook's test loss, cross-entropy of
  ``decode(μ(x))`` plus the KL term, no sampling (grey levels allowed).

Both use the Bernoulli decoder's likelihood, which is a likelihood only for
binary data: they refuse non-binary ``x`` (``evaluate_elbo`` unless
``binary=False``, for models trained on continuous pixels, where the numbers
are cross-entropies, not likelihoods).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from ebm_jax import checks, losses, precision
from ebm_jax.models import vae as vae_lib


def _check_data(x, output_dim: int, binary: bool) -> np.ndarray:
    x = np.asarray(checks.float_array(x, "x", nonempty=False, finite=False, allow_int=False))
    if x.ndim != 2 or x.shape[1] != output_dim or x.shape[0] == 0:
        raise ValueError(f"x must have shape (N, {output_dim}) with N > 0, got {x.shape}")
    checks.check_finite(x, "x")
    if binary:
        checks.check_binary(x, "x")
    else:
        checks.check_in_range(x, "x", 0.0, 1.0)
    return x


@functools.partial(jax.jit, static_argnums=0)
def _elbo_terms(model, params, x, key):
    if model.kind == "ae":
        logits, _, _ = model.apply({"params": params}, x)
        return -losses.bernoulli_log_likelihood(logits, x), jnp.zeros(x.shape[0], x.dtype)
    return vae_lib.negative_elbo_terms(model, params, x, key)


def _float32(model: vae_lib.Autoencoder) -> vae_lib.Autoencoder:
    """The model computing in float32 (a reported number is never computed in bfloat16)."""
    return model if model.compute_dtype in (None, "float32") else model.clone(compute_dtype=None)


@precision.highest
def evaluate_elbo(model: vae_lib.Autoencoder, params, x, key: jax.Array, *, batch_size: int = 1000,
                  binary: bool = True) -> dict:
    """Mean −ELBO, reconstruction and KL (nats per image) over ``x`` ``(N, D)``.

    For the AE, ``recon`` is −log p(x | μ(x)) and there is no KL or ELBO.
    ``binary=True`` requires 0/1 data (the Bernoulli likelihood assumes it).
    """
    checks.instance(model, "model", vae_lib.Autoencoder, "ebm_jax.models.vae.Autoencoder")
    key = checks.prng_key(key)
    x = _check_data(x, model.output_dim, checks.boolean(binary, "binary"))
    batch_size = checks.positive_int(batch_size, "batch_size")
    model = _float32(model)
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


@functools.partial(jax.jit, static_argnums=0)
def _terms_at_mean(model, params, x):
    logits, mean, logvar = model.apply({"params": params}, x)  # no key: z = μ(x)
    recon = -losses.bernoulli_log_likelihood(logits, x)
    kl = (losses.gaussian_kl_to_standard_normal(mean, logvar) if model.kind == "vae"
          else jnp.zeros(x.shape[0], x.dtype))
    return recon, kl


@precision.highest
def evaluate_at_mean(model: vae_lib.Autoencoder, params, x, *, batch_size: int = 1000) -> dict:
    """The test loss of the course notebook (NYU DLSP20 ``11-VAE.ipynb``), per image.

    With ``z = μ(x)`` (the notebook's ``model.eval()`` skips the sampling),
    ``recon = Σ_d BCE(σ(f(μ(x)))_d, x_d)`` and ``kl = KL(q(z | x) ‖ N(0, I))``;
    ``loss = recon + kl`` summed over ``x`` and divided by N, as the notebook
    divides its summed test loss by ``len(test_loader.dataset)``. ``x`` ``(N, D)``
    may hold grey levels in ``[0, 1]``: then ``recon`` is a cross-entropy that
    includes the pixels' own entropy, not a likelihood, and ``loss`` is no bound
    on −log p(x). For the AE, ``kl`` is 0. A bfloat16 model is evaluated in float32.
    """
    checks.instance(model, "model", vae_lib.Autoencoder, "ebm_jax.models.vae.Autoencoder")
    model = _float32(model)
    x = _check_data(x, model.output_dim, binary=False)
    batch_size = checks.positive_int(batch_size, "batch_size")
    recon, kl = [], []
    for i in range(0, len(x), batch_size):
        r, k = _terms_at_mean(model, params, jnp.asarray(x[i:i + batch_size]))
        recon.append(np.asarray(r, np.float64))
        kl.append(np.asarray(k, np.float64))
    recon, kl = np.concatenate(recon), np.concatenate(kl)
    return {"recon": float(recon.mean()), "kl": float(kl.mean()), "loss": float((recon + kl).mean())}


@functools.partial(jax.jit, static_argnums=(0, 4, 5))
def _log_likelihood_bound(model, params, x, key, num_samples, chunk):
    """log (1/k) Σ_i w_i for a batch, accumulated over chunks of samples: ``(B,)``."""

    def body(running, i):
        log_w = vae_lib.log_importance_weights(model, params, x, jax.random.fold_in(key, i), chunk)
        return jnp.logaddexp(running, jax.nn.logsumexp(log_w, axis=0)), None

    init = jnp.full(x.shape[:1], -jnp.inf, x.dtype)
    total, _ = jax.lax.scan(body, init, jnp.arange(num_samples // chunk))
    return total - jnp.log(num_samples)


@precision.highest
def importance_sampled_log_likelihood(model: vae_lib.Autoencoder, params, x, key: jax.Array, *,
                                      num_samples: int = 5000, batch_size: int = 100, chunk: int = 500,
                                      progress: bool = True) -> np.ndarray:
    """Per-example log p(x) ≈ log (1/k) Σ_{i≤k} p(x, z_i) / q(z_i | x), z_i ~ q(z | x): ``(N,)``.

    This is the IWAE bound L_k (Burda et al. 2015); with k = 5000 it is the
    standard estimate of the test log-likelihood. ``x`` must be binary (0/1).
    Samples are drawn ``chunk`` at a time to bound memory (``num_samples``
    must be a multiple of ``min(chunk, num_samples)``).
    """
    checks.instance(model, "model", vae_lib.Autoencoder, "ebm_jax.models.vae.Autoencoder")
    key = checks.prng_key(key)
    if model.kind != "vae":
        raise ValueError("importance sampling needs a VAE (kind='vae')")
    num_samples = checks.positive_int(num_samples, "num_samples")
    batch_size = checks.positive_int(batch_size, "batch_size")
    chunk = min(checks.positive_int(chunk, "chunk"), num_samples)
    checks.divides(chunk, num_samples, "chunk", "num_samples")
    x = _check_data(x, model.output_dim, binary=True)
    model = _float32(model)
    out = []
    for i in tqdm(range(0, len(x), batch_size), desc=f"log p(x), k={num_samples}", disable=None if checks.boolean(progress, "progress") else True):
        out.append(np.asarray(_log_likelihood_bound(model, params, jnp.asarray(x[i:i + batch_size]),
                                                    jax.random.fold_in(key, i), num_samples, chunk)))
    return np.concatenate(out)
