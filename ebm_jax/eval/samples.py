"""How model samples sit in the energy landscape: energies of long-chain samples vs the data's.

For an RBM, ``energy`` is the free energy ``F(v)``: samples far below the data's
free energy mean the model put its mass on spurious (e.g. near-blank) states;
samples near it mean the chains found the data's modes.
"""

from __future__ import annotations

import numpy as np

from ebm_jax import checks


def sample_energy_statistics(e_samples, e_data) -> dict[str, float]:
    """``{e_samples_mean, e_data_mean, e_samples_minus_data, frac_below_data_median}`` from two energy vectors."""
    # checked as real, non-empty and finite; the statistics are taken in float64 from the caller's values
    checks.float_array(e_samples, "e_samples")
    checks.float_array(e_data, "e_data")
    e_samples = np.asarray(e_samples, np.float64).reshape(-1)
    e_data = np.asarray(e_data, np.float64).reshape(-1)
    return {"e_samples_mean": float(e_samples.mean()), "e_data_mean": float(e_data.mean()),
            "e_samples_minus_data": float(e_samples.mean() - e_data.mean()),
            "frac_below_data_median": float(np.mean(e_samples < np.median(e_data)))}
