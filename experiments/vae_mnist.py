r"""The practicum: a VAE vs a classic autoencoder on MNIST, and new digits.

    python -m experiments.vae_mnist --workdir runs/vae_mnist [--config.latent_dim=2 ...]

Trains the configured model (``--config.model=vae`` by default) on dynamically
binarized MNIST and, with ``compare_with_ae``, a classic AE with the same trunk
in ``WORKDIR/ae``. Rerunning with the same workdir resumes both. Writes:

    results.json     test_neg_elbo, test_recon, test_kl, test_nll_is (k samples), ...
    metrics.jsonl    train loss / recon / kl every log_every_steps, test ELBO per epoch
    samples.png      VAE vs AE decoding the same random codes z ~ N(0, I)
    reconstructions.png, interpolation.png, latent_space.png, loss_curves.png

Evaluation uses a fixed-seed binarization of the test set (seed 0).

``--config=experiments/configs/vae_mnist.py:course`` runs the course notebook's
recipe (NYU DLSP20 ``11-VAE.ipynb``, ``protocol="course"``): grey-level pixels,
the loss summed over the batch, and its test loss with z = μ per test image
(``test_loss``, :func:`ebm_jax.eval.likelihood.evaluate_at_mean`), printed for
the untrained net (``test_loss_epoch0``) and after every epoch as the notebook
does; its figures: ``samples.png`` (16 codes z ~ N(0, I)), ``interpolation.png``
(test digits 1 and 14 and their reconstructions, then 16 decoded codes from
μ(x_1) to μ(x_14)), ``latent_tsne_epoch<E>.png`` (t-SNE of the means of 1,000
test digits at epochs 0, 5 and 10), ``loss_curves.png``.

``--config.num_seeds=S`` trains seeds ``seed, ..., seed + S - 1`` together (one
vmapped program, :mod:`ebm_jax.train.seeds`); replica ``i`` is the run with
``--config.seed=seed+i``. ``results.json`` then holds ``<name>_seed<i>``,
``<name>_mean`` and ``<name>_std`` for every number; figures show seed ``seed``.
"""

from __future__ import annotations

import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np
from ebm_jax import checks, cli, viz
from ebm_jax.data import binarize_fixed, load_mnist_train_test, to_float
from ebm_jax.eval import likelihood
from ebm_jax.methods import vae as vae_method
from ebm_jax.models import vae
from ebm_jax.train import fit_seeds, seeds, write_config, write_results
from experiments.configs import vae_mnist as vae_mnist_config

# Published anchors (nats per test image, binarized MNIST).
TARGET_NEG_ELBO_20_EPOCHS = 100.0          # the target test -ELBO of the default 784-400-20 model after 20 epochs
# Burda et al. 2015, Table 1 (MNIST, one stochastic layer of 50 units, two
# deterministic layers of 200), test NLL estimated with k = 5000 samples.
BURDA_VAE_NLL = 86.76                      # VAE trained with k = 1
BURDA_IWAE50_NLL = 84.78                   # IWAE trained with k = 50


def load_data(config):
    """Train images as [0, 1] floats ``(N, 784)``; test as a fixed-seed binarization."""
    train_images, _, test_images, test_labels = load_mnist_train_test(
        source=config.data_source, num_train=config.num_train_examples, num_test=config.num_test_examples)
    x_train = to_float(train_images)
    x_test = binarize_fixed(to_float(test_images)) if config.binarization == "dynamic" else to_float(test_images)
    vae_method.validate_images(x_train, 784, "training images")
    vae_method.validate_images(x_test, 784, "test images")
    if config.batch_size > len(x_train):
        raise checks.ConfigError(f"config.batch_size ({config.batch_size}) is larger than the training set ({len(x_train)})")
    return x_train, x_test, test_labels


def _binary_test_set(config) -> bool:
    """With dynamic binarization the test set is binarized once and the numbers are likelihoods."""
    return config.binarization == "dynamic"


def _course(config) -> bool:
    return config.protocol == "course"


def seed_keys(config) -> list:
    """The base key of each seed: ``key(seed + i)``, i < num_seeds (:func:`ebm_jax.train.seeds.seed_keys`)."""
    return list(seeds.seed_keys(config.seed, config.num_seeds, impl=config.prng_impl))


