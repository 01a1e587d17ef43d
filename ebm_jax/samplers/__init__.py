"""Langevin-free MCMC: block Gibbs and random-walk MH kernels, chains, CD-k / PCD, AIS.

Kernels are pure functions ``kernel(key, x, params) -> x`` for one chain;
:func:`run_chain` scans them over steps and vmaps them over chains.
"""

from ebm_jax.samplers.ais import (
    SCHEDULES,
    ais_log_partition,
    beta_schedule,
    exact_log_partition,
    validate_betas,
)
from ebm_jax.samplers.chains import NonFiniteChainError, check_finite, run_chain, sample_chains
from ebm_jax.samplers.contrastive import cd_k, contrastive_loss, pcd
from ebm_jax.samplers.kernels import make_rwmh_kernel, rbm_gibbs_kernel

__all__ = [
    "SCHEDULES",
    "NonFiniteChainError",
    "ais_log_partition",
    "beta_schedule",
    "cd_k",
    "check_finite",
    "contrastive_loss",
    "exact_log_partition",
    "make_rwmh_kernel",
    "pcd",
    "rbm_gibbs_kernel",
    "run_chain",
    "sample_chains",
    "validate_betas",
]
