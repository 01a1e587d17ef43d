"""Configs of rbm_mnist, ebm_toy2d and dae: defaults and smoke variants validate; bad values are refused
with a ConfigError naming the key."""

import ml_collections
import pytest

from ebm_jax import checks
from experiments.configs import dae, ebm_toy2d, rbm_mnist

MODULES = {"rbm_mnist": rbm_mnist, "ebm_toy2d": ebm_toy2d, "dae": dae}


@pytest.mark.parametrize("name", sorted(MODULES))
@pytest.mark.parametrize("variant", [None, "smoke"])
def test_defaults_and_smoke_validate(name, variant):
    """The shipped config passes its rules, and the same config with one bad value does not."""
    config = MODULES[name].get_config(variant)
    MODULES[name].validate(config)
    config.learning_rate = -config.learning_rate
    with pytest.raises(checks.ConfigError, match="config.learning_rate"):
        MODULES[name].validate(config)


BAD = [
    ("rbm_mnist", {"methods": "cd1,pcd1"}, "config.methods must be a tuple"),
    ("rbm_mnist", {"methods": ("cd0",)}, r"config.methods\[0\]"),
    ("rbm_mnist", {"methods": ("cd1", "cd1")}, "duplicates"),
    ("rbm_mnist", {"methods": ("cd1000000000",)}, "k must be"),
    ("rbm_mnist", {"methods": ()}, "at least 1"),
    ("rbm_mnist", {"learning_rate": -1.0}, "config.learning_rate"),
    ("rbm_mnist", {"learning_rate": float("nan")}, "config.learning_rate"),
    ("rbm_mnist", {"momentum": 1.0}, "config.momentum"),
    ("rbm_mnist", {"weight_decay": -1e-4}, "config.weight_decay"),
    ("rbm_mnist", {"ais_check_hidden": 30}, "config.ais_check_hidden"),
    ("rbm_mnist", {"ais_schedule": "cosine"}, "config.ais_schedule"),
    ("rbm_mnist", {"num_train_examples": 50, "batch_size": 100}, "config.batch_size"),
    ("ebm_toy2d", {"datasets": ("spirals",)}, r"config.datasets\[0\]"),
    ("ebm_toy2d", {"methods": ("nce1",)}, r"config.methods\[0\]"),
    ("ebm_toy2d", {"snapshot_epochs": (1, 500)}, "config.snapshot_epochs"),
    ("ebm_toy2d", {"step_size": 0.0}, "config.step_size"),
    ("ebm_toy2d", {"num_data": 100, "batch_size": 256}, "config.batch_size"),
    ("ebm_toy2d", {"hidden": "128,128"}, "config.hidden must be a tuple"),
    ("dae", {"corruption_kinds": ("gaussian",)}, "pair up"),
    ("dae", {"corruption_kinds": ("blur", "masking", "salt_and_pepper")}, r"config.corruption_kinds\[0\]"),
    ("dae", {"corruption_levels": (0.5, 1.5, 0.3)}, r"config.corruption_levels\[1\]"),
    ("dae", {"toy_sigmas": (0.0,)}, r"config.toy_sigmas\[0\]"),
    ("dae", {"loss": "l1"}, "config.loss"),
    ("dae", {"toy_batch_size": 10_000}, "config.toy_batch_size"),
]


@pytest.mark.parametrize("name,change,match", BAD, ids=[f"{n}-{'-'.join(c)}" for n, c, _ in BAD])
def test_bad_values_are_refused(name, change, match):
    config = ml_collections.ConfigDict({**MODULES[name].get_config().to_dict(), **change})  # any type, as JSON could
    with pytest.raises(checks.ConfigError, match=match):
        MODULES[name].validate(config)


def test_unknown_variant_refused():
    for module in MODULES.values():
        with pytest.raises(ValueError, match="variant"):
            module.get_config("huge")
