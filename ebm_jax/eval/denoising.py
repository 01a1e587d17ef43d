r"""Gaussian denoising of grey images with learned sparse models, and BM3D as the reference.

Images are ``(N, H, W)`` float arrays on the [0, 1] scale; noise levels σ are
given on the 0–255 scale (σ = 25 means a standard deviation of 25/255). Every
denoiser returns images clipped to [0, 1]; PSNR is against a peak of 1.

The sparse denoisers split the noisy image into a Gaussian low-pass part and
the high-pass rest (:func:`ebm_jax.data.natural_images.highpass`), denoise the
high-pass part with the model, and add the low-pass part back:

* :func:`conv_denoise`: convolutional sparse coding of the high-pass part
  (``argmin_z ½‖Σ d_k ∗ z_k − s‖² + λ‖z‖₁``) and its reconstruction;
* :func:`encoder_denoise`: the convolutional encoder's codes in one pass
  (its thresholds multiplied by ``threshold_scale``) and their reconstruction;
* :func:`patch_denoise`: every overlapping ``p × p`` patch coded on a patch
  dictionary (FISTA), reconstructed, and the overlaps averaged;
* :func:`bm3d_denoise`: ``bm3d.bm3d(noisy, sigma_psd=σ/255)`` (needs ``bm3d``; its
  arguments are checked before ``bm3d`` is imported, so a bad input is refused
  the same way where the package is absent).

Every function checks its arguments (``ValueError``/``TypeError`` naming the
argument): images are real floating arrays (N, H, W), finite, those meant to be
clean or denoised in [0, 1]; integer images are refused (convert 0–255 images
with :func:`ebm_jax.data.to_float` first).

:func:`select_parameter` picks a denoiser's one parameter (λ, a threshold
scale) on images other than the test images.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import checks
from ebm_jax.data.natural_images import highpass
from ebm_jax.eval.images import mse, psnr
from ebm_jax.sparse import conv_lista, fista
from ebm_jax.sparse.conv import BOUNDARIES, check_filters, conv_reconstruct, conv_sparse_code


def _images(x, name: str, *, unit: bool = False) -> np.ndarray:
    """Images (N, H, W), N >= 1: a real floating array, finite (in [0, 1] if ``unit``), as float32 numpy."""
    checks.float_array(x, name, ndim=3, allow_int=False, domain="unit" if unit else None)
    return np.asarray(x, np.float32)


def _lowpass(sigma) -> float:
    return checks.positive_float(sigma, "lowpass_sigma")


def add_noise(images, sigma: float, *, seed: int = 0) -> np.ndarray:
    """``images + N(0, (σ/255)²)`` per pixel, not clipped (the usual AWGN protocol)."""
    images = _images(images, "images", unit=True)
    sigma = checks.nonnegative_float(sigma, "sigma")
    rng = np.random.default_rng(checks.seed(seed))
    return (images + rng.standard_normal(images.shape).astype(np.float32) * (sigma / 255.0)).astype(np.float32)


def mean_psnr(clean, denoised) -> float:
    """The mean over images of each image's PSNR (peak 1): ``clean`` in [0, 1], ``denoised`` any finite images
    (noisy images are not clipped)."""
    clean, denoised = _images(clean, "clean", unit=True), _images(denoised, "denoised")
    if clean.shape != denoised.shape:
        raise ValueError(f"clean and denoised differ in shape: {clean.shape} vs {denoised.shape}")
    return float(np.mean([psnr(mse(c, d)) for c, d in zip(clean, denoised)]))


def conv_denoise(noisy, D, lam, *, lowpass_sigma: float, boundary: str = "zero", tol: float = 1e-3,
                 max_iters: int = 200) -> np.ndarray:
    """Code the noisy high-pass part on filters D (K, h, w) with λ, reconstruct, add the low-pass part."""
    noisy = _images(noisy, "noisy")
    D = check_filters(D)
    lowpass_sigma = _lowpass(lowpass_sigma)
    max_iters = checks.positive_int(max_iters, "max_iters")
    checks.one_of(boundary, "boundary", BOUNDARIES)
    low, high = highpass(noisy, lowpass_sigma)
    method = "admm" if boundary == "circular" else "fista"
    res = conv_sparse_code(jnp.asarray(high), D, lam, tol=tol, num_iters=max_iters,
                           boundary=boundary, method=method)
    rec = np.asarray(conv_reconstruct(res.codes, D, boundary=boundary))
    return np.clip(low + rec, 0.0, 1.0)


def encoder_denoise(noisy, encoder: dict, D, *, num_layers: int, threshold_scale: float = 1.0,
                    lowpass_sigma: float, boundary: str = "zero") -> np.ndarray:
    """The encoder's codes of the noisy high-pass part (thresholds × ``threshold_scale``), decoded by D."""
    noisy = _images(noisy, "noisy")
    encoder = conv_lista.check_params(encoder, "encoder")
    D = check_filters(D)
    if D.shape[0] != np.shape(encoder["encoder"])[0]:
        raise ValueError(f"D has {D.shape[0]} filters but the encoder codes {np.shape(encoder['encoder'])[0]} maps")
    threshold_scale = checks.nonnegative_float(threshold_scale, "threshold_scale")
    num_layers = checks.positive_int(num_layers, "num_layers")
    lowpass_sigma = _lowpass(lowpass_sigma)
    checks.one_of(boundary, "boundary", BOUNDARIES)
    low, high = highpass(noisy, lowpass_sigma)
    params = {**encoder, "threshold": jnp.asarray(encoder["threshold"]) * threshold_scale}
    z = conv_lista.encode(params, jnp.asarray(high), num_layers=num_layers, boundary=boundary)
    rec = np.asarray(conv_reconstruct(z, jnp.asarray(D), boundary=boundary))
    return np.clip(low + rec, 0.0, 1.0)


