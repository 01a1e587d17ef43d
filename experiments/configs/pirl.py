"""Config: PIRL on MNIST (2x2 jigsaw invariance, memory bank of 60k, 4096 negatives, τ = 0.2)."""

from experiments.configs.simclr import base_config


def get_config():
    c = base_config("pirl")
    c.temperature = 0.2
    c.baselines = False
    c.supervised_label_efficiency = False
    return c
