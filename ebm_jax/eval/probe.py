"""Evaluation of frozen representations: feature extraction, linear probe, supervised baseline."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import jax
import jax.numpy as jnp
import optax
from flax.training import train_state

from ebm_jax import checks, precision
from ebm_jax.data.augment import AugmentConfig, augment, check_images
from ebm_jax.models.ssl import Classifier


@precision.highest
def extract_features(fn, images, batch_size: int = 2000) -> np.ndarray:
    """Apply a jitted ``fn: (b, 28, 28) -> (b, F)`` over ``images`` in chunks; ``(N, F)`` numpy."""
    checks.function(fn, "fn")
    check_images(images)
    batch_size = checks.positive_int(batch_size, "batch_size")
    n = len(images)
    out = []
    for i in range(0, n, batch_size):
        chunk = images[i: i + batch_size]
        pad = batch_size - len(chunk) if n > batch_size else 0
        if pad:
            chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
        features = np.asarray(fn(jnp.asarray(chunk)))
        if features.ndim != 2 or len(features) != len(chunk):
            raise ValueError(f"fn must return one row of features per image, shape ({len(chunk)}, F), "
                             f"got shape {features.shape}")
        out.append(features[: len(chunk) - pad])
    return np.concatenate(out)


@functools.partial(jax.jit, static_argnames=("max_iter",))
def _fit_logistic(params, xtr, ytr, l2, *, max_iter: int):
    """``max_iter`` L-BFGS steps on ``mean CE(x W + b, y) + l2 ‖W‖²``; compiled once per shape."""

    def objective(p):
        logits = xtr @ p["w"] + p["b"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, ytr).mean() + l2 * jnp.sum(p["w"] ** 2)

    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(objective)

    def body(carry, _):
        p, s = carry
        v, g = value_and_grad(p, state=s)
        u, s = opt.update(g, s, p, value=v, grad=g, value_fn=objective)
        return (optax.apply_updates(p, u), s), v

    (p, _), _ = jax.lax.scan(body, (params, opt.init(params)), None, length=max_iter)
    return p


@precision.highest
def linear_probe(train_x, train_y, test_x, test_y, *, l2: float = 1e-4, max_iter: int = 300,
                 num_classes: int = 10) -> dict:
    """Multinomial logistic regression on frozen features, fit by full-batch L-BFGS (optax).

    Features are standardized with the training mean/std. Objective:
    ``mean_i CE(W x_i + b, y_i) + l2 · ‖W‖²``.

    Returns:
      ``{"train_accuracy", "test_accuracy"}``.
    """
    train_x, test_x = _features(train_x, "train_x"), _features(test_x, "test_x")
    if train_x.shape[1] != test_x.shape[1]:
        raise ValueError(f"test_x must have the {train_x.shape[1]} features of train_x, got shape {test_x.shape}")
    num_classes = checks.integer(num_classes, "num_classes", ge=2)
    train_y = checks.class_labels(train_y, "train_y", num_examples=len(train_x), num_classes=num_classes)
    test_y = checks.class_labels(test_y, "test_y", num_examples=len(test_x), num_classes=num_classes)
    l2 = checks.nonnegative_float(l2, "l2")
    max_iter = checks.positive_int(max_iter, "max_iter")
    mu, sd = train_x.mean(0), train_x.std(0) + 1e-6
    xtr, xte = jnp.asarray((train_x - mu) / sd), jnp.asarray((test_x - mu) / sd)
    ytr = jnp.asarray(train_y, jnp.int32)
    params = {"w": jnp.zeros((xtr.shape[1], num_classes)), "b": jnp.zeros(num_classes)}
    p = _fit_logistic(params, xtr, ytr, jnp.float32(l2), max_iter=max_iter)
    acc = lambda x, y: float(np.mean(np.argmax(np.asarray(x @ p["w"] + p["b"]), -1) == np.asarray(y)))
    return {"train_accuracy": acc(xtr, train_y), "test_accuracy": acc(xte, test_y)}


def _features(x, name: str) -> np.ndarray:
    """``(N, F)`` finite real features as float32 numpy."""
    return np.asarray(checks.float_array(x, name, ndim=2), np.float32)


@functools.lru_cache(maxsize=16)
def _supervised_trainer(widths, rep_dim, conv, steps, batch_size, learning_rate, weight_decay, aug):
    """A jitted ``(params, x, y, key) -> (params, losses)``; cached so seeds of one size share a compile.

    The data are arguments (not closed-over constants), so XLA does not embed them.
    """
    model = Classifier(widths=widths, rep_dim=rep_dim, conv=conv)
    tx = optax.adamw(optax.cosine_decay_schedule(learning_rate, steps), weight_decay=weight_decay)

    def train(params, x, y, key):
        state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=tx)
        n = x.shape[0]
        bs = min(batch_size, n)

        def step(state, k):
            k_idx, k_aug = jax.random.split(k)
            idx = jax.random.randint(k_idx, (bs,), 0, n)
            xb, yb = x[idx], y[idx]
            if aug is not None:
                xb = augment(k_aug, xb, aug)

            def loss_fn(p):
                logits = state.apply_fn({"params": p}, xb)
                return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

            loss, g = jax.value_and_grad(loss_fn)(state.params)
            return state.apply_gradients(grads=g), loss

        state, losses = jax.lax.scan(step, state, jax.random.split(key, steps))
        return state.params, losses

    return model, jax.jit(train)


def train_supervised(train_x, train_y, *, steps: int, batch_size: int, learning_rate: float, seed: int,
                     aug: AugmentConfig | None = None, conv: str = "auto", widths=(32, 64, 128),
                     rep_dim: int = 256, weight_decay: float = 5e-4):
    """Train the same CNN (:class:`Classifier`) from scratch with cross-entropy; returns ``(predict, losses)``.

    ``steps`` minibatch steps of AdamW (cosine decay), batches drawn with replacement
    per step (so tiny label sets, 10 per class, still give full batches), optional
    augmentation with the SSL augmentations.
    """
    check_images(train_x, "train_x")
    train_y = checks.class_labels(train_y, "train_y", num_examples=len(train_x), num_classes=Classifier.num_classes)
    steps = checks.positive_int(steps, "steps")
    batch_size = checks.positive_int(batch_size, "batch_size")
    learning_rate = checks.positive_float(learning_rate, "learning_rate")
    weight_decay = checks.nonnegative_float(weight_decay, "weight_decay")
    rep_dim = checks.positive_int(rep_dim, "rep_dim")
    if isinstance(widths, (str, bytes)) or not isinstance(widths, (Sequence, np.ndarray)) or not len(widths):
        raise TypeError(f"widths must be a non-empty sequence of channel counts, got {widths!r}")
    widths = tuple(checks.positive_int(w, f"widths[{i}]") for i, w in enumerate(widths))
    if aug is not None:
        checks.instance(aug, "aug", AugmentConfig)
    model, train = _supervised_trainer(tuple(widths), rep_dim, conv, steps, batch_size, learning_rate,
                                       weight_decay, aug)
    key = jax.random.key(checks.seed(seed))
    params = model.init(key, jnp.zeros((1, *train_x.shape[1:])))["params"]
    params, losses = train(params, jnp.asarray(train_x), jnp.asarray(train_y, jnp.int32), jax.random.fold_in(key, 1))
    predict = jax.jit(lambda xb: jnp.argmax(model.apply({"params": params}, xb), -1))
    return predict, np.asarray(losses)


@precision.highest
def accuracy(predict, images, labels, batch_size: int = 2000) -> float:
    """The fraction of ``images`` ``(N, H, W)`` whose ``predict(batch) -> (b,)`` class equals ``labels`` ``(N,)``."""
    checks.function(predict, "predict")
    check_images(images)
    labels = checks.class_labels(labels, "labels", num_examples=len(images))

    def one_class_per_image(batch):
        classes = predict(batch)
        if np.ndim(classes) != 1:
            raise ValueError(f"predict must return one class per image, shape ({len(batch)},), "
                             f"got shape {np.shape(classes)}")
        return classes[:, None]

    preds = extract_features(one_class_per_image, images, batch_size)[:, 0]
    return float(np.mean(preds == labels))


def per_class_subset(labels, per_class: int, seed: int) -> np.ndarray:
    """Indices of ``per_class`` random examples of each class (a balanced labelled subset)."""
    labels = checks.class_labels(labels, "labels")
    per_class = checks.positive_int(per_class, "per_class")
    rng = np.random.default_rng(checks.seed(seed))
    idx = []
    for c in np.unique(labels):
        pool = np.flatnonzero(labels == c)
        if per_class > len(pool):
            raise ValueError(f"per_class={per_class} exceeds the {len(pool)} examples of class {c}")
        idx.append(rng.choice(pool, per_class, replace=False))
    return np.sort(np.concatenate(idx))


def subset_seed(seed: int, per_class: int) -> int:
    """The seed of the labelled subset of ``per_class`` examples per class for label seed ``seed``."""
    seed, per_class = checks.seed(seed), checks.positive_int(per_class, "per_class")
    return 1000 * seed + per_class


def check_label_counts(labels, label_counts) -> None:
    """ValueError unless every class of ``labels`` has at least ``max(label_counts)`` examples.

    ``label_counts``: a sequence of positive counts per class (empty: nothing to check).
    """
    labels = checks.class_labels(labels, "labels")
    if isinstance(label_counts, (str, bytes)) or not isinstance(label_counts, (Sequence, np.ndarray)):
        raise TypeError(f"label_counts must be a sequence of positive integers, got {label_counts!r}")
    label_counts = [checks.positive_int(c, f"label_counts[{i}]") for i, c in enumerate(label_counts)]
    if not label_counts:
        return
    _, counts = np.unique(labels, return_counts=True)
    if len(counts) == 0 or max(label_counts) > counts.min():
        raise ValueError(f"label_counts asks for {max(label_counts)} labels per class, but the smallest class "
                         f"of the {len(labels)} training examples has {counts.min() if len(counts) else 0}")


@precision.highest
def label_efficiency(train_features, train_labels, test_features, test_labels, *, label_counts, num_seeds: int,
                     l2: float, max_iter: int, supervised=None) -> dict[str, dict[int, list[float]]]:
    """Test accuracy of the linear probe trained on few labels: ``per_class`` of each class, over seeds.

    For each ``per_class`` in ``label_counts`` and each seed ``s < num_seeds``, the
    balanced subset :func:`per_class_subset` (seed :func:`subset_seed`) of the training
    set trains :func:`linear_probe` on the frozen features; with ``supervised``, a
    callable ``(indices, per_class, seed) -> test accuracy`` (a model trained from
    scratch on the same labels) is scored on the same subsets.

    Returns:
      ``{"probe": {per_class: [accuracy per seed]}, "supervised": {...}}`` (the
      latter empty without ``supervised``).
    """
    train_features, test_features = _features(train_features, "train_features"), _features(test_features,
                                                                                            "test_features")
    train_labels = checks.class_labels(train_labels, "train_labels", num_examples=len(train_features))
    test_labels = checks.class_labels(test_labels, "test_labels", num_examples=len(test_features))
    num_seeds = checks.positive_int(num_seeds, "num_seeds")
    l2, max_iter = checks.nonnegative_float(l2, "l2"), checks.positive_int(max_iter, "max_iter")
    if supervised is not None:
        checks.function(supervised, "supervised")
    check_label_counts(train_labels, label_counts)
    curves = {"probe": {}, "supervised": {}}
    for per_class in label_counts:
        probe_acc, sup_acc = [], []
        for s in range(num_seeds):
            idx = per_class_subset(train_labels, per_class, seed=subset_seed(s, per_class))
            probe_acc.append(linear_probe(train_features[idx], train_labels[idx], test_features, test_labels,
                                          l2=l2, max_iter=max_iter)["test_accuracy"])
            if supervised is not None:
                sup_acc.append(float(supervised(idx, per_class, s)))
        curves["probe"][per_class] = probe_acc
        if supervised is not None:
            curves["supervised"][per_class] = sup_acc
    return curves
