r"""How diverse a bank of filters (or dictionary atoms) is: coherence and orientations.

Filters are ``(K, h, w)`` arrays (patch atoms reshaped to their patch). Each
function normalises the filters to unit ℓ2 norm first.

* :func:`mutual_coherence`: ``max_{j≠k} |⟨d_j, d_k⟩|`` at zero shift, and the
  mean over atoms of each atom's largest such value;
* :func:`shift_coherence`: the same over every relative shift of the two
  filters (the full 2-D cross-correlation): the coherence of a convolutional
  dictionary. A patch dictionary made of shifted copies of one edge has a low
  zero-shift coherence but a shift coherence near 1; that is the measure
  that tells "shifted copies" from "different filters";
* :func:`orientations`: each filter's dominant orientation and orientedness
  from its gradient structure tensor ``J = Σ ∇d ∇dᵀ``: the angle of the
  dominant gradient direction θ ∈ [0°, 180°) and ``(λ₁ − λ₂)/(λ₁ + λ₂)`` ∈ [0, 1]
  (0: isotropic, e.g. centre-surround; 1: a perfect edge or grating);
* :func:`orientation_spread`: over the oriented filters (orientedness ≥
  ``min_orientedness``), the entropy of their orientations in ``num_bins``
  bins (in bits; ``log2(num_bins)`` means every orientation equally often),
  the number of bins used, and the circular variance of the doubled angles
  (0: one orientation, 1: spread evenly).
"""

from __future__ import annotations

import numpy as np

from ebm_jax import checks


def _unit_filters(D, name: str = "D") -> np.ndarray:
    """Filters (K, h, w), K >= 1, real, finite and none zero, as float64 scaled to unit norm."""
    checks.float_array(D, name, ndim=3)  # the checks; the values are read in float64 from D itself
    D = np.asarray(D, np.float64)
    norms = np.sqrt(np.sum(D * D, axis=(1, 2), keepdims=True))
    if np.any(norms == 0):
        raise ValueError(f"{name} has zero filter(s) at index {np.flatnonzero(norms.ravel() == 0).tolist()}")
    return D / norms


def _max_off_diagonal(G: np.ndarray) -> tuple[float, float]:
    if len(G) < 2:
        return 0.0, 0.0
    G = G.copy()
    np.fill_diagonal(G, -np.inf)
    per_atom = G.max(axis=1)
    return float(per_atom.max()), float(per_atom.mean())


def mutual_coherence(D) -> dict:
    """``{"max", "mean"}``: the largest ``|cosine|`` between two different filters at zero shift,
    and the mean over filters of each one's largest (0 for a single filter)."""
    D = _unit_filters(D)
    flat = D.reshape(len(D), -1)
    mx, mean = _max_off_diagonal(np.abs(flat @ flat.T))
    return {"max": mx, "mean": mean}


def cross_correlations(D) -> np.ndarray:
    """The absolute value of the full 2-D cross-correlation of every pair of unit-norm filters: (K, K, 2h−1, 2w−1)."""
    D = _unit_filters(D)
    K, h, w = D.shape
    shape = (2 * h - 1, 2 * w - 1)
    F = np.fft.rfft2(D, s=shape)
    corr = np.fft.irfft2(F[:, None] * np.conj(F[None, :]), s=shape)
    return np.abs(corr)


def shift_coherence(D) -> dict:
    """``{"max", "mean"}`` as :func:`mutual_coherence` but maximised over all relative shifts."""
    D = _unit_filters(D)
    G = cross_correlations(D).max(axis=(2, 3))
    mx, mean = _max_off_diagonal(G)
    return {"max": mx, "mean": mean}


def orientations(D) -> tuple[np.ndarray, np.ndarray]:
    """``(angle_degrees (K,), orientedness (K,))`` from each filter's gradient structure tensor."""
    D = _unit_filters(D)
    gy, gx = np.gradient(D, axis=(1, 2))
    jxx, jyy, jxy = (np.sum(a, axis=(1, 2)) for a in (gx * gx, gy * gy, gx * gy))
    angle = 0.5 * np.arctan2(2 * jxy, jxx - jyy)  # direction of the dominant gradient
    root = np.sqrt((jxx - jyy) ** 2 + 4 * jxy ** 2)
    orientedness = np.where(jxx + jyy > 0, root / np.maximum(jxx + jyy, 1e-300), 0.0)
    return np.degrees(angle) % 180.0, orientedness


def orientation_spread(D, *, num_bins: int = 8, min_orientedness: float = 0.3) -> dict:
    """``{"entropy_bits", "bins_used", "circular_variance", "frac_oriented", "num_oriented"}``
    over the filters whose orientedness is at least ``min_orientedness`` (bins centred on
    0°, 180°/num_bins, ...; entropy and variance are 0 when fewer than two filters are oriented)."""
    num_bins = checks.integer(num_bins, "num_bins", ge=2)
    min_orientedness = checks.probability(min_orientedness, "min_orientedness")
    angle, oriented = orientations(D)
    sel = angle[oriented >= min_orientedness]
    out = {"frac_oriented": float(len(sel) / len(angle)), "num_oriented": int(len(sel))}
    if len(sel) < 2:
        return {**out, "entropy_bits": 0.0, "bins_used": int(len(sel)), "circular_variance": 0.0}
    width = 180.0 / num_bins
    bins = np.floor(((sel + width / 2) % 180.0) / width).astype(int)
    p = np.bincount(bins, minlength=num_bins) / len(sel)
    nz = p[p > 0]
    doubled = np.exp(2j * np.radians(sel))
    return {**out, "entropy_bits": float(-np.sum(nz * np.log2(nz))), "bins_used": int(len(nz)),
            "circular_variance": float(1.0 - np.abs(doubled.mean()))}


def filter_diversity(D, *, num_bins: int = 8, min_orientedness: float = 0.3) -> dict:
    """All of the above in one flat dict: ``coherence_max``, ``coherence_mean``,
    ``shift_coherence_max``, ``shift_coherence_mean``, ``orientation_entropy_bits``,
    ``orientation_bins_used``, ``orientation_circular_variance``, ``frac_oriented``."""
    mc, sc = mutual_coherence(D), shift_coherence(D)
    sp = orientation_spread(D, num_bins=num_bins, min_orientedness=min_orientedness)
    return {"coherence_max": mc["max"], "coherence_mean": mc["mean"],
            "shift_coherence_max": sc["max"], "shift_coherence_mean": sc["mean"],
            "orientation_entropy_bits": sp["entropy_bits"], "orientation_bins_used": sp["bins_used"],
            "orientation_circular_variance": sp["circular_variance"], "frac_oriented": sp["frac_oriented"]}
