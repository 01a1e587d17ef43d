"""Config: SimCLR on MNIST (encoder 32/64/128 stride-2 CNN + MLP head, NT-Xent, τ = 0.5).

Override any key from the command line, e.g. ``--config.num_epochs=10``;
``--config=experiments/configs/simclr.py:smoke`` is the seconds-long variant the
tests run. The keys and their rules are shared with ``moco`` and ``pirl``
(:mod:`experiments.configs._ssl`).
"""

import ml_collections

from experiments.configs import _ssl

METHOD = "simclr"
RULES = _ssl.rules(METHOD)


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    return _ssl.base_config(METHOD, variant)


def validate(config) -> None:
    """Every rule, then the cross checks; raises :class:`ebm_jax.checks.ConfigError`."""
    _ssl.validate(config, METHOD)
