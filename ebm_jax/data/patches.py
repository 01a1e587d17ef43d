"""Natural-image patches for filter learning, from the images that ship with scikit-learn.

``load_sample_images`` (``china.jpg``, ``flower.jpg``, 427x640 RGB) are converted to
grey levels in [0, 1]; random ``patch_size x patch_size`` patches are cut and
contrast-normalised: each patch has its mean removed and is divided by
``sqrt(var + eps)``. Optional ZCA whitening (``whiten=True``) flattens the 1/f
spectrum so that dictionary atoms become localized oriented edges.
"""

from __future__ import annotations

import numpy as np

from ebm_jax import checks
from ebm_jax.data import natural_images


_MAX_WHITENING_GAIN = 1.0 / np.sqrt(np.finfo(np.float32).eps)


def load_grey_images() -> list[np.ndarray]:
    """The scikit-learn sample images (china, flower) as float32 grey-level arrays in [0, 1], each (H, W).

    Grey by the Rec. 601 weights, as the reference runs in ``results/sparse_coding`` were made."""
    return [natural_images.load_image(f"sklearn:{name}", grey_weights=natural_images.REC601)
            for name in ("china", "flower")]


def contrast_normalize(patches: np.ndarray, eps: float = 1.5e-4) -> np.ndarray:
    """Per-patch mean removal and division by ``sqrt(var + eps)``: (N, d) -> (N, d), float32.

    Computed in float64: a nearly flat patch is scaled by up to ``1/sqrt(eps)`` (~80), which would
    blow float32's rounding of its mean up to ~1e-5. ``eps > 0``."""
    patches = _check_patches(patches)
    eps = checks.positive_float(eps, "eps")
    p = patches - patches.mean(axis=1, keepdims=True)
    return (p / np.sqrt(p.var(axis=1, keepdims=True) + eps)).astype(np.float32)


def _check_patches(patches, min_rows: int = 1) -> np.ndarray:
    """Patches ``(N, d)`` as float64: real, finite, at least ``min_rows`` rows and two pixels
    (a one-pixel patch has no contrast to normalise)."""
    checks.float_array(patches, "patches", ndim=2)
    patches = np.asarray(patches, np.float64)  # the caller's values, not a float32 copy
    if patches.shape[0] < min_rows or patches.shape[1] < 2:
        raise ValueError(f"patches must hold at least {min_rows} patch(es) of at least 2 pixels, "
                         f"got shape {patches.shape}")
    return patches


def zca_whitening(patches: np.ndarray, eps: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """ZCA matrix W (d, d) of the patch covariance; returns (patches @ W, W).

    ``patches`` ``(N, d)`` with ``N >= 2`` (a covariance needs two samples); ``eps > 0`` regularises
    the covariance's weak directions (contrast-normalised patches always have a null one): an eps
    for which whitening would amplify the weakest direction more than ``1/sqrt(float32 eps)`` (~2900)
    times the strongest is a :class:`~ebm_jax.checks.DivergenceError` (rounding would dominate it)."""
    patches = _check_patches(patches, min_rows=2)
    eps = checks.positive_float(eps, "eps")
    cov = np.cov(patches, rowvar=False)
    evals, evecs = np.linalg.eigh(cov)
    evals = np.maximum(evals, 0.0)  # a covariance is PSD: a negative eigenvalue is rounding
    gain = np.sqrt((evals.max() + eps) / (evals.min() + eps))
    if not gain <= _MAX_WHITENING_GAIN:
        raise checks.DivergenceError(
            f"eps ({eps:g}) is too small for these patches: whitening would scale the covariance's weakest "
            f"direction (eigenvalue {evals.min():.3g}) {gain:.3g} times more than its strongest ({evals.max():.3g}), "
            f"above {_MAX_WHITENING_GAIN:.0f}, so float32 rounding would dominate it; use eps >= "
            f"{evals.max() / (_MAX_WHITENING_GAIN ** 2 - 1):.2g}")
    W = (evecs / np.sqrt(evals + eps)) @ evecs.T
    return (patches @ W).astype(np.float32), W.astype(np.float32)


def extract_patches(num_patches: int, patch_size: int = 8, *, seed: int = 0, whiten: bool = False,
                    eps: float = 1.5e-4) -> np.ndarray:
    """``num_patches`` random contrast-normalised patches, float32 (num_patches, patch_size**2).

    Patches are drawn uniformly over positions of both sample images (half each,
    from a fixed ``seed``). With ``whiten`` the patches are ZCA-whitened after
    contrast normalisation (W fitted on the same patches).
    """
    num_patches = checks.positive_int(num_patches, "num_patches")
    patch_size = checks.integer(patch_size, "patch_size", ge=2, le=64)
    whiten = checks.boolean(whiten, "whiten")
    eps = checks.positive_float(eps, "eps")
    if whiten and num_patches < 2:
        raise ValueError(f"num_patches must be >= 2 to whiten (a covariance needs two patches), got {num_patches}")
    rng = np.random.default_rng(checks.seed(seed))
    images = load_grey_images()
    out = np.empty((num_patches, patch_size * patch_size), np.float32)
    which = rng.integers(0, len(images), num_patches)
    for i, img in enumerate(images):
        sel = np.flatnonzero(which == i)
        H, W = img.shape
        rows = rng.integers(0, H - patch_size + 1, len(sel))
        cols = rng.integers(0, W - patch_size + 1, len(sel))
        win = np.lib.stride_tricks.sliding_window_view(img, (patch_size, patch_size))
        out[sel] = win[rows, cols].reshape(len(sel), -1)
    out = contrast_normalize(out, eps)
    if whiten:
        out, _ = zca_whitening(out)
    return out
