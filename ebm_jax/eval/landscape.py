"""Energy landscapes and samples of low-dimensional EBMs: spurious low-energy regions, sample quality.

The lecture's claims measured here: CD's short chains never visit regions far
from the data, so low-energy "spurious" regions can survive there (PCD's
persistent chains push them up); a DAE's reconstruction energy is only shaped
where corruption reaches. Every function takes numpy arrays (energies on a grid
of points, the data's energies, distances to the data) and returns numbers.
"""

from __future__ import annotations

import numpy as np

from ebm_jax import checks


def _vector(x, name):
    checks.float_array(x, name)  # real, non-empty, finite
    return np.asarray(x, np.float64).reshape(-1)


def low_energy_fraction(e_points, e_data, mask, *, percentile: float = 95.0, factor: float = 1.0) -> float:
    """Fraction of the masked points whose energy is below ``factor`` x the data's ``percentile`` energy.

    With ``mask`` = "far from every data point", this is the fraction of spurious
    low-energy cells (``spurious_frac`` of the 2-D EBM, ``far_low_frac`` of the DAE).
    Returns NaN when no point is masked.
    """
    e_points, e_data = _vector(e_points, "e_points"), _vector(e_data, "e_data")
    mask = np.asarray(mask, bool).reshape(-1)
    checks.check_shape(mask, "mask", e_points.shape)
    percentile = checks.real(percentile, "percentile", ge=0, le=100)
    factor = checks.real(factor, "factor", gt=0)
    if not mask.any():
        return float("nan")
    tau = factor * np.percentile(e_data, percentile)
    return float(np.mean(e_points[mask] < tau))


def energy_gap(e_points, e_data, mask) -> float:
    """``mean E(masked points) - mean E(data)``: how much higher the far-from-data energy sits (NaN if none)."""
    e_points, e_data = _vector(e_points, "e_points"), _vector(e_data, "e_data")
    mask = np.asarray(mask, bool).reshape(-1)
    checks.check_shape(mask, "mask", e_points.shape)
    return float(np.mean(e_points[mask]) - np.mean(e_data)) if mask.any() else float("nan")


def energy_by_distance(e_points, distance, edges) -> dict[tuple[float, float], float]:
    """Mean energy of the points whose distance to the data lies in ``[lo, hi)``, per pair of ``edges``
    (empty bins are left out)."""
    e_points, distance = _vector(e_points, "e_points"), _vector(distance, "distance")
    checks.check_shape(distance, "distance", e_points.shape)
    edges = np.asarray(edges, np.float64)
    if edges.ndim != 1 or edges.size < 2 or not (np.diff(edges) > 0).all():
        raise ValueError(f"edges must be an increasing 1-D sequence of at least 2 values, got {edges}")
    out = {}
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (distance >= lo) & (distance < hi)
        if sel.any():
            out[(float(lo), float(hi))] = float(np.mean(e_points[sel]))
    return out


def histogram_tv_distance(samples, data, box: tuple[float, float], bins: int = 16) -> float:
    """Total-variation distance between the ``bins x bins`` histograms of 2-D ``samples`` and ``data`` on
    ``box^2``: ``0.5 sum |p_s - p_d|``, each histogram normalised over the points inside the box
    (NaN when no data point is inside)."""
    checks.float_array(samples, "samples", ndim=2)
    checks.float_array(data, "data", ndim=2)
    samples, data = np.asarray(samples, np.float64), np.asarray(data, np.float64)
    checks.check_shape(samples, "samples", (None, 2))
    checks.check_shape(data, "data", (None, 2))
    bins = checks.positive_int(bins, "bins")
    lo, hi = (checks.real(b, "box") for b in box)
    if not lo < hi:
        raise ValueError(f"box must be (low, high) with low < high, got {box}")
    if len(data) == 0:
        raise ValueError("data is empty")
    edges = np.linspace(lo, hi, bins + 1)
    h_s = np.histogram2d(samples[:, 0], samples[:, 1], bins=[edges, edges])[0].ravel()
    h_d = np.histogram2d(data[:, 0], data[:, 1], bins=[edges, edges])[0].ravel()
    if not h_d.sum():
        return float("nan")
    return float(0.5 * np.abs(h_s / max(h_s.sum(), 1) - h_d / h_d.sum()).sum())


def off_data_statistics(distance_to_data, threshold) -> dict[str, float]:
    """``offdata_frac``: fraction of samples farther than ``threshold`` from every data point;
    ``mean_dist``: their mean distance to the data."""
    d = _vector(distance_to_data, "distance_to_data")
    threshold = checks.positive_float(threshold, "threshold")
    return {"offdata_frac": float(np.mean(d > threshold)), "mean_dist": float(d.mean())}
