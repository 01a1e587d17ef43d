"""Training infrastructure: the jitted scan loop, checkpoints, run-directory files."""

from ebm_jax.train import distributed, seeds
from ebm_jax.train.checkpoint import (CheckpointCorruptError, CheckpointError, Checkpointer,
                                      CheckpointMismatchError)
from ebm_jax.train.distributed import is_main_process
from ebm_jax.train.interrupt import TrainingInterrupted
from ebm_jax.train.loop import (NonFiniteLossError, batch_mesh, data_mesh, fit, fit_seeds, num_examples,
                                validate_fit_args)
from ebm_jax.train.workdir import (ConfigChangedError, MetricWriter, read_json, read_jsonl, write_config,
                                   write_json, write_results)

__all__ = [
    "CheckpointCorruptError",
    "CheckpointError",
    "CheckpointMismatchError",
    "Checkpointer",
    "ConfigChangedError",
    "MetricWriter",
    "NonFiniteLossError",
    "TrainingInterrupted",
    "batch_mesh",
    "data_mesh",
    "distributed",
    "fit",
    "fit_seeds",
    "is_main_process",
    "num_examples",
    "read_json",
    "read_jsonl",
    "seeds",
    "validate_fit_args",
    "write_config",
    "write_json",
    "write_results",
]
