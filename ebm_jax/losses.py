"""Loss functionals: the VAE objective (ELBO, IWAE) and EBM / contrastive losses.

Conventions: inputs are batched, the leading axis is the batch. The likelihood
pieces and the energy-based losses (hinge, square-square, log, NLL) return one
value per example; the contrastive SSL losses :func:`nt_xent` and :func:`info_nce`
return the mean over the batch (a scalar), as their docstrings say.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ebm_jax import checks

LOG_2PI = jnp.log(2.0 * jnp.pi)


def bernoulli_log_likelihood(logits: jax.Array, x: jax.Array) -> jax.Array:
    """log p(x | logits) = sum_d [x_d log σ(l_d) + (1 - x_d) log(1 - σ(l_d))].

    Args:
      logits: ``(..., D)`` decoder logits.
      x: ``(..., D)`` targets in ``[0, 1]`` (binary for a likelihood).
    Returns:
      ``(...)`` log-likelihood in nats, summed over the last axis.

    Computed as ``Σ_d [x_d l_d − softplus(l_d)]`` with the stable
    ``softplus(l) = max(l, 0) + log1p(exp(−|l|))``: the same quantity with one
    ``exp`` and one ``log1p`` per pixel (forward and backward share them) where
    ``optax.sigmoid_binary_cross_entropy`` takes two log-sigmoids; about 3x
    faster with its gradient on a (256, 784) batch on CPU.
    """
    logits = checks.float_array(logits, "logits", min_ndim=1)
    x = checks.float_array(x, "x", min_ndim=1, domain="unit")
    try:
        jnp.broadcast_shapes(x.shape, logits.shape)
    except ValueError:
        raise ValueError(f"x {x.shape} must broadcast against logits {logits.shape}") from None
    if x.shape[-1] != logits.shape[-1]:
        raise ValueError(f"x must have {logits.shape[-1]} values per example like logits, got shape {x.shape}")
    softplus = jnp.maximum(logits, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(logits)))
    return jnp.sum(x * logits - softplus, axis=-1)


def gaussian_kl_to_standard_normal(mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """KL(N(μ, diag σ²) ‖ N(0, I)) = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²), ``(..., J) -> (...)``."""
    mean = checks.float_array(mean, "mean", min_ndim=1)
    logvar = checks.float_array(logvar, "logvar", min_ndim=1)
    _same_shape(logvar, "logvar", mean, "mean")
    return 0.5 * jnp.sum(jnp.square(mean) + jnp.exp(logvar) - 1.0 - logvar, axis=-1)


def diag_gaussian_log_prob(z: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """log N(z; μ, diag σ²), summed over the last axis."""
    z = checks.float_array(z, "z", min_ndim=1)
    mean = checks.float_array(mean, "mean", min_ndim=1)
    logvar = checks.float_array(logvar, "logvar", min_ndim=1)
    _same_shape(logvar, "logvar", mean, "mean")
    return -0.5 * jnp.sum(LOG_2PI + logvar + jnp.square(z - mean) * jnp.exp(-logvar), axis=-1)


def standard_normal_log_prob(z: jax.Array) -> jax.Array:
    """log N(z; 0, I), summed over the last axis."""
    z = checks.float_array(z, "z", min_ndim=1)
    return -0.5 * jnp.sum(LOG_2PI + jnp.square(z), axis=-1)


def log_importance_weights(x: jax.Array, z: jax.Array, mean: jax.Array, logvar: jax.Array,
                           logits: jax.Array) -> jax.Array:
    """log w = log p(x | z) + log p(z) − log q(z | x) for ``z`` of shape ``(k, B, J)``.

    ``mean``/``logvar`` are ``(B, J)``, ``logits`` ``(k, B, D)``, ``x`` ``(B, D)``;
    returns ``(k, B)``.
    """
    x = checks.float_array(x, "x", ndim=2, domain="unit")
    z = checks.float_array(z, "z", ndim=3)
    logits = checks.float_array(logits, "logits", ndim=3)
    checks.check_shape(logits, "logits", (z.shape[0], x.shape[0], x.shape[1]))
    return bernoulli_log_likelihood(logits, x) + standard_normal_log_prob(z) - diag_gaussian_log_prob(z, mean, logvar)


def iwae_bound(log_w: jax.Array) -> jax.Array:
    """L_k = log (1/k) Σ_i w_i from ``(k, B)`` log-weights; ``(B,)``. L_1 is the ELBO."""
    log_w = checks.float_array(log_w, "log_w", min_ndim=1)
    k = log_w.shape[0]
    return jax.nn.logsumexp(log_w, axis=0) - jnp.log(k)


# ---------------------------------------------------------------------------
# Contrastive and energy-based losses.
#
# Energy convention (LeCun et al., "A Tutorial on Energy-Based Learning", 2006):
# an energy ``E`` is low for compatible pairs. For contrastive SSL the energy of
# a pair of embeddings is the negative cosine similarity over a temperature,
# ``E(u, v) = -cos(u, v) / τ``, so InfoNCE / NT-Xent is the log-loss (NLL with a
# softmax over contrastive samples) of these energies.
# ---------------------------------------------------------------------------

def _same_shape(a, name, b, other) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name} must have the shape of {other} {b.shape}, got {a.shape}")


#: Temperatures (and inverse temperatures) outside [1e-4, 1e4] turn cosine
#: similarities into logits that overflow float32 or carry no signal.
TEMPERATURE_RANGE = (1e-4, 1e4)


def _check_temperature(temperature, name: str = "temperature") -> None:
    """ValueError for a concrete temperature outside :data:`TEMPERATURE_RANGE` (tracers pass)."""
    lo, hi = TEMPERATURE_RANGE
    checks.real_or_traced(temperature, name, ge=lo, le=hi)


def l2_normalize(x: jax.Array, axis: int = -1, eps: float = 1e-12) -> jax.Array:
    """``x / ‖x‖₂`` along ``axis`` (rows of ``(B, D)`` onto the unit sphere); all-zero rows stay zero.

    The rows are first divided by their largest magnitude, so that ‖x‖² neither
    overflows (float32 embeddings of 1e20) nor underflows (1e-30): the result
    depends on the direction of a row only, at any scale. The scale is held
    constant under differentiation (the result is invariant to it).
    """
    x = checks.float_array(x, "x", min_ndim=1)
    scale = jax.lax.stop_gradient(jnp.max(jnp.abs(x), axis=axis, keepdims=True))
    x = x / jnp.where(scale > 0, scale, 1)
    norm = jnp.sqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True))
    return x / jnp.maximum(norm, eps)


def nt_xent(z_a: jax.Array, z_b: jax.Array, temperature: float = 0.5) -> jax.Array:
    """SimCLR's NT-Xent loss, symmetric, averaged over all ``2N`` anchors.

    Rows ``z_a[i]`` and ``z_b[i]`` are the two views of image ``i`` (a positive
    pair). With ``z = normalize(concat(z_a, z_b))`` (``2N × D``) and
    ``s_ij = z_i · z_j / τ`` (cosine similarity over temperature)::

        ℓ_i = −s_{i,p(i)} + log Σ_{j ≠ i} exp(s_ij),     p(i) = (i + N) mod 2N
        L   = (1 / 2N) Σ_i ℓ_i

    so each anchor sees one positive and ``2N − 2`` negatives. This equals
    ``optax.losses.ntxent(concat(z_a, z_b), labels=[0..N-1, 0..N-1], τ)``.

    Args:
      z_a: ``(N, D)`` embeddings of the first views, ``N >= 2``.
      z_b: ``(N, D)`` embeddings of the second views.
      temperature: ``τ`` in :data:`TEMPERATURE_RANGE`.
    Returns:
      Scalar mean loss.
    """
    z_a, z_b = checks.float_array(z_a, "z_a"), checks.float_array(z_b, "z_b")
    if z_a.ndim != 2 or z_b.ndim != 2:
        raise ValueError(f"z_a and z_b must be (batch, dim), got shapes {z_a.shape} and {z_b.shape}")
    if z_a.shape != z_b.shape:
        raise ValueError(f"z_a and z_b must have the same shape, got {z_a.shape} and {z_b.shape}")
    n = z_a.shape[0]
    if n < 2:
        raise ValueError(f"nt_xent needs a batch of at least 2 positive pairs (z_a.shape[0]), got {n}")
    _check_temperature(temperature)
    z = l2_normalize(jnp.concatenate([z_a, z_b], axis=0).astype(jnp.float32))
    logits = (z @ z.T) / temperature
    two_n = 2 * n
    logits = jnp.where(jnp.eye(two_n, dtype=bool), -jnp.inf, logits)
    pos_logit = jnp.sum(z * jnp.roll(z, n, axis=0), axis=-1) / temperature  # z_{(i+N) mod 2N}
    return jnp.mean(jax.nn.logsumexp(logits, axis=-1) - pos_logit)


def info_nce(query: jax.Array, positive: jax.Array, negatives: jax.Array,
             temperature: float = 0.2) -> jax.Array:
    """InfoNCE with an explicit set of negatives (MoCo's queue, PIRL's memory bank).

    With cosine similarities over temperature, ``s⁺_b = cos(q_b, k⁺_b) / τ`` and
    ``s⁻_bk = cos(q_b, n_k) / τ``::

        L = (1/B) Σ_b [ −s⁺_b + log( exp(s⁺_b) + Σ_k exp(s⁻_bk) ) ]

    i.e. a (K+1)-way softmax cross-entropy whose correct class is the positive.

    Args:
      query: ``(B, D)``.
      positive: ``(B, D)``, the positive key of each query.
      negatives: ``(K, D)`` shared by all queries, or ``(B, K, D)`` per query.
      temperature: ``τ`` in :data:`TEMPERATURE_RANGE`.
    Returns:
      Scalar mean loss.
    """
    query = checks.float_array(query, "query")
    positive = checks.float_array(positive, "positive")
    negatives = checks.float_array(negatives, "negatives")
    if query.ndim != 2 or query.shape != positive.shape:
        raise ValueError(f"query and positive must be (batch, dim) of equal shape, got {query.shape} and {positive.shape}")
    if query.shape[0] < 1:
        raise ValueError("query must hold at least one row")
    if negatives.ndim not in (2, 3) or negatives.shape[-1] != query.shape[-1] or negatives.shape[-2] < 1:
        raise ValueError(f"negatives must be (K, dim) or (batch, K, dim) with dim={query.shape[-1]}, got {negatives.shape}")
    if negatives.ndim == 3 and negatives.shape[0] != query.shape[0]:
        raise ValueError(f"per-query negatives must have leading axis {query.shape[0]}, got {negatives.shape}")
    _check_temperature(temperature)
    q, k, n = l2_normalize(query), l2_normalize(positive), l2_normalize(negatives)
    s_pos = jnp.sum(q * k, axis=-1) / temperature
    if n.ndim == 2:
        s_neg = (q @ n.T) / temperature
    else:
        s_neg = jnp.einsum("bd,bkd->bk", q, n) / temperature
    logits = jnp.concatenate([s_pos[:, None], s_neg], axis=-1)
    return jnp.mean(jax.nn.logsumexp(logits, axis=-1) - s_pos)


def _check_energies(e_pos, e_neg):
    e_pos, e_neg = checks.float_array(e_pos, "e_pos"), checks.float_array(e_neg, "e_neg")
    if e_pos.ndim != 1:
        raise ValueError(f"e_pos must be (batch,), got shape {e_pos.shape}")
    if e_neg.ndim == 1:
        e_neg = e_neg[:, None]
    if e_neg.ndim != 2 or e_neg.shape[0] != e_pos.shape[0] or e_neg.shape[1] < 1:
        raise ValueError(f"e_neg must be (batch,) or (batch, K) with batch={e_pos.shape[0]}, got {e_neg.shape}")
    return e_pos, e_neg


def _check_margin(margin):
    checks.real_or_traced(margin, "margin", ge=0)


def hinge_loss(e_pos: jax.Array, e_neg: jax.Array, margin: float = 1.0) -> jax.Array:
    """Hinge (margin) loss: ``max(0, m + E(x, y) − E(x, ȳ))``, per example.

    Pushes the energy of every contrastive sample ``ȳ`` at least ``m`` above the
    energy of the correct answer ``y``. With ``K`` contrastive samples per example
    the hinge is averaged over them.

    Args:
      e_pos: ``(B,)`` energies of the correct pairs.
      e_neg: ``(B,)`` or ``(B, K)`` energies of contrastive samples.
      margin: ``m >= 0``.
    Returns:
      ``(B,)``.
    """
    e_pos, e_neg = _check_energies(e_pos, e_neg)
    _check_margin(margin)
    return jnp.mean(jax.nn.relu(margin + e_pos[:, None] - e_neg), axis=-1)


def square_square_loss(e_pos: jax.Array, e_neg: jax.Array, margin: float = 1.0) -> jax.Array:
    """Square-square loss: ``E(x, y)² + max(0, m − E(x, ȳ))²``, per example.

    Pulls the correct energy to 0 and pushes contrastive energies above ``m``
    (energies assumed non-negative, e.g. distances). With ``K`` contrastive
    samples the second term is averaged over them.

    Args:
      e_pos: ``(B,)``; e_neg: ``(B,)`` or ``(B, K)``; margin: ``m >= 0``.
    Returns:
      ``(B,)``.
    """
    e_pos, e_neg = _check_energies(e_pos, e_neg)
    _check_margin(margin)
    return jnp.square(e_pos) + jnp.mean(jnp.square(jax.nn.relu(margin - e_neg)), axis=-1)


def log_loss(e_pos: jax.Array, e_neg: jax.Array) -> jax.Array:
    """Log loss (soft hinge): ``log(1 + exp(E(x, y) − E(x, ȳ)))``, averaged over ``K`` samples.

    Args:
      e_pos: ``(B,)``; e_neg: ``(B,)`` or ``(B, K)``.
    Returns:
      ``(B,)``.
    """
    e_pos, e_neg = _check_energies(e_pos, e_neg)
    return jnp.mean(jax.nn.softplus(e_pos[:, None] - e_neg), axis=-1)


def nll_loss(e_pos: jax.Array, e_neg: jax.Array, beta: float = 1.0) -> jax.Array:
    """Negative log-likelihood with a Gibbs softmax over the contrastive samples.

    ``p(y | x) = exp(−β E(x, y)) / Σ_{y' ∈ {y} ∪ Ȳ} exp(−β E(x, y'))``, so::

        L = E(x, y) + (1/β) log Σ_{y' ∈ {y} ∪ Ȳ} exp(−β E(x, y'))

    (this is ``−(1/β) log p(y | x)``). InfoNCE is this loss with ``β = 1`` and
    ``E = −cos / τ``.

    Args:
      e_pos: ``(B,)``; e_neg: ``(B,)`` or ``(B, K)``; beta: inverse temperature ``β > 0``.
    Returns:
      ``(B,)``.
    """
    e_pos, e_neg = _check_energies(e_pos, e_neg)
    _check_temperature(beta, "beta")
    all_e = jnp.concatenate([e_pos[:, None], e_neg], axis=-1)
    return e_pos + jax.nn.logsumexp(-beta * all_e, axis=-1) / beta
