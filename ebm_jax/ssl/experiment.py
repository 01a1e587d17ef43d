"""One runner for the three contrastive SSL experiments (SimCLR, MoCo v2, PIRL).

``run(config, workdir)`` pretrains the encoder with the shared loop
(:func:`ebm_jax.train.fit`), then evaluates the frozen representation ``h``:

* linear probe (multinomial logistic regression, L-BFGS) on all 60k training
  features, accuracy on the 10k test set -> ``linear_probe_accuracy``;
* label efficiency: the probe trained on 10 / 100 / 1000 labels per class, beside
  the same CNN trained supervised from scratch on the same labels, over seeds;
* baselines (``config.baselines``): logistic regression on raw pixels and the same
  CNN trained supervised on all 60k labels;
* figures: loss curve, augmented views, 2-D t-SNE of test embeddings coloured by
  digit, the cosine-similarity (negative energy) matrix of a batch of positive
  pairs, label-efficiency curves.
"""

from __future__ import annotations

import pathlib
import time

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from absl import logging  # noqa: E402

from ebm_jax import losses, viz  # noqa: E402
from ebm_jax.data import load_mnist, to_float  # noqa: E402
from ebm_jax.data.augment import AugmentConfig, augment, check_images  # noqa: E402
from ebm_jax.models.ssl import SSLNet  # noqa: E402
from ebm_jax.ssl import probe, steps  # noqa: E402
from ebm_jax.train import fit, write_config, write_results  # noqa: E402

METHODS = ("simclr", "moco", "pirl")


def aug_config(config) -> AugmentConfig:
    a = config.aug
    cfg = AugmentConfig(crop_scale=(a.crop_scale_min, 1.0), max_rotation=a.max_rotation, max_shear=a.max_shear,
                        elastic_alpha=a.elastic_alpha, erase_prob=a.erase_prob, noise_std=a.noise_std)
    cfg.validate()
    return cfg


