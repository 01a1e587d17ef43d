"""Config: denoising autoencoders on MNIST (three corruptions) and on 2-D toy data.

Override any key from the command line, e.g. ``--config.corruption_kinds="('gaussian',)"
--config.corruption_levels="(0.5,)"``; ``--config=experiments/configs/dae.py:smoke`` is the
seconds-long variant the tests run.
"""

import ml_collections

from ebm_jax import checks, precision
from ebm_jax.data.corruptions import CORRUPTIONS, validate_corruption
from ebm_jax.data.toy2d import TOY2D
from ebm_jax.models.dae import LOSSES


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.matmul_precision = "default"  # training matmuls: "default" (the backend's fast one) | "high" | "highest"
    # MNIST part (continuous [0, 1] pixels, no binarization): one DAE per corruption kind:level
    config.corruption_kinds = ("gaussian", "masking", "salt_and_pepper")
    config.corruption_levels = (0.5, 0.5, 0.3)   # Gaussian σ, masking p, salt-and-pepper p
    config.hidden = (512,)
    config.latent = 128
    config.num_epochs = 5
    config.batch_size = 128
    config.learning_rate = 1e-3       # Adam
    config.loss = "bce"
    config.num_train_examples = 0     # 0: all 60,000
    config.num_test_examples = 0      # 0: all 10,000
    config.data_source = "auto"       # "auto" | "cache" | "tfds"
    config.log_every_steps = 100
    # 2-D toy part: reconstruction-error energy landscape
    config.toy_dataset = "two_moons"
    config.toy_sigmas = (0.1, 0.3)    # Gaussian corruption levels, one DAE each
    config.toy_hidden = (128,)
    config.toy_latent = 64
    config.toy_num_data = 4096
    config.toy_num_epochs = 150       # 16 steps per epoch
    config.toy_batch_size = 256
    config.toy_learning_rate = 1e-3
    config.toy_grid_size = 120
    if variant == "smoke":
        config.update(corruption_kinds=("gaussian", "masking"), corruption_levels=(0.5, 0.5), hidden=(32,),
                      latent=8, num_epochs=1, num_train_examples=512, num_test_examples=100, log_every_steps=2,
                      toy_sigmas=(0.3,), toy_hidden=(16,), toy_latent=4, toy_num_data=512, toy_num_epochs=2,
                      toy_batch_size=128, toy_grid_size=20)
    elif variant is not None:
        raise ValueError(f"unknown config variant {variant!r} (known: 'smoke')")
    return config


RULES = {
    "seed": checks.Int(ge=0),
    "matmul_precision": checks.OneOf(*precision.TRAINING_CHOICES),
    "corruption_kinds": checks.TupleOf(checks.OneOf(*CORRUPTIONS)),
    "corruption_levels": checks.TupleOf(checks.Float(ge=0)),
    "hidden": checks.TupleOf(checks.Int(ge=1)),
    "latent": checks.Int(ge=1),
    "num_epochs": checks.Int(ge=1),
    "batch_size": checks.Int(ge=1),
    "learning_rate": checks.Float(gt=0),
    "loss": checks.OneOf(*LOSSES),
    "num_train_examples": checks.Int(ge=0),
    "num_test_examples": checks.Int(ge=0),
    "data_source": checks.OneOf("auto", "cache", "tfds"),
    "log_every_steps": checks.Int(ge=1),
    "toy_dataset": checks.OneOf(*TOY2D),
    "toy_sigmas": checks.TupleOf(checks.Float(gt=0)),
    "toy_hidden": checks.TupleOf(checks.Int(ge=1)),
    "toy_latent": checks.Int(ge=1),
    "toy_num_data": checks.Int(ge=1),
    "toy_num_epochs": checks.Int(ge=1),
    "toy_batch_size": checks.Int(ge=1),
    "toy_learning_rate": checks.Float(gt=0),
    "toy_grid_size": checks.Int(ge=2),
}


def corruptions(config) -> list[tuple[str, float]]:
    """``[(kind, level), ...]`` from the two parallel tuples."""
    return list(zip(config.corruption_kinds, config.corruption_levels))


def _corruptions_pair_up(config):
    if len(config.corruption_kinds) != len(config.corruption_levels):
        raise checks.ConfigError(f"config.corruption_kinds ({len(config.corruption_kinds)} items) and "
                                 f"config.corruption_levels ({len(config.corruption_levels)}) must pair up")
    for i, (kind, level) in enumerate(corruptions(config)):
        try:
            validate_corruption(kind, float(level))
        except ValueError as e:
            raise checks.ConfigError(f"config.corruption_levels[{i}]: {e}") from None
    names = [f"{kind}{level:g}" for kind, level in corruptions(config)]
    if len(set(names)) != len(names):
        raise checks.ConfigError(f"config.corruption_kinds/levels repeat a corruption: {names}")


def _batches_fit(config):
    if config.num_train_examples and config.batch_size > config.num_train_examples:
        raise checks.ConfigError(f"config.batch_size ({config.batch_size}) exceeds config.num_train_examples "
                                 f"({config.num_train_examples})")
    if config.toy_batch_size > config.toy_num_data:
        raise checks.ConfigError(f"config.toy_batch_size ({config.toy_batch_size}) exceeds config.toy_num_data "
                                 f"({config.toy_num_data})")


def validate(config) -> None:
    """Every rule above, then the cross checks; raises :class:`ebm_jax.checks.ConfigError`."""
    checks.validate_config(config, RULES, cross_checks=[_corruptions_pair_up, _batches_fit])
