r"""MoCo v2 contrastive pretraining on MNIST, linear probe and label efficiency.

    python -m experiments.moco --workdir runs/moco [--config.queue_size=4096 ...]

Queries from the encoder, keys from its momentum (EMA) copy, InfoNCE against a
queue of past keys (the negatives), symmetrized over the two views. Writes
config.json, metrics.jsonl, checkpoints (queue and momentum encoder included),
results.json (``linear_probe_accuracy``, label efficiency) and the figures; see
:mod:`experiments._ssl`.
"""

from ebm_jax import cli
from experiments import _ssl


def train_and_evaluate(config, workdir: str) -> dict:
    """Pretrain MoCo v2 (resuming), evaluate the frozen representation, write everything; returns the results."""
    return _ssl.train_and_evaluate(config, workdir, method="moco")


if __name__ == "__main__":
    cli.main(train_and_evaluate, __file__)
