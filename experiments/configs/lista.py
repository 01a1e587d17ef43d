"""Config: LISTA vs ISTA vs FISTA on MNIST digits (Gregor & LeCun 2010 style).

``--config=experiments/configs/lista.py:smoke`` is the seconds-long variant the tests run.
"""

import ml_collections

from ebm_jax import checks, precision
from experiments.configs import _lista_staged


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.matmul_precision = "default"  # training matmuls: "default" (the backend's fast one) | "high" | "highest"
    config.num_train = 60000            # MNIST training digits (pixels in [0, 1]) for LISTA (and their z*)
    config.dict_num_train = 10000       # the first this many of them learn the dictionary
    config.num_test = 2000              # held-out MNIST test digits for every curve
    # dictionary: learned on the training digits (ebm_jax.methods.dictionary)
    config.num_atoms = 256
    config.lam = 0.5
    config.dict_epochs = 3
    config.dict_batch_size = 256
    config.target_tol = 2e-6            # relative duality gap of z* (float32 certifies ~1e-6 at best)
    config.working_set_size = 64        # of the working-set solver for z* (> largest support)
    config.zstar_solver = "working_set"  # "working_set" | "fista" (FISTA + polish: compiles faster, for smoke runs)
    config.parts = ("tied", "layerwise")  # which LISTAs to train (see experiments/lista.py)
    # "tied": one LISTA per depth T in `layers`, trained end to end (Gregor & LeCun)
    config.layers = (1, 2, 5, 10, 20)
    config.tied = True                  # shared (S, theta) across layers, as in the paper's LISTA
    config.objectives = ("supervised", "unsupervised")
    config.num_epochs = 60
    config.batch_size = 128
    config.learning_rate = 1e-3
    # "layerwise": one network of num_layers unrolled layers; every prefix is a T-layer LISTA.
    # kind "lfista": untied S_t, per-atom thresholds and a learned per-atom momentum (initialised from FISTA, so
    # the untrained network is T FISTA steps); "untied": the same without momentum; "alista": analytic W.
    # layer_epochs > 0 first grows it layer by layer (each layer trained on the frozen prefix's codes, Chen et al.
    # 2018), then finetune_epochs train all layers jointly (mean over layers of each layer's NMSE in dB).
    # Support selection (support_percent > 0) lets the largest entries pass unshrunk: it helps recover a sparse
    # ground truth, but the lasso codes z* here are shrunk, and it raised the held-out error (README).
    # recipe "layerwise" (default): the greedy layer stages and the joint stage below; "staged": the authors'
    # staged schedule (experiments/configs/_lista_staged.py).
    config.layerwise = ml_collections.ConfigDict()
    config.layerwise.recipe = "layerwise"
    config.layerwise.kind = "lfista"
    config.layerwise.num_layers = 16
    config.layerwise.support_percent = 0.0      # min(p·t, p_max) % of the atoms pass the threshold unshrunk
    config.layerwise.support_max_percent = 8.0
    config.layerwise.layer_epochs = 2
    config.layerwise.finetune_epochs = 10
    config.layerwise.batch_size = 128
    config.layerwise.learning_rate = 2e-3
    config.layerwise.finetune_lr = 1.25e-4
    config.layerwise.finetune_loss = "all_layers_db"
    config.layerwise.staged = _lista_staged.staged_config(variant)
    # ISTA / FISTA curves
    config.max_iters = 1000
    if variant == "smoke":
        config.update(num_train=256, dict_num_train=256, num_test=64, num_atoms=32, dict_epochs=1, dict_batch_size=64, layers=(1, 2),
                      objectives=("supervised",), num_epochs=2, batch_size=32, max_iters=20,
                      zstar_solver="fista")
        config.layerwise.update(num_layers=2, layer_epochs=1, finetune_epochs=1, batch_size=32, support_percent=4.0)
    elif variant is not None:
        raise ValueError(f"unknown config variant {variant!r} (known: 'smoke')")
    return config


RULES = {
    "seed": checks.Int(ge=0),
    "matmul_precision": checks.OneOf(*precision.TRAINING_CHOICES),
    "num_train": checks.Int(ge=1),
    "dict_num_train": checks.Int(ge=1),
    "num_test": checks.Int(ge=1),
    "num_atoms": checks.Int(ge=1),
    "lam": checks.Float(gt=0),
    "dict_epochs": checks.Int(ge=1),
    "dict_batch_size": checks.Int(ge=1),
    "target_tol": checks.Float(gt=0),
    "working_set_size": checks.Int(ge=1),
    "zstar_solver": checks.OneOf("working_set", "fista"),
    "parts": checks.TupleOf(checks.OneOf("tied", "layerwise")),
    "layers": checks.TupleOf(checks.Int(ge=1)),
    "tied": checks.Bool(),
    "objectives": checks.TupleOf(checks.OneOf("supervised", "unsupervised")),
    "num_epochs": checks.Int(ge=1),
    "batch_size": checks.Int(ge=1),
    "learning_rate": checks.Float(gt=0),
    "max_iters": checks.Int(ge=1),
    "layerwise.kind": checks.OneOf("untied", "alista", "lfista"),
    "layerwise.num_layers": checks.Int(ge=1),
    "layerwise.layer_epochs": checks.Int(ge=0),
    "layerwise.batch_size": checks.Int(ge=1),
    "layerwise.learning_rate": checks.Float(gt=0),
    **_lista_staged.rules("layerwise."),
}


def _batches_fit(config):
    for key, value, limit in (("batch_size", config.batch_size, "num_train"),
                              ("dict_batch_size", config.dict_batch_size, "dict_num_train"),
                              ("layerwise.batch_size", config.layerwise.batch_size, "num_train")):
        if value > config[limit]:
            raise checks.ConfigError(f"config.{key} ({value}) is larger than config.{limit} ({config[limit]})")
    staged = config.layerwise.staged
    if "layerwise" in config.parts and config.layerwise.recipe == "staged" and staged.num_val >= config.num_train:
        raise checks.ConfigError(f"config.layerwise.staged.num_val ({staged.num_val}) leaves no training digits of "
                                 f"config.num_train ({config.num_train})")
    if config.dict_num_train > config.num_train:
        raise checks.ConfigError(f"config.dict_num_train ({config.dict_num_train}) is larger than config.num_train "
                                 f"({config.num_train})")
    if config.num_atoms > 784 * 4:
        raise checks.ConfigError(f"config.num_atoms ({config.num_atoms}) is unreasonably large for 784-pixel digits")


def validate(config) -> None:
    """Every rule above, then the cross checks; raises :class:`ebm_jax.checks.ConfigError`."""
    checks.validate_config(config, RULES, cross_checks=[_batches_fit])
