"""Config of the collapse study (``experiments/lvebm_collapse.py``): dim(z) × regularizer × seed.

``--config=experiments/configs/lvebm_collapse.py:smoke`` is the seconds-long variant the tests run.
"""

import ml_collections

from ebm_jax import checks, precision
from ebm_jax.lvebm import REGULARIZERS


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.data_seed = 0                   # the training and held-out data
    config.seed = 0                        # model seeds seed..seed+num_seeds-1 (initialisation, batches, inference starts)
    config.matmul_precision = "default"  # training matmuls: "default" (the backend's fast one) | "high" | "highest"
    config.num_seeds = 3                   # trained together per (dim(z), regularizer) cell (vmap); per-seed results + mean/std
    config.latent_dims = (1, 2, 8, 32)
    config.regularizers = ("none", "l1", "limited_dim", "noise_l2")
    config.l1_weight = 0.3                 # λ of λ‖z‖₁
    config.l2_weight = 0.3                 # λ of λ‖z‖² (noise_l2)
    config.noise_std = 0.3                 # σ of z + σε (noise_l2)
    config.limited_max_dim = 1             # limited_dim: coordinates of z the decoder sees
    config.x_max = 0.5                     # x ~ U(0, x_max): the narrow end of the horn (semi-axes 1.5 to 4.8)
    config.num_train = 512
    config.num_heldout = 500
    config.noise_std_data = 0.05
    config.predictor_hidden = (8, 8)
    config.predictor_dim = 4
    config.decoder_hidden = (32, 32)       # g = MLP([f(x), z]), tanh
    config.num_epochs = 32
    config.batch_size = 64
    config.learning_rate = 0.02
    config.num_starts = 4                  # gradient inference during training
    config.inference_steps = 20
    config.inference_lr = 0.1
    config.z_range = 2.0                   # starts uniform in [-z_range, z_range]^d
    config.eval_x = (0.1, 0.25, 0.4)       # slices where the volume of low energy is measured
    config.eval_grid_size = 25             # 25 × 25 points per slice
    config.eval_starts = 4
    config.eval_steps = 60
    config.box_scale = 1.5                 # the box is ±box_scale·ρ(x)
    config.epsilon_rel = 0.1               # ε = (epsilon_rel · mean ρ(x))²
    config.log_every_steps = 32
    config.checkpoint_every_steps = 128    # 0: once per epoch
    if variant == "smoke":
        config.update(num_seeds=2, latent_dims=(2,), regularizers=("none", "l1"), num_epochs=1, num_train=128,
                      num_heldout=50, eval_grid_size=5, eval_steps=5, inference_steps=3, log_every_steps=1)
    elif variant is not None:
        raise ValueError(f"unknown config variant {variant!r} (known: 'smoke')")
    return config


RULES = {
    "data_seed": checks.Int(ge=0),
    "seed": checks.Int(ge=0),
    "matmul_precision": checks.OneOf(*precision.TRAINING_CHOICES),
    "num_seeds": checks.Int(ge=1),
    "latent_dims": checks.TupleOf(checks.Int(ge=1)),
    "regularizers": checks.TupleOf(checks.OneOf(*REGULARIZERS)),
    "l1_weight": checks.Float(ge=0),
    "l2_weight": checks.Float(ge=0),
    "noise_std": checks.Float(ge=0),
    "limited_max_dim": checks.Int(ge=1),
    "x_max": checks.Float(gt=0, le=1),
    "num_train": checks.Int(ge=1),
    "num_heldout": checks.Int(ge=1),
    "noise_std_data": checks.Float(ge=0),
    "predictor_hidden": checks.TupleOf(checks.Int(ge=1)),
    "predictor_dim": checks.Int(ge=1),
    "decoder_hidden": checks.TupleOf(checks.Int(ge=1)),
    "num_epochs": checks.Int(ge=1),
    "batch_size": checks.Int(ge=1),
    "learning_rate": checks.Float(gt=0),
    "num_starts": checks.Int(ge=1),
    "inference_steps": checks.Int(ge=1),
    "inference_lr": checks.Float(gt=0),
    "z_range": checks.Float(gt=0),
    "eval_x": checks.TupleOf(checks.Float(ge=0, le=1)),
    "eval_grid_size": checks.Int(ge=2),
    "eval_starts": checks.Int(ge=1),
    "eval_steps": checks.Int(ge=1),
    "box_scale": checks.Float(gt=0),
    "epsilon_rel": checks.Float(gt=0),
    "log_every_steps": checks.Int(ge=1),
    "checkpoint_every_steps": checks.Int(ge=0),
}


def _no_duplicates(config):
    for key in ("latent_dims", "regularizers"):
        values = tuple(config[key])
        if len(set(values)) != len(values):
            raise checks.ConfigError(f"config.{key} repeats a value: {values}")


def validate(config) -> None:
    """Every rule above, then the cross checks; raises :class:`ebm_jax.checks.ConfigError`."""
    checks.validate_config(config, RULES, cross_checks=[checks.at_most("batch_size", "num_train"), _no_duplicates])
