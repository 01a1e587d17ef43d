r"""PIRL contrastive pretraining on MNIST, linear probe and label efficiency.

    python -m experiments.pirl --workdir runs/pirl [--config.num_epochs=5 ...]

Writes config.json, metrics.jsonl, results.json (with ``linear_probe_accuracy``),
checkpoints and PNG figures; see :mod:`ebm_jax.ssl.experiment`.
"""

from __future__ import annotations

import pathlib

from absl import app, flags, logging
from ml_collections import config_flags

from ebm_jax.ssl.experiment import run

_CONFIG = config_flags.DEFINE_config_file(
    "config", str(pathlib.Path(__file__).parent / "configs" / "pirl.py"), "Experiment config.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (resumed when it holds checkpoints).")


def main(argv):
    del argv
    results = run(_CONFIG.value, _WORKDIR.value)
    logging.info("results: %s", results)
    print({k: v for k, v in results.items() if "accuracy" in k or "time" in k})


if __name__ == "__main__":
    flags.mark_flag_as_required("workdir")
    app.run(main)
