"""The body shared by the contrastive SSL experiments ``simclr``, ``moco`` and ``pirl``.

``train_and_evaluate(config, workdir, method=...)`` pretrains the encoder with
:mod:`ebm_jax.methods.ssl` through the shared loop :func:`ebm_jax.train.fit`,
then evaluates the frozen representation ``h`` with :mod:`ebm_jax.eval.probe`:

* linear probe (multinomial logistic regression, L-BFGS) on the training
  features, accuracy on the test set -> ``linear_probe_accuracy``;
* label efficiency: the probe trained on ``label_counts`` labels per class,
  beside (``supervised_label_efficiency``) the same CNN trained supervised from
  scratch on the same labels, over ``label_seeds`` labelled subsets;
* baselines (``baselines``): logistic regression on raw pixels and the same CNN
  trained supervised on all training labels;
* figures: loss curve, augmented views, the cosine-similarity (negative energy)
  matrix of a batch of positive pairs, label-efficiency curves and (with
  ``tsne_points``) a 2-D t-SNE of test representations coloured by digit.

The leading underscore keeps this module out of the experiment list; the
experiments are ``experiments/simclr.py``, ``moco.py`` and ``pirl.py``.
"""

from __future__ import annotations

import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import checks, losses, viz
from ebm_jax.data import load_mnist_train_test, to_float
from ebm_jax.data.augment import AugmentConfig, augment, check_images
from ebm_jax.methods import ssl as ssl_method
from ebm_jax.models.ssl import SSLNet
from ebm_jax.eval import probe
from ebm_jax.train import fit, write_config, write_results
from experiments.configs import _ssl as ssl_config

LINEAR_PROBE_TARGET = 0.98       # the target accuracy of the linear probe on MNIST
RAW_PIXEL_LOGREG_ANCHOR = 0.92   # logistic regression on raw MNIST pixels


def aug_config(config) -> AugmentConfig:
    a = config.aug
    cfg = AugmentConfig(crop_scale=(a.crop_scale_min, 1.0), max_rotation=a.max_rotation, max_shear=a.max_shear,
                        elastic_alpha=a.elastic_alpha, erase_prob=a.erase_prob, noise_std=a.noise_std)
    try:
        cfg.validate()
    except ValueError as e:
        raise checks.ConfigError(f"config.aug: {e}") from None
    return cfg


def model_from_config(config) -> SSLNet:
    return SSLNet(widths=tuple(config.widths), rep_dim=config.rep_dim, proj_hidden=config.proj_hidden,
                  proj_dim=config.proj_dim, conv=config.conv)


def load_data(config):
    """Train and test images as ``(N, 28, 28)`` floats in [0, 1] with their labels."""
    train_u8, train_y, test_u8, test_y = load_mnist_train_test(
        source=config.data_source, num_train=config.num_train_examples, num_test=config.num_test_examples)
    train_x, test_x = to_float(train_u8, flatten=False), to_float(test_u8, flatten=False)
    check_images(train_x, "train images")
    check_images(test_x, "test images")
    if config.batch_size > len(train_x):
        raise checks.ConfigError(f"config.batch_size ({config.batch_size}) exceeds the {len(train_x)} training "
                                 f"examples")
    try:
        probe.check_label_counts(train_y, config.label_counts)
    except ValueError as e:
        raise checks.ConfigError(f"config.label_counts: {e}") from None
    return train_x, np.asarray(train_y), test_x, np.asarray(test_y)


def _mean_std(values):
    return float(np.mean(values)), float(np.std(values))


