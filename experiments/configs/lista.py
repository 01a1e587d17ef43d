"""Config: LISTA vs ISTA vs FISTA on MNIST digits (Gregor & LeCun 2010 style).

``--config=experiments/configs/lista.py:smoke`` is the seconds-long variant the tests run.
"""

import ml_collections

from ebm_jax import checks


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.num_train = 10000            # MNIST training digits (pixels in [0, 1]) for LISTA
    config.num_test = 2000              # held-out MNIST test digits for every curve
    # dictionary: learned on the training digits (ebm_jax.methods.dictionary)
    config.num_atoms = 256
    config.lam = 0.5
    config.dict_epochs = 3
    config.dict_batch_size = 256
    config.target_tol = 2e-6            # relative duality gap of z* (float32 certifies ~1e-6 at best)
    config.working_set_size = 64        # of the working-set solver for z* (> largest support)
    config.zstar_solver = "working_set"  # "working_set" | "fista" (FISTA + polish: compiles faster, for smoke runs)
    # LISTA
    config.layers = (1, 2, 5, 10, 20)
    config.tied = True                  # shared (S, theta) across layers, as in the paper's LISTA
    config.objectives = ("supervised", "unsupervised")
    config.num_epochs = 60
    config.batch_size = 128
    config.learning_rate = 1e-3
    # ISTA / FISTA curves
    config.max_iters = 1000
    if variant == "smoke":
        config.update(num_train=256, num_test=64, num_atoms=32, dict_epochs=1, dict_batch_size=64, layers=(1, 2),
                      objectives=("supervised",), num_epochs=2, batch_size=32, max_iters=20,
                      zstar_solver="fista")
    elif variant is not None:
        raise ValueError(f"unknown config variant {variant!r} (known: 'smoke')")
    return config


RULES = {
    "seed": checks.Int(ge=0),
    "num_train": checks.Int(ge=1),
    "num_test": checks.Int(ge=1),
    "num_atoms": checks.Int(ge=1),
    "lam": checks.Float(gt=0),
    "dict_epochs": checks.Int(ge=1),
    "dict_batch_size": checks.Int(ge=1),
    "target_tol": checks.Float(gt=0),
    "working_set_size": checks.Int(ge=1),
    "zstar_solver": checks.OneOf("working_set", "fista"),
    "layers": checks.TupleOf(checks.Int(ge=1)),
    "tied": checks.Bool(),
    "objectives": checks.TupleOf(checks.OneOf("supervised", "unsupervised")),
    "num_epochs": checks.Int(ge=1),
    "batch_size": checks.Int(ge=1),
    "learning_rate": checks.Float(gt=0),
    "max_iters": checks.Int(ge=1),
}


def _batches_fit(config):
    for key in ("batch_size", "dict_batch_size"):
        if config[key] > config.num_train:
            raise checks.ConfigError(f"config.{key} ({config[key]}) is larger than config.num_train ({config.num_train})")
    if config.num_atoms > 784 * 4:
        raise checks.ConfigError(f"config.num_atoms ({config.num_atoms}) is unreasonably large for 784-pixel digits")


def validate(config) -> None:
    """Every rule above, then the cross checks; raises :class:`ebm_jax.checks.ConfigError`."""
    checks.validate_config(config, RULES, cross_checks=[_batches_fit])
