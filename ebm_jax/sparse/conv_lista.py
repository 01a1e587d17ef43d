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
import numpy as np

from ebm_jax import checks
from ebm_jax.sparse.conv import check_filters, check_image_shape, check_images
from ebm_jax.sparse.conv_ops import BOUNDARIES, adjoint, filters_fft, fft_shape, lipschitz_bound, reconstruct
from ebm_jax.sparse.prox import soft_threshold

PARAMS = ("encoder", "decoder", "threshold", "gain")


def init_from_dictionary(D, lam, *, image_shape: tuple[int, int], boundary: str = "circular") -> dict:
    """Encoder parameters that make ``encode`` equal ISTA on D with λ and step 1/L."""
    checks.one_of(boundary, "boundary", BOUNDARIES)
    D = check_filters(D)
    lam = checks.nonnegative_float(lam, "lam")
    shape = fft_shape(check_image_shape(image_shape, D.shape[-2:]), D.shape[-2:], boundary)
    eta = 1.0 / lipschitz_bound(filters_fft(D, shape))
    K = D.shape[0]
    return {"encoder": eta * D, "decoder": D, "threshold": jnp.full((K,), eta * lam, D.dtype),
            "gain": jnp.ones((K,), D.dtype)}


def check_params(params, name: str = "params") -> dict:
    """Encoder parameters: a dict with ``encoder`` and ``decoder`` (K, h, w) of one shape, ``threshold`` and
    ``gain`` (K,); finite where concrete (traced parameters get the shape checks only)."""
    if not isinstance(params, dict):
        raise TypeError(f"{name} must be a dict with keys {PARAMS} (from init_from_dictionary), "
                        f"got {type(params).__name__}")
    missing = [k for k in PARAMS if k not in params]
    if missing:
        raise ValueError(f"{name} lacks {missing}: it must hold {PARAMS} (from init_from_dictionary)")
    We = checks.float_array(params["encoder"], f"{name}['encoder']", ndim=3)
    Ds = checks.float_array(params["decoder"], f"{name}['decoder']", ndim=3)
    if We.shape != Ds.shape:
        raise ValueError(f"{name}['encoder'] {We.shape} and {name}['decoder'] {Ds.shape} must have one shape (K, h, w)")
    for key in ("threshold", "gain"):
        v = checks.float_array(params[key], f"{name}['{key}']", ndim=1)
        if v.shape != We.shape[:1]:
            raise ValueError(f"{name}['{key}'] must have shape ({We.shape[0]},) (one per filter), got {v.shape}")
        if key == "threshold" and checks.is_concrete(v) and bool(np.any(np.asarray(v) < 0)):
            raise ValueError(f"{name}['threshold'] must be >= 0, got min {float(np.min(np.asarray(v)))}")
    return params


def encode(params: dict, s: jax.Array, *, num_layers: int, boundary: str = "circular") -> jax.Array:
    """Codes (batch, K, H, W) for images s (batch, H, W) in ``num_layers`` unrolled steps.

    The checks (``params`` from :func:`init_from_dictionary`, images, filters no larger than
    the images) are shape checks under ``jax.jit``/``grad``, where the training step calls it."""
    params = check_params(params)
    s = check_images(s)
    num_layers = checks.positive_int(num_layers, "num_layers")
    checks.one_of(boundary, "boundary", BOUNDARIES)
    We, Ds, theta = params["encoder"], params["decoder"], params["threshold"]
    if We.shape[1] > s.shape[1] or We.shape[2] > s.shape[2]:
        raise ValueError(f"the encoder's filters ({We.shape[1]}x{We.shape[2]}) are larger than the images of s "
                         f"({s.shape[1]}x{s.shape[2]})")
    b = adjoint(s, We, boundary)
    theta = theta[:, None, None]  # (K,) over the code maps (batch, K, H, W)
    z = soft_threshold(b, theta)
    for _ in range(num_layers - 1):
        z = soft_threshold(z - adjoint(reconstruct(z, Ds, boundary), We, boundary) + b, theta)
    return params["gain"][:, None, None] * z
