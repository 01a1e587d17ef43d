"""Contrastive self-supervised learning: SimCLR, MoCo v2, PIRL train states and steps, probes.

The methods live in :mod:`ebm_jax.methods.ssl` (``create_state`` + ``make_train_step``,
and the per-method builders re-exported here under their old names); the
evaluation of frozen representations (linear probe, label efficiency,
supervised baseline) is :mod:`ebm_jax.ssl.probe`.
"""

from ebm_jax.methods.ssl import (
    METHODS,
    MoCoState,
    PIRLState,
    SimCLRState,
    create_moco_state,
    create_pirl_state,
    create_simclr_state,
    create_state,
    ema_update,
    enqueue,
    init_bank_from_embeddings,
    make_moco_step,
    make_pirl_step,
    make_simclr_step,
    make_train_step,
    pirl_loss,
)

__all__ = [
    "METHODS",
    "MoCoState",
    "PIRLState",
    "SimCLRState",
    "create_moco_state",
    "create_pirl_state",
    "create_simclr_state",
    "create_state",
    "ema_update",
    "enqueue",
    "init_bank_from_embeddings",
    "make_moco_step",
    "make_pirl_step",
    "make_simclr_step",
    "make_train_step",
    "pirl_loss",
]
