"""Samplers that know no model: the sampler protocol, random-walk MH, chains, CD-k / PCD, generic AIS.

A sampler is ``init(position, params) -> State`` and
``step(key, state, params) -> (State, Info)`` for one chain (blackjax's shape,
with the energy parameters explicit); :func:`run_chain` vmaps it over chains
and scans it over steps. Models supply their own samplers in this shape (the
RBM's block Gibbs: :data:`ebm_jax.models.rbm.GIBBS`).
"""

from ebm_jax.samplers.ais import (
    MAX_NUM_BETAS,
    SCHEDULES,
    AISCarry,
    AISResult,
    TemperedTarget,
    ais,
    ais_init,
    ais_steps,
    beta_schedule,
    log_mean_exp_with_std,
    validate_betas,
)
from ebm_jax.samplers.base import SamplingAlgorithm
from ebm_jax.samplers.chains import (
    MAX_STEPS_PER_CALL,
    ChainResult,
    NonFiniteChainError,
    check_finite,
    init_chains,
    run_chain,
    sample_chains,
)
from ebm_jax.samplers.contrastive import (
    ESTIMATORS,
    MAX_K,
    ContrastiveInfo,
    ContrastiveResult,
    cd_k,
    check_k,
    contrastive_step,
    parse_method,
    pcd,
)
from ebm_jax.samplers.rwmh import RWMHInfo, RWMHState, rwmh

__all__ = [
    "AISCarry",
    "AISResult",
    "ChainResult",
    "ContrastiveInfo",
    "ContrastiveResult",
    "ESTIMATORS",
    "MAX_K",
    "MAX_NUM_BETAS",
    "MAX_STEPS_PER_CALL",
    "NonFiniteChainError",
    "RWMHInfo",
    "RWMHState",
    "SCHEDULES",
    "SamplingAlgorithm",
    "TemperedTarget",
    "ais",
    "ais_init",
    "ais_steps",
    "beta_schedule",
    "cd_k",
    "check_finite",
    "check_k",
    "contrastive_step",
    "init_chains",
    "log_mean_exp_with_std",
    "parse_method",
    "pcd",
    "run_chain",
    "rwmh",
    "sample_chains",
    "validate_betas",
]
