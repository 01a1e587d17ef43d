r"""A convolutional sparse encoder: unrolled convolutional LISTA with a per-filter gain.

Parameters (a plain dict, shapes for K filters of size h×w):

* ``"encoder"``   W_e (K, h, w): the input filters (ISTA: η D);
* ``"decoder"``   D_s (K, h, w): the filters of the lateral term (ISTA: D);
* ``"threshold"`` θ (K,): one shrinkage threshold per code map (ISTA: ηλ);
* ``"gain"``      g (K,): one output gain per code map (ISTA: 1).

With ``b = W_eᵀ s`` (the correlation of the image with each encoder filter)::

    z¹     = S_θ(b)
    zᵗ⁺¹   = S_θ(zᵗ − W_eᵀ(D_s zᵗ) + b)                  t = 1 … T − 1
    enc(s) = g ⊙ zᵀ

``num_layers = T = 1`` is the one-pass encoder "conv → shrink → per-filter
gain"; each further layer adds one lateral (synthesis + correlation) pass.
Initialised from a dictionary D with step η = 1/L (:func:`init_from_dictionary`),
the T-layer encoder is exactly T ISTA steps from z = 0 (tested). Convolutions
use the same boundary convention as :mod:`ebm_jax.sparse.conv_ops`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ebm_jax import checks
from ebm_jax.sparse.conv_ops import BOUNDARIES, adjoint, filters_fft, fft_shape, lipschitz_bound, reconstruct
from ebm_jax.sparse.prox import soft_threshold


def init_from_dictionary(D, lam, *, image_shape: tuple[int, int], boundary: str = "circular") -> dict:
    """Encoder parameters that make ``encode`` equal ISTA on D with λ and step 1/L."""
    checks.one_of(boundary, "boundary", BOUNDARIES)
    D = checks.float_array(D, "D", ndim=3)
    lam = checks.nonnegative_float(lam, "lam")
    shape = fft_shape(tuple(image_shape), D.shape[-2:], boundary)
    eta = 1.0 / lipschitz_bound(filters_fft(D, shape))
    K = D.shape[0]
    return {"encoder": eta * D, "decoder": D, "threshold": jnp.full((K,), eta * lam, D.dtype),
            "gain": jnp.ones((K,), D.dtype)}


def encode(params: dict, s: jax.Array, *, num_layers: int, boundary: str = "circular") -> jax.Array:
    """Codes (batch, K, H, W) for images s (batch, H, W) in ``num_layers`` unrolled steps."""
    We, Ds, theta = params["encoder"], params["decoder"], params["threshold"]
    b = adjoint(s, We, boundary)
    theta = theta[:, None, None]  # (K,) over the code maps (batch, K, H, W)
    z = soft_threshold(b, theta)
    for _ in range(num_layers - 1):
        z = soft_threshold(z - adjoint(reconstruct(z, Ds, boundary), We, boundary) + b, theta)
    return params["gain"][:, None, None] * z
