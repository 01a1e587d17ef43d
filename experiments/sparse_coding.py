r"""Dictionary learning (sparse coding) on MNIST digits and natural-image patches.

    python -m experiments.sparse_coding --workdir runs/sparse_coding [--config.mnist.lam=0.2 ...]

Each dataset's dictionary is trained by ``ebm_jax.train.fit`` in ``WORKDIR/<dataset>``
(per-minibatch energies in its ``metrics.jsonl``; checkpoints; a rerun resumes).

Learns D (n, k) with unit-norm atoms by minibatch alternating minimisation of
Σ_i ½‖x_i − D z_i‖² + λ‖z_i‖₁ (FISTA inference, block-coordinate dictionary
update), then codes held-out data with FISTA to a relative duality gap
``eval_tol`` and reports, per dataset: the relative reconstruction error
Σ‖x − Dz‖²/Σ‖x‖², the mean number of non-zeros per example, the mean free
energy, and the same numbers for the initial (random) dictionary as a baseline.
Figures: ``atoms_<dataset>.png`` (the learned atoms: strokes for digits,
oriented edges for whitened patches), ``energy_<dataset>.png`` (training
energy per minibatch), ``recon_mnist.png`` (test digits and reconstructions).
No published number is reproduced exactly here (the lecture shows figures only).
"""

from __future__ import annotations

import pathlib
import time

import jax
import numpy as np

from ebm_jax import cli, viz
from ebm_jax.data import load_mnist, to_float
from ebm_jax.data.patches import extract_patches
from ebm_jax.methods.dictionary import learn_dictionary
from ebm_jax.sparse import fista
from ebm_jax.sparse.dictionary import evaluate_dictionary, init_dictionary
from ebm_jax.train import write_config, write_results
from experiments.configs import sparse_coding as sparse_coding_config


def load_data(name, cfg, seed):
    if name == "mnist":
        xtr = to_float(load_mnist("train")[0][: cfg.num_train])
        xte = to_float(load_mnist("test")[0][: cfg.num_test])
        return xtr, xte
    p = extract_patches(cfg.num_train + cfg.num_test, cfg.patch_size, seed=seed, whiten=cfg.whiten)
    return p[: cfg.num_train], p[cfg.num_train:]


def run_one(name, cfg, config, workdir: pathlib.Path, results):
    """Learn (or resume) the dictionary of one dataset in ``workdir/<name>``, evaluate it, draw its figures."""
    xtr, xte = load_data(name, cfg, config.seed)
    t0 = time.time()
    state, energies = learn_dictionary(
        xtr, cfg.num_atoms, cfg.lam, num_epochs=cfg.num_epochs, batch_size=min(config.batch_size, len(xtr)),
        inference_iters=config.inference_iters, update=config.dict_update, forget=config.forget, init=cfg.init,
        nonneg=cfg.nonneg, nonneg_atoms=cfg.nonneg, seed=config.seed, workdir=workdir / name, desc=name)
    train_s = time.time() - t0
    D = np.asarray(state.D)
    stats = evaluate_dictionary(xte, D, cfg.lam, tol=config.eval_tol, nonneg=cfg.nonneg)
    D0 = np.asarray(init_dictionary(jax.random.PRNGKey(config.seed), xtr, cfg.num_atoms, cfg.init).D)
    base = evaluate_dictionary(xte, D0, cfg.lam, tol=config.eval_tol, nonneg=cfg.nonneg)
    for k, v in stats.items():
        results[f"{name}/{k}"] = v
    for k in ("rel_recon_error", "mean_nonzeros", "energy"):
        results[f"{name}/init_dictionary_{k}"] = base[k]
    results[f"{name}/num_atoms"] = cfg.num_atoms
    results[f"{name}/lam"] = cfg.lam
    results[f"{name}/train_seconds"] = train_s
    results[f"{name}/num_train"] = int(xtr.shape[0])
    results[f"{name}/num_test"] = int(xte.shape[0])

    side = int(round(np.sqrt(D.shape[0])))
    # order atoms by usage on the test set so the figure shows the used ones first
    z = np.asarray(fista(xte[:1000], D, cfg.lam, tol=config.eval_tol, restart=True, polish=True,
                         nonneg=cfg.nonneg).codes)
    order = np.argsort(-np.mean(z != 0, axis=0))
    n_show = min(cfg.num_atoms, 100 if name == "mnist" else 128)
    atoms = D.T[order[:n_show]].reshape(-1, side, side)
    if side < 16:  # upsample small patches so that the PNG is legible
        atoms = np.kron(atoms, np.ones((1, 4, 4), atoms.dtype))
    viz.save_image_grid(workdir / f"atoms_{name}.png", atoms, normalize=True,
                        title=f"{name}: {n_show} most used of {cfg.num_atoms} atoms, lambda={cfg.lam}")
    viz.save_curves(workdir / f"energy_{name}.png",
                    {"minibatch energy": (np.arange(len(energies)), energies)},
                    xlabel="minibatch", ylabel="mean 0.5|x-Dz|^2 + lam|z|_1", title=f"{name} dictionary learning")
    if name == "mnist":
        rec = np.clip(z[:12] @ D.T, 0, 1).reshape(-1, side, side)
        viz.save_rows(workdir / "recon_mnist.png",
                      {"test": xte[:12].reshape(-1, side, side), "D z": rec},
                      title=f"reconstructions, mean non-zeros {stats['mean_nonzeros']:.1f}")


def train_and_evaluate(config, workdir: str) -> dict:
    """Dictionary learning on each configured dataset; returns the results dict."""
    sparse_coding_config.validate(config)
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    write_config(workdir, config)
    results = {"device": jax.devices()[0].platform, "dict_update": config.dict_update}
    for name in config.datasets:
        run_one(name, config[name], config, workdir, results)
        write_results(workdir, results)
    return results


if __name__ == "__main__":
    cli.main(train_and_evaluate, __file__)
