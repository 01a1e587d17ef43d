"""Image-quality numbers for denoising: MSE, PSNR, sharpness (blur) and the grey-pixel fraction.

Images are ``(N, H*W)`` or ``(N, H, W)`` arrays with values in ``[0, 1]``.
"""

from __future__ import annotations

import numpy as np

from ebm_jax import checks


def _images(x, name, image_shape):
    checks.float_array(x, name)  # real, non-empty, finite
    x = np.asarray(x, np.float64)
    h, w = (checks.positive_int(s, "image_shape") for s in image_shape)
    if x.shape[-2:] != (h, w):
        if x.shape[-1] != h * w:
            raise ValueError(f"{name} must have shape (N, {h * w}) or (N, {h}, {w}), got {x.shape}")
        x = x.reshape(*x.shape[:-1], h, w)
    return x


def mse(x, y) -> float:
    """Mean squared error over every pixel."""
    checks.float_array(x, "x"), checks.float_array(y, "y")
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    return float(np.mean((x - y) ** 2))


def psnr(mse_value, peak: float = 1.0) -> float:
    """``10 log10(peak^2 / mse)`` in dB (``inf`` for a perfect reconstruction)."""
    mse_value = checks.real(mse_value, "mse_value", ge=0)
    peak = checks.positive_float(peak, "peak")
    return float("inf") if mse_value == 0 else float(10 * np.log10(peak ** 2 / mse_value))


def sharpness(x, image_shape=(28, 28)) -> float:
    """Mean squared finite-difference gradient (rows plus columns); lower = blurrier."""
    img = _images(x, "x", image_shape)
    return float(np.mean(np.diff(img, axis=-2) ** 2) + np.mean(np.diff(img, axis=-1) ** 2))


def grey_fraction(x, low: float = 0.1, high: float = 0.9) -> float:
    """Fraction of pixels strictly between ``low`` and ``high`` (neither ink nor background)."""
    checks.float_array(x, "x")
    x = np.asarray(x, np.float64)
    low, high = checks.real(low, "low"), checks.real(high, "high")
    if not low < high:
        raise ValueError(f"low must be < high, got low={low}, high={high}")
    return float(np.mean((x > low) & (x < high)))
