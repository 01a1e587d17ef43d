"""Config: MoCo v2 on MNIST (momentum encoder, queue of 4096 negatives, τ = 0.2)."""

from experiments.configs.simclr import base_config


def get_config():
    c = base_config("moco")
    c.temperature = 0.2
    c.baselines = False                     # raw-pixel / supervised baselines: see results/simclr
    c.supervised_label_efficiency = False   # same subsets and seeds as simclr's run
    return c
