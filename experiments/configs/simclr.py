"""Config: SimCLR on MNIST (encoder 32/64/128 stride-2 CNN + MLP head, NT-Xent)."""

import ml_collections


def base_config(method: str) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.method = method
    c.seed = 0
    c.num_epochs = 5              # CPU-sized: 2 shared cores (see results/*/README.md)
    c.batch_size = 256            # positive pairs per step (2 x 256 images)
    c.learning_rate = 2e-3
    c.weight_decay = 1e-4
    c.temperature = 0.5
    c.conv = "im2col"             # "im2col" (fast inside lax.scan on XLA:CPU) or "xla"
    c.widths = (32, 64, 128)
    c.rep_dim = 256               # representation h (what the probe sees)
    c.proj_hidden = 256
    c.proj_dim = 64
    c.num_train = 0               # 0: all 60,000 for pretraining
    c.log_every_steps = 20
    c.aug = ml_collections.ConfigDict(dict(crop_scale_min=0.4, max_rotation=15.0, max_shear=10.0,
                                           elastic_alpha=1.0, erase_prob=0.5, noise_std=0.05))
    # MoCo
    c.queue_size = 4096
    c.momentum = 0.99
    c.symmetric = True
    # PIRL
    c.bank_momentum = 0.5
    c.num_negatives = 4096
    c.lam = 0.5
    c.bank_init = "embed"         # "embed": bank = initial network's embeddings; "random": unit vectors
    # evaluation
    c.probe_l2 = 1e-4
    c.probe_l2_small = 1e-2       # stronger ridge for 10-1000 labels per class
    c.probe_iters = 300
    c.label_counts = (10, 100, 1000)
    c.label_seeds = 3
    c.supervised_label_efficiency = True
    c.sup_steps = (100, 200, 400)  # supervised steps for each entry of label_counts
    c.sup_full_steps = 500
    c.sup_batch_size = 64
    c.sup_full_batch_size = 128
    c.sup_learning_rate = 2e-3
    c.sup_augment = True
    c.baselines = True
    c.tsne_points = 2000
    return c


def get_config() -> ml_collections.ConfigDict:
    return base_config("simclr")
