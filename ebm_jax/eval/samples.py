"""How model samples sit in the energy landscape: energies of long-chain samples vs the data's.

For an RBM, ``energy`` is the free energy ``F(v)``: samples far below the data's
free energy mean the model put its mass on spurious (e.g. near-blank) states;
samples near it mean the chains found the data's modes.
"""

from __future__ import annotations

import numpy as np


def sample_energy_statistics(e_samples, e_data) -> dict[str, float]:
    """``{e_samples_mean, e_data_mean, e_samples_minus_data, frac_below_data_median}`` from two energy vectors."""
    e_samples = np.asarray(e_samples, np.float64).reshape(-1)
    e_data = np.asarray(e_data, np.float64).reshape(-1)
    for name, e in (("e_samples", e_samples), ("e_data", e_data)):
        if e.size == 0:
            raise ValueError(f"{name} is empty")
        if np.isnan(e).any():
            raise ValueError(f"{name} contains NaN")
    return {"e_samples_mean": float(e_samples.mean()), "e_data_mean": float(e_data.mean()),
            "e_samples_minus_data": float(e_samples.mean() - e_data.mean()),
            "frac_below_data_median": float(np.mean(e_samples < np.median(e_data)))}
