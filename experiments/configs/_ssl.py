"""The config shared by the contrastive SSL experiments (``simclr``, ``moco``, ``pirl``): keys, rules, checks.

``base_config(method, variant)`` holds the defaults of the reference runs
(``results/<method>/``); each of ``configs/simclr.py``, ``moco.py`` and
``pirl.py`` changes a few and validates with :func:`validate`. The ``"smoke"``
variant is seconds long on CPU: tiny widths, 256 training and 200 test images,
one epoch, a few probe iterations, 5 labels per class, no elastic warp, no augmentation
of the supervised baseline, no raw-pixel / full-label baselines (on in simclr's default; the
same library calls as the label-efficiency probes) and no t-SNE: each costs compile time.
"""

import ml_collections

from ebm_jax import checks, precision
from ebm_jax.methods.ssl import METHODS
from ebm_jax.models.ssl import CONV_IMPLS


def base_config(method: str, variant: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.method = method
    c.seed = 0
    c.matmul_precision = "default"  # training matmuls: "default" (the backend's fast one) | "high" | "highest"
    c.num_epochs = 5              # CPU-sized: 2 shared cores (see results/*/README.md)
    c.batch_size = 256            # positive pairs per step (2 x 256 images)
    c.learning_rate = 2e-3        # AdamW, linear warm-up (min(100, steps/10 + 1)) then cosine decay to 0
    c.weight_decay = 1e-4
    c.temperature = 0.5
    c.conv = "auto"               # "auto" (im2col on the CPU, XLA convolutions on a GPU/TPU) | "im2col" | "xla"
    c.widths = (32, 64, 128)
    c.rep_dim = 256               # representation h (what the probe sees)
    c.proj_hidden = 256
    c.proj_dim = 64
    c.num_train_examples = 0      # 0: all 60,000 (pretraining, probes and baselines); else a prefix
    c.num_test_examples = 0       # 0: all 10,000
    c.data_source = "auto"        # "auto" | "cache" | "tfds"
    c.log_every_steps = 20
    c.aug = ml_collections.ConfigDict(dict(crop_scale_min=0.4, max_rotation=15.0, max_shear=10.0,
                                           elastic_alpha=1.0, erase_prob=0.5, noise_std=0.05))
    # MoCo
    c.queue_size = 4096           # a multiple of the keys a step enqueues: 2 x batch_size when symmetric
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
    c.label_counts = (10, 100, 1000)  # labels per class for the label-efficiency probes
    c.label_seeds = 3             # labelled subsets (seeds) per entry of label_counts
    c.supervised_label_efficiency = True
    c.sup_steps = (100, 200, 400)  # supervised steps for each entry of label_counts
    c.sup_full_steps = 500
    c.sup_batch_size = 64
    c.sup_full_batch_size = 128
    c.sup_learning_rate = 2e-3
    c.sup_augment = True
    c.baselines = True
    c.tsne_points = 2000          # test points in the t-SNE figure (0: no t-SNE)
    if variant == "smoke":
        c.update(num_epochs=1, batch_size=32, widths=(4, 8, 8), rep_dim=16, proj_hidden=16, proj_dim=8,
                 num_train_examples=256, num_test_examples=200, log_every_steps=2, queue_size=64,
                 num_negatives=64, probe_iters=10, label_counts=(5,), label_seeds=2, sup_steps=(4,),
                 sup_full_steps=4, sup_batch_size=16, sup_full_batch_size=32, sup_augment=False, baselines=False,
                 tsne_points=0)
        c.aug.elastic_alpha = 0.0  # the elastic warp costs compile time; tests/test_augment.py covers it
    elif variant == "gpu":
        # Sized for one GPU, where the CPU defaults leave it idle: 4x the pairs per step, 4x the epochs,
        # the learning rate scaled by sqrt(4), 4x the negatives. Not yet run to a reference result.
        c.update(batch_size=1024, num_epochs=20, learning_rate=4e-3, queue_size=16384, num_negatives=16384)
    elif variant is not None:
        raise ValueError(f"unknown config variant {variant!r} (known: 'smoke', 'gpu')")
    return c


def rules(method: str) -> dict:
    """The rule of every key; ``config.method`` must be ``method`` (one experiment per method)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return {
        "method": checks.OneOf(method),
        "seed": checks.Int(ge=0),
        "matmul_precision": checks.OneOf(*precision.TRAINING_CHOICES),
        "num_epochs": checks.Int(ge=1),
        "batch_size": checks.Int(ge=2),           # NT-Xent / InfoNCE need negatives in the batch
        "learning_rate": checks.Float(gt=0),
        "weight_decay": checks.Float(ge=0),
        "temperature": checks.Float(gt=0),
        "conv": checks.OneOf(*CONV_IMPLS),
        "widths": checks.TupleOf(checks.Int(ge=1)),
        "rep_dim": checks.Int(ge=1),
        "proj_hidden": checks.Int(ge=1),
        "proj_dim": checks.Int(ge=1),
        "num_train_examples": checks.Int(ge=0),
        "num_test_examples": checks.Int(ge=0),
        "data_source": checks.OneOf("auto", "cache", "tfds"),
        "log_every_steps": checks.Int(ge=1),
        "aug.crop_scale_min": checks.Float(gt=0, le=1),
        "aug.max_rotation": checks.Float(ge=0),
        "aug.max_shear": checks.Float(ge=0, lt=90),
        "aug.elastic_alpha": checks.Float(ge=0),
        "aug.erase_prob": checks.Float(ge=0, le=1),
        "aug.noise_std": checks.Float(ge=0),
        "queue_size": checks.Int(ge=1),
        "momentum": checks.Float(ge=0, lt=1),
        "symmetric": checks.Bool(),
        "bank_momentum": checks.Float(ge=0, lt=1),
        "num_negatives": checks.Int(ge=1),
        "lam": checks.Float(ge=0, le=1),
        "bank_init": checks.OneOf("embed", "random"),
        "probe_l2": checks.Float(ge=0),
        "probe_l2_small": checks.Float(ge=0),
        "probe_iters": checks.Int(ge=1),
        "label_counts": checks.TupleOf(checks.Int(ge=1), min_len=0),
        "label_seeds": checks.Int(ge=1),
        "supervised_label_efficiency": checks.Bool(),
        "sup_steps": checks.TupleOf(checks.Int(ge=1), min_len=0),
        "sup_full_steps": checks.Int(ge=1),
        "sup_batch_size": checks.Int(ge=1),
        "sup_full_batch_size": checks.Int(ge=1),
        "sup_learning_rate": checks.Float(gt=0),
        "sup_augment": checks.Bool(),
        "baselines": checks.Bool(),
        "tsne_points": checks.Int(ge=0),
    }


def _label_counts_pair_with_sup_steps(config):
    if len(config.label_counts) != len(config.sup_steps):
        raise checks.ConfigError(
            f"config.sup_steps needs one entry per config.label_counts entry: label_counts "
            f"{tuple(config.label_counts)} ({len(config.label_counts)} items) but sup_steps "
            f"{tuple(config.sup_steps)} ({len(config.sup_steps)})")


def _batches_fit(config):
    if config.num_train_examples and config.batch_size > config.num_train_examples:
        raise checks.ConfigError(f"config.batch_size ({config.batch_size}) exceeds config.num_train_examples "
                                 f"({config.num_train_examples})")
    if config.num_train_examples and config.label_counts and \
            10 * max(config.label_counts) > config.num_train_examples:
        raise checks.ConfigError(f"config.label_counts asks for {max(config.label_counts)} labels per class, more "
                                 f"than config.num_train_examples ({config.num_train_examples}) can hold for 10 "
                                 f"classes")


def _moco_queue_takes_whole_batches(config):
    per_step = 2 * config.batch_size if config.symmetric else config.batch_size
    if config.method == "moco" and (config.queue_size < per_step or config.queue_size % per_step):
        raise checks.ConfigError(f"config.queue_size ({config.queue_size}) must be a positive multiple of the "
                                 f"{per_step} keys each MoCo step enqueues (config.batch_size {config.batch_size}"
                                 f"{', both views: config.symmetric' if config.symmetric else ''})")


def _tsne_needs_points(config):
    if 0 < config.tsne_points < 4:
        raise checks.ConfigError(f"config.tsne_points must be 0 (no t-SNE) or >= 4, got {config.tsne_points}")


def validate(config, method: str) -> None:
    """Every rule of :func:`rules`, then the cross checks; raises :class:`ebm_jax.checks.ConfigError`.

    All of it runs before any data is loaded or any step trained.
    """
    checks.validate_config(config, rules(method), cross_checks=[
        _label_counts_pair_with_sup_steps, _batches_fit, _moco_queue_takes_whole_batches, _tsne_needs_points])
