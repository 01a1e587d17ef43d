"""Contrastive self-supervised learning: SimCLR, MoCo v2, PIRL train states and steps, probes."""

from ebm_jax.ssl.steps import (
    MoCoState,
    PIRLState,
    SimCLRState,
    create_moco_state,
    create_pirl_state,
    create_simclr_state,
    enqueue,
    ema_update,
    make_moco_step,
    make_pirl_step,
    make_simclr_step,
)

__all__ = [
    "MoCoState",
    "PIRLState",
    "SimCLRState",
    "create_moco_state",
    "create_pirl_state",
    "create_simclr_state",
    "ema_update",
    "enqueue",
    "make_moco_step",
    "make_pirl_step",
    "make_simclr_step",
]