def patch_denoise(noisy, D, lam, *, patch_size: int, lowpass_sigma: float, tol: float = 1e-3,
                  max_iters: int = 500, chunk: int = 16384) -> np.ndarray:
    """Every overlapping patch of the noisy high-pass part coded on D (p², k) with λ (FISTA to
    relative gap ``tol``), reconstructed, and averaged where patches overlap; plus the low-pass part."""
    noisy = _images(noisy, "noisy")
    p = checks.positive_int(patch_size, "patch_size")
    if p > min(noisy.shape[1:]):
        raise ValueError(f"patch_size ({p}) is larger than the images ({noisy.shape[1]}x{noisy.shape[2]})")
    D = checks.float_array(D, "D", ndim=2).astype(jnp.float32)
    if D.shape[0] != p * p:
        raise ValueError(f"D must be (patch_size**2, k) = ({p * p}, k), got shape {D.shape}")
    lowpass_sigma = _lowpass(lowpass_sigma)
    max_iters = checks.positive_int(max_iters, "max_iters")
    chunk = checks.positive_int(chunk, "chunk")
    low, high = highpass(noisy, lowpass_sigma)
    out = np.empty_like(high)
    for n, img in enumerate(high):
        H, W = img.shape
        win = np.lib.stride_tricks.sliding_window_view(img, (p, p))
        X = win.reshape(-1, p * p)
        rec = np.empty_like(X)
        for a in range(0, len(X), chunk):
            z = fista(jnp.asarray(X[a:a + chunk]), D, lam, tol=tol, num_iters=max_iters, restart=True).codes
            rec[a:a + chunk] = np.asarray(z @ D.T)
        rec = rec.reshape(H - p + 1, W - p + 1, p, p)
        acc = np.zeros((H, W), np.float64)
        cnt = np.zeros((H, W), np.float64)
        for i in range(p):
            for j in range(p):
                acc[i:i + H - p + 1, j:j + W - p + 1] += rec[:, :, i, j]
                cnt[i:i + H - p + 1, j:j + W - p + 1] += 1
        out[n] = acc / cnt
    return np.clip(low + out, 0.0, 1.0)


def bm3d_available() -> bool:
    try:
        import bm3d  # noqa: F401
    except ImportError:
        return False
    return True


def bm3d_denoise(noisy, sigma: float) -> np.ndarray:
    """BM3D (``bm3d.bm3d``, its default profile) with the true σ (0–255 scale), image by image.

    The arguments are checked before ``bm3d`` is imported: a bad input is the same clear
    error whether or not the package is installed; a good one without it is an ImportError."""
    noisy = _images(noisy, "noisy")
    sigma = checks.positive_float(sigma, "sigma")
    try:
        import bm3d
    except ImportError as e:
        raise ImportError("BM3D needs the package 'bm3d': pip install bm3d") from e
    return np.stack([np.clip(np.asarray(bm3d.bm3d(img, sigma_psd=sigma / 255.0), np.float32), 0.0, 1.0)
                     for img in noisy])


def timed(fn: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
    """``(fn(), seconds)``, with every JAX computation finished."""
    checks.function(fn, "fn")
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    return np.asarray(out), time.perf_counter() - t0


def select_parameter(denoise: Callable[[np.ndarray, float], np.ndarray], clean, noisy,
                     grid: Sequence[float]) -> tuple[float, dict]:
    """The value in ``grid`` whose ``denoise(noisy, value)`` has the best mean PSNR against ``clean``;
    returns ``(best, {value: psnr})``. Tune on images that are not the test images."""
    checks.function(denoise, "denoise")
    clean, noisy = _images(clean, "clean", unit=True), _images(noisy, "noisy")
    if clean.shape != noisy.shape:
        raise ValueError(f"clean {clean.shape} and noisy {noisy.shape} must have one shape")
    if isinstance(grid, (str, bytes)) or not hasattr(grid, "__len__"):
        raise TypeError(f"grid must be a sequence of numbers, got {type(grid).__name__} {grid!r}")
    if not len(grid):
        raise ValueError("grid is empty")
    grid = [checks.real(v, f"grid[{i}]") for i, v in enumerate(grid)]
    scores = {}
    for v in grid:
        out = denoise(noisy, v)
        if np.shape(out) != noisy.shape:
            raise ValueError(f"denoise(noisy, {v}) returned shape {np.shape(out)}, not the images' {noisy.shape}")
        scores[v] = mean_psnr(clean, out)
    best = max(scores, key=scores.get)
    return best, scores
