"""Training infrastructure: the jitted scan loop, checkpoints, run-directory files."""

from ebm_jax.train.checkpoint import Checkpointer
from ebm_jax.train.loop import NonFiniteLossError, data_mesh, fit, num_examples, validate_fit_args
from ebm_jax.train.workdir import MetricWriter, read_json, write_config, write_json, write_results

__all__ = [
    "Checkpointer",
    "MetricWriter",
    "NonFiniteLossError",
    "data_mesh",
    "fit",
    "num_examples",
    "read_json",
    "validate_fit_args",
    "write_config",
    "write_json",
    "write_results",
]
