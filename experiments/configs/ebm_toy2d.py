"""Config: MLP energy on 2-D toy data trained by CD-k and PCD on random-walk MH chains.

Override any key from the command line, e.g. ``--config.methods="('cd1','pcd10')"``;
``--config=experiments/configs/ebm_toy2d.py:smoke`` is the seconds-long variant the tests run.
"""

import ml_collections

from ebm_jax import checks, precision
from ebm_jax.data.toy2d import TOY2D
from ebm_jax.samplers import parse_method


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.datasets = ("rings", "two_moons", "gaussians")
    config.methods = ("cd1", "cd10", "pcd10")   # cd<k> / pcd<k>: k MH steps per update
    config.num_data = 8192
    config.batch_size = 256
    config.num_epochs = 60            # 32 steps per epoch
    config.learning_rate = 1e-3       # Adam, b1 = 0.5
    config.hidden = (128, 128)
    config.prior_scale = 0.0          # E += |x|^2 / (2 s^2); 0 disables (a confining prior hides CD's failure)
    config.alpha = 0.01               # energy-magnitude regulariser
    config.step_size = 0.05           # MH proposal std (small: CD's chains stay near the data)
    config.pcd_num_chains = 1024
    config.snapshot_epochs = (1, 5, 20)  # landscape snapshots; the last epoch is always added
    config.grid_size = 100
    config.far_distance = 0.3         # grid points this far from every data point count as "far"
    config.offdata_distance = 0.3     # a long-chain sample this far from every data point is "off-data"
    config.long_chain_steps = 2000
    config.long_chain_num = 1000
    config.seed = 0
    config.matmul_precision = "default"  # training matmuls: "default" (the backend's fast one) | "high" | "highest"
    config.num_seeds = 1              # S > 1: train seeds seed..seed+S-1 of each run at once (vmap); per-seed results + mean/std
    config.log_every_steps = 64
    if variant == "smoke":
        config.update(datasets=("rings",), methods=("cd1", "pcd2"), num_data=512, batch_size=128, num_epochs=2,
                      hidden=(16,), pcd_num_chains=64, snapshot_epochs=(1,), grid_size=20, long_chain_steps=20,
                      long_chain_num=50, log_every_steps=100)   # fewer steps than log_every_steps, on purpose
    elif variant is not None:
        raise ValueError(f"unknown config variant {variant!r} (known: 'smoke')")
    return config


def _method(value, name):
    parse_method(value, error=lambda message: checks.ConfigError(f"{name}: {message}"))
    return value


RULES = {
    "datasets": checks.TupleOf(checks.OneOf(*TOY2D)),
    "methods": checks.TupleOf(_method),
    "num_data": checks.Int(ge=1),
    "batch_size": checks.Int(ge=1),
    "num_epochs": checks.Int(ge=1),
    "learning_rate": checks.Float(gt=0),
    "hidden": checks.TupleOf(checks.Int(ge=1)),
    "prior_scale": checks.Float(ge=0),
    "alpha": checks.Float(ge=0),
    "step_size": checks.Float(gt=0),
    "pcd_num_chains": checks.Int(ge=1),
    "snapshot_epochs": checks.TupleOf(checks.Int(ge=1), min_len=0),
    "grid_size": checks.Int(ge=2),
    "far_distance": checks.Float(gt=0),
    "offdata_distance": checks.Float(gt=0),
    "long_chain_steps": checks.Int(ge=0),
    "long_chain_num": checks.Int(ge=1),
    "seed": checks.Int(ge=0),
    "matmul_precision": checks.OneOf(*precision.TRAINING_CHOICES),
    "num_seeds": checks.Int(ge=1),
    "log_every_steps": checks.Int(ge=1),
}


def _unique(config):
    for key in ("datasets", "methods"):
        if len(set(config[key])) != len(config[key]):
            raise checks.ConfigError(f"config.{key} has duplicates: {config[key]}")


def _snapshots_in_run(config):
    late = [e for e in config.snapshot_epochs if e > config.num_epochs]
    if late:
        raise checks.ConfigError(f"config.snapshot_epochs {late} lie after config.num_epochs ({config.num_epochs})")


def validate(config) -> None:
    """Every rule above, then the cross checks; raises :class:`ebm_jax.checks.ConfigError`."""
    checks.validate_config(config, RULES,
                           cross_checks=[_unique, checks.at_most("batch_size", "num_data"), _snapshots_in_run])


def snapshot_epochs(config) -> tuple[int, ...]:
    """The epochs whose landscapes are drawn: ``config.snapshot_epochs`` plus the last one."""
    return tuple(sorted(set(config.snapshot_epochs) | {config.num_epochs}))
