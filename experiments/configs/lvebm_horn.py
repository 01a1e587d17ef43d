"""Config of the conditional latent-variable EBM on the course's horn (``experiments/lvebm_horn.py``).

``--config=experiments/configs/lvebm_horn.py:smoke`` is the seconds-long variant the tests run.
"""

import ml_collections

from ebm_jax import checks, precision


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.matmul_precision = "default"  # training matmuls: "default" (the backend's fast one) | "high" | "highest"
    config.num_seeds = 1               # S > 1: train S replicas at once (vmap), results per seed + mean/std
    config.num_train = 1000            # (x, y) pairs, x ~ U(0, 1)
    config.num_heldout = 1000
    config.noise_std = 0.05
    config.predictor_hidden = (8, 8)   # f: 1 → 8 → 8 → 2, the semi-axes of g(f(x), z) = [f1 cos z, f2 sin z]
    config.z_grid_size = 48            # z ∈ [0, 2π) in steps of π/24
    config.num_epochs = 60
    config.batch_size = 50
    config.learning_rate = 0.03
    config.lr_schedule = "cosine"
    config.num_x_plot = 11             # x values for the learned-manifold figure
    config.sample_x = (0.2, 0.5, 0.8)  # x values for conditional sampling
    config.samples_per_x = 8           # ž per x (several plausible completions)
    config.log_every_steps = 50
    config.checkpoint_every_steps = 400   # 0: once per epoch
    if variant == "smoke":
        config.update(num_train=100, num_heldout=100, num_epochs=2, batch_size=50, log_every_steps=2)
    elif variant is not None:
        raise ValueError(f"unknown config variant {variant!r} (known: 'smoke')")
    return config


RULES = {
    "seed": checks.Int(ge=0),
    "matmul_precision": checks.OneOf(*precision.TRAINING_CHOICES),
    "num_seeds": checks.Int(ge=1),
    "num_train": checks.Int(ge=1),
    "num_heldout": checks.Int(ge=1),
    "noise_std": checks.Float(ge=0),
    "predictor_hidden": checks.TupleOf(checks.Int(ge=1)),
    "z_grid_size": checks.Int(ge=1),
    "num_epochs": checks.Int(ge=1),
    "batch_size": checks.Int(ge=1),
    "learning_rate": checks.Float(gt=0),
    "lr_schedule": checks.OneOf("constant", "cosine"),
    "num_x_plot": checks.Int(ge=2),
    "sample_x": checks.TupleOf(checks.Float(ge=0, le=1)),
    "samples_per_x": checks.Int(ge=1),
    "log_every_steps": checks.Int(ge=1),
    "checkpoint_every_steps": checks.Int(ge=0),
}


def validate(config) -> None:
    """Every rule above, then the cross checks; raises :class:`ebm_jax.checks.ConfigError`."""
    checks.validate_config(config, RULES, cross_checks=[checks.at_most("batch_size", "num_train")])
