"""Loss functionals: the VAE objective (ELBO, IWAE) and EBM / contrastive losses.

Conventions: inputs are batched, the leading axis is the batch; functions return
per-example values unless their name says ``mean``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

LOG_2PI = jnp.log(2.0 * jnp.pi)


def bernoulli_log_likelihood(logits: jax.Array, x: jax.Array) -> jax.Array:
    """log p(x | logits) = sum_d [x_d log σ(l_d) + (1 - x_d) log(1 - σ(l_d))].

    Args:
      logits: ``(..., D)`` decoder logits.
      x: ``(..., D)`` targets in ``[0, 1]`` (binary for a likelihood).
    Returns:
      ``(...)`` log-likelihood in nats, summed over the last axis.
    """
    return -jnp.sum(optax.sigmoid_binary_cross_entropy(logits, x), axis=-1)


def gaussian_kl_to_standard_normal(mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """KL(N(μ, diag σ²) ‖ N(0, I)) = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²), ``(..., J) -> (...)``."""
    return 0.5 * jnp.sum(jnp.square(mean) + jnp.exp(logvar) - 1.0 - logvar, axis=-1)


def diag_gaussian_log_prob(z: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """log N(z; μ, diag σ²), summed over the last axis."""
    return -0.5 * jnp.sum(LOG_2PI + logvar + jnp.square(z - mean) * jnp.exp(-logvar), axis=-1)


def standard_normal_log_prob(z: jax.Array) -> jax.Array:
    """log N(z; 0, I), summed over the last axis."""
    return -0.5 * jnp.sum(LOG_2PI + jnp.square(z), axis=-1)


def log_importance_weights(x: jax.Array, z: jax.Array, mean: jax.Array, logvar: jax.Array,
                           logits: jax.Array) -> jax.Array:
    """log w = log p(x | z) + log p(z) − log q(z | x) for ``z`` of shape ``(k, B, J)``.

    ``mean``/``logvar`` are ``(B, J)``, ``logits`` ``(k, B, D)``, ``x`` ``(B, D)``;
    returns ``(k, B)``.
    """
    return bernoulli_log_likelihood(logits, x) + standard_normal_log_prob(z) - diag_gaussian_log_prob(z, mean, logvar)


def iwae_bound(log_w: jax.Array) -> jax.Array:
    """L_k = log (1/k) Σ_i w_i from ``(k, B)`` log-weights; ``(B,)``. L_1 is the ELBO."""
    k = log_w.shape[0]
    return jax.nn.logsumexp(log_w, axis=0) - jnp.log(k)