def build(config, num_examples: int):
    """Model, state and step function for ``config.method``."""
    if config.method not in METHODS:
        raise ValueError(f"config.method must be one of {METHODS}, got {config.method!r}")
    if config.batch_size < 2:
        raise ValueError(f"config.batch_size must be >= 2 (NT-Xent needs negatives), got {config.batch_size}")
    if config.num_epochs < 1:
        raise ValueError(f"config.num_epochs must be >= 1, got {config.num_epochs}")
    if num_examples < config.batch_size:
        raise ValueError(f"config.batch_size ({config.batch_size}) exceeds the {num_examples} training examples")
    aug = aug_config(config)
    model = SSLNet(widths=tuple(config.widths), rep_dim=config.rep_dim, proj_hidden=config.proj_hidden,
                   proj_dim=config.proj_dim, conv=config.conv)
    steps_total = config.num_epochs * (num_examples // config.batch_size)
    schedule = optax.warmup_cosine_decay_schedule(0.0, config.learning_rate, min(100, steps_total // 10 + 1),
                                                  steps_total)
    tx = optax.adamw(schedule, weight_decay=config.weight_decay)
    rng = jax.random.key(config.seed)
    if config.method == "simclr":
        state = steps.create_simclr_state(model, tx, rng)
        step = steps.make_simclr_step(aug, config.temperature)
    elif config.method == "moco":
        state = steps.create_moco_state(model, tx, rng, queue_size=config.queue_size, batch_size=config.batch_size)
        step = steps.make_moco_step(aug, config.temperature, config.momentum, config.symmetric)
    else:
        state = steps.create_pirl_state(model, tx, rng, num_examples=num_examples)
        step = steps.make_pirl_step(aug, config.temperature, config.bank_momentum, config.num_negatives,
                                    config.lam)
    return model, state, step, aug


def _mean_std(values):
    return float(np.mean(values)), float(np.std(values))


def run(config, workdir) -> dict:
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    write_config(workdir, config)
    train_u8, train_y = load_mnist("train")
    test_u8, test_y = load_mnist("test")
    train_x, test_x = to_float(train_u8, flatten=False), to_float(test_u8, flatten=False)
    if config.num_train:
        train_x, train_y = train_x[: config.num_train], train_y[: config.num_train]
    check_images(train_x, "train images")
    n = len(train_x)
    model, state, step, aug = build(config, n)
    if config.method == "pirl" and config.bank_init == "embed":
        state = steps.init_bank_from_embeddings(state, train_x)
    elif config.method == "pirl" and config.bank_init != "random":
        raise ValueError(f"config.bank_init must be 'random' or 'embed', got {config.bank_init!r}")

    data = {"image": train_x, "index": np.arange(n, dtype=np.int32)}
    t0 = time.perf_counter()
    state, history = fit(state, step, data, batch_size=config.batch_size, num_epochs=config.num_epochs,
                         workdir=workdir, rng=jax.random.key(config.seed + 1), log_every_steps=config.log_every_steps,
                         desc=config.method)
    train_time = time.perf_counter() - t0
    params = state.params
    results = {"method": config.method, "num_epochs": config.num_epochs, "batch_size": config.batch_size,
               "num_pretrain_examples": n, "pretrain_wall_s_this_run": train_time,
               }
    logged = [r["loss"] for r in history if "loss" in r]
    if logged:
        results["final_loss"] = float(np.mean(logged[-5:]))
    steps_per_epoch = n // config.batch_size
    sps = [r["steps_per_second"] for r in history if "steps_per_second" in r]
    if sps:
        results["epoch_time_s_est"] = float(steps_per_epoch / np.median(sps))

    represent = jax.jit(lambda x: model.apply({"params": params}, x, method=SSLNet.represent))
    embed = jax.jit(lambda x: model.apply({"params": params}, x)[1])
    t1 = time.perf_counter()
    full_train_x, full_train_y = to_float(train_u8, flatten=False), np.asarray(load_mnist("train")[1])
    f_train = probe.extract_features(represent, full_train_x)
    f_test = probe.extract_features(represent, test_x)
    lp = probe.linear_probe(f_train, full_train_y, f_test, test_y, l2=config.probe_l2, max_iter=config.probe_iters)
    results["linear_probe_accuracy"] = lp["test_accuracy"]
    results["linear_probe_train_accuracy"] = lp["train_accuracy"]
    results["linear_probe_target"] = 0.98
    logging.info("linear probe: %s", lp)

    # Label efficiency.
    curves = {"SSL + linear probe": {}, "supervised CNN (scratch)": {}}
    if len(config.sup_steps) != len(config.label_counts):
        raise ValueError("config.sup_steps needs one entry per config.label_counts entry")
    for per_class, sup_steps in zip(config.label_counts, config.sup_steps):
        probe_acc, sup_acc = [], []
        for s in range(config.label_seeds):
            idx = probe.per_class_subset(full_train_y, per_class, seed=1000 * s + per_class)
            probe_acc.append(probe.linear_probe(f_train[idx], full_train_y[idx], f_test, test_y,
                                                l2=config.probe_l2_small, max_iter=config.probe_iters)["test_accuracy"])
            if config.supervised_label_efficiency:
                predict, _ = probe.train_supervised(
                    full_train_x[idx], full_train_y[idx], steps=sup_steps, batch_size=config.sup_batch_size,
                    learning_rate=config.sup_learning_rate, seed=s, aug=aug if config.sup_augment else None,
                    conv=config.conv, widths=tuple(config.widths), rep_dim=config.rep_dim)
                sup_acc.append(probe.accuracy(predict, test_x, test_y))
        m, sd = _mean_std(probe_acc)
        results[f"probe_{per_class}_per_class_mean"], results[f"probe_{per_class}_per_class_std"] = m, sd
        curves["SSL + linear probe"][per_class] = probe_acc
        if sup_acc:
            m, sd = _mean_std(sup_acc)
            results[f"supervised_{per_class}_per_class_mean"] = m
            results[f"supervised_{per_class}_per_class_std"] = sd
            curves["supervised CNN (scratch)"][per_class] = sup_acc
        logging.info("labels %d/class: probe %s supervised %s", per_class, probe_acc, sup_acc)
    results["label_seeds"] = config.label_seeds

    if config.baselines:
        flat_tr, flat_te = full_train_x.reshape(len(full_train_x), -1), test_x.reshape(len(test_x), -1)
        results["raw_pixel_logreg_accuracy"] = probe.linear_probe(flat_tr, full_train_y, flat_te, test_y,
                                                                  l2=config.probe_l2,
                                                                  max_iter=config.probe_iters)["test_accuracy"]
        results["raw_pixel_logreg_anchor"] = 0.92
        predict, _ = probe.train_supervised(full_train_x, full_train_y, steps=config.sup_full_steps,
                                            batch_size=config.sup_full_batch_size, learning_rate=config.sup_learning_rate,
                                            seed=0, aug=aug if config.sup_augment else None, conv=config.conv,
                                            widths=tuple(config.widths), rep_dim=config.rep_dim)
        results["supervised_cnn_full_accuracy"] = probe.accuracy(predict, test_x, test_y)
    results["eval_wall_s"] = time.perf_counter() - t1

    # Figures.
    _figures(workdir, config, history, curves, f_test, test_x, test_y, embed, aug)
    write_results(workdir, results)
    return results


def _figures(workdir, config, history, curves, f_test, test_x, test_y, embed, aug):
    loss = [(r["step"], r["loss"]) for r in history if "loss" in r]
    if loss:
        viz.save_curves(workdir / "loss.png", {config.method: tuple(zip(*loss))}, ylabel="contrastive loss",
                        title=f"{config.method} pretraining loss")
    x = jnp.asarray(test_x[:16])
    k = jax.random.key(123)
    va, vb = augment(jax.random.fold_in(k, 0), x, aug), augment(jax.random.fold_in(k, 1), x, aug)
    viz.save_rows(workdir / "views.png", {"image": np.asarray(x), "view a": np.asarray(va), "view b": np.asarray(vb)},
                  title="two augmented views (positive pairs)")
    za, zb = losses.l2_normalize(embed(va)), losses.l2_normalize(embed(vb))
    sim = np.asarray(za @ zb.T)
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    im = ax.imshow(sim, cmap="viridis", vmin=-1, vmax=1)
    fig.colorbar(im, ax=ax, label="cos(z_a, z_b) = −τ·energy")
    ax.set_xlabel("view b of image j")
    ax.set_ylabel("view a of image i")
    ax.set_title(f"{config.method}: similarity of 16 positive pairs (diagonal)")
    fig.tight_layout()
    fig.savefig(workdir / "similarity_matrix.png", dpi=110)
    plt.close(fig)

    from sklearn.manifold import TSNE
    m = min(config.tsne_points, len(f_test))
    pts = TSNE(n_components=2, init="pca", random_state=0, perplexity=30).fit_transform(f_test[:m])
    viz.save_scatter_2d(workdir / "embedding_tsne.png", pts, test_y[:m], title=f"{config.method}: t-SNE of h (test)",
                        xlabel="t-SNE 1", ylabel="t-SNE 2")

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, c in curves.items():
        if not c:
            continue
        ks = sorted(c)
        means = np.array([np.mean(c[k_]) for k_ in ks])
        stds = np.array([np.std(c[k_]) for k_ in ks])
        ax.errorbar(ks, means, yerr=stds, marker="o", capsize=4, label=label)
        for k_ in ks:
            ax.scatter([k_] * len(c[k_]), c[k_], s=8, alpha=0.5, color="k")
    ax.set_xscale("log")
    ax.set_xlabel("labels per class")
    ax.set_ylabel("MNIST test accuracy")
    ax.set_title(f"label efficiency ({config.method}; mean ± std over {config.label_seeds} seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(workdir / "label_efficiency.png", dpi=110)
    plt.close(fig)


def cli(config_path: str | pathlib.Path) -> None:
    """absl entry point shared by ``experiments/{simclr,moco,pirl}.py``.

    Defines ``--workdir`` and ``--config`` (default ``config_path``, overridable as
    ``--config.key=value``; unknown keys are errors), then runs :func:`run`.
    """
    from absl import app, flags
    from ml_collections import config_flags

    config = config_flags.DEFINE_config_file("config", str(config_path), "Experiment config.", lock_config=True)
    workdir = flags.DEFINE_string("workdir", None, "Run directory (resumed when it holds checkpoints).")
    flags.mark_flag_as_required("workdir")

    def main(argv):
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {argv[1:]}")
        results = run(config.value, workdir.value)
        logging.info("results: %s", results)
        print({k: v for k, v in results.items() if "accuracy" in k or "time" in k})

    app.run(main)