def pretrain(config, workdir: pathlib.Path, model: SSLNet, aug: AugmentConfig, train_x):
    """Contrastive pretraining (resuming from ``workdir``); returns ``(state, history, seconds)``."""
    n = len(train_x)
    total_steps = config.num_epochs * (n // config.batch_size)
    state = ssl_method.create_state(
        jax.random.key(config.seed), config.method, model, config.learning_rate, total_steps=total_steps,
        weight_decay=config.weight_decay, batch_size=config.batch_size, queue_size=config.queue_size,
        symmetric=config.symmetric,
        num_examples=n, bank_images=train_x if config.method == "pirl" and config.bank_init == "embed" else None)
    step = ssl_method.make_train_step(config.method, aug, temperature=config.temperature, momentum=config.momentum,
                                      symmetric=config.symmetric, bank_momentum=config.bank_momentum,
                                      num_negatives=config.num_negatives, lam=config.lam)
    data = {"image": train_x, "index": np.arange(n, dtype=np.int32)}
    t0 = time.perf_counter()
    state, history = fit(state, step, data, batch_size=config.batch_size, num_epochs=config.num_epochs,
                         workdir=workdir, rng=jax.random.key(config.seed + 1),
                         log_every_steps=config.log_every_steps, desc=config.method)
    return state, history, time.perf_counter() - t0


def evaluate(config, model, params, aug, train_x, train_y, test_x, test_y):
    """Linear probe, label efficiency and baselines; returns ``(results, curves, test features)``."""
    results = {}
    represent = jax.jit(lambda x: model.apply({"params": params}, x, method=SSLNet.represent))
    f_train = probe.extract_features(represent, train_x)
    f_test = probe.extract_features(represent, test_x)
    lp = probe.linear_probe(f_train, train_y, f_test, test_y, l2=config.probe_l2, max_iter=config.probe_iters)
    results["linear_probe_accuracy"] = lp["test_accuracy"]
    results["linear_probe_train_accuracy"] = lp["train_accuracy"]
    results["linear_probe_target"] = LINEAR_PROBE_TARGET

    def supervised(steps, batch_size, x, y, seed):
        predict, _ = probe.train_supervised(
            x, y, steps=steps, batch_size=batch_size, learning_rate=config.sup_learning_rate, seed=seed,
            aug=aug if config.sup_augment else None, conv=config.conv, widths=tuple(config.widths),
            rep_dim=config.rep_dim)
        return probe.accuracy(predict, test_x, test_y)

    sup_steps = dict(zip(config.label_counts, config.sup_steps))
    curves = probe.label_efficiency(
        f_train, train_y, f_test, test_y, label_counts=tuple(config.label_counts), num_seeds=config.label_seeds,
        l2=config.probe_l2_small, max_iter=config.probe_iters,
        supervised=(lambda idx, per_class, seed: supervised(sup_steps[per_class], config.sup_batch_size,
                                                            train_x[idx], train_y[idx], seed))
        if config.supervised_label_efficiency else None)
    for per_class in config.label_counts:
        m, sd = _mean_std(curves["probe"][per_class])
        results[f"probe_{per_class}_per_class_mean"], results[f"probe_{per_class}_per_class_std"] = m, sd
        if curves["supervised"]:
            m, sd = _mean_std(curves["supervised"][per_class])
            results[f"supervised_{per_class}_per_class_mean"] = m
            results[f"supervised_{per_class}_per_class_std"] = sd
    results["label_seeds"] = config.label_seeds

    if config.baselines:
        flat_tr, flat_te = train_x.reshape(len(train_x), -1), test_x.reshape(len(test_x), -1)
        results["raw_pixel_logreg_accuracy"] = probe.linear_probe(
            flat_tr, train_y, flat_te, test_y, l2=config.probe_l2, max_iter=config.probe_iters)["test_accuracy"]
        results["raw_pixel_logreg_anchor"] = RAW_PIXEL_LOGREG_ANCHOR
        results["supervised_cnn_full_accuracy"] = supervised(config.sup_full_steps, config.sup_full_batch_size,
                                                             train_x, train_y, 0)
    return results, curves, f_test


def write_figures(workdir: pathlib.Path, config, history, curves, f_test, test_x, test_y, embed, aug) -> None:
    import matplotlib.pyplot as plt  # viz has chosen the non-interactive backend

    method = config.method
    loss = [(r["step"], r["loss"]) for r in history if "loss" in r]
    if loss:
        viz.save_curves(workdir / "loss.png", {method: tuple(zip(*loss))}, ylabel="contrastive loss",
                        title=f"{method} pretraining loss")
    x = jnp.asarray(test_x[:16])
    k = jax.random.key(123)
    views = jax.jit(augment, static_argnums=2)
    va, vb = views(jax.random.fold_in(k, 0), x, aug), views(jax.random.fold_in(k, 1), x, aug)
    viz.save_rows(workdir / "views.png", {"image": np.asarray(x), "view a": np.asarray(va), "view b": np.asarray(vb)},
                  title="two augmented views (positive pairs)")
    za, zb = losses.l2_normalize(embed(va)), losses.l2_normalize(embed(vb))
    sim = np.asarray(za @ zb.T)
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    im = ax.imshow(sim, cmap="viridis", vmin=-1, vmax=1)
    fig.colorbar(im, ax=ax, label="cos(z_a, z_b) = −τ·energy")
    ax.set_xlabel("view b of image j")
    ax.set_ylabel("view a of image i")
    ax.set_title(f"{method}: similarity of {len(x)} positive pairs (diagonal)")
    viz.save_figure(fig, workdir / "similarity_matrix.png", dpi=110)

    m = min(config.tsne_points, len(f_test))
    if m >= 4:
        from sklearn.manifold import TSNE

        pts = TSNE(n_components=2, init="pca", random_state=0, perplexity=min(30.0, (m - 1) / 3)
                   ).fit_transform(f_test[:m])
        viz.save_scatter_2d(workdir / "embedding_tsne.png", pts, test_y[:m], title=f"{method}: t-SNE of h (test)",
                            xlabel="t-SNE 1", ylabel="t-SNE 2")

    labels = {"probe": "SSL + linear probe", "supervised": "supervised CNN (scratch)"}
    if any(curves.values()):
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, c in curves.items():
            if not c:
                continue
            ks = sorted(c)
            means = np.array([np.mean(c[k_]) for k_ in ks])
            stds = np.array([np.std(c[k_]) for k_ in ks])
            ax.errorbar(ks, means, yerr=stds, marker="o", capsize=4, label=labels[name])
            for k_ in ks:
                ax.scatter([k_] * len(c[k_]), c[k_], s=8, alpha=0.5, color="k")
        ax.set_xscale("log")
        ax.set_xlabel("labels per class")
        ax.set_ylabel("MNIST test accuracy")
        ax.set_title(f"label efficiency ({method}; mean ± std over {config.label_seeds} seeds)")
        ax.grid(alpha=0.3)
        ax.legend()
        viz.save_figure(fig, workdir / "label_efficiency.png", dpi=110)


def train_and_evaluate(config, workdir: str, *, method: str) -> dict:
    """Validate, pretrain (resuming), evaluate, write figures and ``results.json``; returns the results."""
    ssl_config.validate(config, method)
    aug = aug_config(config)
    workdir = pathlib.Path(workdir)
    train_x, train_y, test_x, test_y = load_data(config)   # data-dependent checks, before anything is written
    workdir.mkdir(parents=True, exist_ok=True)
    write_config(workdir, config)
    model = model_from_config(config)
    state, history, train_time = pretrain(config, workdir, model, aug, train_x)

    n = len(train_x)
    results = {"method": method, "num_epochs": config.num_epochs, "batch_size": config.batch_size,
               "num_pretrain_examples": n, "pretrain_wall_s_this_run": train_time}
    logged = [r["loss"] for r in history if "loss" in r]
    if logged:
        results["final_loss"] = float(np.mean(logged[-5:]))
    sps = [r["steps_per_second"] for r in history if "steps_per_second" in r]
    if sps:
        results["epoch_time_s_est"] = float((n // config.batch_size) / np.median(sps))

    t1 = time.perf_counter()
    params = state.params
    evaluation, curves, f_test = evaluate(config, model, params, aug, train_x, train_y, test_x, test_y)
    results.update(evaluation)
    results["eval_wall_s"] = time.perf_counter() - t1

    embed = jax.jit(lambda x: model.apply({"params": params}, x)[1])
    write_figures(workdir, config, history, curves, f_test, test_x, test_y, embed, aug)
    write_results(workdir, results)
    return results
