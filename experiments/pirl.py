r"""PIRL contrastive pretraining on MNIST, linear probe and label efficiency.

    python -m experiments.pirl --workdir runs/pirl [--config.num_epochs=5 ...]

Writes config.json, metrics.jsonl, results.json (with ``linear_probe_accuracy``),
checkpoints and PNG figures; see :mod:`ebm_jax.ssl.experiment`.
"""

import pathlib

from ebm_jax.ssl.experiment import cli

if __name__ == "__main__":
    cli(pathlib.Path(__file__).parent / "configs" / "pirl.py")
