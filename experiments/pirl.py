r"""PIRL (jigsaw-invariant representations) pretraining on MNIST, linear probe and label efficiency.

    python -m experiments.pirl --workdir runs/pirl [--config.lam=0.5 ...]

The image and its 2x2 jigsaw are pulled to the image's memory-bank row and
pushed from other rows (InfoNCE); the bank (one row per training image) is an
exponential moving average of the embeddings. Writes config.json, metrics.jsonl,
checkpoints (the bank included), results.json (``linear_probe_accuracy``, label
efficiency) and the figures; see :mod:`experiments._ssl`.
"""

from ebm_jax import cli
from experiments import _ssl


def train_and_evaluate(config, workdir: str) -> dict:
    """Pretrain PIRL (resuming), evaluate the frozen representation, write everything; returns the results."""
    return _ssl.train_and_evaluate(config, workdir, method="pirl")


if __name__ == "__main__":
    cli.main(train_and_evaluate, __file__)
