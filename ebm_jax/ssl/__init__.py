"""Contrastive self-supervised learning: SimCLR, MoCo v2, PIRL train states and steps, probes.

The methods live in :mod:`ebm_jax.methods.ssl` (``create_state`` + ``make_train_step``,
and the per-method builders re-exported here under their old names); the
evaluation of frozen representations (linear probe, label efficiency,
supervised baseline) is :mod:`ebm_jax.ssl.probe`.
"""

from ebm_jax.ssl.steps import *  # noqa: F401,F403  (the one list of the old names: steps.__all__)
from ebm_jax.ssl.steps import __all__  # noqa: F401
