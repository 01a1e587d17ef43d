"""Config of the unconditional latent-variable EBM on the course's ellipse (``experiments/lvebm_ellipse.py``).

``--config=experiments/configs/lvebm_ellipse.py:smoke`` is the seconds-long variant the tests run.
"""



import ml_collections

from ebm_jax import checks, precision


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.matmul_precision = "default"  # training matmuls: "default" (the backend's fast one) | "high" | "highest"
    config.num_samples = 24              # the course's 24 points at x = 0
    config.noise_std = 0.05              # ε ~ N(0, (1/20)²)
    config.z_grid_size = 48              # z ∈ [0, 2π) in steps of π/24
    config.dense_grid_size = 425         # grid for the grid-vs-gradient comparison
    config.gradient_starts = 8           # gradient inference: starts per sample
    config.gradient_steps = 200
    config.gradient_learning_rate = 0.05
    config.map_grid_size = 101           # the (y1, y2) free-energy maps
    config.map_extent = 3.0              # maps over [-extent, extent]²
    config.beta_cold = 20.0              # the cold F_β map
    config.beta_warm = 0.3               # the warm F_β map
    config.init_radii = (1.0, 1.0)       # untrained ellipse decoder w
    config.num_steps = 300               # full-batch steps of the ellipse decoder
    config.learning_rate = 0.05
    config.beta_train_warm = 1.0         # β of the warm training (the cold one is zero temperature)
    config.train_mlp_decoder = True      # also learn g = MLP(z) at zero temperature
    config.mlp_hidden = (32, 32)
    config.mlp_num_steps = 1000
    config.mlp_learning_rate = 0.01
    config.num_heldout = 1000            # fresh ellipse samples for the held-out free energy
    config.log_every_steps = 50
    if variant == "smoke":
        config.update(num_steps=20, mlp_num_steps=20, map_grid_size=21, gradient_steps=20, num_heldout=50,
                      log_every_steps=10)
    elif variant is not None:
        raise ValueError(f"unknown config variant {variant!r} (known: 'smoke')")
    return config


RULES = {
    "seed": checks.Int(ge=0),
    "matmul_precision": checks.OneOf(*precision.TRAINING_CHOICES),
    "num_samples": checks.Int(ge=1),
    "noise_std": checks.Float(ge=0),
    "z_grid_size": checks.Int(ge=1),
    "dense_grid_size": checks.Int(ge=1),
    "gradient_starts": checks.Int(ge=1),
    "gradient_steps": checks.Int(ge=1),
    "gradient_learning_rate": checks.Float(gt=0),
    "map_grid_size": checks.Int(ge=2),
    "map_extent": checks.Float(gt=0),
    "beta_cold": checks.Float(gt=0),
    "beta_warm": checks.Float(gt=0),
    "init_radii": checks.TupleOf(checks.Float(), min_len=2, max_len=2),
    "num_steps": checks.Int(ge=1),
    "learning_rate": checks.Float(gt=0),
    "beta_train_warm": checks.Float(gt=0),
    "train_mlp_decoder": checks.Bool(),
    "mlp_hidden": checks.TupleOf(checks.Int(ge=1)),
    "mlp_num_steps": checks.Int(ge=1),
    "mlp_learning_rate": checks.Float(gt=0),
    "num_heldout": checks.Int(ge=1),
    "log_every_steps": checks.Int(ge=1),
}


def _cold_is_colder(config):
    if not config.beta_cold > config.beta_warm:
        raise checks.ConfigError(f"config.beta_cold ({config.beta_cold}) must be > config.beta_warm "
                                 f"({config.beta_warm})")


def validate(config) -> None:
    """Every rule above, then the cross checks; raises :class:`ebm_jax.checks.ConfigError`."""
    checks.validate_config(config, RULES, cross_checks=[_cold_is_colder])



