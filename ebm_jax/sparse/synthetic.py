r"""The synthetic compressed-sensing problem of the LISTA-CPSS / ALISTA papers.

Chen et al. 2018 and Liu et al. 2019: a measurement matrix A (m, n) = (250, 500)
with i.i.d. N(0, 1/m) entries and unit-norm columns; sparse codes z (N, n)
with a Bernoulli(0.1) support and N(0, 1) values; measurements ``x = z Aᵀ + ε``
(row-major: ``x`` (N, m)), noiseless or with Gaussian noise at a given SNR.
In this library's notation A is the dictionary D (n_rows = m, atoms = n).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import checks


def gaussian_dictionary(key, num_measurements: int, num_atoms: int, dtype=jnp.float32) -> jax.Array:
    """A (m, n): i.i.d. N(0, 1/m) entries, columns scaled to unit norm."""
    m = checks.positive_int(num_measurements, "num_measurements")
    n = checks.positive_int(num_atoms, "num_atoms")
    A = jax.random.normal(key, (m, n), dtype) / jnp.sqrt(jnp.asarray(m, dtype))
    return A / jnp.linalg.norm(A, axis=0, keepdims=True)


def sparse_codes(key, num_examples: int, num_atoms: int, p_nonzero: float = 0.1, dtype=jnp.float32) -> jax.Array:
    """z (N, n): Bernoulli(p_nonzero) support times N(0, 1) values."""
    num_examples = checks.positive_int(num_examples, "num_examples")
    num_atoms = checks.positive_int(num_atoms, "num_atoms")
    p_nonzero = checks.probability(p_nonzero, "p_nonzero")
    k_support, k_values = jax.random.split(key)
    support = jax.random.bernoulli(k_support, p_nonzero, (num_examples, num_atoms))
    return jnp.where(support, jax.random.normal(k_values, (num_examples, num_atoms), dtype), 0.0)


def measure(key, A, z, snr_db: float | None = None) -> jax.Array:
    """x = z Aᵀ (+ Gaussian noise with ‖signal‖²/‖noise‖² = 10^(snr_db/10) on average); None: noiseless."""
    A = checks.float_array(A, "A", ndim=2)
    z = checks.float_array(z, "z", ndim=2)
    if z.shape[1] != A.shape[1]:
        raise ValueError(f"z must have {A.shape[1]} columns (one per atom of A {A.shape}), got shape {z.shape}")
    x = z @ A.T
    if snr_db is None:
        return x
    snr_db = checks.real(snr_db, "snr_db")
    signal_power = jnp.mean(x ** 2)
    sigma = jnp.sqrt(signal_power / 10.0 ** (snr_db / 10.0))
    return x + sigma * jax.random.normal(key, x.shape, x.dtype)


def nmse_db(z, z_ref) -> float:
    """``10 log10(Σ‖z − z_ref‖² / Σ‖z_ref‖²)`` over all examples (the papers' NMSE in dB)."""
    z, z_ref = checks.float_array(z, "z"), checks.float_array(z_ref, "z_ref")
    checks.check_shape(z_ref, "z_ref", z.shape)
    if checks.is_concrete(z_ref) and not np.any(np.asarray(z_ref) != 0):
        raise ValueError("z_ref is all zeros: the NMSE is undefined")
    return float(10.0 * jnp.log10(jnp.sum((z - z_ref) ** 2) / jnp.sum(z_ref ** 2)))
