"""Config: dictionary learning on MNIST digits and on natural-image patches.

``--config=experiments/configs/sparse_coding.py:smoke`` is the seconds-long variant the tests run.
"""

import ml_collections

from ebm_jax import checks, precision

DATASETS = ("mnist", "patches")


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.matmul_precision = "default"  # training matmuls: "default" (the backend's fast one) | "high" | "highest"
    config.datasets = ("mnist", "patches")  # which parts to run
    config.dict_update = "bcd"            # "bcd" (Mairal online BCD) or "pgd"
    config.batch_size = 256
    config.inference_iters = 50           # FISTA iterations per minibatch (with restart)
    config.forget = 0.5                   # forgetting factor of the BCD statistics
    config.eval_tol = 1e-4                # relative duality gap of the evaluation codes
    # MNIST digits, pixels in [0, 1]; non-negative codes and atoms give stroke-like parts
    config.mnist = ml_collections.ConfigDict()
    config.mnist.num_train = 20000
    config.mnist.num_test = 2000
    config.mnist.num_atoms = 256
    config.mnist.lam = 0.2
    config.mnist.num_epochs = 8
    config.mnist.nonneg = True
    config.mnist.init = "gaussian"
    # natural-image patches (scikit-learn sample images), contrast-normalised + ZCA-whitened
    config.patches = ml_collections.ConfigDict()
    config.patches.patch_size = 8
    config.patches.num_train = 40000
    config.patches.num_test = 5000
    config.patches.num_atoms = 128
    config.patches.lam = 0.5
    config.patches.num_epochs = 6
    config.patches.whiten = True
    config.patches.nonneg = False
    config.patches.init = "gaussian"
    if variant == "smoke":
        config.update(batch_size=64, inference_iters=20)
        config.mnist.update(num_train=256, num_test=64, num_atoms=16, num_epochs=1)
        config.patches.update(num_train=256, num_test=64, num_atoms=16, num_epochs=1)
    elif variant is not None:
        raise ValueError(f"unknown config variant {variant!r} (known: 'smoke')")
    return config


_PART = {
    "num_train": checks.Int(ge=1),
    "num_test": checks.Int(ge=1),
    "num_atoms": checks.Int(ge=1),
    "lam": checks.Float(gt=0),
    "num_epochs": checks.Int(ge=1),
    "nonneg": checks.Bool(),
    "init": checks.OneOf("data", "gaussian"),
}

RULES = {
    "seed": checks.Int(ge=0),
    "matmul_precision": checks.OneOf(*precision.TRAINING_CHOICES),
    "datasets": checks.TupleOf(checks.OneOf(*DATASETS)),
    "dict_update": checks.OneOf("bcd", "pgd"),
    "batch_size": checks.Int(ge=1),
    "inference_iters": checks.Int(ge=1),
    "forget": checks.Float(ge=0, le=1),
    "eval_tol": checks.Float(gt=0),
    **{f"mnist.{k}": rule for k, rule in _PART.items()},
    **{f"patches.{k}": rule for k, rule in _PART.items()},
    "patches.patch_size": checks.Int(ge=2),
    "patches.whiten": checks.Bool(),
}


def _data_atoms_fit(config):
    for name in DATASETS:
        part = config[name]
        if part.init == "data" and part.num_atoms > part.num_train:
            raise checks.ConfigError(f"config.{name}.num_atoms ({part.num_atoms}) exceeds config.{name}.num_train "
                                     f"({part.num_train}), which init='data' draws the atoms from")


def validate(config) -> None:
    """Every rule above, then the cross checks; raises :class:`ebm_jax.checks.ConfigError`."""
    checks.validate_config(config, RULES, cross_checks=[_data_atoms_fit])
