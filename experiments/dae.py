r"""Denoising autoencoders: MNIST denoising with three corruptions, and the DAE's weakness.

    python -m experiments.dae --workdir runs/dae [--config.num_epochs=5 ...]

MNIST (continuous pixels in [0, 1], no binarization): one DAE per corruption
(Gaussian σ, masking p, salt-and-pepper p), trained on ``(corrupt(x), x)`` pairs with a
Bernoulli cross-entropy. Writes ``denoising_<kind>.png`` (clean / corrupted / denoised)
and, per corruption, the test MSE of the corrupted and of the denoised images, PSNR, and
two blur measures of the denoised outputs vs the clean test images: the mean squared
image gradient (sharpness; lower = blurrier) and the fraction of grey pixels in (0.1, 0.9).

2-D toy data (two moons by default): one DAE per Gaussian σ, its reconstruction-error
energy ``E(x) = |x - r(x)|^2`` on a grid (``dae_toy_energy.png``) and the numbers behind
it: mean energy binned by distance to the data (in units of σ) and the fraction of
grid cells beyond 3σ from every data point (never reached by corruption) whose energy is
below the 95th percentile of the data's energy (``far_low_frac``).
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from ebm_jax import viz  # noqa: E402
from ebm_jax.data import load_mnist_train_test, to_float  # noqa: E402
from ebm_jax.data.corruptions import corrupt, validate_corruption  # noqa: E402
from ebm_jax.data.toy2d import TOY2D, distance_to_data, grid_2d, sample_toy2d  # noqa: E402
from ebm_jax.methods import dae as dae_method  # noqa: E402
from ebm_jax.models import dae  # noqa: E402
from ebm_jax.train.optim import make_optimizer  # noqa: E402
from ebm_jax.train import fit, write_config, write_results  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file(
    "config", str(pathlib.Path(__file__).parent / "configs" / "dae.py"), "Experiment config.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (resumed when it holds checkpoints).")

TOY_BOX = (-4.0, 4.0)
DIST_BINS = (0.0, 1.0, 2.0, 3.0, 5.0, 10.0, np.inf)   # distance to data in units of σ


def parse_corruptions(spec: str) -> list[tuple[str, float]]:
    out = []
    for item in (s.strip() for s in spec.split(",") if s.strip()):
        if ":" not in item:
            raise ValueError(f"config.corruptions entries are kind:level, got {item!r}")
        kind, level = item.split(":", 1)
        level = float(level)
        validate_corruption(kind, level)
        out.append((kind, level))
    if not out:
        raise ValueError("config.corruptions is empty")
    return out


def validate_config(config):
    corruptions = parse_corruptions(config.corruptions)
    sigmas = [float(s) for s in config.toy_sigmas.split(",") if s.strip()]
    if any(s <= 0 for s in sigmas):
        raise ValueError(f"config.toy_sigmas must be positive, got {config.toy_sigmas!r}")
    if config.toy_dataset not in TOY2D:
        raise ValueError(f"config.toy_dataset must be one of {TOY2D}, got {config.toy_dataset!r}")
    if config.loss not in dae.LOSSES:
        raise ValueError(f"config.loss must be one of {dae.LOSSES}, got {config.loss!r}")
    for key in ("num_epochs", "batch_size", "latent", "toy_num_epochs", "toy_batch_size", "toy_num_data",
                "toy_latent", "toy_grid_size", "log_every_steps"):
        if not isinstance(config[key], int) or config[key] < 1:
            raise ValueError(f"config.{key} must be a positive integer, got {config[key]!r}")
    for key in ("learning_rate", "toy_learning_rate"):
        if not config[key] > 0:
            raise ValueError(f"config.{key} must be positive, got {config[key]!r}")
    return corruptions, sigmas


def sharpness(x: np.ndarray) -> float:
    """Mean squared finite-difference gradient of ``(N, 784)`` images (lower = blurrier)."""
    img = x.reshape(-1, 28, 28)
    return float(np.mean(np.diff(img, axis=1) ** 2) + np.mean(np.diff(img, axis=2) ** 2))


def grey_frac(x: np.ndarray) -> float:
    return float(np.mean((x > 0.1) & (x < 0.9)))


def run_mnist(config, corruptions, workdir, key, results):
    xtr, _, xte, _ = load_mnist_train_test(source=config.data_source, num_train=config.num_train_examples,
                                           num_test=config.num_test_examples)
    x_train, x_test = jnp.asarray(to_float(xtr)), to_float(xte)
    results.update({"mnist_input": "continuous [0,1] pixels (no binarization)",
                    "clean_sharpness": sharpness(x_test), "clean_grey_frac": grey_frac(x_test)})
    curves = {}
    for i, (kind, level) in enumerate(corruptions):
        name = f"{kind}{level:g}"
        model = dae.DAE(hidden=tuple(config.hidden), latent=config.latent, out_dim=784)
        k_init, k_fit, k_test = jax.random.split(jax.random.fold_in(key, i), 3)
        state = dae_method.create_state(k_init, model, make_optimizer("adam", config.learning_rate), dim=784)
        state, history = fit(state, dae_method.make_train_step(model, kind, level, config.loss), x_train,
                             batch_size=config.batch_size, num_epochs=config.num_epochs, rng=k_fit,
                             workdir=workdir / name, log_every_steps=config.log_every_steps, desc=name)
        x_tilde = np.asarray(corrupt(k_test, jnp.asarray(x_test), kind, level))
        out = np.asarray(jax.jit(lambda p, x: dae.reconstruct(model, p, x, config.loss))(state.params, x_tilde))
        mse_c = float(np.mean((np.clip(x_tilde, 0, 1) - x_test) ** 2))
        mse_d = float(np.mean((out - x_test) ** 2))
        results.update({f"{name}_test_mse_corrupted": mse_c, f"{name}_test_mse_denoised": mse_d,
                        f"{name}_psnr_corrupted": float(10 * np.log10(1 / mse_c)),
                        f"{name}_psnr_denoised": float(10 * np.log10(1 / mse_d)),
                        f"{name}_denoised_sharpness": sharpness(out),
                        f"{name}_sharpness_ratio_vs_clean": sharpness(out) / results["clean_sharpness"],
                        f"{name}_denoised_grey_frac": grey_frac(out)})
        viz.save_rows(workdir / f"denoising_{name}.png",
                      {"clean": x_test[:12], f"{kind} {level:g}": np.clip(x_tilde[:12], 0, 1), "DAE": out[:12]},
                      title=f"DAE, {kind} corruption {level:g}: test images")
        steps = [h for h in history if "mse" in h]
        curves[name] = ([h["step"] for h in steps], [h["mse"] for h in steps])
        logging.info("%s: MSE corrupted %.4f -> denoised %.4f, sharpness ratio %.2f", name, mse_c, mse_d,
                     results[f"{name}_sharpness_ratio_vs_clean"])
        write_results(workdir, results)
    viz.save_curves(workdir / "dae_train_mse.png", curves, ylabel="train MSE (denoised vs clean)", logy=True)


def run_toy(config, sigmas, workdir, key, results):
    data = sample_toy2d(jax.random.fold_in(key, 99), config.toy_dataset, config.toy_num_data)
    data_np = np.asarray(data)
    axis, grid = grid_2d(config.toy_grid_size, TOY_BOX)
    dist = distance_to_data(grid, data_np)
    fig, axes = plt.subplots(1, len(sigmas), figsize=(5 * len(sigmas), 4.6), squeeze=False)
    for i, sigma in enumerate(sigmas):
        model = dae.DAE(hidden=tuple(config.toy_hidden), latent=config.toy_latent, out_dim=2)
        k_init, k_fit = jax.random.split(jax.random.fold_in(key, 1000 + i))
        state = dae_method.create_state(k_init, model, make_optimizer("adam", config.toy_learning_rate), dim=2)
        state, _ = fit(state, dae_method.make_train_step(model, "gaussian", sigma, "mse"), data,
                       batch_size=config.toy_batch_size, num_epochs=config.toy_num_epochs, rng=k_fit,
                       workdir=workdir / f"toy_sigma{sigma:g}", log_every_steps=config.log_every_steps,
                       desc=f"toy σ={sigma:g}")
        energy = jax.jit(lambda p, x: dae.reconstruction_energy(model, p, x, "mse"))
        e_grid = np.asarray(energy(state.params, jnp.asarray(grid)))
        e_data = np.asarray(energy(state.params, data))
        tau = float(np.percentile(e_data, 95))
        tag = f"toy_sigma{sigma:g}"
        far = dist > 3 * sigma
        results.update({f"{tag}_data_energy_mean": float(e_data.mean()), f"{tag}_data_energy_p95": tau,
                        f"{tag}_far_low_frac": float(np.mean(e_grid[far] < tau)),
                        f"{tag}_far_low_frac_10x": float(np.mean(e_grid[far] < 10 * tau)),
                        f"{tag}_far_cells": int(far.sum())})
        for lo, hi in zip(DIST_BINS[:-1], DIST_BINS[1:]):
            sel = (dist >= lo * sigma) & (dist < hi * sigma)
            if sel.any():
                results[f"{tag}_energy_dist_{lo:g}-{hi:g}sigma"] = float(np.mean(e_grid[sel]))
        ax = axes[0, i]
        im = ax.imshow(np.log10(e_grid.reshape(len(axis), len(axis)) + 1e-4), origin="lower",
                       extent=(axis[0], axis[-1], axis[0], axis[-1]), cmap="viridis")
        ax.contour(axis, axis, (e_grid < tau).reshape(len(axis), len(axis)).astype(float), levels=[0.5],
                   colors="red", linewidths=0.8)
        ax.contour(axis, axis, (dist > 3 * sigma).reshape(len(axis), len(axis)).astype(float), levels=[0.5],
                   colors="white", linewidths=0.6, linestyles="dashed")
        ax.scatter(data_np[:800, 0], data_np[:800, 1], s=0.5, c="white", alpha=0.6)
        ax.set_title(f"σ={sigma:g}: log10 |x - r(x)|²\nred: E < data p95; dashed: 3σ from data", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
        logging.info("%s: far_low_frac %.3f", tag, results[f"{tag}_far_low_frac"])
    fig.tight_layout()
    fig.savefig(workdir / "dae_toy_energy.png", dpi=90)
    plt.close(fig)


def main(argv):
    del argv
    config = _CONFIG.value
    corruptions, sigmas = validate_config(config)
    workdir = pathlib.Path(_WORKDIR.value or "runs/dae")
    workdir.mkdir(parents=True, exist_ok=True)
    write_config(workdir, config)
    key = jax.random.PRNGKey(config.seed)
    results = {"anchor": "none published (the lecture's qualitative claims: blurry denoised images; "
                         "low energy far from data where corruption never reached)"}
    run_toy(config, sigmas, workdir, jax.random.fold_in(key, 1), results)
    write_results(workdir, results)
    run_mnist(config, corruptions, workdir, jax.random.fold_in(key, 2), results)
    write_results(workdir, results)
    print(results)


if __name__ == "__main__":
    app.run(main)
