"""Config: PIRL on MNIST (2x2 jigsaw invariance, memory bank of 60k, 4096 negatives, τ = 0.2).

Override any key from the command line; ``--config=experiments/configs/pirl.py:smoke``
is the seconds-long variant the tests run. Keys and rules: :mod:`experiments.configs._ssl`.
"""

import ml_collections

from experiments.configs import _ssl

METHOD = "pirl"
RULES = _ssl.rules(METHOD)


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    c = _ssl.base_config(METHOD, variant)
    c.temperature = 0.2
    c.baselines = False
    c.supervised_label_efficiency = False
    return c


def validate(config) -> None:
    """Every rule, then the cross checks; raises :class:`ebm_jax.checks.ConfigError`."""
    _ssl.validate(config, METHOD)
