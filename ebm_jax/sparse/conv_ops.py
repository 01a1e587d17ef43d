r"""Convolutions of sparse-code maps with a filter bank, in the Fourier domain.

Shapes: images ``s`` (batch, H, W), filters ``D`` (K, h, w), codes ``z``
(batch, K, H, W). The synthesis (reconstruction) operator is

    (D z)(i, j) = Σ_k Σ_{a<h, b<w} d_k(a, b) z_k(i − a, j − b)

with one of two boundaries:

* ``"circular"``: indices wrap (mod H, W). This is SPORCO's ``ConvBPDN``
  convention (filters zero-padded to H×W with their origin at (0, 0)), so
  objective values compare with SPORCO's directly. It is diagonal in the 2-D
  DFT: ``F(D z) = Σ_k F(d_k) · F(z_k)``.
* ``"zero"``: the same formula with ``z`` zero outside [0, H)×[0, W) and no
  wrap-around, i.e. the full linear convolution cropped to its first H×W
  samples (``scipy.signal.convolve2d(z_k, d_k, "full")[:H, :W]`` summed over
  k). Computed exactly by circular convolution on the padded grid
  (H + h − 1)×(W + w − 1).

The adjoint ``Dᵀ r`` (correlation, (batch, H, W) -> (batch, K, H, W)) uses the
same boundary. Real FFTs (``rfft2``) over the last two axes throughout.

Every function here is a traceable kernel without input checks, called inside the
solvers' jitted loops; the validated entry points are
:func:`ebm_jax.sparse.conv.conv_reconstruct` and :func:`ebm_jax.sparse.conv.conv_objective`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

BOUNDARIES = ("circular", "zero")


def fft_shape(image_shape: tuple[int, int], filter_shape: tuple[int, int], boundary: str) -> tuple[int, int]:
    """The FFT grid: (H, W) for a circular boundary, (H + h − 1, W + w − 1) for a zero one."""
    (H, W), (h, w) = image_shape, filter_shape
    return (H, W) if boundary == "circular" else (H + h - 1, W + w - 1)


def rfft2(x: jax.Array, shape: tuple[int, int]) -> jax.Array:
    """2-D real FFT over the last two axes, zero-padding x to ``shape`` (at the end)."""
    return jnp.fft.rfft2(x, s=shape, axes=(-2, -1))


def irfft2(xf: jax.Array, shape: tuple[int, int]) -> jax.Array:
    return jnp.fft.irfft2(xf, s=shape, axes=(-2, -1))


def filters_fft(D: jax.Array, shape: tuple[int, int]) -> jax.Array:
    """F(D) zero-padded to ``shape`` with each filter's origin at (0, 0): (K, P, Q//2 + 1)."""
    return rfft2(D, shape)


def synthesis_f(zf: jax.Array, Df: jax.Array) -> jax.Array:
    """Σ_k F(d_k) F(z_k): zf (batch, K, P, Qf), Df (K, P, Qf) -> (batch, P, Qf).

    A product and a sum over the K axis, not an ``einsum`` (which XLA:CPU lowers to a
    batched matrix product with 1x1 outputs) nor an unrolled sum of K slices (4.7x
    slower in FISTA): 1.2x faster than the einsum in 20 FISTA iterations of SPORCO's example.
    """
    return jnp.sum(zf * Df, axis=-3)


def reconstruct(z: jax.Array, D: jax.Array, boundary: str = "circular") -> jax.Array:
    """``D z`` (batch, H, W) for codes z (batch, K, H, W) and filters D (K, h, w); no input checks."""
    H, W = z.shape[-2:]
    shape = fft_shape((H, W), D.shape[-2:], boundary)
    out = irfft2(synthesis_f(rfft2(z, shape), filters_fft(D, shape)), shape)
    return out[..., :H, :W]


def adjoint(r: jax.Array, D: jax.Array, boundary: str = "circular") -> jax.Array:
    """``Dᵀ r`` (batch, K, H, W) for residuals r (batch, H, W): the correlation with each filter."""
    H, W = r.shape[-2:]
    shape = fft_shape((H, W), D.shape[-2:], boundary)
    Df = filters_fft(D, shape)
    out = irfft2(jnp.conj(Df) * rfft2(r, shape)[:, None], shape)
    return out[..., :H, :W]


def lipschitz_bound(Df: jax.Array) -> jax.Array:
    """``max_ω Σ_k |F(d_k)(ω)|²``: the squared operator norm of the circular ``D`` on the
    grid of ``Df`` (exact), and an upper bound for the zero-boundary operator."""
    return jnp.max(jnp.sum(jnp.real(Df * jnp.conj(Df)), axis=0))