def train_model(config, kind: str, workdir: pathlib.Path, x_train, x_test, on_epoch=None):
    """Train one autoencoder per seed in ``workdir`` (resuming if possible).

    Returns ``(model, [params of each seed], history, seconds)``; with
    ``num_seeds > 1`` the seeds train together (``fit(num_seeds=S)``).
    ``on_epoch(epoch, params)`` (one seed only), if given, is called at the end
    of every epoch trained in this call (the params are donated afterwards:
    copy what should outlive the call).
    """
    model = vae.Autoencoder(latent_dim=config.latent_dim, hidden_dims=tuple(config.hidden_dims), kind=kind,
                            compute_dtype=config.compute_dtype)
    keys = seed_keys(config)
    total_steps = config.num_epochs * (len(x_train) // config.batch_size)

    def create(key):
        return vae_method.create_state(jax.random.fold_in(key, 0), model, config.learning_rate,
                                       schedule=config.lr_schedule, total_steps=total_steps)

    step_fn = vae_method.make_train_step(model, binarization=config.binarization,
                                         iwae_k=config.iwae_k if kind == "vae" else 1,
                                         reduction="sum" if _course(config) else "mean")
    steps_per_epoch = len(x_train) // config.batch_size

    def evaluate(params, key):
        if _course(config):
            metrics = likelihood.evaluate_at_mean(model, params, x_test)
        else:
            metrics = likelihood.evaluate_elbo(model, params, x_test, jax.random.fold_in(key, 2),
                                               binary=_binary_test_set(config))
        return {f"test_{k}": v for k, v in metrics.items()}

    def eval_fn(states):
        if on_epoch is not None and len(states) == 1:  # the per-epoch hook follows the one-seed run
            on_epoch(int(states[0].step) // steps_per_epoch, states[0].params)
        return [evaluate(state.params, key) for state, key in zip(states, keys)]

    start = time.perf_counter()
    states, history = fit_seeds([create(k) for k in keys], step_fn, x_train,
                                rngs=[jax.random.fold_in(k, 1) for k in keys], batch_size=config.batch_size,
                                num_epochs=config.num_epochs, workdir=workdir,
                                checkpoint_every_steps=config.checkpoint_every_steps or None,
                                log_every_steps=config.log_every_steps, eval_fn=eval_fn, desc=f"train {kind}")
    return model, [state.params for state in states], history, time.perf_counter() - start


def evaluate_vae(config, model, params, x_test, key) -> dict:
    """The final test numbers of one trained model (one seed)."""
    if _course(config):
        metrics = likelihood.evaluate_at_mean(model, params, x_test)
        return {"test_loss": metrics["loss"], "test_recon": metrics["recon"], "test_kl": metrics["kl"]}
    binary = _binary_test_set(config)
    metrics = likelihood.evaluate_elbo(model, params, x_test, key, binary=binary)
    out = {"test_recon": metrics["recon"]}
    if config.model == "vae":
        out.update(test_neg_elbo=metrics["neg_elbo"], test_kl=metrics["kl"])
        if config.eval_importance_samples:
            ll = likelihood.importance_sampled_log_likelihood(model, params, x_test, key,
                                                              num_samples=config.eval_importance_samples)
            out["test_nll_is"] = float(-ll.mean())
        if config.eval_iwae_k:
            ll = likelihood.importance_sampled_log_likelihood(model, params, x_test, jax.random.fold_in(key, 1),
                                                              num_samples=config.eval_iwae_k)
            out["test_neg_iwae_bound"] = float(-ll.mean())
    return {k: float(v) for k, v in out.items()}


def per_seed_results(per_seed: list[dict]) -> dict:
    """One seed: its numbers as they are; several: ``<name>_seed<i>``, ``_mean`` and ``_std``."""
    return dict(per_seed[0]) if len(per_seed) == 1 else seeds.summarize(per_seed)


def decode(model, params, z):
    return np.asarray(jax.nn.sigmoid(model.apply({"params": params}, jnp.asarray(z), method=vae.Autoencoder.decode)))


def encode_mean(model, params, x):
    return np.asarray(model.apply({"params": params}, jnp.asarray(x), method=vae.Autoencoder.encode)[0])


def write_figures(workdir: pathlib.Path, config, models: dict, x_test, test_labels, histories: dict) -> None:
    """Prior samples, reconstructions, interpolations, latent space and loss curves."""
    rng = np.random.default_rng(config.seed)
    z = rng.standard_normal((64, config.latent_dim)).astype(np.float32)
    for name, (model, params) in models.items():
        viz.save_image_grid(workdir / f"samples_{name}.png", decode(model, params, z), ncols=8,
                            title=f"{name.upper()}: decode(z), z ~ N(0, I)")
    if len(models) > 1:
        viz.save_rows(workdir / "samples.png", {name.upper(): decode(m, p, z[:16]) for name, (m, p) in models.items()},
                      title="The same 16 random codes z ~ N(0, I) decoded by each model")
    x = x_test[:16]
    viz.save_rows(workdir / "reconstructions.png",
                  {"data": x, **{name.upper(): decode(m, p, encode_mean(m, p, x)) for name, (m, p) in models.items()}},
                  title="Test digits and their reconstructions decode(mean(x))")
    ends = x_test[[0, 1]]
    alphas = np.linspace(0, 1, 12, dtype=np.float32)[:, None]
    rows = {}
    for name, (m, p) in models.items():
        za, zb = encode_mean(m, p, ends)
        rows[name.upper()] = decode(m, p, (1 - alphas) * za + alphas * zb)
    viz.save_rows(workdir / "interpolation.png", rows, title="Linear interpolation between two test codes")
    model, params = next(iter(models.values()))
    codes = encode_mean(model, params, x_test)
    if config.latent_dim == 2:
        viz.save_scatter_2d(workdir / "latent_space.png", codes, test_labels,
                            title=f"{config.model.upper()} latent means of test digits")
        grid = np.stack(np.meshgrid(np.linspace(-2.5, 2.5, 15), np.linspace(2.5, -2.5, 15)), -1).reshape(-1, 2)
        viz.save_image_grid(workdir / "latent_manifold.png", decode(model, params, grid.astype(np.float32)),
                            ncols=15, title="decode(z) over a grid of z in [-2.5, 2.5]^2")
    else:
        centred = codes - codes.mean(0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        viz.save_scatter_2d(workdir / "latent_space.png", centred @ vt[:2].T, test_labels, xlabel="PC 1",
                            ylabel="PC 2", title=f"{config.model.upper()} latent means (top-2 PCA of {config.latent_dim}-D)")
    curves = {}
    for name, history in histories.items():
        train = [r for r in history if "loss" in r]
        curves[f"{name} train loss"] = ([r["step"] for r in train], [r["loss"] for r in train])
        test_key = "test_neg_elbo" if name == "vae" else "test_recon"
        test = [r for r in history if test_key in r]
        curves[f"{name} {test_key}"] = ([r["step"] for r in test], [r[test_key] for r in test])
    viz.save_curves(workdir / "loss_curves.png", curves, ylabel="nats per image",
                    title="Training loss and test objective (binarized MNIST)")


def epoch_train_losses(history) -> dict[int, float]:
    """Mean logged training loss of each epoch (every step's with ``log_every_steps=1``), nats per image."""
    by_epoch: dict[int, list[float]] = {}
    for record in history:
        if "loss" in record:
            by_epoch.setdefault(int(record["epoch"]), []).append(float(record["loss"]))
    return {epoch: float(np.mean(v)) for epoch, v in sorted(by_epoch.items())}


COURSE_INTERPOLATION_ENDS = (1, 14)  # the notebook's A, B (indices into its last test batch; here into the test set)
COURSE_TSNE_POINTS = 1000


def write_course_figures(workdir: pathlib.Path, config, model, params, x_test, test_labels, history,
                         codes_by_epoch: dict) -> None:
    """The course notebook's figures: samples, interpolation, t-SNE of the means, loss curves."""
    rng = np.random.default_rng(config.seed)
    z = rng.standard_normal((16, config.latent_dim)).astype(np.float32)
    viz.save_image_grid(workdir / "samples.png", decode(model, params, z), ncols=4,
                        title="decode(z), z ~ N(0, I): 16 samples")
    a, b = COURSE_INTERPOLATION_ENDS
    ends = x_test[[a, b]]
    za, zb = encode_mean(model, params, ends)
    alphas = np.linspace(0, 1, 16, dtype=np.float32)[:, None]
    viz.save_rows(workdir / "interpolation.png",
                  {"x_A, x_B": ends, "decode(μ)": decode(model, params, np.stack([za, zb])),
                   "A → B": decode(model, params, (1 - alphas) * za + alphas * zb)},
                  title=f"Test digits {a} and {b}, their reconstructions, and 16 codes from μ(x_{a}) to μ(x_{b})")
    from sklearn.manifold import TSNE
    labels = np.asarray(test_labels)[:COURSE_TSNE_POINTS]
    for epoch, codes in sorted(codes_by_epoch.items()):
        embedded = TSNE(n_components=2, random_state=config.seed).fit_transform(codes)
        viz.save_scatter_2d(workdir / f"latent_tsne_epoch{epoch}.png", embedded, labels, xlabel="t-SNE 1",
                            ylabel="t-SNE 2", title=f"t-SNE of μ(x), {len(codes)} test digits, epoch {epoch}")
    train = epoch_train_losses(history)
    test = [r for r in history if "test_loss" in r]
    viz.save_curves(workdir / "loss_curves.png",
                    {"train loss (z sampled), epoch mean": (list(train), list(train.values())),
                     "test loss (z = μ)": ([r["epoch"] for r in test], [r["test_loss"] for r in test])},
                    xlabel="epoch", ylabel="nats per image (grey-level BCE + KL)",
                    title="The course protocol on grey-level MNIST")


def train_and_evaluate(config, workdir: str) -> dict:
    """Train, evaluate and write everything; returns the results dict."""
    vae_mnist_config.validate(config)
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    write_config(workdir, config)
    x_train, x_test, test_labels = load_data(config)

    codes_by_epoch = {}  # the course's t-SNE figures: μ(x) of the first test digits at epochs num_epochs / 2 and num_epochs
    on_epoch = None
    if _course(config) and config.num_seeds == 1:
        tsne_model = vae.Autoencoder(latent_dim=config.latent_dim, hidden_dims=tuple(config.hidden_dims),
                                     kind=config.model)

        def on_epoch(epoch, epoch_params):
            if epoch in (config.num_epochs // 2, config.num_epochs):
                codes_by_epoch[epoch] = encode_mean(tsne_model, epoch_params, x_test[:COURSE_TSNE_POINTS])

    model, params, history, seconds = train_model(config, config.model, workdir, x_train, x_test, on_epoch)
    models, histories = {config.model: (model, params[0])}, {config.model: history}
    # Final numbers draw fresh samples (key 3); the per-epoch curve in metrics.jsonl used key 2.
    eval_keys = [jax.random.fold_in(key, 3) for key in seed_keys(config)]
    binary = _binary_test_set(config)
    results = {
        "model": config.model,
        "architecture": "784-" + "-".join(map(str, config.hidden_dims)) + f"-{config.latent_dim}",
        "protocol": config.protocol,
        "binarization": ("train: dynamic Bernoulli per batch; test: fixed-seed Bernoulli (seed 0)"
                         if config.binarization == "dynamic" else "continuous [0, 1] pixels (train and test)"),
        "num_epochs": config.num_epochs,
        "num_train_examples": len(x_train),
        "num_test_examples": len(x_test),
        "train_seconds": seconds,
        "device": jax.devices()[0].device_kind,
        "num_seeds": config.num_seeds,
    }
    results.update(per_seed_results([evaluate_vae(config, model, p, x_test, k) for p, k in zip(params, eval_keys)]))
    if _course(config):
        init = vae_method.create_state(jax.random.fold_in(seed_keys(config)[0], 0), model, config.learning_rate)
        results["test_loss_epoch0"] = likelihood.evaluate_at_mean(model, init.params, x_test)["loss"]
        train_losses = epoch_train_losses(history)
        if train_losses:  # epochs trained in this call (a resumed, finished run has none)
            last = max(train_losses)
            results.update(train_loss_last_epoch=train_losses[last], train_loss_epoch=last)
        results["test_loss_by_epoch"] = ", ".join(f"{r['epoch']}: {r['test_loss']:.4f}"
                                                  for r in history if "test_loss" in r)
    if config.model == "vae" and not _course(config):
        results["iwae_k"] = config.iwae_k
        if tuple(config.hidden_dims) == (400,) and config.latent_dim == 20:
            results["anchor_neg_elbo_target"] = TARGET_NEG_ELBO_20_EPOCHS
        if config.eval_importance_samples:
            results.update(eval_importance_samples=config.eval_importance_samples,
                           anchor_burda_vae_nll=BURDA_VAE_NLL, anchor_burda_iwae50_nll=BURDA_IWAE50_NLL)
        if config.eval_iwae_k:
            results["eval_iwae_k"] = config.eval_iwae_k
    if config.compare_with_ae and config.model == "vae":
        ae_model, ae_params, ae_history, ae_seconds = train_model(config, "ae", workdir / "ae", x_train, x_test)
        models["ae"], histories["ae"] = (ae_model, ae_params[0]), ae_history
        results.update(per_seed_results([
            {"ae_test_recon": float(likelihood.evaluate_elbo(ae_model, p, x_test, k, binary=binary)["recon"])}
            for p, k in zip(ae_params, eval_keys)]))
        results["ae_train_seconds"] = ae_seconds
    if _course(config):
        if config.num_seeds == 1:
            codes_by_epoch[0] = encode_mean(model, init.params, x_test[:COURSE_TSNE_POINTS])
        write_course_figures(workdir, config, model, params[0], x_test, test_labels, history, codes_by_epoch)
    else:
        write_figures(workdir, config, models, x_test, test_labels, histories)
    write_results(workdir, results)
    return results


if __name__ == "__main__":
    cli.main(train_and_evaluate, __file__)


