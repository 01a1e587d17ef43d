r"""SimCLR contrastive pretraining on MNIST, linear probe and label efficiency.

    python -m experiments.simclr --workdir runs/simclr [--config.num_epochs=5 ...]

Two augmented views of each image are a positive pair; NT-Xent over the batch
(the other 2B − 2 views are the negatives). Writes config.json, metrics.jsonl,
checkpoints, results.json (``linear_probe_accuracy``, ``probe_<k>_per_class_mean/std``
beside ``supervised_<k>_per_class_mean/std``, the raw-pixel and supervised
baselines) and the figures; see :mod:`experiments._ssl`.
"""

from ebm_jax import cli
from experiments import _ssl


def train_and_evaluate(config, workdir: str) -> dict:
    """Pretrain SimCLR (resuming), evaluate the frozen representation, write everything; returns the results."""
    return _ssl.train_and_evaluate(config, workdir, method="simclr")


if __name__ == "__main__":
    cli.main(train_and_evaluate, __file__)
