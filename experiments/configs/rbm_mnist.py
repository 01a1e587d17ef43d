"""Config: Bernoulli RBM on binarized MNIST with CD-1, CD-k and PCD.

Override any key from the command line, e.g. ``--config.methods="('cd1','pcd1')" --config.num_epochs=2``;
``--config=experiments/configs/rbm_mnist.py:smoke`` is the seconds-long variant the tests run.
"""

import ml_collections

from ebm_jax import checks, precision
from ebm_jax.samplers import SCHEDULES, parse_method


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.methods = ("cd1", "cd3", "pcd1", "cd25")  # cd<k> / pcd<k>; each trains in WORKDIR/<method>
    config.num_hidden = 500
    config.num_epochs = 10
    config.batch_size = 100
    config.learning_rate = 0.05       # SGD
    config.momentum = 0.5
    config.weight_decay = 1e-4        # L2 on W only
    config.lr_decay = True            # linear decay of the learning rate to 0 over the run
    config.pcd_num_chains = 100       # persistent chains (kept in the train state)
    config.seed = 0
    config.matmul_precision = "default"  # training matmuls: "default" (the backend's fast one) | "high" | "highest"
    config.num_seeds = 1              # S > 1: train seeds seed..seed+S-1 of each method at once (vmap); per-seed results + mean/std
    config.ais_num_betas = 14500      # Salakhutdinov & Murray 2008's schedule length
    config.ais_num_runs = 100
    config.ais_schedule = "sm08"      # "sm08" | "linear" | "sigmoid"
    config.ais_check_hidden = 20      # also train a PCD RBM this small and compare AIS with exact log Z (0: skip)
    config.ais_check_epochs = 2
    config.long_chain_steps = 10000   # Gibbs sweeps for the long-chain samples figure (0: skip)
    config.long_chain_num = 100
    config.eval_chain_steps = 500     # per-epoch: free energy of samples after this many sweeps from noise (0: skip)
    config.eval_num_examples = 1000   # test examples for the per-epoch free energy
    config.num_train_examples = 0     # 0: all 60,000
    config.num_test_examples = 0      # 0: all 10,000
    config.checkpoint_every_steps = 0  # 0: once per epoch
    config.log_every_steps = 100
    config.data_source = "auto"       # "auto" | "cache" | "tfds"
    if variant == "smoke":
        config.update(methods=("cd1", "pcd1"), num_hidden=16, num_epochs=1, num_train_examples=1000,
                      num_test_examples=200, ais_num_betas=100, ais_num_runs=16, ais_check_hidden=8,
                      ais_check_epochs=1, long_chain_steps=20, long_chain_num=10, eval_chain_steps=5,
                      eval_num_examples=100, log_every_steps=5)
    elif variant is not None:
        raise ValueError(f"unknown config variant {variant!r} (known: 'smoke')")
    return config


def _method(value, name):
    parse_method(value, error=lambda message: checks.ConfigError(f"{name}: {message}"))
    return value


RULES = {
    "methods": checks.TupleOf(_method),
    "num_hidden": checks.Int(ge=1),
    "num_epochs": checks.Int(ge=1),
    "batch_size": checks.Int(ge=1),
    "learning_rate": checks.Float(gt=0),
    "momentum": checks.Float(ge=0, lt=1),
    "weight_decay": checks.Float(ge=0),
    "lr_decay": checks.Bool(),
    "pcd_num_chains": checks.Int(ge=1),
    "seed": checks.Int(ge=0),
    "matmul_precision": checks.OneOf(*precision.TRAINING_CHOICES),
    "num_seeds": checks.Int(ge=1),
    "ais_num_betas": checks.Int(ge=2, le=10_000_000),
    "ais_num_runs": checks.Int(ge=1),
    "ais_schedule": checks.OneOf(*SCHEDULES),
    "ais_check_hidden": checks.Int(ge=0, le=24),
    "ais_check_epochs": checks.Int(ge=1),
    "long_chain_steps": checks.Int(ge=0),
    "long_chain_num": checks.Int(ge=1),
    "eval_chain_steps": checks.Int(ge=0, le=100_000),
    "eval_num_examples": checks.Int(ge=1),
    "num_train_examples": checks.Int(ge=0),
    "num_test_examples": checks.Int(ge=0),
    "checkpoint_every_steps": checks.Int(ge=0),
    "log_every_steps": checks.Int(ge=1),
    "data_source": checks.OneOf("auto", "cache", "tfds"),
}


def _unique_methods(config):
    if len(set(config.methods)) != len(config.methods):
        raise checks.ConfigError(f"config.methods has duplicates: {config.methods}")


def validate(config) -> None:
    """Every rule above, then the cross checks; raises :class:`ebm_jax.checks.ConfigError`."""
    checks.validate_config(config, RULES, cross_checks=[_unique_methods,
                                                        checks.at_most("batch_size", "num_train_examples", zero_is_no_limit=True)])
