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
import numpy as np

from ebm_jax import cli, viz
from ebm_jax.data import load_mnist_train_test, to_float
from ebm_jax.data.corruptions import corrupt
from ebm_jax.data.toy2d import distance_to_data, grid_2d, sample_toy2d
from ebm_jax.eval import images, landscape
from ebm_jax.methods import dae as dae_method
from ebm_jax.models import dae
from ebm_jax.train import fit, write_config, write_results
from ebm_jax.train.optim import make_optimizer
from experiments.configs import dae as dae_config

# compiled once per (model, loss): equal models across the loops below share one executable
_reconstruct = jax.jit(dae.reconstruct, static_argnums=(0, 3))
_energy = jax.jit(dae.reconstruction_energy, static_argnums=(0, 3))

TOY_BOX = (-4.0, 4.0)
DIST_BINS = (0.0, 1.0, 2.0, 3.0, 5.0, 10.0, np.inf)   # distance to data in units of σ
ANCHOR = ("none published (the lecture's qualitative claims: blurry denoised images; "
          "low energy far from data where corruption never reached)")


def run_mnist(config, workdir, key, results):
    """One DAE per corruption on MNIST: denoising MSE / PSNR and how blurry the outputs are."""
    xtr, _, xte, _ = load_mnist_train_test(source=config.data_source, num_train=config.num_train_examples,
                                           num_test=config.num_test_examples)
    x_train, x_test = jnp.asarray(to_float(xtr)), to_float(xte)
    results.update({"mnist_input": "continuous [0,1] pixels (no binarization)",
                    "clean_sharpness": images.sharpness(x_test), "clean_grey_frac": images.grey_fraction(x_test)})
    curves = {}
    for i, (kind, level) in enumerate(dae_config.corruptions(config)):
        name = f"{kind}{level:g}"
        model = dae.DAE(hidden=tuple(config.hidden), latent=config.latent, out_dim=784)
        k_init, k_fit, k_test = jax.random.split(jax.random.fold_in(key, i), 3)
        state = dae_method.create_state(k_init, model, make_optimizer("adam", config.learning_rate), dim=784)
        state, history = fit(state, dae_method.make_train_step(model, kind, level, config.loss), x_train,
                             batch_size=config.batch_size, num_epochs=config.num_epochs, rng=k_fit,
                             workdir=workdir / name, log_every_steps=config.log_every_steps, desc=name)
        x_tilde = np.asarray(corrupt(k_test, jnp.asarray(x_test), kind, level))
        out = np.asarray(_reconstruct(model, state.params, x_tilde, config.loss))
        mse_c = images.mse(np.clip(x_tilde, 0, 1), x_test)
        mse_d = images.mse(out, x_test)
        sharp = images.sharpness(out)
        results.update({f"{name}_test_mse_corrupted": mse_c, f"{name}_test_mse_denoised": mse_d,
                        f"{name}_psnr_corrupted": images.psnr(mse_c), f"{name}_psnr_denoised": images.psnr(mse_d),
                        f"{name}_denoised_sharpness": sharp,
                        f"{name}_sharpness_ratio_vs_clean": sharp / results["clean_sharpness"],
                        f"{name}_denoised_grey_frac": images.grey_fraction(out)})
        viz.save_rows(workdir / f"denoising_{name}.png",
                      {"clean": x_test[:12], f"{kind} {level:g}": np.clip(x_tilde[:12], 0, 1),
                       "DAE": np.clip(out[:12], 0, 1)},
                      title=f"DAE, {kind} corruption {level:g}: test images")
        steps = [h for h in history if "mse" in h]
        curves[name] = ([h["step"] for h in steps], [h["mse"] for h in steps])
        write_results(workdir, results)
    viz.save_curves(workdir / "dae_train_mse.png", curves, ylabel="train MSE (denoised vs clean)", logy=True)


def run_toy(config, workdir, key, results):
    """One DAE per Gaussian σ on 2-D data: its reconstruction energy, near and far from the data."""
    import matplotlib.pyplot as plt

    sigmas = config.toy_sigmas
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
        e_grid = np.asarray(_energy(model, state.params, jnp.asarray(grid), "mse"))
        e_data = np.asarray(_energy(model, state.params, data, "mse"))
        tau = float(np.percentile(e_data, 95))
        tag = f"toy_sigma{sigma:g}"
        far = dist > 3 * sigma
        results.update({f"{tag}_data_energy_mean": float(e_data.mean()), f"{tag}_data_energy_p95": tau,
                        f"{tag}_far_low_frac": landscape.low_energy_fraction(e_grid, e_data, far),
                        f"{tag}_far_low_frac_10x": landscape.low_energy_fraction(e_grid, e_data, far, factor=10.0),
                        f"{tag}_far_cells": int(far.sum())})
        for (lo, hi), value in landscape.energy_by_distance(e_grid, dist / sigma, DIST_BINS).items():
            results[f"{tag}_energy_dist_{lo:g}-{hi:g}sigma"] = value
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
    fig.tight_layout()
    fig.savefig(workdir / "dae_toy_energy.png", dpi=90)
    plt.close(fig)


def train_and_evaluate(config, workdir: str) -> dict:
    """The toy landscapes, then the MNIST denoisers (each resuming); returns the results."""
    dae_config.validate(config)
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    write_config(workdir, config)
    key = jax.random.PRNGKey(config.seed)
    results = {"anchor": ANCHOR}
    run_toy(config, workdir, jax.random.fold_in(key, 1), results)
    write_results(workdir, results)
    run_mnist(config, workdir, jax.random.fold_in(key, 2), results)
    write_results(workdir, results)
    return results


if __name__ == "__main__":
    cli.main(train_and_evaluate, __file__)
