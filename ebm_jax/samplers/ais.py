"""Partition function of a Bernoulli RBM: annealed importance sampling and exact enumeration.

AIS (Neal 2001; Salakhutdinov & Murray 2008, "On the quantitative analysis of
deep belief networks"). The base model ``A`` has no hidden units and visible
biases ``b_A`` (the *base-rate* model: ``b_A = logit(data marginals)``), so
``log Z_A = sum_i softplus(b_A,i)`` is exact. The intermediate distributions,
for ``0 = β_0 < β_1 < ... < β_K = 1``, are

    log p*_k(v) = (1 - β_k) v.b_A + β_k v.b_B + sum_j softplus(β_k (c_j + (v W)_j))

(``p*_K = exp(-F_B)``; ``p*_0 = exp(v.b_A) 2^H`` so ``log Z_0 = log Z_A + H log 2``),
with the block-Gibbs transition ``T_k`` that leaves
``p_k`` invariant: ``h ~ σ(β_k (c + vW))``, ``v ~ σ((1-β_k) b_A + β_k (b_B + W h))``.
Each of ``M`` runs draws ``v_1 ~ p_A`` and accumulates

    log w = sum_{k=1..K} [log p*_k(v_k) - log p*_{k-1}(v_k)],  v_{k+1} ~ T_k(v_k)

and ``log Ẑ_B = log Z_A + log mean_m w_m``. Its spread is reported as the
delta-method standard deviation of ``log Ẑ_B``: ``std(w) / (mean(w) sqrt(M))``.
(``log Ẑ`` is a stochastic lower bound in expectation: ``E[log Ẑ] <= log Z``.)

The per-step increment is computed as ``(β_k - β_{k-1}) v.(b_B - b_A) +
sum_j log1p(σ(a'_j) expm1(a_j - a'_j))`` (``a = β_k x``, ``a' = β_{k-1} x``),
which is exact and does not cancel in float32, and the sum over steps is
Kahan-compensated.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax.models.rbm import RBMParams, base_rate_bias, validate_params

SCHEDULES = ("sm08", "linear", "sigmoid")


def beta_schedule(num_betas: int, kind: str = "sm08") -> np.ndarray:
    """An increasing schedule ``β_0 = 0 < ... < β_{K} = 1`` of ``num_betas`` points.

    * ``"sm08"``: Salakhutdinov & Murray's spacing: 500/14,500 of the points on
      ``[0, 0.5)``, 4,000/14,500 on ``[0.5, 0.9)``, 10,000/14,500 on ``[0.9, 1]``;
    * ``"linear"``: uniform spacing;
    * ``"sigmoid"``: ``σ(t)`` for ``t`` uniform on ``[-4, 4]``, rescaled to ``[0, 1]``.
    """
    if isinstance(num_betas, bool) or not isinstance(num_betas, (int, np.integer)) or num_betas < 2:
        raise ValueError(f"num_betas must be an integer >= 2, got {num_betas!r}")
    if kind == "linear":
        betas = np.linspace(0.0, 1.0, num_betas)
    elif kind == "sigmoid":
        s = 1 / (1 + np.exp(-np.linspace(-4.0, 4.0, num_betas)))
        betas = (s - s[0]) / (s[-1] - s[0])
    elif kind == "sm08":
        if num_betas < 8:
            betas = np.linspace(0.0, 1.0, num_betas)
        else:
            n1 = max(2, int(round(num_betas * 500 / 14500)))
            n2 = max(2, int(round(num_betas * 4000 / 14500)))
            n3 = num_betas - n1 - n2
            betas = np.concatenate([np.linspace(0.0, 0.5, n1, endpoint=False),
                                    np.linspace(0.5, 0.9, n2, endpoint=False),
                                    np.linspace(0.9, 1.0, n3)])
    else:
        raise ValueError(f"kind must be one of {SCHEDULES}, got {kind!r}")
    return betas.astype(np.float64)


def validate_betas(betas) -> np.ndarray:
    """Raise ``ValueError`` unless ``betas`` is 1-D, finite, strictly increasing from 0 to 1."""
    b = np.asarray(betas, np.float64)
    if b.ndim != 1 or b.size < 2:
        raise ValueError(f"betas must be a 1-D schedule with at least 2 points, got shape {b.shape}")
    if not np.isfinite(b).all():
        raise ValueError("betas contains NaN or infinite values")
    if b[0] != 0.0 or b[-1] != 1.0:
        raise ValueError(f"betas must start at 0 and end at 1, got betas[0]={b[0]}, betas[-1]={b[-1]}")
    if not (np.diff(b) > 0).all():
        i = int(np.argmin(np.diff(b) > 0))
        raise ValueError(f"betas must be strictly increasing, but betas[{i}]={b[i]} >= betas[{i + 1}]={b[i + 1]}")
    return b


def _ais_log_weights(key, params: RBMParams, base_b_vis, betas, num_runs: int):
    W, b, c = params
    bA = base_b_vis
    k0, kscan = jax.random.split(key)
    v = jax.random.bernoulli(k0, jax.nn.sigmoid(bA), (num_runs, W.shape[0])).astype(W.dtype)
    db = b - bA
    keys = jax.random.split(kscan, betas.shape[0] - 1)

    def body(carry, inp):
        v, logw, comp = carry
        beta_prev, beta, k = inp
        x = v @ W + c                                                # (M, H)
        a_prev = beta_prev * x
        inc = (beta - beta_prev) * (v @ db) + jnp.sum(
            jnp.log1p(jax.nn.sigmoid(a_prev) * jnp.expm1((beta - beta_prev) * x)), axis=-1)
        # Kahan-compensated logw += inc
        y = inc - comp
        t = logw + y
        comp = (t - logw) - y
        logw = t
        kh, kv = jax.random.split(k)
        h = jax.random.bernoulli(kh, jax.nn.sigmoid(beta * x)).astype(W.dtype)
        v = jax.random.bernoulli(kv, jax.nn.sigmoid((1 - beta) * bA + beta * (b + h @ W.T))).astype(W.dtype)
        return (v, logw, comp), None

    zeros = jnp.zeros((num_runs,), W.dtype)
    (_, logw, _), _ = jax.lax.scan(body, (v, zeros, zeros), (betas[:-1], betas[1:], keys))
    return logw


_ais_log_weights_jit = jax.jit(_ais_log_weights, static_argnames="num_runs")


def ais_log_partition(key: jax.Array, W, b_vis, b_hid, *, num_betas: int = 14500, num_runs: int = 100,
                      betas=None, schedule: str = "sm08", data=None, base_b_vis=None,
                      return_log_weights: bool = False):
    """AIS estimate of ``log Z`` of a Bernoulli RBM with ``W (V, H)``, ``b_vis (V,)``, ``b_hid (H,)``.

    Args:
      key: PRNG key.
      W, b_vis, b_hid: the RBM's parameters (float arrays).
      num_betas: number of inverse temperatures (``K + 1``) when ``betas`` is not given.
      num_runs: number of independent AIS runs ``M`` (run in parallel).
      betas: explicit schedule (1-D, strictly increasing from 0 to 1); overrides
        ``num_betas`` / ``schedule``.
      schedule: ``"sm08"`` (default), ``"linear"`` or ``"sigmoid"``; see :func:`beta_schedule`.
      data: ``(N, V)`` data in ``[0, 1]`` whose marginals define the base-rate model
        ``b_A = logit(clip(mean(data), 1e-3, 1 - 1e-3))``.
      base_b_vis: ``(V,)`` base-model visible biases (instead of ``data``); default 0
        (uniform base) when neither is given.
      return_log_weights: also return the ``(M,)`` log importance weights.

    Returns:
      ``(log_z, log_z_std)`` as Python floats (``+ (log_w,)`` if requested).
    """
    V, H = validate_params(W, b_vis, b_hid)
    if isinstance(num_runs, bool) or not isinstance(num_runs, (int, np.integer)) or num_runs < 1:
        raise ValueError(f"num_runs must be an integer >= 1, got {num_runs!r}")
    betas = validate_betas(beta_schedule(num_betas, schedule) if betas is None else betas)
    if data is not None and base_b_vis is not None:
        raise ValueError("give at most one of data and base_b_vis")
    if data is not None:
        data = np.asarray(data)
        if data.ndim != 2 or data.shape[1] != V or data.shape[0] < 1:
            raise ValueError(f"data must have shape (N, {V}) with N >= 1, got {data.shape}")
        if not np.isfinite(data).all() or data.min() < 0 or data.max() > 1:
            raise ValueError("data must be finite and in [0, 1] (its marginals define the base-rate model)")
        base_b_vis = base_rate_bias(data.mean(0))
    elif base_b_vis is None:
        base_b_vis = jnp.zeros((V,), W.dtype)
    base_b_vis = jnp.asarray(base_b_vis, W.dtype)
    if base_b_vis.shape != (V,):
        raise ValueError(f"base_b_vis must have shape ({V},), got {base_b_vis.shape}")
    params = RBMParams(jnp.asarray(W), jnp.asarray(b_vis), jnp.asarray(b_hid))
    logw = _ais_log_weights_jit(key, params, base_b_vis, jnp.asarray(betas, W.dtype), num_runs=int(num_runs))
    logw = np.asarray(jax.device_get(logw), np.float64)
    if not np.isfinite(logw).all():
        raise FloatingPointError("AIS log-weights are not finite; check the RBM parameters for NaN/inf")
    # p*_0(v) = exp(v.b_A) * prod_j (1 + e^0): the base model's Z times 2^H.
    log_za = float(np.sum(np.logaddexp(0.0, np.asarray(base_b_vis, np.float64)))) + H * np.log(2.0)
    m = logw.max()
    r = np.exp(logw - m)
    log_z = log_za + m + np.log(r.mean())
    log_z_std = float(r.std() / (r.mean() * np.sqrt(len(r))))
    if return_log_weights:
        return float(log_z), log_z_std, logw
    return float(log_z), log_z_std


def exact_log_partition(W, b_vis, b_hid, *, max_units: int = 24, chunk_size: int = 4096) -> float:
    """Exact ``log Z`` by enumerating the smaller layer (``2^min(V, H)`` states).

    With ``H <= V``: ``log Z = logsumexp_h [h.b_hid + sum_i softplus(b_vis_i + (W h)_i)]``;
    otherwise ``log Z = logsumexp_v [-F(v)]``.

    Raises:
      ValueError: ``min(V, H) > max_units`` (enumeration would be too large).
    """
    V, H = validate_params(W, b_vis, b_hid)
    n = min(V, H)
    if n > max_units:
        raise ValueError(f"exact_log_partition enumerates 2^min(V, H) states; min(V, H) = {n} > max_units = "
                         f"{max_units}. Use ais_log_partition instead.")
    W, b_vis, b_hid = (jnp.asarray(a) for a in (W, b_vis, b_hid))
    if H <= V:
        M, a, b = W.T, b_hid, b_vis          # enumerate h: term = h.a + sum softplus(b + h M)
    else:
        M, a, b = W, b_vis, b_hid            # enumerate v
    total = 1 << n
    chunk = min(chunk_size, total)
    num_chunks = total // chunk
    bits = jnp.arange(n, dtype=jnp.uint32)

    def chunk_lse(i):
        idx = (i * chunk + jnp.arange(chunk, dtype=jnp.uint32))
        s = ((idx[:, None] >> bits) & 1).astype(W.dtype)
        terms = s @ a + jnp.sum(jax.nn.softplus(s @ M + b), axis=-1)
        return jax.nn.logsumexp(terms)

    lses = jax.lax.map(chunk_lse, jnp.arange(num_chunks, dtype=jnp.uint32))
    return float(jax.nn.logsumexp(lses))
