"""Former home of the SimCLR / MoCo v2 / PIRL states and steps: now :mod:`ebm_jax.methods.ssl`.

Kept as thin aliases so that ``from ebm_jax.ssl.steps import ...`` keeps working.
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
